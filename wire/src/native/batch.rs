//! The 256-byte batch header (§4.2) and what the broker does with a batch: validate a produced
//! batch, stamp the server-owned fields, walk the messages of a stored batch, and cut a stored
//! batch down to an offset range for a poll reply. The same record is stored and served, so a
//! poll needs no re-encoding beyond slicing.

use bytes::{BufMut, BytesMut};
use xxhash_rust::xxh3::Xxh3;

use crate::native::codec::{Reader, check_range};
use crate::native::error::{NativeWireError, Result};
use crate::native::limits::{BATCH_BYTES_MAX, BATCH_HEADER_BYTES, MESSAGES_PER_BATCH_MAX};
use crate::native::message::{MessageFrame, NewMessage};
use crate::native::user_headers::validate_user_headers;

/// Offset of `partition_id` in the header; `base_offset` and `base_timestamp` follow.
const PARTITION_ID_OFFSET: usize = 0;
const BATCH_CHECKSUM_OFFSET: usize = 40;
const MESSAGE_COUNT_OFFSET: usize = 48;
const RESERVED_OFFSET: usize = 52;

/// The fixed header of a batch record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchHeader {
    /// Partition the batch belongs to; stamped by the broker.
    pub partition_id: u64,
    /// Offset of the message with `offset_delta` 0; stamped by the broker.
    pub base_offset: u64,
    /// Broker append time, µs; stamped by the broker.
    pub base_timestamp: u64,
    /// Smallest origin timestamp in the batch, µs; set by the producer.
    pub origin_timestamp: u64,
    /// Header plus all frames.
    pub batch_length: u64,
    /// Streaming XXH3 over the header fields and the frame checksums (§4.4).
    pub batch_checksum: u64,
    /// Number of frames.
    pub message_count: u32,
}

impl BatchHeader {
    /// Decode the header at the start of `bytes`: reserved bytes must be zero, the length must
    /// cover at least the header and stay within [`BATCH_BYTES_MAX`], the count within
    /// [`MESSAGES_PER_BATCH_MAX`].
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let mut reader = Reader::new(bytes);
        let header = Self {
            partition_id: reader.u64("partition_id")?,
            base_offset: reader.u64("base_offset")?,
            base_timestamp: reader.u64("base_timestamp")?,
            origin_timestamp: reader.u64("origin_timestamp")?,
            batch_length: reader.u64("batch_length")?,
            batch_checksum: reader.u64("batch_checksum")?,
            message_count: reader.u32("message_count")?,
        };
        let reserved = reader.take("batch_reserved", BATCH_HEADER_BYTES - RESERVED_OFFSET)?;
        if let Some(position) = reserved.iter().position(|byte| *byte != 0) {
            return Err(NativeWireError::ReservedNotZero {
                field: "batch",
                offset: RESERVED_OFFSET + position,
            });
        }
        check_range(
            "batch_length",
            header.batch_length,
            BATCH_HEADER_BYTES as u64,
            BATCH_BYTES_MAX as u64,
        )?;
        check_range(
            "message_count",
            u64::from(header.message_count),
            0,
            u64::from(MESSAGES_PER_BATCH_MAX),
        )?;
        Ok(header)
    }

    /// Append the 256-byte header.
    pub fn encode(&self, out: &mut BytesMut) {
        out.put_u64_le(self.partition_id);
        out.put_u64_le(self.base_offset);
        out.put_u64_le(self.base_timestamp);
        out.put_u64_le(self.origin_timestamp);
        out.put_u64_le(self.batch_length);
        out.put_u64_le(self.batch_checksum);
        out.put_u32_le(self.message_count);
        out.put_bytes(0, BATCH_HEADER_BYTES - RESERVED_OFFSET);
    }

    /// Compute the batch checksum over this header's fields and the given frame checksums, in
    /// order (§4.4). The stored `batch_checksum` field itself is not an input.
    pub fn compute_checksum(&self, frame_checksums: impl IntoIterator<Item = u64>) -> u64 {
        let mut hasher = Xxh3::new();
        hasher.update(&self.partition_id.to_le_bytes());
        hasher.update(&self.base_offset.to_le_bytes());
        hasher.update(&self.base_timestamp.to_le_bytes());
        hasher.update(&self.origin_timestamp.to_le_bytes());
        hasher.update(&self.batch_length.to_le_bytes());
        hasher.update(&self.message_count.to_le_bytes());
        for checksum in frame_checksums {
            hasher.update(&checksum.to_le_bytes());
        }
        hasher.digest()
    }
}

