//! The transcoders' error type: what was wrong with the stored batch, with the numbers needed
//! to log it. A transcoding error means the stored bytes (or a caller's limit) do not allow the
//! conversion; it never means the peer asking for the read did something wrong.

use crate::kafka::KafkaWireError;
use crate::native::NativeWireError;
use crate::native::status::Status;

use super::KafkaCompression;

/// Everything that can stop a batch from being transcoded.
#[derive(Debug, thiserror::Error)]
pub enum TranscodeError {
    /// The Kafka batch failed its checks (magic, length, CRC, counts, a record, decompression
    /// or the `max_bytes` cap on the decompressed size).
    #[error("kafka batch: {0}")]
    Kafka(#[from] KafkaWireError),
    /// The native batch record failed its layout checks.
    #[error("native batch: {0}")]
    Native(#[from] NativeWireError),
    /// Bytes follow the batch: the log stores one Kafka batch per frame, so this is not one.
    #[error("{extra} bytes follow the kafka batch")]
    TrailingBytes {
        /// Bytes after the batch.
        extra: usize,
    },
    /// A Kafka batch with a negative baseOffset cannot become a native batch (offsets are u64).
    #[error("kafka baseOffset {base_offset} is negative")]
    NegativeBaseOffset {
        /// baseOffset as stored.
        base_offset: i64,
    },
    /// The batch has more records than one native batch may hold.
    #[error("{count} records exceed the native batch limit of {max}")]
    TooManyRecords {
        /// Records in the Kafka batch.
        count: usize,
        /// The limit (`limits::NATIVE_MESSAGES_MAX`).
        max: usize,
    },
    /// The transcoded batch would exceed what one native batch may be.
    #[error("transcoded batch needs more than {max} bytes")]
    TooLarge {
        /// The limit (`limits::NATIVE_BATCH_BYTES_MAX`).
        max: usize,
    },
    /// A native message's user-headers block is not a valid TLV block, so it cannot be mapped
    /// to Kafka headers (dropping it would lose data silently).
    #[error("user headers of the message at offset {offset} are malformed")]
    UserHeadersMalformed {
        /// Offset of the message.
        offset: u64,
    },
    /// A native frame's offset delta is below the first frame's, so no Kafka offset delta fits.
    #[error(
        "message offsets of the native batch are not increasing at offset delta {offset_delta}"
    )]
    OffsetsNotIncreasing {
        /// The offending offset delta.
        offset_delta: u32,
    },
    /// The compressor failed (only an I/O error of an in-memory writer; kept, not unwrapped).
    #[error("{codec:?} compression failed: {reason}")]
    Compress {
        /// The codec asked for.
        codec: KafkaCompression,
        /// What the compressor reported.
        reason: String,
    },
}

impl TranscodeError {
    /// The status a native poll answers with when a Kafka-format batch cannot be served: the
    /// stored data is at fault, not the request, so codec failures map to the codec's own
    /// status and the rest to a generic error.
    #[must_use]
    pub fn native_status(&self) -> Status {
        match self {
            Self::Native(error) => error.status(),
            Self::Kafka(_)
            | Self::TrailingBytes { .. }
            | Self::NegativeBaseOffset { .. }
            | Self::UserHeadersMalformed { .. }
            | Self::OffsetsNotIncreasing { .. }
            | Self::Compress { .. } => Status::Error,
            Self::TooManyRecords { .. } => Status::InvalidMessagesCount,
            Self::TooLarge { .. } => Status::TooBigMessagePayload,
        }
    }
}
