//! What `GET /metrics` answers: the counters of [`super::Metrics`] plus the values read at
//! scrape time — each partition's log size, segment count, start offset and high watermark,
//! every group's lag (Kafka groups and native consumers share one offset store), the open
//! connections per listener and the log's fsync rounds — encoded together by
//! `prometheus-client` in the Prometheus text format.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use super::Counters;
use super::series::{encode_counter_family, encode_gauge_family};
use crate::connections::Listener;
use crate::context::BrokerContext;

/// The `Content-Type` of the answer (Prometheus text format 0.0.4).
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, EncodeLabelSet)]
struct PartitionLabels {
    stream: String,
    topic: String,
    partition: String,
}

#[derive(Debug, Clone, EncodeLabelSet)]
struct LagLabels {
    group: String,
    stream: String,
    topic: String,
    partition: String,
}

/// One partition's (or one topic's overflow) stored state at scrape time.
#[derive(Debug, Default, Clone, Copy)]
struct Stored {
    size_bytes: u64,
    segments: u64,
    log_start: u64,
    high_watermark: u64,
}

/// Values read when the scrape began.
#[derive(Debug)]
struct Gauges {
    partitions: Vec<(PartitionLabels, Stored)>,
    lag: Vec<(LagLabels, u64)>,
    connections: Vec<(&'static str, u64)>,
    fsync: whippet_log::FsyncStats,
    /// The remote tier's counters, when the broker has one.
    tier: Option<Arc<whippet_tier::TierStats>>,
}

/// The whole exposition for `ctx`'s broker.
pub fn render(ctx: &BrokerContext) -> String {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(Counters(Arc::clone(&ctx.core.metrics))));
    registry.register_collector(Box::new(read_gauges(ctx)));
    let mut text = String::new();
    // Writing into a String cannot fail; a collector's error would leave a partial answer.
    if let Err(error) = prometheus_client::encoding::text::encode(&mut text, &registry) {
        tracing::warn!(%error, "metrics encoding failed");
    }
    text
}

fn read_gauges(ctx: &BrokerContext) -> Gauges {
    let cap = ctx.core.metrics.settings().partition_series_max;
    let catalog = ctx.log.snapshot();
    let mut partitions: BTreeMap<PartitionLabels, Stored> = BTreeMap::new();
    let mut own = 0usize;
    for stream in catalog.streams() {
        for topic in stream.topics.values() {
            for partition in &topic.partitions {
                let stats = partition.stats();
                let id = if own < cap {
                    own += 1;
                    partition.id().to_string()
                } else {
                    String::from("all")
                };
                let labels = PartitionLabels {
                    stream: stream.name.clone(),
                    topic: topic.name.clone(),
                    partition: id,
                };
                let stored = partitions.entry(labels).or_default();
                stored.size_bytes += stats.size_bytes;
                stored.segments += u64::from(stats.segment_count);
                stored.log_start += stats.log_start_offset;
                stored.high_watermark += stats.high_watermark;
            }
        }
    }
    let durable = ctx.core.groups.durable();
    let mut lag = Vec::new();
    for (group, offsets) in &durable.offsets {
        for (key, committed) in offsets.iter() {
            let Some(topic) = catalog.topic(key.stream, key.topic) else {
                continue;
            };
            let (Some(stream), Some(partition)) =
                (catalog.stream(key.stream), topic.partition(key.partition))
            else {
                continue;
            };
            let committed = u64::try_from(committed.offset).unwrap_or(0);
            let labels = LagLabels {
                group: group.clone(),
                stream: stream.name.clone(),
                topic: topic.name.clone(),
                partition: key.partition.to_string(),
            };
            lag.push((labels, partition.high_watermark().saturating_sub(committed)));
        }
    }
    let max = ctx.connections.settings().per_listener_max;
    let connections = [Listener::Kafka, Listener::Native, Listener::Http]
        .into_iter()
        .map(|listener| {
            let open = max.saturating_sub(ctx.connections.slots(listener).free());
            (listener.name(), u64::try_from(open).unwrap_or(u64::MAX))
        })
        .collect();
    Gauges {
        partitions: partitions.into_iter().collect(),
        lag,
        connections,
        fsync: whippet_log::fsync_stats(),
        tier: ctx.core.metrics.tier(),
    }
}

/// The remote tier's families: name, help, whether it is a counter, and the value it reads.
type TierFamily = (
    &'static str,
    &'static str,
    bool,
    fn(&whippet_tier::TierStats) -> u64,
);