/// What admission learned about a valid produced batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchSummary {
    /// Messages in the batch; the broker reserves this many offsets.
    pub message_count: u32,
    /// Batch length in bytes.
    pub batch_length: u64,
    /// Producer's origin timestamp, µs.
    pub origin_timestamp: u64,
    /// Total payload bytes, for size accounting.
    pub payload_bytes: u64,
}

/// A borrowed batch record whose layout has been checked: the frames exactly fill
/// `batch_length` and there are exactly `message_count` of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchRecord<'a> {
    /// The decoded header.
    pub header: BatchHeader,
    /// The whole record (header and frames).
    pub bytes: &'a [u8],
}

impl<'a> BatchRecord<'a> {
    /// Read the record at the start of `bytes` and check its layout (not its checksums: the
    /// SDK does not check them on polls and the log verifies its own).
    pub fn read(bytes: &'a [u8]) -> Result<Self> {
        let header = BatchHeader::decode(bytes)?;
        let mut reader = Reader::new(bytes);
        let whole = reader.take("batch", header.batch_length as usize)?;
        let record = Self {
            header,
            bytes: whole,
        };
        let mut count: u64 = 0;
        for frame in record.frames() {
            frame?;
            count += 1;
        }
        if count != u64::from(header.message_count) {
            return Err(NativeWireError::Mismatch {
                field: "message_count",
                declared: u64::from(header.message_count),
                actual: count,
            });
        }
        Ok(record)
    }

    /// Iterate the frames in order. Each item is an error if a frame does not fit.
    #[must_use]
    pub fn frames(&self) -> Frames<'a> {
        Frames {
            rest: self.bytes.get(BATCH_HEADER_BYTES..).unwrap_or_default(),
        }
    }

    /// Iterate the messages with their absolute offsets and timestamps, as the SDK computes them.
    pub fn messages(&self) -> impl Iterator<Item = Result<StoredMessage<'a>>> + 'a {
        let header = self.header;
        self.frames().map(move |frame| {
            let frame = frame?;
            Ok(StoredMessage {
                offset: header
                    .base_offset
                    .saturating_add(u64::from(frame.header.offset_delta)),
                timestamp: header.base_timestamp,
                origin_timestamp: header
                    .origin_timestamp
                    .saturating_add(u64::from(frame.header.timestamp_delta)),
                frame,
            })
        })
    }
}

/// Iterator over the frames of a batch record.
#[derive(Debug, Clone)]
pub struct Frames<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Frames<'a> {
    type Item = Result<MessageFrame<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        match MessageFrame::read(self.rest) {
            Ok(frame) => {
                self.rest = &self.rest[frame.bytes.len()..];
                Some(Ok(frame))
            }
            Err(error) => {
                self.rest = &[];
                Some(Err(error))
            }
        }
    }
}

/// One message of a stored batch, with the values the SDK derives from the batch header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredMessage<'a> {
    /// `base_offset + offset_delta`.
    pub offset: u64,
    /// The batch's broker timestamp.
    pub timestamp: u64,
    /// `origin_timestamp + timestamp_delta`.
    pub origin_timestamp: u64,
    /// The frame itself.
    pub frame: MessageFrame<'a>,
}

