//! Named limits of the storage engine. Every limit a peer could push against lives here.

/// Largest payload one frame may carry (64 MiB): bounds the buffer a reader allocates for a
/// frame found on disk, and the largest batch a producer may append.
pub const FRAME_PAYLOAD_BYTES_MAX: u32 = 64 * 1024 * 1024;
/// Smallest segment size a topic may configure.
pub const SEGMENT_BYTES_MIN: u64 = 64 * 1024;
/// Largest segment size a topic may configure (a segment position must fit in u32 index entries).
pub const SEGMENT_BYTES_MAX: u64 = 1 << 31;
/// Default segment size (Kafka's `log.segment.bytes` default is 1 GiB; Iggy's is 1 GiB too).
pub const SEGMENT_BYTES_DEFAULT: u64 = 1 << 30;
/// Sparse index step: one index entry per this many bytes of frames (and always one for the
/// first frame of a segment).
pub const INDEX_INTERVAL_BYTES: u64 = 4096;
/// Longest name of a stream or topic, in bytes (Kafka allows 249 characters).
pub const NAME_BYTES_MAX: usize = 255;
/// Most partitions one topic may have.
pub const PARTITIONS_PER_TOPIC_MAX: u32 = 10_000;
/// Most streams, and most topics per stream.
pub const STREAMS_MAX: u32 = 100_000;
pub const TOPICS_PER_STREAM_MAX: u32 = 100_000;
/// Bytes of recently appended frames each partition keeps in memory for tailing readers.
pub const RECENT_CACHE_BYTES_MAX: usize = 8 * 1024 * 1024;

const _: () = assert!(SEGMENT_BYTES_MIN < SEGMENT_BYTES_DEFAULT);
const _: () = assert!(SEGMENT_BYTES_DEFAULT <= SEGMENT_BYTES_MAX);
const _: () = assert!((FRAME_PAYLOAD_BYTES_MAX as u64) < SEGMENT_BYTES_MAX);

/// Largest `catalog.json` the log will read (64 MiB): bounds the buffer allocated at open. A
/// topic record is a few hundred bytes, so this holds well over 100,000 topics.
pub const CATALOG_BYTES_MAX: u64 = 64 * 1024 * 1024;
/// Shortest period the background maintenance thread will wait between two rounds, whatever
/// the configuration says: a zero interval would otherwise spin a core.
pub const MAINTENANCE_INTERVAL_MS_MIN: u64 = 1;

/// Size of the header at the start of every segment `.log` and `.index` file (magic, format
/// version, base offset, checksum). Fixed so the first frame always starts at the same position.
pub const SEGMENT_FILE_HEADER_BYTES: u64 = 24;
/// Size of one sparse index entry on disk (relative offset, position, running max timestamp).
pub const INDEX_ENTRY_BYTES: u64 = 16;
/// Most offsets one segment may span: index entries store offsets relative to the segment base
/// as `u32`, so a segment rolls before a frame would start beyond this distance.
pub const SEGMENT_OFFSET_SPAN_MAX: u64 = u32::MAX as u64;
/// How many `.corrupt` names recovery tries when quarantining a file before giving up (bounds
/// the loop when earlier quarantined copies already exist).
pub const QUARANTINE_NAME_TRIES_MAX: u32 = 1000;

/// Bytes read at a time when searching past a damaged frame for the next valid one (64 KiB):
/// the buffer that search holds, once per damaged range found.
pub const DAMAGE_SCAN_CHUNK_BYTES: u64 = 64 * 1024;

const _: () = assert!(SEGMENT_BYTES_MAX + FRAME_PAYLOAD_BYTES_MAX as u64 + 56 <= u32::MAX as u64);

/// Threads in the process-wide pool that runs group-commit rounds (`fsync = always`). Each
/// costs a stack and runs at most one `fdatasync` at a time, so this many partitions can sync
/// in parallel; more partitions queue (each has at most one round queued or running).
pub const SYNC_WORKER_THREADS: usize = 4;
/// Threads in the process-wide pool that runs partitions' append owners (one writer job per
/// partition at a time): this many partitions write in parallel.
pub const WRITE_WORKER_THREADS: usize = 4;
/// Threads in the process-wide pool that serves reads the recent-append cache cannot answer.
pub const READ_WORKER_THREADS: usize = 4;
/// Most bytes of frames one writer job puts into one vectored write; appends queued beyond it
/// go into the next write of the same job.
pub const WRITE_GROUP_BYTES_MAX: u64 = 16 * 1024 * 1024;
/// Most frames in one vectored write (two buffers each, within Linux's `IOV_MAX` of 1024).
pub const WRITE_GROUP_FRAMES_MAX: usize = 512;
