//! The frame header the log writes in front of every stored batch.
//!
//! On disk a frame is `[header: FRAME_HEADER_BYTES][payload: payload_length bytes]`. The header is
//! little-endian and self-checking: `header_crc` is CRC-32C of the header bytes before it, and
//! `payload_crc` is CRC-32C of the payload. The log never interprets the payload; `format` only
//! tells readers which codec wrote it.

use crate::error::LogError;

/// Size of an encoded [`FrameHeader`].
pub const FRAME_HEADER_BYTES: usize = 56;
/// First four bytes of every frame: `WPF1`.
pub const FRAME_MAGIC: [u8; 4] = *b"WPF1";
/// Version of the frame layout written by this build.
pub const FRAME_VERSION: u8 = 1;

/// Which codec produced a frame's payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum BatchFormat {
    /// A Kafka magic-2 record batch, stored as the producer sent it (still compressed).
    Kafka = 1,
    /// An Iggy 0.11 batch: 256-byte batch header plus message frames.
    Native = 2,
}

impl BatchFormat {
    /// The format for a stored tag, if known.
    pub fn from_tag(tag: u8) -> Option<Self> {
        match tag {
            1 => Some(Self::Kafka),
            2 => Some(Self::Native),
            _ => None,
        }
    }
}

/// Decoded frame header. Timestamps are microseconds since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    pub format: BatchFormat,
    /// Offset of the first record in the frame.
    pub base_offset: u64,
    /// `last offset - base_offset`; a frame covers `base_offset ..= base_offset + last_offset_delta`.
    pub last_offset_delta: u32,
    pub record_count: u32,
    pub first_timestamp_us: i64,
    pub max_timestamp_us: i64,
    pub payload_length: u32,
    /// CRC-32C of the payload bytes.
    pub payload_crc: u32,
}

impl FrameHeader {
    /// Offset one past the last record of this frame.
    pub fn next_offset(&self) -> u64 {
        self.base_offset + u64::from(self.last_offset_delta) + 1
    }

    /// Offset of the last record of this frame.
    pub fn last_offset(&self) -> u64 {
        self.base_offset + u64::from(self.last_offset_delta)
    }

    /// Bytes the whole frame (header and payload) takes on disk.
    pub fn frame_bytes(&self) -> u64 {
        FRAME_HEADER_BYTES as u64 + u64::from(self.payload_length)
    }

    /// Encodes the header, computing `header_crc`.
    pub fn encode(&self) -> [u8; FRAME_HEADER_BYTES] {
        let mut b = [0u8; FRAME_HEADER_BYTES];
        b[0..4].copy_from_slice(&FRAME_MAGIC);
        b[4] = FRAME_VERSION;
        b[5] = self.format as u8;
        // 6..8 reserved (zero)
        b[8..16].copy_from_slice(&self.base_offset.to_le_bytes());
        b[16..20].copy_from_slice(&self.last_offset_delta.to_le_bytes());
        b[20..24].copy_from_slice(&self.record_count.to_le_bytes());
        b[24..32].copy_from_slice(&self.first_timestamp_us.to_le_bytes());
        b[32..40].copy_from_slice(&self.max_timestamp_us.to_le_bytes());
        b[40..44].copy_from_slice(&self.payload_length.to_le_bytes());
        b[44..48].copy_from_slice(&self.payload_crc.to_le_bytes());
        // 48..52 reserved (zero)
        let crc = crc32c::crc32c(&b[0..52]);
        b[52..56].copy_from_slice(&crc.to_le_bytes());
        b
    }

    /// Decodes and checks a header: magic, version, format tag and header checksum.
    /// The payload checksum is checked by [`FrameHeader::check_payload`].
    pub fn decode(b: &[u8; FRAME_HEADER_BYTES]) -> Result<Self, LogError> {
        if b[0..4] != FRAME_MAGIC {
            return Err(LogError::CorruptFrame {
                reason: "bad magic",
            });
        }
        let stored_crc = u32::from_le_bytes([b[52], b[53], b[54], b[55]]);
        if crc32c::crc32c(&b[0..52]) != stored_crc {
            return Err(LogError::CorruptFrame {
                reason: "header checksum mismatch",
            });
        }
        if b[4] != FRAME_VERSION {
            return Err(LogError::CorruptFrame {
                reason: "unknown frame version",
            });
        }
        let format = BatchFormat::from_tag(b[5]).ok_or(LogError::CorruptFrame {
            reason: "unknown batch format",
        })?;
        let u32_at = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let u64_at = |i: usize| {
            let mut a = [0u8; 8];
            a.copy_from_slice(&b[i..i + 8]);
            u64::from_le_bytes(a)
        };
        let header = Self {
            format,
            base_offset: u64_at(8),
            last_offset_delta: u32_at(16),
            record_count: u32_at(20),
            first_timestamp_us: u64_at(24) as i64,
            max_timestamp_us: u64_at(32) as i64,
            payload_length: u32_at(40),
            payload_crc: u32_at(44),
        };
        // A frame holds at least one record and never more records than offsets it covers
        // (fewer is legal: a compacted Kafka batch keeps its offset range).
        // 0 records: a batch compaction emptied (it still covers its offsets).
        if u64::from(header.record_count) > u64::from(header.last_offset_delta) + 1 {
            return Err(LogError::CorruptFrame {
                reason: "record count out of range",
            });
        }
        Ok(header)
    }

    /// Checks `payload` against `payload_length` and `payload_crc`.
    pub fn check_payload(&self, payload: &[u8]) -> Result<(), LogError> {
        if payload.len() != self.payload_length as usize {
            return Err(LogError::CorruptFrame {
                reason: "payload length mismatch",
            });
        }
        if crc32c::crc32c(payload) != self.payload_crc {
            return Err(LogError::CorruptFrame {
                reason: "payload checksum mismatch",
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> FrameHeader {
        FrameHeader {
            format: BatchFormat::Kafka,
            base_offset: 42,
            last_offset_delta: 9,
            record_count: 10,
            first_timestamp_us: 1_700_000_000_000_000,
            max_timestamp_us: 1_700_000_000_000_500,
            payload_length: 3,
            payload_crc: crc32c::crc32c(b"abc"),
        }
    }

    #[test]
    fn round_trips() {
        let h = sample();
        assert_eq!(FrameHeader::decode(&h.encode()).unwrap(), h);
        assert_eq!(h.next_offset(), 52);
        h.check_payload(b"abc").unwrap();
        assert!(h.check_payload(b"abd").is_err());
    }

    #[test]
    fn every_flipped_bit_is_detected() {
        let bytes = sample().encode();
        for i in 0..FRAME_HEADER_BYTES * 8 {
            let mut b = bytes;
            b[i / 8] ^= 1 << (i % 8);
            assert!(
                FrameHeader::decode(&b).is_err(),
                "bit {i} flip not detected"
            );
        }
    }
}
