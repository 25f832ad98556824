//! [`Log`]: the one owner of the catalog and of every open partition. Readers take a
//! [`CatalogSnapshot`] without locking; mutations are serialised by one mutex (the single writer),
//! build a new snapshot, persist it through the [`CatalogStore`], and swap it in.
//!
//! Crash safety comes from the order of operations. Creating: make the directories and open the
//! partitions first, then persist the catalog, so a crash in between leaves only orphan
//! directories. Deleting: persist the catalog first, then remove the files, so a crash in
//! between again leaves only orphans and never a catalog entry pointing at half-deleted data.
//!
//! Orphans found at open are reported and kept: the log cannot tell a leftover of a deletion
//! from data whose catalog entry was lost, so it never deletes them. Creates skip their stream
//! and topic ids, and a create of a partition whose directory is one of them is refused
//! ([`LogError::UnlistedData`]). Only a leftover of this process's own failed cleanup is
//! removed when its id is reused. A data directory whose catalog is missing while
//! `streams/` holds anything is not opened at all ([`LogError::MissingCatalog`]).

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use arc_swap::ArcSwap;

use crate::catalog::{self, CatalogFile, TopicRecord};
use crate::catalog_meta::{CatalogSnapshot, StreamMeta, TopicMeta};
use crate::catalog_scan::{self, DataDirFinding, FindingKind};
use crate::catalog_store::{CatalogStore, FileCatalogStore};
use crate::config::LogConfig;
use crate::error::{LogError, Result};
use crate::maintenance::Maintenance;
use crate::storage::{LocalStore, SegmentStore};
use crate::{PartitionLog, RecoveryEvent};

/// Everything opening the log noticed, for the broker to log or expose. Nothing in here stopped
/// the open; errors that do are returned as `Err` instead.
#[derive(Debug, Default)]
pub struct OpenReport {
    /// What each partition's recovery did (truncated tails, rebuilt indexes, ...).
    pub events: Vec<RecoveryEvent>,
    /// What the data directory held that the catalog did not account for, and what was done.
    pub findings: Vec<DataDirFinding>,
}

/// The storage engine's front door: streams, topics and their partition logs. `Send + Sync`,
/// shared as `Arc<Log>`. Call [`Log::shutdown`] before dropping it to sync everything; a plain
/// drop only stops the maintenance thread.
pub struct Log {
    config: LogConfig,
    /// Where partitions' segment files live.
    store: Arc<dyn SegmentStore>,
    /// Where the catalog is kept.
    catalog_store: Arc<dyn CatalogStore>,
    /// The current catalog; shared with the maintenance thread, which reads it every round.
    catalog: Arc<ArcSwap<CatalogSnapshot>>,
    /// The single writer. Held for a whole mutation (validate, touch files, persist, swap) so
    /// two mutations can never interleave; readers never take it. A std mutex: mutations are
    /// rare, short and synchronous, and nothing awaits while holding it.
    writer: Mutex<()>,
    /// The background thread; `None` once shut down.
    maintenance: Mutex<Option<Maintenance>>,
    /// Set by [`Log::shutdown`]; mutations are refused afterwards.
    shut_down: AtomicBool,
    /// Orphan directories found at open: data the catalog does not list, which the log never
    /// deletes (see the module doc).
    unlisted: BTreeSet<PathBuf>,
}

// `Log` is shared across the runtime's threads as `Arc<Log>`; keep that true at compile time.
const _: fn() = || {
    fn shared_across_threads<T: Send + Sync>() {}
    shared_across_threads::<Log>();
    shared_across_threads::<CatalogSnapshot>();
};

impl std::fmt::Debug for Log {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Log")
            .field("data_dir", &self.config.data_dir)
            .finish_non_exhaustive()
    }
}

impl Log {
    /// Opens (or creates) the log in `config.data_dir`: restores the catalog, recovers every
    /// partition it lists, reports whatever else the directory holds, and starts the maintenance
    /// thread.
    pub fn open(config: LogConfig) -> Result<(Arc<Log>, OpenReport)> {
        Self::open_with_store(config, Arc::new(LocalStore))
    }

    /// [`Log::open`] with every partition's segment files reached through `store` instead of
    /// plain local files (a remote or tiered store later; a fault-injecting one in tests). The
    /// catalog and the log's small state files stay local.
    pub fn open_with_store(
        config: LogConfig,
        store: Arc<dyn SegmentStore>,
    ) -> Result<(Arc<Log>, OpenReport)> {
        let catalog_store = Arc::new(FileCatalogStore::new(&config.data_dir));
        Self::open_with(config, store, catalog_store)
    }

    /// [`Log::open`] with the catalog kept in `catalog_store` instead of `catalog.json`.
    pub fn open_with_catalog(
        config: LogConfig,
        catalog_store: Arc<dyn CatalogStore>,
    ) -> Result<(Arc<Log>, OpenReport)> {
        Self::open_with(config, Arc::new(LocalStore), catalog_store)
    }

