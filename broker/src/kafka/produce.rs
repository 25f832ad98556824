//! Produce: each partition's record batches are checked from their headers (magic, CRC, record
//! count, size, idempotence fields), then record by record as Apache Kafka's `LogValidator`
//! does (a compressed batch is decompressed for it, into a per-thread buffer that is reused,
//! under the cap the native poll decompresses under): lengths, varints, header counts, offset
//! deltas, the record count against the records there, and whether a native reader could be
//! served the batch at all (`whippet_wire::transcode::admit_kafka_batch`). Nothing either
//! protocol's readers cannot read is acknowledged. A checked batch is appended as one log
//! frame, stored exactly as sent except for baseOffset and partitionLeaderEpoch (and, on
//! LogAppendTime topics, the timestamp type and maxTimestamp with a new CRC), which are patched
//! in place under the log's append lock once the offsets are known.
//!
//! Refusals follow Kafka: unreadable bytes (CRC, a section that does not decompress) are
//! CORRUPT_MESSAGE, records that break the format's rules INVALID_RECORD, a batch past a size
//! limit — `max.message.bytes`, the decompression cap, or more records or bytes than one native
//! batch holds — MESSAGE_TOO_LARGE. A partition's batches are all checked before the first is
//! appended, so nothing from a refused partition reaches the log; the request's other
//! partitions are handled on their own. Idempotent batches are checked, appended and remembered
//! under the partition's producer-state lock ([`super::producers`]), inside the core's append
//! operation ([`crate::core::append`]), which admits the data (the topic size cap) and makes the
//! one call of the log's append. With `fsync = always` the core holds the answer until every
//! appended partition is on disk (all partitions in parallel), no longer than the request's
//! `timeout_ms`.
//!
//! A transactional batch must belong to its producer's open transaction, which holds the
//! partition (`core::txn::check_append`): else INVALID_TXN_STATE, or INVALID_PRODUCER_EPOCH
//! for a fenced producer.

use crate::core::users::Access;
use std::cell::RefCell;
use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use kafka_protocol::ResponseError;
use kafka_protocol::messages::produce_request::PartitionProduceData;
use kafka_protocol::messages::produce_response::{
    BatchIndexAndErrorMessage, PartitionProduceResponse, TopicProduceResponse,
};
use kafka_protocol::messages::{ProduceRequest, ProduceResponse, RequestHeader};
use kafka_protocol::protocol::StrBytes;
use whippet_log::{
    AppendBatch, Appended, BatchFormat, LogError, PartitionLog, PatchContext, TimestampSource,
    TopicMeta,
};
use whippet_wire::kafka::limits::DECOMPRESS_SCRATCH_RETAINED_BYTES_MAX;
use whippet_wire::kafka::{
    BatchInfo, covered_crc, inspect_batches, set_base_offset, set_log_append_time,
    set_partition_leader_epoch,
};
use whippet_wire::transcode::{admit_kafka_batch, keyless_records};

use super::error_code::{core_error, log_error};
use super::producers::partition_key;
use super::producers::sequence::{BatchIds, SequenceError};
use super::topics::find_topic;
use crate::context::BrokerContext;
use crate::core::append::{Appender, Pending};
use crate::core::txn::TxnError;
use crate::core::{self, Ack, CoreError, RequestContext};
use crate::limits::NATIVE_POLL_REPLY_BYTES_MAX;

