//! Stream commands (200–205): get / list / create / delete / update / purge, plus the
//! StreamHeader reply element.

use bytes::{BufMut, BytesMut};

use super::topics::TopicHeader;
use crate::native::codec::{
    Reader, WireDecode, WireEncode, bounded_capacity, check_range, put_string_u8, string_u8_size,
    wire_struct,
};
use crate::native::error::Result;
use crate::native::identifier::Identifier;
use crate::native::limits::{LIST_ENTRIES_MAX, NAME_BYTES_MAX};
use crate::native::user_headers::{Options, put_prefixed_options, read_prefixed_options};

wire_struct! {
    /// get_stream (200), delete_stream (203), purge_stream (205) and get_topics (301): a body
    /// that names one stream.
    pub struct StreamRef {
        /// The stream.
        pub stream_id: Identifier,
    }
}

wire_struct! {
    /// create_stream (202): a name, then options up to the end of the body. No id: the server
    /// assigns the lowest free one.
    pub struct CreateStream {
        /// 1..=255 bytes.
        pub name: String,
        /// Option entries; absent keys take defaults.
        pub options: Options,
    }
}

wire_struct! {
    /// update_stream (204): new name and options (absent keys unchanged).
    pub struct UpdateStream {
        /// The stream.
        pub stream_id: Identifier,
        /// New name.
        pub name: String,
        /// Changed options.
        pub options: Options,
    }
}

/// Fixed part of a StreamHeader: id, created_at, topics_count, size_bytes, messages_count.
const STREAM_HEADER_FIXED_BYTES: usize = 32;

/// StreamHeader (§3): the reply element of get_stream(s) and create_stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamHeader {
    /// 0-based id.
    pub id: u32,
    /// Creation time, µs.
    pub created_at: u64,
    /// Number of topics.
    pub topics_count: u32,
    /// Stored bytes.
    pub size_bytes: u64,
    /// Stored messages.
    pub messages_count: u64,
    /// Name.
    pub name: String,
    /// Effective options.
    pub options: Options,
}

impl StreamHeader {
    /// Read one header from `reader`.
    pub fn read(reader: &mut Reader<'_>) -> Result<Self> {
        Ok(Self {
            id: reader.u32("stream_id")?,
            created_at: reader.u64("created_at")?,
            topics_count: reader.u32("topics_count")?,
            size_bytes: reader.u64("size_bytes")?,
            messages_count: reader.u64("messages_count")?,
            name: reader.string_u8("stream_name", 1, NAME_BYTES_MAX)?,
            options: read_prefixed_options(reader, "stream_options")?,
        })
    }
}

impl WireEncode for StreamHeader {
    fn encoded_size(&self) -> usize {
        STREAM_HEADER_FIXED_BYTES + string_u8_size(&self.name) + 4 + self.options.encoded_size()
    }

    fn encode(&self, out: &mut BytesMut) {
        out.put_u32_le(self.id);
        out.put_u64_le(self.created_at);
        out.put_u32_le(self.topics_count);
        out.put_u64_le(self.size_bytes);
        out.put_u64_le(self.messages_count);
        put_string_u8(out, &self.name);
        put_prefixed_options(out, &self.options);
    }
}

impl WireDecode for StreamHeader {
    fn decode(bytes: &[u8]) -> Result<(Self, usize)> {
        let mut reader = Reader::new(bytes);
        let header = Self::read(&mut reader)?;
        Ok((header, reader.position()))
    }
}

/// get_stream / create_stream reply: the header followed by `topics_count` topic headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamDetails {
    /// The stream; its `topics_count` is written from `topics.len()`.
    pub stream: StreamHeader,
    /// Its topics.
    pub topics: Vec<TopicHeader>,
}

impl WireEncode for StreamDetails {
    fn encoded_size(&self) -> usize {
        self.stream.encoded_size()
            + self
                .topics
                .iter()
                .map(WireEncode::encoded_size)
                .sum::<usize>()
    }