    /// [`Log::open`] with both seams chosen: segment files through `store`, the catalog in
    /// `catalog_store`.
    pub fn open_with(
        config: LogConfig,
        store: Arc<dyn SegmentStore>,
        catalog_store: Arc<dyn CatalogStore>,
    ) -> Result<(Arc<Log>, OpenReport)> {
        let data_dir = config.data_dir.clone();
        fs::create_dir_all(&data_dir).map_err(|error| LogError::io(&data_dir, error))?;
        let state_dir = data_dir.join(catalog::STATE_DIR_NAME);
        fs::create_dir_all(&state_dir).map_err(|error| LogError::io(&state_dir, error))?;
        let mut report = OpenReport::default();
        let loaded = catalog_store.load()?;
        report.findings.extend(loaded.findings);
        let file = match loaded.catalog {
            Some(file) => file,
            None => {
                let empty = CatalogFile::empty();
                catalog_store.store(&empty)?;
                empty
            }
        };
        report
            .findings
            .extend(catalog_scan::scan(&data_dir, &file)?);
        let streams = open_streams(&config, &store, &file, &mut report)?;
        if catalog_store.keeps_log_starts() {
            restore_log_starts(catalog_store.as_ref(), &file, &streams, &mut report)?;
        }
        for finding in &report.findings {
            tracing::warn!(path = %finding.path.display(), kind = ?finding.kind, "data directory");
        }
        let unlisted = report
            .findings
            .iter()
            .filter(|finding| finding.kind == FindingKind::OrphanDirectory)
            .map(|finding| finding.path.clone())
            .collect();
        let catalog = Arc::new(ArcSwap::from_pointee(CatalogSnapshot::new(streams)));
        let maintenance = Maintenance::start(Arc::clone(&catalog), &config)?;
        let log = Log {
            config,
            store,
            catalog_store,
            catalog,
            writer: Mutex::new(()),
            maintenance: Mutex::new(Some(maintenance)),
            shut_down: AtomicBool::new(false),
            unlisted,
        };
        Ok((Arc::new(log), report))
    }

    /// Where the catalog is kept.
    pub(crate) fn catalog_store(&self) -> &Arc<dyn CatalogStore> {
        &self.catalog_store
    }

    /// The store partitions' segment files are reached through.
    pub(crate) fn segment_store(&self) -> &Arc<dyn SegmentStore> {
        &self.store
    }

    /// Whether `dir` is an orphan directory found at open (data a create must not reuse).
    pub(crate) fn is_unlisted(&self, dir: &Path) -> bool {
        self.unlisted.contains(dir)
    }

    /// Ids of the orphan directories found at open directly under `parent`.
    pub(crate) fn unlisted_ids<'a>(&'a self, parent: &'a Path) -> impl Iterator<Item = u32> + 'a {
        self.unlisted
            .iter()
            .filter(move |path| path.parent() == Some(parent))
            .filter_map(|path| path.file_name()?.to_str()?.parse().ok())
    }

    /// The configuration the log was opened with.
    pub fn config(&self) -> &LogConfig {
        &self.config
    }

    /// `<data_dir>/state`: where callers keep their own files beside the log (created by
    /// [`Log::open`]; the log never reports or touches what is inside).
    pub fn state_dir(&self) -> std::path::PathBuf {
        self.config.data_dir.join(catalog::STATE_DIR_NAME)
    }

    /// The current catalog. Lock-free; the snapshot stays valid (and unchanged) however long the
    /// caller keeps it, even across later mutations.
    pub fn snapshot(&self) -> Arc<CatalogSnapshot> {
        self.catalog.load_full()
    }

    /// The partition log with these ids, if it exists in the current catalog.
    pub fn partition(
        &self,
        stream_id: u32,
        topic_id: u32,
        partition_id: u32,
    ) -> Option<Arc<PartitionLog>> {
        self.snapshot()
            .topic(stream_id, topic_id)?
            .partition(partition_id)
            .cloned()
    }

    /// Syncs every partition to disk. Tries them all and returns the first error.
    pub fn flush(&self) -> Result<()> {
        self.each_partition("sync", |p| p.sync())
    }

