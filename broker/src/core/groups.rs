//! The consumer-group coordinator and committed-offset store as the broker runs it, shared by
//! the Kafka group APIs, the native offset commands and the core's deletion cascade. The
//! coordinator is a plain state machine (`whippet-coordinator`); this module adds one mutex
//! (never held across an await: deferred JoinGroup/SyncGroup answers are awaited after it is
//! released), a timer task driving [`Coordinator::tick`], and appends of change sets to the
//! group store (an append-only metadata log, `whippet_coordinator::persist`) off the async
//! workers, one at a time, so a commit is acknowledged only once a change set holding it is on
//! disk. A commit appends only what changed (O(1) I/O, not a rewrite of every offset);
//! concurrent commits share one append: each waits for the writer, and a commit whose change
//! was already covered by the append it waited behind returns without writing again.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tracing::warn;
use whippet_coordinator::persist::{Changes, GroupStore};
use whippet_coordinator::{CheckpointError, Clock, Coordinator, GroupConfig, SystemClock};

use crate::limits;

/// The broker's coordinator plus its checkpoint writer. Shared by all connections and by the
/// timer task, which is why it sits in its own `Arc` apart from the context.
pub struct GroupCoordinator {
    /// The state machine. Lock with [`GroupCoordinator::lock`]; never hold across an await.
    coordinator: Mutex<Coordinator>,
    /// Counts changes that must reach disk; bumped under the coordinator lock.
    changes: AtomicU64,
    /// Serializes checkpoint writes so a newer snapshot is never overwritten by an older one.
    writer: tokio::sync::Mutex<WriterState>,
    /// Directory holding the checkpoint file.
    dir: PathBuf,
}

/// What the writer knows about the disk.
#[derive(Default)]
struct WriterState {
    /// Every change numbered up to this is on disk.
    durable: u64,
    /// The store, once opened (at load, or on the first write of an [`GroupCoordinator::empty`]
    /// coordinator); taken out while a blocking task writes to it.
    store: Option<GroupStore>,
}

impl std::fmt::Debug for GroupCoordinator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupCoordinator")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl GroupCoordinator {
    /// An empty coordinator writing to `dir` (nothing loaded): for contexts built without a
    /// startup, such as handler tests. The broker replaces it with [`GroupCoordinator::load`].
    pub fn empty(dir: PathBuf) -> Self {
        Self::from_parts(
            Coordinator::new(Arc::new(SystemClock), GroupConfig::default()),
            dir,
            None,
        )
    }

    /// Restores the coordinator from the group store in `dir` (migrating a legacy checkpoint).
    /// Reads files: call it off the async workers.
    pub fn load(config: GroupConfig, dir: PathBuf) -> Result<Self, CheckpointError> {
        let (store, restored) = GroupStore::open(&dir)?;
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let coordinator = Coordinator::restore(clock, config, restored);
        Ok(Self::from_parts(coordinator, dir, Some(store)))
    }

    fn from_parts(coordinator: Coordinator, dir: PathBuf, store: Option<GroupStore>) -> Self {
        Self {
            coordinator: Mutex::new(coordinator),
            changes: AtomicU64::new(0),
            writer: tokio::sync::Mutex::new(WriterState { durable: 0, store }),
            dir,
        }
    }

    /// The coordinator, locked. A poisoned lock is recovered: the coordinator's methods leave
    /// it consistent between calls.
    pub fn lock(&self) -> MutexGuard<'_, Coordinator> {
        self.coordinator.lock().unwrap_or_else(|p| p.into_inner())
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
    /// Returns at once if an append already covered it; otherwise appends one change set of
    /// everything pending, which covers every change made before it was taken, and writes a
    /// snapshot when the log has grown enough.
    pub async fn persist(&self, ticket: u64) -> Result<(), CheckpointError> {
        let mut writer = self.writer.lock().await;
        if writer.durable >= ticket {
            return Ok(());
        }
        let (taken, upto) = {
            let mut c = self.lock();
            (c.take_changes(), self.changes.load(Ordering::SeqCst))
        };
        let Some(changes) = taken else {
            writer.durable = upto;
            return Ok(());
        };
        let store = writer.store.take();
        let dir = self.dir.clone();
        let (store, outcome) = match tokio::task::spawn_blocking(move || {
            append(store, &dir, &changes).map_err(|error| (error, changes))
        })
        .await
        {
            Ok(Ok(store)) => (Some(store), Ok(())),
            Ok(Err((error, changes))) => {
                // Still pending: the next append carries it.
                self.lock().mark_unpersisted(&changes);
                (None, Err(error))
            }
            Err(join) => (None, Err(task_failed(&self.dir, &join))),
        };
        outcome?;
        writer.durable = upto;
        writer.store = store;
        self.snapshot_if_due(&mut writer).await;
        Ok(())
    }

    /// Writes a snapshot of the whole state when the store's log has grown enough. The state
    /// may already hold changes not yet appended; replaying them again after the snapshot is
    /// harmless, as every change set carries values, not deltas. A failure is only logged: the
    /// log still holds everything.
    async fn snapshot_if_due(&self, writer: &mut WriterState) {
        if !writer.store.as_ref().is_some_and(GroupStore::snapshot_due) {
            return;
        }
        let checkpoint = self.lock().checkpoint();
        let mut store = writer.store.take();
        let written = tokio::task::spawn_blocking(move || {
            let result = store
                .as_mut()
                .map_or(Ok(()), |s| s.write_snapshot(&checkpoint));
            (store, result)
        })
        .await;
        match written {
            Ok((store, result)) => {
                writer.store = store;
                if let Err(error) = result {
                    warn!(%error, "group store snapshot failed; the log keeps every change");
                }
            }
            Err(join) => warn!(error = %join, "group store snapshot task failed"),
        }
    }

    /// The checkpoint directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// Appends `changes` to `store`, opening the store in `dir` first when there is none yet.
fn append(
    store: Option<GroupStore>,
    dir: &Path,
    changes: &Changes,
) -> Result<GroupStore, CheckpointError> {
    let mut store = match store {
        Some(store) => store,
        None => GroupStore::open(dir)?.0,
    };
    store.append(changes)?;
    Ok(store)
}

fn task_failed(dir: &Path, join: &tokio::task::JoinError) -> CheckpointError {
    CheckpointError::Io {
        path: dir.to_path_buf(),
        op: "group store task",
        source: std::io::Error::other(join.to_string()),
    }
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

/// Subdirectory of the log's state directory holding the group checkpoint.
pub const GROUPS_DIR: &str = "groups";
