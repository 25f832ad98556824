//! A latency histogram of plain atomics: observing is a bucket search and three relaxed
//! additions, no lock, so it can sit on every request.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds (seconds) of the request latency buckets: 50 µs to 10 s.
const REQUEST_BUCKETS_SECONDS: [f64; 16] = [
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0, 2.5, 10.0,
];

/// Counts of observations per bucket, their sum and number.
#[derive(Debug)]
pub struct AtomicHistogram {
    bounds: &'static [f64],
    /// Per bucket (not cumulative); one more than `bounds` for the unbounded bucket.
    buckets: Vec<AtomicU64>,
    nanos: AtomicU64,
}

/// What a histogram held when it was read: per-bucket counts as `prometheus-client` encodes
/// them (the last bound `f64::MAX`, written `+Inf`), the count and the sum in seconds.
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramSnapshot {
    /// (upper bound, observations in this bucket only).
    pub buckets: Vec<(f64, u64)>,
    /// Observations.
    pub count: u64,
    /// Sum of the observations in seconds.
    pub seconds: f64,
}

impl AtomicHistogram {
    /// A histogram with the request latency buckets.
    pub fn request_latency() -> Self {
        Self {
            bounds: &REQUEST_BUCKETS_SECONDS,
            buckets: (0..=REQUEST_BUCKETS_SECONDS.len())
                .map(|_| AtomicU64::new(0))
                .collect(),
            nanos: AtomicU64::new(0),
        }
    }

    /// Records one observation.
    pub fn observe(&self, took: Duration) {
        let seconds = took.as_secs_f64();
        let bucket = self
            .bounds
            .iter()
            .position(|bound| seconds <= *bound)
            .unwrap_or(self.bounds.len());
        if let Some(counter) = self.buckets.get(bucket) {
            counter.fetch_add(1, Ordering::Relaxed);
        }
        let nanos = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        self.nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    /// The counts now; the count is the buckets' sum.
    pub fn snapshot(&self) -> HistogramSnapshot {
        let buckets: Vec<(f64, u64)> = self
            .bounds
            .iter()
            .copied()
            .chain([f64::MAX])
            .zip(&self.buckets)
            .map(|(bound, count)| (bound, count.load(Ordering::Relaxed)))
            .collect();
        let count = buckets.iter().map(|(_, n)| n).sum();
        #[allow(clippy::cast_precision_loss)]
        let seconds = self.nanos.load(Ordering::Relaxed) as f64 / 1e9;
        HistogramSnapshot {
            buckets,
            count,
            seconds,
        }
    }
}
