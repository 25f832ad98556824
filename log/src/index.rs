//! The sparse index of one segment: fixed-size entries mapping an offset (relative to the
//! segment base) to the file position of the frame that starts there, and carrying the running
//! maximum timestamp up to and including that frame. Offset lookups and "first frame with
//! timestamp >= T" lookups are a binary search here followed by a short forward scan of frames.
//!
//! On disk: `[file header][entry]*`, entries little-endian `rel_offset: u32, position: u32,
//! max_timestamp_us: i64`. The index is derived data: recovery rebuilds it from the `.log`
//! whenever it is missing, short, garbage or inconsistent.

use std::path::Path;

use crate::limits::{INDEX_ENTRY_BYTES, SEGMENT_FILE_HEADER_BYTES};
use crate::segment::{INDEX_MAGIC, decode_file_header};
use crate::storage::{SegmentFile, SegmentStore};

/// One index entry: where the frame starting at `base + rel_offset` sits in the `.log`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct IndexEntry {
    pub(crate) rel_offset: u32,
    pub(crate) position: u32,
    /// Maximum frame timestamp over every frame of the segment up to and including this one;
    /// non-decreasing along the index, which is what makes timestamp lookups a binary search.
    pub(crate) max_timestamp_us: i64,
}

impl IndexEntry {
    pub(crate) fn encode(&self) -> [u8; INDEX_ENTRY_BYTES as usize] {
        let mut b = [0u8; INDEX_ENTRY_BYTES as usize];
        b[0..4].copy_from_slice(&self.rel_offset.to_le_bytes());
        b[4..8].copy_from_slice(&self.position.to_le_bytes());
        b[8..16].copy_from_slice(&self.max_timestamp_us.to_le_bytes());
        b
    }

    fn decode(b: &[u8]) -> Option<Self> {
        let rel = b.get(0..4)?;
        let pos = b.get(4..8)?;
        let ts = b.get(8..16)?;
        Some(Self {
            rel_offset: u32::from_le_bytes(rel.try_into().ok()?),
            position: u32::from_le_bytes(pos.try_into().ok()?),
            max_timestamp_us: i64::from_le_bytes(ts.try_into().ok()?),
        })
    }
}

/// In-memory sparse index of one segment plus the writer's "bytes since the last entry" count.
/// Lives behind a lock in the segment; readers hold it only for a binary search.
#[derive(Debug)]
pub(crate) struct SegmentIndex {
    entries: Vec<IndexEntry>,
    bytes_since_entry: u64,
    interval_bytes: u64,
}

impl SegmentIndex {
    /// An empty index that adds an entry every `interval_bytes` of frames (0 is taken as 1).
    pub(crate) fn new(interval_bytes: u64) -> Self {
        Self {
            entries: Vec::new(),
            bytes_since_entry: 0,
            interval_bytes: interval_bytes.max(1),
        }
    }

    /// Records that a frame of `frame_bytes` was written at `position`; returns the entry to
    /// persist when this frame is the segment's first or the interval has been reached.
    pub(crate) fn on_frame(
        &mut self,
        rel_offset: u32,
        position: u32,
        frame_bytes: u64,
        running_max_ts_us: i64,
    ) -> Option<IndexEntry> {
        let due = self.entries.is_empty() || self.bytes_since_entry >= self.interval_bytes;
        let entry = due.then(|| {
            if let Some(last) = self.entries.last() {
                assert!(rel_offset > last.rel_offset, "index offsets must increase");
                assert!(position > last.position, "index positions must increase");
                assert!(
                    running_max_ts_us >= last.max_timestamp_us,
                    "running max decreased"
                );
            }
            let e = IndexEntry {
                rel_offset,
                position,
                max_timestamp_us: running_max_ts_us,
            };
            self.entries.push(e);
            self.bytes_since_entry = 0;
            e
        });
        self.bytes_since_entry += frame_bytes;
        entry
    }

    /// The entries [`Self::on_frame`] would record for these frames (`(relative offset,
    /// position, frame bytes, running max timestamp)`, in order), each with its slot in the
    /// file, without recording them (so the writer can persist them first).
    pub(crate) fn plan_entries(
        &self,
        frames: impl Iterator<Item = (u32, u32, u64, i64)>,
    ) -> Vec<(usize, IndexEntry)> {
        let mut out = Vec::new();
        let mut empty = self.entries.is_empty();
        let mut since = self.bytes_since_entry;
        for (rel_offset, position, frame_bytes, running_max_ts_us) in frames {
            if empty || since >= self.interval_bytes {
                let slot = self.entries.len() + out.len();
                let entry = IndexEntry {
                    rel_offset,
                    position,
                    max_timestamp_us: running_max_ts_us,
                };
                out.push((slot, entry));
                since = 0;
                empty = false;
            }
            since += frame_bytes;
        }
        out
    }

