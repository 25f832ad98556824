//! Group commit for `fsync = always`, run by the log itself. Every write group of the append
//! owner (`partition/append.rs`) records how far the next round must sync (`wanted_next`) and,
//! when no round is running or queued, claims one and runs it on its write thread, so an append
//! is synced whether or not anybody waits for it. At most one round runs at a time; a round
//! syncs everything written before it started with one `fdatasync`, and when appends arrived
//! meanwhile, it schedules the next one on the sync threads (`pool.rs`) before it lets go.
//! Waiters only wait: they never run a sync themselves.
//!
//! A failed sync poisons the partition for the rest of this open: the data written since the
//! last good sync may or may not be on disk (the kernel may have dropped the dirty pages and a
//! later `fdatasync` can succeed without writing them), so nothing in that tail is ever
//! acknowledged or made visible, waiters get the error, and the partition refuses appends and
//! syncs until it is reopened (recovery then checks what really is on disk) or purged.
//!
//! Waiting is by notification only: a `Condvar` for blocking callers and a `tokio::sync::watch`
//! for async ones, both signalled whenever a round ends, the log is purged or removed.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
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

impl SyncFailure {
    fn to_error(&self) -> LogError {
        let source = std::io::Error::new(self.kind, self.message.clone());
        LogError::io(self.path.clone(), source)
    }
}

#[derive(Debug, Default)]
struct State {
    /// Every offset below this is on disk.
    durable_next: u64,
    /// One past the last appended offset a round must cover; raised by appends, never beyond
    /// the writer's next offset.
    wanted_next: u64,
    /// A round is running or queued.
    syncing: bool,
    /// The first failed sync of this open; from then on nothing more becomes durable.
    failure: Option<SyncFailure>,
    /// Bumped by purge: offsets from before it no longer exist, so their waiters are done.
    epoch: u64,
    /// The partition was removed.
    closed: bool,
}

/// What a waiter should do next.
enum Step {
    Done(Result<()>),
    /// Nothing is running although the offset is not durable: schedule a round (the waiter's
    /// caller does, on the sync threads). Write groups always claim one, so this only heals.
    Schedule,
    Wait,
}

/// What a waiter remembers from when it started waiting.
#[derive(Clone, Copy)]
struct Ticket {
    last_offset: u64,
    epoch: u64,
}

/// Durable-offset tracking and the group-commit protocol of one partition.
#[derive(Debug)]
pub(crate) struct Durability {
    state: Mutex<State>,
    /// Mirrors `state.failure.is_some()`, so the append path checks it without the mutex.
    failed: AtomicBool,
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
        if let Some(f) = &self.failure {
            return Step::Done(Err(f.to_error()));
        }
        if t.last_offset >= self.wanted_next {
            // Never appended (or not in this epoch): no round will ever cover it.
            return Step::Done(Err(LogError::OffsetOutOfRange {
                offset: t.last_offset,
                start: 0,
                end: self.wanted_next,
            }));
        }
        if self.syncing {
            Step::Wait
        } else {
            self.syncing = true;
            Step::Schedule
        }
    }

    /// Whether another round must follow the one that just ended.
    fn needs_round(&self) -> bool {
        !self.closed && self.failure.is_none() && self.wanted_next > self.durable_next
    }
}

/// Marks the end of a round even if the round panics, so waiters are never stranded.
struct RoundGuard<'a> {
    durability: &'a Durability,
    done: bool,
}

impl RoundGuard<'_> {
    /// Ends the round: `Ok(target)` makes offsets below `target` durable (unless a purge
    /// happened since `epoch`); an error poisons. Returns whether another round must follow.
    fn finish(mut self, epoch: u64, outcome: Result<u64>) -> bool {
        self.done = true;
        self.durability.end_round(epoch, outcome)
    }
}

impl Drop for RoundGuard<'_> {
    fn drop(&mut self) {
        if !self.done {
            let err = std::io::Error::other("sync round panicked");
            let _ = self
                .durability
                .end_round(u64::MAX, Err(LogError::io(PathBuf::new(), err)));
        }
    }
}

impl Durability {
    /// Everything below `durable_next` is already durable (what recovery found on disk).
    pub(crate) fn new(durable_next: u64) -> Self {
        let state = State {
            durable_next,
            wanted_next: durable_next,
            ..State::default()
        };
        Self {
            state: Mutex::new(state),
            failed: AtomicBool::new(false),
            cv: Condvar::new(),
            changed: watch::Sender::new(0),
        }
    }

    /// Offset below which everything is on disk.
    pub(crate) fn durable_next(&self) -> u64 {
        lock(&self.state).durable_next
    }

    /// The error of the sync that poisoned the partition, if one failed.
    pub(crate) fn failure(&self) -> Option<LogError> {
        if !self.failed.load(Ordering::Acquire) {
            return None;
        }
        lock(&self.state)
            .failure
            .as_ref()
            .map(SyncFailure::to_error)
    }

    /// Records that offsets below `next` were appended in `epoch` and must be synced. Returns
    /// true when the caller must schedule a round (none was running or queued; the flag is now
    /// set on its behalf).
    pub(crate) fn request(&self, epoch: u64, next: u64) -> bool {
        let mut s = lock(&self.state);
        if s.epoch != epoch || s.closed || s.failure.is_some() {
            return false;
        }
        s.wanted_next = s.wanted_next.max(next);
        if s.syncing || s.durable_next >= s.wanted_next {
            return false;
        }
        s.syncing = true;
        true
    }

    fn ticket(&self, last_offset: u64) -> Ticket {
        let s = lock(&self.state);
        Ticket {
            last_offset,
            epoch: s.epoch,
        }
    }

