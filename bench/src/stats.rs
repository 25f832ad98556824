//! Report maths: latency histograms, percentiles, rates, medians and ratios. Kept apart from the
//! clients so it can be tested on known numbers, and so every mode computes its figures the same
//! way.

use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::limits;

/// Latency samples of one worker or one run, in nanoseconds. Workers record into their own and
/// the run merges them, so recording never takes a shared lock.
#[derive(Debug, Clone)]
pub struct Latencies {
    histogram: Histogram<u64>,
}

impl Default for Latencies {
    fn default() -> Self {
        Self::new()
    }
}

impl Latencies {
    /// An empty histogram covering 1 ns to [`limits::LATENCY_MAX_NS`].
    pub fn new() -> Self {
        // The bounds are constants that satisfy hdrhistogram's rules (low >= 1, high >= 2 * low,
        // sigfig <= 5), checked by a unit test; no input reaches this call.
        #[allow(clippy::expect_used)]
        let histogram =
            Histogram::new_with_bounds(1, limits::LATENCY_MAX_NS, limits::LATENCY_SIGFIG)
                .expect("constant histogram bounds are valid");
        Self { histogram }
    }

    /// Records one sample; values beyond the histogram's range are clamped, never dropped.
    pub fn record(&mut self, latency: Duration) {
        self.record_n(latency, 1);
    }

    /// Records `count` samples of the same latency (a batch acknowledged at once).
    pub fn record_n(&mut self, latency: Duration, count: u64) {
        let nanos = u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX);
        let clamped = nanos.clamp(1, limits::LATENCY_MAX_NS);
        let _ = self.histogram.record_n(clamped, count);
    }

    /// Adds another worker's samples.
    pub fn merge(&mut self, other: &Latencies) {
        let _ = self.histogram.add(&other.histogram);
    }

    /// How many samples were recorded.
    pub fn len(&self) -> u64 {
        self.histogram.len()
    }

    /// Whether nothing was recorded (the mode has no latency to report).
    pub fn is_empty(&self) -> bool {
        self.histogram.is_empty()
    }

    /// The summary figures, or `None` when there are no samples.
    pub fn summary(&self) -> Option<LatencySummary> {
        if self.is_empty() {
            return None;
        }
        let h = &self.histogram;
        let us = |nanos: u64| nanos as f64 / 1_000.0;
        Some(LatencySummary {
            count: h.len(),
            min_us: us(h.min()),
            mean_us: h.mean() / 1_000.0,
            p50_us: us(h.value_at_quantile(0.50)),
            p90_us: us(h.value_at_quantile(0.90)),
            p99_us: us(h.value_at_quantile(0.99)),
            p999_us: us(h.value_at_quantile(0.999)),
            max_us: us(h.max()),
        })
    }

    /// The latency at each of [`DISTRIBUTION_QUANTILES`] plus the maximum, for the chart and the
    /// JSON.
    pub fn distribution(&self) -> Vec<DistributionPoint> {
        if self.is_empty() {
            return Vec::new();
        }
        let mut points: Vec<DistributionPoint> = DISTRIBUTION_QUANTILES
            .iter()
            .map(|&quantile| DistributionPoint {
                percentile: quantile * 100.0,
                latency_us: self.histogram.value_at_quantile(quantile) as f64 / 1_000.0,
            })
            .collect();
        points.push(DistributionPoint {
            percentile: 100.0,
            latency_us: self.histogram.max() as f64 / 1_000.0,
        });
        points
    }
}

/// Quantiles drawn in the latency distribution: dense in the tail, where the differences are.
pub const DISTRIBUTION_QUANTILES: [f64; 12] = [
    0.0, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.995, 0.999, 0.9995, 0.9999, 0.99999,
];

/// Latency figures in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LatencySummary {
    /// Samples.
    pub count: u64,
    /// Smallest.
    pub min_us: f64,
    /// Mean.
    pub mean_us: f64,
    /// Median.
    pub p50_us: f64,
    /// 90th percentile.
    pub p90_us: f64,
    /// 99th percentile.
    pub p99_us: f64,
    /// 99.9th percentile.
    pub p999_us: f64,
    /// Largest.
    pub max_us: f64,
}

/// One point of the latency distribution.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct DistributionPoint {
    /// Percentile, 0 to 100.
    pub percentile: f64,
    /// Latency at that percentile, in microseconds.
    pub latency_us: f64,
}

/// Throughput in one interval of the run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TimelinePoint {
    /// Seconds since the start at the end of the interval.
    pub t_secs: f64,
    /// Records per second in the interval.
    pub records_per_sec: f64,
    /// Megabytes (10^6 bytes) per second in the interval.
    pub mb_per_sec: f64,
}

/// Records per second; zero for an empty or instant run instead of infinity.
pub fn rate(count: u64, elapsed: Duration) -> f64 {
    let seconds = elapsed.as_secs_f64();
    if seconds > 0.0 {
        count as f64 / seconds
    } else {
        0.0
    }
}

/// Megabytes (10^6 bytes, as network figures are quoted) per second.
pub fn megabytes_per_sec(bytes: u64, elapsed: Duration) -> f64 {
    rate(bytes, elapsed) / 1_000_000.0
}

/// The median; the mean of the two middle values for an even count; `None` when empty. NaNs
/// sort last, so they cannot poison the result unless they are the majority.
pub fn median(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let middle = sorted.len() / 2;
    if sorted.len() % 2 == 1 {
        Some(sorted[middle])
    } else {
        Some((sorted[middle - 1] + sorted[middle]) / 2.0)
    }
}

/// `value / baseline`, or `None` when the baseline is zero or either is missing (a ratio to
/// nothing is not a figure).
pub fn ratio(value: Option<f64>, baseline: Option<f64>) -> Option<f64> {
    match (value, baseline) {
        (Some(value), Some(baseline)) if baseline != 0.0 && baseline.is_finite() => {
            Some(value / baseline)
        }
        _ => None,
    }
}

/// Estimated time left: by record count when there is a budget, else by duration; `None` before
/// the first record or when neither bounds the run.
pub fn eta(
    done: u64,
    budget: Option<u64>,
    elapsed: Duration,
    duration: Option<Duration>,
) -> Option<Duration> {
    let by_duration = duration.map(|d| d.saturating_sub(elapsed));
    let by_count = budget.and_then(|budget| {
        let per_sec = rate(done, elapsed);
        (per_sec > 0.0)
            .then(|| Duration::from_secs_f64(budget.saturating_sub(done) as f64 / per_sec))
    });
    match (by_count, by_duration) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}
