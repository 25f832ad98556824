//! Opening a partition directory: find the segments, check each one frame by frame, cut torn
//! tails, keep damaged ranges that valid frames follow, rebuild bad indexes, quarantine
//! unusable files, and report everything it did as [`RecoveryEvent`]s (each also logged with
//! `tracing::warn!`, a damaged range with `tracing::error!`). Nothing on disk makes recovery
//! panic; only I/O errors it cannot work around fail the open.
//!
//! Bad bytes are cut off only when no valid frame follows them: at the end of the last segment
//! (a torn write), or at the end of an earlier one whose next segment holds no valid frame
//! either. Bad bytes with a valid frame after them — in the same segment, or in the next one —
//! are kept as a [`DamagedRange`] (see `damage.rs`): the frames after them are intact and may
//! have been acknowledged long ago, so cutting there would delete them.
//!
//! The last segment (the one a crash can tear) is scanned from its first frame, unless the
//! partition was closed cleanly (a `clean.shutdown` marker naming that segment at its current
//! size, consumed by the open); earlier segments were synced after they were rolled, so they
//! are scanned from their last index entry (which is checked to point at a real frame first). Segments must be contiguous: after a
//! truncated or quarantined segment, the later segments no longer follow on and are quarantined
//! too, so the log stays a dense prefix.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::checkpoint::{
    CLEAN_SHUTDOWN_FILE_NAME, CleanShutdown, LOG_START_FILE_NAME, LOG_START_TEMP_FILE_NAME,
    REMOTE_RANGE_FILE_NAME, REMOTE_RANGE_TEMP_FILE_NAME, read_log_start, read_remote_range,
    take_clean_shutdown,
};
use crate::damage::{DamagedRange, Resync, check_frame_at, find_next_frame, log_damage};
use crate::error::{LogError, Result};
use crate::frame::{FRAME_HEADER_BYTES, FrameHeader};
use crate::index::{IndexEntry, SegmentIndex, load_index, write_index};
use crate::limits::{QUARANTINE_NAME_TRIES_MAX, SEGMENT_FILE_HEADER_BYTES};
use crate::segment::{
    LOG_MAGIC, Segment, SegmentFileKind, SegmentFiles, SegmentState, decode_file_header,
    index_file_name, parse_segment_file_name,
};
use crate::storage::{SegmentFile, SegmentStore};

/// Something recovery found and did, for the caller to surface (logs, metrics, admin API).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveryEvent {
    /// The file concerned.
    pub path: PathBuf,
    pub action: RecoveryAction,
    /// Human-readable cause (what check failed).
    pub reason: String,
}

/// What recovery did about a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecoveryAction {
    /// Cut the `.log` at file position `at`, dropping `removed_bytes` of torn frames (bad bytes
    /// with no valid frame after them).
    TruncatedTail { at: u64, removed_bytes: u64 },
    /// Kept bad bytes in the `.log` that valid frames follow: the range's offsets cannot be
    /// read, the frames after it are served. Logged at ERROR.
    KeptDamagedRange(DamagedRange),
    /// Wrote the `.index` again from the frames in the `.log`.
    RebuiltIndex,
    /// Deleted a segment that held no frame and was not the last one.
    RemovedEmptySegment,
    /// Renamed an unusable file aside to `to` (kept for inspection, no longer read).
    Quarantined { to: PathBuf },
    /// A file the log does not know; left untouched.
    StrayFileIgnored,
    /// The persisted log start offset was unusable or beyond the data; the log now starts at `to`.
    LogStartReset { to: u64 },
    /// Deleted the files of a compaction a crash interrupted before its swap began; the
    /// segment it was cleaning is unchanged.
    CompactionDiscarded,
    /// Finished the swap of a compacted segment that a crash interrupted after it began.
    CompactionCompleted,
}

