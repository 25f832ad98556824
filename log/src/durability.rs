//! Group commit for `fsync = always`. Appenders wait until the partition's durable offset covers
//! their last offset. At most one sync round runs at a time; whoever finds none running leads the
//! next one (on a blocking thread), and every append written before the round started is covered
//! by its single `fdatasync`. Everybody else waits for the round to finish, then checks again.
//!
//! Waiting is by notification only: a `Condvar` for blocking callers and a `tokio::sync::watch`
//! for async ones, both signalled whenever a round ends, the log is purged or removed.

use std::path::PathBuf;
use std::sync::{Condvar, Mutex};

use tokio::sync::watch;

use crate::error::{LogError, Result};
use crate::sync_util::lock;

/// A sync failure kept for the waiters it strands (`io::Error` is not `Clone`).
#[derive(Debug, Clone)]
struct SyncFailure {
    path: PathBuf,
    kind: std::io::ErrorKind,
    message: String,
}

#[derive(Debug, Default)]
struct State {
    /// Every offset below this is on disk.
    durable_next: u64,
    /// A round is running.
    syncing: bool,
    /// Number of rounds that failed; a waiter that sees it move gives up with the error.
    failures: u64,
    last_failure: Option<SyncFailure>,
    /// Bumped by purge: offsets from before it no longer exist, so their waiters are done.
    epoch: u64,
    /// The partition was removed.
    closed: bool,
}

/// What a waiter should do next.
enum Step {
    Done(Result<()>),
    Lead,
    Wait,
}

/// What a waiter remembers from when it started waiting.
#[derive(Clone, Copy)]
struct Ticket {
    last_offset: u64,
    failures: u64,
    epoch: u64,
}

/// Durable-offset tracking and the group-commit protocol of one partition.
#[derive(Debug)]
pub(crate) struct Durability {
    state: Mutex<State>,
    cv: Condvar,
    changed: watch::Sender<u64>,
}

impl State {
    fn step(&mut self, t: Ticket) -> Step {
        if self.epoch != t.epoch || self.durable_next > t.last_offset {
            return Step::Done(Ok(()));
        }
        if self.closed {
            return Step::Done(Err(LogError::PartitionDeleted));
        }
        if self.failures != t.failures {
            let f = self.last_failure.clone();
            let err = match f {
                Some(f) => LogError::io(f.path, std::io::Error::new(f.kind, f.message)),
                None => LogError::ShuttingDown,
            };
            return Step::Done(Err(err));
        }
        if self.syncing {
            Step::Wait
        } else {
            self.syncing = true;
            Step::Lead
        }
    }
}

/// Marks the end of a round even if the round panics, so waiters are never stranded.
pub(crate) struct RoundGuard<'a> {
    durability: &'a Durability,
    done: bool,
}

impl RoundGuard<'_> {
    /// Ends the round: `Ok(target)` makes offsets below `target` durable (unless a purge
    /// happened since `epoch`); an error is handed to the waiters.
    pub(crate) fn finish(mut self, epoch: u64, outcome: Result<u64>) {
        self.done = true;
        self.durability.end_round(epoch, outcome);
    }
}

impl Drop for RoundGuard<'_> {
    fn drop(&mut self) {
        if !self.done {
            let err = std::io::Error::other("sync round panicked");
            self.durability
                .end_round(u64::MAX, Err(LogError::io(PathBuf::new(), err)));
        }
    }
}

impl Durability {
    /// Everything below `durable_next` is already durable (what recovery found on disk).
    pub(crate) fn new(durable_next: u64) -> Self {
        let state = State {
            durable_next,
            ..State::default()
        };
        Self {
            state: Mutex::new(state),
            cv: Condvar::new(),
            changed: watch::Sender::new(0),
        }
    }

    /// Offset below which everything is on disk.
    pub(crate) fn durable_next(&self) -> u64 {
        lock(&self.state).durable_next
    }

    fn ticket(&self, last_offset: u64) -> Ticket {
        let s = lock(&self.state);
        Ticket {
            last_offset,
            failures: s.failures,
            epoch: s.epoch,
        }
    }

    fn notify(&self) {
        self.cv.notify_all();
        self.changed.send_modify(|v| *v = v.wrapping_add(1));
    }

    fn end_round(&self, epoch: u64, outcome: Result<u64>) {
        let mut s = lock(&self.state);
        s.syncing = false;
        match outcome {
            Ok(target) if epoch == s.epoch => s.durable_next = s.durable_next.max(target),
            Ok(_) => {}
            Err(e) => {
                s.failures += 1;
                s.last_failure = Some(failure_of(&e));
            }
        }
        drop(s);
        self.notify();
    }

