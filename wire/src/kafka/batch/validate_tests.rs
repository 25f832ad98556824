//! The record walk against batches built by hand (so every field can be made to lie) and by
//! `kafka-protocol`'s encoder (the oracle for good batches), in every codec.
#![allow(clippy::unwrap_used)]

use std::io::Write;

use bytes::{Bytes, BytesMut};
use kafka_protocol::ResponseError;
use kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};

use super::*;
use crate::kafka::batch::inspect_batches;
use crate::kafka::varint::put;

const CODECS: [Compression; 5] = [
    Compression::None,
    Compression::Gzip,
    Compression::Snappy,
    Compression::Lz4,
    Compression::Zstd,
];
const CAP: usize = 64 * 1024 * 1024;

fn compress(codec: Compression, plain: &[u8]) -> Vec<u8> {
    match codec {
        Compression::None => plain.to_vec(),
        Compression::Gzip => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            e.write_all(plain).unwrap();
            e.finish().unwrap()
        }
        Compression::Snappy => snap::raw::Encoder::new().compress_vec(plain).unwrap(),
        Compression::Lz4 => {
            let mut e = lz4::EncoderBuilder::new().build(Vec::new()).unwrap();
            e.write_all(plain).unwrap();
            let (out, result) = e.finish();
            result.unwrap();
            out
        }
        Compression::Zstd => zstd::encode_all(plain, 3).unwrap(),
    }
}

/// A batch around `section` (already compressed with `codec`) declaring `count` records and
/// lastOffsetDelta `last_delta`, with a correct CRC.
fn batch_around(section: &[u8], codec: Compression, count: i32, last_delta: i32) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&0i64.to_be_bytes());
    out.extend_from_slice(&i32::try_from(49 + section.len()).unwrap().to_be_bytes());
    out.extend_from_slice(&0i32.to_be_bytes());
    out.push(2);
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&(codec as i16).to_be_bytes());
    out.extend_from_slice(&last_delta.to_be_bytes());
    out.extend_from_slice(&1_700_000_000_000i64.to_be_bytes());
    out.extend_from_slice(&1_700_000_000_000i64.to_be_bytes());
    out.extend_from_slice(&(-1i64).to_be_bytes());
    out.extend_from_slice(&(-1i16).to_be_bytes());
    out.extend_from_slice(&(-1i32).to_be_bytes());
    out.extend_from_slice(&count.to_be_bytes());
    out.extend_from_slice(section);
    let crc = crc32c::crc32c(&out[21..]);
    out[17..21].copy_from_slice(&crc.to_be_bytes());
    out
}

/// One record's body (after its length): attributes, deltas, key, value, headers.
fn body(offset_delta: i64, key: Option<&[u8]>, value: Option<&[u8]>, headers: &[&[u8]]) -> Vec<u8> {
    let mut out = vec![0u8];
    put(&mut out, 3);
    put(&mut out, offset_delta);
    for field in [key, value] {
        match field {
            Some(bytes) => {
                put(&mut out, i64::try_from(bytes.len()).unwrap());
                out.extend_from_slice(bytes);
            }
            None => put(&mut out, -1),
        }
    }
    put(&mut out, i64::try_from(headers.len()).unwrap());
    for header in headers {
        out.extend_from_slice(header);
    }
    out
}

/// A header `key: value` as encoded bytes.
fn header(key: &[u8], value: Option<&[u8]>) -> Vec<u8> {
    let mut out = Vec::new();
    put(&mut out, i64::try_from(key.len()).unwrap());
    out.extend_from_slice(key);
    match value {
        Some(v) => {
            put(&mut out, i64::try_from(v.len()).unwrap());
            out.extend_from_slice(v);
        }
        None => put(&mut out, -1),
    }
    out
}

/// Length-prefixed records.
fn section(bodies: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for body in bodies {
        put(&mut out, i64::try_from(body.len()).unwrap());
        out.extend_from_slice(body);
    }
    out
}

