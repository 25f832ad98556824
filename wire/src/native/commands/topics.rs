//! Topic commands (300–305) and the TopicHeader / Partition reply elements (§3, §7.5).

use bytes::{BufMut, BytesMut};

use crate::native::codec::{
    Reader, WireDecode, WireEncode, bounded_capacity, check_range, put_string_u8, string_u8_size,
    wire_struct,
};
use crate::native::error::Result;
use crate::native::identifier::Identifier;
use crate::native::limits::{LIST_ENTRIES_MAX, NAME_BYTES_MAX};
use crate::native::user_headers::{Options, put_prefixed_options, read_prefixed_options};

wire_struct! {
    /// get_topic (300), delete_topic (303), purge_topic (305): a body naming one topic.
    pub struct TopicRef {
        /// The stream.
        pub stream_id: Identifier,
        /// The topic.
        pub topic_id: Identifier,
    }
}

wire_struct! {
    /// create_topic (302). Expiry, size cap and compression travel as option keys (§7.5).
    pub struct CreateTopic {
        /// The stream.
        pub stream_id: Identifier,
        /// Partitions to create, numbered 0..n−1.
        pub partitions_count: u32,
        /// Topic name.
        pub name: String,
        /// Option entries.
        pub options: Options,
    }
}

wire_struct! {
    /// update_topic (304): new name and changed options.
    pub struct UpdateTopic {
        /// The stream.
        pub stream_id: Identifier,
        /// The topic.
        pub topic_id: Identifier,
        /// New name.
        pub name: String,
        /// Changed options.
        pub options: Options,
    }
}

/// Fixed bytes of a TopicHeader before the name (the spec's "50 fixed" counts the name length).
const TOPIC_HEADER_FIXED_BYTES: usize = 49;
/// Smallest TopicHeader: fixed part, a 1-byte name with its length, two empty option blocks.
pub(crate) const TOPIC_HEADER_BYTES_MIN: usize = TOPIC_HEADER_FIXED_BYTES + 2 + 8;

/// TopicHeader (§3): the reply element of get_topic(s), get_stream and create_topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicHeader {
    /// 0-based id within the stream.
    pub id: u32,
    /// Creation time, µs.
    pub created_at: u64,
    /// Number of partitions.
    pub partitions_count: u32,
    /// µs; 0 = server default, u64::MAX = never.
    pub message_expiry: u64,
    /// 1 none, 2 gzip (metadata only).
    pub compression: u8,
    /// Bytes; 0 = server default, u64::MAX = unlimited.
    pub max_topic_size: u64,
    /// Stored bytes.
    pub size_bytes: u64,
    /// Stored messages.
    pub messages_count: u64,
    /// Name.
    pub name: String,
    /// Options the user set.
    pub explicit_options: Options,
    /// Options resolved from defaults.
    pub derived_options: Options,
}

impl TopicHeader {
    /// Read one header from `reader`.
    pub fn read(reader: &mut Reader<'_>) -> Result<Self> {
        Ok(Self {
            id: reader.u32("topic_id")?,
            created_at: reader.u64("created_at")?,
            partitions_count: reader.u32("partitions_count")?,
            message_expiry: reader.u64("message_expiry")?,
            compression: reader.u8("compression")?,
            max_topic_size: reader.u64("max_topic_size")?,
            size_bytes: reader.u64("size_bytes")?,
            messages_count: reader.u64("messages_count")?,
            name: reader.string_u8("topic_name", 1, NAME_BYTES_MAX)?,
            explicit_options: read_prefixed_options(reader, "explicit_options")?,
            derived_options: read_prefixed_options(reader, "derived_options")?,
        })
    }
}

impl WireEncode for TopicHeader {
    fn encoded_size(&self) -> usize {
        TOPIC_HEADER_FIXED_BYTES
            + string_u8_size(&self.name)
            + 8
            + self.explicit_options.encoded_size()
            + self.derived_options.encoded_size()
    }

    fn encode(&self, out: &mut BytesMut) {
        out.put_u32_le(self.id);
        out.put_u64_le(self.created_at);
        out.put_u32_le(self.partitions_count);
        out.put_u64_le(self.message_expiry);
        out.put_u8(self.compression);
        out.put_u64_le(self.max_topic_size);
        out.put_u64_le(self.size_bytes);
        out.put_u64_le(self.messages_count);
        put_string_u8(out, &self.name);
        put_prefixed_options(out, &self.explicit_options);
        put_prefixed_options(out, &self.derived_options);
    }
}

impl WireDecode for TopicHeader {
    fn decode(bytes: &[u8]) -> Result<(Self, usize)> {
        let mut reader = Reader::new(bytes);
        let header = Self::read(&mut reader)?;
        Ok((header, reader.position()))
    }
}

wire_struct! {
    /// Partition element of get_topic (40 bytes).
    pub struct PartitionDetails {
        /// 0-based partition id.
        pub id: u32,
        /// Creation time, µs.
        pub created_at: u64,
        /// Segments in the partition.
        pub segments_count: u32,
        /// Highest offset, or 0 when empty.
        pub current_offset: u64,
        /// Stored bytes.
        pub size_bytes: u64,
        /// Stored messages.
        pub messages_count: u64,
    }
}

/// Size of one [`PartitionDetails`].
const PARTITION_DETAILS_BYTES: usize = 40;

