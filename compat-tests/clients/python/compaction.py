"""confluent-kafka against a compacted topic (cleanup.policy=compact). Usage:
compaction.py HOST:PORT ACTION ARGS...

  create TOPIC NAME=VALUE...
      creates TOPIC (one partition) with the given configs; prints the described
      cleanup.policy, delete.retention.ms and min.compaction.lag.ms as `CONFIG name value`
  produce TOPIC KEYS ROUNDS CODEC TOMBSTONES
      ROUNDS rounds writing keys k0..k(KEYS-1) (value `r<round>-k<key>-` + 300 bytes of filler,
      compressed with CODEC), flushing after each round; then a null value (tombstone) for the
      first TOMBSTONES keys. Prints `ACK offset key value|NULL` for each acknowledged record
  keyless TOPIC
      produces one record without a key; prints `ERR <error name>` or `OK offset`
  consume TOPIC FROM
      reads partition 0 from offset FROM up to the high watermark; prints `REC offset key
      value|NULL` per record, then `END high-watermark`

Errors print `ERR <name>: <message>` (see common.report_kafka_error) and exit 1."""

import sys
import time

from common import report_kafka_error
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic

TIMEOUT_S = 30
FILLER = "0123456789abcdefghijklmnopqrstuvwxyz" * 9


def create(bootstrap, topic, pairs):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    config = dict(pair.split("=", 1) for pair in pairs)
    futures = admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1,
                                            config=config)])
    futures[topic].result(TIMEOUT_S)
    described = admin.describe_configs([ConfigResource(ConfigResource.Type.TOPIC, topic)])
    for resource, future in described.items():
        entries = future.result(TIMEOUT_S)
        for name in ("cleanup.policy", "delete.retention.ms", "min.compaction.lag.ms"):
            print(f"CONFIG {name} {entries[name].value}")


def show(value):
    return "NULL" if value is None else value.decode()


def produce(bootstrap, topic, keys, rounds, codec, tombstones):
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5, "compression.type": codec,
                  "enable.idempotence": True})
    failures = []

    def delivered(error, message):
        if error is not None:
            failures.append(error)
        else:
            print(f"ACK {message.offset()} {message.key().decode()} {show(message.value())}")

    for r in range(rounds):
        for k in range(keys):
            p.produce(topic, key=f"k{k}", value=f"r{r}-k{k}-{FILLER[: (r * 7 + k) % 300]}",
                      on_delivery=delivered)
        p.flush(TIMEOUT_S)
    for k in range(tombstones):
        p.produce(topic, key=f"k{k}", value=None, on_delivery=delivered)
    left = p.flush(TIMEOUT_S)
    if failures or left:
        raise KafkaException(failures[0] if failures else f"{left} records not delivered")
    print("DONE", flush=True)


def keyless(bootstrap, topic):
    p = Producer({"bootstrap.servers": bootstrap, "retries": 0})
    outcome = []
    p.produce(topic, value=b"no key", on_delivery=lambda e, m: outcome.append((e, m)))
    p.flush(TIMEOUT_S)
    error, message = outcome[0]
    if error is not None:
        print(f"ERR {error.name()}")
    else:
        print(f"OK {message.offset()}")


def consume(bootstrap, topic, start):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "compaction-check",
                  "enable.auto.commit": False, "enable.partition.eof": True})
    _, high = c.get_watermark_offsets(TopicPartition(topic, 0), TIMEOUT_S)
    if start >= high:
        c.close()
        print(f"END {high}")
        return
    c.assign([TopicPartition(topic, 0, start)])
    deadline = time.time() + TIMEOUT_S
    while time.time() < deadline:
        message = c.poll(1.0)
        if message is None:
            continue
        if message.error():
            if message.error().code() == -191:  # _PARTITION_EOF
                if c.position([TopicPartition(topic, 0)])[0].offset >= high:
                    break
                continue
            raise KafkaException(message.error())
        print(f"REC {message.offset()} {message.key().decode()} {show(message.value())}")
        if message.offset() + 1 >= high:
            break
    c.close()
    print(f"END {high}")


def main():
    bootstrap, action, args = sys.argv[1], sys.argv[2], sys.argv[3:]
    if action == "create":
        create(bootstrap, args[0], args[1:])
    elif action == "produce":
        produce(bootstrap, args[0], int(args[1]), int(args[2]), args[3], int(args[4]))
    elif action == "keyless":
        keyless(bootstrap, args[0])
    elif action == "consume":
        consume(bootstrap, args[0], int(args[1]))
    else:
        sys.exit(f"unknown action {action}")


if __name__ == "__main__":
    try:
        main()
    except KafkaException as error:
        report_kafka_error(error)
        sys.exit(1)
