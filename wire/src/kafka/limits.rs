//! Named limits for the Kafka codec. Every length or count read from a peer is checked against
//! one of these before anything is allocated, so the memory a single connection can make the
//! broker reserve is known in advance.

/// Largest request frame body accepted, in bytes (the i32 size prefix excluded). Kafka's own
/// `socket.request.max.bytes` default is 100 MiB; a peer announcing more is closed before any
/// body byte is read, so one connection can never make us buffer more than this.
pub const REQUEST_BYTES_MAX: usize = 100 * 1024 * 1024;

/// Bytes of the big-endian i32 size prefix in front of every Kafka frame, both directions.
pub const FRAME_PREFIX_BYTES: usize = 4;

/// Bytes needed to peek a request's API key and API version (two i16s) before trusting the
/// `kafka-protocol` crate with the rest: its own header decoder indexes those bytes unchecked.
pub const REQUEST_KEY_VERSION_BYTES: usize = 4;

/// Smallest possible request header v1/v2: api_key i16, api_version i16, correlation_id i32 and
/// the i16 length of a nullable client_id. Shorter frames cannot be requests at all.
pub const REQUEST_HEADER_BYTES_MIN: usize = 10;

/// Smallest encoding of one record inside a magic-2 batch: length, attributes, timestampDelta,
/// offsetDelta, key length, value length and header count, one byte each. A batch whose
/// recordCount needs more bytes than it carries is lying and is rejected.
pub const RECORD_BYTES_MIN: usize = 7;

/// Upper bound on the decompressed records section of one batch, in bytes. Decompression stops
/// with an error past this, which caps what a compression bomb can cost; it also bounds the
/// record count accepted for compressed batches (count × [`RECORD_BYTES_MIN`] must fit).
pub const DECOMPRESSED_BATCH_BYTES_MAX: usize = 64 * 1024 * 1024;

/// Most a raw snappy block can expand: its densest element, a 3-byte copy, writes 64 bytes
/// (21×). A block whose declared length needs more is refused before its output is allocated,
/// so a few garbage bytes cannot make us reserve up to the decompression cap.
pub const SNAPPY_EXPANSION_MAX: usize = 32;

/// Largest zstd window (log2 bytes) accepted when decompressing a batch: zstd's own default
/// limit, which Kafka's broker (zstd-jni) also applies. The decoder reserves the window a frame
/// header declares, so this bounds that reservation (128 MiB) whatever the frame says.
pub const ZSTD_WINDOW_LOG_MAX: u32 = 27;

/// Capacity a reusable decompression buffer may keep between batches; a buffer grown past it by
/// one large batch is dropped after use, so an idle worker never holds more than this.
pub const DECOMPRESS_SCRATCH_RETAINED_BYTES_MAX: usize = 8 * 1024 * 1024;

const _: () = assert!(DECOMPRESS_SCRATCH_RETAINED_BYTES_MAX <= DECOMPRESSED_BATCH_BYTES_MAX);
