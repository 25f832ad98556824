"""Apache Iggy's Python SDK (apache-iggy 0.9.0, wrapping the Rust iggy 0.11.0) against Whippet's
native listener: connect, log in, create a stream and topics, send 1 000 messages with typed
headers, poll them back by offset (payloads, offsets, headers), consumer offsets (auto-commit and
get_consumer_offset), and a consumer group with two members that get disjoint partitions and
together see every message. Usage: iggy_client.py HOST:PORT. Exits non-zero with `FAIL: ...`."""

import asyncio
import os
import struct
import sys
from datetime import timedelta

from apache_iggy import (
    AutoCommit,
    Consumer,
    HeaderValue,
    IggyClient,
    Partitioning,
    PollingStrategy,
    SendMessage,
)

STREAM = "py-stream"
BASIC_TOPIC = "basic"
GROUP_TOPIC = "grouped"
GROUP = "py-group"
MESSAGES = 1000
BATCH = 100
GROUP_PARTITIONS = 4
TIMEOUT_S = 60
CODE_GET_CONSUMER_OFFSET = 120


def fail(message):
    print(f"FAIL: {message}", flush=True)
    sys.exit(1)


def check(condition, message):
    if not condition:
        fail(message)


def headers_for(i):
    return {
        "index": HeaderValue.UnsignedInt32(i),
        "negative": HeaderValue.Int64(-i),
        "kind": "python",
        "even": i % 2 == 0,
        "raw": HeaderValue.Raw(bytes([i % 256, 7])),
        "ratio": HeaderValue.Float64(i / 4),
    }


def expected_scalars(i):
    return {
        "index": i,
        "negative": -i,
        "kind": "python",
        "even": i % 2 == 0,
        "raw": bytes([i % 256, 7]),
        "ratio": i / 4,
    }


async def logged_in(address):
    client = IggyClient(address)
    await client.connect()
    await client.login_user("iggy", "iggy")
    return client


async def send_basic(client):
    for start in range(0, MESSAGES, BATCH):
        batch = [
            SendMessage(f"msg-{i}", user_headers=headers_for(i))
            for i in range(start, start + BATCH)
        ]
        await client.send_messages(STREAM, BASIC_TOPIC, Partitioning.partition_id(0), batch)
    topic = await client.get_topic(STREAM, BASIC_TOPIC)
    check(topic is not None, "basic topic missing after send")
    check(topic.messages_count == MESSAGES, f"messages_count {topic.messages_count}")


async def poll(client, consumer, strategy, count, auto_commit):
    """Polls partition 0 of the basic topic."""
    return await client.poll_messages(
        stream=STREAM,
        topic=BASIC_TOPIC,
        consumer=consumer,
        polling_strategy=strategy,
        count=count,
        auto_commit=auto_commit,
        partition_id=0,
    )


async def poll_back_by_offset(client):
    consumer = Consumer.Single("py-offset-reader")
    seen = []
    offset = 0
    while offset < MESSAGES:
        polled = await poll(client, consumer, PollingStrategy.Offset(offset), 250, False)
        check(len(polled) > 0, f"poll at offset {offset} returned nothing")
        seen.extend(polled)
        offset += len(polled)
    check(len(seen) == MESSAGES, f"polled {len(seen)} messages")
    for i, message in enumerate(seen):
        check(message.offset() == i, f"message {i} has offset {message.offset()}")
        check(message.payload() == f"msg-{i}".encode(), f"payload {i}: {message.payload()!r}")
        headers = message.user_headers()
        check(headers is not None, f"message {i} lost its headers")
        scalars = headers.to_scalar_dict()
        check(scalars == expected_scalars(i), f"headers {i}: {scalars!r}")
        check(message.timestamp() > 0, f"message {i} has no server timestamp")
    middle = await poll(client, consumer, PollingStrategy.Offset(500), 3, False)
    check([m.offset() for m in middle] == [500, 501, 502], "poll at offset 500")


def consumer_offset_request(consumer_name):
    def name_id(name):
        raw = name.encode()
        return bytes([2, len(raw)]) + raw

    return (
        bytes([1]) + name_id(consumer_name) + name_id(STREAM) + name_id(BASIC_TOPIC)
        + bytes([1]) + struct.pack("<I", 0)
    )


async def stored_offset(client, consumer_name):
    raw = await client.send_binary_request(
        CODE_GET_CONSUMER_OFFSET, consumer_offset_request(consumer_name)
    )
    if len(raw) == 0:
        return None
    check(len(raw) == 20, f"get_consumer_offset reply of {len(raw)} bytes")
    _partition, _current, stored = struct.unpack("<IQQ", raw)
    return stored


