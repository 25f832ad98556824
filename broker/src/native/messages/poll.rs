//! 100 poll_messages (§4.5–4.6): resolve the consumer and its partition, turn the strategy into
//! a start offset, and gather stored native batches up to `count` messages, reading through the
//! core ([`crate::core::read`]; the stored consumer offset and auto-commit through
//! [`crate::core::offsets`]). Batches wholly
//! inside the requested range are served as the log returned them (shared `Bytes`, no copy,
//! no re-encoding); only a batch straddling either end is cut with `slice_batch`.
//!
//! Frames stored in the Kafka format (written by Kafka producers) are transcoded into one native
//! batch record each (`whippet_wire::transcode::kafka_to_native_stored`: decompressed, one message
//! per record, key and headers as reserved/user headers) and then served exactly like a stored
//! native batch, sliced when it straddles the requested range. A native consumer therefore
//! sees every offset of a partition whichever protocol wrote it. Kafka produce admits only
//! batches that transcode (records walked, decompressed size within
//! [`NATIVE_POLL_REPLY_BYTES_MAX`], one native batch's worth of records and bytes), so one that
//! does not is a bug or data written before that check: it ends the reply before it, or fails
//! the poll with the generic Error when it is the first batch.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use whippet_coordinator::PartitionKey;
use whippet_log::{BatchFormat, FrameHeader, LogError, PartitionLog, StoredFrame};
use whippet_wire::native::batch::{BatchHeader, slice_batch};
use whippet_wire::native::codec::WireEncode;
use whippet_wire::native::commands::messages::{
    PARTITION_STALE, PollMessages, PollReplyHeader, PollingStrategy,
};
use whippet_wire::native::status::Status;
use whippet_wire::transcode::kafka_to_native_stored;

use super::{partition_of, resolve_topic};
use crate::context::BrokerContext;
use crate::core::read::{self, Bounds};
use crate::core::txn::read::{CommittedView, last_stable_offset};
use crate::core::{Core, CoreError, RequestContext};
use crate::limits::{
    NATIVE_POLL_FIRST_READ_BYTES, NATIVE_POLL_READ_BYTES, NATIVE_POLL_REPLY_BYTES_MAX,
};
use crate::native::call::{Access, Call, Conn, Outcome, Payload};
use crate::native::errors::read_status;
use crate::native::offsets;

/// Answers one poll_messages request.
pub(super) async fn poll(ctx: &Arc<BrokerContext>, conn: &mut Conn, call: Call<'_>) -> Outcome {
    let request: PollMessages = call.decode()?;
    let topic = resolve_topic(ctx, &request.stream_id, &request.topic_id)?;
    conn.require(ctx, Access::PollMessages(topic.stream_id, topic.id))?;
    if request.count == 0 {
        return Err(Status::InvalidMessagesCount);
    }
    let slot =
        match offsets::resolve_consumer(ctx, conn, &topic, &request.consumer, request.partition_id)
        {
            Ok(slot) => slot,
            // A group member that owns no partition any more: an empty reply with the stale
            // marker makes the SDK re-sync (§4.6).
            Err(Status::ConsumerGroupPartitionNotOwned) if request.partition_id.is_none() => {
                return Ok(empty_reply(PARTITION_STALE, 0));
            }
            Err(status) => return Err(status),
        };
    let log = partition_of(&topic, slot.partition)?;
    let span = super::spans::poll(ctx, &topic, slot.partition);
    let key = PartitionKey {
        stream: topic.stream_id,
        topic: topic.id,
        partition: slot.partition,
    };
    let rc = conn.rc();
    let core = &ctx.core;
    let stored = match request.strategy {
        PollingStrategy::Next => offsets::stored_offset(ctx, &rc, &slot.owner, &key),
        _ => None,
    };
    let bounds = read::bounds(core, &rc, &log);
    let start = match plan_start(request.strategy, request.count, bounds, stored) {
        Start::At(offset) => Some(offset),
        Start::Timestamp(ts) => timestamp_start((core, &rc), &log, ts)?,
    };
    // Native readers see committed data only: up to the last stable offset, aborted
    // transactions' batches and markers hidden.
    let state = core.meta.load();
    let stable = last_stable_offset(&state.txns, &topic, slot.partition, bounds.high_watermark);
    let gathered = match start {
        Some(start) => {
            let end = start.saturating_add(u64::from(request.count));
            let view = CommittedView::new(&state.txns, &topic, slot.partition, start, end);
            gather((core, &rc), (&log, &view), (start, request.count), stable)?
        }
        None => Gathered::default(),
    };
    crate::telemetry::messaging::record_message_count(&span, u64::from(gathered.messages));
    if request.auto_commit
        && let Some(last) = gathered.last_offset
    {
        offsets::store_offset(ctx, &rc, &slot.owner, &topic, slot.partition, last).await?;
    }
    Ok(reply(
        slot.partition,
        current_offset(bounds.high_watermark),
        gathered,
    ))
}

