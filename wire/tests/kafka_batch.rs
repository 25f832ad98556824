//! Record-batch inspection and patching against batches written by `kafka-protocol`'s own
//! encoder (the oracle), for every codec, plus every corruption the broker must catch.
#![allow(clippy::unwrap_used)]

use bytes::{Bytes, BytesMut};
use kafka_protocol::records::{
    Compression, Record, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};
use proptest::prelude::*;
use whippet_wire::kafka::KafkaWireError;
use whippet_wire::kafka::batch::{
    find_offset_for_timestamp, inspect_batches, set_base_offset, set_log_append_time,
    set_partition_leader_epoch,
};

const CODECS: [Compression; 5] = [
    Compression::None,
    Compression::Gzip,
    Compression::Snappy,
    Compression::Lz4,
    Compression::Zstd,
];
const BASE_TS: i64 = 1_700_000_000_000;

/// `count` idempotent records with timestamps BASE_TS + 10·i, encoded as one batch.
fn batch(codec: Compression, count: i64) -> Vec<u8> {
    let records: Vec<Record> = (0..count)
        .map(|i| Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: 42,
            producer_epoch: 1,
            timestamp_type: TimestampType::Creation,
            offset: i,
            sequence: i32::try_from(i).unwrap(),
            timestamp: BASE_TS + 10 * i,
            key: Some(Bytes::from(format!("key-{i}"))),
            value: Some(Bytes::from(vec![b'v'; 40])),
            headers: Default::default(),
        })
        .collect();
    let mut buf = BytesMut::new();
    let options = RecordEncodeOptions {
        version: 2,
        compression: codec,
    };
    RecordBatchEncoder::encode(&mut buf, &records, &options).unwrap();
    buf.to_vec()
}

fn recrc(b: &mut [u8]) {
    let crc = crc32c::crc32c(&b[21..]);
    b[17..21].copy_from_slice(&crc.to_be_bytes());
}

#[test]
fn inspect_reports_encoder_fields_for_every_codec() {
    for codec in CODECS {
        let b = batch(codec, 5);
        let infos = inspect_batches(&b).unwrap();
        assert_eq!(infos.len(), 1, "{codec:?}");
        let info = infos[0];
        assert_eq!((info.offset_in_buffer, info.len), (0, b.len()));
        assert_eq!((info.record_count, info.last_offset_delta), (5, 4));
        assert_eq!(info.codec, codec);
        assert_eq!(
            (info.base_timestamp_ms, info.max_timestamp_ms),
            (BASE_TS, BASE_TS + 40)
        );
        assert_eq!(
            (info.producer_id, info.producer_epoch, info.base_sequence),
            (42, 1, 0)
        );
        assert_eq!(info.timestamp_type, TimestampType::Creation);
        assert!(!info.is_transactional && !info.is_control);
    }
}

#[test]
fn several_batches_are_walked_in_order() {
    let mut all = batch(Compression::None, 3);
    let first_len = all.len();
    all.extend(batch(Compression::Zstd, 2));
    all.extend(batch(Compression::Gzip, 1));
    let infos = inspect_batches(&all).unwrap();
    let shape: Vec<(usize, i32)> = infos
        .iter()
        .map(|i| (i.offset_in_buffer, i.record_count))
        .collect();
    assert_eq!(shape[..2], [(0, 3), (first_len, 2)]);
    assert_eq!(infos.len(), 3);
    assert_eq!(infos[2].offset_in_buffer + infos[2].len, all.len());
    assert!(inspect_batches(&[]).unwrap().is_empty());
}