    /// The entries, oldest first.
    pub(crate) fn entries(&self) -> &[IndexEntry] {
        &self.entries
    }

    /// Where a forward scan finds the frame holding `rel_offset`: a file position and the
    /// relative offset of the frame that starts there.
    pub(crate) fn position_for_offset(&self, rel_offset: u64) -> (u64, u32) {
        let k = self
            .entries
            .partition_point(|e| u64::from(e.rel_offset) <= rel_offset);
        Self::scan_point(k.checked_sub(1).and_then(|i| self.entries.get(i)))
    }

    /// Where a forward scan finds the first frame whose max timestamp is `>= ts_us` (the entry
    /// before the first entry whose running max reaches `ts_us`), as for
    /// [`Self::position_for_offset`].
    pub(crate) fn position_for_timestamp(&self, ts_us: i64) -> (u64, u32) {
        let k = self.entries.partition_point(|e| e.max_timestamp_us < ts_us);
        Self::scan_point(k.checked_sub(1).and_then(|i| self.entries.get(i)))
    }

    /// An entry's position and relative offset; the first frame's without one.
    fn scan_point(entry: Option<&IndexEntry>) -> (u64, u32) {
        entry.map_or((SEGMENT_FILE_HEADER_BYTES, 0), |e| {
            (u64::from(e.position), e.rel_offset)
        })
    }
}

impl SegmentIndex {
    /// An index that continues after `entries` (loaded from disk and checked): the next frame
    /// recorded gets an entry, as the frame after which the old entries stop.
    pub(crate) fn resume(entries: Vec<IndexEntry>, interval_bytes: u64) -> Self {
        let interval_bytes = interval_bytes.max(1);
        Self {
            entries,
            bytes_since_entry: interval_bytes,
            interval_bytes,
        }
    }
}

/// Result of reading an `.index` file from disk: the entries that passed the structural checks
/// and, when anything was wrong, why.
pub(crate) struct LoadedIndex {
    pub(crate) entries: Vec<IndexEntry>,
    pub(crate) problem: Option<String>,
}

/// Reads and structurally checks an index file against the segment it belongs to. Never fails:
/// anything wrong becomes a `problem` and the longest valid prefix of entries is kept.
pub(crate) fn load_index(
    store: &dyn SegmentStore,
    path: &Path,
    base_offset: u64,
    log_len: u64,
) -> LoadedIndex {
    let bad = |entries, why: String| LoadedIndex {
        entries,
        problem: Some(why),
    };
    let file = match store.open(path, false) {
        Ok(f) => f,
        Err(e) => return bad(Vec::new(), format!("cannot open index: {e}")),
    };
    // An index never legitimately holds more entries than there are frame starts in the log
    // (each frame is over INDEX_ENTRY_BYTES), so the log length bounds the read.
    let cap = SEGMENT_FILE_HEADER_BYTES + log_len;
    let len = match file.size() {
        Ok(len) => len,
        Err(e) => return bad(Vec::new(), format!("cannot read index: {e}")),
    };
    if len > cap {
        return bad(
            Vec::new(),
            "index larger than its segment allows".to_string(),
        );
    }
    let bytes = match usize::try_from(len).map(|len| file.read_vec_at(len, 0)) {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(e)) => return bad(Vec::new(), format!("cannot read index: {e}")),
        Err(e) => return bad(Vec::new(), format!("cannot read index: {e}")),
    };
    let header_len = SEGMENT_FILE_HEADER_BYTES as usize;
    let Some(header) = bytes.get(..header_len) else {
        return bad(Vec::new(), "index shorter than its file header".to_string());
    };
    match decode_file_header(INDEX_MAGIC, header) {
        Ok(b) if b == base_offset => {}
        Ok(b) => return bad(Vec::new(), format!("index header names base offset {b}")),
        Err(why) => return bad(Vec::new(), format!("index file header: {why}")),
    }
    let body = bytes.get(header_len..).unwrap_or_default();
    let mut entries = Vec::with_capacity(body.len() / INDEX_ENTRY_BYTES as usize);
    for chunk in body.chunks(INDEX_ENTRY_BYTES as usize) {
        let Some(e) = IndexEntry::decode(chunk) else {
            return bad(entries, "index ends with a partial entry".to_string());
        };
        if let Some(why) = entry_problem(entries.last(), &e, log_len) {
            let why = format!("index entry {}: {why}", entries.len());
            return bad(entries, why);
        }
        entries.push(e);
    }
    LoadedIndex {
        entries,
        problem: None,
    }
}

