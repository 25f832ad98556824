//! Iggy native protocol 0.11, sans-IO: the 256-byte request/reply headers, result sections and
//! eviction frames, the command registry and status codes, identifiers and typed headers, the
//! batch and message-frame format, and the request/reply bodies of each command family.
//!
//! Every decoder takes a byte slice and bounds each length it reads against `limits` before
//! allocating; nothing here panics on peer input. Types are plain wire structs: converting them
//! to broker domain types happens in the broker, not here. Byte order is little-endian.

pub mod batch;
pub mod classic;
pub mod codec;
pub mod codes;
pub mod commands;
pub mod error;
pub mod eviction;
pub mod header;
pub mod identifier;
pub mod limits;
pub mod message;
pub mod result;
pub mod status;
pub mod user_headers;

pub use error::NativeWireError;
