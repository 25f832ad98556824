//! The typed header TLV (§4.7) used for message user headers and, with string keys, for the
//! option blocks of create/update commands:
//! `[key_kind:u8][key_len:u32][key][value_kind:u8][value_len:u32][value]` per entry, lengths
//! 1..=255, kinds non-zero. Unknown kinds are carried as they are, never rejected, because the
//! broker stores and serves these bytes without interpreting them.
//!
//! A sent message's block is checked by [`validate_user_headers`] before it is stored, in place:
//! the Kafka side transcodes every stored block into Kafka headers, and the SDK's own reader
//! (`user_headers_map`) refuses a fixed-size kind of the wrong size, so a block either fails
//! would make the message unreadable to a reader of one protocol or the other.

use bytes::{BufMut, Bytes, BytesMut};

use crate::native::codec::{Reader, bounded_capacity, check_range, utf8};
use crate::native::error::{NativeWireError, Result};
use crate::native::limits::{
    HEADER_FIELD_BYTES_MAX, OPTION_ENTRIES_MAX, OPTIONS_BYTES_MAX, USER_HEADERS_BYTES_MAX,
};

/// Kind code of a UTF-8 string key or value.
pub const KIND_STRING: u8 = 2;

/// Bytes of an entry's kind and length fields.
const FIELD_PREFIX_BYTES: usize = 1 + 4;

/// Which half of a user-header entry is malformed: Iggy answers InvalidHeaderKey (4018) for the
/// key and InvalidHeaderValue (4019) for the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderPart {
    /// The key kind, length or bytes.
    Key,
    /// The value kind, length or bytes, or a key with no value after it.
    Value,
}

/// Size a field of `kind` must have, for the fixed-size kinds of §4.7 (bool, the integers and
/// floats); `None` for raw, string and unknown kinds.
#[must_use]
pub fn kind_size(kind: u8) -> Option<usize> {
    match kind {
        3 | 4 | 9 => Some(1),
        5 | 10 => Some(2),
        6 | 11 | 14 => Some(4),
        7 | 12 | 15 => Some(8),
        8 | 13 => Some(16),
        _ => None,
    }
}

/// Checks a message's user-headers block without allocating: whole key/value entries back to
/// back, kinds non-zero, lengths 1..=255 and exactly the size of a fixed-size kind, nothing
/// cut short (what Iggy's `validate_user_headers` and `user_headers_from_wire` check). Unknown
/// kinds pass. The length against [`USER_HEADERS_BYTES_MAX`] is the frame's own check.
pub fn validate_user_headers(bytes: &[u8]) -> Result<()> {
    let mut rest = bytes;
    while !rest.is_empty() {
        rest = header_field(bytes, rest, HeaderPart::Key)?;
        rest = header_field(bytes, rest, HeaderPart::Value)?;
    }
    Ok(())
}

/// Checks the field at the start of `rest` (a suffix of `block`) and returns what follows it.
fn header_field<'a>(block: &[u8], rest: &'a [u8], part: HeaderPart) -> Result<&'a [u8]> {
    let invalid = || NativeWireError::InvalidUserHeader {
        part,
        offset: block.len() - rest.len(),
    };
    let (prefix, after) = rest
        .split_first_chunk::<FIELD_PREFIX_BYTES>()
        .ok_or_else(invalid)?;
    let [kind, length @ ..] = *prefix;
    let length = u32::from_le_bytes(length) as usize;
    let fits = kind != 0
        && (1..=HEADER_FIELD_BYTES_MAX as usize).contains(&length)
        && kind_size(kind).is_none_or(|size| size == length);
    if !fits {
        return Err(invalid());
    }
    after.get(length..).ok_or_else(invalid)
}

/// Smallest encoded entry: two kind bytes, two lengths, one byte each of key and value.
const ENTRY_BYTES_MIN: usize = 1 + 4 + 1 + 1 + 4 + 1;

/// One header or option entry. Key and value stay raw bytes with their kind codes: the broker
/// carries them, and only option handling looks inside.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderEntry {
    /// Kind of the key (normally 2, string).
    pub key_kind: u8,
    /// Key bytes, 1..=255.
    pub key: Bytes,
    /// Kind of the value (1 raw, 2 string, 3 bool, 4..=15 numbers; others carried).
    pub value_kind: u8,
    /// Value bytes, 1..=255, numbers little-endian.
    pub value: Bytes,
}

