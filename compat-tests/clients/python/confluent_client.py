"""confluent-kafka (librdkafka) against Whippet: admin, produce under every codec, consume.

Runs under both Debian's python3-confluent-kafka 1.7 (librdkafka 2.0.2, via /usr/bin/python3)
and PyPI's confluent-kafka 2.16 (librdkafka 2.16, in the venv); calls that the old one lacks
(delete_records, incremental_alter_configs, describe_cluster) are skipped there and say so.

Usage: [EXPECT_LIBRDKAFKA=VERSION_PREFIX] confluent_client.py HOST:PORT
"""

import os
import time

import confluent_kafka
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource, NewPartitions, NewTopic

import common
from common import PARTITIONS, RECORDS, fail, log

CODECS = ["none", "gzip", "snappy", "lz4", "zstd"]
IDEMPOTENT_CODECS = {"gzip", "zstd"}
TIMEOUT_S = 15


def client_name():
    return "confluent-" + confluent_kafka.libversion()[0]


def topic_resource(name):
    return ConfigResource("topic", name)


def create_topic(admin, name, partitions, config=None):
    futures = admin.create_topics(
        [NewTopic(name, num_partitions=partitions, replication_factor=1, config=config or {})],
        operation_timeout=TIMEOUT_S,
    )
    futures[name].result(TIMEOUT_S)


def wait_partitions(admin, name, want):
    deadline = time.time() + TIMEOUT_S
    while time.time() < deadline:
        topic = admin.list_topics(name, timeout=TIMEOUT_S).topics.get(name)
        if topic is not None and topic.error is None and len(topic.partitions) == want:
            return
        time.sleep(0.2)
    fail(f"metadata never showed {name} with {want} partitions")


def produce(bootstrap, topic, codec, base_ms):
    conf = {
        "bootstrap.servers": bootstrap,
        "compression.type": codec,
        "linger.ms": 5,
        "acks": "all",
        "enable.idempotence": codec in IDEMPOTENT_CODECS,
    }
    producer = Producer(conf)
    errors = []

    def delivered(error, _message):
        if error is not None:
            errors.append(error)

    for i in range(RECORDS):
        partition, key, value, headers, ts = common.record(i, codec, client_name(), base_ms)
        while True:
            try:
                producer.produce(topic, value=value, key=key, partition=partition,
                                 timestamp=ts, headers=headers, on_delivery=delivered)
                break
            except BufferError:
                producer.poll(0.05)
        producer.poll(0)
    left = producer.flush(30)
    if left:
        fail(f"{topic}: {left} records still undelivered after flush")
    if errors:
        fail(f"{topic}: {len(errors)} delivery errors, first: {errors[0]}")


def new_consumer(bootstrap):
    return Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": "whippet-compat-unused",
        "enable.auto.commit": False,
        "auto.offset.reset": "error",
        "enable.partition.eof": False,
    })


def consume(bootstrap, topic, codec, base_ms):
    consumer = new_consumer(bootstrap)
    consumer.assign([TopicPartition(topic, p, confluent_kafka.OFFSET_BEGINNING)
                     for p in range(PARTITIONS)])
    checker = common.Checker(topic, codec, client_name(), base_ms)
    deadline = time.time() + common.CONSUME_TIMEOUT_S
    try:
        while not checker.all_done():
            if time.time() > deadline:
                fail(f"timed out; {checker.summary()}")
            for msg in consumer.consume(500, timeout=0.5):
                if msg.error() is not None:
                    fail(f"{topic}: consumer error {msg.error()}")
                ts_type, ts = msg.timestamp()
                if ts_type != confluent_kafka.TIMESTAMP_CREATE_TIME:
                    fail(f"{topic}[{msg.partition()}]@{msg.offset()}: timestamp type {ts_type}")
                checker.check(msg.partition(), msg.offset(), msg.key(), msg.value(),
                              msg.headers(), ts)
        # Stop fetching: a long-polling Fetch would hold up the ListOffsets queued behind it.
        consumer.unassign()
        for p in range(PARTITIONS):
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=TIMEOUT_S)
            if (low, high) != (0, common.expected_count(p)):
                fail(f"{topic}[{p}]: watermarks {(low, high)} != {(0, common.expected_count(p))}")
    finally:
        consumer.close()


def describe(admin, name):
    futures = admin.describe_configs([topic_resource(name)])
    (future,) = futures.values()
    return {entry.name: entry.value for entry in future.result(TIMEOUT_S).values()}


def expect_config(admin, name, key, want):
    got = describe(admin, name).get(key)
    if got != want:
        fail(f"{name}: config {key} = {got!r}, expected {want!r}")


