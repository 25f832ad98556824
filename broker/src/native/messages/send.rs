//! 101 send_messages (§4.1–4.4): resolve the target, choose the partition, validate the batch
//! (layout, every frame checksum, the batch checksum, sizes, count) and append it in its wire
//! form behind the log's frame header. The server-owned header fields (partition id, base
//! offset, base timestamp) are stamped and the batch checksum recomputed inside the log's
//! append callback, once the offsets are known. The append is the core's operation
//! ([`crate::core::append`]): it refuses a topic at its size cap (TopicFull) and holds the
//! answer until the batch is durable under `fsync = always`. Nothing is written for a rejected
//! batch.
//!
//! The batch goes into the log as a slice of the request body: without a copy when the
//! connection handed over the only handle to a large frame's bytes (it reads those into their
//! own buffer), else copied once. There is no per-message allocation, and frame checksums are
//! computed in one pass over the payload bytes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use bytes::Bytes;

use whippet_log::{AppendBatch, BatchFormat, PatchContext, TopicMeta};
use whippet_wire::native::batch::stamp_batch;
use whippet_wire::native::commands::messages::{Partitioning, SendAck, SendMessages, SendReply};
use whippet_wire::native::status::Status;

use super::{partition_of, resolve_topic};
use crate::context::BrokerContext;
use crate::core::append::Pending;
use crate::core::{self, Ack};
use crate::limits::NATIVE_BALANCED_TOPICS_MAX;
use crate::native::call::{Access, Conn, Outcome, Payload};
use crate::native::errors::send_status;

/// Answers one send_messages request; `body` is the request body, whose batch goes into the
/// log without a copy when `body` is the only handle to its bytes.
pub(crate) async fn send(ctx: &Arc<BrokerContext>, conn: &mut Conn, body: Bytes) -> Outcome {
    let request = SendMessages::parse(&body).map_err(|error| error.status())?;
    let topic = resolve_topic(ctx, &request.metadata.stream_id, &request.metadata.topic_id)?;
    conn.require(ctx, Access::SendMessages(topic.stream_id, topic.id))?;
    let partition_id = choose_partition(&topic, &request.metadata.partitioning)?;
    let log = partition_of(&topic, partition_id)?;
    // A classic send reaches here translated to 0.11 by the broker, checksums included.
    let summary = if conn.classic {
        request.validate_built()
    } else {
        request.validate()
    };
    let summary = summary.map_err(|error| error.status())?;
    let _span = super::spans::send(
        ctx,
        &topic,
        partition_id,
        request.batch,
        summary.message_count,
    );
    let payload = body.slice_ref(request.batch);
    drop(body);
    let batch = AppendBatch {
        format: BatchFormat::Native,
        payload,
        record_count: summary.message_count,
        last_offset_delta: summary.message_count.saturating_sub(1),
        // Replaced by the append time in `stamp`; native message timestamps are broker time.
        first_timestamp_us: 0,
        max_timestamp_us: 0,
    };
    let rc = conn.rc();
    let appended = core::append::append(&ctx.core, &rc, &topic, &log, |appender| {
        appender.append(batch, move |patch| stamp(patch, partition_id))
    })
    .map_err(|error| send_status(&error))?;
    let pending = Pending {
        log,
        last_offset: appended.last_offset,
    };
    core::append::wait_durable_one(&ctx.core, &rc, Ack::Leader, &pending)
        .await
        .map_err(|error| send_status(&error))?;
    Ok(Payload::encode(&SendReply {
        acks: vec![SendAck {
            stream_id: topic.stream_id,
            topic_id: topic.id,
            partition_id,
            base_offset: appended.base_offset,
        }],
    }))
}

/// The append callback: stamps partition id, base offset and append time (µs) into the batch
/// header, recomputes the batch checksum, and gives the frame header the append time as both
/// timestamps (every message of a native batch carries the batch's broker timestamp, which is
/// what timestamp polls search).
fn stamp(patch: &mut PatchContext<'_>, partition_id: u32) {
    let append_time = u64::try_from(patch.append_time_us).unwrap_or(0);
    if let Err(error) = stamp_batch(
        patch.payload,
        u64::from(partition_id),
        patch.base_offset,
        append_time,
    ) {
        // Unreachable: the payload passed `validate_send_batch` and the stamp re-reads the
        // same bytes. Logged rather than panicking on the append path.
        tracing::error!(%error, "stamping a validated native batch failed");
    }
    patch.first_timestamp_us = patch.append_time_us;
    patch.max_timestamp_us = patch.append_time_us;
}

/// The partition a send goes to (§4.7): an explicit id (PartitionNotFound when out of range),
/// round-robin per topic for balanced sends, or `XXH32(key) % partitions` as the SDK computes
/// it. A topic without partitions answers NoPartitions for the broker-chosen kinds.
fn choose_partition(topic: &TopicMeta, partitioning: &Partitioning) -> Result<u32, Status> {
    let count = topic.partition_count();
    match partitioning {
        Partitioning::PartitionId(id) if *id < count => Ok(*id),
        Partitioning::PartitionId(_) => Err(Status::PartitionNotFound),
        Partitioning::Balanced => {
            next_balanced(&mut balanced_counters(), (topic.stream_id, topic.id), count)
        }
        Partitioning::MessagesKey(key) => {
            Partitioning::key_partition(key, count).ok_or(Status::NoPartitions)
        }
    }
}

/// Round-robin positions of balanced sends, per (stream, topic).
type Counters = Mutex<HashMap<(u32, u32), u32>>;

fn balanced_counters() -> MutexGuard<'static, HashMap<(u32, u32), u32>> {
    static COUNTERS: OnceLock<Counters> = OnceLock::new();
    COUNTERS
        .get_or_init(Counters::default)
        .lock()
        // A counter map is valid after any panic (single inserts), so poison is ignored.
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Next balanced partition of a topic, starting at 0 like the SDK. The map is bounded: past
/// [`NATIVE_BALANCED_TOPICS_MAX`] topics it starts over (only the rotations restart).
fn next_balanced(
    counters: &mut HashMap<(u32, u32), u32>,
    key: (u32, u32),
    count: u32,
) -> Result<u32, Status> {
    if count == 0 {
        return Err(Status::NoPartitions);
    }
    if counters.len() >= NATIVE_BALANCED_TOPICS_MAX && !counters.contains_key(&key) {
        counters.clear();
    }
    let position = counters.entry(key).or_insert(0);
    let partition = *position % count;
    *position = partition.wrapping_add(1) % count;
    Ok(partition)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn balanced_rotates_per_topic_from_zero() {
        let mut counters = HashMap::new();
        let picks: Vec<u32> = (0..5)
            .map(|_| next_balanced(&mut counters, (0, 0), 3).unwrap_or(u32::MAX))
            .collect();
        assert_eq!(picks, vec![0, 1, 2, 0, 1]);
        assert_eq!(next_balanced(&mut counters, (0, 1), 3), Ok(0));
        // The partition count shrank: the rotation stays in range.
        assert_eq!(next_balanced(&mut counters, (0, 0), 2), Ok(0));
        assert_eq!(
            next_balanced(&mut counters, (0, 0), 0),
            Err(Status::NoPartitions)
        );
    }

    #[test]
    fn balanced_map_is_bounded() {
        let mut counters = HashMap::new();
        for topic in 0..=u32::try_from(NATIVE_BALANCED_TOPICS_MAX).unwrap_or(u32::MAX) {
            let _ = next_balanced(&mut counters, (0, topic), 2);
        }
        assert!(counters.len() <= NATIVE_BALANCED_TOPICS_MAX);
    }
}
