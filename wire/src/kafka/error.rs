//! The Kafka codec's own error type. It carries the numbers a caller needs to log or to answer
//! with (offsets, sizes, the request header when one was read) and maps to a Kafka error code at
//! the boundary; the broker decides whether to answer or close the connection.

use kafka_protocol::ResponseError;
use kafka_protocol::messages::RequestHeader;

/// Everything that can go wrong while framing, decoding, encoding or inspecting Kafka bytes.
/// Variants are distinct so the broker can pick the right reaction (close, answer with an error
/// code, or answer ApiVersions specially) without parsing strings.
#[derive(Debug, thiserror::Error)]
pub enum KafkaWireError {
    /// The size prefix is negative: the peer is not speaking Kafka; close the connection.
    #[error("frame size {size} is negative")]
    FrameSizeNegative {
        /// The size as read off the wire.
        size: i32,
    },
    /// The size prefix exceeds the limit; close the connection before reading the body.
    #[error("frame size {size} exceeds the limit of {max} bytes")]
    FrameTooLarge {
        /// The size as read off the wire.
        size: usize,
        /// The limit in force.
        max: usize,
    },
    /// The frame is too short to hold a request header.
    #[error("request of {len} bytes is too short, needs at least {needed}")]
    RequestTooShort {
        /// Bytes available.
        len: usize,
        /// Bytes needed.
        needed: usize,
    },
    /// The API key is not one `kafka-protocol` knows; Kafka itself closes the connection.
    #[error("unknown API key {api_key}")]
    UnknownApiKey {
        /// The key as read off the wire.
        api_key: i16,
    },
    /// The request header itself could not be decoded (e.g. a client_id running past the end).
    #[error("request header for API key {api_key} v{api_version} is malformed: {reason}")]
    HeaderDecode {
        /// The key as read off the wire.
        api_key: i16,
        /// The version as read off the wire.
        api_version: i16,
        /// What the decoder reported.
        reason: String,
    },
    /// The API version is outside what the codec can decode. The header was read, so the
    /// broker can still answer (ApiVersions answers with error 35 and the supported ranges).
    #[error("API key {} v{} is outside the supported range {min}..={max}", header.request_api_key, header.request_api_version)]
    UnsupportedVersion {
        /// The decoded request header.
        header: Box<RequestHeader>,
        /// Lowest version the codec decodes for this key.
        min: i16,
        /// Highest version the codec decodes for this key.
        max: i16,
    },
    /// The header was fine but the body did not decode.
    #[error("body of API key {} v{} is malformed: {reason}", header.request_api_key, header.request_api_version)]
    BodyDecode {
        /// The decoded request header.
        header: Box<RequestHeader>,
        /// What the decoder reported.
        reason: String,
    },
    /// Encoding a response failed (usually a field set that the chosen version cannot carry).
    #[error("response encoding failed: {reason}")]
    Encode {
        /// What the encoder reported.
        reason: String,
    },
    /// A record batch is cut short: a length points past the bytes that are there.
    #[error("record batch at byte {offset} needs {needed} bytes, {available} available")]
    BatchTruncated {
        /// Byte offset of the batch in the inspected buffer.
        offset: usize,
        /// Bytes the batch claims or needs.
        needed: usize,
        /// Bytes actually left.
        available: usize,
    },
    /// The batchLength field cannot describe a magic-2 batch.
    #[error("record batch at byte {offset} has impossible batchLength {batch_length}")]
    BatchLengthInvalid {
        /// Byte offset of the batch in the inspected buffer.
        offset: usize,
        /// The field as read.
        batch_length: i32,
    },
    /// The batch is not magic 2 (message sets v0/v1 are not served).
    #[error("record batch at byte {offset} has magic {magic}, only 2 is supported")]
    UnsupportedMagic {
        /// Byte offset of the batch in the inspected buffer.
        offset: usize,
        /// The magic byte as read.
        magic: i8,
    },
    /// The stored CRC-32C does not match the bytes it covers.
    #[error("record batch at byte {offset}: CRC {stored:#010x} stored, {computed:#010x} computed")]
    CrcMismatch {
        /// Byte offset of the batch in the inspected buffer.
        offset: usize,
        /// CRC carried by the batch.
        stored: u32,
        /// CRC of the covered bytes.
        computed: u32,
    },
    /// recordCount is negative, exceeds lastOffsetDelta + 1, or needs more bytes than exist.
    #[error("record batch at byte {offset}: record count {record_count} is implausible ({why})")]
    RecordCountInvalid {
        /// Byte offset of the batch in the inspected buffer.
        offset: usize,
        /// The field as read.
        record_count: i32,
        /// Which check failed.
        why: &'static str,
    },
    /// The attributes name a compression codec other than 0..=4.
    #[error("record batch at byte {offset} uses unknown compression codec {codec}")]
    UnknownCodec {
        /// Byte offset of the batch in the inspected buffer.
        offset: usize,
        /// Codec id from attribute bits 0..2.
        codec: u8,
    },
    /// The compressed records section does not decompress (garbage, or cut short).
    #[error("decompression failed: {reason}")]
    Decompress {
        /// What went wrong.
        reason: String,
    },
    /// The records section would pass the limit on plain (decompressed) bytes.
    #[error("records section exceeds {max} bytes once decompressed")]
    RecordsTooLarge {
        /// The limit in force.
        max: usize,
    },
    /// A record inside a batch is malformed.
    #[error("record {index} is malformed: {reason}")]
    RecordMalformed {
        /// Index of the record inside its batch.
        index: usize,
        /// Which field failed.
        reason: &'static str,
    },
}

