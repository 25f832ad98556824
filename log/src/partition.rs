//! One partition log: a directory of segments, the append owner that writes to the newest one
//! (`append.rs`), lock-light readers, the recent-append cache, long-poll waits and the fsync
//! policy.
//!
//! Threads: the async entry points ([`PartitionLog::append`], [`PartitionLog::read`],
//! [`PartitionLog::find_by_timestamp`]) never do segment-file I/O on a thread that is driving
//! async tasks: appends are written by the partition's owner, reads the recent cache cannot
//! serve and timestamp lookups run either in place inside `block_in_place` (a multi-thread
//! runtime's worker, released from its tasks for the duration) or on the log's own threads
//! (`pool.rs`) while the caller awaits. The `_blocking` forms do the same work on (or wait from)
//! the calling thread, for tests, tools and threads that are not async workers.
//!
//! Concurrency: appends are serialised by the writer mutex, which the owner holds only while it
//! writes a group (never across an fsync or an await). Readers take a snapshot of the segment
//! list (`ArcSwap`), read the published high watermark (an atomic) and use positional reads on
//! the shared file handles. Maintenance (retention, delete-records, purge, remove) is
//! serialised by its own lock and takes the writer lock only to swap the segment list.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use arc_swap::ArcSwap;
use bytes::Bytes;
use tokio::sync::watch;

use crate::budget::ReadBudget;
use crate::cache::RecentCache;
use crate::config::{FsyncPolicy, LogConfig, TopicSettings};
use crate::damage::DamagedRange;
use crate::durability::Durability;
use crate::error::{LogError, Result};
use crate::frame::{BatchFormat, FrameHeader};
use crate::limits::{self, SEGMENT_FILE_HEADER_BYTES};
use crate::pool::{READERS, SYNCERS};
use crate::read_ahead::{READ_AHEAD_BYTES, ReadAhead, within_budget};
use crate::recovery::{RecoveryEvent, recover_partition};
use crate::segment::Segment;
use crate::storage::{LocalStore, SegmentStore};
use crate::sync_util::lock;

mod append;
pub(crate) mod compact;
mod remote;
mod retention;

use append::AppendQueue;
pub use append::Appending;
pub use compact::CompactionOutcome;

/// A batch as a protocol handler hands it to the log: opaque payload plus the few facts the
/// frame header needs. The payload is owned so the patch callback can edit it in place.
#[derive(Debug, Clone)]
pub struct AppendBatch {
    pub format: BatchFormat,
    /// The batch bytes as they arrived. Patched in place without a copy when this handle is
    /// the only one to its bytes (a request's batch sliced out of a frame nobody else holds);
    /// copied once otherwise.
    pub payload: Bytes,
    pub record_count: u32,
    pub last_offset_delta: u32,
    pub first_timestamp_us: i64,
    pub max_timestamp_us: i64,
}

/// Handed to the patch callback under the append lock, once offsets are assigned, so the
/// caller can write the base offset (and, for LogAppendTime topics, timestamps) into its payload.
#[derive(Debug)]
pub struct PatchContext<'a> {
    pub payload: &'a mut [u8],
    /// The offset the log assigned to the first record.
    pub base_offset: u64,
    /// The broker's append time.
    pub append_time_us: i64,
    /// May be changed by the callback; goes into the frame header.
    pub first_timestamp_us: i64,
    /// May be changed by the callback; goes into the frame header.
    pub max_timestamp_us: i64,
    /// Set by the callback when it knows the CRC-32C of the payload from a position to its end
    /// (a Kafka batch carries one, checked on produce): the log then checksums only the bytes
    /// before that position and combines the two, instead of reading the whole payload again.
    /// Debug builds check the claim.
    pub known_tail_crc: Option<(usize, u32)>,
}

/// What an append assigned, for the produce response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    pub base_offset: u64,
    pub last_offset: u64,
    pub append_time_us: i64,
    pub log_start_offset: u64,
}

/// A frame as read back: checked header and checksum-verified payload (shared, zero-copy).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredFrame {
    pub header: FrameHeader,
    pub payload: Bytes,
}

#[cfg(test)]
impl StoredFrame {
    /// A native frame at `base` of two records with `len` payload bytes (in-crate tests).
    pub(crate) fn for_test(base: u64, len: usize) -> Self {
        let payload = Bytes::from(vec![7u8; len]);
        let header = FrameHeader {
            format: crate::frame::BatchFormat::Native,
            base_offset: base,
            last_offset_delta: 1,
            record_count: 2,
            first_timestamp_us: 0,
            max_timestamp_us: 0,
            payload_length: u32::try_from(len).unwrap_or(u32::MAX),
            payload_crc: crc32c::crc32c(&payload),
        };
        Self { header, payload }
    }
}