/// Where a poll starts, before the log is consulted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Start {
    /// From this offset (may be at or past the high watermark: an empty poll).
    At(u64),
    /// From the first batch stamped at or after this time (µs).
    Timestamp(u64),
}

/// Strategy → start offset (§4.5): offsets below the log start (removed by retention or a
/// purge) start at the log start; `last` takes the last `count` messages; `next` continues
/// after the consumer's stored offset, or from the start when nothing is stored.
fn plan_start(strategy: PollingStrategy, count: u32, bounds: Bounds, stored: Option<u64>) -> Start {
    let floor = |offset: u64| Start::At(offset.max(bounds.log_start));
    match strategy {
        PollingStrategy::Offset(offset) => floor(offset),
        PollingStrategy::Timestamp(ts) => Start::Timestamp(ts),
        PollingStrategy::First => floor(bounds.log_start),
        PollingStrategy::Last => floor(bounds.high_watermark.saturating_sub(u64::from(count))),
        PollingStrategy::Next => floor(stored.map_or(0, |offset| offset.saturating_add(1))),
    }
}

/// The first offset of the first visible batch whose broker timestamp is at or after `ts`
/// (all messages of a native batch share it), or `None` when every batch is older.
fn timestamp_start(
    (core, rc): (&Core, &RequestContext),
    log: &PartitionLog,
    ts: u64,
) -> Result<Option<u64>, Status> {
    let ts = i64::try_from(ts).unwrap_or(i64::MAX);
    let found = read::find_by_timestamp(core, rc, log, ts).map_err(|error| read_status(&error))?;
    Ok(found.map(|header| header.base_offset))
}

/// `current_offset` of a poll reply: the partition's last offset (0 when empty).
fn current_offset(high_watermark: u64) -> u64 {
    high_watermark.saturating_sub(1)
}

/// The records a poll returns.
#[derive(Debug, Default)]
struct Gathered {
    /// Stored (or sliced) batch records, back to back in the reply.
    records: Vec<Bytes>,
    messages: u32,
    bytes: usize,
    /// Offset of the last message returned, for auto-commit.
    last_offset: Option<u64>,
}

impl Gathered {
    /// Adds one record unless the reply budget is spent (the first record always fits).
    fn push(&mut self, record: Bytes, messages: u32, last_offset: u64) -> bool {
        if !self.records.is_empty() && self.bytes + record.len() > NATIVE_POLL_REPLY_BYTES_MAX {
            return false;
        }
        self.bytes += record.len();
        self.messages += messages;
        self.last_offset = Some(last_offset);
        self.records.push(record);
        true
    }
}

