//! Damage inside a segment: where a frame should start, the bytes fail their checks (a flipped
//! bit, a lost page), but valid frames follow. Such a stretch is a [`DamagedRange`]: it is kept
//! on disk as it is and never served, and the frames after it stay readable.
//!
//! What the log does about bad bytes depends only on whether a valid frame follows them:
//!
//! - **Nothing valid follows** (the end of the active segment): a torn write. Recovery cuts it
//!   off, as Kafka does with an invalid record at the end of its active segment; those bytes
//!   were never acknowledged with `fsync = always`.
//! - **A valid frame follows**: the stretch up to that frame is a damaged range. Recovery keeps
//!   the file and records the range; reads serve every frame before it, refuse the offsets in
//!   it with [`LogError::CorruptFrame`] (Kafka: CORRUPT_MESSAGE) and serve every frame after it
//!   to a read that starts past it. Each range is logged at ERROR once, naming the file, the
//!   byte range and the offsets lost. A range is found by recovery (a scan after an unclean
//!   stop) or by the first read that meets it (segments trusted on open).
//!
//! Finding the next valid frame: when the damaged frame's header is intact (its payload failed
//! its checksum) the next frame starts right after it; otherwise the bytes after the damage are
//! searched for the frame magic, and a candidate counts only if its header and payload
//! checksums hold, its offsets lie after the damaged ones (and within what the segment holds)
//! and it fits in the file. The search reads the rest of the segment in
//! [`DAMAGE_SCAN_CHUNK_BYTES`] pieces at worst, once per range (a segment remembers its ranges);
//! a read that finds a new range pays that once, on whatever thread it runs.

use std::path::Path;

use crate::error::{LogError, Result};
use crate::frame::{FRAME_HEADER_BYTES, FRAME_MAGIC, FrameHeader};
use crate::limits::{DAMAGE_SCAN_CHUNK_BYTES, FRAME_PAYLOAD_BYTES_MAX};
use crate::storage::SegmentFile;

/// A stretch of a segment's `.log` where frames should be but none is valid, with a valid frame
/// (or, for a segment that is not the last, the next segment) after it. The offsets in it
/// cannot be read; everything else can.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DamagedRange {
    /// File position where the damage starts (where the first unreadable frame starts).
    pub start_position: u64,
    /// File position of the first valid frame after the damage (or the end of the file).
    pub end_position: u64,
    /// First offset that cannot be read.
    pub first_offset: u64,
    /// First offset after the damage: reads from here on are served again.
    pub next_offset: u64,
}

/// Reads and checks the frame at `pos` of a file of `len` bytes: it must fit, its header must
/// decode and its payload must match its checksum. `Ok(Err(reason))` is a frame that fails;
/// `Err` an I/O error. `payload` is a scratch buffer.
pub(crate) fn check_frame_at(
    file: &dyn SegmentFile,
    path: &Path,
    pos: u64,
    len: u64,
    payload: &mut Vec<u8>,
) -> Result<Result<FrameHeader, &'static str>> {
    if len.saturating_sub(pos) < FRAME_HEADER_BYTES as u64 {
        return Ok(Err("truncated frame header"));
    }
    let mut hb = [0u8; FRAME_HEADER_BYTES];
    file.read_exact_at(&mut hb, pos)
        .map_err(|e| LogError::io(path, e))?;
    let header = match FrameHeader::decode(&hb) {
        Ok(header) => header,
        Err(LogError::CorruptFrame { reason }) => return Ok(Err(reason)),
        Err(e) => return Err(e),
    };
    if header.payload_length > FRAME_PAYLOAD_BYTES_MAX || pos + header.frame_bytes() > len {
        return Ok(Err("truncated payload"));
    }
    payload.resize(header.payload_length as usize, 0);
    file.read_exact_at(payload, pos + FRAME_HEADER_BYTES as u64)
        .map_err(|e| LogError::io(path, e))?;
    match header.check_payload(payload) {
        Ok(()) => Ok(Ok(header)),
        Err(LogError::CorruptFrame { reason }) => Ok(Err(reason)),
        Err(e) => Err(e),
    }
}