/// Result of recovering a partition directory.
pub(crate) struct Recovered {
    pub(crate) segments: Vec<Arc<Segment>>,
    pub(crate) log_start_offset: u64,
    /// How far the remote tier's copy reached when local retention last removed a segment
    /// (0: never), from the partition's `remote.range`.
    pub(crate) remote_end: u64,
    /// The partition was closed cleanly and its last segment is exactly as the clean-shutdown
    /// marker names it: everything in it was synced before that close.
    pub(crate) clean: bool,
}

pub(crate) fn report(
    events: &mut Vec<RecoveryEvent>,
    path: &Path,
    action: RecoveryAction,
    reason: String,
) {
    match &action {
        RecoveryAction::KeptDamagedRange(range) => log_damage(path, range, "recovery"),
        _ => {
            tracing::warn!(path = %path.display(), ?action, %reason, "partition recovery: {reason}")
        }
    }
    events.push(RecoveryEvent {
        path: path.to_path_buf(),
        action,
        reason,
    });
}

/// Renames `path` aside with a `.corrupt` suffix (numbered if taken) and reports it.
fn quarantine(path: &Path, reason: String, events: &mut Vec<RecoveryEvent>) -> Result<()> {
    let mut name = path.as_os_str().to_owned();
    name.push(".corrupt");
    let mut to = PathBuf::from(&name);
    let mut n = 0;
    while to.exists() {
        n += 1;
        if n > QUARANTINE_NAME_TRIES_MAX {
            return Err(LogError::LimitExceeded {
                name: "quarantined copies",
                value: u64::from(n),
                max: u64::from(QUARANTINE_NAME_TRIES_MAX),
            });
        }
        let mut numbered = name.clone();
        numbered.push(format!(".{n}"));
        to = PathBuf::from(numbered);
    }
    std::fs::rename(path, &to).map_err(|e| LogError::io(path, e))?;
    report(events, path, RecoveryAction::Quarantined { to }, reason);
    Ok(())
}

/// Lists the directory: segment `.log` files by base offset, and reports anything unknown.
fn list_dir(dir: &Path, events: &mut Vec<RecoveryEvent>) -> Result<BTreeMap<u64, PathBuf>> {
    let mut logs = BTreeMap::new();
    let mut indexes = BTreeSet::new();
    let entries = std::fs::read_dir(dir).map_err(|e| LogError::io(dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| LogError::io(dir, e))?;
        let path = entry.path();
        let name = entry.file_name();
        let Some(name) = name.to_str() else {
            report(
                events,
                &path,
                RecoveryAction::StrayFileIgnored,
                "file name is not UTF-8".into(),
            );
            continue;
        };
        match parse_segment_file_name(name) {
            Some((base, SegmentFileKind::Log)) => {
                logs.insert(base, path);
            }
            Some((base, SegmentFileKind::Index)) => {
                indexes.insert((base, path));
            }
            None if name == LOG_START_FILE_NAME
                || name == CLEAN_SHUTDOWN_FILE_NAME
                || name == REMOTE_RANGE_FILE_NAME
                || name == crate::compaction::CLEANED_TIMES_FILE_NAME
                || name.ends_with(".corrupt") => {}
            None if name.contains(".corrupt.") => {}
            None if name == LOG_START_TEMP_FILE_NAME || name == REMOTE_RANGE_TEMP_FILE_NAME => {
                // A checkpoint write that never reached its rename: ours, and meaningless.
                std::fs::remove_file(&path).map_err(|e| LogError::io(&path, e))?;
            }
            None => {
                let why = format!("unknown file {name} in partition directory; left alone");
                report(events, &path, RecoveryAction::StrayFileIgnored, why);
            }
        }
    }
    for (base, path) in indexes {
        if !logs.contains_key(&base) {
            let why = format!("index {} has no segment; left alone", path.display());
            report(events, &path, RecoveryAction::StrayFileIgnored, why);
        }
    }
    Ok(logs)
}

/// Where a segment scan starts and what it knows at that point.
struct ScanStart {
    pos: u64,
    expected_offset: u64,
    running_max_ts_us: i64,
    index: SegmentIndex,
}

