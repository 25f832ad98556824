//! Request-body decoders and reply-body encoders, one file per command family. Bodies are
//! decoded with `WireDecode::decode_exact` (leftover bytes are an error); for result-framed
//! operations the caller writes the result section (§2.3) before the payloads encoded here,
//! most simply through `result::ok_reply_body`. Not-found single-object reads are an empty
//! body, which needs no type.

pub mod cluster;
pub mod describe_options;
pub mod groups;
pub mod messages;
pub mod offsets;
pub mod partitions;
pub mod permissions;
pub mod stats;
pub mod streams;
pub mod system;
pub mod tokens;
pub mod topics;
pub mod users;
