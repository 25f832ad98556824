//! The consumer-group coordinator and committed-offset store as the broker runs it, shared by
//! the Kafka group APIs, the native offset commands and the core's deletion cascade. The
//! coordinator is a plain state machine (`whippet-coordinator`) of live membership (joins,
//! heartbeats, rebalances: timing that belongs to connections); this module adds one mutex
//! (never held across an await: deferred JoinGroup/SyncGroup answers are awaited after it is
//! released) and a timer task driving [`Coordinator::tick`]. What must survive a restart —
//! each group's metadata and every committed offset — goes to the metadata state machine
//! ([`crate::core::meta`]) as one command per change set, so a commit is acknowledged only once
//! a command holding it is durable, and costs one small record (O(1) I/O, not a rewrite of every
//! offset). Concurrent commits share one append: each waits for the writer, and a commit whose
//! change was already covered by the command it waited behind returns without writing again;
//! commands queued by several writers share the metadata log's group commit. The durable state
//! is readable without the mutex: [`GroupCoordinator::durable`].

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tracing::warn;
use whippet_coordinator::persist::{GroupStore, LEGACY_CHECKPOINT_FILE, LOG_NAME};
use whippet_coordinator::{CheckpointError, Clock, Coordinator, GroupConfig, SystemClock};

use super::meta::groups::{GroupsState, changes_of};
use super::meta::{Meta, MetaCommand};
use crate::limits;

/// Offsets per command when the group store of an older data dir is migrated (bounds the size
/// of one record).
const MIGRATION_OFFSETS_PER_COMMAND: usize = 10_000;

/// The broker's coordinator plus its writer. Shared by all connections and by the timer task,
/// which is why it sits in its own `Arc` apart from the context.
pub struct GroupCoordinator {
    /// The state machine. Lock with [`GroupCoordinator::lock`]; never hold across an await.
    coordinator: Mutex<Coordinator>,
    /// Counts changes that must reach disk; bumped under the coordinator lock.
    changes: AtomicU64,
    /// Serializes change-set submissions so they reach the metadata log in the order they
    /// were taken; holds the number of the last change known durable.
    writer: tokio::sync::Mutex<u64>,
    /// Where change sets are made durable.
    meta: Arc<Meta>,
    /// Directory of the group store of older data dirs (migrated from on load).
    dir: PathBuf,
}

