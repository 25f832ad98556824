//! Cost of the produce-time record validation (the `LogValidator` walk plus the native
//! servability check) on the bench's hot-path shape: one batch of 1 000 × 1 KiB records, no key
//! or headers (what `whippet-bench kafka produce` sends), uncompressed and lz4/zstd; and the
//! same uncompressed with an 8-byte key and one header per record. Throughput is in batch
//! bytes, to compare with the produce rate.
#![allow(clippy::unwrap_used)]

use std::io::Write;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use whippet_wire::kafka::inspect_batches;
use whippet_wire::transcode::admit_kafka_batch;

const RECORDS: usize = 1_000;
const VALUE_BYTES: usize = 1024;
const CAP: usize = 64 << 20;

fn varint(out: &mut Vec<u8>, value: i64) {
    let mut raw = ((value << 1) ^ (value >> 63)) as u64;
    while raw >= 0x80 {
        out.push((raw as u8) | 0x80);
        raw >>= 7;
    }
    out.push(raw as u8);
}

/// `RECORDS` records of a 1 KiB value; with `keyed`, an 8-byte key and one header each.
fn records(keyed: bool) -> Vec<u8> {
    let mut plain = Vec::new();
    for index in 0..RECORDS {
        let mut body = vec![0u8];
        varint(&mut body, index as i64);
        varint(&mut body, index as i64);
        if keyed {
            varint(&mut body, 8);
            body.extend_from_slice(&(index as u64).to_le_bytes());
        } else {
            varint(&mut body, -1);
        }
        varint(&mut body, VALUE_BYTES as i64);
        body.extend((0..VALUE_BYTES).map(|i| (i * 31 + index) as u8));
        if keyed {
            varint(&mut body, 1);
            varint(&mut body, 5);
            body.extend_from_slice(b"trace");
            varint(&mut body, 16);
            body.extend_from_slice(&[7; 16]);
        } else {
            varint(&mut body, 0);
        }
        varint(&mut plain, body.len() as i64);
        plain.extend_from_slice(&body);
    }
    plain
}

fn kafka_batch(codec: i16, plain: &[u8]) -> Vec<u8> {
    let section = match codec {
        3 => {
            let mut encoder = lz4::EncoderBuilder::new()
                .block_mode(lz4::BlockMode::Independent)
                .build(Vec::new())
                .unwrap();
            encoder.write_all(plain).unwrap();
            encoder.finish().0
        }
        4 => zstd::encode_all(plain, 3).unwrap(),
        _ => plain.to_vec(),
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

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("validate");
    let plain = records(false);
    group.throughput(Throughput::Bytes((RECORDS * VALUE_BYTES) as u64));
    let cases = [
        ("none", kafka_batch(0, &plain)),
        ("none_keyed_header", kafka_batch(0, &records(true))),
        ("lz4", kafka_batch(3, &plain)),
        ("zstd", kafka_batch(4, &plain)),
    ];
    for (name, batch) in cases {
        let info = inspect_batches(&batch).unwrap()[0];
        let mut scratch = Vec::new();
        group.bench_function(format!("admit_{name}"), |b| {
            b.iter(|| admit_kafka_batch(&batch, &info, &mut scratch, CAP).unwrap())
        });
    }
    // For scale: the header check the produce path already ran (CRC-32C over the batch).
    let batch = kafka_batch(0, &plain);
    group.bench_function("inspect_none", |b| {
        b.iter(|| inspect_batches(&batch).unwrap())
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
