//! SIGKILL campaign (issue 21 item 3): the real `whippet` binary with `--fsync always` is
//! SIGKILLed over and over while a Kafka producer (rdkafka, acks=all, idempotent) and a native
//! producer (the `iggy` 0.11 SDK) both write to their own 3-partition topics; after each kill
//! it is started again on the same data directory and every record acknowledged so far must be
//! there: Kafka records at the very offset their acknowledgement named, native messages by
//! payload on their partition. The end of each partition may hold records whose answer the
//! kill cut off (written but never acknowledged); that is allowed, a missing acknowledged one
//! is not.
//!
//! Cycles: [`CYCLES_ENV`] (default 10, the CI run); `scripts/sigkill-campaign` runs the long
//! one (200 cycles). Each cycle checks the records of its own cycle and that no partition got
//! shorter; the last step reads every partition from the start and checks every cycle's
//! records again. Kill moments vary over the cycles (a fixed pseudo-random sequence, so a
//! failing cycle can be replayed).
#![allow(clippy::unwrap_used)]

mod native_sdk_common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use iggy::prelude::{Client, DEFAULT_ROOT_PASSWORD, DEFAULT_ROOT_USERNAME, UserClient};
use iggy::prelude::{
    Identifier, IggyClient, IggyMessage, MessageClient, Partitioning, PollingStrategy,
};
use native_sdk_common::{root, stream_and_topic};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord, Producer, PurgeConfig};
use rdkafka::{Offset, TopicPartitionList};
use whippet_compat_tests::{Launch, WhippetProcess};