const TIER_FAMILIES: [TierFamily; 8] = [
    (
        "whippet_tier_store_up",
        "1 while the remote tier's last upload pass reached the object store, 0 after a \
         failed one (closed segments then stay on the local disk)",
        false,
        |t| t.store_up.load(Ordering::Relaxed),
    ),
    (
        "whippet_tier_pending_segments",
        "Closed segments of remote-storage topics not yet copied to the object store",
        false,
        |t| t.pending_segments.load(Ordering::Relaxed),
    ),
    (
        "whippet_tier_pending_bytes",
        "Bytes of closed segments not yet copied to the object store",
        false,
        |t| t.pending_bytes.load(Ordering::Relaxed),
    ),
    (
        "whippet_tier_uploaded_segments",
        "Segments copied to the object store",
        true,
        |t| t.uploaded_segments.load(Ordering::Relaxed),
    ),
    (
        "whippet_tier_uploaded_bytes",
        "Bytes of segments copied to the object store",
        true,
        |t| t.uploaded_bytes.load(Ordering::Relaxed),
    ),
    (
        "whippet_tier_upload_failures",
        "Upload passes that failed (object store unreachable or refusing)",
        true,
        |t| t.upload_failures.load(Ordering::Relaxed),
    ),
    (
        "whippet_tier_reads",
        "Reads served from remote segments",
        true,
        |t| t.reads.load(Ordering::Relaxed),
    ),
    (
        "whippet_tier_read_failures",
        "Remote segment reads that failed (missing, corrupt or unreachable object)",
        true,
        |t| t.read_failures.load(Ordering::Relaxed),
    ),
];

fn encode_tier(
    encoder: &mut DescriptorEncoder,
    tier: &whippet_tier::TierStats,
) -> Result<(), std::fmt::Error> {
    for (name, help, counter, value) in TIER_FAMILIES {
        let value = value(tier);
        if counter {
            encode_counter_family(encoder, (name, help), &[value], |v| (NO_LABELS, *v))?;
        } else {
            encode_gauge_family(encoder, (name, help), &[value], |v| (NO_LABELS, gauge(*v)))?;
        }
    }
    Ok(())
}

/// A gauge family of the stored state: name, help, and the value it reads.
type StoredFamily = (&'static str, &'static str, fn(&Stored) -> u64);

/// The label set of a family without labels.
const NO_LABELS: [(&str, &str); 0] = [];

fn gauge(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

impl Collector for Gauges {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let families: [StoredFamily; 4] = [
            (
                "whippet_partition_size_bytes",
                "Bytes of the partition's segment files",
                |s| s.size_bytes,
            ),
            (
                "whippet_partition_segments",
                "Segment files of the partition",
                |s| s.segments,
            ),
            (
                "whippet_partition_log_start_offset",
                "First offset still held by the partition",
                |s| s.log_start,
            ),
            (
                "whippet_partition_high_watermark",
                "Offset after the last readable record of the partition",
                |s| s.high_watermark,
            ),
        ];
        for (name, help, value) in families {
            encode_gauge_family(&mut encoder, (name, help), &self.partitions, |(l, s)| {
                (l.clone(), gauge(value(s)))
            })?;
        }
        encode_gauge_family(
            &mut encoder,
            (
                "whippet_consumer_group_lag",
                "High watermark minus the committed offset, per group (Kafka groups and native \
                 consumers) and partition",
            ),
            &self.lag,
            |(labels, lag)| (labels.clone(), gauge(*lag)),
        )?;
        encode_gauge_family(
            &mut encoder,
            ("whippet_open_connections", "Open connections per listener"),
            &self.connections,
            |(listener, open)| ([("listener", *listener)], gauge(*open)),
        )?;
        if let Some(tier) = &self.tier {
            encode_tier(&mut encoder, tier)?;
        }
        encode_counter_family(
            &mut encoder,
            ("whippet_fsyncs", "fsync rounds of the partition logs"),
            &[self.fsync.count],
            |count| (NO_LABELS, *count),
        )?;
        encoder
            .encode_descriptor(
                "whippet_fsync_duration_seconds",
                "Time one fsync round of a partition log took",
                None,
                MetricType::Histogram,
            )?
            .encode_histogram::<NoLabelSet>(
                self.fsync.seconds,
                self.fsync.count,
                &self.fsync.buckets,
                None,
            )
    }
}
