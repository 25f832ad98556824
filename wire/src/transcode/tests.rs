//! Transcoder tests: both directions against independently built batches (the
//! `kafka-protocol` encoder and decoder, the native batch encoder and stamper), every codec,
//! the edge sizes of keys and headers, duplicates and order, malformed input, and round-trip
//! properties over generated records.
#![allow(clippy::unwrap_used)]

use bytes::{Bytes, BytesMut};
use kafka_protocol::records::{
    Compression, Record, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};
use proptest::prelude::*;

use super::records::{Cursor, collect_headers, put_varint};
use super::*;
use crate::kafka::batch::inspect_batch_at;
use crate::native::batch::{BatchRecord, encode_batch, stamp_batch, verify_batch_checksum};
use crate::native::message::NewMessage;
use crate::native::user_headers::decode_user_headers;

const MAX: usize = 64 * 1024 * 1024;

/// A Kafka record as the tests see it: headers as a list (duplicates and order kept).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Rec {
    key: Option<Vec<u8>>,
    value: Option<Vec<u8>>,
    headers: Vec<(Vec<u8>, Option<Vec<u8>>)>,
}

fn put_opt(out: &mut Vec<u8>, bytes: Option<&[u8]>) {
    match bytes {
        None => put_varint(out, -1),
        Some(bytes) => {
            put_varint(out, bytes.len() as i64);
            out.extend_from_slice(bytes);
        }
    }
}

fn compress(codec: Compression, plain: &[u8]) -> Vec<u8> {
    use std::io::Write;
    match codec {
        Compression::None => plain.to_vec(),
        Compression::Gzip => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            e.write_all(plain).unwrap();
            e.finish().unwrap()
        }
        // librdkafka's framing: one raw snappy block.
        Compression::Snappy => snap::raw::Encoder::new().compress_vec(plain).unwrap(),
        Compression::Lz4 => {
            let mut e = lz4::EncoderBuilder::new()
                .block_mode(lz4::BlockMode::Independent)
                .build(Vec::new())
                .unwrap();
            e.write_all(plain).unwrap();
            let (out, result) = e.finish();
            result.unwrap();
            out
        }
        Compression::Zstd => zstd::encode_all(plain, 3).unwrap(),
    }
}

/// A Kafka v2 batch written by hand (kafka-protocol's records cannot hold duplicate headers).
fn kafka_batch(base_offset: i64, base_ms: i64, records: &[Rec], codec: Compression) -> Vec<u8> {
    let mut plain = Vec::new();
    for (index, record) in records.iter().enumerate() {
        let mut body = vec![0u8];
        put_varint(&mut body, index as i64 * 7);
        put_varint(&mut body, index as i64);
        put_opt(&mut body, record.key.as_deref());
        put_opt(&mut body, record.value.as_deref());
        put_varint(&mut body, record.headers.len() as i64);
        for (key, value) in &record.headers {
            put_opt(&mut body, Some(key));
            put_opt(&mut body, value.as_deref());
        }
        put_varint(&mut plain, body.len() as i64);
        plain.extend_from_slice(&body);
    }
    let section = compress(codec, &plain);
    let count = records.len() as i32;
    let mut out = Vec::new();
    out.extend_from_slice(&base_offset.to_be_bytes());
    out.extend_from_slice(&((49 + section.len()) as i32).to_be_bytes());
    out.extend_from_slice(&0i32.to_be_bytes());
    out.push(2);
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&(codec as i16).to_be_bytes());
    out.extend_from_slice(&(count - 1).max(0).to_be_bytes());
    out.extend_from_slice(&base_ms.to_be_bytes());
    out.extend_from_slice(&(base_ms + 7 * i64::from(count.max(1) - 1)).to_be_bytes());
    out.extend_from_slice(&(-1i64).to_be_bytes());
    out.extend_from_slice(&(-1i16).to_be_bytes());
    out.extend_from_slice(&(-1i32).to_be_bytes());
    out.extend_from_slice(&count.to_be_bytes());
    out.extend_from_slice(&section);
    let crc = crc32c::crc32c(&out[21..]);
    out[17..21].copy_from_slice(&crc.to_be_bytes());
    out
}

