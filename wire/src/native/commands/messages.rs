//! Message commands: send_messages (101, §4.1), poll_messages (100, §4.5) and its reply (§4.6),
//! flush_unsaved_buffer (102), plus the partitioning, consumer and polling-strategy encodings
//! other families reuse.

use bytes::{BufMut, Bytes, BytesMut};

use crate::native::batch::{self, BatchHeader, BatchSummary};
use crate::native::codec::{
    Reader, WireDecode, WireEncode, WireField, bounded_capacity, check_range, wire_struct,
};
use crate::native::error::{NativeWireError, Result};
use crate::native::identifier::Identifier;
use crate::native::limits::{LIST_ENTRIES_MAX, NAME_BYTES_MAX};

/// `partition_id` of an empty poll reply telling a group member its assignment is stale.
pub const PARTITION_STALE: u32 = u32::MAX;

/// Largest metadata section of a send: two string identifiers, a key, the count.
const SEND_METADATA_BYTES_MAX: usize = 3 * (2 + NAME_BYTES_MAX) + 4;

/// How a send picks its partition (§4.7). The 0.11 Rust SDK always sends `PartitionId`; other
/// SDKs may send the other two, so all three are accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Partitioning {
    /// 1: round-robin chosen by the broker.
    Balanced,
    /// 2: an explicit partition.
    PartitionId(u32),
    /// 3: hash of a key, 1..=255 bytes.
    MessagesKey(Bytes),
}

impl Partitioning {
    /// The partition a messages key maps to among `partitions` partitions, as the 0.11 SDK
    /// computes it (`XXH32(key, seed 0) % partitions`), so a broker resolving kind 3 itself puts
    /// a key where the SDK would. `None` when the topic has no partitions.
    #[must_use]
    pub fn key_partition(key: &[u8], partitions: u32) -> Option<u32> {
        (partitions > 0).then(|| xxhash_rust::xxh32::xxh32(key, 0) % partitions)
    }
}

impl WireField for Partitioning {
    fn read_field(reader: &mut Reader<'_>, _field: &'static str) -> Result<Self> {
        let kind = reader.u8("partitioning_kind")?;
        let length = reader.u8("partitioning_length")?;
        let expect_length = |expected: u8| {
            if length == expected {
                Ok(())
            } else {
                Err(NativeWireError::InvalidValue {
                    field: "partitioning_length",
                    value: u64::from(length),
                })
            }
        };
        match kind {
            1 => expect_length(0).map(|()| Self::Balanced),
            2 => {
                expect_length(4)?;
                Ok(Self::PartitionId(reader.u32("partition_id")?))
            }
            3 => {
                check_range(
                    "partitioning_length",
                    u64::from(length),
                    1,
                    NAME_BYTES_MAX as u64,
                )?;
                let key = reader.take("messages_key", usize::from(length))?;
                Ok(Self::MessagesKey(Bytes::copy_from_slice(key)))
            }
            other => Err(NativeWireError::InvalidValue {
                field: "partitioning_kind",
                value: u64::from(other),
            }),
        }
    }

    fn field_size(&self) -> usize {
        2 + match self {
            Self::Balanced => 0,
            Self::PartitionId(_) => 4,
            Self::MessagesKey(key) => key.len().min(NAME_BYTES_MAX),
        }
    }

    fn write_field(&self, out: &mut BytesMut) {
        match self {
            Self::Balanced => out.put_slice(&[1, 0]),
            Self::PartitionId(id) => {
                out.put_slice(&[2, 4]);
                out.put_u32_le(*id);
            }
            Self::MessagesKey(key) => {
                let key = &key[..key.len().min(NAME_BYTES_MAX)];
                out.put_slice(&[3, key.len() as u8]);
                out.put_slice(key);
            }
        }
    }
}

/// `[has_partition:u8][partition_id:u32]`: an optional partition, `0 + 0` when absent.
impl WireField for Option<u32> {
    fn read_field(reader: &mut Reader<'_>, field: &'static str) -> Result<Self> {
        let present = reader.bool(field)?;
        let value = reader.u32(field)?;
        Ok(present.then_some(value))
    }

    fn field_size(&self) -> usize {
        5
    }

    fn write_field(&self, out: &mut BytesMut) {
        out.put_u8(u8::from(self.is_some()));
        out.put_u32_le(self.unwrap_or(0));
    }
}

/// Who is consuming (§4.7): a single consumer or a consumer group, named by an identifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Consumer {
    /// Kind 1: a standalone consumer with its own offsets.
    Single(Identifier),
    /// Kind 2: a consumer group; the id names the group.
    Group(Identifier),
}

