//! The consumer-group coordinator and committed-offset store as the broker runs it, shared by
//! the Kafka group APIs, the native offset commands and the core's deletion cascade. The
//! coordinator is a plain state machine (`whippet-coordinator`); this module adds one mutex
//! (never held across an await: deferred JoinGroup/SyncGroup answers are awaited after it is
//! released), a timer task driving [`Coordinator::tick`], and checkpoint writes off the async
//! workers, one at a time, so a commit is acknowledged only once a checkpoint holding it is on
//! disk. Concurrent commits share one write: each waits for the writer, and a commit whose
//! change was already covered by the write it waited behind returns without writing again.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tracing::warn;
use whippet_coordinator::persist::{self, Checkpoint};
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
    /// A snapshot whose write failed; retried if nothing newer is taken.
    failed: Option<Checkpoint>,
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
        )
    }

    /// Restores the coordinator from the checkpoint in `dir`. Reads files: call it off the
    /// async workers.
    pub fn load(config: GroupConfig, dir: PathBuf) -> Result<Self, CheckpointError> {
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let coordinator = Coordinator::load(clock, config, &dir)?;
        Ok(Self::from_parts(coordinator, dir))
    }

    fn from_parts(coordinator: Coordinator, dir: PathBuf) -> Self {
        Self {
            coordinator: Mutex::new(coordinator),
            changes: AtomicU64::new(0),
            writer: tokio::sync::Mutex::new(WriterState::default()),
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
    pub fn note_change(&self, _guard: &MutexGuard<'_, Coordinator>) -> u64 {
        self.changes.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// Makes every change numbered up to `ticket` durable (`u64::MAX`: whatever is pending).
    /// Returns at once if a write already covered it; otherwise writes one snapshot of the
    /// current state, which covers every change made before it was taken.
    pub async fn persist(&self, ticket: u64) -> Result<(), CheckpointError> {
        let mut writer = self.writer.lock().await;
        if writer.durable >= ticket {
            return Ok(());
        }
        let (taken, upto) = {
            let mut c = self.lock();
            (c.take_checkpoint(), self.changes.load(Ordering::SeqCst))
        };
        let Some(checkpoint) = taken.or_else(|| writer.failed.take()) else {
            writer.durable = upto;
            return Ok(());
        };
        let dir = self.dir.clone();
        let written = tokio::task::spawn_blocking(move || {
            let result = persist::write_checkpoint(&dir, &checkpoint);
            (checkpoint, result)
        })
        .await;
        match written {
            Ok((_, Ok(()))) => {
                // Anything that failed earlier is older than what just landed.
                writer.failed = None;
                writer.durable = upto;
                Ok(())
            }
            Ok((checkpoint, Err(error))) => {
                writer.failed = Some(checkpoint);
                Err(error)
            }
            Err(join) => Err(CheckpointError::Io {
                path: self.dir.clone(),
                op: "checkpoint task",
                source: std::io::Error::other(join.to_string()),
            }),
        }
    }

    /// The checkpoint directory.
    pub fn dir(&self) -> &Path {
        &self.dir
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
