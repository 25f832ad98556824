//! Kafka producers: one rdkafka `ThreadedProducer` per thread, records spread over the topics,
//! delivery latency measured in the delivery callback from the send time carried as the
//! message's opaque value (the intended time on a fixed-rate schedule).

use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use rdkafka::ClientContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::DeliveryResult;
use rdkafka::producer::{BaseRecord, Producer, ProducerContext, ThreadedProducer};

use crate::cli::KafkaCommand;
use crate::error::BenchError;
use crate::limits;
use crate::payload::{self, Schedule};
use crate::progress::Counter;
use crate::report::LatencyKind;
use crate::stats::Latencies;

/// What every producer thread shares.
#[derive(Clone)]
pub struct ProduceShared {
    /// Zero of the timestamps written into records and opaques.
    pub epoch: Instant,
    /// Acknowledged records and bytes.
    pub counter: Counter,
}

/// Merged result of all producer threads.
pub struct ProduceOutcome {
    /// Delivery latencies.
    pub latencies: Latencies,
    /// What they measure.
    pub kind: LatencyKind,
    /// Failed deliveries.
    pub errors: u64,
}

/// Delivery callback state: latency samples and error count of one producer.
struct DeliveryContext {
    epoch: Instant,
    counter: Counter,
    state: Mutex<(Latencies, u64)>,
    /// Deliveries (acknowledged or failed) so far, for `--in-flight`.
    delivered: Mutex<u64>,
    delivery: Condvar,
}

impl DeliveryContext {
    /// Waits until at least `count` records have been delivered (or failed).
    fn wait_delivered(&self, count: u64) -> Result<(), BenchError> {
        let poisoned = |_| BenchError::Run("delivery count poisoned".into());
        let mut delivered = self.delivered.lock().map_err(poisoned)?;
        while *delivered < count {
            let (guard, timeout) = self
                .delivery
                .wait_timeout(delivered, limits::IDLE_TIMEOUT)
                .map_err(|_| BenchError::Run("delivery count poisoned".into()))?;
            if timeout.timed_out() && *guard < count {
                return Err(BenchError::Run("no acknowledgement for too long".into()));
            }
            delivered = guard;
        }
        Ok(())
    }
}

impl ClientContext for DeliveryContext {}

impl ProducerContext for DeliveryContext {
    /// Send time in nanoseconds since the epoch.
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, sent_ns: usize) {
        let now = Instant::now();
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        match result {
            Ok(message) => {
                let bytes = message.payload_len() as u64;
                self.counter.add(1, bytes);
                let sent = self.epoch + Duration::from_nanos(sent_ns as u64);
                state.0.record(now.saturating_duration_since(sent));
            }
            Err(_) => state.1 += 1,
        }
        drop(state);
        if let Ok(mut delivered) = self.delivered.lock() {
            *delivered += 1;
            self.delivery.notify_all();
        }
    }
}

/// Runs `cmd.producers` producer threads until the budget or the deadline, then flushes.
pub fn run_producers(
    cmd: &KafkaCommand,
    topics: &[String],
    shared: &ProduceShared,
) -> Result<ProduceOutcome, BenchError> {
    let start = Instant::now();
    let deadline = payload::deadline(start, cmd.run.duration);
    let budget = cmd.run.record_budget();
    let handles: Vec<_> = (0..cmd.producers)
        .map(|index| {
            let (cmd, topics, shared) = (cmd.clone(), topics.to_vec(), shared.clone());
            let records = budget.map(|b| payload::share(b, cmd.producers, index));
            std::thread::spawn(move || {
                let per_sec = cmd.run.rate.map(|r| r as f64 / cmd.producers as f64);
                let schedule = Schedule::new(start, per_sec);
                produce_worker(&cmd, &topics, &shared, index, records, deadline, schedule)
            })
        })
        .collect();
    let mut latencies = Latencies::new();
    let mut errors = 0;
    let mut first_error = None;
    for handle in handles {
        match handle.join() {
            Ok(Ok((worker, worker_errors))) => {
                latencies.merge(&worker);
                errors += worker_errors;
            }
            Ok(Err(error)) => first_error = first_error.or(Some(error)),
            Err(_) => first_error = Some(BenchError::Run("a producer thread panicked".into())),
        }
    }
    if let Some(error) = first_error {
        return Err(error);
    }
    let kind = if cmd.run.rate.is_some() {
        LatencyKind::AckFromIntended
    } else {
        LatencyKind::Ack
    };
    Ok(ProduceOutcome {
        latencies,
        kind,
        errors,
    })
}

