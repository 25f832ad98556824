//! Appends, whichever protocol sends them: the one place that calls the log's append. The
//! operation ([`append`]) admits the data — the topic size cap (`max_topic_size`, a native
//! topic option that Kafka produce honours too) is checked before the first byte is written —
//! and then hands the adapter an [`Appender`] for its batches; [`wait_durable`] then holds the
//! answer until the data is durable when the [`Ack`] asks for it, and no longer than the
//! request's deadline. What is protocol-specific stays with the adapter and reaches the core
//! as data and closures: the batch bytes and their frame facts (`AppendBatch`), the patch
//! callback that writes the assigned offsets into the payload, and the work the adapter does
//! between admission and append (Kafka's idempotent-sequence checks run inside `write`, under
//! the producer-state lock, so a retried duplicate is answered without being admitted again).
//!
//! Each topic's cap is parsed from its settings once per catalog version of the topic
//! ([`TopicCaps`]), not on every append.

use std::collections::HashMap;
use std::sync::{Arc, Weak};

use arc_swap::ArcSwap;
use whippet_log::{AppendBatch, Appended, PartitionLog, PatchContext, TopicMeta, TopicSettings};

use super::{Ack, Core, CoreError, RequestContext};
use crate::metrics::PartitionSeries;

/// The key under which a topic's size cap is kept in `TopicSettings::extra_configs` (canonical
/// decimal bytes; 0 or `u64::MAX` mean unlimited, as in Iggy).
pub const MAX_TOPIC_SIZE_KEY: &str = "max_topic_size";

/// A topic's size cap in bytes, `None` when it has none.
pub fn max_topic_size(settings: &TopicSettings) -> Option<u64> {
    settings
        .extra_configs
        .get(MAX_TOPIC_SIZE_KEY)
        .and_then(|text| text.parse().ok())
        .filter(|cap| *cap != 0 && *cap != u64::MAX)
}

/// Stored data bytes (frames, without file headers) and messages over some partitions: what a
/// topic or stream holds, for the size cap and the native listings.
pub fn totals<'a>(partitions: impl Iterator<Item = &'a Arc<PartitionLog>>) -> (u64, u64) {
    partitions.fold((0, 0), |(bytes, messages), partition| {
        let stats = partition.stats();
        (bytes + stats.data_bytes, messages + stats.messages)
    })
}

/// Bytes of data the topic's partitions hold.
pub fn topic_size(topic: &TopicMeta) -> u64 {
    totals(topic.partitions.iter()).0
}

/// Every topic's parsed size cap, so an append reads a number instead of parsing the topic's
/// settings text. An entry is keyed by (stream id, topic id) and belongs to one catalog version
/// of the topic (the `TopicMeta` it was parsed from, held weakly, which keeps its address from
/// being reused): a topic created, re-set or re-partitioned is a new `TopicMeta` and is parsed
/// again on its first append, whichever path changed the catalog. Reads take no lock.
#[derive(Debug, Default)]
pub struct TopicCaps {
    caps: ArcSwap<HashMap<(u32, u32), CachedCap>>,
}

#[derive(Debug, Clone)]
struct CachedCap {
    topic: Weak<TopicMeta>,
    cap: Option<u64>,
}

impl TopicCaps {
    /// `topic`'s size cap, parsed once per version of the topic.
    pub fn cap(&self, topic: &Arc<TopicMeta>) -> Option<u64> {
        let key = (topic.stream_id, topic.id);
        if let Some(cached) = self.caps.load().get(&key)
            && std::ptr::eq(cached.topic.as_ptr(), Arc::as_ptr(topic))
        {
            return cached.cap;
        }
        let cap = max_topic_size(&topic.settings);
        let entry = CachedCap {
            topic: Arc::downgrade(topic),
            cap,
        };
        self.caps.rcu(|caps| {
            // Entries of topics no longer in any catalog version go at the same time.
            let mut next: HashMap<(u32, u32), CachedCap> = caps
                .iter()
                .filter(|(_, cached)| cached.topic.strong_count() > 0)
                .map(|(key, cached)| (*key, cached.clone()))
                .collect();
            next.insert(key, entry.clone());
            next
        });
        cap
    }
}

/// Refuses an append to a topic that already holds its `max_topic_size` bytes, as the Iggy
/// server refuses sends (the batch that crosses the cap is accepted; the next is not). Topics
/// without a cap (the default) pass without summing anything.
pub fn admit(core: &Core, topic: &Arc<TopicMeta>) -> Result<(), CoreError> {
    let Some(cap) = core.caps.cap(topic) else {
        return Ok(());
    };
    let size = topic_size(topic);
    if size >= cap {
        return Err(CoreError::TopicFull { size, cap });
    }
    Ok(())
}

/// What an adapter appends through inside [`append`]: the data is admitted at the first
/// append, so work that ends without appending (an answered duplicate) is never refused for a
/// full topic.
pub struct Appender<'a> {
    core: &'a Core,
    topic: &'a Arc<TopicMeta>,
    log: &'a PartitionLog,
    admitted: bool,
    /// The partition's counters for the request's protocol, looked up once per operation.
    counted: Option<Arc<PartitionSeries>>,
}

