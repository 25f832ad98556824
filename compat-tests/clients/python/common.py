"""Shared data and checks for the Python Kafka client programs (stdlib only, so it runs under
Debian's /usr/bin/python3 for python3-confluent-kafka as well as in the PyPI venv).

Every client program produces the same records and checks them the same way (see
compat-tests/clients/README.md): record i goes to partition i % 3 with key, value, headers and
an explicit CreateTime timestamp derived from i, so the consumer can check each field, the
per-partition order and the offsets (record i sits at offset i // 3) exactly.
"""

import sys
import time

RECORDS = 10_000
PARTITIONS = 3
CONSUME_TIMEOUT_S = 40.0
FILLER = b"abcdefghijklmnopqrstuvwxyz0123456789"


class Failure(Exception):
    """A mismatch between what was produced and what the broker returned."""


def fail(message):
    raise Failure(message)


def base_timestamp_ms():
    """An explicit CreateTime base: an hour ago, whole second, so retention never touches it."""
    return (int(time.time()) - 3600) * 1000


def record(i, codec, client, base_ms):
    """The i-th record: (partition, key, value, headers, timestamp_ms)."""
    key = f"key-{codec}-{i}".encode()
    filler = (FILLER * 12)[: (i * 37) % 400]
    value = f"value-{client}-{codec}-{i:05d}-".encode() + filler
    headers = [("idx", str(i).encode()), ("codec", codec.encode()), ("empty", b"")]
    return i % PARTITIONS, key, value, headers, base_ms + i


def expected_count(partition, total=RECORDS):
    return len(range(partition, total, PARTITIONS))


def normalize_headers(headers):
    """[(str, bytes)] from whatever list/tuple shape a client returns (None value -> None)."""
    out = []
    for name, value in headers or []:
        if isinstance(name, bytes):
            name = name.decode()
        if isinstance(value, str):
            value = value.encode()
        out.append((name, value))
    return out


class Checker:
    """Checks consumed records of one topic partition by partition as they arrive."""

    def __init__(self, topic, codec, client, base_ms, total=RECORDS):
        self.topic = topic
        self.codec = codec
        self.client = client
        self.base_ms = base_ms
        self.total = total
        self.next_offset = [0] * PARTITIONS

    def check(self, partition, offset, key, value, headers, timestamp_ms):
        where = f"{self.topic}[{partition}]@{offset}"
        if not 0 <= partition < PARTITIONS:
            fail(f"{where}: unexpected partition")
        if offset != self.next_offset[partition]:
            fail(f"{where}: expected offset {self.next_offset[partition]} (dense, in order)")
        i = offset * PARTITIONS + partition
        if i >= self.total:
            fail(f"{where}: more records than the {self.total} produced")
        want_p, want_key, want_value, want_headers, want_ts = record(
            i, self.codec, self.client, self.base_ms
        )
        if key != want_key:
            fail(f"{where}: key {key!r} != {want_key!r}")
        if value != want_value:
            fail(f"{where}: value {value[:60]!r}... != {want_value[:60]!r}...")
        got_headers = normalize_headers(headers)
        if got_headers != want_headers:
            fail(f"{where}: headers {got_headers!r} != {want_headers!r}")
        if timestamp_ms != want_ts:
            fail(f"{where}: timestamp {timestamp_ms} != {want_ts}")
        self.next_offset[partition] += 1

    def done(self, partition):
        return self.next_offset[partition] >= expected_count(partition, self.total)

    def all_done(self):
        return all(self.done(p) for p in range(PARTITIONS))

    def summary(self):
        return f"{self.topic}: consumed per partition {self.next_offset} of {self.total}"


def run(main):
    """Runs main(bootstrap) with the bootstrap argument; exit 1 with a clear message on failure."""
    if len(sys.argv) != 2:
        print(f"usage: {sys.argv[0]} HOST:PORT", file=sys.stderr)
        sys.exit(2)
    started = time.time()
    try:
        main(sys.argv[1])
    except Failure as failure:
        print(f"FAIL: {failure}", flush=True)
        sys.exit(1)
    except Exception as error:  # a client exception is a failure too, with its type
        print(f"FAIL: {type(error).__name__}: {error}", flush=True)
        raise
    print(f"OK ({time.time() - started:.1f}s)", flush=True)


def log(message):
    print(message, flush=True)


def report_kafka_error(error):
    """Prints a confluent-kafka admin failure as `ERR <error name>: <message>` for a test to
    judge (the admin programs exit 0 after it)."""
    kafka_error = error.args[0] if error.args else error
    name = kafka_error.name() if hasattr(kafka_error, "name") else type(error).__name__
    message = kafka_error.str() if hasattr(kafka_error, "str") else str(error)
    print(f"ERR {name}: {message}")