/// `n` well-formed records with a key, a value and a header.
fn good_bodies(n: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| {
            let h = header(b"trace", Some(b"abc"));
            body(i64::try_from(i).unwrap(), Some(b"k"), Some(b"value"), &[&h])
        })
        .collect()
}

/// Inspects `batch` (which must pass the header checks) and validates its records.
fn check(batch: &[u8], cap: usize) -> Result<RecordTotals> {
    let infos = inspect_batches(batch).unwrap();
    let mut scratch = Vec::new();
    validate_records(batch, &infos[0], &mut scratch, cap).map(|checked| checked.totals)
}

fn plain_batch(plain: &[u8], codec: Compression, count: i32) -> Vec<u8> {
    batch_around(&compress(codec, plain), codec, count, count - 1)
}

fn malformed(batch: &[u8]) -> &'static str {
    match check(batch, CAP) {
        Err(error @ KafkaWireError::RecordMalformed { reason, .. }) => {
            assert_eq!(
                error.batch_response_error(),
                Some(ResponseError::InvalidRecord)
            );
            reason
        }
        other => panic!("expected a malformed record, got {other:?}"),
    }
}

#[test]
fn encoder_batches_of_every_codec_pass_with_their_totals() {
    for codec in CODECS {
        let records: Vec<Record> = (0..50)
            .map(|i| Record {
                transactional: false,
                control: false,
                delete_horizon: false,
                partition_leader_epoch: -1,
                producer_id: -1,
                producer_epoch: -1,
                timestamp_type: TimestampType::Creation,
                offset: i,
                // The encoder keeps one batch while offset − sequence stays constant.
                sequence: i32::try_from(i).unwrap() - 1,
                timestamp: 1_700_000_000_000 + i,
                key: (i % 2 == 0).then(|| Bytes::from(format!("key-{i}"))),
                value: (i % 5 != 0).then(|| Bytes::from(vec![b'v'; 100])),
                headers: [(
                    kafka_protocol::protocol::StrBytes::from_static_str("h"),
                    Some(Bytes::from_static(b"x")),
                )]
                .into_iter()
                .collect(),
            })
            .collect();
        let mut buf = BytesMut::new();
        let options = RecordEncodeOptions {
            version: 2,
            compression: codec,
        };
        RecordBatchEncoder::encode(&mut buf, &records, &options).unwrap();
        let totals = check(&buf, CAP).unwrap();
        assert_eq!(totals.records, 50, "{codec:?}");
        assert_eq!(totals.keys, 25, "{codec:?}");
        assert_eq!(totals.null_values, 10, "{codec:?}");
        assert_eq!(totals.value_bytes, 40 * 100, "{codec:?}");
        assert_eq!(totals.headers, 50, "{codec:?}");
        assert_eq!(totals.header_bytes, 50 * 4, "{codec:?}");
    }
}

#[test]
fn garbage_compressed_payloads_are_corrupt() {
    let garbage: Vec<u8> = (0..200u32).map(|i| (i * 37 + 11) as u8).collect();
    for codec in [
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ] {
        let batch = batch_around(&garbage, codec, 3, 2);
        let error = check(&batch, CAP).unwrap_err();
        assert!(
            matches!(error, KafkaWireError::Decompress { .. }),
            "{codec:?}: {error:?}"
        );
        assert_eq!(
            error.batch_response_error(),
            Some(ResponseError::CorruptMessage)
        );
    }
    // A zstd frame magic followed by garbage: the probe's case.
    let mut zstd_garbage = vec![0x28, 0xb5, 0x2f, 0xfd];
    zstd_garbage.extend_from_slice(&garbage);
    let batch = batch_around(&zstd_garbage, Compression::Zstd, 1, 0);
    assert!(matches!(
        check(&batch, CAP),
        Err(KafkaWireError::Decompress { .. })
    ));
}