async def offsets(client):
    name = "py-committer"
    consumer = Consumer.Single(name)
    check(await stored_offset(client, name) is None, "offset stored before any poll")
    first = await poll(client, consumer, PollingStrategy.Next(), 300, True)
    check([m.offset() for m in first] == list(range(300)), "first Next poll")
    check(await stored_offset(client, name) == 299, "auto-commit did not store 299")
    second = await poll(client, consumer, PollingStrategy.Next(), 5, True)
    check([m.offset() for m in second] == [300, 301, 302, 303, 304], "Next after commit")
    check(await stored_offset(client, name) == 304, "auto-commit did not store 304")


async def group_member(address):
    client = await logged_in(address)
    consumer = await client.consumer_group(
        GROUP,
        STREAM,
        GROUP_TOPIC,
        polling_strategy=PollingStrategy.Next(),
        batch_length=50,
        auto_commit=AutoCommit.Interval(timedelta(milliseconds=100)),
        create_consumer_group_if_not_exists=True,
        auto_join_consumer_group=True,
        poll_interval=timedelta(milliseconds=5),
    )
    return client, consumer


async def drain(consumer, sink, done):
    async for message in consumer.iter_messages():
        sink.append((message.partition_id(), message.payload().decode()))
        if done():
            return


async def group_assignment(client):
    group = await client.get_consumer_group(STREAM, GROUP_TOPIC, GROUP)
    check(group is not None, "consumer group missing")
    return {member.id: sorted(member.partitions) for member in group.members}


async def consumer_group(client, address):
    await client.create_topic(STREAM, GROUP_TOPIC, GROUP_PARTITIONS)
    one_client, one = await group_member(address)
    two_client, two = await group_member(address)
    assignment = await group_assignment(client)
    check(len(assignment) == 2, f"group members: {assignment}")
    parts = [p for ps in assignment.values() for p in ps]
    check(sorted(parts) == list(range(GROUP_PARTITIONS)), f"assignment {assignment}")
    check(all(len(ps) == 2 for ps in assignment.values()), f"uneven split {assignment}")

    sent = set()
    for start in range(0, MESSAGES, BATCH):
        partition = (start // BATCH) % GROUP_PARTITIONS
        batch = [SendMessage(f"group-{i}") for i in range(start, start + BATCH)]
        sent.update(f"group-{i}" for i in range(start, start + BATCH))
        await client.send_messages(STREAM, GROUP_TOPIC, Partitioning.partition_id(partition), batch)

    got_one, got_two = [], []
    done = lambda: len(got_one) + len(got_two) >= MESSAGES
    tasks = [
        asyncio.create_task(drain(one, got_one, done)),
        asyncio.create_task(drain(two, got_two, done)),
    ]
    try:
        await asyncio.wait_for(_until(done), TIMEOUT_S)
    except asyncio.TimeoutError:
        fail(f"group consumed {len(got_one)} + {len(got_two)} of {MESSAGES}")
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    check(got_one and got_two, f"both members consume: {len(got_one)}, {len(got_two)}")
    parts_one = {p for p, _ in got_one}
    parts_two = {p for p, _ in got_two}
    check(not parts_one & parts_two, f"members share partitions {parts_one} {parts_two}")
    payloads = [payload for _, payload in got_one + got_two]
    check(len(payloads) == len(set(payloads)), "a message was delivered twice")
    check(set(payloads) == sent, f"group saw {len(set(payloads))} distinct of {len(sent)}")
    del one_client, two_client


async def _until(done):
    while not done():
        await asyncio.sleep(0.05)


async def main(address):
    client = await logged_in(address)
    await client.ping()
    await client.create_stream(STREAM)
    await client.create_topic(STREAM, BASIC_TOPIC, 1)
    stream = await client.get_stream(STREAM)
    check(stream is not None and stream.topics_count == 1, "stream after create_topic")
    await send_basic(client)
    await poll_back_by_offset(client)
    await offsets(client)
    await consumer_group(client, address)
    stats = await client.get_stats()
    check(stats.messages_count == 2 * MESSAGES, f"stats messages_count {stats.messages_count}")
    print("OK", flush=True)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        fail("usage: iggy_client.py HOST:PORT")
    asyncio.run(main(sys.argv[1]))
    # Every check has passed by now (a failure exits non-zero from inside main). apache-iggy
    # 0.9's native runtime aborts (SIGABRT, no message) in about one run in five while the
    # interpreter finalizes with its consumer-group tasks still scheduled; leave without
    # finalizing so that client teardown bug cannot turn a passed run into a failed one.
    sys.stdout.flush()
    os._exit(0)
