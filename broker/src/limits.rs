//! Named limits of the broker process. Every limit a peer (or an operator's config) could push
//! against lives here, with what it costs.

/// Default of `connections_per_listener_max`: most connections open at once on each listener
/// (Kafka, native and HTTP each have their own cap, so a flood of one cannot lock out the
/// others). Each connection costs one tokio task, one socket and the protocol's per-connection
/// buffers (64 KiB read + 64 KiB write at rest); at the cap a listener stops accepting and new
/// peers wait in the kernel's backlog instead of growing memory.
pub const CONNECTIONS_PER_LISTENER_MAX_DEFAULT: usize = 1024;

/// Default of `connections_per_address_max`: most connections one client IP address may hold
/// open at once on each listener. A connection over it is closed right after `accept`, so one
/// host cannot take a whole listener; real clients open a handful each.
pub const CONNECTIONS_PER_ADDRESS_MAX_DEFAULT: usize = 256;

/// Largest value either connection cap setting accepts: far above what one process can hold
/// (each connection is a file descriptor), so a larger value is a typo.
pub const CONNECTIONS_SETTING_MAX: usize = 1_000_000;

/// Default of `connection_setup_timeout_ms`: how long a new Kafka connection may take to send
/// its first whole request, and a native one to log in. A peer that connects and says nothing
/// holds a connection slot for at most this long.
pub const CONNECTION_SETUP_TIMEOUT_MS_DEFAULT: u64 = 10_000;

/// Default of `connection_idle_timeout_ms`: an established connection that sends no request
/// for this long is closed (Kafka's `connections.max.idle.ms`, 10 min). Clients reconnect
/// transparently; the Iggy SDK pings every 5 s and librdkafka reconnects on its next request.
pub const CONNECTION_IDLE_TIMEOUT_MS_DEFAULT: u64 = 600_000;

/// Default of `frame_read_timeout_ms`: once the first byte of a request has arrived, the whole
/// request must arrive within this long (100 MiB in 30 s is 3.3 MiB/s), so a peer trickling a
/// frame byte by byte cannot hold its slot and buffer forever.
pub const FRAME_READ_TIMEOUT_MS_DEFAULT: u64 = 30_000;

/// Largest value of any connection timeout setting (one day): a longer one is a unit mistake.
pub const CONNECTION_TIMEOUT_MS_MAX: u64 = 86_400_000;
/// After a failed TLS handshake, how long the socket is kept (write side closed, input read
/// and dropped) so the client reads the TLS alert before the connection goes.
pub const TLS_FAILED_CLOSE_MS: u64 = 1_000;
/// Largest `login_failure_refill_ms` (one hour: a brake on guessing, not a lockout).
pub const LOGIN_FAILURE_REFILL_MS_MAX: u64 = 3_600_000;

/// Default of `request_bytes_in_flight_max`: most bytes of large requests (see
/// [`REQUEST_BUDGET_EXEMPT_BYTES`]) buffered or being served at once over all connections,
/// like Kafka's `queued.max.request.bytes`. A connection reserves a request's size before it
/// buffers the body and waits (reading nothing more) while the budget is used up, so unfinished
/// frames cannot add up to more than this. A single request larger than the whole budget takes
/// all of it, so the bound is the larger of this and one request (100 MiB Kafka, 64 MiB native).
pub const REQUEST_BYTES_IN_FLIGHT_MAX_DEFAULT: u64 = 256 * 1024 * 1024;

/// Smallest and largest `request_bytes_in_flight_max`. Below 1 MiB ordinary produce batches
/// would queue one at a time; 64 GiB keeps the budget's KiB count in a `u32`.
pub const REQUEST_BYTES_IN_FLIGHT_MIN: u64 = 1024 * 1024;
/// See [`REQUEST_BYTES_IN_FLIGHT_MIN`].
pub const REQUEST_BYTES_IN_FLIGHT_MAX: u64 = 64 * 1024 * 1024 * 1024;

/// Requests up to this size (the size a connection's read buffer has at rest anyway) are read
/// without reserving from the in-flight budget, so small requests never touch it.
pub const REQUEST_BUDGET_EXEMPT_BYTES: usize = 64 * 1024;