/// Reads a Kafka batch (any codec) back into records, checking its CRC on the way.
fn read_kafka(batch: &[u8]) -> (i64, Vec<(i64, i64, Rec)>) {
    let info = inspect_batch_at(batch, 0).unwrap();
    assert_eq!(info.len, batch.len());
    let plain = crate::kafka::batch::decompress_records(info.codec, &batch[61..], MAX).unwrap();
    let mut cursor = Cursor::new(&plain);
    let mut out = Vec::new();
    let mut headers = Vec::new();
    for index in 0..info.record_count as usize {
        let view = cursor.record(index).unwrap();
        collect_headers(&view, index, &mut headers).unwrap();
        out.push((
            info.base_offset + i64::from(view.offset_delta),
            info.base_timestamp_ms + view.timestamp_delta,
            Rec {
                key: view.key.map(<[u8]>::to_vec),
                value: view.value.map(<[u8]>::to_vec),
                headers: headers
                    .iter()
                    .map(|(k, v)| (k.to_vec(), v.map(<[u8]>::to_vec)))
                    .collect(),
            },
        ));
    }
    assert!(cursor.is_empty());
    (info.base_offset, out)
}

/// What a 0.11 SDK does with a polled message it sends again: the user headers go through its
/// sorted map (ordered by key kind, then key bytes), payload and id are kept.
fn resend_as_sdk(record: &[u8]) -> BytesMut {
    let record = BatchRecord::read(record).unwrap();
    let mut blocks = Vec::new();
    let mut messages = Vec::new();
    for frame in record.frames() {
        let frame = frame.unwrap();
        let mut entries = decode_user_headers(frame.user_headers).unwrap();
        entries.sort_by(|a, b| (a.key_kind, &a.key).cmp(&(b.key_kind, &b.key)));
        let mut block = BytesMut::new();
        crate::native::user_headers::encode_entries(&entries, &mut block);
        blocks.push((frame.header.id, frame.payload, block));
    }
    for (index, (id, payload, block)) in blocks.iter().enumerate() {
        messages.push(NewMessage {
            id: *id,
            offset_delta: index as u32,
            timestamp_delta: 0,
            payload,
            user_headers: block,
        });
    }
    let mut batch = encode_batch(1_700_000_000_000_000, &messages);
    stamp_batch(&mut batch, 3, 500, 1_700_000_000_000_001).unwrap();
    batch
}

fn rec(key: Option<&[u8]>, value: Option<&[u8]>, headers: &[(&[u8], Option<&[u8]>)]) -> Rec {
    Rec {
        key: key.map(<[u8]>::to_vec),
        value: value.map(<[u8]>::to_vec),
        headers: headers
            .iter()
            .map(|(k, v)| (k.to_vec(), v.map(<[u8]>::to_vec)))
            .collect(),
    }
}

const CODECS: [Compression; 5] = [
    Compression::None,
    Compression::Gzip,
    Compression::Snappy,
    Compression::Lz4,
    Compression::Zstd,
];

