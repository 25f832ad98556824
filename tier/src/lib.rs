//! Tiered storage for Whippet: closed segments of topics with `remote_storage` are copied to an
//! S3 bucket and read back from it once local retention has removed them. One background task
//! (on the tier's own small tokio runtime, never the listeners') walks the log's catalog: it
//! attaches each partition's remote reader (after reading the partition's manifest), uploads
//! each closed, durable segment with its index and only then rewrites the manifest, applies the
//! total retention to the remote part, and keeps a copy of the catalog of remote topics in the
//! bucket. An unreachable store pauses uploads (with backoff) and never blocks appends; the
//! local disk keeps the segments meanwhile, which [`TierStats`] and a WARN line say. The log
//! knows only its own seam (`whippet_log::remote`); this crate knows only S3 and that seam.

mod manifest;
mod reader;
mod s3;
mod upload;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use whippet_log::Log;

pub use manifest::{MANIFEST_VERSION, Manifest, RemoteSegment};
pub use s3::StoreError;

/// Where the remote tier lives and how it behaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TierConfig {
    pub bucket: String,
    /// An S3-compatible endpoint (addressed path-style); `None`: AWS's own.
    pub endpoint: Option<String>,
    /// `None`: from the AWS environment/profile chain.
    pub region: Option<String>,
    /// Key prefix of every object the broker writes.
    pub prefix: String,
    /// Bound of the in-memory cache of remote segments read back.
    pub cache_bytes: u64,
    /// Period of the upload pass.
    pub interval: Duration,
}

/// Counters of the remote tier, for the broker's metrics.
#[derive(Debug, Default)]
pub struct TierStats {
    pub uploaded_segments: AtomicU64,
    pub uploaded_bytes: AtomicU64,
    /// Upload passes that failed (the store unreachable or refusing).
    pub upload_failures: AtomicU64,
    /// Closed segments of remote topics not yet copied, as of the last pass.
    pub pending_segments: AtomicU64,
    pub pending_bytes: AtomicU64,
    /// 1 while the last pass reached the store, 0 after a failed one.
    pub store_up: AtomicU64,
    /// Remote segment reads served, and those that failed (missing, corrupt, unreachable).
    pub reads: AtomicU64,
    pub read_failures: AtomicU64,
}

/// The running remote tier. Dropping it stops the task.
#[derive(Debug)]
pub struct Tier {
    runtime: Option<tokio::runtime::Runtime>,
    stats: Arc<TierStats>,
    stop: Arc<tokio::sync::Notify>,
    /// Resolves after the first pass (every partition attached, or the store unreachable).
    first_pass: Option<tokio::sync::oneshot::Receiver<()>>,
}

impl Tier {
    /// Starts the tier over `log`: connects (no request is made yet) and starts the pass task.
    pub fn start(config: TierConfig, log: Arc<Log>) -> std::io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("whippet-tier")
            .enable_all()
            .build()?;
        let stats = Arc::new(TierStats::default());
        let stop = Arc::new(tokio::sync::Notify::new());
        let handle = runtime.handle().clone();
        let task_stats = Arc::clone(&stats);
        let stop_signal = Arc::clone(&stop);
        let (first_pass_tx, first_pass) = tokio::sync::oneshot::channel();
        runtime.spawn(async move {
            let bucket = s3::Bucket::connect(&config).await;
            let shared = Arc::new(reader::Shared::new(
                bucket,
                handle,
                task_stats,
                config.cache_bytes,
            ));
            upload::Uploader::new(shared, log)
                .run(config.interval, stop_signal, first_pass_tx)
                .await;
        });
        Ok(Self {
            runtime: Some(runtime),
            stats,
            stop,
            first_pass: Some(first_pass),
        })
    }

    /// Waits (at most `timeout`) for the first pass, so that partitions serve their remote part
    /// from the first request: until a partition is attached, its log starts at its first local
    /// segment. With the store unreachable this returns after the pass failed; those partitions
    /// are attached by a later pass.
    pub async fn first_pass(&mut self, timeout: Duration) {
        if let Some(done) = self.first_pass.take()
            && tokio::time::timeout(timeout, done).await.is_err()
        {
            tracing::warn!(
                "remote tier: first pass not done in {timeout:?}; partitions serve their remote \
                 part once attached"
            );
        }
    }

    /// The tier's counters.
    pub fn stats(&self) -> Arc<TierStats> {
        Arc::clone(&self.stats)
    }

    /// Stops the pass task (an upload in flight is abandoned; its object is never named by a
    /// manifest).
    pub fn stop(&mut self) {
        self.stop.notify_one();
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl Drop for Tier {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Adds `n` to a counter.
fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}
