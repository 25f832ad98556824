//! Named limits of the transcoders. Each bounds what one stored batch can make a reader
//! allocate while it is transcoded.

use crate::native::limits::{BATCH_BYTES_MAX, HEADER_FIELD_BYTES_MAX, MESSAGES_PER_BATCH_MAX};

/// Bytes of a Kafka key or header field carried in one native header field: longer values are
/// cut into chunks of this size, in order, each its own entry.
pub const CHUNK_BYTES: usize = HEADER_FIELD_BYTES_MAX as usize;

/// Largest native batch record the Kafka → native transcoder produces. Our own poll path reads
/// stored and transcoded records alike through the native batch decoder, which refuses more.
pub const NATIVE_BATCH_BYTES_MAX: usize = BATCH_BYTES_MAX;

/// Most records a Kafka batch may hold to be transcoded to native: the native batch limit.
pub const NATIVE_MESSAGES_MAX: usize = MESSAGES_PER_BATCH_MAX as usize;

/// Longest reserved name we build (`__whippet.h.<u32>.v#<u32>` is 45 bytes); names are built on
/// the stack in a buffer of this size, so building one never allocates.
pub const RESERVED_NAME_BYTES_MAX: usize = 64;

/// Bytes of a Kafka magic-2 batch header; records start after it.
pub const KAFKA_BATCH_HEADER_BYTES: usize = 61;

/// Upper bound on the bytes one Kafka record adds beyond its native frame when transcoding
/// native → Kafka: the id header (name, 16 bytes, two length varints) and the record's own
/// length varints. Used to size the output once.
pub const KAFKA_RECORD_OVERHEAD_BYTES_MAX: usize = 64;

const _: () = assert!(CHUNK_BYTES >= 16);
const _: () = assert!(RESERVED_NAME_BYTES_MAX < CHUNK_BYTES);
