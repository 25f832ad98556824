#!/usr/bin/env python3
"""Start time and resident memory of the whippet binary (stdlib only, Linux).

    bench/start_memory.py [--binary target/release/whippet] [--starts 5] [--logins 50]

Starts the broker on a fresh data directory, then restarts it `--starts` times on the same
directory, timing exec -> ready line and reading VmRSS after 0.3 s of idling. Then it opens
`--logins` connections at once, each sending a classic Iggy login (code 38, root iggy/iggy),
twice, and reports VmRSS and VmHWM after each round and after a second of idling. Every
process it starts is stopped on exit.
"""

import argparse
import json
import socket
import struct
import subprocess
import tempfile
import threading
import time


def start(binary, data_dir):
    began = time.perf_counter()
    proc = subprocess.Popen(
        [binary, "--data-dir", data_dir, "--kafka-addr", "127.0.0.1:0",
         "--native-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    ready = json.loads(proc.stdout.readline())
    return proc, ready, (time.perf_counter() - began) * 1000


def memory(proc):
    fields = {}
    with open(f"/proc/{proc.pid}/status") as status:
        for line in status:
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                fields[name] = int(value.split()[0]) / 1024
    return f"RSS {fields['VmRSS']:.1f} MB, peak {fields['VmHWM']:.1f} MB"


def login_frame():
    body = bytes([4]) + b"iggy" + bytes([4]) + b"iggy"
    for field in (b"0.10.0", b""):
        body += struct.pack("<I", len(field)) + field
    return struct.pack("<II", 4 + len(body), 38) + body


def login(host, port, statuses, index):
    with socket.create_connection((host, port)) as conn:
        conn.sendall(login_frame())
        reply = conn.recv(8)
        statuses[index] = struct.unpack("<I", reply[:4])[0] if len(reply) >= 4 else None


def login_storm(proc, native, count):
    host, port = native.rsplit(":", 1)
    for round_no in (1, 2):
        statuses = [None] * count
        began = time.perf_counter()
        threads = [threading.Thread(target=login, args=(host, int(port), statuses, i))
                   for i in range(count)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        took = time.perf_counter() - began
        ok = statuses.count(0)
        print(f"{count} concurrent logins, round {round_no}: {ok} ok in {took:.2f} s; {memory(proc)}")
    time.sleep(1)
    print(f"1 s later: {memory(proc)}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", default="target/release/whippet")
    parser.add_argument("--starts", type=int, default=5)
    parser.add_argument("--logins", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data_dir:
        for attempt in range(args.starts + 1):
            proc, ready, took = start(args.binary, data_dir)
            try:
                time.sleep(0.3)
                kind = "first start (fresh data dir)" if attempt == 0 else "restart"
                print(f"{kind}: ready in {took:.1f} ms; idle {memory(proc)}")
            finally:
                proc.terminate()
                proc.wait()
        proc, ready, _ = start(args.binary, data_dir)
        try:
            login_storm(proc, ready["native"], args.logins)
        finally:
            proc.terminate()
            proc.wait()


if __name__ == "__main__":
    main()
