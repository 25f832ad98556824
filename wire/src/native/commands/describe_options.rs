//! describe_options (13): which option keys a resource scope accepts, with kinds, defaults and
//! descriptions, so SDKs and tools can discover the keys of §4.7 instead of hard-coding them.

use bytes::{BufMut, Bytes, BytesMut};

use crate::native::codec::{
    Reader, WireDecode, WireEncode, WireField, bounded_capacity, check_range, put_bytes_u32,
    put_string_u8, string_u8_size, wire_struct,
};
use crate::native::error::{NativeWireError, Result};
use crate::native::limits::{NAME_BYTES_MAX, OPTION_ENTRIES_MAX, TEXT_BYTES_MAX};

/// Resource whose options are described.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptionScope {
    /// 1: topic options.
    Topic,
    /// 2: stream options.
    Stream,
    /// 3: user options.
    User,
}

impl WireField for OptionScope {
    fn read_field(reader: &mut Reader<'_>, field: &'static str) -> Result<Self> {
        match reader.u8(field)? {
            1 => Ok(Self::Topic),
            2 => Ok(Self::Stream),
            3 => Ok(Self::User),
            other => Err(NativeWireError::InvalidValue {
                field,
                value: u64::from(other),
            }),
        }
    }

    fn field_size(&self) -> usize {
        1
    }

    fn write_field(&self, out: &mut BytesMut) {
        out.put_u8(match self {
            Self::Topic => 1,
            Self::Stream => 2,
            Self::User => 3,
        });
    }
}

wire_struct! {
    /// describe_options request.
    pub struct DescribeOptions {
        /// Scope asked about.
        pub scope: OptionScope,
    }
}

/// One described option key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptionDescription {
    /// Key, as used in option blocks.
    pub key: String,
    /// Value kind code (§4.7).
    pub kind: u8,
    /// Default value in the encoding of `kind` (a u64 default is 8 little-endian bytes, a
    /// string default its UTF-8 bytes), so an SDK can build a typed header value from it; empty
    /// when the key has no default.
    pub default: Bytes,
    /// Human-readable description.
    pub description: String,
}

/// Smallest encoded description: empty key, kind, two empty u32-framed strings.
const DESCRIPTION_BYTES_MIN: usize = 1 + 1 + 4 + 4;

/// describe_options reply: `[count:u32]` then descriptions.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OptionDescriptions {
    /// Keys of the scope.
    pub options: Vec<OptionDescription>,
}

impl WireEncode for OptionDescriptions {
    fn encoded_size(&self) -> usize {
        4 + self
            .options
            .iter()
            .map(|option| {
                string_u8_size(&option.key) + 9 + option.default.len() + option.description.len()
            })
            .sum::<usize>()
    }

    fn encode(&self, out: &mut BytesMut) {
        out.put_u32_le(self.options.len() as u32);
        for option in &self.options {
            put_string_u8(out, &option.key);
            out.put_u8(option.kind);
            put_bytes_u32(out, &option.default);
            put_bytes_u32(out, option.description.as_bytes());
        }
    }
}

impl WireDecode for OptionDescriptions {
    fn decode(bytes: &[u8]) -> Result<(Self, usize)> {
        let mut reader = Reader::new(bytes);
        let count = reader.u32("options_count")? as usize;
        check_range("options_count", count as u64, 0, OPTION_ENTRIES_MAX as u64)?;
        let mut options = Vec::with_capacity(bounded_capacity(
            count,
            DESCRIPTION_BYTES_MIN,
            reader.remaining(),
        ));
        for _ in 0..count {
            options.push(OptionDescription {
                key: reader.string_u8("option_key", 1, NAME_BYTES_MAX)?,
                kind: reader.u8("option_kind")?,
                default: reader.bytes_u32("option_default", 0, TEXT_BYTES_MAX)?,
                description: reader.string_u32("option_description", 0, TEXT_BYTES_MAX)?,
            });
        }
        Ok((Self { options }, reader.position()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::native::codec::testing::roundtrip_strict;

    #[test]
    fn request_and_reply_layout() {
        assert_eq!(
            roundtrip_strict(&DescribeOptions {
                scope: OptionScope::Stream
            }),
            vec![2]
        );
        assert!(DescribeOptions::decode_exact(&[4]).is_err());
        let reply = OptionDescriptions {
            options: vec![OptionDescription {
                key: "durability".into(),
                kind: 2,
                default: Bytes::from_static(b"replicated"),
                description: "how writes are made durable".into(),
            }],
        };
        let bytes = roundtrip_strict(&reply);
        assert_eq!(&bytes[..6], &[1, 0, 0, 0, 10, b'd']);
        assert_eq!(bytes[15], 2);
        assert_eq!(&bytes[16..20], &10u32.to_le_bytes());
        let numeric = OptionDescriptions {
            options: vec![OptionDescription {
                key: "max_topic_size".into(),
                kind: 12,
                default: Bytes::copy_from_slice(&u64::MAX.to_le_bytes()),
                description: String::new(),
            }],
        };
        let bytes = roundtrip_strict(&numeric);
        assert_eq!(&bytes[20..24], &8u32.to_le_bytes());
        assert_eq!(&bytes[24..32], &[0xff; 8]);
    }
}