#[test]
fn kafka_to_native_matches_a_native_producer_plus_stamping() {
    let records = [
        rec(Some(b"k1"), Some(b"hello"), &[(b"trace", Some(b"abc"))]),
        rec(None, Some(b"world"), &[]),
    ];
    for codec in CODECS {
        let kafka = kafka_batch(42, 1_700_000_000_000, &records, codec);
        let native = kafka_to_native(&kafka, 7, MAX).unwrap();
        let record = BatchRecord::read(&native).unwrap();
        verify_batch_checksum(&record).unwrap();
        assert_eq!(record.header.partition_id, 7);
        assert_eq!(record.header.base_offset, 42);
        assert_eq!(record.header.origin_timestamp, 1_700_000_000_000_000);
        assert_eq!(record.header.base_timestamp, 1_700_000_000_007_000);
        let messages: Vec<_> = record.messages().map(Result::unwrap).collect();
        assert_eq!(messages.len(), 2, "{codec:?}");
        assert_eq!(messages[0].offset, 42);
        assert_eq!(messages[1].offset, 43);
        assert_eq!(messages[1].origin_timestamp, 1_700_000_000_007_000);
        assert_eq!(messages[0].frame.payload, b"hello");
        assert_eq!(messages[0].frame.header.id, 0);
        let headers = decode_user_headers(messages[0].frame.user_headers).unwrap();
        assert_eq!(headers.len(), 2);
        assert_eq!(
            (&headers[0].key[..], headers[0].value_kind),
            (&b"trace"[..], 1)
        );
        assert_eq!(&headers[1].key[..], reserved::KEY.as_bytes());
        assert_eq!(&headers[1].value[..], b"k1");
        assert!(messages[1].frame.user_headers.is_empty());
        // Same bytes as a producer batch of these frames, stamped by the broker.
        let frames: Vec<_> = record.frames().map(Result::unwrap).collect();
        let again: Vec<_> = frames
            .iter()
            .map(|f| NewMessage {
                id: f.header.id,
                offset_delta: f.header.offset_delta,
                timestamp_delta: f.header.timestamp_delta,
                payload: f.payload,
                user_headers: f.user_headers,
            })
            .collect();
        let mut produced = encode_batch(record.header.origin_timestamp, &again);
        stamp_batch(&mut produced, 7, 42, record.header.base_timestamp).unwrap();
        assert_eq!(produced, native, "{codec:?}");
    }
}

#[test]
fn kafka_protocol_batches_of_every_codec_are_read() {
    let records: Vec<Record> = (0..5)
        .map(|i| Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: 0,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: TimestampType::Creation,
            offset: i,
            sequence: -1,
            timestamp: 1_000 + i,
            key: (i % 2 == 0).then(|| Bytes::from(format!("key{i}"))),
            value: Some(Bytes::from(vec![b'v'; 300 * i as usize + 1])),
            headers: [("h".into(), Some(Bytes::from_static(b"x")))]
                .into_iter()
                .collect(),
        })
        .collect();
    for codec in CODECS {
        let mut kafka = BytesMut::new();
        let options = RecordEncodeOptions {
            version: 2,
            compression: codec,
        };
        RecordBatchEncoder::encode(&mut kafka, &records, &options).unwrap();
        // The encoder may write several batches; the log stores one per frame.
        assert!(
            matches!(
                kafka_to_native(&kafka, 0, MAX),
                Err(TranscodeError::TrailingBytes { .. })
            ) || crate::kafka::inspect_batches(&kafka).unwrap().len() == 1
        );
        let mut got = Vec::new();
        for batch in crate::kafka::inspect_batches(&kafka).unwrap() {
            let one = &kafka[batch.offset_in_buffer..][..batch.len];
            let native = kafka_to_native(one, 0, MAX).unwrap();
            let back = native_to_kafka(&resend_as_sdk(&native), KafkaCompression::None).unwrap();
            got.extend(
                RecordBatchDecoder::decode(&mut back.freeze())
                    .unwrap()
                    .records,
            );
        }
        assert_eq!(got.len(), 5, "{codec:?}");
        for (got, sent) in got.iter().zip(&records) {
            assert_eq!(
                (&got.key, &got.value),
                (&sent.key, &sent.value),
                "{codec:?}"
            );
            assert_eq!(got.headers, sent.headers);
        }
    }
}

fn header<'a>(record: &'a Record, key: &str) -> Option<&'a [u8]> {
    record
        .headers
        .iter()
        .find(|(k, _)| k.as_str() == key)
        .and_then(|(_, v)| v.as_deref())
}

