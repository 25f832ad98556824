//! `whippet-bench` owns the load generator: Kafka workloads over rdkafka and native workloads
//! over the Iggy SDKs (protocol 0.11, or the classic framing of Apache Iggy server 0.8), pointed
//! at any broker address (Whippet's or a peer's), with reports of throughput and latency, and
//! side-by-side comparison of several targets. It must not depend on Whippet's internal crates,
//! so that what it measures is only what a client sees.
//!
//! Layout: `cli` (arguments), `kafka` and `native` (the workloads), `payload` (what is sent and
//! when), `stats` (report maths), `progress` (live line and timeline), `report` and `chart`
//! (output), `compare` (several targets). The storage engine's own micro-benchmarks live in
//! `log/benches/`.

pub mod chart;
pub mod cli;
pub mod compare;
pub mod cpu;
pub mod error;
pub mod kafka;
pub mod limits;
pub mod native;
pub mod payload;
pub mod progress;
pub mod report;
pub mod stats;

#[cfg(test)]
mod tests;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

use cli::{Cli, ClientLabel, Command, Workload};
use error::BenchError;
use report::{Phase, RunReport};

/// Runs the parsed command: the workload or comparison, then the table on stdout and the JSON
/// and chart files if asked for.
pub fn run(cli: &Cli) -> Result<(), BenchError> {
    match &cli.command {
        Command::Kafka(cmd) => finish(cli, ClientLabel::KAFKA, &kafka::run(cmd, cli.quiet)?),
        Command::Native(cmd) => finish(
            cli,
            ClientLabel::native(cmd.protocol),
            &native::run(cmd, cli.quiet)?,
        ),
        Command::Compare(args) => {
            let results = compare::run(args, cli.quiet, |workload| {
                run_workload(workload, cli.quiet)
            })?;
            print!("{}", compare::render_table(&results));
            if let Some(path) = &cli.json {
                report::write_json(
                    path,
                    &CompareReport {
                        tool: "whippet-bench",
                        version: env!("CARGO_PKG_VERSION"),
                        config: cli,
                        targets: &results,
                    },
                )?;
            }
            if let Some(path) = &cli.chart {
                let phases: Vec<Phase> = results
                    .iter()
                    .filter_map(|r| {
                        let mut phase = r.rounds.last()?.clone();
                        phase.name = format!("{} ({})", r.target.name, r.label.protocol);
                        Some(phase)
                    })
                    .collect();
                chart::write(path, "whippet-bench compare (last round)", &phases)?;
            }
            Ok(())
        }
    }
}

/// Runs a workload once; `compare` calls this per target and round.
pub fn run_workload(workload: &Workload, quiet: bool) -> Result<Vec<Phase>, BenchError> {
    match workload {
        Workload::Kafka(cmd) => kafka::run(cmd, quiet),
        Workload::Native(cmd) => native::run(cmd, quiet),
    }
}

fn finish(cli: &Cli, label: ClientLabel, phases: &[Phase]) -> Result<(), BenchError> {
    print!("{}", report::render_table(phases));
    print!("{}", report::render_label(label));
    if let Some(path) = &cli.json {
        report::write_json(
            path,
            &RunReport {
                tool: "whippet-bench",
                version: env!("CARGO_PKG_VERSION"),
                label,
                config: cli,
                phases,
            },
        )?;
    }
    if let Some(path) = &cli.chart {
        chart::write(path, &title(cli), phases)?;
    }
    Ok(())
}

fn title(cli: &Cli) -> String {
    match &cli.command {
        Command::Kafka(cmd) => format!("whippet-bench kafka {:?} @ {}", cmd.mode, cmd.brokers),
        Command::Native(cmd) => format!(
            "whippet-bench native {:?} ({}) @ {}",
            cmd.mode,
            cmd.protocol.name(),
            cmd.server
        ),
        Command::Compare(_) => "whippet-bench compare".to_string(),
    }
}

/// The JSON document of a comparison.
#[derive(Debug, Serialize)]
pub struct CompareReport<'a> {
    /// Always `whippet-bench`.
    pub tool: &'static str,
    /// The bench's version.
    pub version: &'static str,
    /// The parsed command line.
    pub config: &'a Cli,
    /// Per target: every round, the medians and the ratios to the first target.
    pub targets: &'a [compare::TargetResult],
}

/// A name no earlier run used: `prefix-<pid>-<millis>-<n>`, so repeated and concurrent runs
/// never read each other's records.
pub fn unique_name(prefix: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}-{}-{millis}-{n}", std::process::id())
}
