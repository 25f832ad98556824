//! One segment: the `<base_offset:020>.log` data file with its `<base_offset:020>.index` sparse
//! index. Both files start with a [`SEGMENT_FILE_HEADER_BYTES`] header (magic, format version,
//! base offset, CRC-32C of the header); the `.log` then holds frames back to back.
//!
//! A segment is shared (`Arc`) between the writer and readers. Only the partition's writer (under
//! its lock) appends; readers use positional reads on the same file handle and only look at bytes
//! below the published `size`, so they never see a half-written frame.
//!
//! A segment also knows its damaged ranges (`damage.rs`): those recovery found, and those the
//! first read that met them found since.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use bytes::Bytes;

use crate::damage::{DamagedRange, Resync, find_next_frame, log_damage};
use crate::error::{LogError, Result};
use crate::frame::{FRAME_HEADER_BYTES, FrameHeader};
use crate::index::{IndexEntry, SegmentIndex};
use crate::limits::{FRAME_PAYLOAD_BYTES_MAX, SEGMENT_FILE_HEADER_BYTES};
use crate::storage::{SegmentFile, SegmentStore};
use crate::sync_util::{lock, read_lock, write_lock};

/// Magic of a segment data file.
pub(crate) const LOG_MAGIC: [u8; 4] = *b"WPLG";
/// Magic of a segment index file.
pub(crate) const INDEX_MAGIC: [u8; 4] = *b"WPIX";
/// Version of the segment file layout written by this build.
pub(crate) const SEGMENT_FORMAT_VERSION: u8 = 1;

/// Encodes a segment file header: `magic, version, 3 reserved, base_offset, crc32c, 4 reserved`.
pub(crate) fn encode_file_header(magic: [u8; 4], base_offset: u64) -> [u8; 24] {
    let mut b = [0u8; SEGMENT_FILE_HEADER_BYTES as usize];
    b[0..4].copy_from_slice(&magic);
    b[4] = SEGMENT_FORMAT_VERSION;
    b[8..16].copy_from_slice(&base_offset.to_le_bytes());
    let crc = crc32c::crc32c(&b[0..16]);
    b[16..20].copy_from_slice(&crc.to_le_bytes());
    b
}

/// Decodes a segment file header, returning its base offset or why it is unusable.
pub(crate) fn decode_file_header(magic: [u8; 4], b: &[u8]) -> Result<u64, &'static str> {
    let b: &[u8; SEGMENT_FILE_HEADER_BYTES as usize] = b
        .try_into()
        .map_err(|_| "file header has the wrong length")?;
    if b[0..4] != magic {
        return Err("bad magic");
    }
    let stored = u32::from_le_bytes([b[16], b[17], b[18], b[19]]);
    if crc32c::crc32c(&b[0..16]) != stored {
        return Err("file header checksum mismatch");
    }
    if b[4] != SEGMENT_FORMAT_VERSION {
        return Err("unknown segment format version");
    }
    let mut base = [0u8; 8];
    base.copy_from_slice(&b[8..16]);
    Ok(u64::from_le_bytes(base))
}

/// `<base_offset:020>.log`.
pub(crate) fn log_file_name(base_offset: u64) -> String {
    format!("{base_offset:020}.log")
}

/// `<base_offset:020>.index`.
pub(crate) fn index_file_name(base_offset: u64) -> String {
    format!("{base_offset:020}.index")
}

/// Which of a segment's two files a name denotes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SegmentFileKind {
    Log,
    Index,
}

/// Parses `<20 digits>.log` / `<20 digits>.index`; anything else is not a segment file.
pub(crate) fn parse_segment_file_name(name: &str) -> Option<(u64, SegmentFileKind)> {
    let (stem, kind) = if let Some(stem) = name.strip_suffix(".log") {
        (stem, SegmentFileKind::Log)
    } else {
        (name.strip_suffix(".index")?, SegmentFileKind::Index)
    };
    if stem.len() != 20 || !stem.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    Some((stem.parse().ok()?, kind))
}

