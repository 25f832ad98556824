#!/usr/bin/env python3
"""Writes the seed inputs of the fuzz targets (small, valid or nearly valid frames), so a short
smoke run starts past the first length and checksum checks instead of discovering them.
Run from anywhere: python3 fuzz/seeds/generate.py. Output: fuzz/seeds/<target>/<name>."""

import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def crc32(poly: int, data: bytes) -> int:
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ poly if crc & 1 else crc >> 1
    return crc ^ 0xFFFFFFFF


def varint(value: int) -> bytes:
    """Kafka record varint: zigzag, then 7 bits at a time."""
    zigzag = (value << 1) ^ (value >> 63)
    out = bytearray()
    while True:
        byte = zigzag & 0x7F
        zigzag >>= 7
        if zigzag:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def record(offset_delta: int, key: bytes, value: bytes) -> bytes:
    body = b"\x00" + varint(offset_delta) + varint(offset_delta)
    body += varint(len(key)) + key + varint(len(value)) + value + varint(0)
    return varint(len(body)) + body


def batch(values) -> bytes:
    records = b"".join(record(i, b"k%d" % i, v) for i, v in enumerate(values))
    after_crc = struct.pack(">hiqqqhii", 0, len(values) - 1, 1_700_000_000_000,
                            1_700_000_000_000 + len(values) - 1, -1, -1, -1, len(values))
    after_crc += records
    crc = crc32(0x82F63B78, after_crc)
    head = struct.pack(">ibI", -1, 2, crc)  # leader epoch, magic, crc
    length = len(head) + len(after_crc)
    return struct.pack(">qi", 0, length) + head + after_crc


def kstr(text: bytes) -> bytes:
    return struct.pack(">h", len(text)) + text


def request(key: int, version: int, body: bytes, flexible: bool) -> bytes:
    header = struct.pack(">hhi", key, version, 1) + kstr(b"seed")
    if flexible:
        header += b"\x00"  # no tagged fields
    frame = header + body
    return struct.pack(">i", len(frame)) + frame


def produce_v7(records: bytes) -> bytes:
    body = struct.pack(">h", -1)  # null transactional id
    body += struct.pack(">hi", 1, 10_000)  # acks, timeout
    body += struct.pack(">i", 1) + kstr(b"t") + struct.pack(">i", 1)
    body += struct.pack(">ii", 0, len(records)) + records
    return request(0, 7, body, False)


def native_header(size: int, operation: int, code: int) -> bytes:
    head = bytearray(256)
    struct.pack_into("<I", head, 48, size)
    head[60] = 5  # command: request
    struct.pack_into("<Q", head, 128, 1)  # client (low half)
    head[176] = operation
    struct.pack_into("<I", head, 196, code)
    return bytes(head)


def write(target: str, name: str, data: bytes) -> None:
    folder = os.path.join(HERE, target)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb") as out:
        out.write(data)


def main() -> None:
    one = batch([b"alpha", b"beta", b"gamma"])
    write("kafka_batch", "one_batch", b"\x00" + one)
    write("kafka_batch", "two_batches_repair", b"\x01" + one + batch([b"delta"]))
    write("kafka_request", "api_versions_v0", request(18, 0, b"", False))
    write("kafka_request", "api_versions_v3",
          request(18, 3, b"\x05seed\x041.0\x00", True))
    write("kafka_request", "metadata_v1_all", request(3, 1, struct.pack(">i", -1), False))
    write("kafka_request", "metadata_v1_huge_array",
          request(3, 1, struct.pack(">i", 0x7FFFFFFF), False))
    write("kafka_request", "produce_v7", produce_v7(one))
    write("native_request", "ping", native_header(256, 2, 1))
    stream = b"\x01\x04" + struct.pack("<I", 1)  # identifier: kind 1 (numeric), len 4, id 1
    write("native_request", "get_stream", native_header(256 + len(stream), 2, 200) + stream)


if __name__ == "__main__":
    main()
