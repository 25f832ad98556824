//! Admission of a produced Kafka batch: what Kafka's own validation refuses (the record walk of
//! [`validate_records`]), and what a native reader could not be served — more records than one
//! native batch holds, a records section past the cap the native poll decompresses under, or a
//! batch whose transcoded native form would pass the native batch limit. A batch admitted here
//! always transcodes, so nothing acknowledged to a Kafka producer is unreadable natively.
//!
//! The native size is bounded from the walk's totals first (arithmetic only); only a batch whose
//! bound passes the limit is measured exactly, with the transcoder's own first pass.

use kafka_protocol::ResponseError;

use crate::kafka::batch::{BatchInfo, RecordTotals, validate_records};
use crate::native::limits::{BATCH_HEADER_BYTES, MESSAGE_HEADER_BYTES};

use super::error::TranscodeError;
use super::kafka_to_native::measure;
use super::limits::{NATIVE_BATCH_BYTES_MAX, NATIVE_MESSAGES_MAX, RESERVED_NAME_BYTES_MAX};
use super::names::ENTRY_OVERHEAD_BYTES;
use super::to_native_headers::HeaderPlan;

/// Upper bound on one native header entry beyond the data bytes it carries: kinds, lengths, a
/// reserved name, and the one-byte value of a marker (`#empty`, `#null`, the null-value flag).
const ENTRY_BYTES_BOUND: usize = ENTRY_OVERHEAD_BYTES + RESERVED_NAME_BYTES_MAX + 1;

/// Bytes of LEB128 one Kafka header position takes in the order entry (a u32).
const ORDER_POSITION_BYTES_MAX: usize = 5;

/// Checks one batch of a Produce request (`info` from [`crate::kafka::inspect_batches`] over
/// `buffer`) for both protocols' readers. `scratch` is the reusable decompression buffer;
/// `plain_bytes_max` the cap on the decompressed records section, which must be the one the
/// native poll transcodes under. Errors map to a Produce answer with
/// [`TranscodeError::produce_error`]. Returns what the record walk counted (a compacted
/// topic refuses a batch with a record without a key).
pub fn admit_kafka_batch(
    buffer: &[u8],
    info: &BatchInfo,
    scratch: &mut Vec<u8>,
    plain_bytes_max: usize,
) -> Result<RecordTotals, TranscodeError> {
    let count = usize::try_from(info.record_count).unwrap_or(0);
    if count > NATIVE_MESSAGES_MAX {
        return Err(TranscodeError::TooManyRecords {
            count,
            max: NATIVE_MESSAGES_MAX,
        });
    }
    let checked = validate_records(buffer, info, scratch, plain_bytes_max)?;
    if native_bytes_bound(&checked.totals) <= NATIVE_BATCH_BYTES_MAX {
        return Ok(checked.totals);
    }
    let mut plan = HeaderPlan::default();
    measure(checked.plain, count, &mut plan, info).map(|_| checked.totals)
}

/// Upper bound on the native batch record `kafka_to_native` makes of records with these
/// totals. Per record: the frame header, the value, and at most one null-value marker and one
/// order entry's overhead. A field of L bytes spread over reserved-name chunks costs at most
/// `L + ENTRY_BYTES_BOUND × (L / 255 + 1)` (255 = `CHUNK_BYTES`), which is below `2L + ENTRY_BYTES_BOUND`;
/// so a key costs at most twice its bytes plus one entry, and a Kafka header — kept as one
/// entry, or spilled as a key field and a value field — at most twice its encoded bytes plus
/// two entries; its position in the order entry adds at most 2 × 5 bytes.
pub(crate) fn native_bytes_bound(totals: &RecordTotals) -> usize {
    let per_record = MESSAGE_HEADER_BYTES + 2 * ENTRY_BYTES_BOUND;
    let per_header = 2 * ENTRY_BYTES_BOUND + 2 * ORDER_POSITION_BYTES_MAX;
    BATCH_HEADER_BYTES
        .saturating_add(totals.records.saturating_mul(per_record))
        .saturating_add(totals.value_bytes)
        .saturating_add(totals.key_bytes.saturating_mul(2))
        .saturating_add(totals.keys.saturating_mul(ENTRY_BYTES_BOUND))
        .saturating_add(totals.header_bytes.saturating_mul(2))
        .saturating_add(totals.headers.saturating_mul(per_header))
}

impl TranscodeError {
    /// The error a Kafka Produce answer carries when [`admit_kafka_batch`] refuses a batch. A
    /// batch that native readers could not be served is MESSAGE_TOO_LARGE: it is refused for
    /// a size limit of this broker (records per native batch, bytes per native batch), which
    /// is what Kafka answers a batch past a size limit with — non-retriable for librdkafka,
    /// and a Java producer splits the batch and sends the halves.
    #[must_use]
    pub fn produce_error(&self) -> ResponseError {
        match self {
            Self::Kafka(error) => error
                .batch_response_error()
                .unwrap_or(ResponseError::CorruptMessage),
            Self::TooManyRecords { .. } | Self::TooLarge { .. } => ResponseError::MessageTooLarge,
            Self::Native(_)
            | Self::TrailingBytes { .. }
            | Self::NegativeBaseOffset { .. }
            | Self::UserHeadersMalformed { .. }
            | Self::OffsetsNotIncreasing { .. }
            | Self::Compress { .. } => ResponseError::CorruptMessage,
        }
    }
}
