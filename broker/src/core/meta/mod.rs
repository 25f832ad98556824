//! The broker's metadata state machine: the state the broker owns besides partition data
//! ([`MetaState`]: users, permissions and tokens, native consumer-group definitions, the
//! producer ids handed out, broker config overrides, the cluster id, the log's catalog of
//! streams and topics, consumer groups and committed offsets), changed only by
//! [`MetaCommand`]s that
//! one owner applies in order to an immutable snapshot which readers load without locks, each
//! command durable in the metadata log (`<state>/meta/meta.{log,snapshot}`, `whippet-meta`)
//! before its effect is visible or acknowledged. This is the shape a Raft library replicates
//! (ARCHITECTURE.md, "The metadata log"): the commands are the log entries, [`MetaState`] the
//! state machine, its snapshot the state-machine snapshot.

pub mod catalog;
#[cfg(test)]
mod catalog_tests;
pub mod groups;
mod state;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::sync::oneshot;
use whippet_meta::{CommandError, Machine, MetaError, OpenReport};

pub use self::state::{MetaApplied, MetaCommand, MetaRefusal, MetaState};

/// Subdirectory of the log's state directory holding the metadata log.
pub const META_DIR: &str = "meta";
/// Name of the metadata log inside [`META_DIR`].
const LOG_NAME: &str = "meta";

/// What a submitted command answers.
pub type Answer = Result<MetaApplied, CommandError<MetaRefusal>>;

/// The broker's running metadata state machine.
#[derive(Debug)]
pub struct Meta {
    machine: Machine<MetaState>,
    dir: PathBuf,
}

impl Meta {
    /// Opens the metadata log under `state_dir` and replays it. Reads files: call it off the
    /// async workers.
    pub fn open(state_dir: &Path) -> Result<(Self, OpenReport), MetaError> {
        let dir = state_dir.join(META_DIR);
        let (machine, report) = Machine::open(&dir, LOG_NAME, MetaState::default)?;
        if let Some(reason) = &report.dropped_tail {
            tracing::warn!(dir = %dir.display(), reason, "metadata log: torn tail cut off");
        }
        if report.replay_refused > 0 {
            tracing::warn!(
                refused = report.replay_refused,
                "metadata log: commands refused on replay were skipped"
            );
        }
        Ok((Self { machine, dir }, report))
    }

    /// The current state: lock-free, never changes under its holder.
    pub fn load(&self) -> Arc<MetaState> {
        self.machine.load()
    }

    /// Applies `command` once it is durable; answers after that (or its refusal or failure).
    pub async fn submit(&self, command: MetaCommand) -> Answer {
        Self::answer(self.enqueue(command)).await
    }

    /// Queues `command` now (so commands queued under a caller's lock keep that lock's
    /// order) and returns where its answer arrives; await it with [`Meta::answer`].
    pub fn enqueue(&self, command: MetaCommand) -> oneshot::Receiver<Answer> {
        let (tx, rx) = oneshot::channel();
        self.machine.submit(command, move |result| {
            let _ = tx.send(result);
        });
        rx
    }

    /// The answer of an [`Meta::enqueue`]d command.
    pub async fn answer(queued: oneshot::Receiver<Answer>) -> Answer {
        queued.await.unwrap_or(Err(CommandError::Stopped))
    }

    /// [`Meta::submit`] from a thread that may block (startup, migration).
    pub fn submit_blocking(&self, command: MetaCommand) -> Answer {
        self.machine.submit_wait(command)
    }

    /// Writes a snapshot now and cuts the log (blocking).
    pub fn snapshot_now(&self) -> Result<(), Arc<MetaError>> {
        self.machine.snapshot_now()
    }

    /// The directory holding the metadata log.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}