    /// Starts a round; the guard must be finished when the sync is done.
    fn lead(&self) -> RoundGuard<'_> {
        RoundGuard {
            durability: self,
            done: false,
        }
    }

    /// Waits (async) until `last_offset` is durable. `spawn_round` starts a round on a blocking
    /// thread and resolves when it has finished (it must call [`Self::run_round`]).
    pub(crate) async fn wait_async<F, Fut>(&self, last_offset: u64, spawn_round: F) -> Result<()>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = ()>,
    {
        let mut rx = self.changed.subscribe();
        let ticket = self.ticket(last_offset);
        loop {
            let step = lock(&self.state).step(ticket);
            match step {
                Step::Done(r) => return r,
                Step::Lead => spawn_round().await,
                Step::Wait => {
                    if rx.changed().await.is_err() {
                        return Err(LogError::ShuttingDown);
                    }
                }
            }
        }
    }

    /// Blocking form of [`Self::wait_async`]; `round` runs a round on the calling thread.
    pub(crate) fn wait_blocking(&self, last_offset: u64, round: impl Fn()) -> Result<()> {
        let ticket = self.ticket(last_offset);
        let mut s = lock(&self.state);
        loop {
            match s.step(ticket) {
                Step::Done(r) => return r,
                Step::Lead => {
                    drop(s);
                    round();
                    s = lock(&self.state);
                }
                Step::Wait => {
                    s = self
                        .cv
                        .wait(s)
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                }
            }
        }
    }

    /// Runs `sync` as the next round once no other round is running (for explicit syncs:
    /// interval thread, flush, shutdown). `sync` returns `(epoch, target)`.
    pub(crate) fn sync_now(&self, sync: impl FnOnce() -> Result<(u64, u64)>) -> Result<()> {
        let mut s = lock(&self.state);
        while s.syncing && !s.closed {
            s = self
                .cv
                .wait(s)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
        if s.closed {
            return Err(LogError::PartitionDeleted);
        }
        s.syncing = true;
        drop(s);
        self.run_round(sync)
    }

    /// Runs one round whose `syncing` flag the caller already set (through a `Lead` step).
    pub(crate) fn run_round(&self, sync: impl FnOnce() -> Result<(u64, u64)>) -> Result<()> {
        let guard = self.lead();
        match sync() {
            Ok((epoch, target)) => {
                guard.finish(epoch, Ok(target));
                Ok(())
            }
            Err(e) => {
                let copy = copy_error(&e);
                guard.finish(0, Err(e));
                Err(copy)
            }
        }
    }

    /// Purge: offsets start again at 0; current waiters are released.
    pub(crate) fn reset(&self) {
        let mut s = lock(&self.state);
        s.epoch += 1;
        s.durable_next = 0;
        drop(s);
        self.notify();
    }

    /// Current purge epoch, captured by a round together with its target.
    pub(crate) fn epoch(&self) -> u64 {
        lock(&self.state).epoch
    }

    /// Removal: every waiter gets `PartitionDeleted`.
    pub(crate) fn close(&self) {
        lock(&self.state).closed = true;
        self.notify();
    }
}

fn failure_of(e: &LogError) -> SyncFailure {
    match e {
        LogError::Io { path, source } => SyncFailure {
            path: path.clone(),
            kind: source.kind(),
            message: source.to_string(),
        },
        other => SyncFailure {
            path: PathBuf::new(),
            kind: std::io::ErrorKind::Other,
            message: other.to_string(),
        },
    }
}

fn copy_error(e: &LogError) -> LogError {
    let f = failure_of(e);
    LogError::io(f.path, std::io::Error::new(f.kind, f.message))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};

    #[test]
    fn one_round_covers_all_waiters_written_before_it() {
        let d = Arc::new(Durability::new(0));
        let rounds = Arc::new(AtomicU64::new(0));
        let written = Arc::new(AtomicU64::new(10));
        let mut handles = Vec::new();
        for last in 0..10 {
            let (d, rounds, written) = (d.clone(), rounds.clone(), written.clone());
            handles.push(std::thread::spawn(move || {
                d.wait_blocking(last, || {
                    let _ = d.run_round(|| {
                        rounds.fetch_add(1, Ordering::SeqCst);
                        std::thread::sleep(std::time::Duration::from_millis(20));
                        Ok((0, written.load(Ordering::SeqCst)))
                    });
                })
            }));
        }
        for h in handles {
            h.join().unwrap().unwrap();
        }
        assert!(
            rounds.load(Ordering::SeqCst) <= 2,
            "group commit shares rounds"
        );
        assert_eq!(d.durable_next(), 10);
    }

    #[test]
    fn failure_reaches_waiters_and_close_releases_them() {
        let d = Durability::new(0);
        let r = d.wait_blocking(5, || {
            let _ = d.run_round(|| Err(LogError::io("/x", std::io::Error::other("disk gone"))));
        });
        assert!(r.unwrap_err().to_string().contains("disk gone"));
        d.close();
        assert!(matches!(
            d.wait_blocking(5, || {}),
            Err(LogError::PartitionDeleted)
        ));
    }
}