/// A frame ready to be written: its header, the header's encoding and the payload.
#[derive(Debug)]
pub(crate) struct NewFrame {
    pub(crate) header: FrameHeader,
    pub(crate) head: [u8; FRAME_HEADER_BYTES],
    pub(crate) payload: bytes::BytesMut,
}

/// What recovery established about a segment's contents, used to build a live [`Segment`].
pub(crate) struct SegmentState {
    pub(crate) size: u64,
    pub(crate) next_offset: u64,
    pub(crate) max_timestamp_us: i64,
    pub(crate) index: SegmentIndex,
    /// Damaged ranges recovery kept (each with a valid frame after it), in file order.
    pub(crate) damaged: Vec<DamagedRange>,
}

/// The damage known in a segment.
#[derive(Debug, Default)]
struct Damage {
    /// Ranges with a valid frame after them, in the order found.
    ranges: Vec<DamagedRange>,
    /// Positions of bad bytes with no valid frame after them (yet): already logged, searched
    /// again on the next read since the active segment may grow past them.
    unresumable: Vec<u64>,
}

/// The files of a segment, opened through its store, as recovery hands them over.
pub(crate) struct SegmentFiles {
    pub(crate) store: Arc<dyn SegmentStore>,
    pub(crate) log_path: PathBuf,
    pub(crate) index_path: PathBuf,
    pub(crate) file: Box<dyn SegmentFile>,
    pub(crate) index_file: Box<dyn SegmentFile>,
}

/// A live segment, shared between the writer and readers.
#[derive(Debug)]
pub(crate) struct Segment {
    base_offset: u64,
    store: Arc<dyn SegmentStore>,
    log_path: PathBuf,
    index_path: PathBuf,
    file: Box<dyn SegmentFile>,
    index_file: Box<dyn SegmentFile>,
    index: RwLock<SegmentIndex>,
    /// Bytes of the `.log` that hold whole frames (file header included).
    size: AtomicU64,
    /// Offset one past the last frame written.
    next_offset: AtomicU64,
    /// Largest frame max timestamp in the segment; `i64::MIN` while empty.
    max_timestamp_us: AtomicI64,
    /// Wall-clock time (µs) of the first append seen by this process (or of the open, for a
    /// segment recovered with data), for `segment_ms`.
    first_append_us: Mutex<Option<i64>>,
    /// Known damage. A std mutex taken only on the error path of reads (a frame that failed its
    /// checks), held while the file is searched so a range is searched and logged once.
    damage: Mutex<Damage>,
}

impl Segment {
    /// Creates the two files of a new, empty segment starting at `base_offset`.
    pub(crate) fn create(
        store: &Arc<dyn SegmentStore>,
        dir: &Path,
        base_offset: u64,
        index_interval: u64,
    ) -> Result<Self> {
        let log_path = dir.join(log_file_name(base_offset));
        let index_path = dir.join(index_file_name(base_offset));
        let file = store
            .create_new(&log_path)
            .map_err(|e| LogError::io(&log_path, e))?;
        let written = file
            .write_all_at(&encode_file_header(LOG_MAGIC, base_offset), 0)
            .map_err(|e| LogError::io(&log_path, e))
            .and_then(|()| {
                let index_file = store
                    .open(&index_path, true)
                    .map_err(|e| LogError::io(&index_path, e))?;
                crate::index::write_index_unsynced(index_file.as_ref(), base_offset, &[])
                    .map_err(|e| LogError::io(&index_path, e))?;
                Ok(index_file)
            });
        let index_file = match written {
            Ok(index_file) => index_file,
            Err(e) => {
                // Leave no half-made segment behind: a later roll must be able to create it.
                let _ = store.remove(&log_path);
                let _ = store.remove(&index_path);
                return Err(e);
            }
        };
        let state = SegmentState {
            size: SEGMENT_FILE_HEADER_BYTES,
            next_offset: base_offset,
            max_timestamp_us: i64::MIN,
            index: SegmentIndex::new(index_interval),
            damaged: Vec::new(),
        };
        let files = SegmentFiles {
            store: Arc::clone(store),
            log_path,
            index_path,
            file,
            index_file,
        };
        Ok(Self::from_parts(base_offset, files, state))
    }

