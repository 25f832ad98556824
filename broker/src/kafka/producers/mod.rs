//! Idempotent-producer state for the whole broker: producer id allocation (reserved in blocks
//! on the metadata log, never reused across restarts) and, per partition, the epoch and recent batches of
//! every producer ([`sequence`]), guarded by one mutex per partition so that check, append and
//! record happen in one critical section and a retry racing its original cannot be appended
//! twice.
//!
//! Persistence ([`persist`]): a snapshot of all partitions' state is written periodically while
//! producers are active and at shutdown. A partition's state is loaded lazily, on its first
//! idempotent produce: the snapshot's entry (if it still matches the log) plus a scan of the
//! stored batches after the snapshot's offset. So after a SIGKILL nothing is lost either: the
//! scan finds every batch the snapshot missed.

#[cfg(test)]
mod failed_sync_tests;
#[cfg(test)]
mod ids_tests;
pub(crate) mod persist;
pub(crate) mod sequence;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use whippet_log::{BatchFormat, Log, LogError, PartitionLog, TopicMeta};
use whippet_wire::kafka::inspect_batch_at;

use self::persist::{PartitionKey, PartitionSnapshot, ProducerFiles};
use self::sequence::{BatchIds, PartitionProducers};
use crate::core::meta::{Meta, MetaCommand};
use crate::limits::{
    PRODUCER_ID_BLOCK_SIZE, PRODUCER_SCAN_READ_BYTES, PRODUCER_SNAPSHOT_INTERVAL_MS,
};

/// One partition's producer state behind its critical-section lock.
#[derive(Debug, Default)]
pub(crate) struct PartitionState {
    /// False until the snapshot entry and the log scan were applied.
    loaded: bool,
    /// Every idempotent batch below this offset is reflected in `producers`.
    covered_offset: u64,
    /// The producers.
    pub producers: PartitionProducers,
}

impl PartitionState {
    /// Remembers an appended batch and moves the covered offset past it.
    pub(crate) fn record(
        &mut self,
        batch: &BatchIds,
        base_offset: u64,
        last_offset: u64,
        now_us: i64,
    ) {
        self.producers
            .record(batch, base_offset, last_offset, now_us);
        self.covered_offset = self.covered_offset.max(last_offset + 1);
    }
}

/// The next ids to hand out: `[next, end)` is reserved on the metadata log.
#[derive(Debug, Default)]
struct IdBlock {
    loaded: bool,
    next: i64,
    end: i64,
}

/// Moves the reserved block of an older data dir's ids file (under `state_dir`) onto the
/// metadata log, then removes the file, so no id handed out before is handed out again.
/// Blocking: run at startup.
pub(crate) fn migrate_ids(meta: &Meta, state_dir: &std::path::Path) -> std::io::Result<()> {
    let files = ProducerFiles::new(state_dir);
    let Some(below) = files.load_legacy_next_block_start()? else {
        return Ok(());
    };
    meta.submit_blocking(MetaCommand::ReserveProducerIds { below })
        .map_err(|error| std::io::Error::other(error.to_string()))?;
    files.remove_legacy_ids()
}

/// Broker-wide idempotent-producer state; lives in the broker context.
#[derive(Debug)]
pub struct ProducerStates {
    files: ProducerFiles,
    meta: Arc<Meta>,
    ids: Mutex<IdBlock>,
    partitions: Mutex<HashMap<PartitionKey, Arc<Mutex<PartitionState>>>>,
    /// The last snapshot read from disk, for partitions not loaded yet: `None` until first use.
    pending: Mutex<Option<HashMap<PartitionKey, PartitionSnapshot>>>,
    last_snapshot: Mutex<Instant>,
    snapshot_running: AtomicBool,
}

