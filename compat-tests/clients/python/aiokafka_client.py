"""aiokafka against Whippet: admin, produce under every codec (idempotent for some), consume by
direct assignment.

aiokafka's admin client returns raw responses without raising, so every error code is checked
here.

Usage: aiokafka_client.py HOST:PORT
"""

import asyncio
import time

import aiokafka
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewPartitions, NewTopic, RecordsToDelete
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

import common
from common import PARTITIONS, RECORDS, fail, log

CODECS = ["none", "gzip", "snappy", "lz4", "zstd"]
IDEMPOTENT_CODECS = {"snappy", "zstd"}
CLIENT = "aiokafka"
TOPIC_ALREADY_EXISTS = 36
TIMEOUT_S = 15


def check_codes(what, rows, code_index):
    for row in rows:
        if row[code_index] != 0:
            fail(f"{what}: error {row[code_index]} in {row}")


async def create_topic(admin, name, partitions, configs=None):
    response = await admin.create_topics(
        [NewTopic(name, partitions, 1, topic_configs=configs or {})])
    check_codes(f"create_topics {name}", response.topic_errors, 1)
    await wait_partitions(admin, name, partitions)


async def wait_partitions(admin, name, want):
    deadline = time.time() + TIMEOUT_S
    while time.time() < deadline:
        topics = [t for t in await admin.describe_topics([name]) if t["topic"] == name]
        if topics and topics[0]["error_code"] == 0 and len(topics[0]["partitions"]) == want:
            return
        await asyncio.sleep(0.2)
    fail(f"metadata never showed {name} with {want} partitions")


async def produce(bootstrap, topic, codec, base_ms):
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        compression_type=None if codec == "none" else codec,
        acks="all",
        linger_ms=5,
        enable_idempotence=codec in IDEMPOTENT_CODECS,
    )
    await producer.start()
    try:
        futures = []
        for i in range(RECORDS):
            partition, key, value, headers, ts = common.record(i, codec, CLIENT, base_ms)
            futures.append(await producer.send(topic, value=value, key=key, headers=headers,
                                               partition=partition, timestamp_ms=ts))
        results = await asyncio.gather(*futures)
    finally:
        await producer.stop()
    for i, metadata in enumerate(results):
        if metadata.offset != i // PARTITIONS:
            fail(f"{topic}: record {i} acknowledged at offset {metadata.offset}, "
                 f"expected {i // PARTITIONS}")


async def consume(bootstrap, topic, codec, base_ms):
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None,
                                enable_auto_commit=False, auto_offset_reset="none")
    await consumer.start()
    partitions = [TopicPartition(topic, p) for p in range(PARTITIONS)]
    consumer.assign(partitions)
    await consumer.seek_to_beginning(*partitions)
    checker = common.Checker(topic, codec, CLIENT, base_ms)
    deadline = time.time() + common.CONSUME_TIMEOUT_S
    try:
        while not checker.all_done():
            if time.time() > deadline:
                fail(f"timed out; {checker.summary()}")
            batches = await consumer.getmany(timeout_ms=500)
            for tp, records in batches.items():
                for r in records:
                    if r.timestamp_type != 0:
                        fail(f"{topic}[{tp.partition}]@{r.offset}: "
                             f"timestamp type {r.timestamp_type}")
                    checker.check(tp.partition, r.offset, r.key, r.value, list(r.headers),
                                  r.timestamp)
        begin = await consumer.beginning_offsets(partitions)
        end = await consumer.end_offsets(partitions)
        for tp in partitions:
            want = common.expected_count(tp.partition)
            if (begin[tp], end[tp]) != (0, want):
                fail(f"{topic}[{tp.partition}]: offsets {(begin[tp], end[tp])} != {(0, want)}")
    finally:
        await consumer.stop()


async def configs(admin, name):
    responses = await admin.describe_configs(
        [ConfigResource(ConfigResourceType.TOPIC, name)])
    out = {}
    for response in responses:
        for resource in response.resources:
            if resource[0] != 0:
                fail(f"describe_configs {name}: error {resource[0]} {resource[1]}")
            for entry in resource[4]:
                out[entry[0]] = entry[1]
    return out


async def expect_config(admin, name, key, want):
    got = (await configs(admin, name)).get(key)
    if got != want:
        fail(f"{name}: config {key} = {got!r}, expected {want!r}")


async def admin_scenario(bootstrap, admin, name):
    await create_topic(admin, name, 3, {"retention.ms": "3600000"})
    response = await admin.create_topics([NewTopic(name, 3, 1)])
    codes = [row[1] for row in response.topic_errors]
    if codes != [TOPIC_ALREADY_EXISTS]:
        fail(f"second create of {name}: codes {codes}, expected [{TOPIC_ALREADY_EXISTS}]")
    described = await configs(admin, name)
    for key in ("retention.bytes", "segment.bytes", "max.message.bytes", "cleanup.policy",
                "message.timestamp.type"):
        if key not in described:
            fail(f"{name}: describe_configs lacks {key}: {sorted(described)}")
    await expect_config(admin, name, "retention.ms", "3600000")

    responses = await admin.alter_configs(
        [ConfigResource(ConfigResourceType.TOPIC, name, {"retention.ms": "7200000"})])
    for response in responses:
        check_codes(f"alter_configs {name}", response.resources, 0)
    await expect_config(admin, name, "retention.ms", "7200000")

    response = await admin.create_partitions({name: NewPartitions(5)})
    check_codes(f"create_partitions {name}", response.topic_errors, 1)
    await wait_partitions(admin, name, 5)

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for i in range(10):
            await producer.send_and_wait(name, value=b"v%d" % i, partition=0)
    finally:
        await producer.stop()
    tp = TopicPartition(name, 0)
    low = await admin.delete_records({tp: RecordsToDelete(before_offset=4)})
    if low.get(tp) != 4:
        fail(f"{name}: delete_records low watermark {low} != 4")
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    await consumer.start()
    try:
        marks = ((await consumer.beginning_offsets([tp]))[tp],
                 (await consumer.end_offsets([tp]))[tp])
    finally:
        await consumer.stop()
    if marks != (4, 10):
        fail(f"{name}[0]: offsets after delete_records {marks} != (4, 10)")

    cluster = await admin.describe_cluster()
    if len(cluster["brokers"]) != 1 or cluster["controller_id"] != cluster["brokers"][0]["node_id"]:
        fail(f"describe_cluster: {cluster}")

    response = await admin.delete_topics([name])
    check_codes(f"delete_topics {name}", response.topic_error_codes, 1)
    deadline = time.time() + TIMEOUT_S
    while name in await admin.list_topics():
        if time.time() > deadline:
            fail(f"{name} still listed after delete_topics")
        await asyncio.sleep(0.2)


async def amain(bootstrap):
    log(f"aiokafka {aiokafka.__version__}")
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin_scenario(bootstrap, admin, "aiokafka-admin")
        log("admin: ok")
        for codec in CODECS:
            topic = f"aiokafka-{codec}"
            await create_topic(admin, topic, PARTITIONS)
            base_ms = common.base_timestamp_ms()
            started = time.time()
            await produce(bootstrap, topic, codec, base_ms)
            produced = time.time()
            await consume(bootstrap, topic, codec, base_ms)
            log(f"{codec}: {RECORDS} records ok (produce {produced - started:.1f}s, "
                f"consume {time.time() - produced:.1f}s)")
    finally:
        await admin.close()


def main(bootstrap):
    asyncio.run(amain(bootstrap))


if __name__ == "__main__":
    common.run(main)
