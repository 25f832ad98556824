//! Record-level validation of a produced batch, as Apache Kafka's `LogValidator` does before an
//! append: the batch's records section (decompressed, for a compressed batch, into the caller's
//! reusable buffer and never past a cap) is walked record by record, and every length, varint,
//! count and offset delta must describe exactly the bytes there. The walk reads the varint
//! fields in place over the section: no allocation, no copy of a key, value or header.
//!
//! What is checked, per record: the length varint (5 bytes at most, ≥ 0, inside the section),
//! the attributes byte, timestampDelta (a varlong), offsetDelta equal to the record's position
//! in the batch (Kafka refuses non-incremental inner offsets), the key and value lengths (−1 or
//! a length inside the record), the header count (≥ 0 and possible for the bytes left), each
//! header's key (never null) and value, and that the fields fill the record exactly. Per batch:
//! recordCount equals lastOffsetDelta + 1 (Kafka's "inconsistent batch offset range and count")
//! and the records fill the section exactly. Header-level checks (CRC, magic, codec) are
//! [`super::inspect_batch_at`]'s; this runs after it.

use kafka_protocol::records::Compression;

use super::decompress::decompress_into;
use super::{BatchInfo, layout};
use crate::kafka::error::{KafkaWireError, Result};
use crate::kafka::varint;

/// Longest encoding of a Kafka varint (an i32): 5 bytes, as Kafka's `ByteUtils.readVarint`.
const VARINT_BYTES_MAX: usize = 5;
/// Longest encoding of a Kafka varlong (an i64): 10 bytes.
const VARLONG_BYTES_MAX: usize = 10;
/// Smallest header: its key and value length varints.
const HEADER_BYTES_MIN: usize = 2;

/// Totals over one batch's records: enough to bound what the batch becomes in another format
/// without walking it again.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecordTotals {
    /// Records walked (the batch's recordCount).
    pub records: usize,
    /// Records with a non-null key.
    pub keys: usize,
    /// Bytes of all keys.
    pub key_bytes: usize,
    /// Records whose value is null.
    pub null_values: usize,
    /// Bytes of all values.
    pub value_bytes: usize,
    /// Headers of all records.
    pub headers: usize,
    /// Encoded bytes of all records' headers (lengths included), at least their keys and values.
    pub header_bytes: usize,
}

/// A checked records section: the plain (decompressed) bytes and their totals.
#[derive(Debug, Clone, Copy)]
pub struct CheckedRecords<'a> {
    /// The records section, decompressed; borrowed from the batch when it is uncompressed.
    pub plain: &'a [u8],
    /// What the walk counted.
    pub totals: RecordTotals,
}

/// Validates the records of the batch `info` describes inside `buffer` (the buffer
/// [`super::inspect_batches`] walked). A compressed section is decompressed into `scratch`
/// (cleared first, its capacity reused) and refused once it would pass `plain_bytes_max`
/// bytes; an uncompressed one is walked where it is, under the same cap.
pub fn validate_records<'a>(
    buffer: &'a [u8],
    info: &BatchInfo,
    scratch: &'a mut Vec<u8>,
    plain_bytes_max: usize,
) -> Result<CheckedRecords<'a>> {
    if i64::from(info.record_count) != i64::from(info.last_offset_delta) + 1 {
        return Err(KafkaWireError::RecordCountInvalid {
            offset: info.offset_in_buffer,
            record_count: info.record_count,
            why: "differs from lastOffsetDelta + 1",
        });
    }
    let batch_end = info.offset_in_buffer.saturating_add(info.len);
    let section = buffer
        .get(info.offset_in_buffer.saturating_add(layout::HEADER_BYTES)..batch_end)
        .ok_or(KafkaWireError::BatchTruncated {
            offset: info.offset_in_buffer,
            needed: info.len,
            available: buffer.len().saturating_sub(info.offset_in_buffer),
        })?;
    let plain: &'a [u8] = if info.codec == Compression::None {
        if section.len() > plain_bytes_max {
            return Err(KafkaWireError::RecordsTooLarge {
                max: plain_bytes_max,
            });
        }
        section
    } else {
        decompress_into(info.codec, section, plain_bytes_max, scratch)?;
        scratch
    };
    let count = usize::try_from(info.record_count).unwrap_or(0);
    let totals = walk_records(plain, count)?;
    Ok(CheckedRecords { plain, totals })
}

