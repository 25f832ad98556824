//! The two message paths: a classic send_messages (101) body becomes a 0.11 send body with one
//! batch, and a 0.11 poll reply (100) becomes a classic one with 64-byte message headers.
//!
//! Classic send body: `[metadata_len:u32][stream id][topic id][partitioning][count:u32]`, then
//! an index block of `count` × 16 bytes `[0:u32][end position:u32][0:u64]` (the end of each
//! message, cumulative from the start of the message area), then the messages. A classic
//! message is `[checksum:u64][id:u128][offset:u64][timestamp:u64][origin_timestamp:u64]`
//! `[user_headers_len:u32][payload_len:u32][reserved:u64]`, the payload, then the user headers.
//! The producer leaves checksum, offset and timestamp 0; the 0.8 server validated the index
//! block (offset and timestamp words zero, positions increasing, the last one ending the body),
//! replaced an id of 0 with a random UUID, and stored XXH3-64 of the message bytes after the
//! checksum field as its checksum.

use bytes::{BufMut, BytesMut};

use super::{ClassicError, Result};
use crate::native::batch::{self, BatchHeader};
use crate::native::codec::{Reader, WireDecode, check_range};
use crate::native::commands::messages::{
    PARTITION_STALE, PollReply, PollReplyHeader, SendMetadata,
};
use crate::native::error::NativeWireError;
use crate::native::limits::{
    BATCH_BYTES_MAX, BATCH_HEADER_BYTES, MESSAGE_HEADER_BYTES, MESSAGES_PER_BATCH_MAX,
    NAME_BYTES_MAX, PAYLOAD_BYTES_MAX, PAYLOAD_BYTES_MIN, USER_HEADERS_BYTES_MAX,
};
use crate::native::message::NewMessage;

/// Size of a classic message header.
pub const CLASSIC_MESSAGE_HEADER_BYTES: usize = 64;

/// Size of one entry of the classic send index block.
pub const CLASSIC_INDEX_BYTES: usize = 16;

/// Size of the fixed poll reply header `[partition][current_offset][count]`.
const POLL_HEADER_BYTES: usize = 16;

/// Largest send metadata: two string identifiers, a messages key, the count.
const SEND_METADATA_BYTES_MAX: usize = 3 * (2 + NAME_BYTES_MAX) + 4;

/// One classic message, borrowed from the request.
#[derive(Debug, Clone, Copy)]
struct ClassicMessage<'a> {
    id: u128,
    origin_timestamp: u64,
    payload: &'a [u8],
    user_headers: &'a [u8],
}

impl ClassicMessage<'_> {
    fn frame_length(&self) -> usize {
        MESSAGE_HEADER_BYTES + self.payload.len() + self.user_headers.len()
    }
}

/// Read one classic message that must fill `frame` exactly.
fn read_message(frame: &[u8]) -> Result<ClassicMessage<'_>> {
    let mut reader = Reader::new(frame);
    let _checksum = reader.u64("message_checksum")?;
    let id = reader.u128("message_id")?;
    let _offset = reader.u64("message_offset")?;
    let _timestamp = reader.u64("message_timestamp")?;
    let origin_timestamp = reader.u64("origin_timestamp")?;
    let user_headers_length = reader.u32("user_headers_length")?;
    let payload_length = reader.u32("payload_length")?;
    if reader.u64("message_reserved")? != 0 {
        return Err(NativeWireError::ReservedNotZero {
            field: "classic_message",
            offset: 56,
        }
        .into());
    }
    // The field names pick the statuses: EmptyMessagePayload, TooBigMessagePayload,
    // TooBigUserHeaders (`NativeWireError::status`).
    check_range(
        "payload_length",
        u64::from(payload_length),
        u64::from(PAYLOAD_BYTES_MIN),
        u64::from(PAYLOAD_BYTES_MAX),
    )?;
    check_range(
        "user_headers_length",
        u64::from(user_headers_length),
        0,
        u64::from(USER_HEADERS_BYTES_MAX),
    )?;
    let declared = CLASSIC_MESSAGE_HEADER_BYTES as u64
        + u64::from(payload_length)
        + u64::from(user_headers_length);
    if declared != frame.len() as u64 {
        return Err(NativeWireError::Mismatch {
            field: "message_size",
            declared,
            actual: frame.len() as u64,
        }
        .into());
    }
    let payload = reader.take("payload", payload_length as usize)?;
    let user_headers = reader.take("user_headers", user_headers_length as usize)?;
    Ok(ClassicMessage {
        id,
        origin_timestamp,
        payload,
        user_headers,
    })
}

/// Walks the index block and the message area together.
struct ClassicMessages<'a> {
    index: &'a [u8],
    area: &'a [u8],
    start: usize,
    entry: usize,
}

impl<'a> ClassicMessages<'a> {
    fn new(index: &'a [u8], area: &'a [u8]) -> Self {
        Self {
            index,
            area,
            start: 0,
            entry: 0,
        }
    }

