//! Magic-2 record-batch inspection for Produce: walks the raw `records` bytes of one partition,
//! checks each batch's header (magic, length, CRC-32C, record count, codec) bounding every
//! length by the bytes actually left, and reports what the broker needs to append it. The
//! records themselves are checked by [`validate_records`] (the `LogValidator` walk, in
//! `validate`); the header check alone is what reads of stored batches repeat. Patching
//! (offsets, leader epoch, LogAppendTime) and timestamp search live in the other submodules.
//! Layout: `kafka-compat.md` §3.

mod control;
mod decompress;
mod patch;
mod records;
mod validate;

pub use control::control_batch;
pub use decompress::{decompress_into, decompress_records};
pub use patch::{covered_crc, set_base_offset, set_log_append_time, set_partition_leader_epoch};
pub use records::find_offset_for_timestamp;
pub use validate::{CheckedRecords, RecordTotals, validate_records};

use kafka_protocol::records::{Compression, TimestampType};

use super::error::{KafkaWireError, Result};
use super::limits::{DECOMPRESSED_BATCH_BYTES_MAX, RECORD_BYTES_MIN};

/// Byte offsets of the magic-2 batch header fields (big-endian), from the batch start.
pub(crate) mod layout {
    pub const BASE_OFFSET: usize = 0;
    pub const BATCH_LENGTH: usize = 8;
    /// batchLength counts the bytes after its own field.
    pub const LENGTH_PREFIX_END: usize = 12;
    pub const PARTITION_LEADER_EPOCH: usize = 12;
    pub const MAGIC: usize = 16;
    pub const CRC: usize = 17;
    /// The CRC covers everything from the attributes to the end of the batch.
    pub const CRC_COVERED_START: usize = 21;
    pub const ATTRIBUTES: usize = 21;
    pub const LAST_OFFSET_DELTA: usize = 23;
    pub const BASE_TIMESTAMP: usize = 27;
    pub const MAX_TIMESTAMP: usize = 35;
    pub const PRODUCER_ID: usize = 43;
    pub const PRODUCER_EPOCH: usize = 51;
    pub const BASE_SEQUENCE: usize = 53;
    pub const RECORD_COUNT: usize = 57;
    /// Header size; records start here.
    pub const HEADER_BYTES: usize = 61;
    pub const MAGIC_V2: i8 = 2;
    pub const CODEC_MASK: i16 = 0b111;
    pub const TIMESTAMP_TYPE_BIT: i16 = 1 << 3;
    pub const TRANSACTIONAL_BIT: i16 = 1 << 4;
    pub const CONTROL_BIT: i16 = 1 << 5;
}

/// What the broker needs to know about one checked batch to append it as-is: where it sits in
/// the buffer, how many offsets it takes, its timestamps and its idempotence fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchInfo {
    /// Byte offset of the batch inside the inspected buffer.
    pub offset_in_buffer: usize,
    /// Total bytes of the batch, header included.
    pub len: usize,
    /// baseOffset as sent (clients send 0; the broker overwrites it).
    pub base_offset: i64,
    /// Number of records.
    pub record_count: i32,
    /// Offset delta of the last record; the batch spans `last_offset_delta + 1` offsets.
    pub last_offset_delta: i32,
    /// Timestamp of the first record (ms).
    pub base_timestamp_ms: i64,
    /// Largest record timestamp (ms), or the append time once LogAppendTime is set.
    pub max_timestamp_ms: i64,
    /// Compression codec of the records section.
    pub codec: Compression,
    /// CreateTime or LogAppendTime.
    pub timestamp_type: TimestampType,
    /// Idempotent producer id, -1 if none.
    pub producer_id: i64,
    /// Idempotent producer epoch, -1 if none.
    pub producer_epoch: i16,
    /// Sequence number of the first record, -1 if none.
    pub base_sequence: i32,
    /// The batch belongs to a transaction.
    pub is_transactional: bool,
    /// The batch holds control records (transaction markers).
    pub is_control: bool,
}

/// Checks every batch in `records` (the raw records bytes of one partition in a Produce
/// request) and returns their descriptions in order. Any malformed batch fails the whole set,
/// since Kafka rejects a partition's data as a unit.
pub fn inspect_batches(records: &[u8]) -> Result<Vec<BatchInfo>> {
    let mut batches = Vec::new();
    let mut position = 0;
    while position < records.len() {
        let info = inspect_batch_at(records, position)?;
        position += info.len;
        batches.push(info);
    }
    Ok(batches)
}

/// Checks the single batch starting at `position` in `buf` and describes it.
pub fn inspect_batch_at(buf: &[u8], position: usize) -> Result<BatchInfo> {
    inspect(buf, position, true)
}

/// [`inspect_batch_at`] for a batch read back from storage whose bytes were already checked
/// (the log verifies each frame's payload checksum on every file read, and the batch CRC was
/// verified when it was produced): everything but the CRC is checked.
pub fn inspect_stored_batch_at(buf: &[u8], position: usize) -> Result<BatchInfo> {
    inspect(buf, position, false)
}