/// Locks ignoring poison: every critical section leaves the state consistent at each step.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The partition key for partition `partition_id` of `topic`.
pub(crate) fn partition_key(topic: &TopicMeta, partition_id: u32) -> PartitionKey {
    PartitionKey {
        stream_id: topic.stream_id,
        topic_id: topic.id,
        topic_created_at_us: topic.created_at_us,
        partition_id,
    }
}

impl ProducerStates {
    /// State kept under `state_dir`, ids reserved on `meta`. No I/O happens here: files are
    /// read on first use.
    pub fn new(state_dir: &std::path::Path, meta: Arc<Meta>) -> Self {
        Self {
            files: ProducerFiles::new(state_dir),
            meta,
            ids: Mutex::new(IdBlock::default()),
            partitions: Mutex::new(HashMap::new()),
            pending: Mutex::new(None),
            last_snapshot: Mutex::new(Instant::now()),
            snapshot_running: AtomicBool::new(false),
        }
    }

    /// A fresh producer id. Reserving a new block is a command of the metadata log, durable
    /// before any id of the block is returned. Blocking: call off the async workers.
    pub(crate) fn allocate_id(&self) -> std::io::Result<i64> {
        let mut block = lock(&self.ids);
        self.load_ids(&mut block)?;
        if block.next >= block.end {
            let end = block
                .next
                .checked_add(PRODUCER_ID_BLOCK_SIZE)
                .ok_or_else(|| std::io::Error::other("producer ids exhausted"))?;
            self.reserve(end)?;
            block.end = end;
        }
        let id = block.next;
        block.next += 1;
        Ok(id)
    }

    /// Whether `producer_id` was handed out by this broker (in this or an earlier run).
    pub(crate) fn was_issued(&self, producer_id: i64) -> std::io::Result<bool> {
        let mut block = lock(&self.ids);
        self.load_ids(&mut block)?;
        Ok((0..block.next).contains(&producer_id))
    }

    /// Durably reserves every id below `below`.
    fn reserve(&self, below: i64) -> std::io::Result<()> {
        self.meta
            .submit_blocking(MetaCommand::ReserveProducerIds { below })
            .map(drop)
            .map_err(|error| std::io::Error::other(error.to_string()))
    }

    /// The reserved range, on first use: from the metadata log.
    fn load_ids(&self, block: &mut IdBlock) -> std::io::Result<()> {
        if !block.loaded {
            let start = self.meta.load().producer_ids_reserved;
            *block = IdBlock {
                loaded: true,
                next: start,
                end: start,
            };
        }
        Ok(())
    }

    /// The critical-section lock of one partition's state, created on first use. The caller
    /// locks it and then calls [`Self::ensure_loaded`] before checking anything.
    pub(crate) fn partition(&self, key: PartitionKey) -> Arc<Mutex<PartitionState>> {
        Arc::clone(lock(&self.partitions).entry(key).or_default())
    }

    /// Loads partition `key`'s state on the blocking pool if it is not loaded yet, so the scan
    /// of the log that loading may take never runs on an async worker (the produce path then
    /// finds it loaded). A failure is left for the produce path's own `ensure_loaded` to report.
    pub(crate) async fn load_off_runtime(
        self: &Arc<Self>,
        key: PartitionKey,
        log: &Arc<PartitionLog>,
    ) {
        let cell = self.partition(key);
        // Never wait for the lock here: a holder may be loading (a long scan) on the blocking
        // pool. Busy means "maybe not loaded": the blocking task below waits for it instead.
        let loaded = match cell.try_lock() {
            Ok(state) => state.loaded,
            Err(std::sync::TryLockError::Poisoned(poisoned)) => poisoned.into_inner().loaded,
            Err(std::sync::TryLockError::WouldBlock) => false,
        };
        if loaded {
            return;
        }
        let (states, log) = (Arc::clone(self), Arc::clone(log));
        let loaded = tokio::task::spawn_blocking(move || {
            let mut state = lock(&cell);
            states.ensure_loaded(key, &mut state, &log)
        })
        .await;
        if let Ok(Err(error)) = loaded {
            tracing::warn!(%error, "loading idempotent-producer state failed");
        }
    }

