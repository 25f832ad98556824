//! Kafka consumers: one rdkafka `BaseConsumer` per thread, either subscribed as a group or with
//! partitions assigned round-robin by hand, reading from the beginning. In e2e mode each record's
//! stamp gives produce-to-consume latency.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Message, Offset, TopicPartitionList};

use crate::cli::KafkaCommand;
use crate::error::BenchError;
use crate::limits;
use crate::payload;
use crate::progress::{Counter, ProgressSpec, Ticker};
use crate::report::{LatencyKind, PhaseData};
use crate::stats::Latencies;

/// How long one `poll` call may block, so stop conditions are checked often.
const POLL_WAIT: Duration = Duration::from_millis(100);
/// How long the end-offset lookup of an e2e assignment may take.
const WATERMARK_WAIT: Duration = Duration::from_secs(10);

/// What every consumer thread shares.
#[derive(Clone)]
pub struct ConsumeShared {
    epoch: Instant,
    /// `Some(intended)` in e2e mode: measure stamp latency; `intended` says the stamps are
    /// fixed-rate intended times.
    e2e: Option<bool>,
    /// Stop once this many records were received in total (may be lowered or set later).
    target: Arc<AtomicU64>,
    /// Partitions the consumers have been given so far.
    assigned: Arc<AtomicUsize>,
    counter: Counter,
}

impl ConsumeShared {
    /// Shared state for consumers whose stamps count from `epoch`.
    pub fn new(epoch: Instant, e2e: Option<bool>, target: u64) -> Self {
        Self {
            epoch,
            e2e,
            target: Arc::new(AtomicU64::new(target)),
            assigned: Arc::new(AtomicUsize::new(0)),
            counter: Counter::new(),
        }
    }

    /// Uses a target another thread sets (e2e: the producers' acknowledged count).
    pub fn with_target(mut self, target: Arc<AtomicU64>) -> Self {
        self.target = target;
        self
    }