    fn notify(&self) {
        self.cv.notify_all();
        self.changed.send_modify(|v| *v = v.wrapping_add(1));
    }

    fn end_round(&self, epoch: u64, outcome: Result<u64>) -> bool {
        let mut s = lock(&self.state);
        match outcome {
            Ok(target) if epoch == s.epoch => s.durable_next = s.durable_next.max(target),
            Ok(_) => {}
            Err(e) => {
                if s.failure.is_none() && !s.closed {
                    tracing::error!(error = %e, "sync failed; the partition refuses appends until it is reopened");
                    s.failure = Some(failure_of(&e));
                }
                self.failed.store(true, Ordering::Release);
            }
        }
        let more = s.needs_round();
        s.syncing = more;
        drop(s);
        self.notify();
        more
    }

    /// Waits (async) until `last_offset` is durable. Does no I/O: `schedule` only hands a
    /// round to the sync threads (and is only called if no round is running or queued).
    pub(crate) async fn wait_async(&self, last_offset: u64, schedule: impl Fn()) -> Result<()> {
        let mut rx = self.changed.subscribe();
        let ticket = self.ticket(last_offset);
        loop {
            let step = lock(&self.state).step(ticket);
            match step {
                Step::Done(r) => return r,
                Step::Schedule => schedule(),
                Step::Wait => {
                    if rx.changed().await.is_err() {
                        return Err(LogError::ShuttingDown);
                    }
                }
            }
        }
    }

    /// Blocking form of [`Self::wait_async`].
    pub(crate) fn wait_blocking(&self, last_offset: u64, schedule: impl Fn()) -> Result<()> {
        let ticket = self.ticket(last_offset);
        let mut s = lock(&self.state);
        loop {
            match s.step(ticket) {
                Step::Done(r) => return r,
                Step::Schedule => {
                    drop(s);
                    schedule();
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

    /// Claims the next round for an explicit sync (interval thread, flush, shutdown): waits
    /// until no round is running or queued, then sets the flag. Fails once poisoned or closed.
    pub(crate) fn begin_explicit(&self) -> Result<()> {
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
        if let Some(f) = &s.failure {
            return Err(f.to_error());
        }
        s.syncing = true;
        Ok(())
    }

    /// Runs one round whose `syncing` flag is set (by [`Self::request`], a `Schedule` step or
    /// [`Self::begin_explicit`]). `sync` returns `(epoch, target)`. Returns the round's outcome
    /// and whether another round must follow (the flag then stays set for it).
    pub(crate) fn run_round(
        &self,
        sync: impl FnOnce() -> Result<(u64, u64)>,
    ) -> (Result<()>, bool) {
        let guard = RoundGuard {
            durability: self,
            done: false,
        };
        match sync() {
            Ok((epoch, target)) => (Ok(()), guard.finish(epoch, Ok(target))),
            Err(e) => {
                let copy = failure_of(&e).to_error();
                (Err(copy), guard.finish(0, Err(e)))
            }
        }
    }

    /// Starts over after a purge (at 0) or for a partition that restarts empty at `next`
    /// (after its remote segments). Current waiters are released; the files that held the
    /// unsynced tail are gone, so a poisoned partition is usable again.
    pub(crate) fn reset_to(&self, next: u64) {
        let mut s = lock(&self.state);
        s.epoch += 1;
        s.durable_next = next;
        s.wanted_next = next;
        s.failure = None;
        self.failed.store(false, Ordering::Release);
        drop(s);
        self.notify();
    }

    /// Current purge epoch, captured by appends and rounds together with their offsets.
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};

    /// A stand-in for the sync workers: runs rounds on a fresh thread, re-scheduling while
    /// `run_round` asks for more.
    fn schedule(d: &Arc<Durability>, rounds: &Arc<AtomicU64>, written: &Arc<AtomicU64>) {
        let (d, rounds, written) = (d.clone(), rounds.clone(), written.clone());
        std::thread::spawn(move || {
            loop {
                let (_, more) = d.run_round(|| {
                    rounds.fetch_add(1, Ordering::SeqCst);
                    std::thread::sleep(std::time::Duration::from_millis(20));
                    Ok((0, written.load(Ordering::SeqCst)))
                });
                if !more {
                    break;
                }
            }
        });
    }

    #[test]
    fn one_round_covers_all_appends_written_before_it() {
        let d = Arc::new(Durability::new(0));
        let rounds = Arc::new(AtomicU64::new(0));
        let written = Arc::new(AtomicU64::new(0));
        for next in 1..=10 {
            written.store(next, Ordering::SeqCst);
            if d.request(0, next) {
                schedule(&d, &rounds, &written);
            }
        }
        let mut handles = Vec::new();
        for last in 0..10 {
            let d = d.clone();
            handles.push(std::thread::spawn(move || d.wait_blocking(last, || {})));
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
    fn failure_poisons_and_close_releases_waiters() {
        let d = Durability::new(0);
        assert!(d.request(0, 6));
        let (r, more) = d.run_round(|| Err(LogError::io("/x", std::io::Error::other("disk gone"))));
        assert!(r.is_err() && !more);
        let r = d.wait_blocking(5, || {});
        assert!(r.unwrap_err().to_string().contains("disk gone"));
        // Poisoned: later appends are not scheduled, explicit syncs refused.
        assert!(!d.request(0, 7));
        assert!(d.begin_explicit().is_err());
        assert!(d.failure().is_some());
        d.close();
        assert!(matches!(
            d.wait_blocking(5, || {}),
            Err(LogError::PartitionDeleted)
        ));
    }
}
