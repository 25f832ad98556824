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
use whippet_log::{BatchFormat, LogError, PartitionLog, StoredFrame, TopicMeta};
use whippet_wire::kafka::{find_offset_for_timestamp, inspect_batch_at};

use super::error_code::core_error;
use super::topics::find_topic;
use crate::context::BrokerContext;
use crate::core::read::{self, OffsetSpec};
use crate::core::txn::read::last_stable_offset;
use crate::core::txn::state::Transactions;
use crate::core::{Core, CoreError, RequestContext};

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
    rc: &RequestContext,
    header: &RequestHeader,
    request: ListOffsetsRequest,
) -> ListOffsetsResponse {
    let version = header.request_api_version;
    let state = ctx.core.meta.load();
    // read_committed: the latest offset is the last stable one.
    let committed = (request.isolation_level == 1).then_some(&*state.txns);
    let topics = request
        .topics
        .into_iter()
        .map(|topic| {
            let meta = find_topic(ctx, topic.name.as_str());
            let partitions = topic
                .partitions
                .iter()
                .map(|p| {
                    let partition = (meta.as_deref(), p.partition_index);
                    answer(&ctx.core, rc, partition, (p.timestamp, committed), version)
                })
                .collect();
            ListOffsetsTopicResponse::default()
                .with_name(topic.name)
                .with_partitions(partitions)
        })
        .collect();
    ListOffsetsResponse::default().with_topics(topics)
}

fn answer(
    core: &Core,
    rc: &RequestContext,
    (topic, index): (Option<&TopicMeta>, i32),
    (timestamp, committed): (i64, Option<&Transactions>),
    version: i16,
) -> ListOffsetsPartitionResponse {
    let response = ListOffsetsPartitionResponse::default().with_partition_index(index);
    let partition = u32::try_from(index).ok();
    let found = topic
        .zip(partition)
        .and_then(|(t, p)| Some((t, p, t.partition(p)?)));
    let Some((topic, partition, log)) = found else {
        return response.with_error_code(ResponseError::UnknownTopicOrPartition.code());
    };
    let stable = |(ts, offset): Found| match committed {
        Some(txns) if timestamp == LATEST => {
            let latest = u64::try_from(offset).unwrap_or_default();
            (
                ts,
                offset_i64(last_stable_offset(txns, topic, partition, latest)),
            )
        }
        _ => (ts, offset),
    };
    match lookup(&Lookup { core, rc, log }, timestamp).map(stable) {
        Ok((ts, offset)) => response
            .with_timestamp(ts)
            .with_offset(offset)
            // Every batch is stored with leader epoch 0, the epoch Metadata reports. The field
            // exists from v4 on; a non-default value below that cannot be encoded.
            .with_leader_epoch(if offset >= 0 && version >= 4 { 0 } else { -1 }),
        Err(error) => response.with_error_code(core_error(&error).code()),
    }
}

fn offset_i64(offset: u64) -> i64 {
    i64::try_from(offset).unwrap_or(i64::MAX)
}

/// One partition's lookups through the core.
struct Lookup<'a> {
    core: &'a Core,
    rc: &'a RequestContext,
    log: &'a PartitionLog,
}

/// The (timestamp, offset) answer for one partition.
fn lookup(at: &Lookup<'_>, timestamp: i64) -> Result<Found, CoreError> {
    let listed = |spec| offset_i64(read::list_offset(at.core, at.rc, at.log, spec));
    match timestamp {
        LATEST => Ok((-1, listed(OffsetSpec::Latest))),
        EARLIEST | EARLIEST_LOCAL => Ok((-1, listed(OffsetSpec::Earliest))),
        MAX_TIMESTAMP => max_timestamp(at),
        target => by_timestamp(at, target),
    }
}

/// Batches past the first candidate that ListOffsets by timestamp reads when compaction removed
/// the records a batch's max timestamp came from.
const COMPACTED_BATCHES_SCANNED_MAX: usize = 256;

/// First record with timestamp ≥ `target_ms`.
fn by_timestamp(at: &Lookup<'_>, target_ms: i64) -> Result<Found, CoreError> {
    let found = read::frame_at_timestamp(at.core, at.rc, at.log, target_ms.saturating_mul(1000))?;
    let Some((mut frame, log_start)) = found else {
        return Ok(NOTHING);
    };
    for _ in 0..COMPACTED_BATCHES_SCANNED_MAX {
        if let Some(found) = in_frame(&frame, target_ms, log_start)? {
            return Ok(found);
        }
        // Compaction removed the records that made this batch's max timestamp (it holds fewer
        // records than offsets): the answer is in a later batch, if any.
        let header = frame.header;
        if u64::from(header.record_count) > u64::from(header.last_offset_delta) {
            return Ok(NOTHING);
        }
        let next = read::read(at.core, at.rc, at.log, header.next_offset(), 1)?;
        let Some(next) = next.frames.into_iter().next() else {
            return Ok(NOTHING);
        };
        frame = next;
    }
    Ok(NOTHING)
}

/// The first record of `frame` with timestamp ≥ `target_ms`, if it holds one.
fn in_frame(
    frame: &StoredFrame,
    target_ms: i64,
    log_start: u64,
) -> Result<Option<Found>, CoreError> {
    if frame.header.format != BatchFormat::Kafka {
        // A native frame: its records are not addressable by Kafka offsets within the batch
        // layout, so answer with the frame's first offset and timestamp.
        if frame.header.max_timestamp_us < target_ms.saturating_mul(1000) {
            return Ok(None);
        }
        return Ok(Some((
            frame.header.first_timestamp_us.div_euclid(1000),
            offset_i64(frame.header.base_offset),
        )));
    }
    match find_offset_for_timestamp(&frame.payload, target_ms) {
        Ok(Some(offset)) => {
            // DeleteRecords may have cut into this batch: never answer below the log start.
            let offset = offset.max(offset_i64(log_start));
            Ok(Some((record_timestamp(&frame.payload, offset), offset)))
        }
        Ok(None) => Ok(None),
        Err(error) => {
            tracing::warn!(%error, offset = frame.header.base_offset, "stored batch unreadable for ListOffsets");
            Err(LogError::CorruptFrame {
                reason: "stored Kafka batch unreadable",
            }
            .into())
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
fn max_timestamp(at: &Lookup<'_>) -> Result<Found, CoreError> {
    let exists = |t_ms: i64| -> Result<bool, CoreError> {
        let ts_us = t_ms.saturating_mul(1000);
        Ok(read::find_by_timestamp(at.core, at.rc, at.log, ts_us)?.is_some())
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
    match by_timestamp(at, low)? {
        (-1, -1) => Ok(NOTHING),
        (_, offset) => Ok((low, offset)),
    }
}
