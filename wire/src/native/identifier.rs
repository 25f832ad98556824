//! Identifiers (§5): `[kind:u8][len:u8][value]`, kind 1 numeric (len 4, u32 LE) or kind 2 string
//! (len 1..=255, UTF-8). Streams, topics, groups, users and consumers are all named this way.

use bytes::{BufMut, BytesMut};

use crate::native::codec::{Reader, WireDecode, WireEncode, check_range, utf8};
use crate::native::error::{NativeWireError, Result};
use crate::native::limits::NAME_BYTES_MAX;

const KIND_NUMERIC: u8 = 1;
const KIND_STRING: u8 = 2;

/// A resource named by number or by name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Identifier {
    /// Server-assigned 0-based id.
    Numeric(u32),
    /// Name, 1..=255 bytes of UTF-8.
    Name(String),
}

impl Identifier {
    /// A name identifier, refusing empty or over-long names so an encoded identifier is always
    /// decodable.
    pub fn name(name: &str) -> Result<Self> {
        check_range(
            "identifier_length",
            name.len() as u64,
            1,
            NAME_BYTES_MAX as u64,
        )?;
        Ok(Self::Name(name.to_owned()))
    }
}

impl WireEncode for Identifier {
    fn encoded_size(&self) -> usize {
        match self {
            Self::Numeric(_) => 6,
            Self::Name(name) => 2 + name.len().min(NAME_BYTES_MAX),
        }
    }

    fn encode(&self, out: &mut BytesMut) {
        match self {
            Self::Numeric(id) => {
                out.put_u8(KIND_NUMERIC);
                out.put_u8(4);
                out.put_u32_le(*id);
            }
            Self::Name(name) => {
                out.put_u8(KIND_STRING);
                crate::native::codec::put_string_u8(out, name);
            }
        }
    }
}

impl WireDecode for Identifier {
    fn decode(bytes: &[u8]) -> Result<(Self, usize)> {
        let mut reader = Reader::new(bytes);
        let kind = reader.u8("identifier_kind")?;
        let length = reader.u8("identifier_length")?;
        let identifier = match kind {
            KIND_NUMERIC => {
                if length != 4 {
                    return Err(NativeWireError::InvalidValue {
                        field: "identifier_length",
                        value: u64::from(length),
                    });
                }
                Self::Numeric(reader.u32("identifier_value")?)
            }
            KIND_STRING => {
                check_range(
                    "identifier_length",
                    u64::from(length),
                    1,
                    NAME_BYTES_MAX as u64,
                )?;
                let text = reader.take("identifier_value", usize::from(length))?;
                Self::Name(utf8("identifier_value", text)?)
            }
            other => {
                return Err(NativeWireError::InvalidValue {
                    field: "identifier_kind",
                    value: u64::from(other),
                });
            }
        };
        Ok((identifier, reader.position()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::native::codec::testing::roundtrip_strict;

    #[test]
    fn numeric_layout_matches_capture() {
        assert_eq!(
            roundtrip_strict(&Identifier::Numeric(0)),
            vec![1, 4, 0, 0, 0, 0]
        );
        assert_eq!(
            roundtrip_strict(&Identifier::Numeric(258)),
            vec![1, 4, 2, 1, 0, 0]
        );
    }

    #[test]
    fn name_round_trips() {
        let bytes = roundtrip_strict(&Identifier::name("orders").unwrap());
        assert_eq!(bytes[..2], [2, 6]);
        roundtrip_strict(&Identifier::name(&"x".repeat(255)).unwrap());
    }

    #[test]
    fn bad_shapes_are_rejected() {
        assert!(Identifier::name("").is_err());
        assert!(Identifier::name(&"x".repeat(256)).is_err());
        assert!(Identifier::decode(&[1, 3, 0, 0, 0]).is_err());
        assert!(Identifier::decode(&[2, 0]).is_err());
        assert!(Identifier::decode(&[3, 4, 0, 0, 0, 0]).is_err());
        assert!(Identifier::decode(&[2, 2, 0xff, 0xfe]).is_err());
    }
}
