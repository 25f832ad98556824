//! Prometheus metrics: the counters the core and the adapters bump while they serve, and the
//! `GET /metrics` text exposition (encoded by `prometheus-client`, never by hand).
//!
//! Hot paths never look a series up by its labels: a series is a set of atomics behind an
//! `Arc`, found in a lock-free map ([`ArcSwap`]) by a small numeric key (the partition's
//! address, held weakly so it is never reused while the entry lives; the protocol and the
//! request's API key or command code). Labels are built once, when a series is first used.
//! The per-partition series are capped ([`MetricsSettings::partition_series_max`]); a
//! partition first seen beyond the cap counts into its topic's `partition="all"` series.
//!
//! Values known only at scrape time (log size, segments, high watermark, group lag, open
//! connections, fsyncs) are read when `/metrics` is asked for ([`scrape`]).
//!
//! Must not be imported by the log or the wire crates; the core may use it (it is not an
//! adapter) to count what every protocol appends and reads.

mod histogram;
pub mod scrape;
mod series;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use arc_swap::ArcSwap;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::DescriptorEncoder;
use whippet_log::{Log, PartitionLog};

pub use self::histogram::AtomicHistogram;
use self::series::{PartitionLabels, encode_partitions, encode_requests};

/// Default of [`MetricsSettings::partition_series_max`].
pub const PARTITION_SERIES_MAX_DEFAULT: usize = 2_000;

/// The metrics settings, validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricsSettings {
    /// Most partitions that get series of their own (per protocol); beyond it a partition's
    /// traffic counts into its topic's `partition="all"` series.
    pub partition_series_max: usize,
}

impl Default for MetricsSettings {
    fn default() -> Self {
        Self {
            partition_series_max: PARTITION_SERIES_MAX_DEFAULT,
        }
    }
}

/// The protocol a request came in by, from [`crate::core::RequestContext::listener`].
fn protocol_index(listener: &str) -> u8 {
    match listener {
        "kafka" => 0,
        "native" => 1,
        "http" => 2,
        _ => 3,
    }
}

/// One partition's traffic by one protocol: records and bytes appended and read.
#[derive(Debug)]
pub struct PartitionSeries {
    labels: PartitionLabels,
    records_in: AtomicU64,
    bytes_in: AtomicU64,
    records_out: AtomicU64,
    bytes_out: AtomicU64,
}

impl PartitionSeries {
    /// Counts a batch of `records` records, `bytes` bytes, appended.
    pub fn appended(&self, records: u64, bytes: u64) {
        self.records_in.fetch_add(records, Ordering::Relaxed);
        self.bytes_in.fetch_add(bytes, Ordering::Relaxed);
    }

    /// Counts `records` records, `bytes` bytes, read for a client.
    pub fn read(&self, records: u64, bytes: u64) {
        self.records_out.fetch_add(records, Ordering::Relaxed);
        self.bytes_out.fetch_add(bytes, Ordering::Relaxed);
    }
}

#[derive(Clone)]
struct PartitionEntry {
    partition: Weak<PartitionLog>,
    series: Arc<PartitionSeries>,
}

/// One request kind of one protocol: how many, how long, and the errors by code.
#[derive(Debug)]
pub struct RequestSeries {
    protocol: &'static str,
    api: String,
    latency: AtomicHistogram,
    /// Errors by code; only touched when a request fails.
    errors: Mutex<BTreeMap<String, u64>>,
}

impl RequestSeries {
    /// Records one request answered after `took`.
    pub fn observe(&self, took: Duration) {
        self.latency.observe(took);
    }

    /// Counts one error answered with `code`.
    pub fn error(&self, code: &str) {
        let mut errors = self.errors.lock().unwrap_or_else(PoisonError::into_inner);
        match errors.get_mut(code) {
            Some(count) => *count += 1,
            None => {
                errors.insert(code.to_string(), 1);
            }
        }
    }
}

/// Every counter of one broker. Built at startup and shared through the core.
#[derive(Debug)]
pub struct Metrics {
    settings: MetricsSettings,
    partitions: ArcSwap<HashMap<(u8, usize), PartitionEntry>>,
    /// Series keyed by their labels: the per-partition ones and the per-topic aggregates.
    /// Taken only when a partition is first seen.
    by_labels: Mutex<SeriesTable>,
    requests: ArcSwap<HashMap<(u8, u32), Arc<RequestSeries>>>,
    request_misses: Mutex<()>,
    login_failures: [AtomicU64; 4],
    /// The remote tier's counters, set once when the broker starts one.
    tier: std::sync::OnceLock<Arc<whippet_tier::TierStats>>,
}

#[derive(Debug, Default)]
struct SeriesTable {
    series: BTreeMap<PartitionLabels, Arc<PartitionSeries>>,
    /// Per-partition series handed out, per protocol.
    per_partition: [usize; 4],
}

impl std::fmt::Debug for PartitionEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PartitionEntry")
            .field("series", &self.series.labels)
            .finish_non_exhaustive()
    }
}

impl Metrics {
    /// Metrics with nothing counted yet.
    pub fn new(settings: MetricsSettings) -> Self {
        Self {
            settings,
            partitions: ArcSwap::default(),
            by_labels: Mutex::new(SeriesTable::default()),
            requests: ArcSwap::default(),
            request_misses: Mutex::new(()),
            login_failures: [const { AtomicU64::new(0) }; 4],
            tier: std::sync::OnceLock::new(),
        }
    }

    /// Exposes the remote tier's counters from now on.
    pub fn set_tier(&self, stats: Arc<whippet_tier::TierStats>) {
        let _ = self.tier.set(stats);
    }