thread_local! {
    /// This worker thread's buffer for decompressed records sections, reused across produces
    /// (dropped after a batch grew it past `DECOMPRESS_SCRATCH_RETAINED_BYTES_MAX`).
    static RECORDS_SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Why a partition's data was refused, as the answer carries it.
#[derive(Debug)]
struct Refusal {
    error: ResponseError,
    message: Option<StrBytes>,
    /// Per-record errors (Produce v8+ `record_errors`): index in the batch, message.
    record_errors: Vec<(i32, &'static str)>,
}

impl Refusal {
    fn new(error: ResponseError) -> Self {
        Self {
            error,
            message: None,
            record_errors: Vec::new(),
        }
    }

    fn because(error: ResponseError, message: &'static str) -> Self {
        Self {
            error,
            message: Some(StrBytes::from_static_str(message)),
            record_errors: Vec::new(),
        }
    }
}

impl From<LogError> for Refusal {
    fn from(error: LogError) -> Self {
        Self::new(log_error(&error))
    }
}

impl From<CoreError> for Refusal {
    fn from(error: CoreError) -> Self {
        match error {
            CoreError::TopicFull { .. } => Self::because(
                core_error(&error),
                "topic is full: it holds its max_topic_size bytes",
            ),
            other => Self::new(core_error(&other)),
        }
    }
}

impl From<SequenceError> for Refusal {
    fn from(error: SequenceError) -> Self {
        Self::new(match error {
            SequenceError::InvalidProducerEpoch => ResponseError::InvalidProducerEpoch,
            SequenceError::OutOfOrderSequence => ResponseError::OutOfOrderSequenceNumber,
        })
    }
}

/// What a partition's accepted data got.
#[derive(Debug, Clone, Copy)]
struct Accepted {
    base_offset: u64,
    /// Last offset the answer waits to be durable: what this request appended or, for an
    /// answered duplicate, what the original appended — the original's answer may have been a
    /// failed sync, so the duplicate is acknowledged only once that data is durable too.
    last_appended: Option<u64>,
    /// Append time in ms on LogAppendTime topics, else -1.
    log_append_time_ms: i64,
    log_start_offset: u64,
}

/// Serves one Produce request. With acks=0 the dispatcher sends no answer (or closes the
/// connection if a partition failed, as Kafka does), but the work is the same.
pub(crate) async fn handle(
    ctx: &Arc<BrokerContext>,
    rc: &RequestContext,
    header: &RequestHeader,
    request: ProduceRequest,
) -> ProduceResponse {
    // Kafka accepts acks -1 (all), 0 (none) and 1 (leader); on one node -1 and 1 are the same.
    let acks_valid = matches!(request.acks, -1..=1);
    let mut topics = Vec::with_capacity(request.topic_data.len());
    let mut waits = Vec::new();
    for (topic_index, topic_data) in request.topic_data.into_iter().enumerate() {
        let meta = find_topic(ctx, topic_data.name.as_str());
        let mut partitions = Vec::with_capacity(topic_data.partition_data.len());
        for (partition_index, data) in topic_data.partition_data.iter().enumerate() {
            let outcome = if acks_valid {
                append_partition(ctx, rc, meta.as_ref(), data).await
            } else {
                Err(Refusal::new(ResponseError::InvalidRequiredAcks))
            };
            if let (Ok(accepted), Some(topic)) = (&outcome, &meta)
                && let (Some(last_offset), Some(log)) =
                    (accepted.last_appended, partition_of(topic, data.index))
            {
                let pending = Pending {
                    log: Arc::clone(log),
                    last_offset,
                };
                waits.push(((topic_index, partition_index), pending));
            }
            partitions.push(answer(data.index, outcome, header.request_api_version));
        }
        topics.push(
            TopicProduceResponse::default()
                .with_name(topic_data.name)
                .with_partition_responses(partitions),
        );
    }
    let ack = if request.acks == 0 {
        Ack::None
    } else {
        Ack::Leader
    };
    let failed = core::append::wait_durable(&ctx.core, rc, ack, waits).await;
    refuse_undurable(failed, &mut topics);
    ProduceResponse::default().with_responses(topics)
}

/// Whether any partition of `response` carries an error (for acks=0, where Kafka closes the
/// connection instead of answering so the client notices).
pub(crate) fn has_errors(response: &ProduceResponse) -> bool {
    response
        .responses
        .iter()
        .flat_map(|t| &t.partition_responses)
        .any(|p| p.error_code != 0)
}

fn partition_of(topic: &TopicMeta, index: i32) -> Option<&Arc<PartitionLog>> {
    topic.partition(u32::try_from(index).ok()?)
}

fn answer(
    index: i32,
    outcome: Result<Accepted, Refusal>,
    version: i16,
) -> PartitionProduceResponse {
    let response = PartitionProduceResponse::default().with_index(index);
    match outcome {
        Ok(accepted) => response
            .with_base_offset(offset_i64(accepted.base_offset))
            .with_log_append_time_ms(accepted.log_append_time_ms)
            .with_log_start_offset(if version >= 5 {
                offset_i64(accepted.log_start_offset)
            } else {
                -1
            }),
        Err(refusal) => response
            .with_error_code(refusal.error.code())
            .with_base_offset(-1)
            .with_error_message(refusal.message)
            .with_record_errors(if version >= 8 {
                refusal
                    .record_errors
                    .into_iter()
                    .map(|(index, message)| {
                        BatchIndexAndErrorMessage::default()
                            .with_batch_index(index)
                            .with_batch_index_error_message(Some(StrBytes::from_static_str(
                                message,
                            )))
                    })
                    .collect()
            } else {
                Vec::new()
            }),
    }
}

fn offset_i64(offset: u64) -> i64 {
    i64::try_from(offset).unwrap_or(i64::MAX)
}

/// Turns each partition whose data did not become durable (a failed sync, or the request's
/// timeout passed first) into that partition's error.
fn refuse_undurable(failed: Vec<((usize, usize), CoreError)>, topics: &mut [TopicProduceResponse]) {
    for ((topic, partition), error) in failed {
        if let Some(p) = topics
            .get_mut(topic)
            .and_then(|t| t.partition_responses.get_mut(partition))
        {
            p.error_code = core_error(&error).code();
            p.base_offset = -1;
        }
    }
}

/// Checks and appends one partition's data.
async fn append_partition(
    ctx: &Arc<BrokerContext>,
    rc: &RequestContext,
    topic: Option<&Arc<TopicMeta>>,
    data: &PartitionProduceData,
) -> Result<Accepted, Refusal> {
    let unknown = || Refusal::new(ResponseError::UnknownTopicOrPartition);
    let topic = topic.ok_or_else(unknown)?;
    let send = Access::SendMessages(topic.stream_id, topic.id);
    if ctx.core.users.permits(rc, send).is_err() {
        return Err(Refusal::new(ResponseError::TopicAuthorizationFailed));
    }
    let partition_id = u32::try_from(data.index).map_err(|_| unknown())?;
    let log = topic.partition(partition_id).ok_or_else(unknown)?;
    let records = data
        .records
        .as_ref()
        .filter(|r| !r.is_empty())
        .ok_or_else(|| Refusal::because(ResponseError::InvalidRecord, "no record batch"))?;
    let batches = inspect_batches(records).map_err(|error| {
        Refusal::new(
            error
                .batch_response_error()
                .unwrap_or(ResponseError::CorruptMessage),
        )
    })?;
    let max_bytes = usize::try_from(topic.settings.max_message_bytes).unwrap_or(usize::MAX);
    for batch in &batches {
        check_batch(batch, max_bytes)?;
    }
    check_records(records, &batches, topic.settings.compaction.is_some())?;
    let plan = AppendPlan {
        records,
        log_append_time: topic.settings.timestamp_type == TimestampSource::Broker,
    };
    if batches.iter().all(|b| b.producer_id < 0) {
        return core::append::append(&ctx.core, rc, topic, log, |appender| {
            plan.append_all(appender, &batches, |_, _| {})
        });
    }
    // The first idempotent produce to a partition loads its producer state (snapshot read + log
    // scan) off the async workers; later ones find it loaded.
    let key = partition_key(topic, partition_id);
    ctx.producers.load_off_runtime(key, log).await;
    append_idempotent(ctx, rc, (topic, partition_id), log, &plan, &batches)
}

/// The header checks that do not depend on producer state.
fn check_batch(batch: &BatchInfo, max_bytes: usize) -> Result<(), Refusal> {
    if batch.len > max_bytes {
        return Err(Refusal::new(ResponseError::MessageTooLarge));
    }
    if batch.is_transactional && batch.producer_id < 0 {
        return Err(Refusal::because(
            ResponseError::InvalidRecord,
            "transactional batch without a producer id",
        ));
    }
    if batch.is_control {
        return Err(Refusal::because(
            ResponseError::InvalidRecord,
            "control batches cannot be produced",
        ));
    }
    if batch.record_count < 1 {
        return Err(Refusal::because(
            ResponseError::InvalidRecord,
            "batch holds no record",
        ));
    }
    if batch.producer_id >= 0 && (batch.producer_epoch < 0 || batch.base_sequence < 0) {
        return Err(Refusal::because(
            ResponseError::InvalidRecord,
            "idempotent batch without epoch or sequence",
        ));
    }
    Ok(())
}

/// The record-level checks of every batch (after the header checks of all of them), under
/// the same decompression cap as the native poll's transcoding, so an accepted batch can be
/// served in both protocols.
/// On a compacted topic every record must have a key (Kafka's INVALID_RECORD, KIP-467).
fn check_records(records: &Bytes, batches: &[BatchInfo], compacted: bool) -> Result<(), Refusal> {
    let mut keyless = false;
    let outcome = RECORDS_SCRATCH.with_borrow_mut(|scratch| {
        let outcome = batches.iter().try_for_each(|batch| {
            let totals = admit_kafka_batch(records, batch, scratch, NATIVE_POLL_REPLY_BYTES_MAX)?;
            keyless |= totals.keys < totals.records;
            Ok(())
        });
        if scratch.capacity() > DECOMPRESS_SCRATCH_RETAINED_BYTES_MAX {
            *scratch = Vec::new();
        }
        outcome
    });
    outcome.map_err(|error: whippet_wire::transcode::TranscodeError| {
        tracing::debug!(%error, "produce batch refused");
        Refusal {
            error: error.produce_error(),
            message: Some(StrBytes::from_string(error.to_string())),
            record_errors: Vec::new(),
        }
    })?;
    if compacted && keyless {
        const WHY: &str = "Compacted topic cannot accept message without key";
        let mut refusal = Refusal::because(ResponseError::InvalidRecord, WHY);
        // The keyless records of the first batch holding one, as Kafka lists them.
        refusal.record_errors = batches
            .iter()
            .map(|b| keyless_records(&records[b.offset_in_buffer..b.offset_in_buffer + b.len]))
            .find(|keyless| !keyless.is_empty())
            .unwrap_or_default()
            .into_iter()
            .map(|index| (index, WHY))
            .collect();
        return Err(refusal);
    }
    Ok(())
}

/// Check, append and record under the partition's producer-state lock, so a retry racing its
/// original sees either nothing or the original's record. The core admits the data at the
/// first append, so a retried duplicate is answered even when the topic has filled since.
fn append_idempotent(
    ctx: &Arc<BrokerContext>,
    rc: &RequestContext,
    (topic, partition_id): (&Arc<TopicMeta>, u32),
    log: &PartitionLog,
    plan: &AppendPlan<'_>,
    batches: &[BatchInfo],
) -> Result<Accepted, Refusal> {
    let key = partition_key(topic, partition_id);
    let cell = ctx.producers.partition(key);
    let outcome = core::append::append(&ctx.core, rc, topic, log, |appender| {
        let mut state = cell
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        ctx.producers.ensure_loaded(key, &mut state, log)?;
        check_transactions(ctx, (topic, partition_id), batches)?;
        let ids: Vec<BatchIds> = batches
            .iter()
            .filter(|b| b.producer_id >= 0)
            .map(batch_ids)
            .collect();
        match state.producers.check_all(&ids)? {
            Some(original) => Ok(Accepted {
                base_offset: original.base_offset,
                last_appended: Some(original.last_offset),
                log_append_time_ms: -1,
                log_start_offset: log.log_start_offset(),
            }),
            None => plan.append_all(appender, batches, |batch, appended| {
                if batch.producer_id >= 0 {
                    let ids = batch_ids(batch);
                    state.record(
                        &ids,
                        appended.base_offset,
                        appended.last_offset,
                        appended.append_time_us,
                    );
                }
            }),
        }
    });
    ctx.producers.maybe_snapshot(&ctx.log);
    outcome
}

/// Transactional batches belong to their producer's open transaction, which holds this
/// partition (the client added it first). Under the partition's producer lock, so an append
/// and the check it passed are one step for this partition.
fn check_transactions(
    ctx: &BrokerContext,
    (topic, partition_id): (&Arc<TopicMeta>, u32),
    batches: &[BatchInfo],
) -> Result<(), Refusal> {
    let mut transactional = batches.iter().filter(|b| b.is_transactional).peekable();
    if transactional.peek().is_none() {
        return Ok(());
    }
    let state = ctx.core.meta.load();
    transactional.try_for_each(|batch| {
        let producer = (batch.producer_id, batch.producer_epoch);
        core::txn::check_append(&state.txns, topic, partition_id, producer).map_err(|error| {
            let error = match error {
                TxnError::ProducerFenced => ResponseError::InvalidProducerEpoch,
                TxnError::InvalidProducerIdMapping => ResponseError::InvalidProducerIdMapping,
                _ => ResponseError::InvalidTxnState,
            };
            Refusal::new(error)
        })
    })
}

fn batch_ids(batch: &BatchInfo) -> BatchIds {
    BatchIds::new(
        batch.producer_id,
        batch.producer_epoch,
        batch.base_sequence,
        batch.last_offset_delta,
    )
}

/// How one partition's checked batches are appended.
struct AppendPlan<'a> {
    records: &'a Bytes,
    log_append_time: bool,
}

impl AppendPlan<'_> {
    /// Appends each batch as its own frame, calling `appended` after each; stops at the first
    /// log error (earlier batches stay appended, as with any partial storage failure).
    fn append_all(
        &self,
        appender: &mut Appender<'_>,
        batches: &[BatchInfo],
        mut appended: impl FnMut(&BatchInfo, &Appended),
    ) -> Result<Accepted, Refusal> {
        let mut first: Option<Accepted> = None;
        let mut last_offset = 0;
        for batch in batches {
            let done = self.append_one(appender, batch)?;
            appended(batch, &done);
            last_offset = done.last_offset;
            first.get_or_insert(Accepted {
                base_offset: done.base_offset,
                last_appended: None,
                log_append_time_ms: if self.log_append_time {
                    done.append_time_us / 1000
                } else {
                    -1
                },
                log_start_offset: done.log_start_offset,
            });
        }
        let mut accepted = first.ok_or(Refusal::new(ResponseError::InvalidRecord))?;
        accepted.last_appended = Some(last_offset);
        Ok(accepted)
    }

    fn append_one(
        &self,
        appender: &mut Appender<'_>,
        batch: &BatchInfo,
    ) -> Result<Appended, Refusal> {
        let corrupt = || Refusal::new(ResponseError::CorruptMessage);
        let range: Range<usize> = batch.offset_in_buffer..batch.offset_in_buffer + batch.len;
        let payload = self.records.get(range).ok_or_else(corrupt)?.to_vec();
        let append = AppendBatch {
            format: BatchFormat::Kafka,
            payload: payload.into(),
            record_count: u32::try_from(batch.record_count).map_err(|_| corrupt())?,
            last_offset_delta: u32::try_from(batch.last_offset_delta).map_err(|_| corrupt())?,
            first_timestamp_us: batch.base_timestamp_ms.saturating_mul(1000),
            max_timestamp_us: batch.max_timestamp_ms.saturating_mul(1000),
        };
        let log_append_time = self.log_append_time;
        Ok(appender.append(append, move |ctx| patch(ctx, log_append_time))?)
    }
}

