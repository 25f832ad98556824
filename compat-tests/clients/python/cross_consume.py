"""Reads one partition of a Kafka topic from the beginning with confluent-kafka and reports every
record, for the cross-protocol tests (compat-tests/tests/cross_clients.rs), which judge.

It never judges: the records are written as one JSON object per line on stdout, bytes as hex so
binary keys, values and header values survive exactly:

  {"o": OFFSET, "ts": MS, "tstype": N, "k": HEX|null, "v": HEX|null, "h": [[NAME, HEX|null], ...]}

Headers keep the order and the duplicates the client returned. It stops after COUNT records and
exits 0; it exits 1 (reason on stderr) on a client error or if COUNT records did not arrive
within the timeout. Runs under the venv (confluent-kafka 2.16) or Debian's python3 (1.7).

Usage: cross_consume.py BOOTSTRAP TOPIC PARTITION COUNT
"""

import json
import sys
import time

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, TopicPartition

TIMEOUT_S = 40.0


def hex_or_none(data):
    return None if data is None else bytes(data).hex()


def report(message):
    ts_type, ts = message.timestamp()
    headers = message.headers() or []
    print(json.dumps({
        "o": message.offset(),
        "ts": ts,
        "tstype": ts_type,
        "k": hex_or_none(message.key()),
        "v": hex_or_none(message.value()),
        "h": [[name, hex_or_none(value)] for name, value in headers],
    }), flush=True)


def main(bootstrap, topic, partition, count):
    import confluent_kafka
    print(f"librdkafka {confluent_kafka.libversion()[0]}", file=sys.stderr)
    # librdkafka needs a group.id to assign(); no group is joined and nothing is committed.
    consumer = Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": "whippet-cross-unused",
        "enable.auto.commit": False,
        "auto.offset.reset": "error",
    })
    consumer.assign([TopicPartition(topic, partition, OFFSET_BEGINNING)])
    seen = 0
    deadline = time.time() + TIMEOUT_S
    try:
        while seen < count:
            if time.time() > deadline:
                print(f"only {seen} of {count} records within {TIMEOUT_S}s", file=sys.stderr)
                return 1
            message = consumer.poll(0.5)
            if message is None:
                continue
            if message.error():
                raise KafkaException(message.error())
            report(message)
            seen += 1
    finally:
        consumer.close()
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 5:
        print("usage: cross_consume.py BOOTSTRAP TOPIC PARTITION COUNT", file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])))