/// Walks exactly `count` records over `plain` (a whole records section) and counts them.
pub(crate) fn walk_records(plain: &[u8], count: usize) -> Result<RecordTotals> {
    let mut totals = RecordTotals {
        records: count,
        ..RecordTotals::default()
    };
    let mut position = 0;
    for index in 0..count {
        position = walk_record(plain, position, index, &mut totals)?;
    }
    if position != plain.len() {
        // Kafka: "Incorrect declared batch size, records still remaining".
        return Err(KafkaWireError::RecordMalformed {
            index: count,
            reason: "bytes after the last record",
        });
    }
    Ok(totals)
}

/// Checks the record at `start` (position `index` in its batch), adds it to `totals`, and
/// returns where the next record starts.
fn walk_record(
    plain: &[u8],
    start: usize,
    index: usize,
    totals: &mut RecordTotals,
) -> Result<usize> {
    let malformed = |reason| KafkaWireError::RecordMalformed { index, reason };
    let mut position = start;
    let length =
        varint::read(plain, &mut position, VARINT_BYTES_MAX).ok_or_else(|| malformed("length"))?;
    let length = usize::try_from(length).map_err(|_| malformed("negative length"))?;
    let end = position
        .checked_add(length)
        .filter(|&end| end <= plain.len())
        .ok_or_else(|| malformed("length past the end of the records"))?;
    // Every read below is bounded by the record's own end.
    let record = plain.get(..end).unwrap_or_default();
    if position >= end {
        return Err(malformed("attributes"));
    }
    position += 1;
    varint::read(record, &mut position, VARLONG_BYTES_MAX)
        .ok_or_else(|| malformed("timestampDelta"))?;
    let offset_delta = varint::read(record, &mut position, VARINT_BYTES_MAX)
        .ok_or_else(|| malformed("offsetDelta"))?;
    if usize::try_from(offset_delta).ok() != Some(index) {
        return Err(malformed(
            "offsetDelta is not the record's position in the batch",
        ));
    }
    if let Some(key) = nullable_field(record, &mut position).ok_or_else(|| malformed("key"))? {
        totals.keys += 1;
        totals.key_bytes += key;
    }
    match nullable_field(record, &mut position).ok_or_else(|| malformed("value"))? {
        Some(value) => totals.value_bytes += value,
        None => totals.null_values += 1,
    }
    let header_count = varint::read(record, &mut position, VARINT_BYTES_MAX)
        .and_then(|count| usize::try_from(count).ok())
        .filter(|count| count.saturating_mul(HEADER_BYTES_MIN) <= end - position.min(end))
        .ok_or_else(|| malformed("header count"))?;
    let headers_start = position;
    for _ in 0..header_count {
        // A header key is never null (Kafka: "Invalid negative header key size").
        nullable_field(record, &mut position)
            .flatten()
            .ok_or_else(|| malformed("header key"))?;
        nullable_field(record, &mut position).ok_or_else(|| malformed("header value"))?;
    }
    if position != end {
        return Err(malformed("bytes after the last header"));
    }
    totals.headers += header_count;
    totals.header_bytes += end - headers_start;
    Ok(end)
}

/// A varint length followed by that many bytes: `Some(None)` for null (−1), `Some(Some(len))`
/// after moving past the bytes, `None` for a bad varint, another negative length, or bytes
/// that are not there.
fn nullable_field(bytes: &[u8], position: &mut usize) -> Option<Option<usize>> {
    match varint::read(bytes, position, VARINT_BYTES_MAX)? {
        -1 => Some(None),
        length => {
            let length = usize::try_from(length).ok()?;
            let end = position
                .checked_add(length)
                .filter(|&end| end <= bytes.len())?;
            *position = end;
            Some(Some(length))
        }
    }
}

#[cfg(test)]
#[path = "validate_tests.rs"]
mod tests;
