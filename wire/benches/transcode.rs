//! Cost of a cross-protocol read: transcoding one batch of 1 000 × 1 KiB records each way
//! (Kafka uncompressed and lz4 → native; native → Kafka uncompressed). Throughput is reported
//! in payload bytes, so MB/s compares directly with a same-protocol read of the same data.
#![allow(clippy::unwrap_used)]

use std::io::Write;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use whippet_wire::native::batch::{encode_batch, stamp_batch};
use whippet_wire::native::message::NewMessage;
use whippet_wire::transcode::{KafkaCompression, kafka_to_native, native_to_kafka};

const RECORDS: usize = 1_000;
const VALUE_BYTES: usize = 1024;

fn varint(out: &mut Vec<u8>, value: i64) {
    let mut raw = ((value << 1) ^ (value >> 63)) as u64;
    while raw >= 0x80 {
        out.push((raw as u8) | 0x80);
        raw >>= 7;
    }
    out.push(raw as u8);
}

/// A Kafka batch of `RECORDS` records with a 8-byte key, a 1 KiB value and one header.
fn kafka_batch(codec: i16) -> Vec<u8> {
    let mut plain = Vec::new();
    for index in 0..RECORDS {
        let mut body = vec![0u8];
        varint(&mut body, index as i64);
        varint(&mut body, index as i64);
        varint(&mut body, 8);
        body.extend_from_slice(&(index as u64).to_le_bytes());
        varint(&mut body, VALUE_BYTES as i64);
        body.extend((0..VALUE_BYTES).map(|i| (i * 31 + index) as u8));
        varint(&mut body, 1);
        varint(&mut body, 5);
        body.extend_from_slice(b"trace");
        varint(&mut body, 16);
        body.extend_from_slice(&[7; 16]);
        varint(&mut plain, body.len() as i64);
        plain.extend_from_slice(&body);
    }
    let section = if codec == 3 {
        let mut encoder = lz4::EncoderBuilder::new()
            .block_mode(lz4::BlockMode::Independent)
            .build(Vec::new())
            .unwrap();
        encoder.write_all(&plain).unwrap();
        encoder.finish().0
    } else {
        plain
    };
    let mut out = Vec::new();
    out.extend_from_slice(&0i64.to_be_bytes());
    out.extend_from_slice(&((49 + section.len()) as i32).to_be_bytes());
    out.extend_from_slice(&0i32.to_be_bytes());
    out.push(2);
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&codec.to_be_bytes());
    out.extend_from_slice(&(RECORDS as i32 - 1).to_be_bytes());
    out.extend_from_slice(&1_700_000_000_000i64.to_be_bytes());
    out.extend_from_slice(&1_700_000_000_999i64.to_be_bytes());
    out.extend_from_slice(&(-1i64).to_be_bytes());
    out.extend_from_slice(&(-1i16).to_be_bytes());
    out.extend_from_slice(&(-1i32).to_be_bytes());
    out.extend_from_slice(&(RECORDS as i32).to_be_bytes());
    out.extend_from_slice(&section);
    let crc = crc32c::crc32c(&out[21..]);
    out[17..21].copy_from_slice(&crc.to_be_bytes());
    out
}

fn native_batch() -> bytes::BytesMut {
    let payloads: Vec<Vec<u8>> = (0..RECORDS)
        .map(|index| (0..VALUE_BYTES).map(|i| (i * 31 + index) as u8).collect())
        .collect();
    let headers: &[u8] = &[
        2, 5, 0, 0, 0, b't', b'r', b'a', b'c', b'e', 1, 3, 0, 0, 0, 1, 2, 3,
    ];
    let messages: Vec<NewMessage<'_>> = payloads
        .iter()
        .enumerate()
        .map(|(index, payload)| NewMessage {
            id: index as u128 + 1,
            offset_delta: index as u32,
            timestamp_delta: index as u32,
            payload,
            user_headers: headers,
        })
        .collect();
    let mut batch = encode_batch(1_700_000_000_000_000, &messages);
    stamp_batch(&mut batch, 0, 0, 1_700_000_000_000_000).unwrap();
    batch
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("transcode");
    group.throughput(Throughput::Bytes((RECORDS * VALUE_BYTES) as u64));
    let plain = kafka_batch(0);
    group.bench_function("kafka_none_to_native", |b| {
        b.iter(|| kafka_to_native(&plain, 0, 64 << 20).unwrap())
    });
    let lz4 = kafka_batch(3);
    group.bench_function("kafka_lz4_to_native", |b| {
        b.iter(|| kafka_to_native(&lz4, 0, 64 << 20).unwrap())
    });
    let native = native_batch();
    group.bench_function("native_to_kafka_none", |b| {
        b.iter(|| native_to_kafka(&native, KafkaCompression::None).unwrap())
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
