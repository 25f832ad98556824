//! The one codec shape every native type follows, and the bounded little-endian reader they are
//! built from. Decoding takes a plain slice and reports how many bytes it used; encoding writes
//! into a caller-owned buffer and knows its exact size up front, so the broker can reserve once.

use bytes::{BufMut, Bytes, BytesMut};

use crate::native::error::{NativeWireError, Result};

/// A type that can be written to the wire.
pub trait WireEncode {
    /// Exact number of bytes [`WireEncode::encode`] will append, so callers can reserve once.
    fn encoded_size(&self) -> usize;

    /// Append the wire form to `out`.
    fn encode(&self, out: &mut BytesMut);

    /// Convenience for tests and replies: encode into a fresh buffer of the exact size.
    fn to_bytes(&self) -> Bytes {
        let mut out = BytesMut::with_capacity(self.encoded_size());
        self.encode(&mut out);
        out.freeze()
    }
}

/// A type that can be read from the wire.
pub trait WireDecode: Sized {
    /// Decode from the start of `bytes`, returning the value and the bytes consumed.
    fn decode(bytes: &[u8]) -> Result<(Self, usize)>;

    /// Decode a whole request or reply body: leftovers are an error, because a body that is
    /// longer than its fields means the peer and we disagree about the layout.
    fn decode_exact(bytes: &[u8]) -> Result<Self> {
        let (value, used) = Self::decode(bytes)?;
        if used != bytes.len() {
            return Err(NativeWireError::TrailingBytes {
                field: std::any::type_name::<Self>(),
                extra: bytes.len() - used,
            });
        }
        Ok(value)
    }
}

/// Capacity to preallocate for `count` elements of at least `element_min` bytes each when only
/// `remaining` bytes are left: a peer's count never sizes an allocation beyond what the input
/// can actually hold.
#[must_use]
pub fn bounded_capacity(count: usize, element_min: usize, remaining: usize) -> usize {
    count.min(remaining / element_min.max(1))
}

/// A cursor over a byte slice with bounds-checked little-endian reads. Every read names its
/// field so errors say what was being decoded and where.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    bytes: &'a [u8],
    position: usize,
}

impl<'a> Reader<'a> {
    /// Start reading at the beginning of `bytes`.
    #[must_use]
    pub fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, position: 0 }
    }

    /// Bytes consumed so far.
    #[must_use]
    pub fn position(&self) -> usize {
        self.position
    }

    /// Bytes not yet consumed.
    #[must_use]
    pub fn remaining(&self) -> usize {
        self.bytes.len() - self.position
    }

    /// Take the next `length` bytes.
    pub fn take(&mut self, field: &'static str, length: usize) -> Result<&'a [u8]> {
        let available = self.remaining();
        if length > available {
            return Err(NativeWireError::Truncated {
                field,
                offset: self.position,
                needed: length,
                available,
            });
        }
        let start = self.position;
        self.position += length;
        Ok(&self.bytes[start..self.position])
    }

    /// Take everything left (fields that run to the end of the body).
    pub fn take_rest(&mut self) -> &'a [u8] {
        let start = self.position;
        self.position = self.bytes.len();
        &self.bytes[start..]
    }

    fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N]> {
        let slice = self.take(field, N)?;
        let mut array = [0u8; N];
        array.copy_from_slice(slice);
        Ok(array)
    }

    /// Read one byte.
    pub fn u8(&mut self, field: &'static str) -> Result<u8> {
        Ok(self.array::<1>(field)?[0])
    }

    /// Read a little-endian `u16`.
    pub fn u16(&mut self, field: &'static str) -> Result<u16> {
        Ok(u16::from_le_bytes(self.array(field)?))
    }

    /// Read a little-endian `u32`.
    pub fn u32(&mut self, field: &'static str) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array(field)?))
    }

    /// Read a little-endian `u64`.
    pub fn u64(&mut self, field: &'static str) -> Result<u64> {
        Ok(u64::from_le_bytes(self.array(field)?))
    }

    /// Read a little-endian `u128`.
    pub fn u128(&mut self, field: &'static str) -> Result<u128> {
        Ok(u128::from_le_bytes(self.array(field)?))
    }

    /// Read a little-endian `f32`.
    pub fn f32(&mut self, field: &'static str) -> Result<f32> {
        Ok(f32::from_le_bytes(self.array(field)?))
    }

    /// Read a boolean byte; only 0 and 1 are accepted.
    pub fn bool(&mut self, field: &'static str) -> Result<bool> {
        match self.u8(field)? {
            0 => Ok(false),
            1 => Ok(true),
            other => Err(NativeWireError::InvalidValue {
                field,
                value: u64::from(other),
            }),
        }
    }

    /// Read a `u32` length and check it against `min..=max` before anything is taken.
    pub fn length_u32(&mut self, field: &'static str, min: usize, max: usize) -> Result<usize> {
        let length = self.u32(field)?;
        check_range(field, u64::from(length), min as u64, max as u64)?;
        Ok(length as usize)
    }

    /// Read `[len:u8][utf8]` with `min..=max` bytes.
    pub fn string_u8(&mut self, field: &'static str, min: usize, max: usize) -> Result<String> {
        let length = usize::from(self.u8(field)?);
        check_range(field, length as u64, min as u64, max as u64)?;
        utf8(field, self.take(field, length)?)
    }

    /// Read `[len:u32][utf8]` with `min..=max` bytes.
    pub fn string_u32(&mut self, field: &'static str, min: usize, max: usize) -> Result<String> {
        let length = self.length_u32(field, min, max)?;
        utf8(field, self.take(field, length)?)
    }

    /// Read `[len:u32][bytes]` with `min..=max` bytes.
    pub fn bytes_u32(&mut self, field: &'static str, min: usize, max: usize) -> Result<Bytes> {
        let length = self.length_u32(field, min, max)?;
        Ok(Bytes::copy_from_slice(self.take(field, length)?))
    }
}

