//! Every bound the bench enforces, named in one place so a reader can see what it will refuse and
//! why, and so the parser and the workloads agree.

use std::time::Duration;

/// Smallest record: 8 bytes of send timestamp plus 8 bytes of sequence number, so every record
/// can carry what end-to-end latency needs.
pub const RECORD_SIZE_MIN: usize = 16;
/// Largest record: 16 MiB, beyond any broker's default message limit; larger would only measure
/// rejections.
pub const RECORD_SIZE_MAX: usize = 16 * 1024 * 1024;
/// Most producer or consumer workers: each is an OS thread (Kafka) or a connection (native), and
/// the machine this runs on is small.
pub const WORKERS_MAX: usize = 256;
/// Most topics or streams a workload creates.
pub const TOPICS_MAX: usize = 1_000;
/// Most partitions per topic.
pub const PARTITIONS_MAX: u32 = 10_000;
/// Most messages in one native batch (the Iggy SDK sends a batch in one request).
pub const NATIVE_BATCH_MAX: u32 = 100_000;
/// Most rounds of `compare`: each round runs the workload once per target.
pub const ROUNDS_MAX: u32 = 100;
/// Fewest rounds of `compare`: a median of fewer than three runs hides an outlier.
pub const ROUNDS_MIN: u32 = 3;
/// Longest run by duration: one day.
pub const DURATION_MAX: Duration = Duration::from_secs(24 * 3600);
/// Run length when neither `--records` nor `--duration` is given.
pub const DEFAULT_RECORDS: u64 = 100_000;
/// A run that sees no progress for this long fails instead of hanging (a dead broker, a topic
/// nobody produces to).
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// How long `compare` waits for a started target to accept TCP connections.
pub const TARGET_START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a stop command or a started broker may take to exit before it is killed.
pub const TARGET_STOP_TIMEOUT: Duration = Duration::from_secs(30);
/// Highest latency the histogram tracks (one hour, in nanoseconds); larger samples are clamped.
pub const LATENCY_MAX_NS: u64 = 3_600_000_000_000;
/// Significant decimal digits the latency histogram keeps (0.1 % resolution).
pub const LATENCY_SIGFIG: u8 = 3;
/// Interval of the progress line and of the throughput timeline.
pub const TICK: Duration = Duration::from_secs(1);
/// Distinct payload bodies cycled through, so compression sees realistic rather than identical
/// records.
pub const DISTINCT_VALUES: usize = 64;
/// Times the Iggy SDKs retry a refused or dropped connection (1 s apart) before the run fails;
/// their default is forever, which turns a wrong address or protocol into a hang.
pub const NATIVE_RECONNECT_RETRIES: u32 = 3;
/// How long connecting and logging in may take; a server that does not speak the chosen
/// protocol may read the login and never answer.
pub const NATIVE_CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// How long a Kafka flush or admin request may take at the end of a run.
pub const KAFKA_FLUSH_TIMEOUT: Duration = Duration::from_secs(60);
