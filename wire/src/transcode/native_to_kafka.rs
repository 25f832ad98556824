//! A stored native batch record → one Kafka magic-2 record batch.
//!
//! One cheap pass over the frame headers bounds the output size (a Kafka record is never
//! larger than its native frame plus the id header and any kind markers), so the buffer is
//! allocated once; the second pass maps each message's headers back (reusing scratch vectors)
//! and writes the record. Compressed output goes through one scratch buffer for the plain
//! records section.

use bytes::{BufMut, BytesMut};

use crate::kafka::batch::layout;
use crate::native::batch::{BatchRecord, StoredMessage};

use super::KafkaCompression;
use super::compress::compress_into;
use super::error::TranscodeError;
use super::limits::{KAFKA_BATCH_HEADER_BYTES, KAFKA_RECORD_OVERHEAD_BYTES_MAX};
use super::records::{field_size, put_varint, varint_size};
use super::to_kafka_headers::KafkaHeaders;

/// partitionLeaderEpoch written into transcoded batches: the one the broker stamps on Kafka
/// produces (a single node is always leader epoch 0).
const LEADER_EPOCH: i32 = 0;
/// producerId, producerEpoch and baseSequence of a batch with no idempotent producer.
const NO_PRODUCER_ID: i64 = -1;
const NO_PRODUCER_EPOCH: i16 = -1;
const NO_SEQUENCE: i32 = -1;

/// Frame-level facts gathered in the first pass.
struct Shape {
    first_delta: u32,
    last_delta: u32,
    min_ms: i64,
    max_ms: i64,
    bound: usize,
}

/// See [`super::native_to_kafka`].
pub(crate) fn transcode(
    bytes: &[u8],
    compression: KafkaCompression,
) -> Result<BytesMut, TranscodeError> {
    let record = BatchRecord::read(bytes)?;
    if record.header.message_count == 0 {
        return Ok(BytesMut::new());
    }
    let shape = shape(&record)?;
    let mut out = BytesMut::with_capacity(KAFKA_BATCH_HEADER_BYTES + shape.bound);
    out.put_bytes(0, KAFKA_BATCH_HEADER_BYTES);
    if compression == KafkaCompression::None {
        write_records(&record, &shape, &mut out)?;
    } else {
        let mut plain = BytesMut::with_capacity(shape.bound);
        write_records(&record, &shape, &mut plain)?;
        compress_into(compression, &plain, &mut out)?;
    }
    finish_header(&mut out, &record, &shape, compression);
    Ok(out)
}

fn message_ms(message: &StoredMessage<'_>) -> i64 {
    i64::try_from(message.origin_timestamp / 1000).unwrap_or(i64::MAX)
}

fn shape(record: &BatchRecord<'_>) -> Result<Shape, TranscodeError> {
    let mut shape = Shape {
        first_delta: 0,
        last_delta: 0,
        min_ms: i64::MAX,
        max_ms: i64::MIN,
        bound: 0,
    };
    for (index, message) in record.messages().enumerate() {
        let message = message?;
        let delta = message.frame.header.offset_delta;
        if index == 0 {
            shape.first_delta = delta;
        } else if delta <= shape.last_delta {
            return Err(TranscodeError::OffsetsNotIncreasing {
                offset_delta: delta,
            });
        }
        shape.last_delta = delta;
        let millis = message_ms(&message);
        shape.min_ms = shape.min_ms.min(millis);
        shape.max_ms = shape.max_ms.max(millis);
        shape.bound += message.frame.bytes.len()
            + 2 * message.frame.user_headers.len()
            + KAFKA_RECORD_OVERHEAD_BYTES_MAX;
    }
    Ok(shape)
}

fn write_records(
    record: &BatchRecord<'_>,
    shape: &Shape,
    out: &mut BytesMut,
) -> Result<(), TranscodeError> {
    let mut headers = KafkaHeaders::default();
    for message in record.messages() {
        let message = message?;
        let frame = message.frame;
        if !headers.read(frame.user_headers) {
            return Err(TranscodeError::UserHeadersMalformed {
                offset: message.offset,
            });
        }
        headers.plan(frame.payload.is_empty());
        let id = frame.header.id;
        let value = (!headers.value_is_null()).then_some(frame.payload);
        let timestamp_delta = message_ms(&message).wrapping_sub(shape.min_ms);
        let offset_delta = i64::from(frame.header.offset_delta - shape.first_delta);
        let body = 1
            + varint_size(timestamp_delta)
            + varint_size(offset_delta)
            + field_size(value.map(<[u8]>::len))
            + headers.size(id);
        put_varint(out, body as i64);
        out.put_u8(0);
        put_varint(out, timestamp_delta);
        put_varint(out, offset_delta);
        headers.write_key(out);
        match value {
            Some(value) => {
                put_varint(out, value.len() as i64);
                out.put_slice(value);
            }
            None => put_varint(out, -1),
        }
        headers.write_headers(out, id);
    }
    Ok(())
}

/// Writes the 61-byte header in front of the records and the CRC-32C over it.
fn finish_header(
    out: &mut BytesMut,
    record: &BatchRecord<'_>,
    shape: &Shape,
    compression: KafkaCompression,
) {
    let base_offset = record
        .header
        .base_offset
        .saturating_add(u64::from(shape.first_delta));
    let mut header = [0u8; KAFKA_BATCH_HEADER_BYTES];
    let mut cursor = &mut header[..];
    cursor.put_i64(i64::try_from(base_offset).unwrap_or(i64::MAX));
    cursor.put_i32((out.len() - layout::LENGTH_PREFIX_END) as i32);
    cursor.put_i32(LEADER_EPOCH);
    cursor.put_i8(layout::MAGIC_V2);
    cursor.put_u32(0);
    cursor.put_i16(compression.attribute());
    cursor.put_i32((shape.last_delta - shape.first_delta) as i32);
    cursor.put_i64(shape.min_ms);
    cursor.put_i64(shape.max_ms);
    cursor.put_i64(NO_PRODUCER_ID);
    cursor.put_i16(NO_PRODUCER_EPOCH);
    cursor.put_i32(NO_SEQUENCE);
    cursor.put_i32(record.header.message_count as i32);
    out[..KAFKA_BATCH_HEADER_BYTES].copy_from_slice(&header);
    let crc = crc32c::crc32c(&out[layout::CRC_COVERED_START..]);
    out[layout::CRC..layout::CRC + 4].copy_from_slice(&crc.to_be_bytes());
}