    /// Blocks until every partition is assigned to some consumer, or `timeout`.
    pub fn wait_assigned(&self, cmd: &KafkaCommand, timeout: Duration) {
        let total = cmd.topics * cmd.partitions as usize;
        let started = Instant::now();
        while self.assigned.load(Ordering::Relaxed) < total && started.elapsed() < timeout {
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn done(&self) -> bool {
        self.counter.records() >= self.target.load(Ordering::Relaxed)
    }
}

/// Runs `cmd.consumers` consumer threads with a progress ticker until the target count, the
/// deadline, or a stall of [`limits::IDLE_TIMEOUT`].
pub fn phase(
    cmd: &KafkaCommand,
    topics: &[String],
    shared: &ConsumeShared,
    spec: ProgressSpec,
    duration: Option<Duration>,
) -> Result<PhaseData, BenchError> {
    let ticker = Ticker::start(shared.counter.clone(), spec);
    let started = Instant::now();
    let deadline = payload::deadline(started, duration);
    let group = cmd
        .group
        .clone()
        .unwrap_or_else(|| crate::unique_name("whippet-bench-unused"));
    let handles: Vec<_> = (0..cmd.consumers)
        .map(|index| {
            let (cmd, topics, shared, group) =
                (cmd.clone(), topics.to_vec(), shared.clone(), group.clone());
            std::thread::spawn(move || {
                consume_worker(&cmd, &topics, &shared, &group, index, deadline)
            })
        })
        .collect();
    let mut latencies = Latencies::new();
    let mut first_error = None;
    for handle in handles {
        match handle.join() {
            Ok(Ok(worker)) => latencies.merge(&worker),
            Ok(Err(error)) => first_error = first_error.or(Some(error)),
            Err(_) => first_error = Some(BenchError::Run("a consumer thread panicked".into())),
        }
    }
    let elapsed = started.elapsed();
    let timeline = ticker.finish();
    if let Some(error) = first_error {
        return Err(error);
    }
    let latency_kind = shared.e2e.map(|intended| {
        if intended {
            LatencyKind::EndToEndFromIntended
        } else {
            LatencyKind::EndToEnd
        }
    });
    Ok(PhaseData {
        records: shared.counter.records(),
        bytes: shared.counter.bytes(),
        elapsed,
        latencies,
        latency_kind,
        timeline,
        errors: 0,
    })
}

fn consumer(cmd: &KafkaCommand, group: &str) -> Result<BaseConsumer, BenchError> {
    Ok(cmd
        .client_config()
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set("fetch.max.bytes", "52428800")
        .set("max.partition.fetch.bytes", "10485760")
        .create()?)
}

/// Subscribes (group) or assigns this worker's share of the partitions (round-robin).
///
/// End to end, each partition is assigned at its current end offset, looked up by the bench
/// first: assigned at `Beginning`, librdkafka would first ask the broker for that offset and
/// only then fetch, so the records produced meanwhile (the producers start once every
/// partition is assigned) were counted with ~0.5 s of consumer start-up as latency.
fn attach(
    consumer: &BaseConsumer,
    cmd: &KafkaCommand,
    topics: &[String],
    index: usize,
    e2e: bool,
) -> Result<usize, BenchError> {
    if cmd.group.is_some() {
        let names: Vec<&str> = topics.iter().map(String::as_str).collect();
        consumer.subscribe(&names)?;
        return Ok(0);
    }
    let mut assignment = TopicPartitionList::new();
    let all = topics
        .iter()
        .flat_map(|topic| (0..cmd.partitions).map(move |p| (topic, p)));
    for (slot, (topic, partition)) in all.enumerate() {
        if slot % cmd.consumers == index {
            let partition = i32::try_from(partition).unwrap_or(i32::MAX);
            let offset = if e2e {
                let (_, end) = consumer.fetch_watermarks(topic, partition, WATERMARK_WAIT)?;
                Offset::Offset(end)
            } else {
                Offset::Beginning
            };
            assignment.add_partition_offset(topic, partition, offset)?;
        }
    }
    consumer.assign(&assignment)?;
    Ok(assignment.count())
}

fn consume_worker(
    cmd: &KafkaCommand,
    topics: &[String],
    shared: &ConsumeShared,
    group: &str,
    index: usize,
    deadline: Option<Instant>,
) -> Result<Latencies, BenchError> {
    let consumer = consumer(cmd, group)?;
    let assigned = attach(&consumer, cmd, topics, index, shared.e2e.is_some())?;
    shared.assigned.fetch_add(assigned, Ordering::Relaxed);
    let mut group_assigned = cmd.group.is_none();
    let mut latencies = Latencies::new();
    let mut last_progress = Instant::now();
    let mut last_total = shared.counter.records();
    while !shared.done() && !payload::past(deadline) {
        if let Some(result) = consumer.poll(POLL_WAIT) {
            let message = result?;
            let body = message.payload().unwrap_or_default();
            shared.counter.add(1, body.len() as u64);
            if shared.e2e.is_some()
                && let Some(sent_ns) = payload::read_stamp(body)
            {
                let sent = shared.epoch + Duration::from_nanos(sent_ns);
                latencies.record(Instant::now().saturating_duration_since(sent));
            }
        }
        if !group_assigned {
            let count = consumer.assignment().map(|a| a.count()).unwrap_or(0);
            if count > 0 {
                shared.assigned.fetch_add(count, Ordering::Relaxed);
                group_assigned = true;
            }
        }
        let total = shared.counter.records();
        if total != last_total {
            (last_total, last_progress) = (total, Instant::now());
        } else if last_progress.elapsed() > limits::IDLE_TIMEOUT {
            return Err(BenchError::Run(format!(
                "no records for {:?} after {total} records",
                limits::IDLE_TIMEOUT
            )));
        }
    }
    Ok(latencies)
}
