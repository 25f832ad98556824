//! Transcoding between a stored Kafka record batch and a stored native batch record, sans-IO:
//! the only place where the two data models meet (design brief §2). A read in the protocol
//! the batch was not produced in calls [`kafka_to_native`] or [`native_to_kafka`]; same-protocol
//! reads never come here. A Kafka produce calls [`admit_kafka_batch`] before appending, so every
//! stored Kafka batch transcodes (a native send's user headers are checked by the native
//! codec's admission, so every stored native batch transcodes too).
//!
//! # Record mapping
//!
//! | Kafka record | native message |
//! | --- | --- |
//! | value | payload, byte-exact. A null value is an empty payload plus [`reserved::NULL_VALUE`] (bool true); an empty value is an empty payload alone. |
//! | key | user header [`reserved::KEY`] (raw); none when the key is null |
//! | header `k: v` | user header `k` (string key, raw value), when it fits (below) |
//! | offset | `base_offset + offset_delta`, identical numbers |
//! | timestamp (ms) | origin timestamp (µs) = ms × 1000; `base_timestamp` = the batch's maxTimestamp × 1000 |
//! | header [`reserved::ID`] (16 bytes LE, last header) | id; Kafka-produced records get id 0 and native id 0 gets no header |
//! | header `k: v` followed by [`reserved::KIND`] `[key kind, value kind]` | typed user header `k` (the value bytes are the native encoding) |
//!
//! # What a native header cannot hold, and what happens instead
//!
//! Native user-header keys and values are 1..=255 bytes, keys are unique (the SDK reads them
//! into a sorted map) and the map has no order. Kafka keys and header values can be empty or
//! longer, headers can repeat a key and their order matters. Nothing is dropped or truncated:
//!
//! * **Long fields are chunked.** The key (and any spilled field) is cut into 255-byte chunks:
//!   `__whippet.key`, `__whippet.key#1`, `#2`… An empty key is `__whippet.key#empty`.
//! * **Spilled headers.** A Kafka header whose key is empty, longer than 255 bytes, not UTF-8,
//!   starts with [`reserved::PREFIX`] or repeats an earlier key (same kind), or whose value is
//!   null, empty or longer than 255 bytes, becomes `__whippet.h.<i>.k` and `__whippet.h.<i>.v`
//!   (`i` its position among the record's Kafka headers), each chunked as above, with `#empty`
//!   for an empty field and `#null` for a null value. The first of several headers with one
//!   key keeps the plain name; the later ones are spilled.
//! * **Order.** Ordinary headers are written in key order. When that is not their Kafka order,
//!   [`reserved::ORDER`] lists their Kafka positions (LEB128, in key order), so the order is
//!   restored even after a native client re-sends the message through its sorted map.
//! * **Kinds.** A typed native header (anything but string key / raw value) becomes a Kafka
//!   header with the same key bytes and the value's native encoding, followed by a
//!   [`reserved::KIND`] header holding the two kinds; Kafka → native applies a well-formed
//!   marker to the header before it, so the kind survives native → Kafka → re-produce → native.
//!   Keys of non-string kinds reach Kafka as their raw bytes (Java clients decode header keys
//!   as UTF-8, so such keys are only byte-exact for clients that keep bytes).
//!
//! A Kafka record with a null or empty value becomes a message with an empty payload. The 0.11
//! SDK's poll parser accepts `payload_length` 0 (checked in `iggy_common` 0.11.0,
//! `polled_messages.rs`: no lower bound), but a native send may not carry an empty payload, so
//! such a message cannot be re-sent as it is. Native user headers above 100 000 bytes (a key or
//! header values of more than ~85 KiB) are served but could not be re-sent either.
//!
//! Control batches (transaction markers) and empty batches transcode to an empty buffer: the
//! caller serves nothing for them. A native record is transcoded to one uncompressed or
//! compressed v2 batch with baseOffset = its first message's offset, CreateTime timestamps
//! (origin timestamp ÷ 1000), no producer id, epoch or sequence, and a computed CRC-32C.
//! A native producer that writes reserved names by hand inconsistently does not make the
//! record unreadable: it is then transcoded with every entry as an ordinary header.

mod admit;
mod compact;
mod compress;
mod error;
mod header_values;
mod kafka_to_native;
pub mod limits;
mod names;
mod native_to_kafka;
mod records;
pub mod reserved;
mod to_kafka_headers;
mod to_native_headers;

#[cfg(test)]
mod tests;

use bytes::BytesMut;

pub use admit::admit_kafka_batch;
pub use compact::{KeyedRecord, keyed_records, keyless_records, retain_records};
pub use error::TranscodeError;
pub use header_values::{kafka_header_values, kafka_record_count};

/// The codec a transcoded Kafka batch is compressed with: the topic's compression setting, so
/// a Kafka consumer of native data gets what it would get from a Kafka producer of that topic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KafkaCompression {
    /// Records written plain.
    None,
    /// gzip.
    Gzip,
    /// Snappy in snappy-java's (xerial) framing.
    Snappy,
    /// LZ4 frame format, independent blocks.
    Lz4,
    /// zstd, one frame.
    Zstd,
}

impl KafkaCompression {
    /// The codec bits of the batch attributes.
    fn attribute(self) -> i16 {
        match self {
            Self::None => 0,
            Self::Gzip => 1,
            Self::Snappy => 2,
            Self::Lz4 => 3,
            Self::Zstd => 4,
        }
    }
}

/// A stored Kafka v2 record batch (baseOffset already stamped; any of none/gzip/snappy/lz4/zstd)
/// → one native batch record (256-byte batch header + one 48-byte frame per record, exactly the
/// stored 0.11 layout a native poll serves), partition_id/base_offset/base_timestamp stamped,
/// checksums computed as a native producer and the broker's stamping would. `max_bytes` bounds
/// the decompressed size (error when exceeded). A control or empty batch gives an empty buffer.
pub fn kafka_to_native(
    batch: &[u8],
    partition_id: u32,
    max_bytes: usize,
) -> Result<BytesMut, TranscodeError> {
    kafka_to_native::transcode(batch, partition_id, max_bytes, true)
}

/// [`kafka_to_native`] for a batch read back from the log, whose bytes were already checked:
/// the log verifies each frame's payload CRC-32C on every file read, and frames served from
/// memory were admitted with their batch CRC verified. The batch CRC is not computed a second
/// time (it was an eighth of the broker's CPU in a native poll of Kafka-written data); every
/// other check of [`kafka_to_native`] still applies.
pub fn kafka_to_native_stored(
    batch: &[u8],
    partition_id: u32,
    max_bytes: usize,
) -> Result<BytesMut, TranscodeError> {
    kafka_to_native::transcode(batch, partition_id, max_bytes, false)
}

/// A stored native batch record → one Kafka v2 record batch with baseOffset = the offset of
/// its first message (the record's base_offset for an unsliced record), timestamps (µs → ms),
/// CRC computed, compressed with `compression`. A record of zero messages gives an empty buffer.
pub fn native_to_kafka(
    record: &[u8],
    compression: KafkaCompression,
) -> Result<BytesMut, TranscodeError> {
    native_to_kafka::transcode(record, compression)
}