/// Validate a produced batch at admission (§4.2–4.4): the whole slice must be exactly one
/// record with zero reserved bytes, at least one message, frames that exactly fill the length
/// and match the count, `offset_delta` equal to each frame's index, payloads of 1..=64 MB,
/// user headers within bounds and well-formed ([`validate_user_headers`]: what a Kafka reader's
/// transcoding and the SDK's header reader need), and every frame checksum and the batch
/// checksum correct.
pub fn validate_send_batch(bytes: &[u8]) -> Result<BatchSummary> {
    check_send_batch(bytes, true)
}

/// [`validate_send_batch`] for a batch the broker built itself — a classic send translated to
/// protocol 0.11, whose message and batch checksums the translation has just computed (the
/// classic framing carries none): every check but recomputing those checksums.
pub fn validate_built_send_batch(bytes: &[u8]) -> Result<BatchSummary> {
    check_send_batch(bytes, false)
}

fn check_send_batch(bytes: &[u8], verify_checksums: bool) -> Result<BatchSummary> {
    let header = BatchHeader::decode(bytes)?;
    if header.batch_length != bytes.len() as u64 {
        return Err(NativeWireError::Mismatch {
            field: "batch_length",
            declared: header.batch_length,
            actual: bytes.len() as u64,
        });
    }
    check_range(
        "message_count",
        u64::from(header.message_count),
        1,
        u64::from(MESSAGES_PER_BATCH_MAX),
    )?;
    let record = BatchRecord::read(bytes)?;
    let mut payload_bytes = 0u64;
    for (index, frame) in record.frames().enumerate() {
        let frame = frame?;
        if frame.header.offset_delta as usize != index {
            return Err(NativeWireError::Mismatch {
                field: "offset_delta",
                declared: u64::from(frame.header.offset_delta),
                actual: index as u64,
            });
        }
        frame.header.check_admission_bounds()?;
        if verify_checksums {
            frame.verify_checksum()?;
        }
        validate_user_headers(frame.user_headers)?;
        payload_bytes += u64::from(frame.header.payload_length);
    }
    if verify_checksums {
        verify_batch_checksum(&record)?;
    }
    Ok(BatchSummary {
        message_count: header.message_count,
        batch_length: header.batch_length,
        origin_timestamp: header.origin_timestamp,
        payload_bytes,
    })
}

fn frame_checksums<'a>(record: &BatchRecord<'a>) -> impl Iterator<Item = u64> + 'a {
    record
        .frames()
        .map_while(|frame| frame.ok().map(|frame| frame.header.checksum))
}

/// Verify a record's stored batch checksum against its header fields and frame checksums.
pub fn verify_batch_checksum(record: &BatchRecord<'_>) -> Result<()> {
    let computed = record.header.compute_checksum(frame_checksums(record));
    if computed != record.header.batch_checksum {
        return Err(NativeWireError::ChecksumMismatch {
            field: "batch",
            stored: record.header.batch_checksum,
            computed,
        });
    }
    Ok(())
}

/// Stamp the server-owned fields of an admitted batch in place and recompute its checksum.
/// Returns the new header. The batch must already have passed [`validate_send_batch`]; the
/// layout is re-read here, so a batch that was not validated fails instead of being corrupted.
pub fn stamp_batch(
    bytes: &mut [u8],
    partition_id: u64,
    base_offset: u64,
    base_timestamp: u64,
) -> Result<BatchHeader> {
    let mut header = BatchRecord::read(bytes)?.header;
    header.partition_id = partition_id;
    header.base_offset = base_offset;
    header.base_timestamp = base_timestamp;
    let record = BatchRecord {
        header,
        bytes: &*bytes,
    };
    header.batch_checksum = header.compute_checksum(frame_checksums(&record));
    let mut fixed = BytesMut::with_capacity(MESSAGE_COUNT_OFFSET);
    fixed.put_u64_le(header.partition_id);
    fixed.put_u64_le(header.base_offset);
    fixed.put_u64_le(header.base_timestamp);
    fixed.put_u64_le(header.origin_timestamp);
    fixed.put_u64_le(header.batch_length);
    fixed.put_u64_le(header.batch_checksum);
    debug_assert_eq!(fixed.len(), BATCH_CHECKSUM_OFFSET + 8);
    bytes[PARTITION_ID_OFFSET..MESSAGE_COUNT_OFFSET].copy_from_slice(&fixed);
    Ok(header)
}