#[test]
fn a_record_length_varint_of_2_pow_40_is_refused() {
    let mut plain = Vec::new();
    put(&mut plain, 1 << 40);
    plain.extend_from_slice(&[0; 20]);
    for codec in CODECS {
        let batch = plain_batch(&plain, codec, 1);
        assert_eq!(malformed(&batch), "length", "{codec:?}");
    }
    // Ten continuation bytes: no terminator within a varint's five.
    let batch = plain_batch(&[0xff; 10], Compression::None, 1);
    assert_eq!(malformed(&batch), "length");
}

#[test]
fn record_count_must_match_the_records_and_the_offsets() {
    let plain = section(&good_bodies(3));
    for codec in CODECS {
        // Declared 4 (lastOffsetDelta 3 agrees), 3 present: the walk runs out.
        let batch = plain_batch(&plain, codec, 4);
        assert_eq!(malformed(&batch), "length", "{codec:?}");
        // Declared 2, 3 present.
        let batch = plain_batch(&plain, codec, 2);
        assert_eq!(
            malformed(&batch),
            "bytes after the last record",
            "{codec:?}"
        );
        // Declared 3 but lastOffsetDelta 5: Kafka's inconsistent offset range and count.
        let batch = batch_around(&compress(codec, &plain), codec, 3, 5);
        let error = check(&batch, CAP).unwrap_err();
        assert!(
            matches!(error, KafkaWireError::RecordCountInvalid { .. }),
            "{error:?}"
        );
        assert_eq!(
            error.batch_response_error(),
            Some(ResponseError::InvalidRecord)
        );
        assert!(check(&plain_batch(&plain, codec, 3), CAP).is_ok());
    }
}

#[test]
fn every_truncation_of_the_records_is_refused() {
    let plain = section(&good_bodies(3));
    for cut in 0..plain.len() {
        // Uncompressed, a cut below 3 × 7 bytes already fails the header's count check.
        let batch = plain_batch(&plain[..cut], Compression::None, 3);
        if cut >= 21 {
            assert!(
                matches!(
                    check(&batch, CAP),
                    Err(KafkaWireError::RecordMalformed { .. })
                ),
                "cut {cut}"
            );
        } else {
            assert!(inspect_batches(&batch).is_err(), "cut {cut}");
        }
        let batch = plain_batch(&plain[..cut], Compression::Lz4, 3);
        assert!(
            matches!(
                check(&batch, CAP),
                Err(KafkaWireError::RecordMalformed { .. })
            ),
            "lz4 cut {cut}"
        );
    }
}

#[test]
fn negative_and_lying_lengths_are_refused() {
    // Record length −1.
    // (Records this short are compressed: uncompressed, the header check already refuses a
    // count the bytes cannot hold.)
    let mut plain = Vec::new();
    put(&mut plain, -1);
    assert_eq!(
        malformed(&plain_batch(&plain, Compression::Gzip, 1)),
        "negative length"
    );
    // Key length −2 (only −1 means null).
    let mut record = vec![0u8, 0, 0];
    put(&mut record, -2);
    assert_eq!(
        malformed(&plain_batch(&section(&[record]), Compression::Gzip, 1)),
        "key"
    );
    // Value length past the record.
    let mut record = vec![0u8, 0, 0, 1];
    put(&mut record, 100);
    record.extend_from_slice(b"short");
    assert_eq!(
        malformed(&plain_batch(&section(&[record]), Compression::Gzip, 1)),
        "value"
    );
    // A null header key (length −1).
    let null_key = [0x01u8, 0x01];
    let record = body(0, None, Some(b"v"), &[&null_key]);
    assert_eq!(
        malformed(&plain_batch(&section(&[record]), Compression::None, 1)),
        "header key"
    );
    // An empty record: no attributes byte.
    assert_eq!(
        malformed(&plain_batch(&section(&[vec![]]), Compression::Zstd, 1)),
        "attributes"
    );
}

