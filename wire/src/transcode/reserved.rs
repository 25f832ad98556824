//! The reserved header names of the record mapping, in one place. Both transcoders and the
//! broker use these, and users are told (ARCHITECTURE.md, the `transcode` module doc) not to
//! name their own headers with [`PREFIX`]: a Kafka header that does is still carried byte-exact,
//! but in the spilled form, so a native reader does not see it under its own name.

/// Prefix of every reserved name. Chosen so no ordinary application header starts with it.
pub const PREFIX: &str = "__whippet.";

/// Native user header carrying the Kafka record key (kind raw). Keys longer than one header
/// field continue in `__whippet.key#1`, `#2`…; an empty (not null) key is `__whippet.key#empty`.
/// No entry at all means the Kafka key is null.
pub const KEY: &str = "__whippet.key";

/// Kafka header carrying the native message id (16 bytes, little-endian), always the last
/// header of the record. Absent when the id is 0 (records produced over Kafka).
pub const ID: &str = "__whippet.id";

/// Native user header (kind bool, true) saying the Kafka value was null, not empty; the
/// payload is then empty.
pub const NULL_VALUE: &str = "__whippet.null_value";

/// Kafka header that follows a header transcoded from a typed native header: its value is two
/// bytes, the native key kind and value kind. Without it a Kafka header is string-keyed, raw.
pub const KIND: &str = "__whippet.kind";

/// Native user header (kind raw) giving the Kafka order of the ordinary headers when it is not
/// their sorted order: one unsigned LEB128 Kafka header index per ordinary header, taken in
/// ascending (key kind, key) order. Long lists continue in `#1`, `#2`… like the key.
pub const ORDER: &str = "__whippet.order";

/// Prefix of a spilled Kafka header (one a native header cannot hold as itself): header `i`
/// becomes `__whippet.h.<i>.k` (its key) and `__whippet.h.<i>.v` (its value), each chunked like
/// the key, with `#empty` for an empty field and `#null` for a null value.
pub const SPILLED: &str = "__whippet.h.";

/// Separates a reserved name from its chunk number or marker (`#1`, `#empty`, `#null`).
pub const SUFFIX_SEPARATOR: u8 = b'#';

/// Marker suffix of a field that is present but empty.
pub const EMPTY_SUFFIX: &str = "empty";

/// Marker suffix of a spilled header value that is null.
pub const NULL_SUFFIX: &str = "null";

/// Suffix of a spilled header's key field.
pub const SPILLED_KEY_FIELD: &str = ".k";

/// Suffix of a spilled header's value field.
pub const SPILLED_VALUE_FIELD: &str = ".v";