    /// Builds a live segment from files recovery has checked (and fixed) already.
    pub(crate) fn from_parts(base_offset: u64, files: SegmentFiles, state: SegmentState) -> Self {
        assert!(
            state.size >= SEGMENT_FILE_HEADER_BYTES,
            "segment smaller than its header"
        );
        assert!(
            state.next_offset >= base_offset,
            "segment ends before it starts"
        );
        Self {
            base_offset,
            store: files.store,
            log_path: files.log_path,
            index_path: files.index_path,
            file: files.file,
            index_file: files.index_file,
            index: RwLock::new(state.index),
            size: AtomicU64::new(state.size),
            next_offset: AtomicU64::new(state.next_offset),
            max_timestamp_us: AtomicI64::new(state.max_timestamp_us),
            // A segment recovered with data: its age for `segment_ms` counts from now (the
            // time of its first append is not kept), so it still rolls after a restart.
            first_append_us: Mutex::new(
                (state.next_offset > base_offset).then(crate::maintenance::unix_now_us),
            ),
            damage: Mutex::new(Damage {
                ranges: state.damaged,
                unresumable: Vec::new(),
            }),
        }
    }

    /// Offset of the segment's first frame (also in its file names).
    pub(crate) fn base_offset(&self) -> u64 {
        self.base_offset
    }

    /// Offset one past the segment's last frame.
    pub(crate) fn next_offset(&self) -> u64 {
        self.next_offset.load(Ordering::Acquire)
    }

    /// Bytes of whole frames plus the file header.
    pub(crate) fn size(&self) -> u64 {
        self.size.load(Ordering::Acquire)
    }

    /// Whether the segment holds no frame.
    pub(crate) fn is_empty(&self) -> bool {
        self.next_offset() == self.base_offset
    }

    /// Largest max timestamp of any frame, `i64::MIN` when empty.
    pub(crate) fn max_timestamp_us(&self) -> i64 {
        self.max_timestamp_us.load(Ordering::Acquire)
    }

    /// When this process first appended to the segment (None if it has not).
    pub(crate) fn first_append_us(&self) -> Option<i64> {
        *lock(&self.first_append_us)
    }

    /// Path of the `.log` file.
    pub(crate) fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// Appends frames at the end with one vectored write (plus one write of the index entries
    /// they make due). Called only by the partition's append owner, under the writer lock. On
    /// error nothing is recorded: the segment stays as it was, so the next append takes the
    /// same offsets and place.
    pub(crate) fn append_frames(&self, frames: &[NewFrame], now_us: i64) -> Result<()> {
        let Some(first) = frames.first() else {
            return Ok(());
        };
        let start = self.size();
        assert_eq!(
            first.header.base_offset,
            self.next_offset(),
            "frame offsets must be contiguous"
        );
        let placed = self.place(frames, start)?;
        let due = read_lock(&self.index).plan_entries(placed.iter().copied());
        // Persist frames and due index entries before recording anything in memory.
        let mut bufs: Vec<&[u8]> = Vec::with_capacity(frames.len() * 2);
        for frame in frames {
            bufs.push(&frame.head);
            bufs.push(&frame.payload);
        }
        let written = self
            .file
            .write_all_vectored_at(&bufs, start)
            .map_err(|e| LogError::io(&self.log_path, e))
            .and_then(|()| self.write_index_entries(&due));
        if let Err(e) = written {
            // Best effort: cut what was written, so a frame that failed is not found whole
            // by recovery (readers never look past `size`, and the next append overwrites it).
            let _ = self.file.set_len(start);
            return Err(e);
        }
        let mut index = write_lock(&self.index);
        let mut recorded = Vec::new();
        for &(rel, position, bytes, running) in &placed {
            if let Some(entry) = index.on_frame(rel, position, bytes, running) {
                recorded.push(entry);
            }
        }
        drop(index);
        assert!(
            recorded.iter().eq(due.iter().map(|(_, e)| e)),
            "index entries written and recorded differ"
        );
        if let (Some(&(_, position, bytes, running)), Some(last)) = (placed.last(), frames.last()) {
            self.max_timestamp_us.store(running, Ordering::Release);
            self.size
                .store(u64::from(position) + bytes, Ordering::Release);
            self.next_offset
                .store(last.header.next_offset(), Ordering::Release);
        }
        lock(&self.first_append_us).get_or_insert(now_us);
        Ok(())
    }