/// Fail with [`NativeWireError::OutOfRange`] unless `min <= value <= max`.
pub fn check_range(field: &'static str, value: u64, min: u64, max: u64) -> Result<()> {
    if value < min || value > max {
        return Err(NativeWireError::OutOfRange {
            field,
            value,
            min,
            max,
        });
    }
    Ok(())
}

/// Interpret `bytes` as UTF-8 text.
pub fn utf8(field: &'static str, bytes: &[u8]) -> Result<String> {
    std::str::from_utf8(bytes)
        .map(str::to_owned)
        .map_err(|_| NativeWireError::InvalidUtf8 { field })
}

/// Write `[len:u8][text]`. Callers guarantee the text fits in a `u8` (types hold only decoded or
/// validated names); longer text is cut at 255 bytes rather than corrupting the frame.
pub fn put_string_u8(out: &mut BytesMut, text: &str) {
    let bytes = &text.as_bytes()[..text.len().min(usize::from(u8::MAX))];
    out.put_u8(bytes.len() as u8);
    out.put_slice(bytes);
}

/// Write `[len:u32][bytes]`.
pub fn put_bytes_u32(out: &mut BytesMut, bytes: &[u8]) {
    out.put_u32_le(bytes.len() as u32);
    out.put_slice(bytes);
}

/// Encoded size of `[len:u8][text]` as written by [`put_string_u8`].
#[must_use]
pub fn string_u8_size(text: &str) -> usize {
    1 + text.len().min(usize::from(u8::MAX))
}

/// A value that can be one field of a generated wire struct (see `wire_struct!`). Integers are
/// little-endian; `String` is a name (`[len:u8][utf8 1..=255]`); `Identifier` is §5;
/// `Options` runs to the end of the body and so may only be the last field.
pub trait WireField: Sized {
    /// Read the field named `field`.
    fn read_field(reader: &mut Reader<'_>, field: &'static str) -> Result<Self>;
    /// Encoded size of the field.
    fn field_size(&self) -> usize;
    /// Append the field.
    fn write_field(&self, out: &mut BytesMut);
}

macro_rules! integer_field {
    ($($ty:ty => $read:ident, $put:ident;)*) => {$(
        impl WireField for $ty {
            fn read_field(reader: &mut Reader<'_>, field: &'static str) -> Result<Self> {
                reader.$read(field)
            }
            fn field_size(&self) -> usize {
                std::mem::size_of::<$ty>()
            }
            fn write_field(&self, out: &mut BytesMut) {
                out.$put(*self);
            }
        }
    )*};
}

integer_field! {
    u8 => u8, put_u8;
    u32 => u32, put_u32_le;
    u64 => u64, put_u64_le;
    u128 => u128, put_u128_le;
}

impl WireField for bool {
    fn read_field(reader: &mut Reader<'_>, field: &'static str) -> Result<Self> {
        reader.bool(field)
    }
    fn field_size(&self) -> usize {
        1
    }
    fn write_field(&self, out: &mut BytesMut) {
        out.put_u8(u8::from(*self));
    }
}

impl WireField for String {
    fn read_field(reader: &mut Reader<'_>, field: &'static str) -> Result<Self> {
        reader.string_u8(field, 1, crate::native::limits::NAME_BYTES_MAX)
    }
    fn field_size(&self) -> usize {
        string_u8_size(self)
    }
    fn write_field(&self, out: &mut BytesMut) {
        put_string_u8(out, self);
    }
}

impl WireField for crate::native::identifier::Identifier {
    fn read_field(reader: &mut Reader<'_>, _field: &'static str) -> Result<Self> {
        let rest = &reader.bytes[reader.position..];
        let (identifier, used) = <Self as WireDecode>::decode(rest)
            .map_err(|error| shift_offset(error, reader.position))?;
        reader.position += used;
        Ok(identifier)
    }
    fn field_size(&self) -> usize {
        self.encoded_size()
    }
    fn write_field(&self, out: &mut BytesMut) {
        self.encode(out);
    }
}

