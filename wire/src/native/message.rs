//! Message frames (§4.3): a 48-byte header, then the payload, then the user headers. The frame
//! checksum is XXH3-64 (seed 0) of every frame byte after the checksum field itself, so it covers
//! the id, deltas, lengths, payload and headers.

use bytes::{BufMut, BytesMut};

use crate::native::codec::{Reader, check_range};
use crate::native::error::{NativeWireError, Result};
use crate::native::limits::{
    MESSAGE_HEADER_BYTES, PAYLOAD_BYTES_MAX, PAYLOAD_BYTES_MIN, USER_HEADERS_BYTES_MAX,
};

/// The fixed part of a message frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageHeader {
    /// XXH3-64 of frame bytes 8..end.
    pub checksum: u64,
    /// Message id; the SDK replaces 0 with a random id before sending.
    pub id: u128,
    /// Index of the message in its batch; the offset is `base_offset + offset_delta`.
    pub offset_delta: u32,
    /// `origin_timestamp − batch origin_timestamp`, microseconds.
    pub timestamp_delta: u32,
    /// Length of the user-headers block after the payload.
    pub user_headers_length: u32,
    /// Length of the payload.
    pub payload_length: u32,
}

impl MessageHeader {
    /// Decode the 48-byte header at the start of `bytes`, rejecting non-zero reserved bytes.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let mut reader = Reader::new(bytes);
        let header = Self {
            checksum: reader.u64("message_checksum")?,
            id: reader.u128("message_id")?,
            offset_delta: reader.u32("offset_delta")?,
            timestamp_delta: reader.u32("timestamp_delta")?,
            user_headers_length: reader.u32("user_headers_length")?,
            payload_length: reader.u32("payload_length")?,
        };
        if reader.u64("message_reserved")? != 0 {
            return Err(NativeWireError::ReservedNotZero {
                field: "message",
                offset: 40,
            });
        }
        Ok(header)
    }

    /// Whole frame length: header, payload and user headers.
    #[must_use]
    pub fn frame_length(&self) -> usize {
        MESSAGE_HEADER_BYTES + self.payload_length as usize + self.user_headers_length as usize
    }

    /// Check the admission bounds of a produced message: payload 1..=64 MB, user headers at most
    /// 100 000 bytes. Stored messages already passed this check, so readers skip it.
    pub fn check_admission_bounds(&self) -> Result<()> {
        check_range(
            "payload_length",
            u64::from(self.payload_length),
            u64::from(PAYLOAD_BYTES_MIN),
            u64::from(PAYLOAD_BYTES_MAX),
        )?;
        check_range(
            "user_headers_length",
            u64::from(self.user_headers_length),
            0,
            u64::from(USER_HEADERS_BYTES_MAX),
        )
    }
}

/// A borrowed view of one message frame inside a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageFrame<'a> {
    /// The decoded fixed header.
    pub header: MessageHeader,
    /// Payload bytes.
    pub payload: &'a [u8],
    /// Raw user-headers TLV block (decode with `user_headers::decode_user_headers`).
    pub user_headers: &'a [u8],
    /// The whole frame, as stored.
    pub bytes: &'a [u8],
}

impl<'a> MessageFrame<'a> {
    /// Read the frame at the start of `bytes`. Lengths are checked against the bytes present, so
    /// a lying length fails here instead of reading past the batch.
    pub fn read(bytes: &'a [u8]) -> Result<Self> {
        let header = MessageHeader::decode(bytes)?;
        let mut reader = Reader::new(bytes);
        let whole = reader.take("message_frame", header.frame_length())?;
        let body = &whole[MESSAGE_HEADER_BYTES..];
        let (payload, user_headers) = body.split_at(header.payload_length as usize);
        Ok(Self {
            header,
            payload,
            user_headers,
            bytes: whole,
        })
    }

    /// The checksum this frame should carry.
    #[must_use]
    pub fn computed_checksum(&self) -> u64 {
        frame_checksum(self.bytes)
    }

    /// Fail with a checksum mismatch unless the stored checksum matches the bytes.
    pub fn verify_checksum(&self) -> Result<()> {
        let computed = self.computed_checksum();
        if computed != self.header.checksum {
            return Err(NativeWireError::ChecksumMismatch {
                field: "message",
                stored: self.header.checksum,
                computed,
            });
        }
        Ok(())
    }
}

