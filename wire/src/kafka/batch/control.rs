//! Transaction markers: the one-record control batch a transaction coordinator writes to each
//! partition of a transaction when it ends (KIP-98). The record's key is the marker version
//! (0) and type (0 abort, 1 commit); its value the marker version and the coordinator epoch.
//! Readers recognise the batch by the control bit and skip it as data.

use super::layout;

/// Marker record key: version 0, then the control type.
const ABORT_TYPE: i16 = 0;
const COMMIT_TYPE: i16 = 1;

/// The record inside the batch: attributes, timestamp delta, offset delta, key (4 bytes),
/// value (6 bytes), no headers. Every varint here fits in one byte.
fn marker_record(commit: bool) -> [u8; 17] {
    let kind = if commit { COMMIT_TYPE } else { ABORT_TYPE };
    let [k0, k1] = kind.to_be_bytes();
    [
        32, // record length 16, zigzag
        0,  // attributes
        0,  // timestamp delta
        0,  // offset delta
        8,  // key length 4, zigzag
        0, 0, k0, k1, // key: version 0, type
        12, // value length 6, zigzag
        0, 0, 0, 0, 0, 0, // value: version 0, coordinator epoch 0
        0, // no headers
    ]
}

/// A control batch marking the end of `producer_id`'s transaction (`commit` or abort), with
/// base offset 0 (the log assigns it) and both timestamps `timestamp_ms`.
pub fn control_batch(
    producer_id: i64,
    producer_epoch: i16,
    commit: bool,
    timestamp_ms: i64,
) -> Vec<u8> {
    let record = marker_record(commit);
    let len = layout::HEADER_BYTES + record.len();
    let mut batch = Vec::with_capacity(len);
    batch.extend_from_slice(&0i64.to_be_bytes()); // base offset
    let batch_length = i32::try_from(len - layout::LENGTH_PREFIX_END).unwrap_or(i32::MAX);
    batch.extend_from_slice(&batch_length.to_be_bytes());
    batch.extend_from_slice(&0i32.to_be_bytes()); // partition leader epoch
    batch.push(2); // magic
    batch.extend_from_slice(&[0; 4]); // crc, below
    let attributes = layout::TRANSACTIONAL_BIT | layout::CONTROL_BIT;
    batch.extend_from_slice(&attributes.to_be_bytes());
    batch.extend_from_slice(&0i32.to_be_bytes()); // last offset delta
    batch.extend_from_slice(&timestamp_ms.to_be_bytes());
    batch.extend_from_slice(&timestamp_ms.to_be_bytes());
    batch.extend_from_slice(&producer_id.to_be_bytes());
    batch.extend_from_slice(&producer_epoch.to_be_bytes());
    batch.extend_from_slice(&(-1i32).to_be_bytes()); // base sequence
    batch.extend_from_slice(&1i32.to_be_bytes()); // record count
    batch.extend_from_slice(&record);
    let crc = crc32c::crc32c(&batch[layout::CRC_COVERED_START..]);
    batch[layout::CRC..layout::CRC + 4].copy_from_slice(&crc.to_be_bytes());
    batch
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::kafka::batch::{inspect_batch_at, validate_records};

    #[test]
    fn markers_are_valid_control_batches() {
        for commit in [true, false] {
            let batch = control_batch(7, 3, commit, 1_700_000_000_000);
            let info = inspect_batch_at(&batch, 0).unwrap();
            assert!(info.is_control && info.is_transactional);
            assert_eq!((info.producer_id, info.producer_epoch), (7, 3));
            assert_eq!((info.record_count, info.last_offset_delta), (1, 0));
            assert_eq!(info.len, batch.len());
            let mut scratch = Vec::new();
            validate_records(&batch, &info, &mut scratch, usize::MAX).unwrap();
        }
    }

    #[test]
    fn the_record_matches_kafka_s_control_record_layout() {
        let batch = control_batch(1, 0, true, 0);
        let decoded =
            kafka_protocol::records::RecordBatchDecoder::decode(&mut bytes::Bytes::from(batch))
                .unwrap();
        let record = &decoded.records[0];
        assert!(record.control);
        assert_eq!(record.key.as_deref(), Some(&[0u8, 0, 0, 1][..]));
        assert_eq!(record.value.as_deref(), Some(&[0u8, 0, 0, 0, 0, 0][..]));
    }
}
