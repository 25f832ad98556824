//! A stored Kafka record batch → one native batch record, as a native poll serves it.
//!
//! Two passes over the (decompressed) records: the first checks every record, finds the
//! smallest timestamp (the batch origin) and the exact output size, so the output is allocated
//! once and the limit is checked before allocating; the second writes the frames. Header
//! planning reuses scratch vectors, so no allocation happens per record.

use bytes::{BufMut, BytesMut};

use crate::kafka::batch::{
    BatchInfo, decompress_records, inspect_batch_at, inspect_stored_batch_at,
};
use crate::kafka::error::KafkaWireError;
use crate::native::batch::BatchHeader;
use crate::native::limits::{BATCH_HEADER_BYTES, MESSAGE_HEADER_BYTES};
use crate::native::message::NewMessage;

use super::error::TranscodeError;
use super::limits::{KAFKA_BATCH_HEADER_BYTES, NATIVE_BATCH_BYTES_MAX, NATIVE_MESSAGES_MAX};
use super::names::SizeSink;
use super::records::{Cursor, RecordView, collect_headers};
use super::to_native_headers::HeaderPlan;

/// Microseconds per millisecond.
const MICROS_PER_MILLI: u64 = 1000;

/// See [`super::kafka_to_native`].
pub(crate) fn transcode(
    batch: &[u8],
    partition_id: u32,
    max_bytes: usize,
    check_crc: bool,
) -> Result<BytesMut, TranscodeError> {
    let info = if check_crc {
        inspect_batch_at(batch, 0)?
    } else {
        inspect_stored_batch_at(batch, 0)?
    };
    if batch.len() > info.len {
        return Err(TranscodeError::TrailingBytes {
            extra: batch.len() - info.len,
        });
    }
    if info.is_control || info.record_count == 0 {
        return Ok(BytesMut::new());
    }
    let base_offset =
        u64::try_from(info.base_offset).map_err(|_| TranscodeError::NegativeBaseOffset {
            base_offset: info.base_offset,
        })?;
    let count = usize::try_from(info.record_count).unwrap_or(usize::MAX);
    if count > NATIVE_MESSAGES_MAX {
        return Err(TranscodeError::TooManyRecords {
            count,
            max: NATIVE_MESSAGES_MAX,
        });
    }
    let section = batch
        .get(KAFKA_BATCH_HEADER_BYTES..info.len)
        .unwrap_or_default();
    let plain = decompress_records(info.codec, section, max_bytes)?;
    if plain.len() > max_bytes {
        return Err(KafkaWireError::RecordsTooLarge { max: max_bytes }.into());
    }
    let mut plan = HeaderPlan::default();
    let (size, min_ms) = measure(&plain, count, &mut plan, &info)?;
    let origin = millis_to_micros(min_ms);
    let mut out = BytesMut::with_capacity(size);
    out.put_bytes(0, BATCH_HEADER_BYTES);
    let mut checksums = Vec::with_capacity(count);
    let mut user_headers = BytesMut::new();
    let mut cursor = Cursor::new(&plain);
    for index in 0..count {
        let record = cursor.record(index)?;
        collect_headers(&record, index, &mut plan.headers)?;
        let id = plan.plan();
        user_headers.clear();
        plan.emit(&mut user_headers, record.key, record.value.is_none());
        let created = millis_to_micros(created_ms(&info, &record));
        let message = NewMessage {
            id,
            offset_delta: record.offset_delta as u32,
            timestamp_delta: u32::try_from(created.saturating_sub(origin)).unwrap_or(u32::MAX),
            payload: record.value.unwrap_or_default(),
            user_headers: &user_headers,
        };
        checksums.push(message.encode(&mut out));
    }
    let mut header = BatchHeader {
        partition_id: u64::from(partition_id),
        base_offset,
        base_timestamp: millis_to_micros(info.max_timestamp_ms),
        origin_timestamp: origin,
        batch_length: out.len() as u64,
        batch_checksum: 0,
        message_count: count as u32,
    };
    header.batch_checksum = header.compute_checksum(checksums);
    let mut encoded = BytesMut::with_capacity(BATCH_HEADER_BYTES);
    header.encode(&mut encoded);
    out[..BATCH_HEADER_BYTES].copy_from_slice(&encoded);
    Ok(out)
}

/// First pass: checks every record, returns the exact output size and the smallest record
/// timestamp (ms). Also how a produced batch is held to the native batch limit when the cheap
/// bound of `admit` does not settle it.
pub(crate) fn measure<'a>(
    plain: &'a [u8],
    count: usize,
    plan: &mut HeaderPlan<'a>,
    info: &BatchInfo,
) -> Result<(usize, i64), TranscodeError> {
    let mut cursor = Cursor::new(plain);
    let mut size = BATCH_HEADER_BYTES;
    let mut min_ms = i64::MAX;
    for index in 0..count {
        let record = cursor.record(index)?;
        collect_headers(&record, index, &mut plan.headers)?;
        plan.plan();
        let mut headers = SizeSink::default();
        plan.emit(&mut headers, record.key, record.value.is_none());
        size += MESSAGE_HEADER_BYTES + record.value.map_or(0, <[u8]>::len) + headers.0;
        if size > NATIVE_BATCH_BYTES_MAX {
            return Err(TranscodeError::TooLarge {
                max: NATIVE_BATCH_BYTES_MAX,
            });
        }
        min_ms = min_ms.min(created_ms(info, &record));
    }
    if !cursor.is_empty() {
        return Err(KafkaWireError::RecordMalformed {
            index: count,
            reason: "bytes after the last record",
        }
        .into());
    }
    Ok((size, min_ms))
}

/// The record's creation timestamp (ms): the batch base plus its delta. For LogAppendTime
/// batches this is still the producer's time; the append time becomes `base_timestamp`.
fn created_ms(info: &BatchInfo, record: &RecordView<'_>) -> i64 {
    info.base_timestamp_ms.wrapping_add(record.timestamp_delta)
}

/// ms → µs; "no timestamp" (−1) and other negatives become 0, huge values saturate.
fn millis_to_micros(millis: i64) -> u64 {
    u64::try_from(millis)
        .unwrap_or(0)
        .saturating_mul(MICROS_PER_MILLI)
}