#[test]
fn header_counts_that_overflow_or_lie_are_refused() {
    for count in [i64::from(i32::MAX), 1 << 33, -1, 2] {
        let mut record = body(0, None, Some(b"v"), &[]);
        record.pop(); // the header count 0
        put(&mut record, count);
        let h = header(b"a", Some(b"b"));
        record.extend_from_slice(&h);
        let reason = malformed(&plain_batch(&section(&[record]), Compression::Zstd, 1));
        assert!(
            reason == "header count" || reason == "header key",
            "{count}: {reason}"
        );
    }
    // One header announced, two present.
    let (a, b) = (header(b"a", None), header(b"b", None));
    let mut record = body(0, None, Some(b"v"), &[&a]);
    record.extend_from_slice(&b);
    assert_eq!(
        malformed(&plain_batch(&section(&[record]), Compression::None, 1)),
        "bytes after the last header"
    );
}

#[test]
fn offset_deltas_must_be_the_record_positions() {
    let bodies = vec![
        body(0, None, Some(b"a"), &[]),
        body(0, None, Some(b"b"), &[]),
    ];
    assert_eq!(
        malformed(&plain_batch(&section(&bodies), Compression::None, 2)),
        "offsetDelta is not the record's position in the batch"
    );
    let bodies = vec![body(-1, None, Some(b"a"), &[])];
    assert_eq!(
        malformed(&plain_batch(&section(&bodies), Compression::Snappy, 1)),
        "offsetDelta is not the record's position in the batch"
    );
}

#[test]
fn the_plain_cap_holds_for_every_codec_and_is_message_too_large() {
    let plain = section(&[body(0, None, Some(&[7; 10_000]), &[])]);
    for codec in CODECS {
        let batch = plain_batch(&plain, codec, 1);
        assert!(check(&batch, plain.len()).is_ok(), "{codec:?}");
        let error = check(&batch, plain.len() - 1).unwrap_err();
        assert!(
            matches!(error, KafkaWireError::RecordsTooLarge { .. }),
            "{codec:?}: {error:?}"
        );
        assert_eq!(
            error.batch_response_error(),
            Some(ResponseError::MessageTooLarge)
        );
    }
}

#[test]
fn snappy_declaring_more_than_its_block_can_hold_is_refused_before_allocating() {
    // A raw snappy block whose preamble claims 60 MB, followed by one literal byte.
    let mut block = Vec::new();
    let mut declared = 60_000_000u64;
    while declared >= 0x80 {
        block.push((declared as u8) | 0x80);
        declared >>= 7;
    }
    block.push(declared as u8);
    block.extend_from_slice(&[0x00, b'x']);
    let batch = batch_around(&block, Compression::Snappy, 1, 0);
    let mut scratch = Vec::new();
    let infos = inspect_batches(&batch).unwrap();
    let error = validate_records(&batch, &infos[0], &mut scratch, CAP).unwrap_err();
    assert!(
        matches!(error, KafkaWireError::Decompress { .. }),
        "{error:?}"
    );
    assert!(
        scratch.capacity() < 1024,
        "allocated {}",
        scratch.capacity()
    );
}

#[test]
fn the_scratch_buffer_is_reused_and_batches_are_found_by_offset() {
    let plain = section(&good_bodies(20));
    let first = plain_batch(&plain, Compression::Zstd, 20);
    let second = plain_batch(&plain, Compression::Gzip, 20);
    let mut buffer = first.clone();
    buffer.extend_from_slice(&second);
    let infos = inspect_batches(&buffer).unwrap();
    let mut scratch = Vec::new();
    validate_records(&buffer, &infos[0], &mut scratch, CAP).unwrap();
    let capacity = scratch.capacity();
    let checked = validate_records(&buffer, &infos[1], &mut scratch, CAP).unwrap();
    assert_eq!(checked.plain, &plain[..]);
    assert_eq!(scratch.capacity(), capacity);
    // An uncompressed batch is walked where it is, without touching the scratch.
    let none = plain_batch(&plain, Compression::None, 20);
    let infos = inspect_batches(&none).unwrap();
    let mut untouched = Vec::new();
    let checked = validate_records(&none, &infos[0], &mut untouched, CAP).unwrap();
    assert_eq!(checked.plain.as_ptr(), none[61..].as_ptr());
    assert_eq!(untouched.capacity(), 0);
}