    /// The remote tier's counters, when there is one.
    pub fn tier(&self) -> Option<Arc<whippet_tier::TierStats>> {
        self.tier.get().cloned()
    }

    /// The settings these metrics were built with.
    pub fn settings(&self) -> MetricsSettings {
        self.settings
    }

    /// The series `partition` of `log`'s catalog counts into for requests of `listener`.
    /// A map lookup by address; the labels are resolved from the catalog only the first time.
    pub fn partition(
        &self,
        listener: &str,
        log: &Log,
        partition: &PartitionLog,
    ) -> Option<Arc<PartitionSeries>> {
        let key = (
            protocol_index(listener),
            std::ptr::from_ref(partition).addr(),
        );
        if let Some(entry) = self.partitions.load().get(&key)
            && entry.partition.strong_count() > 0
        {
            return Some(Arc::clone(&entry.series));
        }
        self.resolve_partition(listener, key, log, partition)
    }

    /// The slow path of [`Self::partition`]: finds the partition in the catalog, builds or
    /// reuses its series, and remembers it (dropping entries of partitions that are gone).
    fn resolve_partition(
        &self,
        listener: &str,
        key: (u8, usize),
        log: &Log,
        partition: &PartitionLog,
    ) -> Option<Arc<PartitionSeries>> {
        let catalog = log.snapshot();
        let (stream, topic, arc) = catalog.streams().find_map(|stream| {
            stream.topics.values().find_map(|topic| {
                let arc = topic.partition(partition.id())?;
                std::ptr::eq(Arc::as_ptr(arc), partition).then_some((stream, topic, arc))
            })
        })?;
        let protocol = series::protocol_name(key.0, listener);
        let series = {
            let mut table = self
                .by_labels
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let mut labels = PartitionLabels {
                protocol,
                stream: stream.name.clone(),
                topic: topic.name.clone(),
                partition: partition.id().to_string(),
            };
            let index = usize::from(key.0);
            if !table.series.contains_key(&labels) {
                if table.per_partition[index] >= self.settings.partition_series_max {
                    labels.partition = String::from("all");
                } else {
                    table.per_partition[index] += 1;
                }
            }
            Arc::clone(
                table
                    .series
                    .entry(labels.clone())
                    .or_insert_with(|| Arc::new(PartitionSeries::new(labels))),
            )
        };
        let entry = PartitionEntry {
            partition: Arc::downgrade(arc),
            series: Arc::clone(&series),
        };
        self.partitions.rcu(|entries| {
            let mut next: HashMap<(u8, usize), PartitionEntry> = entries
                .iter()
                .filter(|(_, entry)| entry.partition.strong_count() > 0)
                .map(|(key, entry)| (*key, entry.clone()))
                .collect();
            next.insert(key, entry.clone());
            next
        });
        Some(series)
    }

    /// The series of request kind `code` (a Kafka API key or a native command code) of
    /// `listener`; `api` names it the first time it is seen.
    pub fn request(
        &self,
        listener: &'static str,
        code: u32,
        api: impl FnOnce() -> String,
    ) -> Arc<RequestSeries> {
        let key = (protocol_index(listener), code);
        if let Some(series) = self.requests.load().get(&key) {
            return Arc::clone(series);
        }
        // One creator at a time, so two first requests of a kind share one series.
        let _guard = self
            .request_misses
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(series) = self.requests.load().get(&key) {
            return Arc::clone(series);
        }
        let series = Arc::new(RequestSeries {
            protocol: series::protocol_name(key.0, listener),
            api: api(),
            latency: AtomicHistogram::request_latency(),
            errors: Mutex::new(BTreeMap::new()),
        });
        self.requests.rcu(|all| {
            let mut next = HashMap::clone(all);
            next.insert(key, Arc::clone(&series));
            next
        });
        series
    }

    /// Counts a refused login (wrong credentials, unknown user, throttled) on `listener`.
    pub fn login_failed(&self, listener: &str) {
        self.login_failures[usize::from(protocol_index(listener))].fetch_add(1, Ordering::Relaxed);
    }

    fn encode_counters(&self, encoder: &mut DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let partitions: Vec<Arc<PartitionSeries>> = {
            let table = self
                .by_labels
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            table.series.values().cloned().collect()
        };
        encode_partitions(encoder, &partitions)?;
        let mut requests: Vec<Arc<RequestSeries>> =
            self.requests.load().values().cloned().collect();
        requests.sort_by(|a, b| (a.protocol, &a.api).cmp(&(b.protocol, &b.api)));
        encode_requests(encoder, &requests)?;
        let failures: Vec<(&'static str, u64)> = (0..4u8)
            .map(|index| {
                let count = self.login_failures[usize::from(index)].load(Ordering::Relaxed);
                (series::protocol_name(index, "internal"), count)
            })
            .filter(|(_, count)| *count > 0)
            .collect();
        series::encode_login_failures(encoder, &failures)
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new(MetricsSettings::default())
    }
}

impl PartitionSeries {
    fn new(labels: PartitionLabels) -> Self {
        Self {
            labels,
            records_in: AtomicU64::new(0),
            bytes_in: AtomicU64::new(0),
            records_out: AtomicU64::new(0),
            bytes_out: AtomicU64::new(0),
        }
    }
}

/// The counters as a `prometheus-client` collector, so they encode with the scrape-time
/// gauges in one registry.
#[derive(Debug)]
pub(crate) struct Counters(pub(crate) Arc<Metrics>);

impl Collector for Counters {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        self.0.encode_counters(&mut encoder)
    }
}

#[cfg(test)]
mod tests;