/// Frames returned by a read, with the partition's offsets at the time of the read (fetch
/// responses carry both).
#[derive(Debug, Clone, Default)]
pub struct ReadResult {
    pub frames: Vec<StoredFrame>,
    pub high_watermark: u64,
    pub log_start_offset: u64,
}

/// Size and offsets of a partition, for metrics and admin listings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartitionStats {
    /// Bytes of all `.log` files (what the partition takes on disk).
    pub size_bytes: u64,
    /// Bytes of stored frames only, without the segment files' headers: 0 for an empty
    /// partition (what protocol listings report as the partition's size).
    pub data_bytes: u64,
    pub segment_count: u32,
    /// Offsets held between log start and high watermark (records, when no batch was compacted).
    pub messages: u64,
    pub high_watermark: u64,
    pub next_offset: u64,
    pub log_start_offset: u64,
    /// Offsets below this are known to be on disk (recovered data counts as on disk).
    pub durable_offset: u64,
    /// Bytes held by the recent-append cache and the read-ahead.
    pub cache_bytes: u64,
}

/// What one retention pass did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RetentionOutcome {
    pub removed_segments: u32,
    pub removed_bytes: u64,
    /// Log start offset after the pass.
    pub log_start_offset: u64,
    /// Whether the active segment was rolled because of its age.
    pub rolled: bool,
}

/// A partition's log. Cheap to share as `Arc<PartitionLog>`; every method takes `&self`.
#[derive(Debug)]
pub struct PartitionLog {
    inner: Arc<Inner>,
}

/// Writer state, under the writer lock.
#[derive(Debug)]
struct Writer {
    active: Arc<Segment>,
    next_offset: u64,
    /// Rolled segments not yet synced (synced by the next sync round). Weak: a segment that
    /// retention removes meanwhile needs no sync and must not be kept open by this list.
    unsynced: Vec<Weak<Segment>>,
    /// A segment file was created since the last directory fsync.
    dir_dirty: bool,
    /// What the last successful sync round covered: the next offset and the active segment
    /// then. A round finding both unchanged, no rolled segment and no new file has nothing to
    /// sync and skips the `fdatasync` (an idle partition costs the interval thread nothing).
    /// (Weak: it keeps the old segment's allocation, so no later segment can share its address.)
    synced: Option<(u64, Weak<Segment>)>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    id: u32,
    dir: PathBuf,
    store: Arc<dyn SegmentStore>,
    policy: FsyncPolicy,
    index_interval: u64,
    settings: ArcSwap<TopicSettings>,
    writer: Mutex<Writer>,
    /// Appends waiting for the owner (`append.rs`).
    queue: Mutex<AppendQueue>,
    maintenance: Mutex<()>,
    segments: ArcSwap<Vec<Arc<Segment>>>,
    high_watermark: AtomicU64,
    next_offset: AtomicU64,
    log_start: AtomicU64,
    hw_tx: watch::Sender<u64>,
    cache: Mutex<RecentCache>,
    /// Frames read past what a file read asked for (`read_ahead.rs`).
    read_ahead: Mutex<ReadAhead>,
    durability: Durability,
    deleted: AtomicBool,
    /// The reader of the remote tier's copy (`remote.rs`), once a tier attached one.
    remote: Mutex<Option<Arc<dyn crate::remote::RemoteSegments>>>,
    /// Offsets below this are held by the remote tier.
    remote_end: AtomicU64,
    /// [`LogConfig::local_retention_defaults`].
    local_retention_defaults: (i64, i64),
}

/// Wall-clock time in microseconds since the Unix epoch.
pub(crate) fn now_us() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}

fn validate_batch(batch: &AppendBatch, settings: &TopicSettings) -> Result<()> {
    let max = settings
        .max_message_bytes
        .min(limits::FRAME_PAYLOAD_BYTES_MAX);
    if batch.payload.len() as u64 > u64::from(max) {
        return Err(LogError::BatchTooLarge {
            size: batch.payload.len() as u64,
            max: u64::from(max),
        });
    }
    if batch.record_count == 0 {
        return Err(LogError::CorruptFrame {
            reason: "batch holds no record",
        });
    }
    if u64::from(batch.record_count) > u64::from(batch.last_offset_delta) + 1 {
        return Err(LogError::CorruptFrame {
            reason: "more records than offsets in batch",
        });
    }
    Ok(())
}

