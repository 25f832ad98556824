//! The sync workers: a small pool of plain threads, shared by every partition in the process,
//! that run group-commit rounds (`fdatasync`) for `fsync = always`. An append schedules a round
//! here when none is running or queued for its partition, so data is synced whether or not
//! anybody waits for it, and the sync never runs on the caller's thread (which may be a tokio
//! worker).
//!
//! The pool is per process rather than per [`crate::Log`] because partitions are also opened on
//! their own (tests, tools) and the number of sync threads should not grow with the number of
//! logs. The queue is bounded by construction: a partition has at most one round queued or
//! running (its `syncing` flag in `durability.rs`), so it never holds more jobs than there are
//! open partitions. Threads start on the first job and live for the rest of the process.

use std::collections::VecDeque;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Condvar, Mutex, OnceLock};

use crate::limits::SYNC_WORKER_THREADS;
use crate::sync_util::lock;

/// One unit of work: a partition's sync round (which schedules its own successor if needed).
pub(crate) type Job = Box<dyn FnOnce() + Send>;

#[derive(Default)]
struct Queue {
    jobs: Mutex<VecDeque<Job>>,
    ready: Condvar,
}

/// The pool, or why none of its threads could be started.
static POOL: OnceLock<Result<Arc<Queue>, std::io::ErrorKind>> = OnceLock::new();

fn start() -> Result<Arc<Queue>, std::io::ErrorKind> {
    let queue = Arc::new(Queue::default());
    let mut started = 0;
    let mut last_error = std::io::ErrorKind::Other;
    for n in 0..SYNC_WORKER_THREADS {
        let worker_queue = Arc::clone(&queue);
        let spawned = std::thread::Builder::new()
            .name(format!("whippet-log-sync-{n}"))
            .spawn(move || work(&worker_queue));
        match spawned {
            Ok(_) => started += 1,
            Err(error) => {
                tracing::error!(%error, "cannot start a log sync worker");
                last_error = error.kind();
            }
        }
    }
    if started == 0 {
        return Err(last_error);
    }
    Ok(queue)
}

/// Runs `job` on a sync worker. Fails only when no worker thread could ever be started; the
/// job is then dropped without running and the caller must fail the round itself.
pub(crate) fn submit(job: Job) -> std::io::Result<()> {
    let queue = match POOL.get_or_init(start) {
        Ok(queue) => queue,
        Err(kind) => {
            return Err(std::io::Error::new(
                *kind,
                "no log sync worker thread could be started",
            ));
        }
    };
    lock(&queue.jobs).push_back(job);
    queue.ready.notify_one();
    Ok(())
}

/// A worker's loop: take the oldest job, run it, repeat. A panicking job (a broken invariant
/// inside a round) has already reported itself to its waiters through the round guard; the
/// worker survives it so the pool does not shrink.
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
            tracing::error!("a log sync round panicked");
        }
    }
}
