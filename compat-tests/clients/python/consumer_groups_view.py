"""Prints what confluent-kafka's AdminClient (librdkafka 2.16) reports about consumer groups, as
one JSON object on stdout, for compat-tests/tests/kafka_consumer_protocol.rs:

  {"listed": {GROUP: {"type": T, "state": S}}, "described": {GROUP: {...} | {"error": E}}}

`listed` comes from list_consumer_groups (ListGroups), `described` from describe_consumer_groups
(ConsumerGroupDescribe for KIP-848 groups; librdkafka falls back to DescribeGroups for classic
ones). A described group has "type", "state", "assignor" and "members": [{"client_id", "member_id",
"partitions": [[topic, partition], ...], "target": [[topic, partition], ...] (KIP-848 only)}].

Usage: consumer_groups_view.py BOOTSTRAP GROUP...
"""

import json
import sys

from confluent_kafka.admin import AdminClient

TIMEOUT_S = 15


def tps(assignment):
    if assignment is None:
        return None
    return sorted([tp.topic, tp.partition] for tp in assignment.topic_partitions)


def main():
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    bootstrap, groups = sys.argv[1], sys.argv[2:]
    admin = AdminClient({"bootstrap.servers": bootstrap})
    listed = admin.list_consumer_groups(request_timeout=TIMEOUT_S).result()
    out = {"listed": {}, "described": {}}
    for g in listed.valid:
        out["listed"][g.group_id] = {
            "type": str(getattr(g, "type", None)),
            "state": str(g.state),
        }
    futures = admin.describe_consumer_groups(groups, request_timeout=TIMEOUT_S)
    for group, future in futures.items():
        try:
            d = future.result()
        except Exception as error:  # the test judges the error text
            out["described"][group] = {"error": str(error)}
            continue
        out["described"][group] = {
            "type": str(getattr(d, "type", None)),
            "state": str(d.state),
            "assignor": d.partition_assignor,
            "members": [
                {
                    "client_id": m.client_id,
                    "member_id": m.member_id,
                    "partitions": tps(m.assignment),
                    "target": tps(getattr(m, "target_assignment", None)),
                }
                for m in d.members
            ],
        }
    sys.stdout.write(json.dumps(out, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
