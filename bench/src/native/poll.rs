//! Native pollers: each task has its own connection and polls its share of the partitions
//! (round-robin) by explicit offset or with `next`, or, with `--group`, as a consumer-group
//! member that the server assigns partitions to. Poll mode records each request's round trip;
//! e2e mode records each message's stamp latency.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::client::{PollConsumer, PollRequest, Polled};
use super::{NativeClient, Partition};
use crate::cli::{NativeCommand, Polling};
use crate::error::BenchError;
use crate::limits;
use crate::payload;
use crate::progress::{Counter, ProgressSpec, Ticker};
use crate::report::{LatencyKind, PhaseData};
use crate::stats::Latencies;

/// Pause after an empty poll, so an idle poller does not spin.
const EMPTY_POLL_PAUSE: Duration = Duration::from_millis(1);

/// What every poller shares.
#[derive(Clone)]
pub struct PollShared {
    epoch: Instant,
    /// `Some(intended)` in e2e mode (stamps are intended fixed-rate times when true).
    e2e: Option<bool>,
    /// Stop once this many messages were received in total.
    target: Arc<AtomicU64>,
    counter: Counter,
}

impl PollShared {
    /// Shared state for pollers whose stamps count from `epoch`.
    pub fn new(epoch: Instant, e2e: Option<bool>, target: Arc<AtomicU64>) -> Self {
        Self {
            epoch,
            e2e,
            target,
            counter: Counter::new(),
        }
    }

    fn done(&self) -> bool {
        self.counter.records() >= self.target.load(Ordering::Relaxed)
    }
}

/// Runs `cmd.consumers` poller tasks with a progress ticker until the target count, the
/// deadline, or a stall of [`limits::IDLE_TIMEOUT`].
pub async fn phase(
    cmd: &NativeCommand,
    partitions: &[Partition],
    shared: &PollShared,
    spec: ProgressSpec,
    duration: Option<Duration>,
) -> Result<PhaseData, BenchError> {
    let ticker = Ticker::start(shared.counter.clone(), spec);
    let started = Instant::now();
    let deadline = payload::deadline(started, duration);
    let mut tasks = Vec::new();
    for index in 0..cmd.consumers {
        let mine = assigned(cmd, partitions, index);
        let (cmd, shared) = (cmd.clone(), shared.clone());
        tasks.push(tokio::spawn(async move {
            poll_worker(&cmd, mine, &shared, index, deadline).await
        }));
    }
    let mut latencies = Latencies::new();
    let mut first_error = None;
    for task in tasks {
        match task.await {
            Ok(Ok(worker)) => latencies.merge(&worker),
            Ok(Err(error)) => first_error = first_error.or(Some(error)),
            Err(error) => first_error = Some(BenchError::Run(format!("poller task: {error}"))),
        }
    }
    let elapsed = started.elapsed();
    let timeline = ticker.finish();
    if let Some(error) = first_error {
        return Err(error);
    }
    let latency_kind = match shared.e2e {
        Some(true) => LatencyKind::EndToEndFromIntended,
        Some(false) => LatencyKind::EndToEnd,
        None => LatencyKind::Request,
    };
    Ok(PhaseData {
        records: shared.counter.records(),
        bytes: shared.counter.bytes(),
        elapsed,
        latencies,
        latency_kind: Some(latency_kind),
        timeline,
        errors: 0,
    })
}

/// This poller's partitions: round-robin by hand, or with a group one entry per topic with no
/// partition (the server assigns).
fn assigned(cmd: &NativeCommand, partitions: &[Partition], index: usize) -> Vec<Option<Partition>> {
    if cmd.group.is_some() {
        let mut topics: Vec<Option<Partition>> = Vec::new();
        for p in partitions {
            let entry = Partition { id: 0, ..p.clone() };
            if !topics.iter().flatten().any(|t| *t == entry) {
                topics.push(Some(entry));
            }
        }
        return topics;
    }
    partitions
        .iter()
        .enumerate()
        .filter(|(slot, _)| slot % cmd.consumers == index)
        .map(|(_, p)| Some(p.clone()))
        .collect()
}

/// A poller's view of one partition (or one group topic) and where it has read to.
struct Cursor {
    stream: String,
    topic: String,
    partition: Option<u32>,
    next: u64,
}

async fn cursors(
    client: &NativeClient,
    cmd: &NativeCommand,
    mine: Vec<Option<Partition>>,
) -> Result<Vec<Cursor>, BenchError> {
    let mut cursors = Vec::with_capacity(mine.len());
    for p in mine.into_iter().flatten() {
        if let Some(group) = &cmd.group {
            client.join_group(&p.stream, &p.topic, group).await?;
        }
        cursors.push(Cursor {
            partition: cmd.group.is_none().then_some(p.id),
            stream: p.stream,
            topic: p.topic,
            next: 0,
        });
    }
    Ok(cursors)
}

async fn poll_worker(
    cmd: &NativeCommand,
    mine: Vec<Option<Partition>>,
    shared: &PollShared,
    index: usize,
    deadline: Option<Instant>,
) -> Result<Latencies, BenchError> {
    let client = NativeClient::connect(cmd).await?;
    let mut cursors = cursors(&client, cmd, mine).await?;
    let consumer = match &cmd.group {
        Some(group) => PollConsumer::Group(group),
        None => PollConsumer::Single(index as u32 + 1),
    };
    let by_next = cmd.group.is_some() || cmd.polling == Polling::Next;
    let mut latencies = Latencies::new();
    let mut last_progress = Instant::now();
    let mut last_total = shared.counter.records();
    let mut turn = 0usize;
    while !cursors.is_empty() && !shared.done() && !payload::past(deadline) {
        let slot = turn % cursors.len();
        let cursor = &mut cursors[slot];
        turn += 1;
        let request = PollRequest {
            stream: &cursor.stream,
            topic: &cursor.topic,
            partition: cursor.partition,
            consumer,
            offset: (!by_next).then_some(cursor.next),
            count: cmd.messages_per_batch,
            auto_commit: by_next,
        };
        let asked = Instant::now();
        let polled = client.poll(&request).await?;
        let received = Instant::now();
        if polled.is_empty() {
            let total = shared.counter.records();
            if total != last_total {
                (last_total, last_progress) = (total, received);
            } else if last_progress.elapsed() > limits::IDLE_TIMEOUT {
                return Err(BenchError::Run(format!(
                    "no messages for {:?} after {} messages",
                    limits::IDLE_TIMEOUT,
                    shared.counter.records()
                )));
            }
            tokio::time::sleep(EMPTY_POLL_PAUSE).await;
            continue;
        }
        last_progress = received;
        let bytes = account(&polled, cursor, shared, received, &mut latencies);
        if shared.e2e.is_none() {
            latencies.record(received - asked);
        }
        shared.counter.add(polled.len() as u64, bytes);
    }
    Ok(latencies)
}

/// Moves the cursor past the polled messages and, in e2e mode, records each message's stamp
/// latency; returns their payload bytes.
fn account(
    polled: &Polled,
    cursor: &mut Cursor,
    shared: &PollShared,
    received: Instant,
    latencies: &mut Latencies,
) -> u64 {
    let mut bytes = 0u64;
    polled.for_each(|offset, body| {
        bytes += body.len() as u64;
        cursor.next = cursor.next.max(offset + 1);
        if shared.e2e.is_some()
            && let Some(sent_ns) = payload::read_stamp(body)
        {
            let sent = shared.epoch + Duration::from_nanos(sent_ns);
            latencies.record(received.saturating_duration_since(sent));
        }
    });
    bytes
}
