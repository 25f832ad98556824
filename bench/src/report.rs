//! The end-of-run report: one [`Phase`] per measured activity (produce, consume, e2e, ...), printed
//! as a table and written as JSON with the full configuration, so a figure is never separated
//! from the settings that produced it.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use serde::Serialize;

use crate::cli::ClientLabel;
use crate::cpu::{self, CpuUse, Sample};
use crate::error::BenchError;
use crate::stats::{self, DistributionPoint, Latencies, LatencySummary, TimelinePoint};

/// What a phase's latency measures, so a reader knows which clock pair produced it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LatencyKind {
    /// Send to acknowledgement of that record or batch, from the actual send time.
    Ack,
    /// Send to acknowledgement, from the intended send time of a fixed-rate schedule
    /// (coordinated-omission aware).
    AckFromIntended,
    /// Timestamp in the record (actual send time) to the consumer receiving it.
    EndToEnd,
    /// Timestamp in the record (intended send time of a fixed-rate schedule) to receipt.
    EndToEndFromIntended,
    /// Round trip of one fetch/poll request.
    Request,
}

/// Figures of one phase of a run.
#[derive(Debug, Clone, Serialize)]
pub struct Phase {
    /// `produce`, `consume`, `e2e`, `send`, `poll`.
    pub name: String,
    /// Records completed (acknowledged or received).
    pub records: u64,
    /// Payload bytes of those records.
    pub bytes: u64,
    /// Wall time of the phase.
    pub elapsed_secs: f64,
    /// Records per second over the phase.
    pub records_per_sec: f64,
    /// Payload megabytes (10^6 bytes) per second over the phase.
    pub mb_per_sec: f64,
    /// What the latency figures measure, if any.
    pub latency_kind: Option<LatencyKind>,
    /// Latency figures in microseconds, if the phase measures latency.
    pub latency: Option<LatencySummary>,
    /// Latency at selected percentiles, for the chart.
    pub distribution: Vec<DistributionPoint>,
    /// Throughput per interval.
    pub timeline: Vec<TimelinePoint>,
    /// Errors the clients reported and the bench retried or skipped.
    pub errors: u64,
    /// CPU time of the bench and of the server under test (when `compare` started it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu: Option<CpuUse>,
}

/// The raw outcome of a phase, before its figures are computed.
#[derive(Debug, Default)]
pub struct PhaseData {
    /// Records completed.
    pub records: u64,
    /// Their payload bytes.
    pub bytes: u64,
    /// Wall time.
    pub elapsed: Duration,
    /// Latency samples.
    pub latencies: Latencies,
    /// What those samples measure.
    pub latency_kind: Option<LatencyKind>,
    /// Throughput per interval.
    pub timeline: Vec<TimelinePoint>,
    /// Client errors seen.
    pub errors: u64,
}

impl Phase {
    /// Computes the figures of a phase from its raw outcome.
    pub fn new(name: &str, data: PhaseData) -> Self {
        let latency = data.latencies.summary();
        Self {
            name: name.to_string(),
            records: data.records,
            bytes: data.bytes,
            elapsed_secs: data.elapsed.as_secs_f64(),
            records_per_sec: stats::rate(data.records, data.elapsed),
            mb_per_sec: stats::megabytes_per_sec(data.bytes, data.elapsed),
            latency_kind: latency.and(data.latency_kind),
            latency,
            distribution: data.latencies.distribution(),
            timeline: data.timeline,
            errors: data.errors,
            cpu: None,
        }
    }

    /// The same phase with the CPU time spent since `start`.
    #[must_use]
    pub fn with_cpu(mut self, start: &Sample) -> Self {
        self.cpu = Some(CpuUse::since(start));
        self
    }

    /// CPU seconds per gigabyte of payload: (client, server).
    #[must_use]
    pub fn cpu_per_gigabyte(&self) -> (Option<f64>, Option<f64>) {
        let Some(used) = self.cpu else {
            return (None, None);
        };
        (
            cpu::per_gigabyte(used.client_cpu_s, self.bytes),
            cpu::per_gigabyte(used.server_cpu_s, self.bytes),
        )
    }
}