    /// Where each frame goes: `(relative offset, position, frame bytes, running max
    /// timestamp)`, checking that offsets are contiguous and that both fit the index entries.
    fn place(&self, frames: &[NewFrame], start: u64) -> Result<Vec<(u32, u32, u64, i64)>> {
        let mut placed = Vec::with_capacity(frames.len());
        let mut pos = start;
        let mut next = self.next_offset();
        let mut running = self.max_timestamp_us();
        for frame in frames {
            let header = &frame.header;
            assert_eq!(header.base_offset, next, "frame offsets must be contiguous");
            assert_eq!(
                frame.payload.len() as u64,
                u64::from(header.payload_length),
                "payload length"
            );
            let rel = u32::try_from(header.base_offset - self.base_offset).map_err(|_| {
                LogError::LimitExceeded {
                    name: "segment offset span",
                    value: header.base_offset - self.base_offset,
                    max: u64::from(u32::MAX),
                }
            })?;
            let position = u32::try_from(pos).map_err(|_| LogError::LimitExceeded {
                name: "segment position",
                value: pos,
                max: u64::from(u32::MAX),
            })?;
            running = running.max(header.max_timestamp_us);
            placed.push((rel, position, header.frame_bytes(), running));
            pos += header.frame_bytes();
            next = header.next_offset();
        }
        Ok(placed)
    }

    /// Writes planned index entries (their slots are consecutive) with one write.
    fn write_index_entries(&self, due: &[(usize, IndexEntry)]) -> Result<()> {
        let Some(&(slot, _)) = due.first() else {
            return Ok(());
        };
        let mut bytes = Vec::with_capacity(due.len() * crate::limits::INDEX_ENTRY_BYTES as usize);
        for (k, (s, entry)) in due.iter().enumerate() {
            assert_eq!(*s, slot + k, "index slots must be consecutive");
            bytes.extend_from_slice(&entry.encode());
        }
        let at = SEGMENT_FILE_HEADER_BYTES + slot as u64 * crate::limits::INDEX_ENTRY_BYTES;
        self.index_file
            .write_all_at(&bytes, at)
            .map_err(|e| LogError::io(&self.index_path, e))
    }

    /// Where a forward scan finds the frame holding `offset`: a position and the offset of the
    /// frame that starts there.
    pub(crate) fn position_for_offset(&self, offset: u64) -> (u64, u64) {
        let rel = offset.saturating_sub(self.base_offset);
        let (pos, rel) = read_lock(&self.index).position_for_offset(rel);
        (pos, self.base_offset + u64::from(rel))
    }

    /// Where a forward scan finds the first frame with max timestamp >= `ts_us`, as for
    /// [`Self::position_for_offset`].
    pub(crate) fn position_for_timestamp(&self, ts_us: i64) -> (u64, u64) {
        let (pos, rel) = read_lock(&self.index).position_for_timestamp(ts_us);
        (pos, self.base_offset + u64::from(rel))
    }

    /// The damaged range at `pos`, where the frame starting with `offset` should be and the
    /// bytes failed their checks: known already, or found now by searching the file for the
    /// next valid frame (each new range is logged at ERROR). `None` when no valid frame follows
    /// within the segment, so nothing from `pos` on can be read here.
    pub(crate) fn damage_at(&self, pos: u64, offset: u64) -> Result<Option<DamagedRange>> {
        let mut damage = lock(&self.damage);
        let known = damage
            .ranges
            .iter()
            .find(|r| r.start_position <= pos && pos < r.end_position);
        if let Some(range) = known {
            return Ok(Some(*range));
        }
        // Size first: every frame below it is whole and ends at or below the next offset read
        // after it.
        let len = self.size();
        let resync = Resync {
            segment_base: self.base_offset,
            first_offset: offset,
            next_offset_max: Some(self.next_offset()),
        };
        let Some((end, next)) =
            find_next_frame(self.file.as_ref(), &self.log_path, pos, len, resync)?
        else {
            if !damage.unresumable.contains(&pos) {
                damage.unresumable.push(pos);
                tracing::error!(
                    path = %self.log_path.display(),
                    position = pos,
                    first_offset = offset,
                    "damaged frame with no valid frame after it in its segment: offsets from \
                     {offset} in {} cannot be read",
                    self.log_path.display()
                );
            }
            return Ok(None);
        };
        let range = DamagedRange {
            start_position: pos,
            end_position: end,
            first_offset: offset,
            next_offset: next.base_offset,
        };
        log_damage(&self.log_path, &range, "read");
        damage.ranges.push(range);
        Ok(Some(range))
    }

