//! The cleaner of a compacted partition (`cleanup.policy=compact`), run by the maintenance
//! thread under the partition's maintenance lock (appends take only the writer lock, so they
//! keep flowing; the writer lock is held only to swap one segment in the list).
//!
//! A round: the cleanable segments are the closed ones, oldest first, up to the first one that
//! is not older than `min_compaction_lag_ms` or holds damage. A [`KeyMap`] of key → latest
//! offset is built over them; then each segment holding a record to remove (a key with a later
//! record, or a tombstone whose segment was first cleaned more than `delete_retention_ms` ago)
//! is rewritten through the [`Compactor`] into `<base>.log.cleaned` / `<base>.index.cleaned`
//! (fsynced), renamed to `.swap` (index first, then log: the log's rename is the commit point;
//! the directory is fsynced), then over the segment's files (index, then log; the directory is
//! fsynced) and reopened with recovery's checks. Every frame keeps its offsets, so the offset
//! index, the log start and every offset a reader holds stay valid. Readers holding the old
//! segment keep reading the old file through its open descriptor (pinned by the store).
//!
//! Recovery ([`finish_swaps`], before the segments are listed): a `.cleaned` file is deleted
//! (the swap had not begun); a `.log.swap` completes the swap; an `.index.swap` without a
//! `.log.swap` is deleted (the commit point was not reached).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;

use super::{Inner, PartitionLog};
use crate::compaction::{Compactor, KeyMap, RecordInfo, read_cleaned_times, write_cleaned_times};
use crate::error::{LogError, Result};
use crate::frame::FrameHeader;
use crate::index::{SegmentIndex, write_index};
use crate::limits::SEGMENT_FILE_HEADER_BYTES;
use crate::read_ahead::ReadAhead;
use crate::recovery::{RecoveryAction, RecoveryEvent, reopen_segment, report};
use crate::segment::{LOG_MAGIC, Segment, encode_file_header, index_file_name, log_file_name};
use crate::storage::{SegmentFile, SegmentStore};
use crate::sync_util::lock;

const CLEANED: &str = ".cleaned";
const SWAP: &str = ".swap";

/// What one cleaning round of a partition did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CompactionOutcome {
    /// Segments rewritten.
    pub segments_cleaned: u32,
    /// Records removed from them.
    pub records_removed: u64,
    /// Bytes of the rewritten segments before and after.
    pub bytes_before: u64,
    pub bytes_after: u64,
}

/// Where a round stops early, as a crash would (tests of the swap protocol).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StopAt {
    Never,
    /// After the `.cleaned` files are written and synced.
    #[cfg_attr(not(test), allow(dead_code))]
    Cleaned,
    /// After the `.swap` renames (the commit point), before the final renames.
    #[cfg_attr(not(test), allow(dead_code))]
    Swapped,
}

/// What decides which records of the cleanable segments go.
struct Plan<'a> {
    compactor: &'a dyn Compactor,
    map: KeyMap,
    /// The round's clock and `delete_retention_ms`, for tombstones.
    now_us: i64,
    delete_retention_us: i64,
    /// Segment base → when it was first cleaned (`cleaned.times`).
    times: std::collections::BTreeMap<u64, i64>,
}

impl Plan<'_> {
    fn removes(&self, record: &RecordInfo, drop_tombstones: bool) -> bool {
        let Some(key) = &record.key else {
            return false;
        };
        self.map.superseded(key, record.offset) || (record.tombstone && drop_tombstones)
    }

    fn tombstones_expired(&self, base: u64) -> bool {
        self.times
            .get(&base)
            .is_some_and(|&at| self.now_us.saturating_sub(at) > self.delete_retention_us)
    }

    /// The records of a frame the compactor can read (none when it keeps the frame whole).
    fn records(&self, header: &FrameHeader, payload: &[u8]) -> Vec<RecordInfo> {
        match self.compactor.records(header.format, payload) {
            Ok(records) => records.unwrap_or_default(),
            Err(error) => {
                tracing::warn!(offset = header.base_offset, %error, "compaction keeps a frame it cannot read");
                Vec::new()
            }
        }
    }
}