/// The whole JSON document of a single-target run.
#[derive(Debug, Serialize)]
pub struct RunReport<'a, C: Serialize> {
    /// Always `whippet-bench`.
    pub tool: &'static str,
    /// The bench's version.
    pub version: &'static str,
    /// Protocol and client the figures came through (`protocol`, `client`).
    #[serde(flatten)]
    pub label: ClientLabel,
    /// The parsed command line.
    pub config: &'a C,
    /// The measured phases, primary first.
    pub phases: &'a [Phase],
}

/// The table printed at the end: one row per phase.
pub fn render_table(phases: &[Phase]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<8} {:>10} {:>8} {:>12} {:>9} {:>10} {:>10} {:>10} {:>10} {:>10}",
        "phase",
        "records",
        "secs",
        "records/s",
        "MB/s",
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "p99.9 ms",
        "max ms"
    );
    for phase in phases {
        let _ = write!(
            out,
            "{:<8} {:>10} {:>8.2} {:>12.0} {:>9.1}",
            phase.name, phase.records, phase.elapsed_secs, phase.records_per_sec, phase.mb_per_sec
        );
        match &phase.latency {
            Some(l) => {
                for value in [l.p50_us, l.p90_us, l.p99_us, l.p999_us, l.max_us] {
                    let _ = write!(out, " {:>10.3}", value / 1_000.0);
                }
            }
            None => {
                for _ in 0..5 {
                    let _ = write!(out, " {:>10}", "-");
                }
            }
        }
        if phase.errors > 0 {
            let _ = write!(out, "  ({} client errors)", phase.errors);
        }
        out.push('\n');
    }
    for phase in phases {
        if let Some(kind) = phase.latency_kind {
            let _ = writeln!(out, "latency of {}: {}", phase.name, describe(kind));
        }
    }
    for phase in phases {
        if let Some(line) = render_cpu(phase) {
            let _ = writeln!(out, "cpu of {}: {line}", phase.name);
        }
    }
    out
}

/// `client 2.1 s (2.05 s/GB), server 0.9 s (0.88 s/GB), server RSS 60.1 MB (peak 75.0 MB)`.
fn render_cpu(phase: &Phase) -> Option<String> {
    let used = phase.cpu?;
    let (client_per_gb, server_per_gb) = phase.cpu_per_gigabyte();
    let side = |name: &str, seconds: Option<f64>, per_gb: Option<f64>| {
        seconds.map(|s| match per_gb {
            Some(g) => format!("{name} {s:.2} s ({g:.2} s/GB)"),
            None => format!("{name} {s:.2} s"),
        })
    };
    let mut parts: Vec<String> = [
        side("client", used.client_cpu_s, client_per_gb),
        side("server", used.server_cpu_s, server_per_gb),
    ]
    .into_iter()
    .flatten()
    .collect();
    if let (Some(rss), Some(peak)) = (used.server_rss_mb, used.server_peak_rss_mb) {
        parts.push(format!("server RSS {rss:.1} MB (peak {peak:.1} MB)"));
    }
    (!parts.is_empty()).then(|| parts.join(", "))
}

/// The line under the table that says what the figures came through.
pub fn render_label(label: ClientLabel) -> String {
    format!("protocol: {} ({})\n", label.protocol, label.client)
}

fn describe(kind: LatencyKind) -> &'static str {
    match kind {
        LatencyKind::Ack => "send to acknowledgement",
        LatencyKind::AckFromIntended => {
            "intended send time to acknowledgement (fixed rate, coordinated-omission aware)"
        }
        LatencyKind::EndToEnd => "producer timestamp to consumer receipt",
        LatencyKind::EndToEndFromIntended => {
            "intended send time to consumer receipt (fixed rate, coordinated-omission aware)"
        }
        LatencyKind::Request => "round trip of one fetch/poll request",
    }
}

/// Writes any serializable report as pretty JSON.
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), BenchError> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| BenchError::Run(format!("serialize report: {e}")))?;
    std::fs::write(path, text + "\n")
        .map_err(|e| BenchError::Io(format!("write {}", path.display()), e))
}
