"""kafka-python 3 against Whippet: admin, produce (idempotent, its default) under every codec,
consume by direct assignment.

Usage: kafka_python_client.py HOST:PORT
"""

import time

import kafka
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import ConfigResource, KafkaAdminClient
from kafka.errors import TopicAlreadyExistsError

import common
from common import PARTITIONS, RECORDS, fail, log

CODECS = ["none", "gzip", "snappy", "lz4", "zstd"]
CLIENT = "kafka-python"
TIMEOUT_MS = 15_000


def create_topic(admin, name, partitions, configs=None):
    admin.create_topics(
        {name: {"num_partitions": partitions, "replication_factor": 1,
                "configs": configs or {}}},
        timeout_ms=TIMEOUT_MS,
    )
    wait_partitions(admin, name, partitions)


def wait_partitions(admin, name, want):
    deadline = time.time() + TIMEOUT_MS / 1000
    while time.time() < deadline:
        topics = [t for t in admin.describe_topics([name]) if t["name"] == name]
        if topics and topics[0]["error_code"] == 0 and len(topics[0]["partitions"]) == want:
            return
        time.sleep(0.2)
    fail(f"metadata never showed {name} with {want} partitions")


def produce(bootstrap, topic, codec, base_ms):
    producer = KafkaProducer(
        bootstrap_servers=bootstrap,
        compression_type=None if codec == "none" else codec,
        acks="all",
        linger_ms=5,
    )
    futures = []
    for i in range(RECORDS):
        partition, key, value, headers, ts = common.record(i, codec, CLIENT, base_ms)
        futures.append(producer.send(topic, value=value, key=key, headers=headers,
                                     partition=partition, timestamp_ms=ts))
    producer.flush(timeout=30)
    for i, future in enumerate(futures):
        metadata = future.get(timeout=1)
        if metadata.offset != i // PARTITIONS:
            fail(f"{topic}: record {i} acknowledged at offset {metadata.offset}, "
                 f"expected {i // PARTITIONS}")
    producer.close()


def new_consumer(bootstrap):
    return KafkaConsumer(bootstrap_servers=bootstrap, group_id=None,
                         enable_auto_commit=False, auto_offset_reset="none")


def consume(bootstrap, topic, codec, base_ms):
    consumer = new_consumer(bootstrap)
    partitions = [TopicPartition(topic, p) for p in range(PARTITIONS)]
    consumer.assign(partitions)
    consumer.seek_to_beginning(*partitions)
    checker = common.Checker(topic, codec, CLIENT, base_ms)
    deadline = time.time() + common.CONSUME_TIMEOUT_S
    try:
        while not checker.all_done():
            if time.time() > deadline:
                fail(f"timed out; {checker.summary()}")
            for tp, records in consumer.poll(timeout_ms=500).items():
                for r in records:
                    if r.timestamp_type != 0:
                        fail(f"{topic}[{tp.partition}]@{r.offset}: "
                             f"timestamp type {r.timestamp_type}")
                    checker.check(tp.partition, r.offset, r.key, r.value, r.headers,
                                  r.timestamp)
        begin = consumer.beginning_offsets(partitions)
        end = consumer.end_offsets(partitions)
        for tp in partitions:
            want = common.expected_count(tp.partition)
            if (begin[tp], end[tp]) != (0, want):
                fail(f"{topic}[{tp.partition}]: offsets {(begin[tp], end[tp])} != {(0, want)}")
    finally:
        consumer.close()


def config(admin, name, key):
    described = admin.describe_configs([ConfigResource("topic", name)], config_filter="all")
    entry = described.get("topic", {}).get(name, {}).get(key)
    if entry is None:
        fail(f"{name}: describe_configs lacks {key}: {described}")
    return entry["value"]


def expect_config(admin, name, key, want):
    got = config(admin, name, key)
    if got != want:
        fail(f"{name}: config {key} = {got!r}, expected {want!r}")


def admin_scenario(bootstrap, admin, name):
    create_topic(admin, name, 3, {"retention.ms": "3600000"})
    try:
        create_topic(admin, name, 3)
        fail(f"creating {name} twice succeeded")
    except TopicAlreadyExistsError:
        pass
    for key in ("retention.bytes", "segment.bytes", "max.message.bytes", "cleanup.policy",
                "message.timestamp.type"):
        config(admin, name, key)
    expect_config(admin, name, "retention.ms", "3600000")

    admin.alter_configs([ConfigResource("topic", name, {"retention.ms": "7200000"})],
                        incremental=False)
    expect_config(admin, name, "retention.ms", "7200000")
    admin.alter_configs([ConfigResource("topic", name, {"retention.bytes": "1048576"})],
                        incremental=True)
    expect_config(admin, name, "retention.bytes", "1048576")
    expect_config(admin, name, "retention.ms", "7200000")

    admin.create_partitions({name: 5}, timeout_ms=TIMEOUT_MS)
    wait_partitions(admin, name, 5)

    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    for i in range(10):
        producer.send(name, value=b"v%d" % i, partition=0)
    producer.flush(timeout=15)
    producer.close()
    tp = TopicPartition(name, 0)
    result = admin.delete_records({tp: 4}, timeout_ms=TIMEOUT_MS)
    low = result[tp]["low_watermark"] if isinstance(result[tp], dict) else result[tp]
    if low != 4:
        fail(f"{name}: delete_records low watermark {result[tp]} != 4")
    consumer = new_consumer(bootstrap)
    try:
        marks = (consumer.beginning_offsets([tp])[tp], consumer.end_offsets([tp])[tp])
    finally:
        consumer.close()
    if marks != (4, 10):
        fail(f"{name}[0]: offsets after delete_records {marks} != (4, 10)")

    cluster = admin.describe_cluster()
    if len(cluster["brokers"]) != 1 or cluster["controller_id"] != cluster["brokers"][0]["broker_id"]:
        fail(f"describe_cluster: {cluster}")

    admin.delete_topics([name], timeout_ms=TIMEOUT_MS)
    deadline = time.time() + TIMEOUT_MS / 1000
    while name in admin.list_topics():
        if time.time() > deadline:
            fail(f"{name} still listed after delete_topics")
        time.sleep(0.2)


def main(bootstrap):
    log(f"kafka-python {kafka.__version__}")
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    admin_scenario(bootstrap, admin, "kafka-python-admin")
    log("admin: ok")
    for codec in CODECS:
        topic = f"kafka-python-{codec}"
        create_topic(admin, topic, PARTITIONS)
        base_ms = common.base_timestamp_ms()
        started = time.time()
        produce(bootstrap, topic, codec, base_ms)
        produced = time.time()
        consume(bootstrap, topic, codec, base_ms)
        log(f"{codec}: {RECORDS} records ok (produce {produced - started:.1f}s, "
            f"consume {time.time() - produced:.1f}s)")
    admin.close()


if __name__ == "__main__":
    common.run(main)
