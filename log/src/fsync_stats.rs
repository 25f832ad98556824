//! Counts of the partition logs' fsync rounds and how long each took, kept in this process's
//! atomics so the broker can export them as a histogram without the log knowing any metrics
//! format. One round is the `fdatasync` of a partition's active segment plus whatever
//! finished segments and directory entries were pending.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds (seconds) of the latency buckets; a last, unbounded bucket follows.
pub const FSYNC_BUCKETS_SECONDS: [f64; 12] = [
    0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
];

struct Stats {
    count: AtomicU64,
    nanos: AtomicU64,
    /// Per bucket, not cumulative; the last one is the unbounded bucket.
    buckets: [AtomicU64; FSYNC_BUCKETS_SECONDS.len() + 1],
}

static STATS: Stats = Stats {
    count: AtomicU64::new(0),
    nanos: AtomicU64::new(0),
    buckets: [const { AtomicU64::new(0) }; FSYNC_BUCKETS_SECONDS.len() + 1],
};

/// What the process's fsync rounds added up to so far.
#[derive(Debug, Clone, PartialEq)]
pub struct FsyncStats {
    /// Rounds done (failed ones included).
    pub count: u64,
    /// Their total duration in seconds.
    pub seconds: f64,
    /// Rounds per bucket (not cumulative), by upper bound in seconds: those of
    /// [`FSYNC_BUCKETS_SECONDS`], then `f64::MAX` for the rest.
    pub buckets: Vec<(f64, u64)>,
}

/// Records one fsync round of `took`.
pub(crate) fn record(took: Duration) {
    let seconds = took.as_secs_f64();
    let bucket = FSYNC_BUCKETS_SECONDS
        .iter()
        .position(|bound| seconds <= *bound)
        .unwrap_or(FSYNC_BUCKETS_SECONDS.len());
    STATS.buckets[bucket].fetch_add(1, Ordering::Relaxed);
    let nanos = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
    STATS.nanos.fetch_add(nanos, Ordering::Relaxed);
    STATS.count.fetch_add(1, Ordering::Relaxed);
}

/// The fsync rounds of every partition log of this process so far. The count is the buckets'
/// sum, so a scrape never shows a count its buckets do not add up to.
pub fn fsync_stats() -> FsyncStats {
    let buckets: Vec<(f64, u64)> = FSYNC_BUCKETS_SECONDS
        .iter()
        .copied()
        .chain([f64::MAX])
        .zip(&STATS.buckets)
        .map(|(bound, bucket)| (bound, bucket.load(Ordering::Relaxed)))
        .collect();
    let count = buckets.iter().map(|(_, n)| n).sum();
    #[allow(clippy::cast_precision_loss)]
    let seconds = STATS.nanos.load(Ordering::Relaxed) as f64 / 1e9;
    FsyncStats {
        count,
        seconds,
        buckets,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_round_lands_in_its_bucket_and_the_totals() {
        let before = fsync_stats();
        record(Duration::from_micros(700));
        let after = fsync_stats();
        assert!(after.count > before.count);
        assert!(after.seconds >= before.seconds + 0.000_7 - 1e-9);
        // 0.7 ms is above the 0.5 ms bound and within the 1 ms one.
        let at = |stats: &FsyncStats, bound: f64| {
            stats
                .buckets
                .iter()
                .find(|(b, _)| *b == bound)
                .map(|(_, n)| *n)
        };
        assert!(at(&after, 0.001) > at(&before, 0.001));
        assert_eq!(after.buckets.len(), FSYNC_BUCKETS_SECONDS.len() + 1);
    }
}