    /// Runs `op` on every partition, logging failures; returns the first error.
    fn each_partition(
        &self,
        what: &str,
        op: impl Fn(&PartitionLog) -> Result<()> + Sync,
    ) -> Result<()> {
        let snapshot = self.snapshot();
        let partitions: Vec<&Arc<PartitionLog>> = snapshot.all_partitions().collect();
        let outcomes = crate::parallel::map(&partitions, |partition| op(partition));
        let mut first_error = None;
        for (partition, outcome) in partitions.iter().zip(outcomes) {
            match outcome {
                Ok(()) | Err(LogError::PartitionDeleted) => {}
                Err(error) => {
                    tracing::warn!(partition = partition.id(), %error, "{what} failed");
                    first_error.get_or_insert(error);
                }
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Stops the maintenance thread, refuses further catalog changes, syncs everything and
    /// marks each partition cleanly closed (so the next open need not scan active segments).
    /// Idempotent: later calls only sync again.
    pub fn shutdown(&self) -> Result<()> {
        self.shut_down.store(true, Ordering::SeqCst);
        // Wait for a mutation in flight to finish before the final sync.
        drop(self.writer.lock().unwrap_or_else(PoisonError::into_inner));
        let maintenance = self
            .maintenance
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(mut maintenance) = maintenance {
            maintenance.stop();
        }
        self.each_partition("close", |p| p.close())?;
        // The clean-shutdown markers, all at once.
        crate::checkpoint::sync_file_system(&self.config.data_dir)
    }

    /// Takes the single-writer lock, refusing once the log is shut down. Poisoning is ignored:
    /// the lock guards no data (the state is in the snapshot, replaced only whole).
    pub(crate) fn begin_mutation(&self) -> Result<MutexGuard<'_, ()>> {
        let guard = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        if self.shut_down.load(Ordering::SeqCst) {
            return Err(LogError::ShuttingDown);
        }
        Ok(guard)
    }

    /// Persists a new catalog built from `streams` and makes it current. Callers hold the writer
    /// lock. Persisting comes first: if it fails, readers keep seeing the old catalog.
    pub(crate) fn commit(&self, streams: BTreeMap<u32, Arc<StreamMeta>>) -> Result<()> {
        let snapshot = CatalogSnapshot::new(streams);
        let keeps_log_starts = self.catalog_store.keeps_log_starts();
        self.catalog_store
            .store(&snapshot.to_file(keeps_log_starts))?;
        self.catalog.store(Arc::new(snapshot));
        Ok(())
    }
}

impl Drop for Log {
    fn drop(&mut self) {
        let maintenance = self
            .maintenance
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(mut maintenance) = maintenance.take() {
            maintenance.stop();
        }
    }
}

/// Gives each partition the log start its catalog record keeps, then moves the starts the
/// partitions found in their own `log_start.offset` (a data dir from before the store kept
/// them) into the catalog, and only once that is durable removes those files.
fn restore_log_starts(
    catalog_store: &dyn CatalogStore,
    file: &CatalogFile,
    streams: &BTreeMap<u32, Arc<StreamMeta>>,
    report: &mut OpenReport,
) -> Result<()> {
    for record in &file.streams {
        for topic in &record.topics {
            let Some(meta) = streams
                .get(&record.id)
                .and_then(|s| s.topics.get(&topic.id))
            else {
                continue;
            };
            for (partition, start) in meta.partitions.iter().zip(&topic.log_starts) {
                report.events.extend(partition.restore_log_start(*start));
            }
        }
    }
    let current = CatalogSnapshot::new(streams.clone()).to_file(true);
    if current != *file {
        catalog_store.store(&current)?;
    }
    let partitions = streams
        .values()
        .flat_map(|stream| stream.topics.values())
        .flat_map(|topic| topic.partitions.iter());
    for partition in partitions {
        partition.remove_log_start_file()?;
    }
    Ok(())
}

/// Opens every partition the catalog lists, in id order, collecting recovery events. A listed
/// partition whose directory is missing is reported, then created empty by the open.
fn open_streams(
    config: &LogConfig,
    store: &Arc<dyn SegmentStore>,
    file: &CatalogFile,
    report: &mut OpenReport,
) -> Result<BTreeMap<u32, Arc<StreamMeta>>> {
    let mut streams = BTreeMap::new();
    for record in &file.streams {
        let mut topics = BTreeMap::new();
        for topic in &record.topics {
            let meta = open_topic(config, store, record.id, topic, report)?;
            topics.insert(topic.id, Arc::new(meta));
        }
        let stream = StreamMeta {
            id: record.id,
            name: record.name.clone(),
            created_at_us: record.created_at_us,
            topics,
        };
        streams.insert(record.id, Arc::new(stream));
    }
    Ok(streams)
}

/// Opens the partitions of one persisted topic, several at a time.
fn open_topic(
    config: &LogConfig,
    store: &Arc<dyn SegmentStore>,
    stream_id: u32,
    topic: &TopicRecord,
    report: &mut OpenReport,
) -> Result<TopicMeta> {
    let ids: Vec<u32> = (0..topic.partition_count).collect();
    let opened = crate::parallel::map(&ids, |&partition_id| {
        let dir = catalog::partition_dir(&config.data_dir, stream_id, topic.id, partition_id);
        let missing = !dir.is_dir();
        let settings = topic.settings.clone();
        let open = PartitionLog::open_with_store(
            dir.clone(),
            partition_id,
            settings,
            config,
            Arc::clone(store),
        );
        (dir, missing, open)
    });
    let mut partitions = Vec::with_capacity(opened.len());
    for (dir, missing, open) in opened {
        if missing {
            report.findings.push(DataDirFinding {
                path: dir,
                kind: FindingKind::MissingPartitionDirectory,
            });
        }
        let (partition, events) = open?;
        report.events.extend(events);
        partitions.push(partition);
    }
    Ok(TopicMeta {
        id: topic.id,
        stream_id,
        name: topic.name.clone(),
        created_at_us: topic.created_at_us,
        settings: topic.settings.clone(),
        partitions,
    })
}
