//! The live progress line and the throughput timeline. Workers bump shared atomic counters; one
//! ticker thread samples them once per [`limits::TICK`], prints rate, elapsed and ETA on stderr,
//! and keeps each interval's rate for the report and the chart.

use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::limits;
use crate::stats::{self, TimelinePoint};

/// Records and bytes completed so far; cloned into every worker of a phase.
#[derive(Debug, Clone, Default)]
pub struct Counter {
    records: Arc<AtomicU64>,
    bytes: Arc<AtomicU64>,
}

impl Counter {
    /// A counter at zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts `records` records totalling `bytes` bytes.
    pub fn add(&self, records: u64, bytes: u64) {
        self.records.fetch_add(records, Ordering::Relaxed);
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    /// Records so far.
    pub fn records(&self) -> u64 {
        self.records.load(Ordering::Relaxed)
    }

    /// Bytes so far.
    pub fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }
}

/// What the ticker needs to print an ETA.
#[derive(Debug, Clone)]
pub struct ProgressSpec {
    /// Label at the start of the line (`produce`, `e2e`, ...).
    pub label: String,
    /// Records the phase will complete, if bounded by count.
    pub budget: Option<u64>,
    /// How long the phase runs, if bounded by time.
    pub duration: Option<Duration>,
    /// Print nothing (the timeline is still kept).
    pub quiet: bool,
}

/// A running ticker; [`Ticker::finish`] stops it and returns the timeline.
pub struct Ticker {
    stop: Sender<()>,
    handle: JoinHandle<Vec<TimelinePoint>>,
}

impl Ticker {
    /// Starts sampling `counter` from now.
    pub fn start(counter: Counter, spec: ProgressSpec) -> Self {
        let (stop, stopped) = mpsc::channel::<()>();
        let handle = std::thread::spawn(move || {
            let started = Instant::now();
            let terminal = std::io::stderr().is_terminal();
            let mut timeline = Vec::new();
            let (mut last_records, mut last_bytes, mut last_at) = (0u64, 0u64, started);
            loop {
                let done = matches!(
                    stopped.recv_timeout(limits::TICK),
                    Ok(()) | Err(RecvTimeoutError::Disconnected)
                );
                let now = Instant::now();
                let (records, bytes) = (counter.records(), counter.bytes());
                let interval = now.duration_since(last_at);
                if records > last_records || !done {
                    timeline.push(TimelinePoint {
                        t_secs: now.duration_since(started).as_secs_f64(),
                        records_per_sec: stats::rate(records - last_records, interval),
                        mb_per_sec: stats::megabytes_per_sec(bytes - last_bytes, interval),
                    });
                }
                if !spec.quiet && !done {
                    let rate = stats::rate(records - last_records, interval);
                    let line = progress_line(&spec, records, rate, now.duration_since(started));
                    let mut err = std::io::stderr().lock();
                    let _ = if terminal {
                        write!(err, "\r{line}\x1b[K")
                    } else {
                        writeln!(err, "{line}")
                    };
                    let _ = err.flush();
                }
                (last_records, last_bytes, last_at) = (records, bytes, now);
                if done {
                    if !spec.quiet && terminal {
                        let _ = writeln!(std::io::stderr());
                    }
                    return timeline;
                }
            }
        });
        Self { stop, handle }
    }

    /// Stops the ticker and returns the per-interval throughput.
    pub fn finish(self) -> Vec<TimelinePoint> {
        let _ = self.stop.send(());
        self.handle.join().unwrap_or_default()
    }
}

/// One progress line: label, count, current rate, elapsed and ETA.
pub fn progress_line(spec: &ProgressSpec, records: u64, rate: f64, elapsed: Duration) -> String {
    let eta = stats::eta(records, spec.budget, elapsed, spec.duration).map_or_else(
        || "?".to_string(),
        |eta| format!("{:.0}s", eta.as_secs_f64()),
    );
    let of = spec
        .budget
        .map_or_else(String::new, |budget| format!("/{budget}"));
    format!(
        "{}: {records}{of} records, {rate:.0} rec/s, elapsed {:.0}s, ETA {eta}",
        spec.label,
        elapsed.as_secs_f64()
    )
}