fn ms_to_us(ms: u64) -> i64 {
    i64::try_from(ms.saturating_mul(1000)).unwrap_or(i64::MAX)
}

/// Calls `each` with every frame of a closed segment, in order.
fn for_each_frame(
    seg: &Segment,
    mut each: impl FnMut(FrameHeader, Bytes) -> Result<()>,
) -> Result<()> {
    let mut pos = SEGMENT_FILE_HEADER_BYTES;
    let size = seg.size();
    while pos < size {
        let header = seg.read_header(pos)?;
        let payload = seg.read_payload(pos, &header)?;
        pos += header.frame_bytes();
        each(header, payload)?;
    }
    Ok(())
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

impl PartitionLog {
    /// One cleaning round (see the module docs); nothing happens unless the topic's settings
    /// ask for compaction. `map_keys` bounds the key map.
    pub fn compact(
        &self,
        now_us: i64,
        compactor: &dyn Compactor,
        map_keys: usize,
    ) -> Result<CompactionOutcome> {
        self.inner
            .compact(now_us, compactor, map_keys, StopAt::Never)
    }
}

impl Inner {
    pub(crate) fn compact(
        &self,
        now_us: i64,
        compactor: &dyn Compactor,
        map_keys: usize,
        stop: StopAt,
    ) -> Result<CompactionOutcome> {
        let _m = lock(&self.maintenance);
        self.check_alive()?;
        let Some(settings) = self.settings.load().compaction else {
            return Ok(CompactionOutcome::default());
        };
        let segments = self.segments.load_full();
        let closed = &segments[..segments.len().saturating_sub(1)];
        let lag_us = ms_to_us(settings.min_compaction_lag_ms);
        let cleanable: Vec<Arc<Segment>> = closed
            .iter()
            .take_while(|s| {
                now_us.saturating_sub(s.max_timestamp_us()) > lag_us
                    && s.damaged_ranges().is_empty()
            })
            .cloned()
            .collect();
        if cleanable.is_empty() {
            return Ok(CompactionOutcome::default());
        }
        let mut plan = Plan {
            compactor,
            map: KeyMap::new(map_keys),
            now_us,
            delete_retention_us: ms_to_us(settings.delete_retention_ms),
            times: read_cleaned_times(&self.dir),
        };
        for seg in &cleanable {
            for_each_frame(seg, |header, payload| {
                for record in plan.records(&header, &payload) {
                    if let Some(key) = &record.key {
                        plan.map.put(key, record.offset);
                    }
                }
                Ok(())
            })?;
        }
        self.note_cleaned_times(&mut plan.times, &segments, &cleanable, now_us);
        let mut outcome = CompactionOutcome::default();
        for seg in &cleanable {
            let drop_tombstones = plan.tombstones_expired(seg.base_offset());
            if let Some((removed, after)) = self.clean_segment(seg, &plan, drop_tombstones, stop)? {
                outcome.segments_cleaned += 1;
                outcome.records_removed += removed;
                outcome.bytes_before += seg.size();
                outcome.bytes_after += after;
            }
            if stop != StopAt::Never && outcome.segments_cleaned > 0 {
                break;
            }
        }
        Ok(outcome)
    }

    /// Records now as the first-cleaned time of cleanable segments without one, forgets the
    /// segments that are gone, and persists the table when it changed (a failure is logged:
    /// it only delays tombstone removal).
    fn note_cleaned_times(
        &self,
        times: &mut std::collections::BTreeMap<u64, i64>,
        segments: &[Arc<Segment>],
        cleanable: &[Arc<Segment>],
        now_us: i64,
    ) {
        let before = times.clone();
        times.retain(|base, _| segments.iter().any(|s| s.base_offset() == *base));
        for seg in cleanable {
            times.entry(seg.base_offset()).or_insert(now_us);
        }
        if *times != before
            && let Err(error) = write_cleaned_times(&self.dir, times)
        {
            tracing::warn!(path = %self.dir.display(), %error, "cannot record segment clean times");
        }
    }

    /// Rewrites `seg` without the records `plan` removes and swaps it in; `None` when it holds
    /// none to remove. Returns the records removed and the new size.
    fn clean_segment(
        &self,
        seg: &Arc<Segment>,
        plan: &Plan<'_>,
        drop_tombstones: bool,
        stop: StopAt,
    ) -> Result<Option<(u64, u64)>> {
        let mut removable = 0u64;
        for_each_frame(seg, |header, payload| {
            let records = plan.records(&header, &payload);
            removable += records
                .iter()
                .filter(|r| plan.removes(r, drop_tombstones))
                .count() as u64;
            Ok(())
        })?;
        if removable == 0 {
            return Ok(None);
        }
        let base = seg.base_offset();
        let log_path = self.dir.join(log_file_name(base));
        let index_path = self.dir.join(index_file_name(base));
        let size = self.write_cleaned(seg, plan, drop_tombstones, &log_path, &index_path)?;
        if stop == StopAt::Cleaned {
            return Ok(Some((removable, size)));
        }
        let store = self.store.as_ref();
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |e| LogError::io(&path, e)
        };
        let (index_swap, log_swap) = (with_suffix(&index_path, SWAP), with_suffix(&log_path, SWAP));
        store
            .rename(&with_suffix(&index_path, CLEANED), &index_swap)
            .map_err(io(&index_swap))?;
        store
            .rename(&with_suffix(&log_path, CLEANED), &log_swap)
            .map_err(io(&log_swap))?;
        store.sync_dir(&self.dir).map_err(io(&self.dir))?;
        if stop == StopAt::Swapped {
            return Ok(Some((removable, size)));
        }
        store
            .rename(&index_swap, &index_path)
            .map_err(io(&index_path))?;
        store.rename(&log_swap, &log_path).map_err(io(&log_path))?;
        store.sync_dir(&self.dir).map_err(io(&self.dir))?;
        let fresh = reopen_segment(&self.store, &log_path, base, self.index_interval)?.ok_or(
            LogError::CorruptFrame {
                reason: "a segment the cleaner wrote is unusable",
            },
        )?;
        self.swap_in(seg, Arc::new(fresh));
        Ok(Some((removable, size)))
    }

    /// Writes the cleaned copy of `seg` to `.cleaned` files and syncs them; returns its size.
    fn write_cleaned(
        &self,
        seg: &Segment,
        plan: &Plan<'_>,
        drop_tombstones: bool,
        log_path: &Path,
        index_path: &Path,
    ) -> Result<u64> {
        let base = seg.base_offset();
        let (log_tmp, index_tmp) = (
            with_suffix(log_path, CLEANED),
            with_suffix(index_path, CLEANED),
        );
        for stale in [&log_tmp, &index_tmp] {
            match self.store.remove(stale) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(LogError::io(stale, e));
                }
                _ => {}
            }
        }
        let file = self
            .store
            .create_new(&log_tmp)
            .map_err(|e| LogError::io(&log_tmp, e))?;
        file.write_all_at(&encode_file_header(LOG_MAGIC, base), 0)
            .map_err(|e| LogError::io(&log_tmp, e))?;
        let mut pos = SEGMENT_FILE_HEADER_BYTES;
        let mut index = SegmentIndex::new(self.index_interval);
        let mut running = i64::MIN;
        for_each_frame(seg, |header, payload| {
            let records = plan.records(&header, &payload);
            let (header, payload) = if records.iter().any(|r| plan.removes(r, drop_tombstones)) {
                let keep = |offset: u64| {
                    records
                        .iter()
                        .find(|r| r.offset == offset)
                        .is_none_or(|r| !plan.removes(r, drop_tombstones))
                };
                // A frame the compactor cannot rewrite is kept as it is.
                rewrite_frame(plan.compactor, &header, &payload, &keep)
                    .unwrap_or_else(|_| (header, payload.to_vec()))
            } else {
                (header, payload.to_vec())
            };
            write_frame(file.as_ref(), &log_tmp, &header, &payload, pos)?;
            let rel = u32::try_from(header.base_offset - base).unwrap_or(u32::MAX);
            let position = u32::try_from(pos).unwrap_or(u32::MAX);
            running = running.max(header.max_timestamp_us);
            index.on_frame(rel, position, header.frame_bytes(), running);
            pos += header.frame_bytes();
            Ok(())
        })?;
        file.sync_data().map_err(|e| LogError::io(&log_tmp, e))?;
        let index_file = self
            .store
            .create_new(&index_tmp)
            .map_err(|e| LogError::io(&index_tmp, e))?;
        write_index(index_file.as_ref(), base, index.entries())
            .map_err(|e| LogError::io(&index_tmp, e))?;
        Ok(pos)
    }

    /// Replaces `old` by `fresh` in the segment list and forgets cached frames (they may hold
    /// removed records).
    fn swap_in(&self, old: &Arc<Segment>, fresh: Arc<Segment>) {
        let _w = lock(&self.writer);
        let mut list = self.segments.load_full().as_ref().clone();
        if let Some(slot) = list.iter_mut().find(|s| Arc::ptr_eq(s, old)) {
            *slot = fresh;
        }
        self.segments.store(Arc::new(list));
        lock(&self.cache).clear();
        *lock(&self.read_ahead) = ReadAhead::default();
    }
}