    fn next_message(&mut self) -> Result<Option<ClassicMessage<'a>>> {
        let offset = self.entry * CLASSIC_INDEX_BYTES;
        let Some(entry) = self.index.get(offset..offset + CLASSIC_INDEX_BYTES) else {
            return Ok(None);
        };
        self.entry += 1;
        let mut reader = Reader::new(entry);
        let relative_offset = reader.u32("index_offset")?;
        let end = reader.u32("index_position")? as usize;
        let timestamp = reader.u64("index_timestamp")?;
        if relative_offset != 0 || timestamp != 0 {
            let inner = if relative_offset != 0 { 0 } else { 8 };
            return Err(NativeWireError::ReservedNotZero {
                field: "message_index",
                offset: offset + inner,
            }
            .into());
        }
        let Some(frame) = self
            .area
            .get(self.start..end)
            .filter(|frame| !frame.is_empty())
        else {
            return Err(NativeWireError::Mismatch {
                field: "message_position",
                declared: end as u64,
                actual: self.area.len() as u64,
            }
            .into());
        };
        self.start = end;
        read_message(frame).map(Some)
    }
}

/// What the first pass learns about a send.
struct SendSummary {
    frames_length: usize,
    origin_min: u64,
}

/// Validate every message and the index block; the last position must end the body.
fn summarize(index: &[u8], area: &[u8]) -> Result<SendSummary> {
    let mut messages = ClassicMessages::new(index, area);
    let mut summary = SendSummary {
        frames_length: 0,
        origin_min: u64::MAX,
    };
    let mut origin_max = 0;
    while let Some(message) = messages.next_message()? {
        summary.frames_length += message.frame_length();
        summary.origin_min = summary.origin_min.min(message.origin_timestamp);
        origin_max = origin_max.max(message.origin_timestamp);
    }
    if messages.start != area.len() {
        return Err(NativeWireError::Mismatch {
            field: "messages_size",
            declared: messages.start as u64,
            actual: area.len() as u64,
        }
        .into());
    }
    let span_us = origin_max.saturating_sub(summary.origin_min);
    if span_us > u64::from(u32::MAX) {
        return Err(ClassicError::TimestampSpan { span_us });
    }
    Ok(summary)
}

/// Translate a classic send_messages body into the 0.11 body (metadata + one batch).
pub(super) fn send_to_current(body: &[u8], fresh_id: &mut dyn FnMut() -> u128) -> Result<BytesMut> {
    let mut reader = Reader::new(body);
    let metadata_len = reader.length_u32("metadata_len", 1, SEND_METADATA_BYTES_MAX)?;
    let metadata_bytes = reader.take("send_metadata", metadata_len)?;
    let metadata = SendMetadata::decode_exact(metadata_bytes)?;
    let count = metadata.message_count;
    check_range(
        "message_count",
        u64::from(count),
        1,
        u64::from(MESSAGES_PER_BATCH_MAX),
    )?;
    let index_length = count as usize * CLASSIC_INDEX_BYTES;
    if index_length > reader.remaining() {
        return Err(NativeWireError::Mismatch {
            field: "message_count",
            declared: u64::from(count),
            actual: (reader.remaining() / CLASSIC_INDEX_BYTES) as u64,
        }
        .into());
    }
    let index = reader.take("message_index", index_length)?;
    let area = reader.take_rest();
    let summary = summarize(index, area)?;
    let batch_length = BATCH_HEADER_BYTES + summary.frames_length;
    check_range(
        "batch_length",
        batch_length as u64,
        0,
        BATCH_BYTES_MAX as u64,
    )?;
    let mut out = BytesMut::with_capacity(4 + metadata_bytes.len() + batch_length);
    out.put_u32_le(metadata_bytes.len() as u32);
    out.put_slice(metadata_bytes);
    let batch_start = out.len();
    out.put_bytes(0, BATCH_HEADER_BYTES);
    let mut checksums = Vec::with_capacity(count as usize);
    let mut messages = ClassicMessages::new(index, area);
    while let Some(message) = messages.next_message()? {
        let frame = NewMessage {
            id: if message.id == 0 {
                fresh_id()
            } else {
                message.id
            },
            offset_delta: checksums.len() as u32,
            timestamp_delta: (message.origin_timestamp - summary.origin_min) as u32,
            payload: message.payload,
            user_headers: message.user_headers,
        };
        checksums.push(frame.encode(&mut out));
    }
    let mut header = BatchHeader {
        partition_id: 0,
        base_offset: 0,
        base_timestamp: 0,
        origin_timestamp: summary.origin_min,
        batch_length: batch_length as u64,
        batch_checksum: 0,
        message_count: count,
    };
    header.batch_checksum = header.compute_checksum(checksums);
    let mut encoded = BytesMut::with_capacity(BATCH_HEADER_BYTES);
    header.encode(&mut encoded);
    out[batch_start..batch_start + BATCH_HEADER_BYTES].copy_from_slice(&encoded);
    Ok(out)
}

