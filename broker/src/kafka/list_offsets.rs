//! ListOffsets: the special timestamps (−1 latest = high watermark, −2 earliest = log start,
//! −3 the record with the largest timestamp, −4 earliest local = earliest here) and lookups by
//! timestamp (the first offset whose record timestamp is ≥ T). A timestamp lookup finds the
//! frame through the log's time index (frame timestamps are Kafka ms × 1000) and then the
//! record inside the batch with the wire crate's bounded record walk. Nothing found answers
//! offset −1 and timestamp −1, as Kafka does.
//!
//! read_committed equals read_uncommitted here: without transactions the last stable offset is
//! the high watermark.

use std::sync::Arc;

use bytes::Bytes;
use kafka_protocol::ResponseError;
use kafka_protocol::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use kafka_protocol::messages::{ListOffsetsRequest, ListOffsetsResponse, RequestHeader};
use kafka_protocol::records::{RecordBatchDecoder, TimestampType as KafkaTimestampType};
use whippet_log::{BatchFormat, LogError, PartitionLog, TopicMeta};
use whippet_wire::kafka::{find_offset_for_timestamp, inspect_batch_at};

use super::error_code::log_error;
use super::topics::find_topic;
use crate::context::BrokerContext;

/// Kafka's special ListOffsets timestamps.
const LATEST: i64 = -1;
const EARLIEST: i64 = -2;
const MAX_TIMESTAMP: i64 = -3;
const EARLIEST_LOCAL: i64 = -4;

/// An answer: (timestamp ms, offset); (−1, −1) when nothing matches.
type Found = (i64, i64);
const NOTHING: Found = (-1, -1);

/// Serves one ListOffsets request; errors are per partition.
pub(crate) async fn handle(
    ctx: &Arc<BrokerContext>,
    header: &RequestHeader,
    request: ListOffsetsRequest,
) -> ListOffsetsResponse {
    let version = header.request_api_version;
    let mut topics = Vec::with_capacity(request.topics.len());
    for topic in request.topics {
        let meta = find_topic(ctx, topic.name.as_str());
        let mut partitions = Vec::with_capacity(topic.partitions.len());
        for p in &topic.partitions {
            let found = answer(meta.as_deref(), p.partition_index, p.timestamp, version).await;
            partitions.push(found);
        }
        topics.push(
            ListOffsetsTopicResponse::default()
                .with_name(topic.name)
                .with_partitions(partitions),
        );
    }
    ListOffsetsResponse::default().with_topics(topics)
}

async fn answer(
    topic: Option<&TopicMeta>,
    index: i32,
    timestamp: i64,
    version: i16,
) -> ListOffsetsPartitionResponse {
    let response = ListOffsetsPartitionResponse::default().with_partition_index(index);
    let log = topic.and_then(|t| t.partition(u32::try_from(index).ok()?));
    let Some(log) = log else {
        return response.with_error_code(ResponseError::UnknownTopicOrPartition.code());
    };
    match lookup_off_runtime(log, timestamp).await {
        Ok((ts, offset)) => response
            .with_timestamp(ts)
            .with_offset(offset)
            // Every batch is stored with leader epoch 0, the epoch Metadata reports. The field
            // exists from v4 on; a non-default value below that cannot be encoded.
            .with_leader_epoch(if offset >= 0 && version >= 4 { 0 } else { -1 }),
        Err(error) => response.with_error_code(log_error(&error).code()),
    }
}

fn offset_i64(offset: u64) -> i64 {
    i64::try_from(offset).unwrap_or(i64::MAX)
}

/// [`lookup`], with the timestamp searches (which read the log's files, several times for
/// the largest timestamp) on the blocking pool rather than an async worker.
async fn lookup_off_runtime(log: &Arc<PartitionLog>, timestamp: i64) -> Result<Found, LogError> {
    if matches!(timestamp, LATEST | EARLIEST | EARLIEST_LOCAL) {
        return lookup(log, timestamp);
    }
    let log = Arc::clone(log);
    tokio::task::spawn_blocking(move || lookup(&log, timestamp))
        .await
        .unwrap_or_else(|join| Err(LogError::io("", std::io::Error::other(join.to_string()))))
}

