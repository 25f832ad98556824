//! Every bound the native codec enforces, in one place. Each constant says what it costs, so a
//! reader can see how much memory one peer can make the broker hold. Relations between limits
//! are checked at compile time at the bottom of the file.

/// Size of the fixed request and reply headers (§2.1, §2.2). Every frame starts with one.
pub const HEADER_BYTES: usize = 256;

/// Largest whole frame (header + body) the broker accepts; the reference server default. One
/// connection can make the broker buffer this much before the body is decoded.
pub const FRAME_BYTES_MAX: usize = 64 * 1024 * 1024;

/// Largest request body: a frame minus its header.
pub const REQUEST_BODY_BYTES_MAX: usize = FRAME_BYTES_MAX - HEADER_BYTES;

/// Size of the fixed batch header (§4.2) that precedes the message frames.
pub const BATCH_HEADER_BYTES: usize = 256;

/// Size of the fixed header of one message frame (§4.3).
pub const MESSAGE_HEADER_BYTES: usize = 48;

/// Largest batch (header + frames) inside one send request; bounded by the request body.
pub const BATCH_BYTES_MAX: usize = REQUEST_BODY_BYTES_MAX;

/// Most messages in one batch. Each message costs at least 49 bytes on the wire, so this also
/// bounds the per-message bookkeeping (offsets, checksums) a batch can make the broker keep.
pub const MESSAGES_PER_BATCH_MAX: u32 = 1_000_000;

/// Largest payload of one message: 64 MB, as the SDK enforces.
pub const PAYLOAD_BYTES_MAX: u32 = 64_000_000;

/// Smallest payload: the SDK refuses empty payloads and so does the broker.
pub const PAYLOAD_BYTES_MIN: u32 = 1;

/// Largest user-headers block of one message (§4.3).
pub const USER_HEADERS_BYTES_MAX: u32 = 100_000;

/// Largest key or value inside a user header or option entry (§4.7).
pub const HEADER_FIELD_BYTES_MAX: u32 = 255;

/// Most entries in an options block (§4.7).
pub const OPTION_ENTRIES_MAX: usize = 1024;

/// Largest options block (§4.7).
pub const OPTIONS_BYTES_MAX: usize = 100_000;

/// Longest stream, topic, group, token or node name (a `u8` length on the wire).
pub const NAME_BYTES_MAX: usize = 255;

/// Shortest username accepted at login or create (§5).
pub const USERNAME_BYTES_MIN: usize = 3;

/// Longest username (§5).
pub const USERNAME_BYTES_MAX: usize = 50;

/// Shortest password (§5).
pub const PASSWORD_BYTES_MIN: usize = 3;

/// Longest password (§5).
pub const PASSWORD_BYTES_MAX: usize = 100;

/// Largest opaque login context blob; the SDK sends none, so a small cap costs nothing.
pub const LOGIN_CONTEXT_BYTES_MAX: usize = 4096;

/// Longest free-text field with a `u32` length (addresses, host names, version strings in
/// stats and cluster metadata).
pub const TEXT_BYTES_MAX: usize = 4096;

/// Largest serialized permissions block (§3). Bounds what a create_user can make us parse.
pub const PERMISSIONS_BYTES_MAX: usize = 1024 * 1024;

/// Most partitions created by one create_partitions request (§3).
pub const PARTITIONS_PER_REQUEST_MAX: u32 = 1000;

/// Most messages one poll may ask for.
pub const POLL_COUNT_MAX: u32 = MESSAGES_PER_BATCH_MAX;

/// Most list entries decoded from a reply or a list field (nodes, members, partitions).
pub const LIST_ENTRIES_MAX: usize = 1_000_000;

const _: () = assert!(REQUEST_BODY_BYTES_MAX + HEADER_BYTES == FRAME_BYTES_MAX);
const _: () = assert!((PAYLOAD_BYTES_MAX as usize) < BATCH_BYTES_MAX);
const _: () = assert!(USER_HEADERS_BYTES_MAX as usize <= OPTIONS_BYTES_MAX);
const _: () = assert!(USERNAME_BYTES_MAX <= NAME_BYTES_MAX);
const _: () = assert!(PASSWORD_BYTES_MAX <= NAME_BYTES_MAX);
const _: () =
    assert!((MESSAGES_PER_BATCH_MAX as usize) * (MESSAGE_HEADER_BYTES + 1) <= BATCH_BYTES_MAX);
