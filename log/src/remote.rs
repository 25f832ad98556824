//! The seam to a remote tier (tiered storage): what the log offers an uploader and what it asks
//! of a reader of remote segments. The log knows nothing of object stores; a tier (the
//! `whippet-tier` crate) copies closed, durable segments somewhere else, tells the partition
//! how far its copy reaches ([`PartitionLog::set_remote_end`]), and attaches a
//! [`RemoteSegments`] reader ([`PartitionLog::attach_remote`]). From then on:
//!
//! - local retention (`local_retention_ms` / `local_retention_bytes` of a topic with
//!   `remote_storage`) removes local segments that lie wholly below the remote end without
//!   moving the log start: their offsets stay readable, through the reader;
//! - a read or timestamp lookup below the first local segment goes to the reader.
//!
//! A remote segment is the local `.log` file as it was written; [`parse_segment`] checks its
//! file header and every frame's header and payload checksums, so a damaged object is refused
//! rather than served.

use std::fmt::Debug;
use std::path::PathBuf;

use bytes::Bytes;

use crate::error::{LogError, Result};
use crate::frame::{FRAME_HEADER_BYTES, FrameHeader};
use crate::limits::SEGMENT_FILE_HEADER_BYTES;
use crate::partition::StoredFrame;
use crate::segment::{LOG_MAGIC, decode_file_header};

/// Reads frames of a partition's remote segments. Called off the async workers (inside
/// `block_in_place` or on the log's read threads), so it may block.
pub trait RemoteSegments: Send + Sync + Debug {
    /// Frames from the one holding `from`, up to `max_bytes` of payload but at least one;
    /// frames of at most one remote segment. An offset the remote part does not hold, or an
    /// object that is missing or fails its checksums, is an error.
    fn read(&self, from: u64, max_bytes: usize) -> Result<Vec<StoredFrame>>;

    /// Header of the first remote frame whose max timestamp is at or after `ts_us`.
    fn find_by_timestamp(&self, ts_us: i64) -> Result<Option<FrameHeader>>;
}

/// The remote part of a partition, as its manifest knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RemoteRange {
    /// First offset the remote segments hold (after remote retention).
    pub start: u64,
    /// Next offset after the last remote segment.
    pub end: u64,
}

/// A closed segment a tier may copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClosedSegment {
    pub base_offset: u64,
    /// Next offset after the segment's last frame.
    pub next_offset: u64,
    /// Newest record timestamp in the segment (µs).
    pub max_timestamp_us: i64,
    /// Bytes of the `.log` file.
    pub size: u64,
    pub log_path: PathBuf,
    pub index_path: PathBuf,
}

/// Splits a segment file image into its frames, checking the file header (magic, version,
/// checksum, base offset `base`) and each frame's header and payload checksums, and that the
/// offsets run on without gaps from `base`. Payloads share `image` (no copy).
pub fn parse_segment(image: &Bytes, base: u64) -> Result<Vec<StoredFrame>> {
    let header_len = SEGMENT_FILE_HEADER_BYTES as usize;
    let file_header = image.get(..header_len).ok_or(LogError::CorruptFrame {
        reason: "remote segment shorter than its file header",
    })?;
    let stored_base = decode_file_header(LOG_MAGIC, file_header)
        .map_err(|reason| LogError::CorruptFrame { reason })?;
    if stored_base != base {
        return Err(LogError::CorruptFrame {
            reason: "remote segment has another base offset",
        });
    }
    let mut frames = Vec::new();
    let mut pos = header_len;
    let mut expected = base;
    while pos < image.len() {
        let raw: &[u8; FRAME_HEADER_BYTES] = image
            .get(pos..pos + FRAME_HEADER_BYTES)
            .and_then(|b| b.try_into().ok())
            .ok_or(LogError::CorruptFrame {
                reason: "remote segment ends inside a frame header",
            })?;
        let header = FrameHeader::decode(raw)?;
        if header.base_offset != expected {
            return Err(LogError::CorruptFrame {
                reason: "remote segment offsets do not run on",
            });
        }
        let start = pos + FRAME_HEADER_BYTES;
        let end = start + header.payload_length as usize;
        if end > image.len() {
            return Err(LogError::CorruptFrame {
                reason: "remote segment ends inside a frame payload",
            });
        }
        let payload = image.slice(start..end);
        header.check_payload(&payload)?;
        expected = header.next_offset();
        pos = end;
        frames.push(StoredFrame { header, payload });
    }
    Ok(frames)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::segment::encode_file_header;

    fn image(frames: &[StoredFrame], base: u64) -> Vec<u8> {
        let mut out = encode_file_header(LOG_MAGIC, base).to_vec();
        for frame in frames {
            out.extend_from_slice(&frame.header.encode());
            out.extend_from_slice(&frame.payload);
        }
        out
    }

    #[test]
    fn a_segment_image_parses_and_every_damage_is_refused() {
        let frames = vec![StoredFrame::for_test(10, 5), StoredFrame::for_test(12, 7)];
        let bytes = image(&frames, 10);
        assert_eq!(
            parse_segment(&Bytes::from(bytes.clone()), 10).unwrap(),
            frames
        );
        assert!(parse_segment(&Bytes::from(bytes.clone()), 11).is_err());
        for i in 0..bytes.len() {
            // Reserved bytes of the file header are not covered by its checksum.
            if (20..24).contains(&i) {
                continue;
            }
            let mut bad = bytes.clone();
            bad[i] ^= 0x40;
            assert!(parse_segment(&Bytes::from(bad), 10).is_err(), "byte {i}");
        }
        let cut = Bytes::from(bytes[..bytes.len() - 1].to_vec());
        assert!(parse_segment(&cut, 10).is_err());
    }
}