impl WireField for crate::native::user_headers::Options {
    fn read_field(reader: &mut Reader<'_>, _field: &'static str) -> Result<Self> {
        Self::decode_block(reader.take_rest())
    }
    fn field_size(&self) -> usize {
        self.encoded_size()
    }
    fn write_field(&self, out: &mut BytesMut) {
        self.encode(out);
    }
}

/// Make a nested decoder's truncation offset relative to the outer body.
fn shift_offset(error: NativeWireError, base: usize) -> NativeWireError {
    match error {
        NativeWireError::Truncated {
            field,
            offset,
            needed,
            available,
        } => NativeWireError::Truncated {
            field,
            offset: offset + base,
            needed,
            available,
        },
        other => other,
    }
}

/// Declare a plain wire struct whose fields are all [`WireField`]s, with `WireEncode` and
/// `WireDecode` written field by field in declaration order.
macro_rules! wire_struct {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $( $(#[$field_meta:meta])* pub $field:ident : $ty:ty ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $name {
            $( $(#[$field_meta])* pub $field: $ty, )*
        }

        impl $crate::native::codec::WireEncode for $name {
            fn encoded_size(&self) -> usize {
                0 $( + $crate::native::codec::WireField::field_size(&self.$field) )*
            }

            fn encode(&self, out: &mut ::bytes::BytesMut) {
                $( $crate::native::codec::WireField::write_field(&self.$field, out); )*
            }
        }

        impl $crate::native::codec::WireDecode for $name {
            fn decode(bytes: &[u8]) -> $crate::native::error::Result<(Self, usize)> {
                let mut reader = $crate::native::codec::Reader::new(bytes);
                $(
                    let $field = <$ty as $crate::native::codec::WireField>::read_field(
                        &mut reader,
                        stringify!($field),
                    )?;
                )*
                Ok((Self { $( $field, )* }, reader.position()))
            }
        }
    };
}
pub(crate) use wire_struct;

/// Shared test helpers: every codec test checks a round trip and a cut at every byte.
#[cfg(test)]
pub(crate) mod testing {
    use super::{WireDecode, WireEncode};

    /// Encode, check the declared size, decode back, and check that every strict prefix of the
    /// encoding fails to decode.
    pub(crate) fn roundtrip_strict<T>(value: &T) -> Vec<u8>
    where
        T: WireEncode + WireDecode + PartialEq + std::fmt::Debug,
    {
        let bytes = value.to_bytes().to_vec();
        assert_eq!(bytes.len(), value.encoded_size(), "encoded_size disagrees");
        let (decoded, used) = T::decode(&bytes).unwrap();
        assert_eq!(&decoded, value);
        assert_eq!(used, bytes.len());
        for cut in 0..bytes.len() {
            assert!(
                T::decode_exact(&bytes[..cut]).is_err(),
                "prefix of {cut} bytes decoded"
            );
        }
        bytes
    }

    /// Like [`roundtrip_strict`] for bodies whose last field runs to the end (option blocks):
    /// a cut must either fail or decode to something different, never panic.
    pub(crate) fn roundtrip_open_ended<T>(value: &T) -> Vec<u8>
    where
        T: WireEncode + WireDecode + PartialEq + std::fmt::Debug,
    {
        let bytes = value.to_bytes().to_vec();
        assert_eq!(bytes.len(), value.encoded_size(), "encoded_size disagrees");
        assert_eq!(&T::decode_exact(&bytes).unwrap(), value);
        for cut in 0..bytes.len() {
            if let Ok(decoded) = T::decode_exact(&bytes[..cut]) {
                assert_ne!(
                    &decoded, value,
                    "prefix of {cut} bytes decoded to the original"
                );
            }
        }
        bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_capacity_caps_by_remaining_bytes() {
        assert_eq!(bounded_capacity(u32::MAX as usize, 8, 64), 8);
        assert_eq!(bounded_capacity(3, 8, 64), 3);
        assert_eq!(bounded_capacity(10, 0, 5), 5);
        assert_eq!(bounded_capacity(10, 4, 0), 0);
    }

    #[test]
    fn reader_reports_truncation_with_offsets() {
        let mut reader = Reader::new(&[1, 0, 0]);
        assert_eq!(reader.u8("a").unwrap(), 1);
        let error = reader.u32("b").unwrap_err();
        assert_eq!(
            error,
            NativeWireError::Truncated {
                field: "b",
                offset: 1,
                needed: 4,
                available: 2
            }
        );
    }

    #[test]
    fn length_is_checked_before_taking_bytes() {
        let mut reader = Reader::new(&[0xff, 0xff, 0xff, 0xff]);
        assert!(matches!(
            reader.bytes_u32("blob", 0, 16),
            Err(NativeWireError::OutOfRange {
                value: 0xffff_ffff,
                ..
            })
        ));
    }

    #[test]
    fn strings_reject_bad_utf8_and_bad_bools() {
        assert!(matches!(
            Reader::new(&[1, 0xff]).string_u8("name", 1, 255),
            Err(NativeWireError::InvalidUtf8 { .. })
        ));
        assert!(Reader::new(&[2]).bool("flag").is_err());
    }
}