fn producer(
    cmd: &KafkaCommand,
    shared: &ProduceShared,
) -> Result<ThreadedProducer<DeliveryContext>, BenchError> {
    let context = DeliveryContext {
        epoch: shared.epoch,
        counter: shared.counter.clone(),
        state: Mutex::new((Latencies::new(), 0)),
        delivered: Mutex::new(0),
        delivery: Condvar::new(),
    };
    Ok(cmd
        .client_config()
        .set("acks", cmd.run_acks())
        .set("compression.type", cmd.compression.as_config())
        .set("linger.ms", cmd.linger_ms.to_string())
        .set("batch.size", cmd.batch_size.to_string())
        .set("queue.buffering.max.messages", "500000")
        .create_with_context(context)?)
}

/// One producer thread: send, retrying while the local queue is full, then flush. Returns the
/// delivery latencies and failed deliveries.
fn produce_worker(
    cmd: &KafkaCommand,
    topics: &[String],
    shared: &ProduceShared,
    index: usize,
    records: Option<u64>,
    deadline: Option<Instant>,
    schedule: Option<Schedule>,
) -> Result<(Latencies, u64), BenchError> {
    let producer = producer(cmd, shared)?;
    let bodies = payload::bodies(cmd.run.record_size);
    let mut buffer = vec![0u8; cmd.run.record_size];
    let mut k: u64 = 0;
    while records.is_none_or(|n| k < n) && !payload::past(deadline) {
        let sent_at = schedule.map_or_else(Instant::now, |s| s.wait(k));
        let sent_ns = payload::nanos_since(shared.epoch, sent_at);
        buffer.copy_from_slice(&bodies[(k as usize + index) % bodies.len()]);
        payload::stamp(&mut buffer, sent_ns, k);
        let topic = &topics[(k as usize + index) % topics.len()];
        let opaque = usize::try_from(sent_ns).unwrap_or(usize::MAX);
        send(
            &producer,
            BaseRecord::with_opaque_to(topic, opaque).payload(&buffer[..]),
        )?;
        k += 1;
        if let Some(in_flight) = cmd.in_flight {
            producer
                .context()
                .wait_delivered(k.saturating_sub(in_flight.max(1)))?;
        }
    }
    producer.flush(limits::KAFKA_FLUSH_TIMEOUT)?;
    let state = producer
        .context()
        .state
        .lock()
        .map_err(|_| BenchError::Run("delivery state poisoned".into()))?;
    Ok((state.0.clone(), state.1))
}

fn send(
    producer: &ThreadedProducer<DeliveryContext>,
    mut record: BaseRecord<'_, (), [u8], usize>,
) -> Result<(), BenchError> {
    let waiting_since = Instant::now();
    loop {
        match producer.send(record) {
            Ok(()) => return Ok(()),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                if waiting_since.elapsed() > limits::IDLE_TIMEOUT {
                    return Err(BenchError::Run("producer queue full for too long".into()));
                }
                record = back;
                std::thread::sleep(Duration::from_millis(1));
            }
            Err((error, _)) => return Err(error.into()),
        }
    }
}

impl KafkaCommand {
    fn run_acks(&self) -> &'static str {
        self.acks.as_config()
    }
}