impl WireField for Consumer {
    fn read_field(reader: &mut Reader<'_>, field: &'static str) -> Result<Self> {
        let kind = reader.u8("consumer_kind")?;
        let id = Identifier::read_field(reader, field)?;
        match kind {
            1 => Ok(Self::Single(id)),
            2 => Ok(Self::Group(id)),
            other => Err(NativeWireError::InvalidValue {
                field: "consumer_kind",
                value: u64::from(other),
            }),
        }
    }

    fn field_size(&self) -> usize {
        match self {
            Self::Single(id) | Self::Group(id) => 1 + id.encoded_size(),
        }
    }

    fn write_field(&self, out: &mut BytesMut) {
        let (kind, id) = match self {
            Self::Single(id) => (1, id),
            Self::Group(id) => (2, id),
        };
        out.put_u8(kind);
        id.encode(out);
    }
}

/// Where a poll starts (§4.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PollingStrategy {
    /// 1: from this offset.
    Offset(u64),
    /// 2: from the first message at or after this timestamp, µs.
    Timestamp(u64),
    /// 3: from the start of the partition.
    First,
    /// 4: the last `count` messages.
    Last,
    /// 5: after the consumer's stored offset.
    Next,
}

impl WireField for PollingStrategy {
    fn read_field(reader: &mut Reader<'_>, _field: &'static str) -> Result<Self> {
        let kind = reader.u8("strategy_kind")?;
        let value = reader.u64("strategy_value")?;
        match kind {
            1 => Ok(Self::Offset(value)),
            2 => Ok(Self::Timestamp(value)),
            3 => Ok(Self::First),
            4 => Ok(Self::Last),
            5 => Ok(Self::Next),
            other => Err(NativeWireError::InvalidValue {
                field: "strategy_kind",
                value: u64::from(other),
            }),
        }
    }

    fn field_size(&self) -> usize {
        9
    }

    fn write_field(&self, out: &mut BytesMut) {
        let (kind, value) = match *self {
            Self::Offset(offset) => (1, offset),
            Self::Timestamp(timestamp) => (2, timestamp),
            Self::First => (3, 0),
            Self::Last => (4, 0),
            Self::Next => (5, 0),
        };
        out.put_u8(kind);
        out.put_u64_le(value);
    }
}

wire_struct! {
    /// poll_messages (100) request body (§4.5).
    pub struct PollMessages {
        /// Single consumer or group.
        pub consumer: Consumer,
        /// The stream.
        pub stream_id: Identifier,
        /// The topic.
        pub topic_id: Identifier,
        /// Explicit partition; the 0.11 SDK always sets it for groups.
        pub partition_id: Option<u32>,
        /// Where to start.
        pub strategy: PollingStrategy,
        /// Most messages to return.
        pub count: u32,
        /// Store the last returned offset for this consumer.
        pub auto_commit: bool,
    }
}

wire_struct! {
    /// The metadata section of send_messages (§4.1), after `metadata_len`.
    pub struct SendMetadata {
        /// The stream.
        pub stream_id: Identifier,
        /// The topic.
        pub topic_id: Identifier,
        /// Partition choice.
        pub partitioning: Partitioning,
        /// Messages in the batch; must match the batch header.
        pub message_count: u32,
    }
}

/// A decoded send_messages body: metadata plus the batch bytes, borrowed from the request so
/// the batch can be stamped and appended without a copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendMessages<'a> {
    /// Target and partitioning.
    pub metadata: SendMetadata,
    /// The 256-byte batch header and frames.
    pub batch: &'a [u8],
}

impl<'a> SendMessages<'a> {
    /// Split a send body into metadata and batch, checking `metadata_len` and that the
    /// metadata count matches the batch header. The batch itself is checked by
    /// [`SendMessages::validate`].
    pub fn parse(body: &'a [u8]) -> Result<Self> {
        let mut reader = Reader::new(body);
        let length = reader.length_u32("metadata_len", 1, SEND_METADATA_BYTES_MAX)?;
        let metadata = SendMetadata::decode_exact(reader.take("send_metadata", length)?)?;
        let batch = reader.take_rest();
        let header = BatchHeader::decode(batch)?;
        if header.message_count != metadata.message_count {
            return Err(NativeWireError::Mismatch {
                field: "message_count",
                declared: u64::from(metadata.message_count),
                actual: u64::from(header.message_count),
            });
        }
        Ok(Self { metadata, batch })
    }

