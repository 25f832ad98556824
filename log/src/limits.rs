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