/// Reads batches covering `start ..= start + count - 1` (capped at the high watermark seen when
/// the poll began; widened by the offsets compaction removed on the way), transcoding
/// Kafka-format frames to native batch records.
fn gather(
    (core, rc): (&Core, &RequestContext),
    (log, view): (&PartitionLog, &CommittedView),
    (start, count): (u64, u32),
    high_watermark: u64,
) -> Result<Gathered, Status> {
    let mut gathered = Gathered::default();
    if start >= high_watermark {
        return Ok(gathered);
    }
    let last = high_watermark - 1;
    let mut end = start
        .saturating_add(u64::from(count).saturating_sub(1))
        .min(last);
    let mut next = start;
    let mut step = NATIVE_POLL_FIRST_READ_BYTES;
    while next <= end {
        let budget = NATIVE_POLL_REPLY_BYTES_MAX.saturating_sub(gathered.bytes);
        let asked = budget.clamp(1, step);
        step = (step * 2).min(NATIVE_POLL_READ_BYTES);
        let read = match read::read(core, rc, log, next, asked) {
            Ok(read) => read,
            // Retention moved the start past us mid-poll: serve what was gathered.
            Err(CoreError::Log(LogError::OffsetOutOfRange { .. })) => break,
            Err(error) => return Err(read_status(&error)),
        };
        if read.frames.is_empty() {
            break;
        }
        for frame in read.frames {
            if frame.header.base_offset > end {
                return Ok(gathered);
            }
            if frame.header.last_offset() < next {
                continue;
            }
            next = frame.header.next_offset();
            // Offsets compaction removed hold no message: the range reaches past them so a
            // poll of `count` still finds that many messages after a gap.
            let span = u64::from(frame.header.last_offset_delta) + 1;
            let holes = span.saturating_sub(u64::from(frame.header.record_count));
            end = end.saturating_add(holes).min(last);
            if view.hides(&frame) || frame.header.record_count == 0 {
                continue;
            }
            let Some(record) = native_record(log.id(), &frame, gathered.records.is_empty())? else {
                return Ok(gathered);
            };
            if !take_frame(&mut gathered, frame.header, record, start, end)? {
                return Ok(gathered);
            }
        }
    }
    Ok(gathered)
}

/// One stored frame as a native batch record: a native frame's payload as stored (shared, no
/// copy), a Kafka frame transcoded. `Ok(None)` when a Kafka frame does not transcode and
/// something was already gathered (the reply ends before it); the error when it is `first`.
fn native_record(
    partition: u32,
    frame: &StoredFrame,
    first: bool,
) -> Result<Option<Bytes>, Status> {
    if frame.header.format == BatchFormat::Native {
        return Ok(Some(frame.payload.clone()));
    }
    match kafka_to_native_stored(&frame.payload, partition, NATIVE_POLL_REPLY_BYTES_MAX) {
        Ok(record) => Ok(Some(record.freeze())),
        Err(error) => {
            tracing::error!(%error, offset = frame.header.base_offset,
                "stored Kafka batch does not transcode to a native batch");
            if first { Err(Status::Error) } else { Ok(None) }
        }
    }
}

/// Adds the part of one batch record (stored native, or transcoded from Kafka) that lies in
/// `start ..= end`. Returns false when the reply is full.
fn take_frame(
    gathered: &mut Gathered,
    header: FrameHeader,
    record: Bytes,
    start: u64,
    end: u64,
) -> Result<bool, Status> {
    if header.base_offset >= start && header.last_offset() <= end {
        return Ok(gathered.push(record, header.record_count, header.last_offset()));
    }
    let sliced = slice_batch(&record, start, end).map_err(|error| {
        // The log verified this frame's checksum, so a malformed batch means a bug upstream.
        tracing::error!(%error, offset = header.base_offset, "batch record to serve does not parse");
        Status::Error
    })?;
    let Some(sliced) = sliced else {
        return Ok(true);
    };
    let messages = BatchHeader::decode(&sliced)
        .map(|decoded| decoded.message_count)
        .map_err(|_| Status::Error)?;
    let last = header.last_offset().min(end);
    Ok(gathered.push(sliced.freeze(), messages, last))
}

/// `[partition_id][current_offset][message_count]` followed by the records.
fn reply(partition: u32, current_offset: u64, gathered: Gathered) -> Payload {
    let head = PollReplyHeader {
        partition_id: partition,
        current_offset,
        message_count: gathered.messages,
    };
    let mut parts = Vec::with_capacity(gathered.records.len() + 1);
    parts.push(encode_head(&head));
    parts.extend(gathered.records);
    Payload::Parts(parts)
}

fn empty_reply(partition: u32, current_offset: u64) -> Payload {
    reply(partition, current_offset, Gathered::default())
}

fn encode_head(head: &PollReplyHeader) -> Bytes {
    let mut out = BytesMut::with_capacity(head.encoded_size());
    head.encode(&mut out);
    out.freeze()
}

#[cfg(test)]
#[path = "poll_tests.rs"]
mod tests;
