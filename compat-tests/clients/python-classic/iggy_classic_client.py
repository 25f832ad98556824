"""Apache Iggy's Python SDK at its last classic-framing release (apache-iggy 0.8.0, wrapping the
Rust iggy 0.10.0: `[length][code][payload]` requests) against Whippet's native port: connect,
log in, create a stream and topics, send 1 000 messages (text and binary payloads), poll them
back by offset (payloads, offsets, partition, server timestamps), by first / last / timestamp,
consumer offsets through `Next` with and without auto-commit, and a consumer group with two
members (two connections) that consume disjoint partitions and together see every message once.

apache-iggy 0.8.0 has no user headers or message ids on `SendMessage`, no consumer argument on
`poll_messages` (it polls as the SDK's default consumer) and no offset or group getters, so those
are checked through what the calls it has return. Usage: iggy_classic_client.py HOST:PORT.
Prints `OK` at the end; exits non-zero with `FAIL: ...` on the first mismatch."""

import asyncio
import os
import sys
from datetime import timedelta

from apache_iggy import AutoCommit, IggyClient, PollingStrategy, SendMessage

STREAM = "py-classic"
BASIC_TOPIC = "basic"
GROUP_TOPIC = "grouped"
GROUP = "py-classic-group"
MESSAGES = 1000
BATCH = 100
GROUP_PARTITIONS = 4
TIMEOUT_S = 60


def fail(message):
    print(f"FAIL: {message}", flush=True)
    sys.exit(1)


def check(condition, message):
    if not condition:
        fail(message)


def payload_of(i):
    """Text for even messages, binary (zero and high bytes included) for odd ones."""
    if i % 2 == 0:
        return f"msg-{i}"
    return bytes([i % 256, 0, 255, 10]) + f"bin-{i}".encode()


def as_bytes(payload):
    return payload.encode() if isinstance(payload, str) else payload


async def logged_in(address):
    client = IggyClient(address)
    await client.connect()
    await client.login_user("iggy", "iggy")
    return client


async def poll(client, strategy, count, auto_commit=False):
    """Polls partition 0 of the basic topic."""
    return await client.poll_messages(
        STREAM, BASIC_TOPIC, 0, strategy, count, auto_commit
    )


async def send_basic(client):
    for start in range(0, MESSAGES, BATCH):
        batch = [SendMessage(payload_of(i)) for i in range(start, start + BATCH)]
        await client.send_messages(STREAM, BASIC_TOPIC, 0, batch)
    topic = await client.get_topic(STREAM, BASIC_TOPIC)
    check(topic is not None, "basic topic missing after send")
    check(topic.messages_count == MESSAGES, f"messages_count {topic.messages_count}")


async def poll_back_by_offset(client):
    seen = []
    offset = 0
    while offset < MESSAGES:
        polled = await poll(client, PollingStrategy.Offset(offset), 250)
        check(len(polled) > 0, f"poll at offset {offset} returned nothing")
        seen.extend(polled)
        offset += len(polled)
    check(len(seen) == MESSAGES, f"polled {len(seen)} messages")
    for i, message in enumerate(seen):
        check(message.offset() == i, f"message {i} has offset {message.offset()}")
        want = as_bytes(payload_of(i))
        check(message.payload() == want, f"payload {i}: {message.payload()!r}")
        check(message.timestamp() > 0, f"message {i} has no server timestamp")
        check(message.partition_id() == 0, f"message {i} from partition {message.partition_id()}")
    middle = await poll(client, PollingStrategy.Offset(500), 3)
    check([m.offset() for m in middle] == [500, 501, 502], "poll at offset 500")
    return seen


async def poll_by_strategy(client, seen):
    first = await poll(client, PollingStrategy.First(), 3)
    check([m.offset() for m in first] == [0, 1, 2], "First")
    last = await poll(client, PollingStrategy.Last(), 3)
    check([m.offset() for m in last] == [997, 998, 999], "Last")
    check(last[-1].payload() == as_bytes(payload_of(999)), "Last payload")
    # Timestamp: the first message at or after the 6th batch's timestamp.
    stamp = seen[500].timestamp()
    by_time = await poll(client, PollingStrategy.Timestamp(stamp), 5)
    check(len(by_time) == 5, f"Timestamp poll returned {len(by_time)}")
    start = by_time[0].offset()
    check(by_time[0].timestamp() >= stamp, "Timestamp poll starts before the timestamp")
    check(all(m.timestamp() < stamp for m in seen[:start]), f"Timestamp poll skipped to {start}")
    past = await poll(client, PollingStrategy.Offset(MESSAGES), 5)
    check(len(past) == 0, f"poll past the end returned {len(past)}")