impl KafkaWireError {
    /// The request header, when decoding got far enough to read one, so the broker can answer
    /// with the right correlation id (ApiVersions must be answered even for a body that fails).
    pub fn request_header(&self) -> Option<&RequestHeader> {
        match self {
            Self::UnsupportedVersion { header, .. } | Self::BodyDecode { header, .. } => {
                Some(header)
            }
            _ => None,
        }
    }

    /// The Kafka error code a Produce answer should carry for a batch error, so the mapping
    /// lives next to the errors instead of in every handler. `None` for non-batch errors.
    ///
    /// As Apache Kafka answers: bytes that cannot be read as a batch at all (cut short, bad
    /// CRC, a damaged codec field, a section that does not decompress) are CORRUPT_MESSAGE;
    /// a batch that reads but whose contents break the format's rules (magic, record count
    /// against the offsets, a record's lengths, varints or offset delta) is INVALID_RECORD, as
    /// `LogValidator` and `DefaultRecord.readFrom` throw `InvalidRecordException` for it; a
    /// section past the decompression cap is MESSAGE_TOO_LARGE, Kafka's answer to a batch past
    /// a size limit (a Java producer then splits the batch).
    pub fn batch_response_error(&self) -> Option<ResponseError> {
        match self {
            // Produce v3+ may carry only magic-2 batches; Kafka refuses anything else as an
            // invalid record (87), not as an unsupported format.
            Self::UnsupportedMagic { .. }
            | Self::RecordCountInvalid { .. }
            | Self::RecordMalformed { .. } => Some(ResponseError::InvalidRecord),
            // An id outside 0..=4 is not a codec we lack but a damaged attributes field.
            Self::UnknownCodec { .. }
            | Self::BatchTruncated { .. }
            | Self::BatchLengthInvalid { .. }
            | Self::CrcMismatch { .. }
            | Self::Decompress { .. } => Some(ResponseError::CorruptMessage),
            Self::RecordsTooLarge { .. } => Some(ResponseError::MessageTooLarge),
            _ => None,
        }
    }
}

/// Shorthand used across the Kafka codec.
pub type Result<T> = std::result::Result<T, KafkaWireError>;