/// Where a segment scan ended.
struct ScanEnd {
    pos: u64,
    next_offset: u64,
    max_ts_us: i64,
    index: SegmentIndex,
    /// Damaged ranges the scan stepped over (each with a valid frame after it).
    damaged: Vec<DamagedRange>,
    /// Why the scan stopped before the end of the file, if it did: bad bytes with no valid
    /// frame after them in this file.
    bad: Option<&'static str>,
}

/// Reads frames forward from `start` until the end of the file or bad bytes that no valid frame
/// follows; bad bytes that one does follow are stepped over and reported as a damaged range.
fn scan_frames(
    file: &dyn SegmentFile,
    path: &Path,
    (base, len): (u64, u64),
    start: ScanStart,
    events: &mut Vec<RecoveryEvent>,
) -> Result<ScanEnd> {
    let ScanStart {
        mut pos,
        expected_offset: mut expected,
        running_max_ts_us: mut running,
        mut index,
    } = start;
    let mut payload = Vec::new();
    let mut damaged = Vec::new();
    let bad = loop {
        if pos == len {
            break None;
        }
        let reason = match check_frame_at(file, path, pos, len, &mut payload)? {
            Ok(header) if header.base_offset != expected => {
                "frame offset does not follow the previous frame"
            }
            Ok(header) => {
                let rel = u32::try_from(header.base_offset - base);
                match (rel, u32::try_from(pos)) {
                    (Ok(rel), Ok(position)) => {
                        running = running.max(header.max_timestamp_us);
                        index.on_frame(rel, position, header.frame_bytes(), running);
                        pos += header.frame_bytes();
                        expected = header.next_offset();
                        continue;
                    }
                    _ => "frame beyond the segment's offset or position range",
                }
            }
            Err(reason) => reason,
        };
        let resync = Resync {
            segment_base: base,
            first_offset: expected,
            next_offset_max: None,
        };
        let Some((next_pos, next)) = find_next_frame(file, path, pos, len, resync)? else {
            break Some(reason);
        };
        let range = DamagedRange {
            start_position: pos,
            end_position: next_pos,
            first_offset: expected,
            next_offset: next.base_offset,
        };
        report_damage(events, path, range, reason);
        damaged.push(range);
        (pos, expected) = (next_pos, next.base_offset);
    };
    Ok(ScanEnd {
        pos,
        next_offset: expected,
        max_ts_us: running,
        index,
        damaged,
        bad,
    })
}

/// Reports a damaged range kept in place.
fn report_damage(events: &mut Vec<RecoveryEvent>, path: &Path, range: DamagedRange, reason: &str) {
    let why = format!(
        "bad bytes at position {} ({reason}) with a valid frame after them at {}: offsets \
         {}..{} cannot be read, the frames after them are kept",
        range.start_position, range.end_position, range.first_offset, range.next_offset
    );
    report(events, path, RecoveryAction::KeptDamagedRange(range), why);
}

/// Whether the segment `(base, path)` holds at least one valid frame.
fn holds_a_valid_frame(store: &dyn SegmentStore, base: u64, path: &Path) -> Result<bool> {
    let Ok(file) = store.open(path, false) else {
        return Ok(false);
    };
    let mut hb = [0u8; SEGMENT_FILE_HEADER_BYTES as usize];
    if file.read_exact_at(&mut hb, 0).is_err() || decode_file_header(LOG_MAGIC, &hb) != Ok(base) {
        return Ok(false);
    }
    let len = file.size().map_err(|e| LogError::io(path, e))?;
    let first = SEGMENT_FILE_HEADER_BYTES;
    if let Ok(header) = check_frame_at(file.as_ref(), path, first, len, &mut Vec::new())?
        && header.base_offset == base
    {
        return Ok(true);
    }
    let resync = Resync {
        segment_base: base,
        first_offset: base,
        next_offset_max: None,
    };
    Ok(find_next_frame(file.as_ref(), path, first, len, resync)?.is_some())
}