impl HeaderEntry {
    /// A string-keyed, string-valued entry: the shape option blocks use.
    #[must_use]
    pub fn string(key: &str, value: &str) -> Self {
        Self {
            key_kind: KIND_STRING,
            key: Bytes::copy_from_slice(key.as_bytes()),
            value_kind: KIND_STRING,
            value: Bytes::copy_from_slice(value.as_bytes()),
        }
    }

    /// Encoded size of this entry.
    #[must_use]
    pub fn encoded_size(&self) -> usize {
        10 + self.key.len() + self.value.len()
    }

    /// Append this entry.
    pub fn encode(&self, out: &mut BytesMut) {
        out.put_u8(self.key_kind);
        out.put_u32_le(self.key.len() as u32);
        out.put_slice(&self.key);
        out.put_u8(self.value_kind);
        out.put_u32_le(self.value.len() as u32);
        out.put_slice(&self.value);
    }

    fn decode(reader: &mut Reader<'_>) -> Result<Self> {
        let key_kind = non_zero_kind(reader.u8("header_key_kind")?)?;
        let key = bounded_field(reader, "header_key")?;
        let value_kind = non_zero_kind(reader.u8("header_value_kind")?)?;
        let value = bounded_field(reader, "header_value")?;
        Ok(Self {
            key_kind,
            key,
            value_kind,
            value,
        })
    }
}

fn non_zero_kind(kind: u8) -> Result<u8> {
    if kind == 0 {
        return Err(NativeWireError::InvalidValue {
            field: "header_kind",
            value: 0,
        });
    }
    Ok(kind)
}

fn bounded_field(reader: &mut Reader<'_>, field: &'static str) -> Result<Bytes> {
    reader.bytes_u32(field, 1, HEADER_FIELD_BYTES_MAX as usize)
}

/// Decode a whole TLV block (entries back to back until the end) with at most `entries_max`
/// entries.
pub fn decode_entries(bytes: &[u8], entries_max: usize) -> Result<Vec<HeaderEntry>> {
    let mut reader = Reader::new(bytes);
    let mut entries =
        Vec::with_capacity(bounded_capacity(entries_max, ENTRY_BYTES_MIN, bytes.len()));
    while reader.remaining() > 0 {
        if entries.len() == entries_max {
            return Err(NativeWireError::OutOfRange {
                field: "header_entries",
                value: entries.len() as u64 + 1,
                min: 0,
                max: entries_max as u64,
            });
        }
        entries.push(HeaderEntry::decode(&mut reader)?);
    }
    Ok(entries)
}

/// Encoded size of a TLV block.
#[must_use]
pub fn entries_size(entries: &[HeaderEntry]) -> usize {
    entries.iter().map(HeaderEntry::encoded_size).sum()
}

/// Append a TLV block.
pub fn encode_entries(entries: &[HeaderEntry], out: &mut BytesMut) {
    for entry in entries {
        entry.encode(out);
    }
}

/// Decode a message's user-headers block, bounded by [`USER_HEADERS_BYTES_MAX`].
pub fn decode_user_headers(bytes: &[u8]) -> Result<Vec<HeaderEntry>> {
    check_range(
        "user_headers_length",
        bytes.len() as u64,
        0,
        u64::from(USER_HEADERS_BYTES_MAX),
    )?;
    decode_entries(bytes, bytes.len() / ENTRY_BYTES_MIN)
}

/// An options block of a create/update command: string keys, no duplicates, at most
/// [`OPTION_ENTRIES_MAX`] entries and [`OPTIONS_BYTES_MAX`] bytes. Which keys are allowed is the
/// broker's business (it answers 4041 for unknown keys); the codec only checks the shape.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Options {
    /// Entries in wire order.
    pub entries: Vec<HeaderEntry>,
}

