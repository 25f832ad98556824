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

/// Largest `num_partitions` setting: the log's own per-topic partition cap, so a topic created
/// with the default count can always be created.
pub const NUM_PARTITIONS_MAX: u32 = whippet_log::limits::PARTITIONS_PER_TOPIC_MAX;

/// Largest value of any `group_*_ms` setting (one day): a longer session timeout or rebalance
/// delay is a typo, and it keeps `Instant` arithmetic far from overflow.
pub const GROUP_TIMEOUT_MS_MAX: u64 = 86_400_000;

/// How often the coordinator's timers (session expiry, rebalance delays) are driven. Kafka
/// clients' heartbeat intervals are seconds, so 100 ms keeps timeouts accurate to a few percent.
pub const GROUP_TICK_MS: u64 = 100;

/// Longest host name in `kafka_advertised_addr` (a DNS name is at most 253 bytes).
pub const ADVERTISED_HOST_BYTES_MAX: usize = 253;

/// Largest Kafka request other than Produce, in bytes. `kafka-protocol` decodes each array
/// element (a few wire bytes) into a struct several times larger, so a request's decoded size
/// can be a multiple of its wire size; only Produce carries bulk data, so everything else gets
/// this much smaller cap (checked from the key, before the body is buffered). Generous for any
/// real admin or fetch request (thousands of partitions fit in well under 1 MiB).
pub const KAFKA_NON_PRODUCE_REQUEST_BYTES_MAX: usize = 8 * 1024 * 1024;

/// Most bytes a Kafka connection asks the socket for at once, and the size its read and write
/// buffers start at: what an idle connection costs.
pub const KAFKA_READ_CHUNK_BYTES: usize = 64 * 1024;

/// A Kafka connection's buffer that grew beyond this for one large request or response is
/// replaced by a fresh [`KAFKA_READ_CHUNK_BYTES`] one afterwards.
pub const KAFKA_BUFFER_KEEP_BYTES: usize = 1024 * 1024;

/// Allocations of at least this many bytes are served by `mmap(MAP_NORESERVE)` instead of the
/// system allocator (see `alloc_guard`). No legitimate path allocates this much at once (the
/// largest request is 100 MiB); it exists so that a decoder sizing a `Vec` from a hostile array
/// count gets untouched virtual memory and fails on the truncated body instead of aborting.
pub const ALLOC_MMAP_THRESHOLD_BYTES: usize = 4 * 1024 * 1024 * 1024;

/// Largest `cluster_id` file read from the data directory (an id is 22 characters).
pub const CLUSTER_ID_FILE_BYTES_MAX: u64 = 256;

const _: () = assert!(CONNECTIONS_MAX > 0);
const _: () = assert!(FSYNC_INTERVAL_MS_MIN <= FSYNC_INTERVAL_MS_MAX);
const _: () = assert!(HTTP_READ_MS_MAX <= SHUTDOWN_DRAIN_MS_MAX);

/// Longest a Kafka Fetch long poll waits for `min_bytes` to arrive, whatever `max_wait_ms` the
/// client asks for. Each waiting Fetch holds one connection's turn; the cap keeps a shutdown
/// drain and a misconfigured client from pinning it for longer.
pub const FETCH_WAIT_MS_MAX: u64 = 30_000;

/// Most record bytes one Fetch response carries over all partitions (Kafka's broker-side
/// `fetch.max.bytes` default, 55 MiB). Bounds the memory one Fetch can make the broker copy,
/// except for the single oversized first batch KIP-74 requires.
pub const FETCH_RESPONSE_BYTES_MAX: usize = 57_671_680;

/// Batches remembered per (producer id, partition) for duplicate detection: Kafka's
/// `max.in.flight.requests.per.connection` ceiling for idempotent producers, so any retry of an
/// in-flight batch is still recognised.
pub const PRODUCER_BATCHES_CACHED: usize = 5;

/// Most idempotent producers remembered per partition; past it the least recently used entry
/// is forgotten (that producer's next batch is then accepted as from a new producer, as Kafka
/// does for expired producers). Each entry costs about 200 bytes.
pub const PRODUCERS_PER_PARTITION_MAX: usize = 10_000;

/// Producer ids reserved (persisted) at a time. Ids are handed out from memory until the block
/// is used up, so InitProducerId costs one fsync per block; a crash skips the rest of a block,
/// which is what keeps ids from ever being reused.
pub const PRODUCER_ID_BLOCK_SIZE: i64 = 1_000;

/// Least time between two producer-state snapshots written while producers are active. A
/// snapshot bounds how much of the log a restart must scan to rebuild idempotence state.
pub const PRODUCER_SNAPSHOT_INTERVAL_MS: u64 = 30_000;

/// Largest producer-state snapshot file read at startup; a bigger file is ignored and the
/// state rebuilt by scanning the log, so a corrupt size cannot exhaust memory.
pub const PRODUCER_SNAPSHOT_FILE_BYTES_MAX: u64 = 256 * 1024 * 1024;

/// Payload bytes read per step when the log is scanned to rebuild producer state.
pub const PRODUCER_SCAN_READ_BYTES: usize = 4 * 1024 * 1024;

const _: () = assert!(PRODUCER_BATCHES_CACHED > 0 && PRODUCERS_PER_PARTITION_MAX > 0);
const _: () = assert!(PRODUCER_ID_BLOCK_SIZE > 0);

/// Initial (and steady-state) read buffer of a native connection; a frame larger than this grows
/// the buffer to the frame's size (at most the protocol's 64 MiB frame cap), and the buffer is
/// replaced by a fresh one of this size once such a frame has been consumed. Replies up to this
/// size are written in one syscall together with their header.
pub const NATIVE_READ_CHUNK_BYTES: usize = 64 * 1024;

/// A native connection holding a consumer-group membership that sends nothing for this long is
/// evicted from its groups (1.2 × the reference server's 30 s heartbeat interval, §7.2).
pub const NATIVE_HEARTBEAT_TIMEOUT_MS: u64 = 36_000;