/// Chooses where to scan a segment from: the first frame, or (non-last segments with a sound
/// index) the frame of the last index entry, after checking that it really starts there.
fn scan_start(
    file: &dyn SegmentFile,
    base: u64,
    entries: &[IndexEntry],
    full: bool,
    interval: u64,
) -> ScanStart {
    let from_start = || ScanStart {
        pos: SEGMENT_FILE_HEADER_BYTES,
        expected_offset: base,
        running_max_ts_us: i64::MIN,
        index: SegmentIndex::new(interval),
    };
    let Some((last, earlier)) = entries.split_last() else {
        return from_start();
    };
    if full {
        return from_start();
    }
    let mut hb = [0u8; FRAME_HEADER_BYTES];
    let points_at_frame = file
        .read_exact_at(&mut hb, u64::from(last.position))
        .is_ok()
        && FrameHeader::decode(&hb)
            .is_ok_and(|h| h.base_offset == base + u64::from(last.rel_offset));
    if !points_at_frame {
        return from_start();
    }
    ScanStart {
        pos: u64::from(last.position),
        expected_offset: base + u64::from(last.rel_offset),
        running_max_ts_us: earlier.last().map_or(i64::MIN, |e| e.max_timestamp_us),
        index: SegmentIndex::resume(earlier.to_vec(), interval),
    }
}

/// Checks a segment's file header; on failure quarantines the segment (both files).
fn check_file_header(
    file: &dyn SegmentFile,
    log_path: &Path,
    index_path: &Path,
    base: u64,
    events: &mut Vec<RecoveryEvent>,
) -> Result<bool> {
    let mut hb = [0u8; SEGMENT_FILE_HEADER_BYTES as usize];
    let why = match file.read_exact_at(&mut hb, 0) {
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            "segment shorter than its file header".to_string()
        }
        Err(e) => return Err(LogError::io(log_path, e)),
        Ok(()) => match decode_file_header(LOG_MAGIC, &hb) {
            Ok(b) if b == base => return Ok(true),
            Ok(b) => format!("file header names base offset {b}, file name says {base}"),
            Err(why) => format!("bad segment file header: {why}"),
        },
    };
    quarantine(log_path, why, events)?;
    if index_path.exists() {
        quarantine(index_path, "its segment was quarantined".into(), events)?;
    }
    Ok(false)
}

/// What every segment of one partition is recovered with.
struct RecoverySetup<'a> {
    store: &'a Arc<dyn SegmentStore>,
    clean: Option<CleanShutdown>,
    interval: u64,
}

/// Opens a closed segment the cleaner has just written, checking every frame as recovery
/// does; `None` when it is unusable.
pub(crate) fn reopen_segment(
    store: &Arc<dyn SegmentStore>,
    log_path: &Path,
    base: u64,
    interval: u64,
) -> Result<Option<Segment>> {
    let setup = RecoverySetup {
        store,
        clean: None,
        interval,
    };
    let mut events = Vec::new();
    let segment = recover_segment(&setup, log_path, base, None, &mut events)?;
    if events.is_empty() {
        Ok(segment)
    } else {
        Err(LogError::CorruptFrame {
            reason: "a segment the cleaner wrote failed its checks",
        })
    }
}

