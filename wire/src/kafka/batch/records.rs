//! Record-level reading inside one batch, for ListOffsets by timestamp. Records are walked here
//! rather than through `kafka-protocol`'s decoder because that decoder preallocates from the
//! batch's record count and each record's header count without bounding them; this walk reads
//! only the fields it needs and bounds every varint length by the bytes left.

use super::{BatchInfo, decompress_records, inspect_batch_at, layout};
use crate::kafka::error::{KafkaWireError, Result};
use crate::kafka::limits::DECOMPRESSED_BATCH_BYTES_MAX;
use kafka_protocol::records::TimestampType;

/// Offset of the first record in `batch` whose timestamp is ≥ `timestamp_ms`, or `None` if
/// there is none. The batch is fully checked first (CRC included); compressed records are
/// decompressed within [`DECOMPRESSED_BATCH_BYTES_MAX`]. For a LogAppendTime batch every record
/// carries the batch's maxTimestamp. `batch` must start at a batch; bytes after it are ignored.
pub fn find_offset_for_timestamp(batch: &[u8], timestamp_ms: i64) -> Result<Option<i64>> {
    let info = inspect_batch_at(batch, 0)?;
    if info.max_timestamp_ms < timestamp_ms {
        // maxTimestamp bounds every record, so nothing here can match.
        return Ok(None);
    }
    let compressed = &batch[layout::HEADER_BYTES..info.len];
    let plain = decompress_records(info.codec, compressed, DECOMPRESSED_BATCH_BYTES_MAX)?;
    let mut reader = RecordReader {
        bytes: &plain,
        position: 0,
    };
    for index in 0..usize::try_from(info.record_count).unwrap_or(0) {
        let (timestamp_delta, offset_delta) = reader.next_record(index)?;
        let record_timestamp = match info.timestamp_type {
            TimestampType::LogAppend => info.max_timestamp_ms,
            TimestampType::Creation => info.base_timestamp_ms.wrapping_add(timestamp_delta),
        };
        if record_timestamp >= timestamp_ms {
            return Ok(Some(record_offset(&info, offset_delta)));
        }
    }
    Ok(None)
}

fn record_offset(info: &BatchInfo, offset_delta: i32) -> i64 {
    info.base_offset.wrapping_add(i64::from(offset_delta))
}

/// A cursor over the decompressed records section.
struct RecordReader<'a> {
    bytes: &'a [u8],
    position: usize,
}

impl RecordReader<'_> {
    /// Reads one record's timestampDelta and offsetDelta and moves past the whole record.
    fn next_record(&mut self, index: usize) -> Result<(i64, i32)> {
        let malformed = |reason| KafkaWireError::RecordMalformed { index, reason };
        let length = self.varint(10).ok_or_else(|| malformed("length"))?;
        let length = usize::try_from(length).map_err(|_| malformed("negative length"))?;
        let end = self
            .position
            .checked_add(length)
            .filter(|&end| end <= self.bytes.len())
            .ok_or_else(|| malformed("length past the end of the batch"))?;
        let mut inner = RecordReader {
            bytes: &self.bytes[..end],
            position: self.position,
        };
        inner.position += 1; // attributes, unused
        let timestamp_delta = inner
            .varint(10)
            .ok_or_else(|| malformed("timestampDelta"))?;
        let offset_delta = inner.varint(5).ok_or_else(|| malformed("offsetDelta"))?;
        let offset_delta = i32::try_from(offset_delta).map_err(|_| malformed("offsetDelta"))?;
        if inner.position > end {
            return Err(malformed("record shorter than its fields"));
        }
        self.position = end;
        Ok((timestamp_delta, offset_delta))
    }

    /// Reads a zigzag varint of at most `max_bytes` bytes; `None` if cut short or too long.
    fn varint(&mut self, max_bytes: usize) -> Option<i64> {
        crate::kafka::varint::read(self.bytes, &mut self.position, max_bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(bytes: &[u8], max: usize) -> Option<i64> {
        RecordReader { bytes, position: 0 }.varint(max)
    }

    #[test]
    fn zigzag_varints() {
        assert_eq!(read(&[0x00], 5), Some(0));
        assert_eq!(read(&[0x01], 5), Some(-1));
        assert_eq!(read(&[0x02], 5), Some(1));
        assert_eq!(read(&[0xac, 0x02], 5), Some(150));
        assert_eq!(
            read(
                &[0xff; 10][..9]
                    .iter()
                    .chain(&[0x01])
                    .copied()
                    .collect::<Vec<_>>(),
                10
            ),
            Some(i64::MIN)
        );
        assert_eq!(read(&[0x80], 5), None, "cut short");
        assert_eq!(read(&[0x80; 6], 5), None, "too long");
    }

    #[test]
    fn record_length_is_bounded_by_the_section() {
        // length 100 (zigzag 200) with 3 bytes following.
        let mut reader = RecordReader {
            bytes: &[0xc8, 0x01, 0, 0, 0],
            position: 0,
        };
        assert!(matches!(
            reader.next_record(0),
            Err(KafkaWireError::RecordMalformed { index: 0, .. })
        ));
        // length 3: attributes, timestampDelta -1, offsetDelta 2.
        let mut reader = RecordReader {
            bytes: &[0x06, 0, 0x01, 0x04],
            position: 0,
        };
        assert_eq!(reader.next_record(0).unwrap(), (-1, 2));
        assert_eq!(reader.position, 4);
    }
}
