//! The native codec's own error type. It carries offsets and byte counts so a broker can log
//! exactly where a peer's bytes went wrong; mapping to an Iggy status code happens at the
//! broker boundary, except for [`NativeWireError::status`], a convenience the listener needs
//! to answer a frame it could not decode.

use crate::native::status::Status;
use crate::native::user_headers::HeaderPart;

/// Everything that can go wrong while decoding or validating native protocol bytes.
///
/// Variants carry typed fields (never a free-form string) so callers can match on the cause.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NativeWireError {
    /// The input ended before a field could be read.
    #[error("truncated {field}: need {needed} bytes at offset {offset}, {available} available")]
    Truncated {
        /// Field being read when the input ran out.
        field: &'static str,
        /// Offset of the field within the decoded slice.
        offset: usize,
        /// Bytes the field needs.
        needed: usize,
        /// Bytes left in the input.
        available: usize,
    },
    /// A length or count read from the peer is outside its allowed range.
    #[error("{field} is {value}, allowed {min}..={max}")]
    OutOfRange {
        /// Field that carried the value.
        field: &'static str,
        /// Value read from the wire.
        value: u64,
        /// Smallest allowed value.
        min: u64,
        /// Largest allowed value.
        max: u64,
    },
    /// A field holds a value the protocol does not define (a kind byte, an enum code, a flag).
    #[error("{field} has invalid value {value}")]
    InvalidValue {
        /// Field that carried the value.
        field: &'static str,
        /// Value read from the wire.
        value: u64,
    },
    /// A text field is not valid UTF-8.
    #[error("{field} is not valid UTF-8")]
    InvalidUtf8 {
        /// Field that carried the text.
        field: &'static str,
    },
    /// Bytes were left over after a body that must be consumed exactly.
    #[error("{extra} trailing bytes after {field}")]
    TrailingBytes {
        /// What was decoded before the leftovers.
        field: &'static str,
        /// Number of bytes left over.
        extra: usize,
    },
    /// Bytes that must be zero (reserved areas, padding) are not.
    #[error("reserved bytes of {field} are not zero (first non-zero at offset {offset})")]
    ReservedNotZero {
        /// Structure that holds the reserved area.
        field: &'static str,
        /// Offset of the first non-zero byte, relative to the structure.
        offset: usize,
    },
    /// A stored checksum does not match the one computed over the bytes.
    #[error("{field} checksum mismatch: stored {stored:#018x}, computed {computed:#018x}")]
    ChecksumMismatch {
        /// Which checksum failed (request, message, batch).
        field: &'static str,
        /// Value found in the bytes.
        stored: u64,
        /// Value computed over the bytes.
        computed: u64,
    },
    /// Two fields that must agree do not (a declared length against the bytes present, a
    /// declared count against the frames found).
    #[error("{field}: declared {declared}, actual {actual}")]
    Mismatch {
        /// Field whose declared value disagrees.
        field: &'static str,
        /// Value the peer declared.
        declared: u64,
        /// Value found in the bytes.
        actual: u64,
    },
    /// An entry that must be unique (an option key) appears twice.
    #[error("duplicate {field}")]
    Duplicate {
        /// Kind of entry that repeats.
        field: &'static str,
    },
    /// A message's user-headers block is not whole, well-formed entries.
    #[error("user header {part:?} at byte {offset} of the block is malformed")]
    InvalidUserHeader {
        /// The half of the entry at fault.
        part: HeaderPart,
        /// Offset of the field's kind byte inside the block.
        offset: usize,
    },
}

impl NativeWireError {
    /// The Iggy status a broker sends when a request fails with this error and no more specific
    /// mapping applies, so every decode failure has a defined answer on the wire.
    #[must_use]
    pub fn status(&self) -> Status {
        match self {
            Self::ChecksumMismatch { field, .. } if *field == "message" => {
                Status::InvalidMessageChecksum
            }
            Self::ChecksumMismatch { field, .. } if *field == "batch" => {
                Status::InvalidBatchChecksum
            }
            Self::OutOfRange {
                field: "payload_length",
                value: 0,
                ..
            } => Status::EmptyMessagePayload,
            Self::OutOfRange {
                field: "payload_length",
                ..
            } => Status::TooBigMessagePayload,
            Self::OutOfRange {
                field: "user_headers_length",
                ..
            } => Status::TooBigUserHeaders,
            Self::OutOfRange {
                field: "partitions_count",
                ..
            } => Status::TooManyPartitions,
            Self::OutOfRange {
                field: "message_count",
                ..
            }
            | Self::Mismatch {
                field: "message_count",
                ..
            } => Status::InvalidMessagesCount,
            Self::InvalidUserHeader {
                part: HeaderPart::Key,
                ..
            } => Status::InvalidHeaderKey,
            Self::InvalidUserHeader {
                part: HeaderPart::Value,
                ..
            } => Status::InvalidHeaderValue,
            Self::Truncated { .. }
            | Self::OutOfRange { .. }
            | Self::InvalidValue { .. }
            | Self::InvalidUtf8 { .. }
            | Self::TrailingBytes { .. }
            | Self::ReservedNotZero { .. }
            | Self::ChecksumMismatch { .. }
            | Self::Mismatch { .. }
            | Self::Duplicate { .. } => Status::InvalidFormat,
        }
    }
}

/// Result alias used throughout the native codec.
pub type Result<T> = std::result::Result<T, NativeWireError>;