    /// Fills a not-yet-loaded partition state from the snapshot and a scan of the log after it.
    /// Reads the log synchronously; the caller holds the partition's lock, so no produce to the
    /// partition can interleave.
    pub(crate) fn ensure_loaded(
        &self,
        key: PartitionKey,
        state: &mut PartitionState,
        log: &PartitionLog,
    ) -> Result<(), LogError> {
        if state.loaded {
            return Ok(());
        }
        let snapshot = self.take_pending(&key);
        let mut fresh = PartitionState::default();
        // A snapshot beyond the log's end describes data that is gone (crash before sync,
        // purge): it cannot be trusted, so rebuild from the whole log.
        if let Some(snapshot) = snapshot.filter(|s| s.covered_offset <= log.next_offset()) {
            fresh.producers.producers = snapshot.producers.into_iter().collect();
            fresh.covered_offset = snapshot.covered_offset;
        }
        scan_log(&mut fresh, log)?;
        fresh.loaded = true;
        *state = fresh;
        Ok(())
    }

    fn take_pending(&self, key: &PartitionKey) -> Option<PartitionSnapshot> {
        let mut pending = lock(&self.pending);
        pending
            .get_or_insert_with(|| {
                self.files
                    .load_snapshot()
                    .into_iter()
                    .map(|s| (s.key, s))
                    .collect()
            })
            .remove(key)
    }

    /// Starts a background snapshot if producers were active and the last one is old enough.
    /// Never blocks the caller: the write runs on the blocking pool.
    pub(crate) fn maybe_snapshot(self: &Arc<Self>, log: &Arc<Log>) {
        let interval = Duration::from_millis(PRODUCER_SNAPSHOT_INTERVAL_MS);
        if lock(&self.last_snapshot).elapsed() < interval
            || self.snapshot_running.swap(true, Ordering::AcqRel)
        {
            return;
        }
        let (states, log) = (Arc::clone(self), Arc::clone(log));
        tokio::task::spawn_blocking(move || {
            if let Err(error) = states.snapshot(&log) {
                tracing::warn!(%error, "producer state snapshot failed");
            }
            states.snapshot_running.store(false, Ordering::Release);
        });
    }

    /// Writes every partition's producer state to disk (periodically, and at shutdown before
    /// the log closes). Partitions of deleted topics are dropped; snapshot entries of partitions
    /// not loaded in this run are carried over. Blocking I/O.
    pub fn snapshot(&self, log: &Log) -> std::io::Result<()> {
        *lock(&self.last_snapshot) = Instant::now();
        let catalog = log.snapshot();
        let exists = |key: &PartitionKey| {
            catalog.topic(key.stream_id, key.topic_id).is_some_and(|t| {
                t.created_at_us == key.topic_created_at_us
                    && t.partition(key.partition_id).is_some()
            })
        };
        let loaded: Vec<(PartitionKey, Arc<Mutex<PartitionState>>)> = {
            let mut partitions = lock(&self.partitions);
            partitions.retain(|key, _| exists(key));
            partitions
                .iter()
                .map(|(k, v)| (*k, Arc::clone(v)))
                .collect()
        };
        let mut out = Vec::with_capacity(loaded.len());
        for (key, state) in loaded {
            let state = lock(&state);
            if state.loaded {
                out.push(PartitionSnapshot {
                    key,
                    covered_offset: state.covered_offset,
                    producers: state
                        .producers
                        .producers
                        .iter()
                        .map(|(id, entry)| (*id, entry.clone()))
                        .collect(),
                });
            }
        }
        if let Some(pending) = lock(&self.pending).as_mut() {
            pending.retain(|key, _| exists(key));
            let written: std::collections::HashSet<PartitionKey> =
                out.iter().map(|s| s.key).collect();
            out.extend(
                pending
                    .values()
                    .filter(|s| !written.contains(&s.key))
                    .cloned(),
            );
        } else {
            // Nothing was loaded this run: keep what the last run wrote.
            let previous = self.files.load_snapshot();
            out.extend(previous.into_iter().filter(|s| exists(&s.key)));
        }
        self.files.store_snapshot(out)
    }
}