/// Recovers one segment; `None` when it was quarantined.
fn recover_segment(
    setup: &RecoverySetup<'_>,
    log_path: &Path,
    base: u64,
    next: Option<(u64, &Path)>,
    events: &mut Vec<RecoveryEvent>,
) -> Result<Option<Segment>> {
    let is_last = next.is_none();
    let store = setup.store;
    let dir = log_path.parent().unwrap_or(Path::new("."));
    let index_path = dir.join(index_file_name(base));
    let file = store
        .open(log_path, false)
        .map_err(|e| LogError::io(log_path, e))?;
    if !check_file_header(file.as_ref(), log_path, &index_path, base, events)? {
        return Ok(None);
    }
    let len = file.size().map_err(|e| LogError::io(log_path, e))?;
    let loaded = load_index(store.as_ref(), &index_path, base, len);
    // The last segment is the one a crash can tear, so it is scanned from its first frame —
    // unless the partition was closed cleanly with this segment at exactly this size.
    let clean_here = setup
        .clean
        .is_some_and(|c| c.segment_base == base && c.segment_size == len);
    let full = (is_last && !clean_here) || loaded.problem.is_some();
    let start = scan_start(file.as_ref(), base, &loaded.entries, full, setup.interval);
    let mut end = scan_frames(file.as_ref(), log_path, (base, len), start, events)?;
    settle_tail(setup, file.as_ref(), log_path, len, next, &mut end, events)?;
    let index_file = store
        .open(&index_path, true)
        .map_err(|e| LogError::io(&index_path, e))?;
    if loaded.problem.is_some() || loaded.entries != end.index.entries() {
        write_index(index_file.as_ref(), base, end.index.entries())
            .map_err(|e| LogError::io(&index_path, e))?;
        let why = loaded
            .problem
            .unwrap_or_else(|| "index did not match the segment data".into());
        report(
            events,
            &index_path,
            RecoveryAction::RebuiltIndex,
            format!("index rebuilt: {why}"),
        );
    }
    let state = SegmentState {
        size: end.pos,
        next_offset: end.next_offset,
        max_timestamp_us: end.max_ts_us,
        index: end.index,
        damaged: end.damaged,
    };
    let files = SegmentFiles {
        store: Arc::clone(store),
        log_path: log_path.to_path_buf(),
        index_path,
        file,
        index_file,
    };
    Ok(Some(Segment::from_parts(base, files, state)))
}

/// Settles bad bytes that end a segment's scan. When the next segment holds a valid frame they
/// are damage, kept as a range up to the end of the file (the segment then ends where the next
/// one begins); otherwise nothing valid follows them and they are cut off as a torn tail.
fn settle_tail(
    setup: &RecoverySetup<'_>,
    file: &dyn SegmentFile,
    log_path: &Path,
    len: u64,
    next: Option<(u64, &Path)>,
    end: &mut ScanEnd,
    events: &mut Vec<RecoveryEvent>,
) -> Result<()> {
    let Some(reason) = end.bad.take() else {
        return Ok(());
    };
    if let Some((next_base, next_path)) = next
        && next_base > end.next_offset
        && holds_a_valid_frame(setup.store.as_ref(), next_base, next_path)?
    {
        let range = DamagedRange {
            start_position: end.pos,
            end_position: len,
            first_offset: end.next_offset,
            next_offset: next_base,
        };
        report_damage(events, log_path, range, reason);
        end.damaged.push(range);
        (end.pos, end.next_offset) = (len, next_base);
        return Ok(());
    }
    file.set_len(end.pos)
        .and_then(|()| file.sync_data())
        .map_err(|e| LogError::io(log_path, e))?;
    let action = RecoveryAction::TruncatedTail {
        at: end.pos,
        removed_bytes: len - end.pos,
    };
    let why = format!("truncated at position {}: {reason}", end.pos);
    report(events, log_path, action, why);
    Ok(())
}

/// Recovers every segment of the partition in `dir` (creating the directory and a first
/// segment when there is none).
pub(crate) fn recover_partition(
    store: &Arc<dyn SegmentStore>,
    dir: &Path,
    interval: u64,
    events: &mut Vec<RecoveryEvent>,
) -> Result<Recovered> {
    std::fs::create_dir_all(dir).map_err(|e| LogError::io(dir, e))?;
    let setup = RecoverySetup {
        store,
        clean: take_clean_shutdown(dir),
        interval,
    };
    crate::partition::compact::finish_swaps(store.as_ref(), dir, events)?;
    let logs = list_dir(dir, events)?;
    let logs: Vec<(u64, &Path)> = logs.iter().map(|(&b, p)| (b, p.as_path())).collect();
    let mut segments: Vec<Arc<Segment>> = Vec::new();
    let mut resume_at = 0u64;
    for (i, &(base, path)) in logs.iter().enumerate() {
        resume_at = resume_at.max(base);
        if let Some(prev) = segments.last().filter(|p| p.next_offset() != base) {
            // A gap (an earlier segment was cut short or quarantined): offsets must stay dense.
            let why = format!(
                "segment does not follow on from offset {}",
                prev.next_offset()
            );
            quarantine_segment(path, base, why, events)?;
            continue;
        }
        let next = logs.get(i + 1).copied();
        if let Some(seg) = recover_segment(&setup, path, base, next, events)? {
            segments.push(Arc::new(seg));
        }
    }
    drop_empty_segments(&mut segments, events)?;
    if segments.is_empty() {
        segments.push(Arc::new(Segment::create(store, dir, resume_at, interval)?));
        store.sync_dir(dir).map_err(|e| LogError::io(dir, e))?;
    }
    let (remote_start, remote_end) = resolve_remote_range(dir, &segments, events);
    let log_start_offset = resolve_log_start(dir, &segments, remote_start, events);
    let clean = match (setup.clean, segments.last()) {
        (Some(marker), Some(last)) => {
            marker.segment_base == last.base_offset() && marker.segment_size == last.size()
        }
        _ => false,
    };
    Ok(Recovered {
        segments,
        log_start_offset,
        remote_end,
        clean,
    })
}