/// XXH3-64 (seed 0) of a whole frame minus its leading checksum field.
#[must_use]
pub fn frame_checksum(frame: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(frame.get(8..).unwrap_or_default())
}

/// A message to be framed: what a producer (or the Kafka→native transcoder) supplies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewMessage<'a> {
    /// Message id.
    pub id: u128,
    /// Index in the batch.
    pub offset_delta: u32,
    /// Microseconds after the batch origin timestamp.
    pub timestamp_delta: u32,
    /// Payload bytes.
    pub payload: &'a [u8],
    /// Encoded user-headers TLV block.
    pub user_headers: &'a [u8],
}

impl NewMessage<'_> {
    /// Encoded frame length.
    #[must_use]
    pub fn frame_length(&self) -> usize {
        MESSAGE_HEADER_BYTES + self.payload.len() + self.user_headers.len()
    }

    /// Append the frame with its checksum and return that checksum (batch checksums need it).
    /// Lengths are written as `u32`; callers bound payload and headers by the admission limits.
    pub fn encode(&self, out: &mut BytesMut) -> u64 {
        let start = out.len();
        out.put_u64_le(0);
        out.put_u128_le(self.id);
        out.put_u32_le(self.offset_delta);
        out.put_u32_le(self.timestamp_delta);
        out.put_u32_le(self.user_headers.len() as u32);
        out.put_u32_le(self.payload.len() as u32);
        out.put_u64_le(0);
        out.put_slice(self.payload);
        out.put_slice(self.user_headers);
        let checksum = frame_checksum(&out[start..]);
        out[start..start + 8].copy_from_slice(&checksum.to_le_bytes());
        checksum
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> BytesMut {
        let mut out = BytesMut::new();
        NewMessage {
            id: 0xabc,
            offset_delta: 1,
            timestamp_delta: 5,
            payload: b"hello",
            user_headers: &[2, 1, 0, 0, 0, b'k', 2, 1, 0, 0, 0, b'v'],
        }
        .encode(&mut out);
        out
    }

    #[test]
    fn layout_matches_section_4_3() {
        let bytes = sample();
        assert_eq!(bytes.len(), 48 + 5 + 12);
        assert_eq!(&bytes[8..24], &0xabcu128.to_le_bytes());
        assert_eq!(&bytes[24..28], &1u32.to_le_bytes());
        assert_eq!(&bytes[28..32], &5u32.to_le_bytes());
        assert_eq!(&bytes[32..36], &12u32.to_le_bytes());
        assert_eq!(&bytes[36..40], &5u32.to_le_bytes());
        assert_eq!(&bytes[48..53], b"hello");
        let checksum = xxhash_rust::xxh3::xxh3_64(&bytes[8..]);
        assert_eq!(&bytes[..8], &checksum.to_le_bytes());
    }

    #[test]
    fn read_round_trips_and_verifies() {
        let bytes = sample();
        let frame = MessageFrame::read(&bytes).unwrap();
        assert_eq!(frame.payload, b"hello");
        assert_eq!(frame.user_headers.len(), 12);
        frame.verify_checksum().unwrap();
        frame.header.check_admission_bounds().unwrap();
        for cut in 0..bytes.len() {
            assert!(MessageFrame::read(&bytes[..cut]).is_err(), "cut {cut}");
        }
    }

    #[test]
    fn corruption_and_bounds_are_detected() {
        let mut bytes = sample();
        bytes[50] ^= 1;
        assert!(
            MessageFrame::read(&bytes)
                .unwrap()
                .verify_checksum()
                .is_err()
        );
        let mut reserved = sample();
        reserved[44] = 1;
        assert!(MessageFrame::read(&reserved).is_err());
        let mut empty = BytesMut::new();
        NewMessage {
            id: 1,
            offset_delta: 0,
            timestamp_delta: 0,
            payload: b"",
            user_headers: b"",
        }
        .encode(&mut empty);
        let frame = MessageFrame::read(&empty).unwrap();
        assert!(frame.header.check_admission_bounds().is_err());
    }
}
