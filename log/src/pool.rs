//! The log's I/O threads: small pools of plain threads (never tokio's), shared by every
//! partition in the process, that do the segment-file I/O an async caller asks for whenever it
//! cannot run in place (`block_in_place` on a multi-thread runtime's worker, see
//! `partition/append.rs`). Three pools, so that a slow `fdatasync` never holds up a write and a
//! cold read never holds up either:
//!
//! - [`WRITERS`] run each partition's append owner (`partition/append.rs`): a partition has at
//!   most one writer job queued or running, which writes every append queued for it;
//! - [`SYNCERS`] run group-commit rounds (`fdatasync`) for `fsync = always` that the writer job
//!   did not run itself (`durability.rs`);
//! - [`READERS`] serve reads and timestamp lookups that the recent-append cache cannot answer.
//!
//! Pools are per process rather than per [`crate::Log`] because partitions are also opened on
//! their own (tests, tools) and the number of threads should not grow with the number of logs.
//! The write and sync queues are bounded by construction (at most one job per open partition);
//! the read queue holds one job per read in flight, which the callers bound (one per request).
//! Threads start on a pool's first job and live for the rest of the process.

use std::collections::VecDeque;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Condvar, Mutex, OnceLock};

use crate::limits::{READ_WORKER_THREADS, SYNC_WORKER_THREADS, WRITE_WORKER_THREADS};
use crate::sync_util::lock;

/// One unit of work (a partition's writer job, a sync round, a read).
pub(crate) type Job = Box<dyn FnOnce() + Send>;

#[derive(Default)]
struct Queue {
    jobs: Mutex<VecDeque<Job>>,
    ready: Condvar,
}

/// A named pool of threads started on first use.
pub(crate) struct Pool {
    name: &'static str,
    threads: usize,
    /// The queue, or why none of the pool's threads could be started.
    queue: OnceLock<Result<Arc<Queue>, std::io::ErrorKind>>,
}

/// Writes: each partition's append owner.
pub(crate) static WRITERS: Pool = Pool::new("write", WRITE_WORKER_THREADS);
/// Group-commit rounds.
pub(crate) static SYNCERS: Pool = Pool::new("sync", SYNC_WORKER_THREADS);
/// Reads the cache cannot serve.
pub(crate) static READERS: Pool = Pool::new("read", READ_WORKER_THREADS);

/// Prefix of every log I/O thread's name (`whippet-log-<pool>-<n>`).
pub const THREAD_NAME_PREFIX: &str = "whippet-log-";

impl Pool {
    const fn new(name: &'static str, threads: usize) -> Self {
        Self {
            name,
            threads,
            queue: OnceLock::new(),
        }
    }

    fn start(&self) -> Result<Arc<Queue>, std::io::ErrorKind> {
        let queue = Arc::new(Queue::default());
        let mut started = 0;
        let mut last_error = std::io::ErrorKind::Other;
        for n in 0..self.threads {
            let worker_queue = Arc::clone(&queue);
            let spawned = std::thread::Builder::new()
                .name(format!("{THREAD_NAME_PREFIX}{}-{n}", self.name))
                .spawn(move || work(&worker_queue));
            match spawned {
                Ok(_) => started += 1,
                Err(error) => {
                    tracing::error!(%error, pool = self.name, "cannot start a log I/O thread");
                    last_error = error.kind();
                }
            }
        }
        if started == 0 {
            return Err(last_error);
        }
        Ok(queue)
    }

    /// Runs `job` on one of the pool's threads. Fails only when no thread of the pool could
    /// ever be started; the job is then dropped without running and the caller must fail
    /// whatever it stood for itself.
    pub(crate) fn submit(&self, job: Job) -> std::io::Result<()> {
        let queue = match self.queue.get_or_init(|| self.start()) {
            Ok(queue) => queue,
            Err(kind) => {
                return Err(std::io::Error::new(
                    *kind,
                    format!("no log {} thread could be started", self.name),
                ));
            }
        };
        lock(&queue.jobs).push_back(job);
        queue.ready.notify_one();
        Ok(())
    }
}

/// A thread's loop: take the oldest job, run it, repeat. A panicking job (a broken invariant)
/// has already reported itself to whoever waits on it (the round guard, a dropped completion
/// sender); the thread survives it so the pool does not shrink.
fn work(queue: &Queue) {
    loop {
        let job = {
            let mut jobs = lock(&queue.jobs);
            loop {
                if let Some(job) = jobs.pop_front() {
                    break job;
                }
                jobs = queue
                    .ready
                    .wait(jobs)
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
            }
        };
        if std::panic::catch_unwind(AssertUnwindSafe(job)).is_err() {
            tracing::error!("a log I/O job panicked");
        }
    }
}