impl Appender<'_> {
    /// Appends one batch: assigns its offsets, calls `patch` under the partition's append lock
    /// so the adapter can write them into its payload, and writes the frame. The first append
    /// of the operation is refused with `TopicFull` when the topic is at its cap.
    pub fn append(
        &mut self,
        batch: AppendBatch,
        patch: impl FnOnce(&mut PatchContext<'_>) + Send + 'static,
    ) -> Result<Appended, CoreError> {
        if !self.admitted {
            admit(self.core, self.topic)?;
            self.admitted = true;
        }
        let (records, bytes) = (u64::from(batch.record_count), batch.payload.len() as u64);
        // The partition's append owner writes it: in place (block_in_place) when it is idle,
        // else on the log's write threads while this waits, with the worker released.
        let appended = self.log.append(batch, patch).wait()?;
        if let Some(series) = &self.counted {
            series.appended(records, bytes);
        }
        Ok(appended)
    }
}

/// The core's append operation on partition `log` of `topic`: runs `write`, in which the
/// adapter appends its batches through the [`Appender`] (admitted on the first). Returns what
/// `write` returns; the durability wait is [`wait_durable`], separate so an adapter appending
/// to several partitions waits for all of them at once.
pub fn append<R, E: From<CoreError>>(
    core: &Core,
    rc: &RequestContext,
    topic: &Arc<TopicMeta>,
    log: &PartitionLog,
    write: impl FnOnce(&mut Appender<'_>) -> Result<R, E>,
) -> Result<R, E> {
    let _span = tracing::trace_span!(parent: &rc.span, "core.append",
        stream = topic.stream_id, topic = topic.id, partition = log.id())
    .entered();
    let mut appender = Appender {
        core,
        topic,
        log,
        admitted: false,
        counted: core.metrics.partition(rc.listener, &core.log, log),
    };
    write(&mut appender)
}

/// Appended data an answer may have to wait for: everything up to `last_offset` of `log`.
#[derive(Debug, Clone)]
pub struct Pending {
    /// The partition appended to.
    pub log: Arc<PartitionLog>,
    /// The last offset the answer covers.
    pub last_offset: u64,
}

/// Holds an append's answer until its data is durable, when `ack` and the fsync policy say so
/// ([`Core::waits_for_durability`]); every partition in `waits` is waited for at once (each
/// partition's group commit runs on its own), and none past the request's deadline. Returns
/// the failures, each with the tag the adapter gave its wait.
pub async fn wait_durable<T: Send + 'static>(
    core: &Core,
    rc: &RequestContext,
    ack: Ack,
    waits: Vec<(T, Pending)>,
) -> Vec<(T, CoreError)> {
    if !core.waits_for_durability(ack) || waits.is_empty() {
        return Vec::new();
    }
    let deadline = rc.deadline;
    let span =
        tracing::trace_span!(parent: &rc.span, "core.wait_durable", partitions = waits.len());
    let wait = async move {
        if waits.len() == 1 {
            let mut failed = Vec::new();
            for (tag, pending) in waits {
                if let Err(error) = durable(&pending, deadline).await {
                    failed.push((tag, error));
                }
            }
            return failed;
        }
        let mut set = tokio::task::JoinSet::new();
        for (tag, pending) in waits {
            set.spawn(async move { (tag, durable(&pending, deadline).await) });
        }
        let mut failed = Vec::new();
        while let Some(joined) = set.join_next().await {
            match joined {
                Ok((_, Ok(()))) => {}
                Ok((tag, Err(error))) => failed.push((tag, error)),
                Err(join_error) => tracing::error!(%join_error, "durability wait failed"),
            }
        }
        failed
    };
    tracing::Instrument::instrument(wait, span).await
}

/// [`wait_durable`] for the one partition of an answer (a native send), without collecting.
pub async fn wait_durable_one(
    core: &Core,
    rc: &RequestContext,
    ack: Ack,
    pending: &Pending,
) -> Result<(), CoreError> {
    if !core.waits_for_durability(ack) {
        return Ok(());
    }
    let span = tracing::trace_span!(parent: &rc.span, "core.wait_durable", partitions = 1);
    tracing::Instrument::instrument(durable(pending, rc.deadline), span).await
}

/// Waits until `pending` is durable, or fails with `TimedOut` at `deadline`.
async fn durable(pending: &Pending, deadline: Option<std::time::Instant>) -> Result<(), CoreError> {
    let wait = pending.log.wait_durable(pending.last_offset);
    match deadline {
        None => Ok(wait.await?),
        Some(deadline) => match tokio::time::timeout_at(deadline.into(), wait).await {
            Ok(result) => Ok(result?),
            Err(_) => Err(CoreError::TimedOut),
        },
    }
}

#[cfg(test)]
#[path = "append_tests.rs"]
mod tests;