#[test]
fn patched_batches_decode_with_moved_offsets_for_every_codec() {
    for codec in CODECS {
        let mut b = batch(codec, 5);
        set_base_offset(&mut b, 1000).unwrap();
        set_partition_leader_epoch(&mut b, 7).unwrap();
        // The oracle re-checks the CRC: the offset and epoch patches must not break it.
        let set = RecordBatchDecoder::decode(&mut Bytes::from(b.clone())).unwrap();
        let offsets: Vec<i64> = set.records.iter().map(|r| r.offset).collect();
        assert_eq!(offsets, vec![1000, 1001, 1002, 1003, 1004], "{codec:?}");
        assert!(set.records.iter().all(|r| r.partition_leader_epoch == 7));

        set_log_append_time(&mut b, BASE_TS + 999).unwrap();
        let set = RecordBatchDecoder::decode(&mut Bytes::from(b.clone())).unwrap();
        assert_eq!(set.compression, codec);
        assert!(
            set.records
                .iter()
                .all(|r| r.timestamp_type == TimestampType::LogAppend)
        );
        assert_eq!(set.records[4].value.as_deref(), Some(&[b'v'; 40][..]));
        let info = inspect_batches(&b).unwrap()[0];
        assert_eq!(
            (info.base_offset, info.max_timestamp_ms),
            (1000, BASE_TS + 999)
        );
    }
}

#[test]
fn timestamp_search_for_every_codec() {
    for codec in CODECS {
        let mut b = batch(codec, 5);
        set_base_offset(&mut b, 100).unwrap();
        assert_eq!(
            find_offset_for_timestamp(&b, 0).unwrap(),
            Some(100),
            "{codec:?}"
        );
        assert_eq!(
            find_offset_for_timestamp(&b, BASE_TS + 10).unwrap(),
            Some(101)
        );
        assert_eq!(
            find_offset_for_timestamp(&b, BASE_TS + 11).unwrap(),
            Some(102)
        );
        assert_eq!(
            find_offset_for_timestamp(&b, BASE_TS + 40).unwrap(),
            Some(104)
        );
        assert_eq!(find_offset_for_timestamp(&b, BASE_TS + 41).unwrap(), None);
        set_log_append_time(&mut b, BASE_TS + 500).unwrap();
        assert_eq!(
            find_offset_for_timestamp(&b, BASE_TS + 500).unwrap(),
            Some(100)
        );
        assert_eq!(find_offset_for_timestamp(&b, BASE_TS + 501).unwrap(), None);
    }
}

#[test]
fn any_flip_in_crc_range_is_detected() {
    for codec in [Compression::None, Compression::Lz4] {
        let good = batch(codec, 3);
        for at in 17..good.len() {
            let mut b = good.clone();
            b[at] ^= 0x01;
            let err = inspect_batches(&b).unwrap_err();
            assert!(
                matches!(err, KafkaWireError::CrcMismatch { .. }),
                "byte {at}: {err:?}"
            );
            assert_eq!(
                err.batch_response_error(),
                Some(kafka_protocol::ResponseError::CorruptMessage)
            );
        }
    }
}

#[test]
fn every_cut_is_rejected() {
    let good = batch(Compression::Snappy, 3);
    for cut in 1..good.len() {
        let err = inspect_batches(&good[..cut]).unwrap_err();
        assert!(
            matches!(err, KafkaWireError::BatchTruncated { .. }),
            "cut {cut}: {err:?}"
        );
        assert!(find_offset_for_timestamp(&good[..cut], 0).is_err());
    }
    let mut two = good.clone();
    two.extend_from_slice(&good[..good.len() - 1]);
    assert!(
        matches!(inspect_batches(&two), Err(KafkaWireError::BatchTruncated { offset, .. }) if offset == good.len())
    );
}