/// The id a message with id 0 gets when the caller gives no id source: XXH3-128 of the whole
/// send body and the message's index. Deterministic (a resent body gets the same ids), non-zero
/// in practice, and different for every message of a body.
pub(super) fn derived_ids(body: &[u8]) -> impl FnMut() -> u128 {
    let seed = xxhash_rust::xxh3::xxh3_64(body);
    let mut index: u64 = 0;
    move || {
        let mut input = [0u8; 16];
        input[..8].copy_from_slice(&seed.to_le_bytes());
        input[8..].copy_from_slice(&index.to_le_bytes());
        index += 1;
        xxhash_rust::xxh3::xxh3_128(&input)
    }
}

/// Translate a 0.11 poll reply into the classic layout. An empty input (no 0.11 reply) becomes
/// an all-zero header, because the 0.10 SDK reads 16 bytes from every poll reply. The stale
/// partition marker `u32::MAX` of 0.11 becomes partition 0: classic clients have no re-sync
/// path, and the reply then carries no messages.
pub(super) fn poll_to_classic(current: &[u8]) -> Result<BytesMut> {
    if current.is_empty() {
        return Ok(empty_poll());
    }
    let reply = PollReply::parse(current)?;
    poll_records_to_classic(&reply.header, &[reply.records])
}

/// [`poll_to_classic`] for a reply still in the pieces the broker gathered: the 16-byte reply
/// header, then buffers each holding whole stored batch records (served without being joined
/// into one buffer first).
pub(super) fn poll_parts_to_classic(parts: &[&[u8]]) -> Result<BytesMut> {
    let Some((head, records)) = parts.split_first() else {
        return Ok(empty_poll());
    };
    let header = PollReplyHeader::decode_exact(head)?;
    poll_records_to_classic(&header, records)
}

fn empty_poll() -> BytesMut {
    let mut out = BytesMut::with_capacity(POLL_HEADER_BYTES);
    out.put_bytes(0, POLL_HEADER_BYTES);
    out
}

/// The classic reply for `header` and the stored records in `chunks` (each walked by its
/// records' `batch_length`).
fn poll_records_to_classic(header: &PollReplyHeader, chunks: &[&[u8]]) -> Result<BytesMut> {
    let records = || chunks.iter().flat_map(|chunk| batch::records(chunk));
    let mut size = POLL_HEADER_BYTES;
    for record in records() {
        let record = record?;
        let frames = record.bytes.len() - BATCH_HEADER_BYTES;
        let growth = (CLASSIC_MESSAGE_HEADER_BYTES - MESSAGE_HEADER_BYTES)
            * record.header.message_count as usize;
        size += frames + growth;
    }
    let mut out = BytesMut::with_capacity(size);
    let partition = match header.partition_id {
        PARTITION_STALE => 0,
        partition => partition,
    };
    out.put_u32_le(partition);
    out.put_u64_le(header.current_offset);
    out.put_u32_le(header.message_count);
    for record in records() {
        for message in record?.messages() {
            let message = message?;
            put_classic_message(
                &mut out,
                &ClassicStored {
                    id: message.frame.header.id,
                    offset: message.offset,
                    timestamp: message.timestamp,
                    origin_timestamp: message.origin_timestamp,
                    payload: message.frame.payload,
                    user_headers: message.frame.user_headers,
                },
            );
        }
    }
    Ok(out)
}

/// A message as a classic poll reply carries it.
pub(super) struct ClassicStored<'a> {
    pub(super) id: u128,
    pub(super) offset: u64,
    pub(super) timestamp: u64,
    pub(super) origin_timestamp: u64,
    pub(super) payload: &'a [u8],
    pub(super) user_headers: &'a [u8],
}

/// Append one classic message with the checksum the 0.8 server stored: XXH3-64 (seed 0) of
/// every message byte after the checksum field.
pub(super) fn put_classic_message(out: &mut BytesMut, message: &ClassicStored<'_>) {
    let start = out.len();
    out.put_u64_le(0);
    out.put_u128_le(message.id);
    out.put_u64_le(message.offset);
    out.put_u64_le(message.timestamp);
    out.put_u64_le(message.origin_timestamp);
    out.put_u32_le(message.user_headers.len() as u32);
    out.put_u32_le(message.payload.len() as u32);
    out.put_u64_le(0);
    out.put_slice(message.payload);
    out.put_slice(message.user_headers);
    let checksum = xxhash_rust::xxh3::xxh3_64(&out[start + 8..]);
    out[start..start + 8].copy_from_slice(&checksum.to_le_bytes());
}

#[cfg(test)]
#[path = "messages_tests.rs"]
pub(super) mod tests;