/// The (timestamp, offset) answer for one partition.
fn lookup(log: &PartitionLog, timestamp: i64) -> Result<Found, LogError> {
    match timestamp {
        LATEST => Ok((-1, offset_i64(log.high_watermark()))),
        EARLIEST | EARLIEST_LOCAL => Ok((-1, offset_i64(log.log_start_offset()))),
        MAX_TIMESTAMP => max_timestamp(log),
        target => by_timestamp(log, target),
    }
}

/// First record with timestamp ≥ `target_ms`.
fn by_timestamp(log: &PartitionLog, target_ms: i64) -> Result<Found, LogError> {
    let Some(header) = log.find_by_timestamp_blocking(target_ms.saturating_mul(1000))? else {
        return Ok(NOTHING);
    };
    let read = log.read_blocking(header.base_offset.max(log.log_start_offset()), 1)?;
    let Some(frame) = read.frames.first() else {
        return Ok(NOTHING);
    };
    if frame.header.format != BatchFormat::Kafka {
        // A native frame: its records are not addressable by Kafka offsets within the batch
        // layout, so answer with the frame's first offset and timestamp.
        return Ok((
            frame.header.first_timestamp_us.div_euclid(1000),
            offset_i64(frame.header.base_offset),
        ));
    }
    match find_offset_for_timestamp(&frame.payload, target_ms) {
        Ok(Some(offset)) => {
            // DeleteRecords may have cut into this batch: never answer below the log start.
            let offset = offset.max(offset_i64(read.log_start_offset));
            Ok((record_timestamp(&frame.payload, offset), offset))
        }
        Ok(None) => Ok(NOTHING),
        Err(error) => {
            tracing::warn!(%error, offset = frame.header.base_offset, "stored batch unreadable for ListOffsets");
            Err(LogError::CorruptFrame {
                reason: "stored Kafka batch unreadable",
            })
        }
    }
}

/// The timestamp of the record at `offset` in `batch` (which `find_offset_for_timestamp` has
/// already checked and decompressed within bounds, so decoding it again is safe); −1 if the
/// record cannot be found.
fn record_timestamp(batch: &Bytes, offset: i64) -> i64 {
    // In a LogAppendTime batch every record's timestamp is the batch's maxTimestamp.
    if let Ok(info) = inspect_batch_at(batch, 0)
        && info.timestamp_type == KafkaTimestampType::LogAppend
    {
        return info.max_timestamp_ms;
    }
    let mut bytes = batch.clone();
    RecordBatchDecoder::decode(&mut bytes)
        .ok()
        .and_then(|set| set.records.into_iter().find(|r| r.offset == offset))
        .map_or(-1, |record| record.timestamp)
}

/// The record with the largest timestamp (the first one, if several share it). The log keeps
/// each frame's max timestamp in its time index, so the largest T with a frame whose max is
/// ≥ T is found by bisection over T, and that frame is searched for its first record ≥ T.
fn max_timestamp(log: &PartitionLog) -> Result<Found, LogError> {
    let exists = |t_ms: i64| -> Result<bool, LogError> {
        Ok(log
            .find_by_timestamp_blocking(t_ms.saturating_mul(1000))?
            .is_some())
    };
    let (mut low, mut high) = (i64::MIN / 1000, i64::MAX / 1000);
    if !exists(low)? {
        return Ok(NOTHING);
    }
    if exists(high)? {
        low = high;
    }
    // Invariant: exists(low) && (low == high || !exists(high)).
    while high - low > 1 {
        let middle = low + (high - low) / 2;
        if exists(middle)? {
            low = middle;
        } else {
            high = middle;
        }
    }
    match by_timestamp(log, low)? {
        (-1, -1) => Ok(NOTHING),
        (_, offset) => Ok((low, offset)),
    }
}
