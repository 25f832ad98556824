//! The broker's metadata state machine: the state the broker owns besides partition data
//! ([`MetaState`]: users, permissions and tokens so far), changed only by [`MetaCommand`]s that
//! one owner applies in order to an immutable snapshot which readers load without locks, each
//! command durable in the metadata log (`<state>/meta/meta.{log,snapshot}`, `whippet-meta`)
//! before its effect is visible or acknowledged. This is the shape a Raft library replicates
//! (ARCHITECTURE.md, "The metadata log"): the commands are the log entries, [`MetaState`] the
//! state machine, its snapshot the state-machine snapshot.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use whippet_meta::{CommandError, Machine, MetaError, OpenReport, StateMachine};

use super::users::UserError;
use super::users::commands::{self as user_commands, UserCommand};
use super::users::model::{Directory, User};

/// Subdirectory of the log's state directory holding the metadata log.
pub const META_DIR: &str = "meta";
/// Name of the metadata log inside [`META_DIR`].
const LOG_NAME: &str = "meta";
/// Snapshot layout version; another one is refused rather than misread.
const SNAPSHOT_VERSION: u32 = 1;

/// Everything the metadata log holds, as of the last acknowledged command.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MetaState {
    /// Users, permissions and personal access tokens.
    pub users: Arc<Directory>,
    /// Bumped by every applied user command (not persisted: it tells open sessions of this
    /// process to check themselves again).
    pub users_version: u64,
}

/// One change to the metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum MetaCommand {
    /// A change to users, permissions or tokens.
    Users(UserCommand),
}

/// What an applied command answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetaApplied {
    /// The id of the user a user command involved.
    User(u32),
}

/// Why a command was refused (nothing changed, nothing was logged).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetaRefusal {
    /// A user command's rule refused it.
    Users(UserError),
}

#[derive(Serialize, Deserialize)]
struct Snapshot {
    version: u32,
    users: Vec<User>,
}

impl StateMachine for MetaState {
    type Command = MetaCommand;
    type Applied = MetaApplied;
    type Rejected = MetaRefusal;

    fn apply(&mut self, command: &MetaCommand) -> Result<MetaApplied, MetaRefusal> {
        match command {
            MetaCommand::Users(command) => {
                let id = user_commands::apply(Arc::make_mut(&mut self.users), command)
                    .map_err(MetaRefusal::Users)?;
                self.users_version += 1;
                Ok(MetaApplied::User(id))
            }
        }
    }

    fn encode_command(command: &MetaCommand) -> Result<Vec<u8>, String> {
        serde_json::to_vec(command).map_err(|error| error.to_string())
    }

    fn decode_command(bytes: &[u8]) -> Result<MetaCommand, String> {
        serde_json::from_slice(bytes).map_err(|error| error.to_string())
    }

    fn encode_snapshot(&self) -> Result<Vec<u8>, String> {
        let snapshot = Snapshot {
            version: SNAPSHOT_VERSION,
            users: self.users.users().cloned().collect(),
        };
        serde_json::to_vec(&snapshot).map_err(|error| error.to_string())
    }

    fn decode_snapshot(bytes: &[u8]) -> Result<Self, String> {
        let snapshot: Snapshot =
            serde_json::from_slice(bytes).map_err(|error| error.to_string())?;
        if snapshot.version != SNAPSHOT_VERSION {
            return Err(format!("unknown snapshot version {}", snapshot.version));
        }
        Ok(Self {
            users: Arc::new(Directory::from_users(snapshot.users)?),
            users_version: 0,
        })
    }
}

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
    pub async fn submit(
        &self,
        command: MetaCommand,
    ) -> Result<MetaApplied, CommandError<MetaRefusal>> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.machine.submit(command, move |result| {
            let _ = tx.send(result);
        });
        rx.await.unwrap_or(Err(CommandError::Stopped))
    }

    /// [`Meta::submit`] from a thread that may block (startup, migration).
    pub fn submit_blocking(
        &self,
        command: MetaCommand,
    ) -> Result<MetaApplied, CommandError<MetaRefusal>> {
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