#[test]
fn native_to_kafka_is_a_valid_batch_in_every_codec() {
    let typed: &[u8] = &[2, 1, 0, 0, 0, b'n', 12, 8, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0];
    let messages = [
        NewMessage {
            id: 0xfeed,
            offset_delta: 0,
            timestamp_delta: 0,
            payload: b"first",
            user_headers: typed,
        },
        NewMessage {
            id: 0,
            offset_delta: 1,
            timestamp_delta: 5_000,
            payload: &[7; 2000],
            user_headers: &[],
        },
    ];
    let mut native = encode_batch(2_000_000, &messages);
    stamp_batch(&mut native, 1, 100, 9_000_000).unwrap();
    let codecs = [
        (KafkaCompression::None, Compression::None),
        (KafkaCompression::Gzip, Compression::Gzip),
        (KafkaCompression::Snappy, Compression::Snappy),
        (KafkaCompression::Lz4, Compression::Lz4),
        (KafkaCompression::Zstd, Compression::Zstd),
    ];
    for (ours, theirs) in codecs {
        let kafka = native_to_kafka(&native, ours).unwrap();
        let decoded = RecordBatchDecoder::decode(&mut kafka.clone().freeze()).unwrap();
        assert_eq!(decoded.compression, theirs);
        let records = decoded.records;
        assert_eq!(records.len(), 2);
        assert_eq!((records[0].offset, records[1].offset), (100, 101));
        assert_eq!((records[0].timestamp, records[1].timestamp), (2_000, 2_005));
        assert_eq!(records[0].key, None);
        assert_eq!(records[1].value.as_deref(), Some(&[7u8; 2000][..]));
        assert_eq!(records[0].headers.len(), 3);
        assert_eq!(header(&records[0], "n"), Some(&9u64.to_le_bytes()[..]));
        assert_eq!(header(&records[0], reserved::KIND), Some(&[2u8, 12][..]));
        assert_eq!(
            header(&records[0], reserved::ID),
            Some(&0xfeedu128.to_le_bytes()[..])
        );
        assert!(records[1].headers.is_empty());
        // And back: payload, id and the typed header survive.
        let again = kafka_to_native(&kafka, 1, MAX).unwrap();
        let record = BatchRecord::read(&again).unwrap();
        let frames: Vec<_> = record.frames().map(Result::unwrap).collect();
        assert_eq!(frames[0].header.id, 0xfeed);
        assert_eq!(frames[0].user_headers, typed);
        assert_eq!(frames[1].payload, &[7; 2000]);
    }
}

fn kafka_round_trip(records: &[Rec], codec: Compression) {
    let kafka = kafka_batch(10, 1_600_000_000_000, records, codec);
    let native = kafka_to_native(&kafka, 0, MAX).unwrap();
    let resent = resend_as_sdk(&native);
    let back = native_to_kafka(&resent, KafkaCompression::None).unwrap();
    let (_, read) = read_kafka(&back);
    let read: Vec<Rec> = read.into_iter().map(|(_, _, r)| r).collect();
    assert_eq!(read, records);
}

#[test]
fn edge_sizes_of_keys_and_header_fields_survive() {
    let sizes = [0usize, 1, 255, 256, 64 * 1024];
    for size in sizes {
        let field = vec![b'k'; size];
        let records = [
            rec(Some(&field), Some(b"v"), &[]),
            rec(None, Some(b"v"), &[(b"h", Some(&field))]),
            rec(None, None, &[(&field, Some(b"x")), (b"z", None)]),
        ];
        kafka_round_trip(&records, Compression::None);
    }
}

#[test]
fn duplicates_order_nulls_and_reserved_names_survive() {
    let records = [
        rec(
            Some(b""),
            Some(b""),
            &[
                (b"b", Some(b"1")),
                (b"a", Some(b"2")),
                (b"b", Some(b"3")),
                (reserved::KEY.as_bytes(), Some(b"spoof")),
                (b"c", Some(b"")),
                (b"a", None),
            ],
        ),
        rec(None, None, &[]),
        rec(None, Some(b"x"), &[(&[0xff, 0xfe], Some(b"not utf-8"))]),
        // A marker that is not well-formed stays an ordinary header.
        rec(
            None,
            Some(b"x"),
            &[
                (b"n", Some(b"1")),
                (reserved::KIND.as_bytes(), Some(b"\x02")),
            ],
        ),
    ];
    kafka_round_trip(&records, Compression::Zstd);
    // The first "b" and "a" keep their names for native readers.
    let native = kafka_to_native(&kafka_batch(0, 0, &records, Compression::None), 0, MAX).unwrap();
    let record = BatchRecord::read(&native).unwrap();
    let first = record.frames().next().unwrap().unwrap();
    assert!(first.payload.is_empty());
    let names: Vec<_> = decode_user_headers(first.user_headers)
        .unwrap()
        .into_iter()
        .map(|e| String::from_utf8(e.key.to_vec()).unwrap())
        .collect();
    assert_eq!(&names[..2], ["a", "b"]);
    assert!(names.contains(&format!("{}#empty", reserved::KEY)));
    assert!(names.contains(&reserved::ORDER.to_string()));
}