fn inspect(buf: &[u8], position: usize, check_crc: bool) -> Result<BatchInfo> {
    let rest = buf.get(position..).unwrap_or_default();
    let len = batch_extent(rest, position)?;
    let batch = &rest[..len];
    if check_crc {
        verify_crc(batch, position)?;
    }
    let attributes = read_i16(batch, layout::ATTRIBUTES);
    let codec = codec_of(attributes, position)?;
    let info = BatchInfo {
        offset_in_buffer: position,
        len,
        base_offset: read_i64(batch, layout::BASE_OFFSET),
        record_count: read_i32(batch, layout::RECORD_COUNT),
        last_offset_delta: read_i32(batch, layout::LAST_OFFSET_DELTA),
        base_timestamp_ms: read_i64(batch, layout::BASE_TIMESTAMP),
        max_timestamp_ms: read_i64(batch, layout::MAX_TIMESTAMP),
        codec,
        timestamp_type: if attributes & layout::TIMESTAMP_TYPE_BIT != 0 {
            TimestampType::LogAppend
        } else {
            TimestampType::Creation
        },
        producer_id: read_i64(batch, layout::PRODUCER_ID),
        producer_epoch: read_i16(batch, layout::PRODUCER_EPOCH),
        base_sequence: read_i32(batch, layout::BASE_SEQUENCE),
        is_transactional: attributes & layout::TRANSACTIONAL_BIT != 0,
        is_control: attributes & layout::CONTROL_BIT != 0,
    };
    check_record_count(&info)?;
    Ok(info)
}

/// Length of the batch at the start of `rest`, after checking its magic and that its
/// batchLength is possible and fits in the bytes left. `position` is only for error reports.
pub(crate) fn batch_extent(rest: &[u8], position: usize) -> Result<usize> {
    let truncated = |needed: usize| KafkaWireError::BatchTruncated {
        offset: position,
        needed,
        available: rest.len(),
    };
    // Magic sits at the same offset in message sets v0/v1, so an old format is named as such.
    let magic = match rest.get(layout::MAGIC) {
        Some(&byte) => i8::from_be_bytes([byte]),
        None => return Err(truncated(layout::HEADER_BYTES)),
    };
    if magic != layout::MAGIC_V2 {
        return Err(KafkaWireError::UnsupportedMagic {
            offset: position,
            magic,
        });
    }
    let batch_length = read_i32(rest, layout::BATCH_LENGTH);
    let min_length = layout::HEADER_BYTES - layout::LENGTH_PREFIX_END;
    let len = usize::try_from(batch_length)
        .ok()
        .filter(|&length| length >= min_length)
        .map(|length| length + layout::LENGTH_PREFIX_END)
        .ok_or(KafkaWireError::BatchLengthInvalid {
            offset: position,
            batch_length,
        })?;
    if len > rest.len() {
        return Err(truncated(len));
    }
    Ok(len)
}

fn verify_crc(batch: &[u8], position: usize) -> Result<()> {
    let stored = u32::from_be_bytes(field(batch, layout::CRC));
    let computed = crc32c::crc32c(&batch[layout::CRC_COVERED_START..]);
    if stored != computed {
        return Err(KafkaWireError::CrcMismatch {
            offset: position,
            stored,
            computed,
        });
    }
    Ok(())
}

pub(crate) fn codec_of(attributes: i16, position: usize) -> Result<Compression> {
    match attributes & layout::CODEC_MASK {
        0 => Ok(Compression::None),
        1 => Ok(Compression::Gzip),
        2 => Ok(Compression::Snappy),
        3 => Ok(Compression::Lz4),
        4 => Ok(Compression::Zstd),
        other => Err(KafkaWireError::UnknownCodec {
            offset: position,
            codec: u8::try_from(other).unwrap_or(u8::MAX),
        }),
    }
}

/// recordCount must be ≥ 0, fit in the offset span, and be possible for the bytes carried
/// (uncompressed) or for the decompression limit (compressed).
fn check_record_count(info: &BatchInfo) -> Result<()> {
    let invalid = |why| KafkaWireError::RecordCountInvalid {
        offset: info.offset_in_buffer,
        record_count: info.record_count,
        why,
    };
    let Ok(count) = usize::try_from(info.record_count) else {
        return Err(invalid("negative"));
    };
    if i64::from(info.record_count) > i64::from(info.last_offset_delta) + 1 {
        return Err(invalid("more records than lastOffsetDelta + 1"));
    }
    let byte_budget = match info.codec {
        Compression::None => info.len - layout::HEADER_BYTES,
        _ => DECOMPRESSED_BATCH_BYTES_MAX,
    };
    if count.saturating_mul(RECORD_BYTES_MIN) > byte_budget {
        return Err(invalid("too many records for the bytes carried"));
    }
    Ok(())
}

/// Copies the `N` bytes at `at`; callers have checked the batch holds the whole header.
fn field<const N: usize>(batch: &[u8], at: usize) -> [u8; N] {
    let mut out = [0u8; N];
    if let Some(src) = batch.get(at..at + N) {
        out.copy_from_slice(src);
    }
    out
}

pub(crate) fn read_i16(batch: &[u8], at: usize) -> i16 {
    i16::from_be_bytes(field(batch, at))
}

pub(crate) fn read_i32(batch: &[u8], at: usize) -> i32 {
    i32::from_be_bytes(field(batch, at))
}

pub(crate) fn read_i64(batch: &[u8], at: usize) -> i64 {
    i64::from_be_bytes(field(batch, at))
}
