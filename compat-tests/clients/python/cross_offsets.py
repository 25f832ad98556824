"""kafka-python's side of the shared-offsets test (compat-tests/tests/cross_offsets.rs): a Kafka
group and a native consumer group with the same name share one committed-offset store.

It reports and never judges; the test compares with what the iggy SDK saw. Both modes use
manual assignment with GROUP as group.id (OffsetCommit/OffsetFetch without joining, so the
Kafka group never competes with the native group's membership), print one JSON object on
stdout and exit 0; a client error exits 1 with the reason on stderr.

  commit BOOTSTRAP TOPIC GROUP PARTITION OFFSET
      commits OFFSET (Kafka meaning: the next offset to read), then reads it back:
      {"committed": N}
  resume BOOTSTRAP TOPIC GROUP PARTITION COUNT
      reads the committed offset, then consumes up to COUNT records from there:
      {"committed": N|null, "position": N, "records": [[OFFSET, VALUE_HEX], ...]}
"""

import json
import sys
import time

from kafka import KafkaConsumer, TopicPartition
from kafka.structs import OffsetAndMetadata

TIMEOUT_S = 30.0


def consumer_for(bootstrap, group, tp):
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group,
                             enable_auto_commit=False, auto_offset_reset="none",
                             consumer_timeout_ms=int(TIMEOUT_S * 1000))
    consumer.assign([tp])
    return consumer


def commit(bootstrap, topic, group, partition, offset):
    tp = TopicPartition(topic, partition)
    consumer = consumer_for(bootstrap, group, tp)
    try:
        consumer.commit({tp: OffsetAndMetadata(offset, "", -1)})
        return {"committed": consumer.committed(tp)}
    finally:
        consumer.close(autocommit=False)


def resume(bootstrap, topic, group, partition, count):
    tp = TopicPartition(topic, partition)
    consumer = consumer_for(bootstrap, group, tp)
    try:
        committed = consumer.committed(tp)
        # With auto_offset_reset="none" the position comes from the committed offset or fails.
        position = consumer.position(tp)
        records = []
        deadline = time.time() + TIMEOUT_S
        while len(records) < count and time.time() < deadline:
            for batch in consumer.poll(timeout_ms=500).values():
                records.extend([r.offset, (r.value or b"").hex()] for r in batch)
        return {"committed": committed, "position": position, "records": records[:count]}
    finally:
        consumer.close(autocommit=False)


def main(argv):
    if len(argv) != 7 or argv[1] not in ("commit", "resume"):
        print(__doc__, file=sys.stderr)
        return 2
    mode, bootstrap, topic, group = argv[1:5]
    partition, number = int(argv[5]), int(argv[6])
    if mode == "commit":
        result = commit(bootstrap, topic, group, partition, number)
    else:
        result = resume(bootstrap, topic, group, partition, number)
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