#[test]
fn control_and_empty_batches_give_nothing() {
    let mut kafka = kafka_batch(0, 0, &[rec(None, Some(b"x"), &[])], Compression::None);
    kafka[22] |= 1 << 5;
    let crc = crc32c::crc32c(&kafka[21..]);
    kafka[17..21].copy_from_slice(&crc.to_be_bytes());
    assert!(kafka_to_native(&kafka, 0, MAX).unwrap().is_empty());
    let empty = encode_batch(0, &[]);
    assert!(
        native_to_kafka(&empty, KafkaCompression::None)
            .unwrap()
            .is_empty()
    );
}

#[test]
fn malformed_input_is_an_error_not_a_panic() {
    let records = [rec(Some(b"k"), Some(b"value"), &[(b"h", Some(b"v"))])];
    let good = kafka_batch(0, 0, &records, Compression::None);
    let mut bad_crc = good.clone();
    *bad_crc.last_mut().unwrap() ^= 1;
    assert!(matches!(
        kafka_to_native(&bad_crc, 0, MAX),
        Err(TranscodeError::Kafka(_))
    ));
    for cut in 0..good.len() {
        assert!(kafka_to_native(&good[..cut], 0, MAX).is_err(), "cut {cut}");
    }
    // A count that lies (two records announced, one present), CRC recomputed.
    let mut lying = kafka_batch(0, 0, &records, Compression::Zstd);
    lying[57..61].copy_from_slice(&2i32.to_be_bytes());
    lying[23..27].copy_from_slice(&1i32.to_be_bytes());
    let crc = crc32c::crc32c(&lying[21..]);
    lying[17..21].copy_from_slice(&crc.to_be_bytes());
    assert!(kafka_to_native(&lying, 0, MAX).is_err());
    // The decompression cap.
    let big = kafka_batch(
        0,
        0,
        &[rec(None, Some(&[0; 10_000]), &[])],
        Compression::Gzip,
    );
    assert!(kafka_to_native(&big, 0, 1_000).is_err());
    assert!(kafka_to_native(&big, 0, 20_000).is_ok());
    // Native side: cut records and garbage header blocks.
    let mut native = encode_batch(
        0,
        &[NewMessage {
            id: 1,
            offset_delta: 0,
            timestamp_delta: 0,
            payload: b"p",
            user_headers: &[2, 200, 0, 0, 0],
        }],
    );
    assert!(matches!(
        native_to_kafka(&native, KafkaCompression::None),
        Err(TranscodeError::UserHeadersMalformed { .. })
    ));
    native.truncate(native.len() - 1);
    for cut in 0..native.len() {
        assert!(native_to_kafka(&native[..cut], KafkaCompression::Lz4).is_err());
    }
}

#[test]
fn hand_written_reserved_names_fall_back_to_plain_headers() {
    // A native producer writes a spilled-header part without its value: not consistent.
    let mut block = BytesMut::new();
    crate::native::user_headers::encode_entries(
        &[crate::native::user_headers::HeaderEntry {
            key_kind: 2,
            key: Bytes::from_static(b"__whippet.h.0.k"),
            value_kind: 1,
            value: Bytes::from_static(b"x"),
        }],
        &mut block,
    );
    let native = encode_batch(
        0,
        &[NewMessage {
            id: 0,
            offset_delta: 0,
            timestamp_delta: 0,
            payload: b"p",
            user_headers: &block,
        }],
    );
    let (_, read) = read_kafka(&native_to_kafka(&native, KafkaCompression::None).unwrap());
    assert_eq!(
        read[0].2.headers,
        vec![(b"__whippet.h.0.k".to_vec(), Some(b"x".to_vec()))]
    );
}