def admin_scenario(bootstrap, admin, name):
    create_topic(admin, name, 3, {"retention.ms": "3600000"})
    wait_partitions(admin, name, 3)
    try:
        create_topic(admin, name, 3)
        fail(f"creating {name} twice succeeded")
    except KafkaException as error:
        if error.args[0].code() != confluent_kafka.KafkaError.TOPIC_ALREADY_EXISTS:
            fail(f"second create of {name}: {error}, expected TOPIC_ALREADY_EXISTS")
    configs = describe(admin, name)
    for key in ("retention.ms", "retention.bytes", "segment.bytes", "max.message.bytes",
                "cleanup.policy", "message.timestamp.type"):
        if key not in configs:
            fail(f"{name}: describe_configs lacks {key}: {sorted(configs)}")
    expect_config(admin, name, "retention.ms", "3600000")

    resource = topic_resource(name)
    resource.set_config("retention.ms", "7200000")
    admin.alter_configs([resource])[resource].result(TIMEOUT_S)
    expect_config(admin, name, "retention.ms", "7200000")

    if hasattr(admin, "incremental_alter_configs"):
        from confluent_kafka.admin import AlterConfigOpType, ConfigEntry
        resource = ConfigResource("topic", name, incremental_configs=[
            ConfigEntry("retention.bytes", "1048576",
                        incremental_operation=AlterConfigOpType.SET)])
        admin.incremental_alter_configs([resource])[resource].result(TIMEOUT_S)
        expect_config(admin, name, "retention.bytes", "1048576")
        expect_config(admin, name, "retention.ms", "7200000")
    else:
        log("skip: incremental_alter_configs not in this confluent-kafka")

    admin.create_partitions([NewPartitions(name, 5)])[name].result(TIMEOUT_S)
    wait_partitions(admin, name, 5)

    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all"})
    for i in range(10):
        producer.produce(name, value=b"v%d" % i, partition=0)
    if producer.flush(TIMEOUT_S):
        fail(f"{name}: admin records undelivered")
    # A live producer's metadata refresh would auto-create the topic again after its deletion.
    del producer
    consumer = new_consumer(bootstrap)
    try:
        if hasattr(admin, "delete_records"):
            futures = admin.delete_records([TopicPartition(name, 0, 4)])
            (future,) = futures.values()
            deleted = future.result(TIMEOUT_S)
            if deleted.low_watermark != 4:
                fail(f"{name}: delete_records low watermark {deleted.low_watermark} != 4")
            marks = consumer.get_watermark_offsets(TopicPartition(name, 0), timeout=TIMEOUT_S)
            if marks != (4, 10):
                fail(f"{name}[0]: watermarks after delete_records {marks} != (4, 10)")
        else:
            log("skip: delete_records not in this confluent-kafka")
            marks = consumer.get_watermark_offsets(TopicPartition(name, 0), timeout=TIMEOUT_S)
            if marks != (0, 10):
                fail(f"{name}[0]: watermarks {marks} != (0, 10)")
    finally:
        consumer.close()

    if hasattr(admin, "describe_cluster"):
        cluster = admin.describe_cluster(request_timeout=TIMEOUT_S).result(TIMEOUT_S)
        if len(cluster.nodes) != 1 or cluster.controller is None:
            fail(f"describe_cluster: nodes {cluster.nodes}, controller {cluster.controller}")

    admin.delete_topics([name], operation_timeout=TIMEOUT_S)[name].result(TIMEOUT_S)
    deadline = time.time() + TIMEOUT_S
    while name in admin.list_topics(timeout=TIMEOUT_S).topics:
        if time.time() > deadline:
            fail(f"{name} still listed after delete_topics")
        time.sleep(0.2)


def main(bootstrap):
    log(f"confluent-kafka {confluent_kafka.version()[0]}, {client_name()}")
    expect = os.environ.get("EXPECT_LIBRDKAFKA", "")
    if not confluent_kafka.libversion()[0].startswith(expect):
        fail(f"loaded librdkafka {confluent_kafka.libversion()[0]}, expected {expect}*")
    # The admin handle is a producer-type instance: its metadata refreshes would auto-create a
    # deleted topic again (as Kafka does with auto.create.topics.enable=true).
    admin = AdminClient({"bootstrap.servers": bootstrap, "allow.auto.create.topics": False})
    prefix = client_name().replace(".", "_")
    admin_scenario(bootstrap, admin, f"{prefix}-admin")
    log("admin: ok")
    for codec in CODECS:
        topic = f"{prefix}-{codec}"
        create_topic(admin, topic, PARTITIONS)
        wait_partitions(admin, topic, PARTITIONS)
        base_ms = common.base_timestamp_ms()
        started = time.time()
        produce(bootstrap, topic, codec, base_ms)
        produced = time.time()
        consume(bootstrap, topic, codec, base_ms)
        log(f"{codec}: {RECORDS} records ok (produce {produced - started:.1f}s, "
            f"consume {time.time() - produced:.1f}s)")


if __name__ == "__main__":
    common.run(main)