/// Largest frame a native connection may send before it has logged in (both framings). Only
/// ping and login are possible then, and they are a few hundred bytes; a larger frame closes
/// the connection before its body is read, so unauthenticated peers cannot make the broker
/// buffer 64 MiB frames.
pub const NATIVE_UNAUTHENTICATED_FRAME_BYTES_MAX: usize = 64 * 1024;

/// Least time between two WARN lines about the same cap (per listener for the connection
/// caps, once for the request budget); the lines in between are counted and the next line
/// reports how many were suppressed, so a flood does not flood the log.
pub const CAP_WARNING_INTERVAL_MS: u64 = 10_000;

/// Longest the broker waits, after a shutdown signal, for open connections to finish before it
/// aborts them and syncs the log. Bounds how long `SIGTERM` takes to exit.
pub const SHUTDOWN_DRAIN_MS_MAX: u64 = 5_000;

/// How long startup waits for the remote tier to attach every remote-storage partition (read
/// its manifest) before the listeners serve; past it, partitions serve their remote part once
/// attached.
pub const TIER_FIRST_PASS_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// Largest HTTP request head (request line plus headers) the admin listener reads. A longer
/// head gets `431` and the connection is closed; this bounds the per-connection read buffer.
pub const HTTP_REQUEST_BYTES_MAX: usize = 8 * 1024;

/// Longest an HTTP peer may take to send its request head before the connection is dropped,
/// so a silent peer cannot hold a connection slot forever.
pub const HTTP_READ_MS_MAX: u64 = 5_000;

/// Largest HTTP request body the API reads (a JSON body; a message send carries its payloads
/// base64-encoded in it). A larger declared or sent body gets `413` before the rest is read; a
/// body above [`REQUEST_BUDGET_EXEMPT_BYTES`] reserves its size from the request budget first.
pub const HTTP_BODY_BYTES_MAX: usize = 4 * 1024 * 1024;

/// Longest an HTTP peer may take to send its whole request body once the head is in; a slower
/// body gets `408`.
pub const HTTP_BODY_MS_MAX: u64 = 5_000;

/// Most messages one HTTP poll asks for (a larger `count` is clamped): the JSON answer carries
/// every payload base64-encoded, so it is bounded well below a native poll's reply.
pub const HTTP_POLL_MESSAGES_MAX: u32 = 1_000;

/// Most payload and header bytes one HTTP poll answer carries; the messages after the one that
/// crosses it are left for the next poll (at least one message is always answered; an
/// auto-committing poll is answered whole, bounded by [`HTTP_POLL_MESSAGES_MAX`]).
pub const HTTP_POLL_BYTES_MAX: usize = 8 * 1024 * 1024;

/// How long an access token handed out by `POST /users/login` stays valid, seconds.
pub const HTTP_TOKEN_SECS: u64 = 3_600;

/// Most HTTP sessions (access tokens not expired and not logged out) kept at once; a login
/// beyond it drops the sessions closest to expiry first.
pub const HTTP_SESSIONS_MAX: usize = 10_000;

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

/// How often transactions are swept: decided ones left by a crash finished, timed-out ones
/// aborted, aborted ranges below a partition's log start dropped. Kafka checks timeouts every
/// 10 s; a second keeps a timed-out transaction from holding consumers back much longer.
pub const TXN_SWEEP_MS: u64 = 1_000;

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

/// Bytes of the buffer between a TLS connection's socket and rustls, which on its own reads
/// the socket 4 KiB at a time: one syscall per 64 KiB instead of per 4 KiB on a busy
/// connection, for 64 KiB of memory per TLS connection.
pub const TLS_SOCKET_READ_BYTES: usize = 64 * 1024;

/// A Kafka connection's buffer that grew beyond this for one large request or response is
/// replaced by a fresh [`KAFKA_READ_CHUNK_BYTES`] one afterwards.
pub const KAFKA_BUFFER_KEEP_BYTES: usize = 1024 * 1024;

/// Allocations of at least this many bytes are served by `mmap(MAP_NORESERVE)` instead of the
/// system allocator (see `alloc_guard`), and go back to the kernel when freed. Two reasons:
/// a decoder sizing a `Vec` from a hostile array count gets untouched virtual memory and fails on
/// the truncated body instead of aborting; and the rare large blocks (an argon2id password check
/// takes 19 MiB, a Kafka request can take up to 100 MiB) do not stay resident afterwards, as they
/// do with glibc once its dynamic mmap threshold has risen past them. Hot-path buffers (batches
/// of about 1 MiB, fetch responses of a few MiB) stay below it.
pub const ALLOC_MMAP_THRESHOLD_BYTES: usize = 16 * 1024 * 1024;