async def offsets(client):
    """`Next` polls as the SDK's default consumer: auto-commit moves it, no commit does not."""
    first = await poll(client, PollingStrategy.Next(), 300, True)
    check([m.offset() for m in first] == list(range(300)), "first Next poll")
    second = await poll(client, PollingStrategy.Next(), 5, True)
    check([m.offset() for m in second] == [300, 301, 302, 303, 304], "Next after commit")
    peek = await poll(client, PollingStrategy.Next(), 2, False)
    again = await poll(client, PollingStrategy.Next(), 2, False)
    check([m.offset() for m in peek] == [305, 306], "Next without commit")
    check([m.offset() for m in again] == [305, 306], "Next without commit moved the offset")


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
        sink.append((message.partition_id(), message.offset(), message.payload().decode()))
        if done():
            return


async def _until(done):
    while not done():
        await asyncio.sleep(0.05)


async def consumer_group(client, address):
    await client.create_topic(STREAM, GROUP_TOPIC, GROUP_PARTITIONS)
    one_client, one = await group_member(address)
    two_client, two = await group_member(address)
    sent = set()
    for start in range(0, MESSAGES, BATCH):
        partition = (start // BATCH) % GROUP_PARTITIONS
        batch = [SendMessage(f"group-{i}") for i in range(start, start + BATCH)]
        sent.update(f"group-{i}" for i in range(start, start + BATCH))
        await client.send_messages(STREAM, GROUP_TOPIC, partition, batch)

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
    parts_one = {p for p, _, _ in got_one}
    parts_two = {p for p, _, _ in got_two}
    check(not parts_one & parts_two, f"members share partitions {parts_one} {parts_two}")
    check(parts_one | parts_two == set(range(GROUP_PARTITIONS)), "a partition was not consumed")
    payloads = [payload for _, _, payload in got_one + got_two]
    check(len(payloads) == len(set(payloads)), "a message was delivered twice")
    check(set(payloads) == sent, f"group saw {len(set(payloads))} distinct of {len(sent)}")
    for partition in range(GROUP_PARTITIONS):
        polled = sorted(o for p, o, _ in got_one + got_two if p == partition)
        check(polled == list(range(len(polled))), f"partition {partition} offsets {polled[:5]}")
    del one_client, two_client


async def main(address):
    client = await logged_in(address)
    await client.ping()
    await client.create_stream(STREAM)
    await client.create_topic(STREAM, BASIC_TOPIC, 1)
    stream = await client.get_stream(STREAM)
    check(stream is not None and stream.topics_count == 1, "stream after create_topic")
    check(stream.name == STREAM, f"stream name {stream.name}")
    topic = await client.get_topic(STREAM, BASIC_TOPIC)
    check(topic is not None and topic.partitions_count == 1, "topic after create_topic")
    check(await client.get_topic(STREAM, "missing") is None, "a missing topic was found")
    await send_basic(client)
    seen = await poll_back_by_offset(client)
    await poll_by_strategy(client, seen)
    await offsets(client)
    await consumer_group(client, address)
    stream = await client.get_stream(STREAM)
    check(stream.messages_count == 2 * MESSAGES, f"stream messages_count {stream.messages_count}")
    print("OK", flush=True)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        fail("usage: iggy_classic_client.py HOST:PORT")
    asyncio.run(main(sys.argv[1]))
    # Every check has passed by now (a failure exits non-zero from inside main). apache-iggy's
    # native runtime aborts (SIGABRT, no message) in about one run in five while the interpreter
    # finalizes with its consumer-group tasks still scheduled; leave without finalizing so that
    # client teardown bug cannot turn a passed run into a failed one.
    sys.stdout.flush()
    os._exit(0)