/// The frame rewritten by the compactor: same offsets and timestamps, fewer records.
fn rewrite_frame(
    compactor: &dyn Compactor,
    header: &FrameHeader,
    payload: &[u8],
    keep: &dyn Fn(u64) -> bool,
) -> Result<(FrameHeader, Vec<u8>)> {
    let rewritten = compactor
        .rewrite(header.format, payload, keep)
        .map_err(|reason| {
            tracing::warn!(offset = header.base_offset, %reason, "compaction cannot rewrite a frame");
            LogError::CorruptFrame {
                reason: "the compactor could not rewrite a frame",
            }
        })?;
    let payload_length =
        u32::try_from(rewritten.payload.len()).map_err(|_| LogError::CorruptFrame {
            reason: "a rewritten frame is too large",
        })?;
    let new = FrameHeader {
        record_count: rewritten.record_count,
        payload_length,
        payload_crc: crc32c::crc32c(&rewritten.payload),
        ..*header
    };
    Ok((new, rewritten.payload))
}

fn write_frame(
    file: &dyn SegmentFile,
    path: &Path,
    header: &FrameHeader,
    payload: &[u8],
    pos: u64,
) -> Result<()> {
    file.write_all_vectored_at(&[&header.encode(), payload], pos)
        .map_err(|e| LogError::io(path, e))
}

