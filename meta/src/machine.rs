//! The state-machine runner: typed commands applied in order by one owner (a thread of its
//! own) to an immutable state that readers [`Machine::load`] without locks, each accepted
//! command durably appended to a [`MetaLog`] before its effect is published or acknowledged.
//!
//! The owner drains every command queued while it was busy into one batch: it applies them in
//! arrival order to a copy of the current state (a refused command changes nothing and is not
//! logged), appends the accepted ones with one write and one `fdatasync` (group commit), and
//! only then publishes the new state and answers each caller. A failed append publishes
//! nothing and answers every accepted command of the batch with the error. When the log
//! outweighs the last snapshot, the owner writes the new state as the snapshot and cuts the
//! log. Opening loads the snapshot and replays the records after it through the same
//! [`StateMachine::apply`], so a replayed state equals the state that was published.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

use arc_swap::ArcSwap;

use crate::{MetaError, MetaLog, limits};

/// A deterministic state machine whose commands the runner logs and applies.
///
/// `apply` must depend only on the state and the command (no clock, no randomness: put the
/// time or a generated secret in the command), and must leave the state unchanged when it
/// refuses a command. `Clone` is taken once per batch, so keep it cheap (parts behind `Arc`,
/// changed with `Arc::make_mut`).
pub trait StateMachine: Clone + Send + Sync + 'static {
    /// A change request.
    type Command: Send + 'static;
    /// What an accepted command answers.
    type Applied: Send + 'static;
    /// Why a command was refused.
    type Rejected: Send + std::fmt::Debug + 'static;

    /// Applies `command`, or refuses it leaving `self` as it was.
    fn apply(&mut self, command: &Self::Command) -> Result<Self::Applied, Self::Rejected>;
    /// The command's durable form.
    fn encode_command(command: &Self::Command) -> Result<Vec<u8>, String>;
    /// A command from its durable form.
    fn decode_command(bytes: &[u8]) -> Result<Self::Command, String>;
    /// The whole state's durable form.
    fn encode_snapshot(&self) -> Result<Vec<u8>, String>;
    /// A state from its durable form.
    fn decode_snapshot(bytes: &[u8]) -> Result<Self, String>;
}

/// Why a command did not take effect.
#[derive(Debug, thiserror::Error)]
pub enum CommandError<R: std::fmt::Debug> {
    /// The state machine refused it; nothing changed and nothing was logged.
    #[error("refused: {0:?}")]
    Rejected(R),
    /// It was accepted but could not be made durable, so it was not applied.
    #[error(transparent)]
    NotDurable(Arc<MetaError>),
    /// The runner has stopped.
    #[error("the metadata state machine has stopped")]
    Stopped,
}

/// What opening found besides the state.
#[derive(Debug, Default)]
pub struct OpenReport {
    /// Neither a snapshot nor a record existed (a new log).
    pub fresh: bool,
    /// Why a torn or corrupt tail was cut off, if one was.
    pub dropped_tail: Option<String>,
    /// Records that `apply` refused on replay (a state machine that is not deterministic, or
    /// whose rules changed between versions); they are skipped.
    pub replay_refused: usize,
    /// Records replayed after the snapshot.
    pub replayed: usize,
}

type Reply<S> = Box<
    dyn FnOnce(Result<<S as StateMachine>::Applied, CommandError<<S as StateMachine>::Rejected>>)
        + Send,
>;

enum Message<S: StateMachine> {
    Command(S::Command, Reply<S>),
    Snapshot(Box<dyn FnOnce(Result<(), Arc<MetaError>>) + Send>),
}

/// A running state machine: one owner thread, lock-free readers.
pub struct Machine<S: StateMachine> {
    state: Arc<ArcSwap<S>>,
    appends: Arc<AtomicU64>,
    queue: Mutex<Option<Sender<Message<S>>>>,
    owner: Mutex<Option<JoinHandle<()>>>,
}

impl<S: StateMachine> std::fmt::Debug for Machine<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Machine").finish_non_exhaustive()
    }
}

impl<S: StateMachine> Machine<S> {
    /// Opens (creating) the log `name` in `dir`, rebuilds the state (the snapshot, or
    /// `initial()` when there is none, then every record after it) and starts the owner.
    pub fn open(
        dir: &Path,
        name: &str,
        initial: impl FnOnce() -> S,
    ) -> Result<(Self, OpenReport), MetaError> {
        let (log, recovered) = MetaLog::open(dir, name)?;
        let corrupt = |reason: String| MetaError::Corrupt {
            path: dir.join(name),
            reason,
        };
        let mut report = OpenReport {
            fresh: recovered.snapshot.is_none() && recovered.records.is_empty(),
            dropped_tail: recovered.dropped_tail,
            replay_refused: 0,
            replayed: recovered.records.len(),
        };
        let mut state = match recovered.snapshot {
            Some(bytes) => S::decode_snapshot(&bytes)
                .map_err(|reason| corrupt(format!("undecodable snapshot: {reason}")))?,
            None => initial(),
        };
        for record in &recovered.records {
            let command = S::decode_command(record)
                .map_err(|reason| corrupt(format!("undecodable command: {reason}")))?;
            if state.apply(&command).is_err() {
                report.replay_refused += 1;
            }
        }
        let state = Arc::new(ArcSwap::from_pointee(state));
        let (queue, inbox) = channel();
        let appends = Arc::new(AtomicU64::new(0));
        let (owner_state, owner_appends) = (Arc::clone(&state), Arc::clone(&appends));
        let owner = std::thread::Builder::new()
            .name(format!("meta-{name}"))
            .spawn(move || run_owner(log, &owner_state, &owner_appends, &inbox))
            .map_err(MetaError::io(dir, "start the metadata owner thread"))?;
        let machine = Self {
            state,
            appends,
            queue: Mutex::new(Some(queue)),
            owner: Mutex::new(Some(owner)),
        };
        Ok((machine, report))
    }