/// get_topic / create_topic reply: the header followed by `partitions_count` partitions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicDetails {
    /// The topic; its `partitions_count` is written from `partitions.len()`.
    pub topic: TopicHeader,
    /// Its partitions.
    pub partitions: Vec<PartitionDetails>,
}

impl WireEncode for TopicDetails {
    fn encoded_size(&self) -> usize {
        self.topic.encoded_size() + PARTITION_DETAILS_BYTES * self.partitions.len()
    }

    fn encode(&self, out: &mut BytesMut) {
        let topic = TopicHeader {
            partitions_count: self.partitions.len() as u32,
            ..self.topic.clone()
        };
        topic.encode(out);
        for partition in &self.partitions {
            partition.encode(out);
        }
    }
}

impl WireDecode for TopicDetails {
    fn decode(bytes: &[u8]) -> Result<(Self, usize)> {
        let mut reader = Reader::new(bytes);
        let topic = TopicHeader::read(&mut reader)?;
        let count = topic.partitions_count as usize;
        check_range("partitions_count", count as u64, 0, LIST_ENTRIES_MAX as u64)?;
        let mut partitions = Vec::with_capacity(bounded_capacity(
            count,
            PARTITION_DETAILS_BYTES,
            reader.remaining(),
        ));
        for _ in 0..count {
            let slice = reader.take("partition", PARTITION_DETAILS_BYTES)?;
            partitions.push(PartitionDetails::decode_exact(slice)?);
        }
        Ok((Self { topic, partitions }, reader.position()))
    }
}

/// get_topics reply: `[count:u32]` then TopicHeaders (the only list with a count prefix).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TopicList {
    /// Topics of the stream.
    pub topics: Vec<TopicHeader>,
}

impl WireEncode for TopicList {
    fn encoded_size(&self) -> usize {
        4 + self
            .topics
            .iter()
            .map(WireEncode::encoded_size)
            .sum::<usize>()
    }

    fn encode(&self, out: &mut BytesMut) {
        out.put_u32_le(self.topics.len() as u32);
        for topic in &self.topics {
            topic.encode(out);
        }
    }
}

impl WireDecode for TopicList {
    fn decode(bytes: &[u8]) -> Result<(Self, usize)> {
        let mut reader = Reader::new(bytes);
        let count = reader.u32("topics_count")? as usize;
        check_range("topics_count", count as u64, 0, LIST_ENTRIES_MAX as u64)?;
        let mut topics = Vec::with_capacity(bounded_capacity(
            count,
            TOPIC_HEADER_BYTES_MIN,
            reader.remaining(),
        ));
        for _ in 0..count {
            topics.push(TopicHeader::read(&mut reader)?);
        }
        Ok((Self { topics }, reader.position()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::native::codec::testing::{roundtrip_open_ended, roundtrip_strict};
    use crate::native::user_headers::HeaderEntry;

    fn topic() -> TopicHeader {
        TopicHeader {
            id: 0,
            created_at: 1,
            partitions_count: 2,
            message_expiry: u64::MAX,
            compression: 1,
            max_topic_size: u64::MAX,
            size_bytes: 0,
            messages_count: 0,
            name: "t".into(),
            explicit_options: Options::default(),
            derived_options: Options {
                entries: vec![HeaderEntry::string("durability", "replicated")],
            },
        }
    }

    #[test]
    fn create_topic_layout() {
        let create = CreateTopic {
            stream_id: Identifier::Numeric(0),
            partitions_count: 2,
            name: "t".into(),
            options: Options {
                entries: vec![HeaderEntry::string("segment_size", "1 GiB")],
            },
        };
        let bytes = roundtrip_open_ended(&create);
        assert_eq!(&bytes[..12], &[1, 4, 0, 0, 0, 0, 2, 0, 0, 0, 1, b't']);
        roundtrip_open_ended(&UpdateTopic {
            stream_id: Identifier::Numeric(0),
            topic_id: Identifier::name("t").unwrap(),
            name: "u".into(),
            options: Options::default(),
        });
        roundtrip_strict(&TopicRef {
            stream_id: Identifier::Numeric(1),
            topic_id: Identifier::Numeric(2),
        });
    }

    #[test]
    fn topic_header_layout() {
        let bytes = roundtrip_strict(&topic());
        assert_eq!(bytes[24], 1);
        assert_eq!(&bytes[49..51], &[1, b't']);
        assert_eq!(&bytes[51..55], &0u32.to_le_bytes());
        assert_eq!(
            bytes.len(),
            51 + 4 + 4 + topic().derived_options.encoded_size()
        );
    }

    #[test]
    fn details_and_list() {
        let partition = PartitionDetails {
            id: 0,
            created_at: 1,
            segments_count: 1,
            current_offset: 9,
            size_bytes: 100,
            messages_count: 10,
        };
        assert_eq!(roundtrip_strict(&partition).len(), 40);
        let details = TopicDetails {
            topic: topic(),
            partitions: vec![partition.clone(), PartitionDetails { id: 1, ..partition }],
        };
        roundtrip_strict(&details);
        let list = TopicList {
            topics: vec![topic(), TopicHeader { id: 1, ..topic() }],
        };
        let bytes = roundtrip_strict(&list);
        assert_eq!(&bytes[..4], &2u32.to_le_bytes());
        assert!(TopicList::decode(&[0xff, 0xff, 0xff, 0x7f]).is_err());
    }
}
