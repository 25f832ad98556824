//! `compare`: one workload against several targets, interleaved (round 1: A, B, C; round 2: A,
//! B, C; ...) so drift in the machine's state hits every target alike, then the median of each
//! figure per target and its ratio to the first target. Each target's row and JSON entry say
//! which protocol its rounds ran over, since a target may override the native `--protocol`.

use std::fmt::Write as _;
use std::net::{TcpStream, ToSocketAddrs};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::cli::{ClientLabel, CompareArgs, Target, Workload};
use crate::error::BenchError;
use crate::limits;
use crate::report::Phase;
use crate::stats;

/// Reads one figure off a phase, if the phase has it.
type Reader = fn(&Phase) -> Option<f64>;

/// The figures compared, in table order: name (with unit) and how to read it off a phase.
/// The CPU and memory figures are there when the target was started by `compare` (`cpu.rs`).
const METRICS: [(&str, Reader); 8] = [
    ("records/s", |p| Some(p.records_per_sec)),
    ("MB/s", |p| Some(p.mb_per_sec)),
    ("p50 ms", |p| p.latency.map(|l| l.p50_us / 1_000.0)),
    ("p99 ms", |p| p.latency.map(|l| l.p99_us / 1_000.0)),
    ("p99.9 ms", |p| p.latency.map(|l| l.p999_us / 1_000.0)),
    ("cli CPU s/GB", |p| p.cpu_per_gigabyte().0),
    ("srv CPU s/GB", |p| p.cpu_per_gigabyte().1),
    ("srv peak MB", |p| p.cpu.and_then(|c| c.server_peak_rss_mb)),
];

/// One target's runs and medians.
#[derive(Debug, Clone, Serialize)]
pub struct TargetResult {
    /// The target as given.
    pub target: Target,
    /// Protocol and client this target's rounds ran over (`protocol`, `client`).
    #[serde(flatten)]
    pub label: ClientLabel,
    /// The primary phase of each round, in order.
    pub rounds: Vec<Phase>,
    /// Median of each metric over the rounds (`null` when the mode has no such figure).
    pub medians: Vec<MetricValue>,
    /// Each median divided by the first target's median.
    pub ratios_to_first: Vec<MetricValue>,
}

/// A named figure.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct MetricValue {
    /// Metric name, e.g. `records/s`.
    pub metric: &'static str,
    /// Its value, if any.
    pub value: Option<f64>,
}

/// Runs the comparison; `run_workload` runs the workload once at an address (the real runner in
/// production, a fake in tests of the bookkeeping).
pub fn run<F>(
    args: &CompareArgs,
    quiet: bool,
    mut run_workload: F,
) -> Result<Vec<TargetResult>, BenchError>
where
    F: FnMut(&Workload) -> Result<Vec<Phase>, BenchError>,
{
    let workloads = args
        .targets
        .iter()
        .map(|target| for_target(&args.workload, target))
        .collect::<Result<Vec<_>, _>>()?;
    let mut rounds: Vec<Vec<Phase>> = vec![Vec::new(); args.targets.len()];
    for round in 1..=args.rounds {
        for (index, (target, workload)) in args.targets.iter().zip(&workloads).enumerate() {
            if !quiet {
                eprintln!(
                    "round {round}/{}: {} at {} ({})",
                    args.rounds,
                    target.name,
                    target.address,
                    workload.client_label().protocol
                );
            }
            let started = start_target(target)?;
            crate::cpu::watch_server_group(started.as_ref().map(Child::id));
            let outcome = run_workload(workload);
            crate::cpu::watch_server_group(None);
            stop_target(target, started)?;
            let phases = outcome?;
            let primary = phases
                .into_iter()
                .next()
                .ok_or_else(|| BenchError::Run("workload reported no phase".into()))?;
            rounds[index].push(primary);
        }
    }
    let labels: Vec<ClientLabel> = workloads.iter().map(Workload::client_label).collect();
    Ok(summarise(&args.targets, &labels, rounds))
}

/// Medians per target and ratios to the first target; `labels` says per target what its rounds
/// ran over.
pub fn summarise(
    targets: &[Target],
    labels: &[ClientLabel],
    rounds: Vec<Vec<Phase>>,
) -> Vec<TargetResult> {
    let medians: Vec<Vec<MetricValue>> = rounds
        .iter()
        .map(|phases| {
            METRICS
                .iter()
                .map(|(metric, read)| {
                    let values: Vec<f64> = phases.iter().filter_map(read).collect();
                    MetricValue {
                        metric,
                        value: stats::median(&values),
                    }
                })
                .collect()
        })
        .collect();
    let baseline = medians.first().cloned().unwrap_or_default();
    targets
        .iter()
        .zip(labels)
        .zip(rounds)
        .zip(&medians)
        .map(|(((target, label), rounds), medians)| TargetResult {
            target: target.clone(),
            label: *label,
            rounds,
            ratios_to_first: medians
                .iter()
                .zip(&baseline)
                .map(|(value, base)| MetricValue {
                    metric: value.metric,
                    value: stats::ratio(value.value, base.value),
                })
                .collect(),
            medians: medians.clone(),
        })
        .collect()
}

