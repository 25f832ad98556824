"""kcat (Debian, librdkafka 2.0.2) against Whippet: produce under every codec, consume with -J,
list metadata with -L and look offsets up by time with -Q.

kcat has no admin commands, so topics are created with Debian's python3-confluent-kafka (same
librdkafka). kcat's producer sets headers per invocation (-H), not per line, and cannot set a
timestamp: so headers are checked against the invocation's constant set and timestamps must lie
inside the produce window. One kcat invocation per partition (-p) keeps the records of a
partition in order, so offsets and order are still checked exactly.

Run with PYTHONPATH=compat-tests/clients/python (for common.py).
Usage: kcat_client.py HOST:PORT
"""

import json
import subprocess
import time

from confluent_kafka.admin import AdminClient, NewTopic

import common
from common import PARTITIONS, RECORDS, fail, log

CODECS = ["none", "gzip", "snappy", "lz4", "zstd"]
IDEMPOTENT_CODECS = {"lz4"}
CLIENT = "kcat"
KCAT = "/usr/bin/kcat"
TIMEOUT_S = 30


def kcat(args, stdin=None):
    result = subprocess.run([KCAT, *args], input=stdin, capture_output=True,
                            timeout=TIMEOUT_S)
    if result.returncode != 0:
        fail(f"kcat {' '.join(args)} exited {result.returncode}: "
             f"{result.stderr.decode(errors='replace')[-2000:]}")
    return result.stdout


def create_topic(bootstrap, name):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics([NewTopic(name, num_partitions=PARTITIONS,
                                            replication_factor=1)])
    futures[name].result(TIMEOUT_S)
    deadline = time.time() + TIMEOUT_S
    while time.time() < deadline:
        listing = json.loads(kcat(["-b", bootstrap, "-L", "-J", "-t", name]))
        topics = [t for t in listing.get("topics", []) if t.get("topic") == name]
        if topics and "error" not in topics[0] and len(topics[0]["partitions"]) == PARTITIONS:
            if len(listing.get("brokers", [])) != 1:
                fail(f"kcat -L lists brokers {listing.get('brokers')}, expected one")
            return
        time.sleep(0.2)
    fail(f"kcat -L never showed {name} with {PARTITIONS} partitions")


def produce(bootstrap, topic, codec):
    for p in range(PARTITIONS):
        lines = []
        for i in range(p, RECORDS, PARTITIONS):
            _, key, value, _, _ = common.record(i, codec, CLIENT, 0)
            lines.append(key + b"\t" + value)
        args = ["-b", bootstrap, "-P", "-t", topic, "-p", str(p), "-z", codec, "-K", "\t",
                "-H", f"codec={codec}", "-H", f"client={CLIENT}",
                "-X", "acks=all", "-X", "linger.ms=5"]
        if codec in IDEMPOTENT_CODECS:
            args += ["-X", "enable.idempotence=true"]
        kcat(args, stdin=b"\n".join(lines) + b"\n")


def consume_partition(bootstrap, topic, p):
    want = common.expected_count(p)
    out = kcat(["-b", bootstrap, "-C", "-t", topic, "-p", str(p), "-o", "beginning",
                "-c", str(want), "-e", "-J"])
    return [json.loads(line) for line in out.decode().splitlines() if line.strip()]


def check_partition(topic, codec, p, messages, window):
    want = common.expected_count(p)
    if len(messages) != want:
        fail(f"{topic}[{p}]: kcat returned {len(messages)} records, expected {want}")
    want_headers = ["codec", codec, "client", CLIENT]
    for offset, m in enumerate(messages):
        where = f"{topic}[{p}]@{offset}"
        i = offset * PARTITIONS + p
        _, key, value, _, _ = common.record(i, codec, CLIENT, 0)
        if m.get("partition") != p or m.get("offset") != offset:
            fail(f"{where}: got partition {m.get('partition')} offset {m.get('offset')}")
        if m.get("key") != key.decode() or m.get("payload") != value.decode():
            fail(f"{where}: key/value {m.get('key')!r}/{str(m.get('payload'))[:40]!r} "
                 f"!= {key!r}/{value[:40]!r}")
        if m.get("headers") != want_headers:
            fail(f"{where}: headers {m.get('headers')} != {want_headers}")
        if m.get("tstype") != "create" or not window[0] <= m.get("ts", -1) <= window[1]:
            fail(f"{where}: timestamp {m.get('tstype')} {m.get('ts')} outside {window}")
        if offset and m["ts"] < messages[offset - 1]["ts"]:
            fail(f"{where}: timestamp went backwards")


def check_offsets_for_times(bootstrap, topic, p, messages):
    """kcat -Q (ListOffsets by timestamp): first offset whose timestamp is >= the query."""
    for probe in (0, len(messages) // 2, len(messages) - 1):
        ts = messages[probe]["ts"]
        out = kcat(["-b", bootstrap, "-Q", "-t", f"{topic}:{p}:{ts}"]).decode()
        # "<topic> [<p>] offset <n>"
        try:
            got = int(out.split("offset")[1].split()[0])
        except (IndexError, ValueError):
            fail(f"kcat -Q output not understood: {out!r}")
        want = next(o for o, m in enumerate(messages) if m["ts"] >= ts)
        if got != want:
            fail(f"{topic}[{p}]: offset for time {ts} = {got}, expected {want}")


def main(bootstrap):
    log(kcat(["-V"]).decode().splitlines()[0])
    for codec in CODECS:
        topic = f"kcat-{codec}"
        create_topic(bootstrap, topic)
        started = time.time()
        before_ms = int(started * 1000) - 1
        produce(bootstrap, topic, codec)
        produced = time.time()
        window = (before_ms, int(produced * 1000) + 1)
        for p in range(PARTITIONS):
            messages = consume_partition(bootstrap, topic, p)
            check_partition(topic, codec, p, messages, window)
            check_offsets_for_times(bootstrap, topic, p, messages)
        log(f"{codec}: {RECORDS} records ok (produce {produced - started:.1f}s, "
            f"consume {time.time() - produced:.1f}s)")


if __name__ == "__main__":
    common.run(main)
