//! Native pollers: each task has its own connection and polls its share of the partitions
//! (round-robin) by explicit offset or with `next`, or, with `--group`, as a consumer-group
//! member that the server assigns partitions to. Poll mode records each request's round trip;
//! e2e mode records each message's stamp latency.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use iggy::prelude::*;

use super::Partition;
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
    stream: Identifier,
    topic: Identifier,
    partition: Option<u32>,
    next: u64,
}

async fn cursors(
    client: &IggyClient,
    cmd: &NativeCommand,
    mine: Vec<Option<Partition>>,
) -> Result<Vec<Cursor>, BenchError> {
    let mut cursors = Vec::with_capacity(mine.len());
    for p in mine.into_iter().flatten() {
        let stream = Identifier::named(&p.stream)?;
        let topic = Identifier::named(&p.topic)?;
        if let Some(group) = &cmd.group {
            // Another member may have created it already; joining is what must succeed.
            let _ = client.create_consumer_group(&stream, &topic, group).await;
            client
                .join_consumer_group(&stream, &topic, &Identifier::named(group)?)
                .await?;
        }
        let partition = cmd.group.is_none().then_some(p.id);
        cursors.push(Cursor {
            stream,
            topic,
            partition,
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
    let client = super::connect(cmd).await?;
    let mut cursors = cursors(&client, cmd, mine).await?;
    let consumer = match &cmd.group {
        Some(group) => Consumer::group(Identifier::named(group)?),
        None => Consumer::new(Identifier::numeric(index as u32 + 1)?),
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
        let strategy = if by_next {
            PollingStrategy::next()
        } else {
            PollingStrategy::offset(cursor.next)
        };
        let asked = Instant::now();
        let polled = client
            .poll_messages(
                &cursor.stream,
                &cursor.topic,
                cursor.partition,
                &consumer,
                &strategy,
                cmd.messages_per_batch,
                by_next,
            )
            .await?;
        let received = Instant::now();
        if polled.messages.is_empty() {
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
        let mut bytes = 0u64;
        for message in &polled.messages {
            bytes += message.payload.len() as u64;
            cursor.next = cursor.next.max(message.header.offset + 1);
            if shared.e2e.is_some()
                && let Some(sent_ns) = payload::read_stamp(&message.payload)
            {
                let sent = shared.epoch + Duration::from_nanos(sent_ns);
                latencies.record(received.saturating_duration_since(sent));
            }
        }
        if shared.e2e.is_none() {
            latencies.record(received - asked);
        }
        shared.counter.add(polled.messages.len() as u64, bytes);
    }
    Ok(latencies)
}