impl std::fmt::Debug for GroupCoordinator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupCoordinator")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl GroupCoordinator {
    /// An empty coordinator writing to `meta` (nothing loaded): for contexts built without a
    /// startup, such as handler tests. The broker replaces it with [`GroupCoordinator::load`].
    pub fn empty(meta: Arc<Meta>, dir: PathBuf) -> Self {
        let coordinator = Coordinator::new(Arc::new(SystemClock), GroupConfig::default());
        Self::from_parts(coordinator, meta, dir)
    }

    /// Restores the coordinator from the metadata log, first moving the group store of an older
    /// data dir in `dir` (its log and snapshot, or its whole-state checkpoint) onto it and then
    /// removing those files. Reads files: call it off the async workers.
    pub fn load(
        config: GroupConfig,
        dir: PathBuf,
        meta: Arc<Meta>,
    ) -> Result<Self, CheckpointError> {
        migrate(&dir, &meta)?;
        let durable = Arc::clone(&meta.load().groups);
        let restored = (!durable.is_empty()).then(|| durable.to_checkpoint());
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let coordinator = Coordinator::restore(clock, config, restored);
        Ok(Self::from_parts(coordinator, meta, dir))
    }

    fn from_parts(coordinator: Coordinator, meta: Arc<Meta>, dir: PathBuf) -> Self {
        Self {
            coordinator: Mutex::new(coordinator),
            changes: AtomicU64::new(0),
            writer: tokio::sync::Mutex::new(0),
            meta,
            dir,
        }
    }

    /// The coordinator, locked. A poisoned lock is recovered: the coordinator's methods leave
    /// it consistent between calls.
    pub fn lock(&self) -> MutexGuard<'_, Coordinator> {
        self.coordinator.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Every group's durable metadata and committed offset as of the last acknowledged change,
    /// without the coordinator's mutex (an immutable snapshot that never changes under its
    /// holder).
    pub fn durable(&self) -> Arc<GroupsState> {
        Arc::clone(&self.meta.load().groups)
    }

    /// Numbers a change made under `guard` so a caller can wait for it with
    /// [`GroupCoordinator::persist`]. Taking the guard proves the lock is held.
    fn note_change(&self, _guard: &MutexGuard<'_, Coordinator>) -> u64 {
        self.changes.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// The one way group state changes for a request: applies `change` under the lock, then
    /// waits until it is durable (nothing to write when `change` changed nothing). Returns what
    /// `change` returned and whether the change reached the disk; the caller decides what a
    /// failure means in its protocol (the change stays pending and the next append carries it).
    pub async fn change_durably<R>(
        &self,
        change: impl FnOnce(&mut Coordinator) -> R,
    ) -> (R, Result<(), CheckpointError>) {
        let (result, ticket) = {
            let mut c = self.lock();
            let result = change(&mut c);
            (result, self.note_change(&c))
        };
        let durable = self.persist(ticket).await;
        (result, durable)
    }

    /// Makes every change numbered up to `ticket` durable (`u64::MAX`: whatever is pending).
    /// Returns at once if a command already covered it; otherwise submits one change set of
    /// everything pending, which covers every change made before it was taken. The metadata
    /// log snapshots itself when its log has grown enough.
    pub async fn persist(&self, ticket: u64) -> Result<(), CheckpointError> {
        let mut durable = self.writer.lock().await;
        if *durable >= ticket {
            return Ok(());
        }
        let (taken, upto) = {
            let mut c = self.lock();
            (c.take_changes(), self.changes.load(Ordering::SeqCst))
        };
        let Some(changes) = taken else {
            *durable = upto;
            return Ok(());
        };
        let queued = self.meta.enqueue(MetaCommand::Groups(changes.clone()));
        if let Err(error) = Meta::answer(queued).await {
            // Still pending: the next append carries it.
            self.lock().mark_unpersisted(&changes);
            return Err(CheckpointError::Io {
                path: self.meta.dir().to_path_buf(),
                op: "append group changes",
                source: std::io::Error::other(error.to_string()),
            });
        }
        *durable = upto;
        Ok(())
    }

    /// The directory of the old group store.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// Moves the group store of an older data dir (`groups.log` and `groups.snapshot`, or the
/// whole-state `groups.checkpoint` before them) in `dir` onto `meta`, then removes those files.
/// Nothing to do when none exists. The store is written as several commands; the files go only
/// after the last is durable, so a crash in between repeats the migration, which is harmless:
/// change sets carry values, and nothing was served in between.
fn migrate(dir: &Path, meta: &Meta) -> Result<(), CheckpointError> {
    let files = [
        dir.join(format!("{LOG_NAME}.log")),
        dir.join(format!("{LOG_NAME}.snapshot")),
        dir.join(LEGACY_CHECKPOINT_FILE),
    ];
    if !files.iter().any(|file| file.exists()) {
        return Ok(());
    }
    let (store, restored) = GroupStore::open(dir)?;
    drop(store);
    for changes in restored
        .iter()
        .flat_map(|cp| changes_of(cp, MIGRATION_OFFSETS_PER_COMMAND))
    {
        meta.submit_blocking(MetaCommand::Groups(changes))
            .map_err(|error| CheckpointError::Io {
                path: dir.to_path_buf(),
                op: "migrate the group store",
                source: std::io::Error::other(error.to_string()),
            })?;
    }
    for file in files {
        match std::fs::remove_file(&file) {
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
                return Err(CheckpointError::Io {
                    path: file,
                    op: "remove migrated file",
                    source: error,
                });
            }
            _ => {}
        }
    }
    // The directory goes too once empty (a leftover of anything else keeps it).
    let _ = std::fs::remove_dir(dir);
    Ok(())
}

/// Drives the coordinator's timers every [`limits::GROUP_TICK_MS`] and writes group changes
/// (joins, leaves, expiries) to disk, until `stop` is cancelled. Then writes a final checkpoint.
pub async fn run_timer(groups: Arc<GroupCoordinator>, stop: CancellationToken) {
    let mut interval = tokio::time::interval(Duration::from_millis(limits::GROUP_TICK_MS));
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.cancelled() => break,
            _ = interval.tick() => {}
        }
        let due = {
            let mut c = groups.lock();
            c.tick();
            c.checkpoint_due()
        };
        if due && let Err(error) = groups.persist(u64::MAX).await {
            warn!(%error, "group checkpoint failed; will retry");
        }
    }
    if let Err(error) = groups.persist(u64::MAX).await {
        warn!(%error, "final group checkpoint failed");
    }
}

/// Subdirectory of the log's state directory that held the group store before the metadata
/// log (read once, for migration).
pub const GROUPS_DIR: &str = "groups";