    /// Run full admission validation on the batch (§4.2–4.4).
    pub fn validate(&self) -> Result<BatchSummary> {
        batch::validate_send_batch(self.batch)
    }

    /// [`Self::validate`] for a batch the broker translated from a classic send
    /// ([`batch::validate_built_send_batch`]: checksums it computed itself are not recomputed).
    pub fn validate_built(&self) -> Result<BatchSummary> {
        batch::validate_built_send_batch(self.batch)
    }

    /// Encoded body length.
    #[must_use]
    pub fn encoded_size(&self) -> usize {
        4 + self.metadata.encoded_size() + self.batch.len()
    }

    /// Append the body (what an SDK sends).
    pub fn encode(&self, out: &mut BytesMut) {
        out.put_u32_le(self.metadata.encoded_size() as u32);
        self.metadata.encode(out);
        out.put_slice(self.batch);
    }
}

wire_struct! {
    /// One entry of a send reply: where the batch landed.
    pub struct SendAck {
        /// Stream id.
        pub stream_id: u32,
        /// Topic id.
        pub topic_id: u32,
        /// Partition id.
        pub partition_id: u32,
        /// Offset of the first message.
        pub base_offset: u64,
    }
}

/// send_messages reply: `[count:u32]` then acks. An empty body is also accepted by the SDK.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SendReply {
    /// One ack per appended batch.
    pub acks: Vec<SendAck>,
}

impl WireEncode for SendReply {
    fn encoded_size(&self) -> usize {
        4 + 20 * self.acks.len()
    }

    fn encode(&self, out: &mut BytesMut) {
        out.put_u32_le(self.acks.len() as u32);
        for ack in &self.acks {
            ack.encode(out);
        }
    }
}

impl WireDecode for SendReply {
    fn decode(bytes: &[u8]) -> Result<(Self, usize)> {
        let mut reader = Reader::new(bytes);
        let count = reader.u32("acks_count")? as usize;
        check_range("acks_count", count as u64, 0, LIST_ENTRIES_MAX as u64)?;
        let mut acks = Vec::with_capacity(bounded_capacity(count, 20, reader.remaining()));
        for _ in 0..count {
            acks.push(SendAck::decode_exact(reader.take("send_ack", 20)?)?);
        }
        Ok((Self { acks }, reader.position()))
    }
}

wire_struct! {
    /// The fixed start of a poll reply (§4.6); the batch records follow it.
    pub struct PollReplyHeader {
        /// Partition polled, or [`PARTITION_STALE`] on a stale group assignment.
        pub partition_id: u32,
        /// Highest offset of the partition.
        pub current_offset: u64,
        /// Messages in all following records.
        pub message_count: u32,
    }
}

/// A decoded poll reply: the header and the record bytes, checked to hold exactly
/// `message_count` messages in well-formed records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PollReply<'a> {
    /// The fixed header.
    pub header: PollReplyHeader,
    /// Batch records back to back.
    pub records: &'a [u8],
}

impl<'a> PollReply<'a> {
    /// Decode and check a whole poll reply body, as the SDK does (layout, not checksums).
    pub fn parse(body: &'a [u8]) -> Result<Self> {
        let mut reader = Reader::new(body);
        let header = PollReplyHeader::decode(reader.take("poll_reply_header", 16)?)?.0;
        let records = reader.take_rest();
        let mut total = 0u64;
        for record in batch::records(records) {
            total += u64::from(record?.header.message_count);
        }
        if total != u64::from(header.message_count) {
            return Err(NativeWireError::Mismatch {
                field: "poll_message_count",
                declared: u64::from(header.message_count),
                actual: total,
            });
        }
        Ok(Self { header, records })
    }

    /// Encode a reply from its header and records (each a valid stored or sliced record).
    #[must_use]
    pub fn encode(header: &PollReplyHeader, records: &[&[u8]]) -> BytesMut {
        let length: usize = records.iter().map(|record| record.len()).sum();
        let mut out = BytesMut::with_capacity(16 + length);
        header.encode(&mut out);
        for record in records {
            out.put_slice(record);
        }
        out
    }
}

wire_struct! {
    /// flush_unsaved_buffer (102).
    pub struct FlushUnsavedBuffer {
        /// The stream.
        pub stream_id: Identifier,
        /// The topic.
        pub topic_id: Identifier,
        /// Partition id.
        pub partition_id: u32,
        /// Also fsync.
        pub fsync: bool,
    }
}

#[cfg(test)]
#[path = "messages_tests.rs"]
mod tests;