/// A deleted topic's producer state goes with it (its keys carry the topic's creation time,
/// so a topic that reuses the ids could never match it; this frees the memory at once rather
/// than at the next snapshot).
impl crate::core::CatalogObserver for ProducerStates {
    fn topic_deleted(&self, stream_id: u32, topic_id: u32) {
        let gone = |key: &PartitionKey| key.stream_id == stream_id && key.topic_id == topic_id;
        lock(&self.partitions).retain(|key, _| !gone(key));
        if let Some(pending) = lock(&self.pending).as_mut() {
            pending.retain(|key, _| !gone(key));
        }
    }

    /// A purged topic's offsets start again at 0, so what its producers' remembered batches
    /// say about offsets no longer holds: forget them (a forgotten producer is accepted at any
    /// sequence, as after Kafka's state expiry).
    fn topic_purged(&self, stream_id: u32, topic_id: u32) {
        self.topic_deleted(stream_id, topic_id);
    }

    fn stream_deleted(&self, stream_id: u32) {
        lock(&self.partitions).retain(|key, _| key.stream_id != stream_id);
        if let Some(pending) = lock(&self.pending).as_mut() {
            pending.retain(|key, _| key.stream_id != stream_id);
        }
    }
}

/// Applies every idempotent Kafka batch from `state.covered_offset` (or the log start, if later)
/// up to the high watermark. Native frames and batches without a producer id are skipped.
fn scan_log(state: &mut PartitionState, log: &PartitionLog) -> Result<(), LogError> {
    let mut offset = state.covered_offset.max(log.log_start_offset());
    while offset < log.high_watermark() {
        let read = match crate::core::read::read_frames(log, offset, PRODUCER_SCAN_READ_BYTES) {
            Ok(read) => read,
            // Retention moved the start meanwhile: continue from the new start.
            Err(LogError::OffsetOutOfRange { start, .. }) if start > offset => {
                offset = start;
                continue;
            }
            // Frames damaged on disk say nothing readable about their producers: go on after
            // them, as consumers do, rather than refuse every idempotent produce here.
            Err(error @ LogError::CorruptFrame { .. }) => {
                let damaged = log
                    .damaged_ranges()
                    .into_iter()
                    .find(|range| range.first_offset <= offset && offset < range.next_offset);
                let Some(range) = damaged else {
                    return Err(error);
                };
                tracing::warn!(
                    offset,
                    next_offset = range.next_offset,
                    "producer scan skips damaged frames"
                );
                offset = range.next_offset;
                continue;
            }
            Err(error) => return Err(error),
        };
        let Some(last) = read.frames.last() else {
            break;
        };
        let next = last.header.next_offset();
        for frame in read
            .frames
            .iter()
            .filter(|f| f.header.format == BatchFormat::Kafka)
        {
            let Ok(info) = inspect_batch_at(&frame.payload, 0) else {
                tracing::warn!(
                    offset = frame.header.base_offset,
                    "stored Kafka batch unreadable during producer scan"
                );
                continue;
            };
            if info.producer_id < 0 || info.is_control {
                continue;
            }
            let ids = BatchIds::new(
                info.producer_id,
                info.producer_epoch,
                info.base_sequence,
                info.last_offset_delta,
            );
            let time_us = frame.header.max_timestamp_us;
            state.record(
                &ids,
                frame.header.base_offset,
                frame.header.last_offset(),
                time_us,
            );
        }
        offset = next;
    }
    state.covered_offset = state.covered_offset.max(offset);
    Ok(())
}
