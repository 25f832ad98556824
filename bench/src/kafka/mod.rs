//! Kafka mode over rdkafka (librdkafka): `produce`, `consume` and `e2e` against any
//! Kafka-compatible broker. Workers are OS threads because rdkafka's producer and consumer are
//! blocking; the topics are created (and, when the bench named them, deleted) with the admin API.

mod consume;
mod produce;

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::types::RDKafkaErrorCode;

use crate::cli::{KafkaCommand, KafkaMode};
use crate::cpu::Sample;
use crate::error::BenchError;
use crate::limits;
use crate::progress::{Counter, ProgressSpec, Ticker};
use crate::report::{Phase, PhaseData};

use consume::ConsumeShared;
use produce::ProduceShared;

/// Runs one Kafka workload and returns its phases, primary first.
pub fn run(cmd: &KafkaCommand, quiet: bool) -> Result<Vec<Phase>, BenchError> {
    let (prefix, owned) = match &cmd.topic_prefix {
        Some(prefix) => (prefix.clone(), false),
        None => (crate::unique_name("whippet-bench"), true),
    };
    let topics: Vec<String> = (0..cmd.topics).map(|i| format!("{prefix}-{i}")).collect();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| BenchError::Io("start runtime".into(), e))?;
    let admin: AdminClient<DefaultClientContext> = cmd.client_config().create()?;
    if !(cmd.mode == KafkaMode::Consume && cmd.no_preload) {
        create_topics(&runtime, &admin, &topics, cmd.partitions)?;
    }
    let result = run_mode(cmd, &topics, quiet);
    if owned {
        let names: Vec<&str> = topics.iter().map(String::as_str).collect();
        let options = AdminOptions::new().operation_timeout(Some(limits::KAFKA_FLUSH_TIMEOUT));
        if let Err(error) = runtime.block_on(admin.delete_topics(&names, &options)) {
            eprintln!("warning: could not delete topics {prefix}-*: {error}");
        }
    }
    result
}

fn run_mode(cmd: &KafkaCommand, topics: &[String], quiet: bool) -> Result<Vec<Phase>, BenchError> {
    let budget = cmd.run.record_budget();
    match cmd.mode {
        KafkaMode::Produce => {
            let spec = spec("produce", budget, cmd.run.duration, quiet);
            let cpu = Sample::now();
            let (produced, _) = produce_phase(cmd, topics, spec, Instant::now())?;
            Ok(vec![Phase::new("produce", produced).with_cpu(&cpu)])
        }
        KafkaMode::Consume => {
            let target = if cmd.no_preload {
                budget.unwrap_or(u64::MAX)
            } else {
                let spec = spec("preload", budget, cmd.run.duration, quiet);
                let (preloaded, _) = produce_phase(cmd, topics, spec, Instant::now())?;
                preloaded.records
            };
            let shared = ConsumeShared::new(Instant::now(), None, target);
            let deadline = cmd.run.duration.filter(|_| cmd.no_preload);
            let spec = spec(
                "consume",
                Some(target).filter(|t| *t < u64::MAX),
                deadline,
                quiet,
            );
            let cpu = Sample::now();
            let consumed = consume::phase(cmd, topics, &shared, spec, deadline)?;
            Ok(vec![Phase::new("consume", consumed).with_cpu(&cpu)])
        }
        KafkaMode::E2e => e2e(cmd, topics, quiet),
    }
}

/// Consumers first (and assigned), then producers stamping each record; the consumers stop
/// when they have received every record the producers got acknowledged.
fn e2e(cmd: &KafkaCommand, topics: &[String], quiet: bool) -> Result<Vec<Phase>, BenchError> {
    let epoch = Instant::now();
    let cpu = Sample::now();
    let target = Arc::new(AtomicU64::new(u64::MAX));
    let shared = ConsumeShared::new(epoch, Some(cmd.run.rate.is_some()), u64::MAX)
        .with_target(Arc::clone(&target));
    let budget = cmd.run.record_budget();
    let consumers = {
        let (cmd, topics, shared) = (cmd.clone(), topics.to_vec(), shared.clone());
        let spec = spec("e2e", budget, cmd.run.duration, quiet);
        std::thread::spawn(move || consume::phase(&cmd, &topics, &shared, spec, None))
    };
    shared.wait_assigned(cmd, limits::IDLE_TIMEOUT);
    let produce_spec = spec("produce", budget, cmd.run.duration, true);
    let produced = produce_phase(cmd, topics, produce_spec, epoch);
    let produced = match produced {
        Ok((data, acked)) => {
            target.store(acked, std::sync::atomic::Ordering::Relaxed);
            data
        }
        Err(error) => {
            target.store(0, std::sync::atomic::Ordering::Relaxed);
            let _ = consumers.join();
            return Err(error);
        }
    };
    let consumed = consumers
        .join()
        .map_err(|_| BenchError::Run("a consumer thread panicked".into()))??;
    Ok(vec![
        Phase::new("e2e", consumed).with_cpu(&cpu),
        Phase::new("produce", produced),
    ])
}

/// Runs the producers with a progress ticker; returns the phase data and the acknowledged count.
fn produce_phase(
    cmd: &KafkaCommand,
    topics: &[String],
    spec: ProgressSpec,
    epoch: Instant,
) -> Result<(PhaseData, u64), BenchError> {
    let counter = Counter::new();
    let shared = ProduceShared {
        epoch,
        counter: counter.clone(),
    };
    let ticker = Ticker::start(counter.clone(), spec);
    let started = Instant::now();
    let outcome = produce::run_producers(cmd, topics, &shared);
    let elapsed = started.elapsed();
    let timeline = ticker.finish();
    let outcome = outcome?;
    let acked = counter.records();
    let data = PhaseData {
        records: acked,
        bytes: counter.bytes(),
        elapsed,
        latencies: outcome.latencies,
        latency_kind: Some(outcome.kind),
        timeline,
        errors: outcome.errors,
    };
    Ok((data, acked))
}

fn spec(label: &str, budget: Option<u64>, duration: Option<Duration>, quiet: bool) -> ProgressSpec {
    ProgressSpec {
        label: label.to_string(),
        budget,
        duration,
        quiet,
    }
}

fn create_topics(
    runtime: &tokio::runtime::Runtime,
    admin: &AdminClient<DefaultClientContext>,
    topics: &[String],
    partitions: u32,
) -> Result<(), BenchError> {
    let partitions = i32::try_from(partitions)
        .map_err(|_| BenchError::Config(format!("{partitions} partitions is too many")))?;
    let new_topics: Vec<NewTopic<'_>> = topics
        .iter()
        .map(|name| NewTopic::new(name, partitions, TopicReplication::Fixed(1)))
        .collect();
    let options = AdminOptions::new().operation_timeout(Some(limits::KAFKA_FLUSH_TIMEOUT));
    let results = runtime.block_on(admin.create_topics(&new_topics, &options))?;
    for result in results {
        match result {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((name, code)) => {
                return Err(BenchError::Kafka(format!("create topic {name}: {code}")));
            }
        }
    }
    Ok(())
}