/// Writes the assigned offset and leader epoch 0 into the batch, and on LogAppendTime topics
/// the append time (ms, as Kafka stores it; the frame's timestamps become the same instant).
fn patch(ctx: &mut PatchContext<'_>, log_append_time: bool) {
    let base_offset = i64::try_from(ctx.base_offset).unwrap_or(i64::MAX);
    // The payload is exactly one batch that inspect_batches accepted, so these cannot fail; a
    // failure would be a broken invariant of the wire crate, not bad input.
    let patched = set_base_offset(ctx.payload, base_offset)
        .and_then(|()| set_partition_leader_epoch(ctx.payload, 0));
    assert!(
        patched.is_ok(),
        "patching an inspected batch failed: {patched:?}"
    );
    if log_append_time {
        let append_ms = ctx.append_time_us.div_euclid(1000);
        let stamped = set_log_append_time(ctx.payload, append_ms);
        assert!(
            stamped.is_ok(),
            "stamping an inspected batch failed: {stamped:?}"
        );
        ctx.first_timestamp_us = append_ms.saturating_mul(1000);
        ctx.max_timestamp_us = ctx.first_timestamp_us;
    }
    // The batch's own CRC (checked by inspect_batches, or rewritten just above) covers all but
    // its first 21 bytes, so the log checksums only those for the frame.
    ctx.known_tail_crc = covered_crc(ctx.payload).ok();
}

#[cfg(test)]
#[path = "produce_compacted_tests.rs"]
mod compacted_tests;