impl PartitionLog {
    /// Opens (recovering every segment) or creates the partition in `dir`. The events say what
    /// recovery found and fixed; each was also logged.
    pub fn open(
        dir: PathBuf,
        partition_id: u32,
        settings: TopicSettings,
        config: &LogConfig,
    ) -> Result<(Arc<Self>, Vec<RecoveryEvent>)> {
        Self::open_with_store(dir, partition_id, settings, config, Arc::new(LocalStore))
    }

    /// [`Self::open`] with the segment files reached through `store` instead of plain local
    /// files (a remote store later; a fault-injecting one in tests). The store's files must
    /// hold the on-disk format this crate writes.
    pub fn open_with_store(
        dir: PathBuf,
        partition_id: u32,
        settings: TopicSettings,
        config: &LogConfig,
        store: Arc<dyn SegmentStore>,
    ) -> Result<(Arc<Self>, Vec<RecoveryEvent>)> {
        let mut events = Vec::new();
        let interval = config.index_interval_bytes.max(1);
        let recovered = recover_partition(&store, &dir, interval, &mut events)?;
        let Some(active) = recovered.segments.last().cloned() else {
            return Err(LogError::io(
                &dir,
                std::io::Error::other("recovery left no segment"),
            ));
        };
        // Closed cleanly: synced then, so an idle partition needs no sync until written.
        let clean_sync = recovered
            .clean
            .then(|| (active.next_offset(), Arc::downgrade(&active)));
        let next = active.next_offset();
        let inner = Inner {
            id: partition_id,
            dir,
            store,
            policy: config.fsync,
            index_interval: interval,
            settings: ArcSwap::from_pointee(settings),
            writer: Mutex::new(Writer {
                active,
                next_offset: next,
                unsynced: Vec::new(),
                dir_dirty: false,
                // Closed cleanly: synced then, so an idle partition needs no sync until written.
                synced: clean_sync,
            }),
            queue: Mutex::new(AppendQueue::default()),
            maintenance: Mutex::new(()),
            segments: ArcSwap::from_pointee(recovered.segments),
            high_watermark: AtomicU64::new(next),
            next_offset: AtomicU64::new(next),
            log_start: AtomicU64::new(recovered.log_start_offset),
            hw_tx: watch::Sender::new(next),
            cache: Mutex::new(RecentCache::default()),
            read_ahead: Mutex::new(ReadAhead::default()),
            // What recovery found is what the disk holds.
            durability: Durability::new(next),
            deleted: AtomicBool::new(false),
            remote: Mutex::new(None),
            remote_end: AtomicU64::new(recovered.remote_end),
            local_retention_defaults: config.local_retention_defaults,
        };
        Ok((
            Arc::new(Self {
                inner: Arc::new(inner),
            }),
            events,
        ))
    }

    /// The partition's id within its topic.
    pub fn id(&self) -> u32 {
        self.inner.id
    }

    /// Applies changed topic settings (retention, segment size, max message size) from now on.
    pub fn update_settings(&self, settings: TopicSettings) {
        self.inner.settings.store(Arc::new(settings));
    }

