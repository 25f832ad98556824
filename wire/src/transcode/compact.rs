//! Log compaction over one stored Kafka batch: list its records' offsets and keys, and rebuild
//! it keeping only some records. A rebuilt batch keeps its base offset, lastOffsetDelta,
//! timestamps, producer id/epoch/base sequence and attributes; its records are the survivors,
//! copied byte for byte (their offsetDelta unchanged, so the deltas have gaps), recompressed
//! with the batch's codec, under a new CRC. A batch left with no record keeps its header with
//! an empty, uncompressed records section (Kafka keeps such empty batches too).

use bytes::BytesMut;
use kafka_protocol::records::Compression;

use super::compress::compress_into;
use super::records::Cursor;
use super::{KafkaCompression, TranscodeError};
use crate::kafka::batch::{BatchInfo, decompress_records, inspect_stored_batch_at};
use crate::kafka::limits::DECOMPRESSED_BATCH_BYTES_MAX;

/// Offsets of the batch header fields this module rewrites (magic-2 layout).
const BATCH_LENGTH: usize = 8;
const CRC: usize = 17;
const ATTRIBUTES: usize = 21;
const RECORD_COUNT: usize = 57;
const HEADER_BYTES: usize = 61;
const CODEC_MASK: i16 = 0b111;

/// One record of a stored batch, as compaction needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyedRecord {
    /// Absolute offset (baseOffset + offsetDelta).
    pub offset: i64,
    /// `None` for a null key.
    pub key: Option<Vec<u8>>,
    /// The value is null.
    pub tombstone: bool,
}

/// The records of the stored batch at the start of `batch`, or `None` for a control batch or a
/// transactional one (compaction keeps those whole: a record of an aborted transaction must
/// not replace a committed value).
pub fn keyed_records(batch: &[u8]) -> Result<Option<Vec<KeyedRecord>>, TranscodeError> {
    let info = inspect_stored_batch_at(batch, 0)?;
    if info.is_control || info.is_transactional {
        return Ok(None);
    }
    let mut out = Vec::new();
    walk(batch, &info, |record, _| {
        out.push(record);
        Ok(())
    })?;
    Ok(Some(out))
}

/// Indexes (in the batch) of the records without a key, for a Produce to a compacted topic;
/// empty when the batch does not parse (its own checks refuse it).
pub fn keyless_records(batch: &[u8]) -> Vec<i32> {
    let mut out = Vec::new();
    let Ok(info) = inspect_stored_batch_at(batch, 0) else {
        return out;
    };
    let mut index = 0;
    let _ = walk(batch, &info, |record, _| {
        if record.key.is_none() {
            out.push(index);
        }
        index += 1;
        Ok(())
    });
    out
}

/// Calls `each` with every record of the batch and its raw bytes (length prefix included).
fn walk(
    batch: &[u8],
    info: &BatchInfo,
    mut each: impl FnMut(KeyedRecord, &[u8]) -> Result<(), TranscodeError>,
) -> Result<(), TranscodeError> {
    let section = &batch[HEADER_BYTES..info.len];
    let plain = decompress_records(info.codec, section, DECOMPRESSED_BATCH_BYTES_MAX)?;
    let mut cursor = Cursor::new(&plain);
    for index in 0..usize::try_from(info.record_count).unwrap_or(0) {
        let start = cursor.position();
        let view = cursor.record(index)?;
        let record = KeyedRecord {
            offset: info.base_offset.wrapping_add(i64::from(view.offset_delta)),
            key: view.key.map(<[u8]>::to_vec),
            tombstone: view.value.is_none(),
        };
        each(record, &plain[start..cursor.position()])?;
    }
    Ok(())
}

/// The stored batch at the start of `batch` with only the records whose offset `keep`
/// accepts, and how many that is.
pub fn retain_records(
    batch: &[u8],
    keep: &dyn Fn(i64) -> bool,
) -> Result<(Vec<u8>, u32), TranscodeError> {
    let info = inspect_stored_batch_at(batch, 0)?;
    let mut plain = Vec::new();
    let mut count = 0u32;
    walk(batch, &info, |record, bytes| {
        if keep(record.offset) {
            plain.extend_from_slice(bytes);
            count += 1;
        }
        Ok(())
    })?;
    let mut out = BytesMut::with_capacity(HEADER_BYTES + plain.len());
    out.extend_from_slice(&batch[..HEADER_BYTES]);
    let mut attributes = i16::from_be_bytes([batch[ATTRIBUTES], batch[ATTRIBUTES + 1]]);
    if count == 0 {
        attributes &= !CODEC_MASK;
    } else {
        compress_into(codec(info.codec), &plain, &mut out)?;
    }
    let length = i32::try_from(out.len() - 12).map_err(|_| TranscodeError::Compress {
        codec: codec(info.codec),
        reason: "batch too large".into(),
    })?;
    out[BATCH_LENGTH..BATCH_LENGTH + 4].copy_from_slice(&length.to_be_bytes());
    out[ATTRIBUTES..ATTRIBUTES + 2].copy_from_slice(&attributes.to_be_bytes());
    out[RECORD_COUNT..RECORD_COUNT + 4].copy_from_slice(&count.to_be_bytes());
    let crc = crc32c::crc32c(&out[ATTRIBUTES..]);
    out[CRC..CRC + 4].copy_from_slice(&crc.to_be_bytes());
    Ok((out.to_vec(), count))
}

fn codec(codec: Compression) -> KafkaCompression {
    match codec {
        Compression::None => KafkaCompression::None,
        Compression::Gzip => KafkaCompression::Gzip,
        Compression::Snappy => KafkaCompression::Snappy,
        Compression::Lz4 => KafkaCompression::Lz4,
        Compression::Zstd => KafkaCompression::Zstd,
    }
}