/// Which frames may end a damaged range.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Resync {
    /// Base offset of the segment (a frame's offset must stay within its `u32` span).
    pub(crate) segment_base: u64,
    /// The first offset lost: a frame after the damage starts above it.
    pub(crate) first_offset: u64,
    /// When known (a live segment), the frame must end at or below this offset.
    pub(crate) next_offset_max: Option<u64>,
}

impl Resync {
    fn accepts(&self, header: &FrameHeader) -> bool {
        header.base_offset > self.first_offset
            && u32::try_from(header.base_offset - self.segment_base).is_ok()
            && self
                .next_offset_max
                .is_none_or(|max| header.next_offset() <= max)
    }
}

/// The first valid frame after the bad one at `damage_at`, as `(position, header)`; `None` when
/// no valid frame follows within the first `len` bytes of the file.
pub(crate) fn find_next_frame(
    file: &dyn SegmentFile,
    path: &Path,
    damage_at: u64,
    len: u64,
    resync: Resync,
) -> Result<Option<(u64, FrameHeader)>> {
    let mut payload = Vec::new();
    let mut from = damage_at + 1;
    // A header that still decodes says where its frame ends: only its payload is bad, and the
    // search starts after it (a payload may hold anything, even bytes that look like a frame).
    if let Some(header) = intact_header(file, damage_at, len, resync.first_offset) {
        from = damage_at + header.frame_bytes();
        if let Ok(next) = check_frame_at(file, path, from, len, &mut payload)?
            && resync.accepts(&next)
        {
            return Ok(Some((from, next)));
        }
        from += 1;
    }
    search_magic(file, path, from, len, resync, &mut payload)
}

/// The header at `pos` if it decodes, names `offset` and its frame fits in `len` bytes.
fn intact_header(file: &dyn SegmentFile, pos: u64, len: u64, offset: u64) -> Option<FrameHeader> {
    let mut hb = [0u8; FRAME_HEADER_BYTES];
    file.read_exact_at(&mut hb, pos).ok()?;
    FrameHeader::decode(&hb)
        .ok()
        .filter(|h| h.base_offset == offset && pos + h.frame_bytes() <= len)
}

/// Searches `from..len` for the frame magic and returns the first candidate that is a valid,
/// acceptable frame.
fn search_magic(
    file: &dyn SegmentFile,
    path: &Path,
    from: u64,
    len: u64,
    resync: Resync,
    payload: &mut Vec<u8>,
) -> Result<Option<(u64, FrameHeader)>> {
    let overlap = FRAME_MAGIC.len() as u64 - 1;
    let mut chunk = Vec::new();
    let mut at = from;
    while at + FRAME_HEADER_BYTES as u64 <= len {
        let want = DAMAGE_SCAN_CHUNK_BYTES.min(len - at);
        let want = usize::try_from(want).unwrap_or(usize::MAX);
        chunk.resize(want, 0);
        file.read_exact_at(&mut chunk, at)
            .map_err(|e| LogError::io(path, e))?;
        for (i, window) in chunk.windows(FRAME_MAGIC.len()).enumerate() {
            if window != FRAME_MAGIC {
                continue;
            }
            let pos = at + i as u64;
            if let Ok(header) = check_frame_at(file, path, pos, len, payload)?
                && resync.accepts(&header)
            {
                return Ok(Some((pos, header)));
            }
        }
        if chunk.len() as u64 <= overlap {
            break;
        }
        at += chunk.len() as u64 - overlap;
    }
    Ok(None)
}

/// Logs a damaged range at ERROR: the file (hence the partition), bytes and offsets lost.
pub(crate) fn log_damage(path: &Path, range: &DamagedRange, found_by: &'static str) {
    tracing::error!(
        path = %path.display(),
        partition_dir = %path.parent().unwrap_or(Path::new("")).display(),
        start_position = range.start_position,
        end_position = range.end_position,
        first_offset = range.first_offset,
        next_offset = range.next_offset,
        found_by,
        "damaged frames kept on disk: bytes {}..{} of {}, offsets {}..{} cannot be read; \
         frames after them are served",
        range.start_position,
        range.end_position,
        path.display(),
        range.first_offset,
        range.next_offset,
    );
}
