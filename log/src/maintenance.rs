//! The background maintenance thread: one per [`crate::Log`]. Every
//! [`LogConfig::maintenance_interval`] it enforces retention on every partition (which also rolls
//! segments by age), every [`LogConfig::compaction_interval`] it cleans compacted topics (when
//! the log has a compactor), and with `fsync = interval` it syncs every partition every
//! [`LogConfig::fsync_interval`]. It waits on a condition variable, so a stop request wakes it at
//! once instead of after the next tick. Errors are logged and the thread carries on: one bad
//! partition must not stop retention or syncing for the others.

use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwap;

use crate::PartitionLog;
use crate::catalog_meta::CatalogSnapshot;
use crate::compaction::Compactor;
use crate::config::{FsyncPolicy, LogConfig};
use crate::error::{LogError, Result};
use crate::limits;

/// Microseconds since the Unix epoch by the wall clock; 0 if the clock is before 1970.
pub(crate) fn unix_now_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| {
            i64::try_from(elapsed.as_micros()).unwrap_or(i64::MAX)
        })
}

/// The stop flag the thread waits on, with the condition variable that wakes it.
#[derive(Default)]
struct StopSignal {
    stopped: Mutex<bool>,
    wake: Condvar,
}

impl StopSignal {
    /// Locks the flag. A poisoned lock still holds a valid bool, so poisoning is ignored.
    fn lock(&self) -> MutexGuard<'_, bool> {
        self.stopped.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sleeps until `deadline` or a stop request; returns whether a stop was requested.
    fn wait_until(&self, deadline: Instant) -> bool {
        let mut stopped = self.lock();
        loop {
            if *stopped {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            stopped = self
                .wake
                .wait_timeout(stopped, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// Sets the flag and wakes the thread.
    fn stop(&self) {
        *self.lock() = true;
        self.wake.notify_all();
    }
}

/// Handle to a running maintenance thread. Dropping it stops and joins the thread.
pub(crate) struct Maintenance {
    signal: Arc<StopSignal>,
    thread: Option<JoinHandle<()>>,
}

/// When the thread does each kind of work.
struct Schedule {
    retention_every: Duration,
    /// `None` unless `fsync = interval`.
    sync_every: Option<Duration>,
    /// The cleaner of compacted topics: `None` without a compactor.
    compact: Option<(Duration, Arc<dyn Compactor>, usize)>,
}

impl Schedule {
    /// Reads the periods from the configuration, never below the named minimum.
    fn from_config(config: &LogConfig) -> Self {
        let floor = Duration::from_millis(limits::MAINTENANCE_INTERVAL_MS_MIN);
        let sync_every =
            (config.fsync == FsyncPolicy::Interval).then(|| config.fsync_interval.max(floor));
        let compact = config.compactor.as_ref().map(|compactor| {
            (
                config.compaction_interval.max(floor),
                Arc::clone(compactor),
                config.compaction_map_keys.max(1),
            )
        });
        Self {
            retention_every: config.maintenance_interval.max(floor),
            sync_every,
            compact,
        }
    }
}

impl Maintenance {
    /// Starts the thread over the catalog cell shared with the log: each round works on whatever
    /// snapshot is current, so partitions created later are maintained and deleted ones are not.
    pub(crate) fn start(
        catalog: Arc<ArcSwap<CatalogSnapshot>>,
        config: &LogConfig,
    ) -> Result<Self> {
        let signal = Arc::new(StopSignal::default());
        let schedule = Schedule::from_config(config);
        let thread_signal = Arc::clone(&signal);
        let thread = std::thread::Builder::new()
            .name("whippet-log-maintenance".to_string())
            .spawn(move || run(&catalog, &thread_signal, &schedule))
            .map_err(|error| LogError::io(&config.data_dir, error))?;
        Ok(Self {
            signal,
            thread: Some(thread),
        })
    }

    /// Stops the thread and waits for it; a round in progress finishes first.
    pub(crate) fn stop(&mut self) {
        self.signal.stop();
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            tracing::error!("the log maintenance thread panicked");
        }
    }
}

impl Drop for Maintenance {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The thread's loop: sleep until the next due task or a stop, then do what is due.
fn run(catalog: &ArcSwap<CatalogSnapshot>, signal: &StopSignal, schedule: &Schedule) {
    let start = Instant::now();
    let mut next_retention = start + schedule.retention_every;
    let mut next_sync = schedule.sync_every.map(|every| start + every);
    let mut next_compact = schedule.compact.as_ref().map(|(every, ..)| start + *every);
    loop {
        let deadline = [next_sync, next_compact]
            .into_iter()
            .flatten()
            .fold(next_retention, Instant::min);
        if signal.wait_until(deadline) {
            return;
        }
        let now = Instant::now();
        if now >= next_retention {
            // load_full, not a guard: a round may take a while and guards are for short borrows.
            enforce_retention(&catalog.load_full(), unix_now_us());
            next_retention = Instant::now() + schedule.retention_every;
        }
        if let (Some(due), Some(every)) = (next_sync, schedule.sync_every)
            && now >= due
        {
            sync_all(&catalog.load_full());
            next_sync = Some(Instant::now() + every);
        }
        if let (Some(due), Some((every, compactor, keys))) = (next_compact, &schedule.compact)
            && now >= due
        {
            compact_all(&catalog.load_full(), compactor.as_ref(), *keys);
            next_compact = Some(Instant::now() + *every);
        }
    }
}

/// Calls `work` on every partition in the snapshot and logs (never propagates) its errors; a
/// partition deleted since the snapshot was taken is skipped quietly.
fn for_each_partition(
    snapshot: &CatalogSnapshot,
    what: &'static str,
    work: impl Fn(&PartitionLog) -> Result<()>,
) {
    for topic in snapshot.streams().flat_map(|stream| stream.topics.values()) {
        for partition in &topic.partitions {
            match work(partition) {
                Ok(()) | Err(LogError::PartitionDeleted) => {}
                Err(error) => tracing::warn!(
                    stream = topic.stream_id,
                    topic = topic.id,
                    partition = partition.id(),
                    %error,
                    "background {what} failed"
                ),
            }
        }
    }
}

/// One retention round over every partition in the snapshot.
fn enforce_retention(snapshot: &CatalogSnapshot, now_us: i64) {
    for_each_partition(snapshot, "retention", |partition| {
        partition.enforce_retention(now_us).map(|_| ())
    });
}

/// One cleaning round over every partition of a compacted topic in the snapshot.
fn compact_all(snapshot: &CatalogSnapshot, compactor: &dyn Compactor, keys: usize) {
    for_each_partition(snapshot, "compaction", |partition| {
        let outcome = partition.compact(unix_now_us(), compactor, keys)?;
        if outcome.segments_cleaned > 0 {
            tracing::info!(
                partition = partition.id(),
                segments = outcome.segments_cleaned,
                records_removed = outcome.records_removed,
                bytes_before = outcome.bytes_before,
                bytes_after = outcome.bytes_after,
                "compacted"
            );
        }
        Ok(())
    });
}

/// One background sync of every partition in the snapshot.
fn sync_all(snapshot: &CatalogSnapshot) {
    for_each_partition(snapshot, "sync", PartitionLog::sync);
}