fn quarantine_segment(
    path: &Path,
    base: u64,
    why: String,
    events: &mut Vec<RecoveryEvent>,
) -> Result<()> {
    quarantine(path, why, events)?;
    let index_path = path.with_file_name(index_file_name(base));
    if index_path.exists() {
        quarantine(&index_path, "its segment was quarantined".into(), events)?;
    }
    Ok(())
}

/// Deletes empty segments other than the last (a crash right after a roll leaves one).
fn drop_empty_segments(
    segments: &mut Vec<Arc<Segment>>,
    events: &mut Vec<RecoveryEvent>,
) -> Result<()> {
    let count = segments.len();
    let mut kept = Vec::with_capacity(count);
    for (i, seg) in segments.drain(..).enumerate() {
        if seg.is_empty() && i + 1 < count {
            seg.remove_files()?;
            let why = "segment holds no frame and is not the last".to_string();
            report(
                events,
                seg.log_path(),
                RecoveryAction::RemovedEmptySegment,
                why,
            );
        } else {
            kept.push(seg);
        }
    }
    *segments = kept;
    Ok(())
}

/// The log start: the persisted DeleteRecords point if sound, never below the first segment
/// nor beyond the data.
/// Where the remote tier's part starts and ends, when it reaches the first local segment (the
/// local segments below it were removed by local retention); `(first local offset, 0)`
/// otherwise.
fn resolve_remote_range(
    dir: &Path,
    segments: &[Arc<Segment>],
    events: &mut Vec<RecoveryEvent>,
) -> (u64, u64) {
    let first = segments.first().map_or(0, |s| s.base_offset());
    match read_remote_range(dir) {
        Ok(Some((start, end))) if start <= first && end >= first => (start, end),
        Ok(_) => (first, 0),
        Err((path, why)) => {
            let why = format!("unreadable remote range checkpoint: {why}");
            report(
                events,
                &path,
                RecoveryAction::LogStartReset { to: first },
                why,
            );
            (first, 0)
        }
    }
}

/// The log start: the persisted one, never below `lowest` (the first local offset, or where the
/// remote tier's part starts) nor past the data.
fn resolve_log_start(
    dir: &Path,
    segments: &[Arc<Segment>],
    lowest: u64,
    events: &mut Vec<RecoveryEvent>,
) -> u64 {
    let first = lowest;
    let end = segments.last().map_or(0, |s| s.next_offset());
    match read_log_start(dir) {
        Ok(None) => first,
        Ok(Some(start)) if start <= end => start.max(first),
        Ok(Some(start)) => {
            let why = format!("persisted log start {start} is beyond the data (ends at {end})");
            let path = dir.join(LOG_START_FILE_NAME);
            report(
                events,
                &path,
                RecoveryAction::LogStartReset { to: end },
                why,
            );
            end
        }
        Err((path, why)) => {
            let why = format!("unreadable log start checkpoint: {why}");
            report(
                events,
                &path,
                RecoveryAction::LogStartReset { to: first },
                why,
            );
            first
        }
    }
}
