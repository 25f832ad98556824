//! In-place edits the broker makes to a batch on append. baseOffset and partitionLeaderEpoch
//! sit outside the CRC, so they are written as-is; LogAppendTime changes the attributes and
//! maxTimestamp, which the CRC covers, so the CRC is recomputed.

use super::{batch_extent, layout, read_i16};
use crate::kafka::error::{KafkaWireError, Result};

/// Writes the batch's first offset (clients send 0; the log assigns the real one).
/// `batch` must be exactly one batch, as located by [`super::inspect_batches`].
pub fn set_base_offset(batch: &mut [u8], base_offset: i64) -> Result<()> {
    check_whole_batch(batch)?;
    write(batch, layout::BASE_OFFSET, &base_offset.to_be_bytes());
    Ok(())
}

/// Writes the partition leader epoch; outside the CRC, so no checksum change.
pub fn set_partition_leader_epoch(batch: &mut [u8], epoch: i32) -> Result<()> {
    check_whole_batch(batch)?;
    write(batch, layout::PARTITION_LEADER_EPOCH, &epoch.to_be_bytes());
    Ok(())
}

/// Marks the batch as LogAppendTime stamped at `timestamp_ms`: sets attribute bit 3 and
/// maxTimestamp (baseTimestamp and per-record deltas are left alone, as Kafka does), then
/// recomputes the CRC so consumers accept the batch.
pub fn set_log_append_time(batch: &mut [u8], timestamp_ms: i64) -> Result<()> {
    check_whole_batch(batch)?;
    let attributes = read_i16(batch, layout::ATTRIBUTES) | layout::TIMESTAMP_TYPE_BIT;
    write(batch, layout::ATTRIBUTES, &attributes.to_be_bytes());
    write(batch, layout::MAX_TIMESTAMP, &timestamp_ms.to_be_bytes());
    let crc = crc32c::crc32c(&batch[layout::CRC_COVERED_START..]);
    write(batch, layout::CRC, &crc.to_be_bytes());
    Ok(())
}

/// The batch's own CRC-32C and where the bytes it covers start (they run to the end): the CRC
/// field as stored, which [`super::inspect_batches`] verified or [`set_log_append_time`] wrote.
/// The log combines it with the CRC of the bytes before it instead of checksumming the whole
/// batch again.
pub fn covered_crc(batch: &[u8]) -> Result<(usize, u32)> {
    check_whole_batch(batch)?;
    let crc = batch
        .get(layout::CRC..layout::CRC_COVERED_START)
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map(u32::from_be_bytes)
        .ok_or(KafkaWireError::BatchTruncated {
            offset: 0,
            needed: layout::CRC_COVERED_START,
            available: batch.len(),
        })?;
    Ok((layout::CRC_COVERED_START, crc))
}

/// Refuses a slice that is not exactly one magic-2 batch, so a patch never lands on the wrong
/// bytes or computes a CRC over a partial batch.
fn check_whole_batch(batch: &[u8]) -> Result<()> {
    let len = batch_extent(batch, 0)?;
    if len != batch.len() {
        return Err(KafkaWireError::BatchTruncated {
            offset: 0,
            needed: len,
            available: batch.len(),
        });
    }
    Ok(())
}

fn write(batch: &mut [u8], at: usize, bytes: &[u8]) {
    if let Some(dst) = batch.get_mut(at..at + bytes.len()) {
        dst.copy_from_slice(bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kafka::batch::inspect_batches;

    /// A minimal valid empty batch (count 0, lastOffsetDelta -1) built by hand.
    fn empty_batch() -> Vec<u8> {
        let mut b = vec![0u8; layout::HEADER_BYTES];
        b[8..12].copy_from_slice(&49i32.to_be_bytes());
        b[16] = 2;
        b[23..27].copy_from_slice(&(-1i32).to_be_bytes());
        let crc = crc32c::crc32c(&b[21..]);
        b[17..21].copy_from_slice(&crc.to_be_bytes());
        b
    }

    #[test]
    fn patches_keep_batch_valid() {
        let mut b = empty_batch();
        set_base_offset(&mut b, 77).unwrap();
        set_partition_leader_epoch(&mut b, 3).unwrap();
        set_log_append_time(&mut b, 1_700_000_000_000).unwrap();
        let info = inspect_batches(&b).unwrap()[0];
        assert_eq!(info.base_offset, 77);
        assert_eq!(info.max_timestamp_ms, 1_700_000_000_000);
        assert_eq!(
            info.timestamp_type,
            kafka_protocol::records::TimestampType::LogAppend
        );
        assert_eq!(&b[12..16], &3i32.to_be_bytes());
    }

    #[test]
    fn refuses_partial_or_padded_slices() {
        let mut b = empty_batch();
        b.push(0);
        assert!(set_base_offset(&mut b, 1).is_err());
        assert!(set_log_append_time(&mut b[..60], 1).is_err());
        assert!(set_partition_leader_epoch(&mut [], 1).is_err());
    }
}