/// Cut a stored record down to the messages whose offsets lie in `first..=last`, producing a
/// valid record for a poll reply (§4.6). Frames keep their bytes (and so their checksums and
/// offset deltas); the header keeps `base_offset` and timestamps, so the SDK's derived offsets
/// stay right, and gets a new `batch_length`, `message_count` and `batch_checksum`.
/// Returns `None` when no message falls in the range, and the record unchanged when all do.
pub fn slice_batch(bytes: &[u8], first: u64, last: u64) -> Result<Option<BytesMut>> {
    let record = BatchRecord::read(bytes)?;
    let mut start = None;
    let mut end = BATCH_HEADER_BYTES;
    let mut checksums = Vec::new();
    let mut position = BATCH_HEADER_BYTES;
    for message in record.messages() {
        let message = message?;
        let length = message.frame.bytes.len();
        if (first..=last).contains(&message.offset) {
            start.get_or_insert(position);
            end = position + length;
            checksums.push(message.frame.header.checksum);
        } else if start.is_some() {
            break;
        }
        position += length;
    }
    let Some(start) = start else {
        return Ok(None);
    };
    let mut header = record.header;
    header.batch_length = (BATCH_HEADER_BYTES + end - start) as u64;
    header.message_count = checksums.len() as u32;
    header.batch_checksum = header.compute_checksum(checksums);
    let mut out = BytesMut::with_capacity(header.batch_length as usize);
    header.encode(&mut out);
    out.put_slice(&record.bytes[start..end]);
    Ok(Some(out))
}

/// Build a producer-side batch (server-owned fields 0) from messages, with frame checksums and
/// the batch checksum filled in: what an SDK sends, and what the Kafka→native transcoder makes
/// before [`stamp_batch`].
#[must_use]
pub fn encode_batch(origin_timestamp: u64, messages: &[NewMessage<'_>]) -> BytesMut {
    let frames_length: usize = messages.iter().map(NewMessage::frame_length).sum();
    let mut out = BytesMut::with_capacity(BATCH_HEADER_BYTES + frames_length);
    let mut header = BatchHeader {
        partition_id: 0,
        base_offset: 0,
        base_timestamp: 0,
        origin_timestamp,
        batch_length: (BATCH_HEADER_BYTES + frames_length) as u64,
        batch_checksum: 0,
        message_count: messages.len() as u32,
    };
    out.put_bytes(0, BATCH_HEADER_BYTES);
    let checksums: Vec<u64> = messages
        .iter()
        .map(|message| message.encode(&mut out))
        .collect();
    header.batch_checksum = header.compute_checksum(checksums);
    let mut encoded_header = BytesMut::with_capacity(BATCH_HEADER_BYTES);
    header.encode(&mut encoded_header);
    out[..BATCH_HEADER_BYTES].copy_from_slice(&encoded_header);
    out
}

/// Iterate the batch records laid back to back in a poll reply or a segment, each walked by its
/// `batch_length`.
pub fn records(bytes: &[u8]) -> impl Iterator<Item = Result<BatchRecord<'_>>> {
    let mut rest = bytes;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        match BatchRecord::read(rest) {
            Ok(record) => {
                rest = &rest[record.bytes.len()..];
                Some(Ok(record))
            }
            Err(error) => {
                rest = &[];
                Some(Err(error))
            }
        }
    })
}

#[cfg(test)]
#[path = "batch_tests.rs"]
mod tests;