/// glibc's `M_TRIM_THRESHOLD` for the `whippet` binary: how much free memory at the top of a
/// malloc arena's heap is kept before it is given back to the kernel. Payload buffers are
/// freed on other threads than the ones that allocated them; below this, their pages are
/// reused instead of unmapped and faulted in again (see `alloc_guard::tune_system_allocator`).
pub const MALLOC_TRIM_THRESHOLD_BYTES: usize = 64 * 1024 * 1024;

/// Largest `cluster_id` file read from the data directory (an id is 22 characters).
pub const CLUSTER_ID_FILE_BYTES_MAX: u64 = 256;

const _: () = assert!(
    CONNECTIONS_PER_ADDRESS_MAX_DEFAULT <= CONNECTIONS_PER_LISTENER_MAX_DEFAULT
        && CONNECTIONS_PER_LISTENER_MAX_DEFAULT <= CONNECTIONS_SETTING_MAX
);
const _: () = assert!(
    REQUEST_BYTES_IN_FLIGHT_MIN <= REQUEST_BYTES_IN_FLIGHT_MAX_DEFAULT
        && REQUEST_BYTES_IN_FLIGHT_MAX_DEFAULT <= REQUEST_BYTES_IN_FLIGHT_MAX
        && REQUEST_BUDGET_EXEMPT_BYTES as u64 <= REQUEST_BYTES_IN_FLIGHT_MIN
);
const _: () = assert!(
    FRAME_READ_TIMEOUT_MS_DEFAULT <= CONNECTION_TIMEOUT_MS_MAX
        && CONNECTION_SETUP_TIMEOUT_MS_DEFAULT <= CONNECTION_TIMEOUT_MS_MAX
        && CONNECTION_IDLE_TIMEOUT_MS_DEFAULT <= CONNECTION_TIMEOUT_MS_MAX
);
const _: () = assert!(FSYNC_INTERVAL_MS_MIN <= FSYNC_INTERVAL_MS_MAX);
const _: () = assert!(HTTP_READ_MS_MAX <= SHUTDOWN_DRAIN_MS_MAX);
const _: () = assert!(HTTP_BODY_MS_MAX <= SHUTDOWN_DRAIN_MS_MAX);

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

/// Largest native consumer group definitions file read at startup. Ten thousand groups of
/// 255-byte names fit in a few MiB; a larger file is not ours (or is corrupt) and is refused.
pub const NATIVE_GROUPS_FILE_BYTES_MAX: u64 = 64 * 1024 * 1024;

/// Longest pause between two sweeps for silent native group members. The sweep period is a
/// quarter of the heartbeat timeout, capped here, so an eviction lands at most this much late.
pub const NATIVE_GROUP_SWEEP_MS_MAX: u64 = 1_000;

/// Shortest pause between two sweeps (for very short test timeouts), so the sweeper never spins.
pub const NATIVE_GROUP_SWEEP_MS_MIN: u64 = 10;

/// Shortest and longest username, in bytes (the reference server's bounds; §5).
pub const USERNAME_BYTES_MIN: usize = 3;
/// See [`USERNAME_BYTES_MIN`].
pub const USERNAME_BYTES_MAX: usize = 50;
/// Shortest and longest password, in bytes (the reference server's bounds; §5).
pub const PASSWORD_BYTES_MIN: usize = 3;
/// See [`PASSWORD_BYTES_MIN`].
pub const PASSWORD_BYTES_MAX: usize = 100;

/// Password hashes and checks (argon2id, 19 MiB and tens of milliseconds each) running at once,
/// at most; more wait. Bounds what a storm of logins costs in memory (the CPU is the limit on
/// their rate anyway). The smaller of this and the number of CPUs.
pub const PASSWORD_HASHES_CONCURRENT_MAX: usize = 4;
/// Most personal access tokens one user may hold (the reference server's default). Every token
/// is checked on each token login.
pub const TOKENS_PER_USER_MAX: usize = 100;
/// Most users. A user change is one small command on the metadata log, but every change
/// copies the directory once (it is published as an immutable snapshot), so this bounds that
/// copy and the snapshot's size.
pub const USERS_MAX: usize = 10_000;
/// Largest users file (of a data dir from before the metadata log) read for migration: [`USERS_MAX`] users with [`TOKENS_PER_USER_MAX`] tokens
/// and large permission blocks fit with room to spare, and a wrong file cannot exhaust memory.
pub const USERS_FILE_BYTES_MAX: u64 = 256 * 1024 * 1024;

