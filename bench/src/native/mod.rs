//! Native mode: `send`, `poll` and `e2e` against any server that speaks the Iggy TCP protocol,
//! in either generation: protocol 0.11 over the official iggy 0.11 SDK (`--protocol current`) or
//! the classic framing over iggy 0.10 (`--protocol classic`, as Apache Iggy server 0.8 speaks).
//! The workload (workers, schedule, layout, measurement) is written once; only [`client`] knows
//! which SDK carries it. Workers are tokio tasks, each with its own connection; streams and
//! topics are created if missing (and deleted at the end when the bench named them).

mod classic;
pub mod client;
mod current;
mod poll;
mod send;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::cli::{NativeCommand, NativeMode};
use crate::cpu::Sample;
use crate::error::BenchError;
use crate::progress::{Counter, ProgressSpec, Ticker};
use crate::report::{Phase, PhaseData};

pub use client::NativeClient;
pub use poll::PollShared;

/// One partition the workload writes to or reads from, by stream and topic name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partition {
    /// Stream name.
    pub stream: String,
    /// Topic name.
    pub topic: String,
    /// Partition id (0-based in both protocols).
    pub id: u32,
}

/// Runs one native workload and returns its phases, primary first.
pub fn run(cmd: &NativeCommand, quiet: bool) -> Result<Vec<Phase>, BenchError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| BenchError::Io("start runtime".into(), e))?;
    runtime.block_on(run_async(cmd, quiet))
}

async fn run_async(cmd: &NativeCommand, quiet: bool) -> Result<Vec<Phase>, BenchError> {
    let (prefix, owned) = match &cmd.stream_prefix {
        Some(prefix) => (prefix.clone(), false),
        None => (crate::unique_name("whippet-bench"), true),
    };
    let admin = NativeClient::connect(cmd).await?;
    let streams: Vec<String> = (0..cmd.streams).map(|i| format!("{prefix}-{i}")).collect();
    if !(cmd.mode == NativeMode::Poll && cmd.no_preload) {
        let topics = topic_names(cmd);
        for stream in &streams {
            admin.ensure_layout(stream, &topics, cmd.partitions).await?;
        }
    }
    let partitions = layout(cmd, &streams);
    let result = run_mode(cmd, &partitions, quiet).await;
    if owned {
        for stream in &streams {
            if let Err(error) = admin.delete_stream(stream).await {
                eprintln!("warning: could not delete stream {stream}: {error}");
            }
        }
    }
    result
}

async fn run_mode(
    cmd: &NativeCommand,
    partitions: &[Partition],
    quiet: bool,
) -> Result<Vec<Phase>, BenchError> {
    let budget = cmd.run.record_budget();
    match cmd.mode {
        NativeMode::Send => {
            let spec = spec("send", budget, cmd.run.duration, quiet);
            let cpu = Sample::now();
            let sent = send_phase(cmd, partitions, spec, Instant::now()).await?;
            Ok(vec![Phase::new("send", sent).with_cpu(&cpu)])
        }
        NativeMode::Poll => {
            let target = if cmd.no_preload {
                budget.unwrap_or(u64::MAX)
            } else {
                let spec = spec("preload", budget, cmd.run.duration, quiet);
                send_phase(cmd, partitions, spec, Instant::now())
                    .await?
                    .records
            };
            let shared = PollShared::new(Instant::now(), None, Arc::new(AtomicU64::new(target)));
            let deadline = cmd.run.duration.filter(|_| cmd.no_preload);
            let spec = spec(
                "poll",
                Some(target).filter(|t| *t < u64::MAX),
                deadline,
                quiet,
            );
            let cpu = Sample::now();
            let polled = poll::phase(cmd, partitions, &shared, spec, deadline).await?;
            Ok(vec![Phase::new("poll", polled).with_cpu(&cpu)])
        }
        NativeMode::E2e => e2e(cmd, partitions, quiet).await,
    }
}

/// Pollers first, then senders stamping each message; the pollers stop once they have every
/// message the senders got acknowledged.
async fn e2e(
    cmd: &NativeCommand,
    partitions: &[Partition],
    quiet: bool,
) -> Result<Vec<Phase>, BenchError> {
    let epoch = Instant::now();
    let cpu = Sample::now();
    let target = Arc::new(AtomicU64::new(u64::MAX));
    let shared = PollShared::new(epoch, Some(cmd.run.rate.is_some()), Arc::clone(&target));
    let budget = cmd.run.record_budget();
    let pollers = {
        let (cmd, partitions, shared) = (cmd.clone(), partitions.to_vec(), shared.clone());
        let spec = spec("e2e", budget, cmd.run.duration, quiet);
        tokio::spawn(async move { poll::phase(&cmd, &partitions, &shared, spec, None).await })
    };
    let sent = send_phase(cmd, partitions, spec("send", budget, None, true), epoch).await;
    target.store(sent.as_ref().map_or(0, |s| s.records), Ordering::Relaxed);
    let polled = pollers
        .await
        .map_err(|e| BenchError::Run(format!("poller task failed: {e}")))?;
    let sent = sent?;
    Ok(vec![
        Phase::new("e2e", polled?).with_cpu(&cpu),
        Phase::new("send", sent),
    ])
}

async fn send_phase(
    cmd: &NativeCommand,
    partitions: &[Partition],
    spec: ProgressSpec,
    epoch: Instant,
) -> Result<PhaseData, BenchError> {
    let counter = Counter::new();
    let ticker = Ticker::start(counter.clone(), spec);
    let started = Instant::now();
    let outcome = send::run_senders(cmd, partitions, &counter, epoch).await;
    let elapsed = started.elapsed();
    let timeline = ticker.finish();
    let (latencies, kind) = outcome?;
    Ok(PhaseData {
        records: counter.records(),
        bytes: counter.bytes(),
        elapsed,
        latencies,
        latency_kind: Some(kind),
        timeline,
        errors: 0,
    })
}

fn spec(label: &str, budget: Option<u64>, duration: Option<Duration>, quiet: bool) -> ProgressSpec {
    ProgressSpec {
        label: label.to_string(),
        budget,
        duration,
        quiet,
    }
}

/// Topic names within each stream: `t-0`, `t-1`, ... (the names `kafka --topic-prefix t`
/// reads, so a broker started with `--kafka-stream PREFIX-0` serves what `native send
/// --stream-prefix PREFIX` wrote to Kafka consumers: a cross-protocol read).
fn topic_names(cmd: &NativeCommand) -> Vec<String> {
    (0..cmd.topics).map(|topic| format!("t-{topic}")).collect()
}

/// Every partition of the workload: streams × topics × partitions.
pub fn layout(cmd: &NativeCommand, streams: &[String]) -> Vec<Partition> {
    let topics = topic_names(cmd);
    let mut partitions = Vec::new();
    for stream in streams {
        for topic in &topics {
            for id in 0..cmd.partitions {
                partitions.push(Partition {
                    stream: stream.clone(),
                    topic: topic.clone(),
                    id,
                });
            }
        }
    }
    partitions
}