    fn encode(&self, out: &mut BytesMut) {
        let stream = StreamHeader {
            topics_count: self.topics.len() as u32,
            ..self.stream.clone()
        };
        stream.encode(out);
        for topic in &self.topics {
            topic.encode(out);
        }
    }
}

impl WireDecode for StreamDetails {
    fn decode(bytes: &[u8]) -> Result<(Self, usize)> {
        let mut reader = Reader::new(bytes);
        let stream = StreamHeader::read(&mut reader)?;
        let count = stream.topics_count as usize;
        check_range("topics_count", count as u64, 0, LIST_ENTRIES_MAX as u64)?;
        let mut topics = Vec::with_capacity(bounded_capacity(count, 59, reader.remaining()));
        for _ in 0..count {
            topics.push(TopicHeader::read(&mut reader)?);
        }
        Ok((Self { stream, topics }, reader.position()))
    }
}

/// get_streams reply: StreamHeaders back to back, no count prefix.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StreamList {
    /// All streams.
    pub streams: Vec<StreamHeader>,
}

impl WireEncode for StreamList {
    fn encoded_size(&self) -> usize {
        self.streams.iter().map(WireEncode::encoded_size).sum()
    }

    fn encode(&self, out: &mut BytesMut) {
        for stream in &self.streams {
            stream.encode(out);
        }
    }
}

impl WireDecode for StreamList {
    fn decode(bytes: &[u8]) -> Result<(Self, usize)> {
        let mut reader = Reader::new(bytes);
        let mut streams = Vec::new();
        while reader.remaining() > 0 {
            check_range(
                "streams",
                streams.len() as u64,
                0,
                LIST_ENTRIES_MAX as u64 - 1,
            )?;
            streams.push(StreamHeader::read(&mut reader)?);
        }
        Ok((Self { streams }, reader.position()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::native::codec::testing::{roundtrip_open_ended, roundtrip_strict};
    use crate::native::user_headers::HeaderEntry;

    fn options() -> Options {
        Options {
            entries: vec![HeaderEntry::string("k", "v")],
        }
    }

    #[test]
    fn stream_ref_layout() {
        let bytes = roundtrip_strict(&StreamRef {
            stream_id: Identifier::Numeric(3),
        });
        assert_eq!(bytes, vec![1, 4, 3, 0, 0, 0]);
    }

    #[test]
    fn create_stream_layout_and_options() {
        let bare = CreateStream {
            name: "s1".into(),
            options: Options::default(),
        };
        assert_eq!(roundtrip_strict(&bare), vec![2, b's', b'1']);
        let with = CreateStream {
            name: "s1".into(),
            options: options(),
        };
        let bytes = roundtrip_open_ended(&with);
        assert_eq!(&bytes[3..], &[2, 1, 0, 0, 0, b'k', 2, 1, 0, 0, 0, b'v']);
        assert!(CreateStream::decode_exact(&[0]).is_err());
    }

    #[test]
    fn update_stream_round_trip() {
        roundtrip_open_ended(&UpdateStream {
            stream_id: Identifier::name("old").unwrap(),
            name: "new".into(),
            options: options(),
        });
    }

    #[test]
    fn stream_header_layout() {
        let header = StreamHeader {
            id: 1,
            created_at: 2,
            topics_count: 0,
            size_bytes: 3,
            messages_count: 4,
            name: "s".into(),
            options: options(),
        };
        let bytes = roundtrip_strict(&header);
        assert_eq!(&bytes[..4], &1u32.to_le_bytes());
        assert_eq!(&bytes[12..16], &0u32.to_le_bytes());
        assert_eq!(&bytes[32..34], &[1, b's']);
        assert_eq!(&bytes[34..38], &12u32.to_le_bytes());
        let details = StreamDetails {
            stream: header.clone(),
            topics: vec![],
        };
        roundtrip_strict(&details);
        let list = StreamList {
            streams: vec![header.clone(), header],
        };
        let bytes = list.to_bytes();
        assert_eq!(StreamList::decode_exact(&bytes).unwrap(), list);
        assert!(StreamList::decode_exact(&bytes[..bytes.len() - 1]).is_err());
    }
}