const _: () = assert!(USERNAME_BYTES_MIN <= USERNAME_BYTES_MAX && USERNAME_BYTES_MAX <= 255);
const _: () = assert!(PASSWORD_BYTES_MIN <= PASSWORD_BYTES_MAX && PASSWORD_BYTES_MAX <= 255);

/// Topics whose balanced-send rotation (native partitioning kind 1) is remembered at once; past
/// it the rotations start over. Bounds the map a peer could grow by sending to many topics.
pub const NATIVE_BALANCED_TOPICS_MAX: usize = 100_000;

/// Most bytes of stored batches one native poll reply carries (what the SDK accepts in one
/// frame: the 64 MiB frame cap less the reply header and the poll header). A single stored batch
/// is always served whole even if it alone is larger, so a poll can always make progress.
pub const NATIVE_POLL_REPLY_BYTES_MAX: usize = 64 * 1024 * 1024 - 256 - 16;

/// Most payload bytes asked of the log per read step while a native poll gathers batches.
pub const NATIVE_POLL_READ_BYTES: usize = 8 * 1024 * 1024;

/// Payload bytes asked of the log by a native poll's first read step; each further step asks
/// twice as much, up to [`NATIVE_POLL_READ_BYTES`]. A poll for one message must not read (and
/// checksum) megabytes of the batches after it: with 8 MiB first reads, polling 1-message
/// batches one at a time ran at ~250 polls/s instead of ~7 000.
pub const NATIVE_POLL_FIRST_READ_BYTES: usize = 64 * 1024;

/// Default of the native topic option `messages_required_to_save` (the reference server's).
/// Stored and reported only: the log's fsync policy decides when data is durable.
pub const NATIVE_MESSAGES_REQUIRED_TO_SAVE_DEFAULT: u32 = 1024;
/// Largest `messages_required_to_save` accepted (the reference server's ceiling).
pub const NATIVE_MESSAGES_REQUIRED_TO_SAVE_MAX: u32 = 16 * 1024 * 1024;
/// Default of the native topic option `size_of_messages_required_to_save`, bytes.
pub const NATIVE_SIZE_OF_MESSAGES_REQUIRED_TO_SAVE_DEFAULT: u64 = 1024 * 1024;
/// Largest `size_of_messages_required_to_save` accepted, bytes (the reference's ceiling).
pub const NATIVE_SIZE_OF_MESSAGES_REQUIRED_TO_SAVE_MAX: u64 = 1024 * 1024 * 1024;
/// Most number-and-unit parts in one human-text option value ("1h 30m" has two). Option values
/// are at most 255 bytes; the cap keeps the parser's work list tiny regardless.
pub const NATIVE_OPTION_TEXT_PARTS_MAX: usize = 16;
/// Most partitions one native create_topic may ask for (the reference server's cap, and the
/// same as one create_partitions request).
pub const NATIVE_TOPIC_PARTITIONS_MAX: u32 = 1000;
/// Largest file read from `/proc` or `/etc` for get_stats; those files are a few KiB, the cap
/// stops an odd system file from being read whole.
pub const NATIVE_STATS_FILE_BYTES_MAX: u64 = 64 * 1024;

const _: () = assert!(
    NATIVE_MESSAGES_REQUIRED_TO_SAVE_DEFAULT <= NATIVE_MESSAGES_REQUIRED_TO_SAVE_MAX
        && NATIVE_SIZE_OF_MESSAGES_REQUIRED_TO_SAVE_DEFAULT
            <= NATIVE_SIZE_OF_MESSAGES_REQUIRED_TO_SAVE_MAX
);
/// Shortest period of the log cleaner (`--log-cleaner-backoff-ms`): the maintenance thread's
/// own floor.
pub const LOG_CLEANER_BACKOFF_MS_MIN: u64 = 10;
/// Longest period of the log cleaner: a day.
pub const LOG_CLEANER_BACKOFF_MS_MAX: u64 = 86_400_000;