/// Environment variable with the number of kill cycles.
const CYCLES_ENV: &str = "WHIPPET_SIGKILL_CYCLES";
const DEFAULT_CYCLES: u32 = 10;
const PARTITIONS: u32 = 3;
const TOPIC: &str = "campaign";
/// Records a writer keeps in flight (Kafka) or sends in one batch (native).
const WINDOW: usize = 20;
/// How long a write may take before its writer gives up on it (the broker is dead by then).
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long reading back may take.
const READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Acknowledged records: Kafka's by (partition, offset), native payloads by partition.
#[derive(Default)]
struct Acked {
    kafka: BTreeMap<(i32, i64), String>,
    native: BTreeMap<u32, BTreeSet<String>>,
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// The kill moment of `cycle`: 150..1650 ms after the writers start, from a fixed sequence.
fn kill_after(cycle: u32) -> Duration {
    // splitmix64's finalizer: consecutive cycles land far apart.
    let mut x = u64::from(cycle).wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^= x >> 31;
    Duration::from_millis(150 + x % 1_500)
}

fn kafka_config(broker: &WhippetProcess) -> ClientConfig {
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", broker.kafka_addr().to_string());
    config
}

fn create_kafka_topic(broker: &WhippetProcess) {
    let admin: AdminClient<DefaultClientContext> = kafka_config(broker).create().unwrap();
    let topic = NewTopic::new(TOPIC, PARTITIONS as i32, TopicReplication::Fixed(1));
    let results = runtime()
        .block_on(admin.create_topics([&topic], &AdminOptions::new()))
        .unwrap();
    assert_eq!(results, vec![Ok(TOPIC.to_string())]);
}

/// The Kafka writer: windows of acks=all idempotent sends round-robin over the partitions
/// until `stop`; returns what was acknowledged.
fn kafka_writer(
    producer: FutureProducer,
    cycle: u32,
    stop: Arc<AtomicBool>,
) -> JoinHandle<Vec<((i32, i64), String)>> {
    std::thread::spawn(move || {
        runtime().block_on(async {
            let mut acked = Vec::new();
            let mut seq = 0_u64;
            while !stop.load(Ordering::SeqCst) {
                let mut window = Vec::new();
                for _ in 0..WINDOW {
                    let value = format!("k-{cycle}-{seq}");
                    let partition = (seq % u64::from(PARTITIONS)) as i32;
                    seq += 1;
                    let record = FutureRecord::<(), _>::to(TOPIC)
                        .partition(partition)
                        .payload(&value);
                    match producer.send_result(record) {
                        Ok(delivery) => window.push((value, delivery)),
                        Err(_) => break,
                    }
                }
                let mut failed = false;
                for (value, delivery) in window {
                    match delivery.await {
                        Ok(Ok(d)) => acked.push(((d.partition, d.offset), value)),
                        _ => failed = true,
                    }
                }
                if failed {
                    break;
                }
            }
            acked
        })
    })
}

/// The native writer: logs in on its own runtime (the SDK's connection belongs to the runtime
/// it was made on), then sends batches of [`WINDOW`] messages, one partition per batch in
/// turn, until `stop` or the first failed send; returns what was acknowledged.
fn native_writer(
    addr: String,
    ids: (Identifier, Identifier),
    cycle: u32,
    stop: Arc<AtomicBool>,
) -> JoinHandle<Vec<(u32, String)>> {
    std::thread::spawn(move || {
        runtime().block_on(async {
            let client = IggyClient::builder()
                .with_tcp()
                .with_server_address(addr)
                .build()
                .unwrap();
            client.connect().await.unwrap();
            client
                .login_user(DEFAULT_ROOT_USERNAME, DEFAULT_ROOT_PASSWORD)
                .await
                .unwrap();
            let mut acked = Vec::new();
            let mut batch_no = 0_u64;
            while !stop.load(Ordering::SeqCst) {
                let partition = (batch_no % u64::from(PARTITIONS)) as u32;
                let values: Vec<String> = (0..WINDOW)
                    .map(|i| format!("n-{cycle}-{batch_no}-{i}"))
                    .collect();
                batch_no += 1;
                let mut messages: Vec<IggyMessage> = values
                    .iter()
                    .map(|v| {
                        IggyMessage::builder()
                            .payload(v.clone().into())
                            .build()
                            .unwrap()
                    })
                    .collect();
                let partitioning = Partitioning::partition_id(partition);
                let sent = client.send_messages(&ids.0, &ids.1, &partitioning, &mut messages);
                // Once the broker is killed, an unanswered send is given up at once (the SDK
                // would try to reconnect): its outcome is unknown, so it is not acknowledged.
                let answer = tokio::select! {
                    answer = tokio::time::timeout(WRITE_TIMEOUT, sent) => answer,
                    () = stopped(&stop) => break,
                };
                match answer {
                    Ok(Ok(_)) => acked.extend(values.into_iter().map(|v| (partition, v))),
                    _ => break,
                }
            }
            acked
        })
    })
}

/// Resolves once `stop` is set.
async fn stopped(stop: &AtomicBool) {
    while !stop.load(Ordering::SeqCst) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Kafka records of `partition` from offset `from` to the high watermark, by offset.
fn kafka_read(broker: &WhippetProcess, partition: i32, from: i64) -> BTreeMap<i64, String> {
    let consumer: BaseConsumer = kafka_config(broker)
        .set("group.id", "campaign-reader")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let (_, high) = consumer
        .fetch_watermarks(TOPIC, partition, READ_TIMEOUT)
        .unwrap();
    let mut list = TopicPartitionList::new();
    list.add_partition_offset(TOPIC, partition, Offset::Offset(from))
        .unwrap();
    consumer.assign(&list).unwrap();
    let mut records = BTreeMap::new();
    let deadline = Instant::now() + READ_TIMEOUT;
    let mut next = from;
    while next < high {
        assert!(
            Instant::now() < deadline,
            "Kafka partition {partition}: read stalled at {next} of {high}"
        );
        if let Some(message) = consumer.poll(Duration::from_millis(200)) {
            let message = message.unwrap();
            let value = String::from_utf8(message.payload().unwrap_or_default().to_vec()).unwrap();
            next = message.offset() + 1;
            records.insert(message.offset(), value);
        }
    }
    records
}

/// Native payloads of `partition` from offset `from` on, and the offset after the last.
async fn native_read(
    client: &IggyClient,
    ids: &(Identifier, Identifier),
    partition: u32,
    from: u64,
) -> (Vec<String>, u64) {
    let mut payloads = Vec::new();
    let mut next = from;
    loop {
        let strategy = PollingStrategy::offset(next);
        let polled =
            native_sdk_common::poll(client, &ids.0, &ids.1, partition, strategy, 1_000).await;
        let Some(last) = polled.messages.last() else {
            return (payloads, next);
        };
        next = last.header.offset + 1;
        for message in &polled.messages {
            payloads.push(String::from_utf8(message.payload.to_vec()).unwrap());
        }
    }
}

/// Where each partition ends: Kafka high watermarks, native next offsets.
#[derive(Clone, Debug, PartialEq)]
struct Ends {
    kafka: Vec<i64>,
    native: Vec<u64>,
}

impl Ends {
    fn zero() -> Self {
        Self {
            kafka: vec![0; PARTITIONS as usize],
            native: vec![0; PARTITIONS as usize],
        }
    }
}

/// Reads every partition from `from` on and checks that each record of `acked` is there (a
/// Kafka record at its acknowledged offset); returns where the partitions end and how many
/// records were read that are not in `acked` (written, answer cut off by the kill).
async fn verify(broker: &WhippetProcess, acked: &Acked, from: &Ends, label: &str) -> (Ends, usize) {
    let native = root(broker).await;
    let ids = (native_sdk_common::id(1), native_sdk_common::id(0));
    let mut ends = Ends::zero();
    let mut unacked = 0;
    for p in 0..PARTITIONS {
        let (partition, i) = (p as i32, p as usize);
        let read = kafka_read(broker, partition, from.kafka[i]);
        ends.kafka[i] = read.keys().last().map_or(from.kafka[i], |o| o + 1);
        let mut expected = 0;
        for ((_, offset), value) in acked.kafka.range((partition, 0)..(partition + 1, 0)) {
            expected += 1;
            assert_eq!(
                read.get(offset),
                Some(value),
                "{label}: Kafka partition {p} offset {offset}: acknowledged {value:?} is not \
                 there"
            );
        }
        unacked += read.len() - expected;

        let (payloads, next) = native_read(&native, &ids, p, from.native[i]).await;
        ends.native[i] = next;
        let present: BTreeSet<&String> = payloads.iter().collect();
        let want = acked.native.get(&p).into_iter().flatten();
        let missing: Vec<&String> = want.filter(|v| !present.contains(v)).collect();
        assert!(
            missing.is_empty(),
            "{label}: native partition {p}: {} acknowledged messages missing, first {:?}",
            missing.len(),
            missing.first()
        );
        unacked += payloads.len() - acked.native.get(&p).map_or(0, BTreeSet::len);
    }
    (ends, unacked)
}

/// One cycle: both writers run until the broker is SIGKILLed `kill_after(cycle)` in; returns
/// what they had acknowledged.
fn write_until_killed(
    broker: &mut WhippetProcess,
    ids: &(Identifier, Identifier),
    cycle: u32,
) -> Acked {
    let producer: FutureProducer = kafka_config(broker)
        .set("acks", "all")
        .set("enable.idempotence", "true")
        .set("linger.ms", "1")
        .set("message.timeout.ms", WRITE_TIMEOUT.as_millis().to_string())
        .create()
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let kafka = kafka_writer(producer.clone(), cycle, Arc::clone(&stop));
    let native = native_writer(
        broker.native_addr().to_string(),
        ids.clone(),
        cycle,
        Arc::clone(&stop),
    );
    std::thread::sleep(kill_after(cycle));
    broker.kill().unwrap();
    stop.store(true, Ordering::SeqCst);
    // What was in flight can no longer be answered: fail it now instead of at its timeout.
    producer.purge(PurgeConfig::default().queue().inflight());
    let mut acked = Acked::default();
    acked.kafka.extend(kafka.join().unwrap());
    for (p, value) in native.join().unwrap() {
        acked.native.entry(p).or_default().insert(value);
    }
    acked
}

/// Figures of the whole campaign.
#[derive(Debug, Default)]
struct Figures {
    kafka_acked: usize,
    native_acked: usize,
    unacked_present: usize,
}

#[test]
fn no_acknowledged_record_is_lost_across_sigkills() {
    let cycles: u32 = std::env::var(CYCLES_ENV)
        .ok()
        .map_or(DEFAULT_CYCLES, |v| v.parse().expect(CYCLES_ENV));
    let started = Instant::now();
    let mut broker = Launch::new().args(["--fsync", "always"]).start().unwrap();
    create_kafka_topic(&broker);
    let rt = runtime();
    let ids = rt.block_on(async {
        let native = root(&broker).await;
        stream_and_topic(&native, "campaign", "t", PARTITIONS).await
    });
    assert_eq!(ids, (native_sdk_common::id(1), native_sdk_common::id(0)));
    let mut all = Acked::default();
    let mut ends = Ends::zero();
    let mut figures = Figures::default();
    for cycle in 0..cycles {
        let acked = write_until_killed(&mut broker, &ids, cycle);
        broker.restart().unwrap();
        let label = format!("cycle {cycle} (killed {:?} in)", kill_after(cycle));
        let (now, unacked) = rt.block_on(verify(&broker, &acked, &ends, &label));
        assert!(
            now.kafka.iter().zip(&ends.kafka).all(|(n, e)| n >= e)
                && now.native.iter().zip(&ends.native).all(|(n, e)| n >= e),
            "{label}: a partition got shorter: {ends:?} before, {now:?} after"
        );
        let native_acked = acked.native.values().map(BTreeSet::len).sum::<usize>();
        eprintln!(
            "{label}: {} Kafka and {native_acked} native records acknowledged and found, \
             {unacked} present unacknowledged",
            acked.kafka.len()
        );
        figures.kafka_acked += acked.kafka.len();
        figures.native_acked += native_acked;
        figures.unacked_present += unacked;
        ends = now;
        all.kafka.extend(acked.kafka);
        for (p, values) in acked.native {
            all.native.entry(p).or_default().extend(values);
        }
    }
    // Every cycle's records once more, reading every partition from the start.
    let (end, _) = rt.block_on(verify(&broker, &all, &Ends::zero(), "final read"));
    assert_eq!(end, ends, "the partitions' ends after the final read");
    println!(
        "{cycles} SIGKILL cycles (--fsync always) in {:?}: {} Kafka and {} native records \
         acknowledged, 0 lost; {} records present whose acknowledgement the kill cut off; \
         partition ends {ends:?}",
        started.elapsed(),
        figures.kafka_acked,
        figures.native_acked,
        figures.unacked_present
    );
}

#[test]
fn kill_moments_spread_over_the_window() {
    let moments: Vec<Duration> = (0..200).map(kill_after).collect();
    assert!(
        moments
            .iter()
            .all(|m| (150..1_650).contains(&m.as_millis()))
    );
    let early = moments.iter().filter(|m| m.as_millis() < 900).count();
    assert!(
        (60..=140).contains(&early),
        "{early} of 200 in the first half"
    );
    assert_ne!(kill_after(0), kill_after(1));
}