/// The comparison table: medians, then ratios to the first target.
pub fn render_table(results: &[TargetResult]) -> String {
    let mut out = String::new();
    let _ = write!(out, "{:<16} {:<8} {:>6}", "target", "protocol", "rounds");
    for (metric, _) in METRICS {
        let _ = write!(out, " {metric:>12}");
    }
    out.push_str("   (medians)\n");
    for result in results {
        let _ = write!(
            out,
            "{:<16} {:<8} {:>6}",
            result.target.name,
            result.label.protocol,
            result.rounds.len()
        );
        for value in &result.medians {
            let _ = write!(
                out,
                " {:>12}",
                value.value.map_or("-".into(), |v| format!("{v:.3}"))
            );
        }
        out.push('\n');
    }
    let first = results.first().map_or("", |r| r.target.name.as_str());
    let _ = writeln!(out, "ratio to {first}:");
    for result in results {
        let _ = write!(out, "{:<16} {:<8} {:>6}", result.target.name, "", "");
        for value in &result.ratios_to_first {
            let _ = write!(
                out,
                " {:>12}",
                value.value.map_or("-".into(), |v| format!("{v:.2}x"))
            );
        }
        out.push('\n');
    }
    out
}

/// The workload as `target` runs it: its address, and its native protocol if it names one (a
/// Kafka workload has no protocol to override).
pub fn for_target(workload: &Workload, target: &Target) -> Result<Workload, BenchError> {
    let mut workload = workload.clone();
    match &mut workload {
        Workload::Kafka(cmd) => {
            if target.protocol.is_some() {
                return Err(BenchError::Config(format!(
                    "target {}: protocol= applies to native workloads only",
                    target.name
                )));
            }
            cmd.brokers = target.address.clone();
        }
        Workload::Native(cmd) => {
            cmd.server = target.address.clone();
            cmd.protocol = target.protocol.unwrap_or(cmd.protocol);
        }
    }
    Ok(workload)
}

fn start_target(target: &Target) -> Result<Option<Child>, BenchError> {
    let Some(command) = &target.start else {
        return Ok(None);
    };
    // Its own process group, so stopping it stops whatever `sh` started too (a script that
    // runs the server without `exec` would otherwise leave it running into the next round).
    let child = Command::new("sh")
        .args(["-c", command])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .process_group(0)
        .spawn()
        .map_err(|e| BenchError::Io(format!("start {}", target.name), e))?;
    let started = Instant::now();
    while started.elapsed() < limits::TARGET_START_TIMEOUT {
        if accepts(&target.address) {
            return Ok(Some(child));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = stop_target(target, Some(child));
    Err(BenchError::Run(format!(
        "{} did not accept connections at {} within {:?}",
        target.name,
        target.address,
        limits::TARGET_START_TIMEOUT
    )))
}

fn accepts(address: &str) -> bool {
    address.to_socket_addrs().is_ok_and(|mut addrs| {
        addrs.any(|addr| TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok())
    })
}

/// Runs the stop command (if any), then makes sure the process we started is gone.
fn stop_target(target: &Target, started: Option<Child>) -> Result<(), BenchError> {
    if let Some(command) = &target.stop {
        let status = Command::new("sh")
            .args(["-c", command])
            .stdin(Stdio::null())
            .status()
            .map_err(|e| BenchError::Io(format!("stop {}", target.name), e))?;
        if !status.success() {
            eprintln!(
                "warning: stop command of {} exited with {status}",
                target.name
            );
        }
    }
    let Some(mut child) = started else {
        return Ok(());
    };
    let deadline = Instant::now() + limits::TARGET_STOP_TIMEOUT;
    let group = rustix::process::Pid::from_raw(i32::try_from(child.id()).unwrap_or(0));
    let kill_group = || {
        if let Some(group) = group {
            let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
        }
    };
    if target.stop.is_none() {
        kill_group();
    }
    loop {
        match child.try_wait() {
            Ok(Some(_)) | Err(_) => break,
            Ok(None) if Instant::now() >= deadline => {
                kill_group();
                let _ = child.wait();
                break;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
    // The group's other processes (the server itself, when `sh` forked it) go too, and are
    // waited for: the next round's server must find the ports free.
    kill_group();
    if let Some(group) = group {
        let group = group.as_raw_nonzero().get();
        while !crate::cpu::group_members(group).is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    Ok(())
}