impl Options {
    /// Decode an options block that spans all of `bytes`.
    pub fn decode_block(bytes: &[u8]) -> Result<Self> {
        check_range(
            "options_length",
            bytes.len() as u64,
            0,
            OPTIONS_BYTES_MAX as u64,
        )?;
        let entries = decode_entries(bytes, OPTION_ENTRIES_MAX)?;
        for (position, entry) in entries.iter().enumerate() {
            if entry.key_kind != KIND_STRING {
                return Err(NativeWireError::InvalidValue {
                    field: "option_key_kind",
                    value: u64::from(entry.key_kind),
                });
            }
            utf8("option_key", &entry.key)?;
            if entries[..position]
                .iter()
                .any(|other| other.key == entry.key)
            {
                return Err(NativeWireError::Duplicate {
                    field: "option_key",
                });
            }
        }
        Ok(Self { entries })
    }

    /// Encoded size of the block (without any length prefix).
    #[must_use]
    pub fn encoded_size(&self) -> usize {
        entries_size(&self.entries)
    }

    /// Append the block (without any length prefix).
    pub fn encode(&self, out: &mut BytesMut) {
        encode_entries(&self.entries, out);
    }

    /// The entry for `key`, if present.
    #[must_use]
    pub fn get(&self, key: &str) -> Option<&HeaderEntry> {
        self.entries
            .iter()
            .find(|entry| entry.key == key.as_bytes())
    }
}

/// Read `[len:u32][options]` (the reply-side framing used by stream, topic and user headers).
pub fn read_prefixed_options(reader: &mut Reader<'_>, field: &'static str) -> Result<Options> {
    let length = reader.length_u32(field, 0, OPTIONS_BYTES_MAX)?;
    Options::decode_block(reader.take(field, length)?)
}

/// Write `[len:u32][options]`.
pub fn put_prefixed_options(out: &mut BytesMut, options: &Options) {
    out.put_u32_le(options.encoded_size() as u32);
    options.encode(out);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<HeaderEntry> {
        vec![
            HeaderEntry::string("k", "v"),
            HeaderEntry {
                key_kind: KIND_STRING,
                key: Bytes::from_static(b"n"),
                value_kind: 12,
                value: Bytes::copy_from_slice(&7u64.to_le_bytes()),
            },
            HeaderEntry {
                key_kind: 200,
                key: Bytes::from_static(b"?"),
                value_kind: 99,
                value: Bytes::from_static(b"carried"),
            },
        ]
    }

    #[test]
    fn layout_and_round_trip() {
        let mut out = BytesMut::new();
        encode_entries(&sample()[..1], &mut out);
        assert_eq!(&out[..], &[2, 1, 0, 0, 0, b'k', 2, 1, 0, 0, 0, b'v']);
        let mut all = BytesMut::new();
        encode_entries(&sample(), &mut all);
        assert_eq!(all.len(), entries_size(&sample()));
        assert_eq!(decode_user_headers(&all).unwrap(), sample());
        for cut in 0..all.len() {
            if let Ok(decoded) = decode_user_headers(&all[..cut]) {
                assert_ne!(decoded, sample());
            }
        }
    }

    #[test]
    fn bounds_are_enforced() {
        assert!(decode_user_headers(&[0, 1, 0, 0, 0, b'k', 2, 1, 0, 0, 0, b'v']).is_err());
        assert!(decode_user_headers(&[2, 0, 0, 0, 0, 2, 1, 0, 0, 0, b'v']).is_err());
        assert!(decode_user_headers(&[2, 0, 1, 0, 0]).is_err());
        let big = vec![0u8; USER_HEADERS_BYTES_MAX as usize + 1];
        assert!(decode_user_headers(&big).is_err());
    }

    #[test]
    fn options_reject_duplicates_and_non_string_keys() {
        let mut out = BytesMut::new();
        encode_entries(&[HeaderEntry::string("durability", "replicated")], &mut out);
        let options = Options::decode_block(&out).unwrap();
        assert_eq!(
            options.get("durability").unwrap().value,
            "replicated".as_bytes()
        );
        encode_entries(&[HeaderEntry::string("durability", "persisted")], &mut out);
        assert_eq!(
            Options::decode_block(&out),
            Err(NativeWireError::Duplicate {
                field: "option_key"
            })
        );
        let mut non_string = BytesMut::new();
        encode_entries(&sample()[2..], &mut non_string);
        assert!(Options::decode_block(&non_string).is_err());
    }
}
