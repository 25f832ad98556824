//! Kafka protocol, sans-IO: frame splitting with a size limit checked before any body byte is
//! buffered ([`frame`]), request decoding with distinct errors for every way a request can be
//! wrong ([`request`]), response encoding with the right header version ([`response`]), the
//! table of APIs and advertised versions ([`registry`]), and magic-2 record-batch checks
//! (headers, and every record as Kafka's `LogValidator` walks them) and in-place patches for
//! Produce ([`batch`]). Message types come from `kafka-protocol` 0.18; this module adds the
//! checks that crate leaves to its caller. Limits live in [`limits`].

pub mod batch;
pub mod chunked;
pub mod error;
pub mod frame;
pub mod limits;
pub mod registry;
pub mod request;
pub mod response;
pub(crate) mod varint;

pub use batch::{
    BatchInfo, CheckedRecords, RecordTotals, control_batch, covered_crc, find_offset_for_timestamp,
    inspect_batch_at, inspect_batches, set_base_offset, set_log_append_time,
    set_partition_leader_epoch, validate_records,
};
pub use error::KafkaWireError;
pub use frame::{frame_length, split_frame};
pub use registry::{ApiSupport, BROKER_APIS, api_versions_response};
pub use request::{decode_request, decode_request_header, peek_key_version};
pub use response::{encode_api_versions_unsupported, encode_response};