fn field() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => prop::collection::vec(any::<u8>(), 0..8),
        1 => prop::collection::vec(any::<u8>(), 250..600),
        1 => Just(b"__whippet.key".to_vec()),
    ]
}

fn header_key() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => prop::sample::select(vec![b"a".to_vec(), b"b".to_vec(), b"trace".to_vec()]),
        1 => field(),
        1 => Just(reserved::KIND.as_bytes().to_vec()),
    ]
}

fn record() -> impl Strategy<Value = Rec> {
    (
        prop::option::of(field()),
        prop::option::of(field()),
        prop::collection::vec((header_key(), prop::option::of(field())), 0..6),
    )
        .prop_map(|(key, value, headers)| Rec {
            key,
            value,
            headers,
        })
}

fn codec() -> impl Strategy<Value = Compression> {
    prop::sample::select(CODECS.to_vec())
}

/// A typed native header entry with a value of the kind's size.
fn typed_entry() -> impl Strategy<Value = (u8, Vec<u8>, u8, Vec<u8>)> {
    (
        prop::sample::select(vec![1u8, 2, 2, 2, 11]),
        prop::sample::select(vec![b"alpha".to_vec(), b"beta".to_vec(), vec![1, 0, 0, 0]]),
        1u8..=15,
        prop::collection::vec(any::<u8>(), 1..40),
    )
        .prop_map(|(key_kind, key, value_kind, mut value)| {
            let key = if key_kind == 11 {
                vec![1, 0, 0, 0]
            } else {
                key
            };
            if let Some(size) = super::names::fixed_size(value_kind) {
                value.resize(size, 3);
            }
            (key_kind, key, value_kind, value)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn kafka_to_native_to_kafka_is_byte_exact(
        records in prop::collection::vec(record(), 1..5),
        codec in codec(),
    ) {
        kafka_round_trip(&records, codec);
    }

    #[test]
    fn native_to_kafka_to_native_keeps_payload_id_and_typed_headers(
        messages in prop::collection::vec(
            (prop::collection::vec(any::<u8>(), 1..300), any::<u128>(),
             prop::collection::btree_map((0u8..3, 0u8..4), typed_entry(), 0..5)),
            1..5),
        compression in prop::sample::select(vec![
            KafkaCompression::None, KafkaCompression::Gzip, KafkaCompression::Snappy,
            KafkaCompression::Lz4, KafkaCompression::Zstd]),
    ) {
        // Unique (kind, key) per message, sorted as the SDK sends them.
        let blocks: Vec<(Vec<u8>, u128, BytesMut)> = messages
            .into_iter()
            .map(|(payload, id, entries)| {
                let mut entries: Vec<_> = entries.into_values().collect();
                entries.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
                entries.dedup_by(|a, b| (a.0, &a.1) == (b.0, &b.1));
                let mut block = BytesMut::new();
                for (key_kind, key, value_kind, value) in entries {
                    crate::native::user_headers::encode_entries(
                        &[crate::native::user_headers::HeaderEntry {
                            key_kind,
                            key: key.into(),
                            value_kind,
                            value: value.into(),
                        }],
                        &mut block,
                    );
                }
                (payload, id, block)
            })
            .collect();
        let frames: Vec<_> = blocks
            .iter()
            .enumerate()
            .map(|(index, (payload, id, block))| NewMessage {
                id: *id,
                offset_delta: index as u32,
                timestamp_delta: index as u32 * 1000,
                payload,
                user_headers: block,
            })
            .collect();
        let mut native = encode_batch(5_000_000, &frames);
        stamp_batch(&mut native, 2, 77, 6_000_000).unwrap();
        let kafka = native_to_kafka(&native, compression).unwrap();
        let back = kafka_to_native(&kafka, 2, MAX).unwrap();
        let record = BatchRecord::read(&back).unwrap();
        verify_batch_checksum(&record).unwrap();
        prop_assert_eq!(record.header.base_offset, 77);
        for (frame, (payload, id, block)) in record.frames().map(Result::unwrap).zip(&blocks) {
            prop_assert_eq!(frame.payload, &payload[..]);
            prop_assert_eq!(frame.header.id, *id);
            prop_assert_eq!(frame.user_headers, &block[..]);
        }
    }
}

#[path = "admit_tests.rs"]
mod admit_tests;

/// The stored-batch transcode skips only the batch CRC (the log checked those bytes): a batch
/// whose CRC is wrong is refused by `kafka_to_native` and transcoded identically by
/// `kafka_to_native_stored`; damage to anything else is still refused by both.
#[test]
fn stored_batches_skip_only_the_crc() {
    let records = vec![
        rec(Some(b"k1"), Some(b"v1"), &[]),
        rec(Some(b"k2"), Some(b"v2"), &[(b"h", Some(b"1"))]),
    ];
    let intact = kafka_batch(0, 0, &records, Compression::None);
    let expected = kafka_to_native(&intact, 3, MAX).unwrap();
    assert_eq!(kafka_to_native_stored(&intact, 3, MAX).unwrap(), expected);
    let mut bad_crc = intact.to_vec();
    bad_crc[17] ^= 0xff; // the CRC field (bytes 17..21)
    assert!(kafka_to_native(&bad_crc, 3, MAX).is_err());
    assert_eq!(kafka_to_native_stored(&bad_crc, 3, MAX).unwrap(), expected);
    let mut bad_magic = intact.to_vec();
    bad_magic[16] = 1;
    assert!(kafka_to_native_stored(&bad_magic, 3, MAX).is_err());
    let truncated = &intact[..intact.len() - 3];
    assert!(kafka_to_native_stored(truncated, 3, MAX).is_err());
}

#[test]
fn compaction_keeps_chosen_records_with_their_offsets_in_every_codec() {
    let records = [
        rec(Some(b"a"), Some(b"1"), &[(b"h", Some(b"x"))]),
        rec(Some(b"b"), Some(b"2"), &[]),
        rec(Some(b"a"), None, &[]),
        rec(None, Some(b"4"), &[]),
    ];
    for codec in CODECS {
        let batch = kafka_batch(100, 5000, &records, codec);
        let listed = keyed_records(&batch).unwrap().unwrap();
        let keys: Vec<(i64, Option<&[u8]>, bool)> = listed
            .iter()
            .map(|r| (r.offset, r.key.as_deref(), r.tombstone))
            .collect();
        let want: [(i64, Option<&[u8]>, bool); 4] = [
            (100, Some(b"a"), false),
            (101, Some(b"b"), false),
            (102, Some(b"a"), true),
            (103, None, false),
        ];
        assert_eq!(keys, want, "{codec:?}");
        assert_eq!(keyless_records(&batch), vec![3]);
        let (kept, count) = retain_records(&batch, &|o| o == 101 || o == 103).unwrap();
        assert_eq!(count, 2);
        let before = inspect_batch_at(&batch, 0).unwrap();
        let after = inspect_batch_at(&kept, 0).unwrap();
        assert_eq!(
            (
                after.base_offset,
                after.last_offset_delta,
                after.max_timestamp_ms
            ),
            (
                before.base_offset,
                before.last_offset_delta,
                before.max_timestamp_ms
            )
        );
        assert_eq!(after.codec, codec);
        let (_, read) = read_kafka(&kept);
        let offsets: Vec<i64> = read.iter().map(|(o, ..)| *o).collect();
        assert_eq!(offsets, vec![101, 103], "{codec:?}");
        assert_eq!(read[0].2, records[1]);
        assert_eq!(read[1].2, records[3]);
        // An independent decoder reads the gapped batch with the same offsets.
        let decoded = RecordBatchDecoder::decode(&mut Bytes::from(kept.clone())).unwrap();
        let offsets: Vec<i64> = decoded.records.iter().map(|r| r.offset).collect();
        assert_eq!(offsets, vec![101, 103]);
        let (empty, count) = retain_records(&batch, &|_| false).unwrap();
        assert_eq!((count, empty.len()), (0, 61));
        let info = inspect_batch_at(&empty, 0).unwrap();
        assert_eq!((info.record_count, info.last_offset_delta), (0, 3));
    }
}
