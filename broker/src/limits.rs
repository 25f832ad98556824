//! Named limits of the broker process. Every limit a peer (or an operator's config) could push
//! against lives here, with what it costs.

/// Most connections open at once, over all three listeners together. Each costs one tokio task,
/// one socket and the protocol's per-connection buffers; at the cap the broker stops accepting
/// and new peers wait in the kernel's backlog instead of growing memory.
pub const CONNECTIONS_MAX: usize = 1024;

/// Longest the broker waits, after a shutdown signal, for open connections to finish before it
/// aborts them and syncs the log. Bounds how long `SIGTERM` takes to exit.
pub const SHUTDOWN_DRAIN_MS_MAX: u64 = 5_000;

/// Largest HTTP request head (request line plus headers) the admin listener reads. A longer
/// head gets `431` and the connection is closed; this bounds the per-connection read buffer.
pub const HTTP_REQUEST_BYTES_MAX: usize = 8 * 1024;

/// Longest an HTTP peer may take to send its request head before the connection is dropped,
/// so a silent peer cannot hold a connection slot forever.
pub const HTTP_READ_MS_MAX: u64 = 5_000;

/// Pause after a failed `accept` (for example `EMFILE`) so a persistent error does not spin
/// the accept loop at full CPU.
pub const ACCEPT_ERROR_BACKOFF_MS: u64 = 100;

/// Largest config file read, in bytes. A config is a few hundred bytes; the cap stops a wrong
/// path (a log file, a device) from being read whole into memory.
pub const CONFIG_FILE_BYTES_MAX: u64 = 1024 * 1024;

/// Longest root user name or password, in bytes (the native protocol carries both with a
/// one-byte length prefix).
pub const CREDENTIAL_BYTES_MAX: usize = 255;

/// Smallest and largest period of the background fsync when `fsync = interval`. Below 1 ms the
/// sync thread would never sleep; above one hour the setting is almost certainly a unit mistake.
pub const FSYNC_INTERVAL_MS_MIN: u64 = 1;
/// See [`FSYNC_INTERVAL_MS_MIN`].
pub const FSYNC_INTERVAL_MS_MAX: u64 = 3_600_000;

/// Longest name of the stream that holds Kafka topics (same bound as the log's names).
pub const KAFKA_STREAM_BYTES_MAX: usize = 255;

const _: () = assert!(CONNECTIONS_MAX > 0);
const _: () = assert!(FSYNC_INTERVAL_MS_MIN <= FSYNC_INTERVAL_MS_MAX);
const _: () = assert!(HTTP_READ_MS_MAX <= SHUTDOWN_DRAIN_MS_MAX);