/// Settles the files of a compaction a crash interrupted (see the module docs).
pub(crate) fn finish_swaps(
    store: &dyn SegmentStore,
    dir: &Path,
    events: &mut Vec<RecoveryEvent>,
) -> Result<()> {
    let mut names: Vec<String> = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| LogError::io(dir, e))? {
        let entry = entry.map_err(|e| LogError::io(dir, e))?;
        if let Some(name) = entry.file_name().to_str() {
            names.push(name.to_string());
        }
    }
    let mut changed = false;
    for name in &names {
        let path = dir.join(name);
        let discard = name.ends_with(CLEANED)
            || name
                .strip_suffix(".index.swap")
                .is_some_and(|stem| !names.contains(&format!("{stem}.log.swap")));
        if discard {
            std::fs::remove_file(&path).map_err(|e| LogError::io(&path, e))?;
            let why = "an interrupted compaction's file (the swap had not begun)".to_string();
            report(events, &path, RecoveryAction::CompactionDiscarded, why);
            changed = true;
        } else if let Some(stem) = name.strip_suffix(".log.swap") {
            let index_swap = dir.join(format!("{stem}.index.swap"));
            if index_swap.exists() {
                let to = dir.join(format!("{stem}.index"));
                std::fs::rename(&index_swap, &to).map_err(|e| LogError::io(&to, e))?;
            }
            let to = dir.join(format!("{stem}.log"));
            std::fs::rename(&path, &to).map_err(|e| LogError::io(&to, e))?;
            let why = "an interrupted compaction's swap, completed".to_string();
            report(events, &to, RecoveryAction::CompactionCompleted, why);
            changed = true;
        }
    }
    if changed {
        store.sync_dir(dir).map_err(|e| LogError::io(dir, e))?;
    }
    Ok(())
}

#[cfg(test)]
#[path = "compact_tests.rs"]
mod tests;