#[test]
fn lying_record_count_is_rejected() {
    let good = batch(Compression::None, 3);
    // More records than the offset span, then more than the bytes could hold.
    for (count, delta) in [(4, 2), (1_000_000, 999_999), (-1, 2)] {
        let mut b = good.clone();
        b[57..61].copy_from_slice(&i32::to_be_bytes(count));
        b[23..27].copy_from_slice(&i32::to_be_bytes(delta));
        recrc(&mut b);
        let err = inspect_batches(&b).unwrap_err();
        assert!(
            matches!(err, KafkaWireError::RecordCountInvalid { .. }),
            "{count}: {err:?}"
        );
    }
    // A compressed batch may hold more records than its bytes, but not past the inflate limit.
    let mut b = batch(Compression::Zstd, 3);
    b[57..61].copy_from_slice(&i32::MAX.to_be_bytes());
    b[23..27].copy_from_slice(&i32::MAX.to_be_bytes());
    recrc(&mut b);
    assert!(matches!(
        inspect_batches(&b),
        Err(KafkaWireError::RecordCountInvalid { .. })
    ));
    // A count that passes the header checks but exceeds the records present: the record walk
    // must run out of bytes cleanly. maxTimestamp is raised so the search reads past record 3.
    let mut b = batch(Compression::Gzip, 3);
    b[57..61].copy_from_slice(&4i32.to_be_bytes());
    b[23..27].copy_from_slice(&3i32.to_be_bytes());
    b[35..43].copy_from_slice(&(BASE_TS + 1000).to_be_bytes());
    recrc(&mut b);
    assert!(inspect_batches(&b).is_ok());
    assert_eq!(
        find_offset_for_timestamp(&b, BASE_TS + 20).unwrap(),
        Some(2)
    );
    let err = find_offset_for_timestamp(&b, BASE_TS + 500).unwrap_err();
    assert!(
        matches!(err, KafkaWireError::RecordMalformed { index: 3, .. }),
        "{err:?}"
    );
}

#[test]
fn bad_magic_and_codec_are_distinct() {
    for magic in [0u8, 1, 3, 0xff] {
        let mut b = batch(Compression::None, 2);
        b[16] = magic;
        let err = inspect_batches(&b).unwrap_err();
        assert!(
            matches!(err, KafkaWireError::UnsupportedMagic { .. }),
            "{err:?}"
        );
        assert_eq!(
            err.batch_response_error(),
            Some(kafka_protocol::ResponseError::InvalidRecord)
        );
    }
    for codec in 5u8..=7 {
        let mut b = batch(Compression::None, 2);
        b[22] = (b[22] & !0x07) | codec;
        recrc(&mut b);
        let err = inspect_batches(&b).unwrap_err();
        assert!(
            matches!(err, KafkaWireError::UnknownCodec { codec: c, .. } if c == codec),
            "{err:?}"
        );
    }
    let mut b = batch(Compression::None, 2);
    b[8..12].copy_from_slice(&10i32.to_be_bytes());
    assert!(matches!(
        inspect_batches(&b),
        Err(KafkaWireError::BatchLengthInvalid { .. })
    ));
}

#[test]
fn transactional_and_control_bits_reported() {
    let mut b = batch(Compression::None, 1);
    b[22] |= 0x30;
    recrc(&mut b);
    let info = inspect_batches(&b).unwrap()[0];
    assert!(info.is_transactional && info.is_control);
}

#[test]
fn compression_bomb_stops_at_the_limit() {
    // 100 MiB of zeros in one record's value compresses to a few KiB with zstd.
    let mut b = batch(Compression::Zstd, 1);
    let huge = zstd::encode_all(&vec![0u8; 100 * 1024 * 1024][..], 3).unwrap();
    b.truncate(61);
    b.extend_from_slice(&huge);
    let len = i32::try_from(b.len() - 12).unwrap();
    b[8..12].copy_from_slice(&len.to_be_bytes());
    recrc(&mut b);
    assert!(inspect_batches(&b).is_ok());
    let err = find_offset_for_timestamp(&b, 0).unwrap_err();
    assert!(
        matches!(err, KafkaWireError::RecordsTooLarge { .. }),
        "{err:?}"
    );
    assert_eq!(
        err.batch_response_error(),
        Some(kafka_protocol::ResponseError::MessageTooLarge)
    );
}

proptest! {
    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = inspect_batches(&bytes);
        let _ = find_offset_for_timestamp(&bytes, 0);
    }

    /// Mutate a valid batch past its CRC (recomputed) so the record walk sees the damage.
    #[test]
    fn mutated_batches_never_panic(
        codec_index in 0usize..5,
        edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8),
        target in any::<i64>(),
    ) {
        let mut b = batch(CODECS[codec_index], 4);
        for (at, value) in edits {
            let at = 21 + at % (b.len() - 21);
            b[at] = value;
        }
        recrc(&mut b);
        let _ = inspect_batches(&b);
        let _ = find_offset_for_timestamp(&b, target);
    }
}