    /// Queues an append for the partition's owner and returns at once; the [`Appending`]
    /// resolves once it is written. The owner assigns offsets in queue order, calls `patch` so
    /// the caller can write the base offset / timestamps into its payload, writes header +
    /// payload to the active segment (rolling first if needed, several queued appends in one
    /// write), and updates index and recent cache; the caller's thread touches no file. An
    /// oversized or invalid batch is refused without being queued. With `fsync = always` the
    /// data becomes visible once a sync round has made it durable; the owner runs that round
    /// itself (or has the log's sync threads run it), whether or not anybody calls
    /// [`Self::wait_durable`].
    pub fn append<F>(&self, batch: AppendBatch, patch: F) -> Appending
    where
        F: FnOnce(&mut PatchContext<'_>) + Send + 'static,
    {
        self.inner.submit_append(batch, Box::new(patch))
    }

    /// [`Self::append`], blocking the calling thread until the owner has written it. For
    /// tests, tools and threads that are not async workers.
    pub fn append_blocking<F>(&self, batch: AppendBatch, patch: F) -> Result<Appended>
    where
        F: FnOnce(&mut PatchContext<'_>) + Send + 'static,
    {
        self.append(batch, patch).wait()
    }

    /// Resolves once everything up to and including `last_offset` is durable per the policy:
    /// `always` → on disk via fdatasync, group-committed with concurrent appenders (the round
    /// runs on the append owner or the sync threads; this future only waits and does no I/O);
    /// `interval`/`never` → immediately. Fails with the sync's error once a sync has failed.
    pub async fn wait_durable(&self, last_offset: u64) -> Result<()> {
        if self.inner.deleted.load(Ordering::Acquire) {
            return Err(LogError::PartitionDeleted);
        }
        if self.inner.policy != FsyncPolicy::Always {
            return Ok(());
        }
        let inner = &self.inner;
        inner
            .durability
            .wait_async(last_offset, || inner.schedule_round())
            .await
    }

    /// Appends and, with `fsync = always`, waits (blocking the thread) until the append is on
    /// disk. For non-async callers: tests, tools, shutdown paths.
    pub fn append_durable_blocking<F>(&self, batch: AppendBatch, patch: F) -> Result<Appended>
    where
        F: FnOnce(&mut PatchContext<'_>) + Send + 'static,
    {
        let appended = self.append_blocking(batch, patch)?;
        if self.inner.policy == FsyncPolicy::Always {
            let inner = &self.inner;
            inner
                .durability
                .wait_blocking(appended.last_offset, || inner.schedule_round())?;
        }
        Ok(appended)
    }

    /// fdatasyncs everything written so far (rolled segments not yet synced, the active one,
    /// the directory when a segment was created): interval thread, flush command, shutdown.
    /// Blocks the calling thread for the sync. Once a sync has failed, every later call
    /// returns that failure (see `durability.rs`).
    pub fn sync(&self) -> Result<()> {
        if self.inner.deleted.load(Ordering::Acquire) {
            return Err(LogError::PartitionDeleted);
        }
        let synced = self.inner.sync_explicit();
        // `remove` marks the partition deleted before it removes the files, so a sync that lost
        // a race with it (its files gone under it) reports the deletion, not an I/O fault.
        if synced.is_err() && self.inner.deleted.load(Ordering::Acquire) {
            return Err(LogError::PartitionDeleted);
        }
        synced
    }

    /// Syncs everything and leaves a clean-shutdown marker naming the active segment and its
    /// size, so the next open trusts that segment instead of checksumming it from the start.
    /// Appends after `close` are still safe: they change the size, and a marker whose size no
    /// longer matches is ignored.
    pub fn close(&self) -> Result<()> {
        self.sync()?;
        let w = lock(&self.inner.writer);
        if self.inner.deleted.load(Ordering::Acquire) {
            return Err(LogError::PartitionDeleted);
        }
        if self.inner.durability.durable_next() < w.next_offset {
            // Something was appended since the sync; the next open scans fully, which is safe.
            return Ok(());
        }
        let marker = crate::checkpoint::CleanShutdown {
            segment_base: w.active.base_offset(),
            segment_size: w.active.size(),
        };
        crate::checkpoint::write_clean_shutdown(&self.inner.dir, marker)
    }

    /// Whole frames starting with the one containing `from_offset`, up to `max_bytes` of payload
    /// but always at least one frame when one exists below the high watermark. `from == HW` →
    /// empty; `from` below log start or above HW → `OffsetOutOfRange`. Every frame's header and
    /// payload checksums are verified; a bad frame is never served. A read meeting bad bytes
    /// returns the frames before them; one that starts in them is `CorruptFrame`; one that
    /// starts past a [`DamagedRange`] is served from the frames after it.
    ///
    /// Frames still in the recent-append cache are served on the calling thread (no file I/O,
    /// no thread hop); anything else is read off the async workers (in place inside
    /// `block_in_place` on a multi-thread runtime, else on the log's read threads).
    pub async fn read(&self, from_offset: u64, max_bytes: usize) -> Result<ReadResult> {
        if let Some(served) = self.inner.read_cached(from_offset, max_bytes) {
            return served;
        }
        let inner = Arc::clone(&self.inner);
        offload(&self.inner, move || {
            inner.read_ahead(from_offset, max_bytes)
        })
        .await
    }

    /// [`Self::read`] for synchronous callers: served from memory when it can be, else read off
    /// the async workers in place (inside `block_in_place` when the calling thread is a
    /// multi-thread runtime's worker), else on the calling thread. Never a thread hop.
    pub fn read_now(&self, from_offset: u64, max_bytes: usize) -> Result<ReadResult> {
        if let Some(served) = self.inner.read_cached(from_offset, max_bytes) {
            return served;
        }
        let mut answer = None;
        let inner = &self.inner;
        if append::run_off_worker(|| answer = Some(inner.read_ahead(from_offset, max_bytes)))
            && let Some(answer) = answer
        {
            return answer;
        }
        inner.read_ahead(from_offset, max_bytes)
    }

    /// [`Self::find_by_timestamp`] for synchronous callers, as [`Self::read_now`] does it.
    pub fn find_by_timestamp_now(&self, ts_us: i64) -> Result<Option<FrameHeader>> {
        let mut answer = None;
        let inner = &self.inner;
        if append::run_off_worker(|| answer = Some(inner.find_by_timestamp(ts_us)))
            && let Some(answer) = answer
        {
            return answer;
        }
        inner.find_by_timestamp(ts_us)
    }

    /// [`Self::read`] on the calling thread, file reads included. For tests, tools and threads
    /// that are not async workers.
    pub fn read_blocking(&self, from_offset: u64, max_bytes: usize) -> Result<ReadResult> {
        self.inner.read(from_offset, max_bytes)
    }

    /// Damaged ranges known so far, by offset: found by recovery or by reads that met them
    /// (see [`DamagedRange`]). Their offsets cannot be read; reads from past them are served.
    pub fn damaged_ranges(&self) -> Vec<DamagedRange> {
        let mut ranges: Vec<DamagedRange> = (self.inner.segments.load().iter())
            .flat_map(|segment| segment.damaged_ranges())
            .collect();
        ranges.sort_by_key(|range| range.first_offset);
        ranges
    }

    /// Header of the first visible frame whose max timestamp is `>= ts_us` (None if none).
    /// Damaged frames are skipped: the answer is then the first readable frame after them.
    /// Runs off the async workers, as a read of the files does.
    pub async fn find_by_timestamp(&self, ts_us: i64) -> Result<Option<FrameHeader>> {
        let inner = Arc::clone(&self.inner);
        offload(&self.inner, move || inner.find_by_timestamp(ts_us)).await
    }

    /// [`Self::find_by_timestamp`] on the calling thread. For tests, tools and threads that
    /// are not async workers.
    pub fn find_by_timestamp_blocking(&self, ts_us: i64) -> Result<Option<FrameHeader>> {
        self.inner.find_by_timestamp(ts_us)
    }

    /// Next offset visible to readers.
    pub fn high_watermark(&self) -> u64 {
        self.inner.high_watermark.load(Ordering::Acquire)
    }

    /// Next offset to assign (`>=` high watermark).
    pub fn next_offset(&self) -> u64 {
        self.inner.next_offset.load(Ordering::Acquire)
    }

    /// First offset still readable.
    pub fn log_start_offset(&self) -> u64 {
        self.inner.log_start.load(Ordering::Acquire)
    }

    /// Waits until the high watermark passes `offset` or `timeout` elapses (woken by appends and
    /// syncs, no polling); returns whether data at `offset` is visible.
    pub async fn wait_for_data(&self, offset: u64, timeout: Duration) -> bool {
        let mut rx = self.inner.hw_tx.subscribe();
        let deleted = &self.inner.deleted;
        let ready = |hw: &u64| *hw > offset || deleted.load(Ordering::Acquire);
        let _ = tokio::time::timeout(timeout, rx.wait_for(ready)).await;
        self.high_watermark() > offset && !deleted.load(Ordering::Acquire)
    }

    /// Rolls the active segment if it holds data older than `segment_ms` (background thread;
    /// appends check the same on their own). Returns whether it rolled.
    pub fn maybe_roll(&self, now_us: i64) -> Result<bool> {
        self.inner.maybe_roll(now_us)
    }

    /// Moves the log start offset forward (Kafka DeleteRecords), persisting it atomically, and
    /// removes whole segments that end at or below it. Returns the new log start offset.
    pub fn delete_records(&self, before_offset: u64) -> Result<u64> {
        self.inner.delete_records(before_offset)
    }

    /// Retention by time (segments whose newest frame is older than `retention_ms`) and by size
    /// (oldest segments while over `retention_bytes`), never the active segment; first rolls an
    /// over-age active segment.
    pub fn enforce_retention(&self, now_us: i64) -> Result<RetentionOutcome> {
        self.inner.enforce_retention(now_us)
    }

    /// Deletes the `count` oldest closed segments (never the active one) with their files, and
    /// moves the log start offset to the first segment kept (Iggy's delete_segments, which
    /// operators use to reclaim space by hand). Returns how many segments and bytes went.
    pub fn delete_oldest_segments(&self, count: u32) -> Result<(u32, u64)> {
        self.inner.delete_oldest_segments(count)
    }

    /// Removes all data; offsets start again at 0 (Iggy purge semantics).
    pub fn purge(&self) -> Result<()> {
        self.inner.purge()
    }

    /// Marks the partition deleted (waiters wake, appends fail with `PartitionDeleted`) and
    /// removes its directory.
    pub fn remove(&self) -> Result<()> {
        self.inner.remove()
    }

    /// Current size and offsets.
    pub fn stats(&self) -> PartitionStats {
        let segments = self.inner.segments.load();
        let hw = self.high_watermark();
        let start = self.log_start_offset();
        PartitionStats {
            size_bytes: segments.iter().map(|s| s.size()).sum(),
            data_bytes: segments
                .iter()
                .map(|s| s.size().saturating_sub(SEGMENT_FILE_HEADER_BYTES))
                .sum(),
            segment_count: u32::try_from(segments.len()).unwrap_or(u32::MAX),
            messages: hw.saturating_sub(start),
            high_watermark: hw,
            next_offset: self.next_offset(),
            log_start_offset: start,
            durable_offset: self.inner.durability.durable_next(),
            cache_bytes: (lock(&self.inner.cache).bytes() + lock(&self.inner.read_ahead).bytes())
                as u64,
        }
    }
}

impl Inner {
    fn publish_hw(&self, hw: u64) {
        let prev = self.high_watermark.fetch_max(hw, Ordering::AcqRel);
        assert!(
            hw <= self.next_offset.load(Ordering::Acquire),
            "high watermark beyond the log"
        );
        if hw > prev {
            self.hw_tx.send_modify(|v| *v = (*v).max(hw));
        }
    }

    fn roll(&self, w: &mut Writer) -> Result<()> {
        let fresh = Arc::new(Segment::create(
            &self.store,
            &self.dir,
            w.next_offset,
            self.index_interval,
        )?);
        let old = std::mem::replace(&mut w.active, Arc::clone(&fresh));
        assert_eq!(
            old.next_offset(),
            fresh.base_offset(),
            "rolled segments must be contiguous"
        );
        w.unsynced.retain(|s| s.strong_count() > 0);
        w.unsynced.push(Arc::downgrade(&old));
        w.dir_dirty = true;
        let mut list = Vec::clone(&self.segments.load());
        list.push(fresh);
        self.segments.store(Arc::new(list));
        Ok(())
    }

    fn maybe_roll(&self, now_us: i64) -> Result<bool> {
        let settings = self.settings.load();
        let mut w = lock(&self.writer);
        if self.deleted.load(Ordering::Acquire) {
            return Err(LogError::PartitionDeleted);
        }
        if w.active.is_empty() || !is_over_age(&w.active, settings.segment_ms, now_us) {
            return Ok(false);
        }
        self.roll(&mut w)?;
        Ok(true)
    }

    /// Hands the partition's next round (its `syncing` flag already set) to the sync threads.
    fn schedule_round(self: &Arc<Self>) {
        let inner = Arc::clone(self);
        let submitted = SYNCERS.submit(Box::new(move || inner.round_job()));
        if let Err(error) = submitted {
            // No thread can ever sync: fail the round so waiters get the error, not a hang.
            let _ = self
                .durability
                .run_round(|| Err(LogError::io(&self.dir, error)));
        }
    }

    /// One round (on a sync thread, or on the append owner whose group claimed it); schedules
    /// the next on the sync threads if appends arrived meanwhile.
    fn round_job(self: &Arc<Self>) {
        let (_, more) = self.durability.run_round(|| self.sync_round());
        if more {
            self.schedule_round();
        }
    }

    /// An explicit sync on the calling thread, once no round is running or queued.
    fn sync_explicit(self: &Arc<Self>) -> Result<()> {
        self.durability.begin_explicit()?;
        let (synced, more) = self.durability.run_round(|| self.sync_round());
        if more {
            self.schedule_round();
        }
        synced
    }

    /// Syncs everything written so far; returns `(epoch, offset synced up to)`.
    fn sync_round(&self) -> Result<(u64, u64)> {
        let (target, epoch, active, unsynced, dir_dirty) = {
            let mut w = lock(&self.writer);
            let unchanged = w.synced.as_ref().is_some_and(|(next, segment)| {
                *next == w.next_offset && std::ptr::eq(segment.as_ptr(), Arc::as_ptr(&w.active))
            });
            if unchanged && w.unsynced.is_empty() && !w.dir_dirty {
                return Ok((self.durability.epoch(), w.next_offset));
            }
            let unsynced = std::mem::take(&mut w.unsynced);
            let dir_dirty = std::mem::take(&mut w.dir_dirty);
            (
                w.next_offset,
                self.durability.epoch(),
                Arc::clone(&w.active),
                unsynced,
                dir_dirty,
            )
        };
        let started = std::time::Instant::now();
        let synced = self.sync_files(&active, &unsynced, dir_dirty);
        crate::fsync_stats::record(started.elapsed());
        if synced.is_err() {
            let mut w = lock(&self.writer);
            w.unsynced.extend(unsynced);
            w.dir_dirty |= dir_dirty;
        }
        synced?;
        {
            let mut w = lock(&self.writer);
            if Arc::ptr_eq(&w.active, &active) {
                w.synced = Some((target, Arc::downgrade(&active)));
            }
            if self.policy == FsyncPolicy::Always && self.durability.epoch() == epoch {
                self.publish_hw(target);
            }
        }
        Ok((epoch, target))
    }

    fn sync_files(
        &self,
        active: &Segment,
        unsynced: &[Weak<Segment>],
        dir_dirty: bool,
    ) -> Result<()> {
        for seg in unsynced.iter().filter_map(Weak::upgrade) {
            seg.finish()?;
        }
        active.sync_data()?;
        if dir_dirty {
            self.store
                .sync_dir(&self.dir)
                .map_err(|e| LogError::io(&self.dir, e))?;
        }
        Ok(())
    }

    fn out_of_range(&self, offset: u64) -> LogError {
        LogError::OffsetOutOfRange {
            offset,
            start: self.log_start.load(Ordering::Acquire),
            end: self.high_watermark.load(Ordering::Acquire),
        }
    }

    /// A read answered without the files: refused, empty at the high watermark, or served from
    /// the recent-append cache. `None` when the files are needed.
    fn read_cached(&self, from: u64, max_bytes: usize) -> Option<Result<ReadResult>> {
        if self.deleted.load(Ordering::Acquire) {
            return Some(Err(LogError::PartitionDeleted));
        }
        let high_watermark = self.high_watermark.load(Ordering::Acquire);
        let log_start_offset = self.log_start.load(Ordering::Acquire);
        if from < log_start_offset || from > high_watermark {
            return Some(Err(self.out_of_range(from)));
        }
        let frames = if from == high_watermark {
            Vec::new()
        } else {
            let cached = lock(&self.cache).read(from, high_watermark, max_bytes);
            match cached.filter(|frames| !frames.is_empty()) {
                Some(frames) => frames,
                None => {
                    let epoch = self.durability.epoch();
                    lock(&self.read_ahead).read(from, max_bytes, epoch)?
                }
            }
        };
        Some(Ok(ReadResult {
            frames,
            high_watermark,
            log_start_offset,
        }))
    }

    /// A read that goes to the files, asking for at least [`READ_AHEAD_BYTES`] and keeping what
    /// it read past `max_bytes` for the reads that follow.
    fn read_ahead(&self, from: u64, max_bytes: usize) -> Result<ReadResult> {
        if max_bytes >= READ_AHEAD_BYTES {
            return self.read(from, max_bytes);
        }
        // Before the read: a purge meanwhile makes what it reads stale, never the reverse.
        let epoch = self.durability.epoch();
        let mut result = self.read(from, READ_AHEAD_BYTES)?;
        let (served, _) = within_budget(&result.frames, max_bytes);
        if served < result.frames.len() {
            let kept = result.frames.clone();
            result.frames.truncate(served);
            lock(&self.read_ahead).keep(kept, epoch);
        }
        Ok(result)
    }

    fn read(&self, from: u64, max_bytes: usize) -> Result<ReadResult> {
        if self.deleted.load(Ordering::Acquire) {
            return Err(LogError::PartitionDeleted);
        }
        let high_watermark = self.high_watermark.load(Ordering::Acquire);
        let log_start_offset = self.log_start.load(Ordering::Acquire);
        if from < log_start_offset || from > high_watermark {
            return Err(self.out_of_range(from));
        }
        let mut result = ReadResult {
            frames: Vec::new(),
            high_watermark,
            log_start_offset,
        };
        if from == high_watermark {
            return Ok(result);
        }
        let cached = lock(&self.cache).read(from, high_watermark, max_bytes);
        result.frames = match cached {
            Some(frames) if !frames.is_empty() => frames,
            _ => match self.read_remote(from, high_watermark, max_bytes)? {
                Some(frames) => frames,
                None => self.read_segments(from, high_watermark, max_bytes)?,
            },
        };
        assert!(
            !result.frames.is_empty(),
            "a read below the high watermark returned nothing"
        );
        Ok(result)
    }

    fn read_segments(&self, from: u64, hw: u64, max_bytes: usize) -> Result<Vec<StoredFrame>> {
        let segments = self.segments.load_full();
        let first = segments.partition_point(|s| s.base_offset() <= from);
        let Some(first) = first.checked_sub(1) else {
            return Err(self.out_of_range(from));
        };
        let mut out = Vec::new();
        let mut budget = ReadBudget::new(max_bytes);
        for (k, seg) in segments.iter().enumerate().skip(first) {
            let (mut pos, mut expected) = if k == first {
                seg.position_for_offset(from)
            } else {
                (SEGMENT_FILE_HEADER_BYTES, seg.base_offset())
            };
            let end = seg.size();
            while pos < end {
                let header = match seg.read_header(pos) {
                    Ok(header) => header,
                    Err(error) => match past_damage(seg, (pos, expected), from, &out, error)? {
                        Some(resume) => {
                            (pos, expected) = resume;
                            continue;
                        }
                        None => return Ok(out),
                    },
                };
                if header.next_offset() > hw {
                    return Ok(out);
                }
                if header.next_offset() > from {
                    let len = header.payload_length as usize;
                    if !budget.admits(len) {
                        return Ok(out);
                    }
                    let payload = match seg.read_payload(pos, &header) {
                        Ok(payload) => payload,
                        Err(error) => match past_damage(seg, (pos, expected), from, &out, error)? {
                            Some(resume) => {
                                (pos, expected) = resume;
                                continue;
                            }
                            None => return Ok(out),
                        },
                    };
                    out.push(StoredFrame { header, payload });
                    if budget.take(len) {
                        return Ok(out);
                    }
                }
                pos += header.frame_bytes();
                expected = header.next_offset();
            }
        }
        Ok(out)
    }

    fn find_by_timestamp(&self, ts_us: i64) -> Result<Option<FrameHeader>> {
        if self.deleted.load(Ordering::Acquire) {
            return Err(LogError::PartitionDeleted);
        }
        if let Some(header) = self.find_remote(ts_us)? {
            return Ok(Some(header));
        }
        let hw = self.high_watermark.load(Ordering::Acquire);
        let start = self.log_start.load(Ordering::Acquire);
        let segments = self.segments.load_full();
        for seg in segments
            .iter()
            .filter(|s| s.max_timestamp_us() >= ts_us && s.next_offset() > start)
        {
            let (mut pos, mut expected) = seg.position_for_timestamp(ts_us);
            let end = seg.size();
            while pos < end {
                let header = match seg.read_header(pos) {
                    Ok(header) => header,
                    // Damaged frames cannot be matched; the lookup goes on after them.
                    Err(LogError::CorruptFrame { .. }) => match seg.damage_at(pos, expected)? {
                        Some(range) => {
                            (pos, expected) = (range.end_position, range.next_offset);
                            continue;
                        }
                        None => break,
                    },
                    Err(error) => return Err(error),
                };
                if header.next_offset() > hw {
                    return Ok(None);
                }
                if header.max_timestamp_us >= ts_us && header.next_offset() > start {
                    return Ok(Some(header));
                }
                pos += header.frame_bytes();
                expected = header.next_offset();
            }
        }
        Ok(None)
    }
}

/// Runs `job` off the async workers and waits for its answer: on the calling thread inside
/// `block_in_place` when it is a multi-thread runtime's worker (no hop; see
/// [`append::run_off_worker`]), else on the log's read threads.
async fn offload<T: Send + 'static>(
    inner: &Inner,
    job: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    let mut job = Some(job);
    let mut answer = None;
    if append::run_off_worker(|| answer = job.take().map(|job| job()))
        && let Some(answer) = answer
    {
        return answer;
    }
    let Some(job) = job else {
        return Err(LogError::io(
            &inner.dir,
            std::io::Error::other("read ran nowhere"),
        ));
    };
    let (tx, rx) = tokio::sync::oneshot::channel();
    let submitted = READERS.submit(Box::new(move || {
        let _ = tx.send(job());
    }));
    if let Err(error) = submitted {
        return Err(LogError::io(&inner.dir, error));
    }
    rx.await.unwrap_or_else(|_| {
        let lost = std::io::Error::other("the read's job failed");
        Err(LogError::io(&inner.dir, lost))
    })
}

/// What a read does at a frame that failed: an I/O error is returned as it is; bad bytes end a
/// read that has frames already (`None`: serve those); a read from an offset at or past the end
/// of a damaged range resumes after it (the position and offset to go on from); a read of the
/// damaged offsets themselves gets the error.
fn past_damage(
    seg: &Segment,
    (pos, offset): (u64, u64),
    from: u64,
    served: &[StoredFrame],
    error: LogError,
) -> Result<Option<(u64, u64)>> {
    if !matches!(error, LogError::CorruptFrame { .. }) {
        return Err(error);
    }
    if !served.is_empty() {
        return Ok(None);
    }
    match seg.damage_at(pos, offset)? {
        Some(range) if from >= range.next_offset => {
            Ok(Some((range.end_position, range.next_offset)))
        }
        _ => Err(error),
    }
}

/// Whether the active segment's first append is older than `segment_ms`.
fn is_over_age(active: &Segment, segment_ms: Option<u64>, now_us: i64) -> bool {
    let (Some(ms), Some(first)) = (segment_ms, active.first_append_us()) else {
        return false;
    };
    let age_us = now_us.saturating_sub(first);
    age_us > 0 && age_us.unsigned_abs() > ms.saturating_mul(1000)
}
