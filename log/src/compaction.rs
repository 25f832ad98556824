//! The compaction seam and the cleaner's key map. The log knows no record layout, so a caller
//! that wants `cleanup.policy=compact` supplies a [`Compactor`] (the broker's reads Kafka
//! batches) that lists the records of one stored frame and rewrites a frame keeping only some of
//! its records. The cleaner (`partition/compact.rs`) builds a [`KeyMap`] (a 128-bit hash of
//! each key → the offset of its latest record) over the cleanable segments and rewrites them.
//!
//! A rewritten frame keeps its base offset and its last offset delta, so the frames of a
//! segment still cover every offset densely and nothing that indexes or checks offsets changes;
//! a frame may be left with no record at all (Kafka keeps such empty batches as well).
//!
//! The time each segment was first cleaned (when tombstones start their `delete_retention_ms`)
//! is kept in `cleaned.times` in the partition directory (`<base> <unix µs>` a line, written to
//! a temporary file and renamed). A lost or unreadable file only delays tombstone removal.

use std::collections::{BTreeMap, HashMap};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::Write;
use std::path::Path;

use crate::frame::BatchFormat;

/// One record of a stored frame, as the [`Compactor`] sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordInfo {
    /// The record's offset.
    pub offset: u64,
    /// Its key; `None` when it has none (never removed by compaction).
    pub key: Option<Vec<u8>>,
    /// Whether its value is null (a delete marker).
    pub tombstone: bool,
}

/// A frame rewritten by [`Compactor::rewrite`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rewritten {
    /// The new payload: same base offset, last offset delta and max timestamp as before.
    pub payload: Vec<u8>,
    /// Records it holds now (may be 0).
    pub record_count: u32,
}

/// What the log needs to compact frames whose layout it does not know.
pub trait Compactor: Send + Sync + std::fmt::Debug {
    /// The records of one frame's payload, or `None` when the frame must be kept as it is
    /// (control batches, a format without keys). An error keeps the frame as it is too.
    fn records(
        &self,
        format: BatchFormat,
        payload: &[u8],
    ) -> Result<Option<Vec<RecordInfo>>, String>;

    /// The payload with only the records whose offset `keep` accepts.
    fn rewrite(
        &self,
        format: BatchFormat,
        payload: &[u8],
        keep: &dyn Fn(u64) -> bool,
    ) -> Result<Rewritten, String>;
}

/// Key hash → offset of the latest record with that key, holding at most `cap` keys. Once
/// full, keys not in it yet are not tracked: their records are kept this round.
#[derive(Debug)]
pub(crate) struct KeyMap {
    latest: HashMap<u128, u64>,
    cap: usize,
}

/// 128 bits of the key: two SipHash passes with different prefixes (fixed keys, so the
/// same in every process; a collision between two keys is negligible at this width).
pub(crate) fn key_hash(key: &[u8]) -> u128 {
    let mut a = DefaultHasher::new();
    0u8.hash(&mut a);
    key.hash(&mut a);
    let mut b = DefaultHasher::new();
    1u8.hash(&mut b);
    key.hash(&mut b);
    (u128::from(a.finish()) << 64) | u128::from(b.finish())
}

impl KeyMap {
    pub(crate) fn new(cap: usize) -> Self {
        Self {
            latest: HashMap::new(),
            cap,
        }
    }

    /// Records `offset` as the latest for `key` (offsets arrive in increasing order); returns
    /// false when the key is new and the map is full.
    pub(crate) fn put(&mut self, key: &[u8], offset: u64) -> bool {
        let hash = key_hash(key);
        if let Some(latest) = self.latest.get_mut(&hash) {
            *latest = offset;
            return true;
        }
        if self.latest.len() >= self.cap {
            return false;
        }
        self.latest.insert(hash, offset);
        true
    }

    /// Whether a record at `offset` with `key` is superseded by a later one in the map.
    pub(crate) fn superseded(&self, key: &[u8], offset: u64) -> bool {
        self.latest
            .get(&key_hash(key))
            .is_some_and(|&latest| latest > offset)
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.latest.len()
    }
}

/// Name of the file holding when each segment was first cleaned.
pub(crate) const CLEANED_TIMES_FILE_NAME: &str = "cleaned.times";
const CLEANED_TIMES_TEMP_FILE_NAME: &str = "cleaned.times.tmp";

/// Reads `cleaned.times`; an absent or unreadable file (or line) is empty.
pub(crate) fn read_cleaned_times(dir: &Path) -> BTreeMap<u64, i64> {
    let Ok(text) = std::fs::read_to_string(dir.join(CLEANED_TIMES_FILE_NAME)) else {
        return BTreeMap::new();
    };
    text.lines()
        .filter_map(|line| {
            let (base, at) = line.split_once(' ')?;
            Some((base.parse().ok()?, at.parse().ok()?))
        })
        .collect()
}

/// Replaces `cleaned.times` (temporary file, fsync, rename).
pub(crate) fn write_cleaned_times(dir: &Path, times: &BTreeMap<u64, i64>) -> std::io::Result<()> {
    let tmp = dir.join(CLEANED_TIMES_TEMP_FILE_NAME);
    let mut file = std::fs::File::create(&tmp)?;
    for (base, at) in times {
        writeln!(file, "{base} {at}")?;
    }
    file.sync_data()?;
    drop(file);
    std::fs::rename(&tmp, dir.join(CLEANED_TIMES_FILE_NAME))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn key_map_keeps_the_latest_offset_and_stops_at_its_cap() {
        let mut map = KeyMap::new(2);
        assert!(map.put(b"a", 1));
        assert!(map.put(b"b", 2));
        assert!(map.put(b"a", 3), "a known key is updated when full");
        assert!(!map.put(b"c", 4), "a new key is refused when full");
        assert_eq!(map.len(), 2);
        assert!(map.superseded(b"a", 1));
        assert!(!map.superseded(b"a", 3));
        assert!(!map.superseded(b"b", 2));
        assert!(!map.superseded(b"c", 4), "untracked keys are kept");
        assert_ne!(key_hash(b"a"), key_hash(b"b"));
        assert_eq!(key_hash(b"a"), key_hash(b"a"));
    }

    #[test]
    fn cleaned_times_round_trip_and_tolerate_garbage() {
        let dir = tempfile::tempdir().unwrap();
        assert!(read_cleaned_times(dir.path()).is_empty());
        let times = BTreeMap::from([(0, 5), (100, 7)]);
        write_cleaned_times(dir.path(), &times).unwrap();
        assert_eq!(read_cleaned_times(dir.path()), times);
        std::fs::write(dir.path().join(CLEANED_TIMES_FILE_NAME), "x y\n3 4\n").unwrap();
        assert_eq!(read_cleaned_times(dir.path()), BTreeMap::from([(3, 4)]));
    }
}