/// Why `e` cannot follow `prev` in an index of a `.log` of `log_len` bytes, if it cannot.
fn entry_problem(prev: Option<&IndexEntry>, e: &IndexEntry, log_len: u64) -> Option<&'static str> {
    let pos = u64::from(e.position);
    if pos < SEGMENT_FILE_HEADER_BYTES || pos >= log_len {
        return Some("position outside the segment");
    }
    match prev {
        None if e.rel_offset != 0 || pos != SEGMENT_FILE_HEADER_BYTES => {
            Some("first entry is not the segment's first frame")
        }
        None => None,
        Some(p) if e.rel_offset <= p.rel_offset => Some("offsets not increasing"),
        Some(p) if e.position <= p.position => Some("positions not increasing"),
        Some(p) if e.max_timestamp_us < p.max_timestamp_us => {
            Some("running max timestamp decreased")
        }
        Some(_) => None,
    }
}

/// Writes a whole index file (header then entries) over `file`, cutting anything after them,
/// and syncs it.
pub(crate) fn write_index(
    file: &dyn SegmentFile,
    base_offset: u64,
    entries: &[IndexEntry],
) -> std::io::Result<()> {
    write_index_unsynced(file, base_offset, entries)?;
    file.sync_data()
}

/// [`write_index`] without the sync: for a new segment's index, which is synced with the
/// segment when it is rolled (and rebuilt by recovery if a crash comes first). A new segment
/// is created under the append lock, where no `fdatasync` may run.
pub(crate) fn write_index_unsynced(
    file: &dyn SegmentFile,
    base_offset: u64,
    entries: &[IndexEntry],
) -> std::io::Result<()> {
    let mut buf = Vec::with_capacity(
        SEGMENT_FILE_HEADER_BYTES as usize + entries.len() * INDEX_ENTRY_BYTES as usize,
    );
    buf.extend_from_slice(&crate::segment::encode_file_header(
        INDEX_MAGIC,
        base_offset,
    ));
    for e in entries {
        buf.extend_from_slice(&e.encode());
    }
    file.set_len(0)?;
    file.write_all_at(&buf, 0)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::storage::LocalStore;

    fn index_of(frames: &[(u32, u32, i64)]) -> SegmentIndex {
        let mut idx = SegmentIndex::new(100);
        let mut running = i64::MIN;
        for &(rel, pos, ts) in frames {
            running = running.max(ts);
            idx.on_frame(rel, pos, 60, running);
        }
        idx
    }

    #[test]
    fn entries_follow_the_interval() {
        // 60-byte frames, interval 100: entries at frames 0, 2, 4 (after >= 100 bytes each).
        let frames: Vec<_> = (0..6).map(|i| (i, 24 + i * 60, i64::from(i))).collect();
        let idx = index_of(&frames);
        let rels: Vec<_> = idx.entries().iter().map(|e| e.rel_offset).collect();
        assert_eq!(rels, vec![0, 2, 4]);
        assert_eq!(idx.position_for_offset(0), (24, 0));
        assert_eq!(idx.position_for_offset(1), (24, 0));
        assert_eq!(idx.position_for_offset(3), (24 + 120, 2));
        assert_eq!(idx.position_for_offset(99), (24 + 240, 4));
    }

    #[test]
    fn timestamp_lookup_uses_running_max() {
        let frames = [
            (0, 24, 50),
            (1, 84, 10),
            (2, 144, 20),
            (3, 204, 70),
            (4, 264, 80),
        ];
        let idx = index_of(&frames);
        // entries: rel0 max50, rel2 max50, rel4 max80
        assert_eq!(idx.position_for_timestamp(40), (24, 0));
        assert_eq!(idx.position_for_timestamp(60), (144, 2));
        assert_eq!(idx.position_for_timestamp(1000), (264, 4));
    }

    #[test]
    fn load_rejects_garbage_and_keeps_valid_prefix() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.index");
        std::fs::write(&path, vec![0xAB; 333]).unwrap();
        let loaded = load_index(&LocalStore, &path, 0, 10_000);
        assert!(loaded.problem.is_some());
        assert!(loaded.entries.is_empty());

        let file = LocalStore.open(&path, true).unwrap();
        let file = file.as_ref();
        let good = [
            IndexEntry {
                rel_offset: 0,
                position: 24,
                max_timestamp_us: 5,
            },
            IndexEntry {
                rel_offset: 3,
                position: 500,
                max_timestamp_us: 9,
            },
            IndexEntry {
                rel_offset: 2,
                position: 900,
                max_timestamp_us: 9,
            },
        ];
        write_index(file, 7, &good).unwrap();
        let loaded = load_index(&LocalStore, &path, 7, 10_000);
        assert_eq!(loaded.entries, good[..2]);
        assert!(loaded.problem.unwrap().contains("offsets not increasing"));
        let loaded = load_index(&LocalStore, &path, 8, 10_000);
        assert!(loaded.problem.unwrap().contains("base offset"));
        write_index(file, 7, &good[..2]).unwrap();
        let loaded = load_index(&LocalStore, &path, 7, 10_000);
        assert!(loaded.problem.is_none());
        assert_eq!(loaded.entries, good[..2]);
    }
}