    /// The damaged ranges known so far.
    pub(crate) fn damaged_ranges(&self) -> Vec<DamagedRange> {
        lock(&self.damage).ranges.clone()
    }

    /// Reads and checks the frame header at `pos` (which must be below `size`).
    pub(crate) fn read_header(&self, pos: u64) -> Result<FrameHeader> {
        let mut b = [0u8; FRAME_HEADER_BYTES];
        self.file
            .read_exact_at(&mut b, pos)
            .map_err(|e| LogError::io(&self.log_path, e))?;
        let header = FrameHeader::decode(&b)?;
        if header.payload_length > FRAME_PAYLOAD_BYTES_MAX
            || pos + header.frame_bytes() > self.size()
        {
            return Err(LogError::CorruptFrame {
                reason: "frame runs past the segment end",
            });
        }
        Ok(header)
    }

    /// Reads the payload of the frame at `pos` and checks its checksum.
    pub(crate) fn read_payload(&self, pos: u64, header: &FrameHeader) -> Result<Bytes> {
        assert!(
            header.payload_length <= FRAME_PAYLOAD_BYTES_MAX,
            "unchecked frame header"
        );
        let payload = self
            .file
            .read_vec_at(
                header.payload_length as usize,
                pos + FRAME_HEADER_BYTES as u64,
            )
            .map_err(|e| LogError::io(&self.log_path, e))?;
        header.check_payload(&payload)?;
        Ok(Bytes::from(payload))
    }

    /// `fdatasync` of the data file: everything appended so far is on disk afterwards.
    pub(crate) fn sync_data(&self) -> Result<()> {
        self.file
            .sync_data()
            .map_err(|e| LogError::io(&self.log_path, e))
    }

    /// Syncs data and index: done once when the segment stops being the active one.
    pub(crate) fn finish(&self) -> Result<()> {
        self.sync_data()?;
        self.index_file
            .sync_data()
            .map_err(|e| LogError::io(&self.index_path, e))
    }

    /// Deletes both files. Readers that still hold the segment keep reading through their open
    /// handle; the space is freed when the last one lets go.
    pub(crate) fn remove_files(&self) -> Result<()> {
        for path in [&self.log_path, &self.index_path] {
            match self.store.remove(path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(LogError::io(path, e)),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn file_header_round_trips_and_detects_damage() {
        let h = encode_file_header(LOG_MAGIC, 12345);
        assert_eq!(decode_file_header(LOG_MAGIC, &h), Ok(12345));
        assert!(decode_file_header(INDEX_MAGIC, &h).is_err());
        for i in 0..20 * 8 {
            let mut b = h;
            b[i / 8] ^= 1 << (i % 8);
            assert!(decode_file_header(LOG_MAGIC, &b).is_err(), "bit {i}");
        }
        assert!(decode_file_header(LOG_MAGIC, &h[..10]).is_err());
    }

    #[test]
    fn names_parse() {
        assert_eq!(
            parse_segment_file_name(&log_file_name(42)),
            Some((42, SegmentFileKind::Log))
        );
        assert_eq!(
            parse_segment_file_name(&index_file_name(u64::MAX)),
            Some((u64::MAX, SegmentFileKind::Index))
        );
        for bad in [
            "abc.log",
            "12.index",
            "0000000000000000000a.log",
            "99999999999999999999.log",
        ] {
            assert_eq!(parse_segment_file_name(bad), None, "{bad}");
        }
    }
}
