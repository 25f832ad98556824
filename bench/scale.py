#!/usr/bin/env python3
"""Whippet with many partitions and many idle connections (Linux; needs confluent-kafka).

    bench/scale.py [--binary target/release/whippet] [--bench target/release/whippet-bench]
                   [--topics 100] [--partitions 100] [--connections 5000] [--records 300000]

Steps, each reporting the broker's RSS (and peak):
1. start on a fresh data directory (time exec -> ready line);
2. baseline: `whippet-bench kafka produce` then `consume` on one hot partition;
3. create TOPICS x PARTITIONS partitions (CreateTopics through confluent-kafka's admin client);
4. open CONNECTIONS idle Kafka connections (each sends one ApiVersions v0, then stays open);
5. the same produce/consume on one hot partition, with all of the above in place;
6. close the idle connections, stop the broker, start it again on the same directory (time to
   the ready line with every partition on disk) and idle a second.
The broker gets `--connections-per-listener-max` and `--connections-per-address-max` above
CONNECTIONS (defaults 1024 and 256; all of these come from 127.0.0.1).
Every process it starts is stopped on exit.
"""

import argparse
import json
import socket
import struct
import subprocess
import sys
import tempfile
import time

from start_memory import memory


def start(binary, data_dir, connections):
    began = time.perf_counter()
    proc = subprocess.Popen(
        [binary, "--data-dir", data_dir, "--kafka-addr", "127.0.0.1:0",
         "--native-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0",
         "--connections-per-address-max", str(connections + 100),
         "--connections-per-listener-max", str(connections + 100)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    ready = json.loads(proc.stdout.readline())
    return proc, ready, (time.perf_counter() - began) * 1000


def bench(tool, kafka, mode, records, topic):
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        subprocess.run(
            [tool, "kafka", mode, "--brokers", kafka, "--records", str(records),
             "--topic-prefix", topic, "--quiet", "--json", out.name]
            + (["--no-preload"] if mode == "consume" else []),
            check=True, capture_output=True)
        report = json.load(out)
    return report["phases"][-1]["mb_per_sec"]


def create_topics(kafka, topics, partitions):
    from confluent_kafka.admin import AdminClient, NewTopic
    admin = AdminClient({"bootstrap.servers": kafka})
    began = time.perf_counter()
    for first in range(0, topics, 10):
        wanted = [NewTopic(f"scale-{i:03d}", partitions, 1)
                  for i in range(first, min(first + 10, topics))]
        for name, done in admin.create_topics(wanted, request_timeout=120).items():
            error = done.exception(120)
            if error is not None:
                sys.exit(f"creating {name} failed: {error}")
    return time.perf_counter() - began


def api_versions_v0(correlation_id):
    body = struct.pack(">hhih", 18, 0, correlation_id, -1)
    return struct.pack(">i", len(body)) + body


def open_idle(kafka, count):
    host, port = kafka.rsplit(":", 1)
    conns = []
    for i in range(count):
        conn = socket.create_connection((host, int(port)))
        conn.sendall(api_versions_v0(i))
        conns.append(conn)
    answered = 0
    for conn in conns:
        conn.settimeout(10)
        size = struct.unpack(">i", recv_exact(conn, 4))[0]
        recv_exact(conn, size)
        answered += 1
    return conns, answered


def recv_exact(conn, n):
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            raise ConnectionError("closed by the broker")
        data += chunk
    return data


def hot_partition(args, kafka, label, topic):
    produce = bench(args.bench, kafka, "produce", args.records, topic)
    consume = bench(args.bench, kafka, "consume", args.records, topic)
    print(f"{label}: hot partition produce {produce:.1f} MB/s, consume {consume:.1f} MB/s")
    return produce, consume


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", default="target/release/whippet")
    parser.add_argument("--bench", default="target/release/whippet-bench")
    parser.add_argument("--topics", type=int, default=100)
    parser.add_argument("--partitions", type=int, default=100)
    parser.add_argument("--connections", type=int, default=5000)
    parser.add_argument("--records", type=int, default=300_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="whippet-scale-") as data_dir:
        proc, ready, ms = start(args.binary, data_dir, args.connections)
        try:
            kafka = ready["kafka"]
            print(f"start on an empty directory: {ms:.1f} ms; {memory(proc)}")
            before = hot_partition(args, kafka, "baseline", "hot-a")
            print(f"after baseline: {memory(proc)}")
            secs = create_topics(kafka, args.topics, args.partitions)
            count = args.topics * args.partitions
            print(f"created {count} partitions in {secs:.1f} s; {memory(proc)}")
            conns, answered = open_idle(kafka, args.connections)
            print(f"{answered} idle connections open; {memory(proc)}")
            after = hot_partition(args, kafka, "with both", "hot-b")
            print(f"ratio produce {after[0] / before[0]:.2f}x, consume "
                  f"{after[1] / before[1]:.2f}x; {memory(proc)}")
            for conn in conns:
                conn.close()
        finally:
            proc.terminate()
            proc.wait()
        proc, ready, ms = start(args.binary, data_dir, args.connections)
        try:
            time.sleep(1)
            print(f"restart with {args.topics * args.partitions} partitions on disk: "
                  f"{ms:.1f} ms to ready; {memory(proc)} after 1 s")
        finally:
            proc.terminate()
            proc.wait()


if __name__ == "__main__":
    main()