    /// The current state: every command acknowledged so far, nothing that is not durable.
    /// Lock-free; hold the `Arc` as long as needed (it never changes).
    pub fn load(&self) -> Arc<S> {
        self.state.load_full()
    }

    /// How many appends (each one write and one `fdatasync`) the owner has made: fewer than
    /// the commands when concurrent commands shared them.
    pub fn appends(&self) -> u64 {
        self.appends.load(Ordering::Relaxed)
    }

    /// Queues `command`; `reply` is called (on the owner thread, so it must not block) once
    /// the command is durable and published, or refused, or failed.
    pub fn submit(
        &self,
        command: S::Command,
        reply: impl FnOnce(Result<S::Applied, CommandError<S::Rejected>>) + Send + 'static,
    ) {
        let reply: Reply<S> = Box::new(reply);
        let queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        match queue.as_ref() {
            Some(sender) => {
                if let Err(unsent) = sender.send(Message::Command(command, reply))
                    && let Message::Command(_, reply) = unsent.0
                {
                    reply(Err(CommandError::Stopped));
                }
            }
            None => reply(Err(CommandError::Stopped)),
        }
    }

    /// [`Machine::submit`] and wait for the answer (blocks the calling thread).
    pub fn submit_wait(
        &self,
        command: S::Command,
    ) -> Result<S::Applied, CommandError<S::Rejected>> {
        let (tx, rx) = channel();
        self.submit(command, move |result| {
            let _ = tx.send(result);
        });
        rx.recv().unwrap_or(Err(CommandError::Stopped))
    }

    /// Writes a snapshot of the current state now and cuts the log (shutdown, tests). Blocks.
    pub fn snapshot_now(&self) -> Result<(), Arc<MetaError>> {
        let (tx, rx) = channel();
        let done = Box::new(move |result| {
            let _ = tx.send(result);
        });
        let sent = self
            .queue
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .is_some_and(|sender| sender.send(Message::Snapshot(done)).is_ok());
        if !sent {
            return Ok(());
        }
        rx.recv().unwrap_or(Ok(()))
    }

    /// Stops the owner after the commands already queued, and waits for it. Later submits
    /// answer [`CommandError::Stopped`]; [`Machine::load`] keeps working.
    pub fn close(&self) {
        drop(
            self.queue
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take(),
        );
        let owner = self
            .owner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(owner) = owner {
            let _ = owner.join();
        }
    }
}

impl<S: StateMachine> Drop for Machine<S> {
    fn drop(&mut self) {
        self.close();
    }
}

/// The owner's loop: one batch per turn until every sender is gone.
fn run_owner<S: StateMachine>(
    mut log: MetaLog,
    state: &ArcSwap<S>,
    appends: &AtomicU64,
    inbox: &Receiver<Message<S>>,
) {
    while let Ok(first) = inbox.recv() {
        let mut commands = Vec::new();
        let mut snapshots = Vec::new();
        let mut next = Some(first);
        while let Some(message) = next.take() {
            match message {
                Message::Command(command, reply) => commands.push((command, reply)),
                Message::Snapshot(done) => snapshots.push(done),
            }
            if commands.len() < limits::MACHINE_BATCH_COMMANDS_MAX {
                next = inbox.try_recv().ok();
            }
        }
        if !commands.is_empty() && run_batch(&mut log, state, commands) {
            appends.fetch_add(1, Ordering::Relaxed);
        }
        let snapshot_wanted = !snapshots.is_empty();
        if snapshot_wanted || log.snapshot_due() {
            let result = write_snapshot(&mut log, &*state.load_full());
            for done in snapshots {
                done(result.clone());
            }
        }
    }
}

/// Applies, logs, publishes and answers one batch of commands; whether it appended.
fn run_batch<S: StateMachine>(
    log: &mut MetaLog,
    state: &ArcSwap<S>,
    commands: Vec<(S::Command, Reply<S>)>,
) -> bool {
    let mut next = S::clone(&state.load_full());
    let mut records = Vec::with_capacity(commands.len());
    let mut answers = Vec::with_capacity(commands.len());
    for (command, reply) in commands {
        let record = match S::encode_command(&command) {
            Ok(record) => record,
            Err(reason) => {
                let error = MetaError::Encode { reason };
                reply(Err(CommandError::NotDurable(Arc::new(error))));
                continue;
            }
        };
        match next.apply(&command) {
            Ok(applied) => {
                records.push(record);
                answers.push((Ok(applied), reply));
            }
            Err(refused) => answers.push((Err(CommandError::Rejected(refused)), reply)),
        }
    }
    let failed = if records.is_empty() {
        None
    } else {
        log.append(&records).err().map(Arc::new)
    };
    let records = records.len();
    if failed.is_none() {
        state.store(Arc::new(next));
    }
    for (answer, reply) in answers {
        match (&failed, answer) {
            (Some(error), Ok(_)) => reply(Err(CommandError::NotDurable(Arc::clone(error)))),
            (_, answer) => reply(answer),
        }
    }
    records > 0
}

fn write_snapshot<S: StateMachine>(log: &mut MetaLog, state: &S) -> Result<(), Arc<MetaError>> {
    let bytes = state
        .encode_snapshot()
        .map_err(|reason| Arc::new(MetaError::Encode { reason }))?;
    log.write_snapshot(&bytes).map_err(Arc::new)
}
