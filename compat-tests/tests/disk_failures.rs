//! The broker on a real failing disk (a loop-mounted ext4 image, see `failing_disk/`), driven
//! by real clients (rdkafka, the `iggy` 0.11 SDK) against the real binary:
//!
//! * a disk that dies under an idempotent producer (EXT4_IOC_SHUTDOWN, journal not flushed)
//!   loses no acknowledged record across the reboot, although librdkafka retries the batches
//!   whose sync failed (issue 22 item 1);
//! * a full disk answers each protocol's storage error (Kafka KAFKA_STORAGE_ERROR for produce
//!   and OffsetCommit; native CannotSaveMessagesToSegment 4006 for sends and CannotWriteToFile
//!   10006 for stored offsets), and everything works again once space is back (item 8);
//! * records alone filling the disk (Kafka and native producers taking turns until each is
//!   refused with its storage error) leave every acknowledged record readable byte for byte,
//!   offsets dense, both protocols writing again once space is back, and a restart that finds
//!   the log clean (issue 21 item 3).
#![allow(clippy::unwrap_used)]

mod failing_disk;
mod native_sdk_common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use failing_disk::LoopDisk;
use iggy::prelude::{
    Consumer as NativeConsumer, ConsumerOffsetClient, IggyClient, IggyError, IggyMessage,
    MessageClient, Partitioning, PollingStrategy, SystemClient,
};
use native_sdk_common::{assert_code, root, stream_and_topic};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Message, Offset, TopicPartitionList};
use whippet_compat_tests::{Launch, WhippetProcess};

const TOPIC: &str = "disk";

fn client_config(broker: &WhippetProcess) -> ClientConfig {
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", broker.kafka_addr().to_string());
    config
}

fn start_on(disk: &LoopDisk) -> WhippetProcess {
    let data = disk.dir().join("data");
    Launch::new()
        .without_data_dir_flag()
        .args(["--fsync", "always", "--data-dir"])
        .args([data.as_os_str()])
        .start()
        .unwrap()
}

async fn create_topic(broker: &WhippetProcess) {
    let admin: AdminClient<DefaultClientContext> = client_config(broker).create().unwrap();
    let topic = NewTopic::new(TOPIC, 1, TopicReplication::Fixed(1));
    let results = admin
        .create_topics([&topic], &AdminOptions::new())
        .await
        .unwrap();
    for result in results {
        result.unwrap();
    }
}

/// Produces numbered records through an idempotent producer for `run_for`, shutting the disk
/// down after `shutdown_after`; returns the records whose delivery was acknowledged.
async fn produce_through_failure(
    broker: &WhippetProcess,
    disk: &LoopDisk,
    shutdown_after: Duration,
    run_for: Duration,
) -> BTreeSet<String> {
    let producer: FutureProducer = client_config(broker)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        // Small batches, five in flight: when the disk dies, several unsynced batches are
        // outstanding and librdkafka retries them with their original sequence numbers.
        .set("linger.ms", "0")
        .set("batch.size", "2048")
        .set("max.in.flight.requests.per.connection", "5")
        .set("message.timeout.ms", "4000")
        .create()
        .unwrap();
    let started = Instant::now();
    let mut acked = BTreeSet::new();
    let mut shut = false;
    let mut next = 0_u64;
    while started.elapsed() < run_for {
        if !shut && started.elapsed() >= shutdown_after {
            disk.shut_down();
            shut = true;
        }
        let mut window = Vec::new();
        for _ in 0..400 {
            let value = format!("record-{next:08}");
            next += 1;
            let record = FutureRecord::<(), _>::to(TOPIC).payload(&value);
            window.push((value.clone(), producer.send_result(record).unwrap()));
        }
        for (value, delivery) in window {
            if let Ok(Ok(_)) = delivery.await {
                acked.insert(value);
            }
        }
    }
    acked
}

/// Every record of the topic, read from the beginning until `expected` are all seen or no new
/// record arrives for a few seconds.
fn read_all(broker: &WhippetProcess, expected: &BTreeSet<String>) -> BTreeSet<String> {
    let consumer: BaseConsumer = client_config(broker)
        .set("group.id", "disk-reader")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let mut assignment = TopicPartitionList::new();
    assignment
        .add_partition_offset(TOPIC, 0, Offset::Beginning)
        .unwrap();
    consumer.assign(&assignment).unwrap();
    let mut seen = BTreeSet::new();
    let mut last_new = Instant::now();
    while !expected.is_subset(&seen) && last_new.elapsed() < Duration::from_secs(8) {
        if let Some(message) = consumer.poll(Duration::from_millis(200)) {
            let message = message.unwrap();
            let value = String::from_utf8(message.payload().unwrap().to_vec()).unwrap();
            seen.insert(value);
            last_new = Instant::now();
        }
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dying_disk_loses_no_acknowledged_record() {
    for cycle in 0..3_u32 {
        let Some(disk) = LoopDisk::create(64) else {
            return;
        };
        let mut broker = start_on(&disk);
        create_topic(&broker).await;
        let shutdown_after = Duration::from_millis(600 + 300 * u64::from(cycle));
        let acked =
            produce_through_failure(&broker, &disk, shutdown_after, Duration::from_secs(4)).await;
        assert!(!acked.is_empty(), "cycle {cycle}: nothing was acknowledged");
        broker.kill().unwrap();
        disk.remount();
        broker.restart().unwrap();
        let seen = read_all(&broker, &acked);
        eprintln!(
            "cycle {cycle}: {} acknowledged, {} read back after the reboot",
            acked.len(),
            seen.len()
        );
        let lost: Vec<&String> = acked.difference(&seen).collect();
        assert!(
            lost.is_empty(),
            "cycle {cycle}: {} of {} acknowledged records lost after the disk died, first {:?}",
            lost.len(),
            acked.len(),
            lost.first()
        );
        broker.kill().unwrap();
    }
}

/// Repeats `attempt` (each try writes a little more) until it fails; returns the error.
async fn first_failure<T, E, F, Fut>(what: &str, mut attempt: F) -> E
where
    F: FnMut(u64) -> Fut,
    Fut: std::future::Future<Output = Result<T, E>>,
{
    for round in 0..2_000 {
        if let Err(error) = attempt(round).await {
            return error;
        }
    }
    panic!("{what}: never failed on a full disk");
}

async fn send_native(client: &IggyClient, round: u64) -> Result<(), IggyError> {
    let (sid, tid) = (native_sdk_common::id(1), native_sdk_common::id(0));
    let payload = bytes::Bytes::from(vec![b'x'; 16 * 1024]);
    let mut messages = vec![IggyMessage::builder().payload(payload).build().unwrap()];
    let _ = round;
    client
        .send_messages(&sid, &tid, &Partitioning::partition_id(0), &mut messages)
        .await
        .map(drop)
}

async fn store_native_offset(client: &IggyClient, round: u64) -> Result<(), IggyError> {
    let (sid, tid) = (native_sdk_common::id(1), native_sdk_common::id(0));
    let consumer = NativeConsumer::new(native_sdk_common::id(
        u32::try_from(round % 1000).unwrap() + 1,
    ));
    client
        .store_consumer_offset(&consumer, &sid, &tid, Some(0), round)
        .await
}

fn commit_kafka(consumer: &BaseConsumer, round: u64) -> Result<(), KafkaError> {
    let mut offsets = TopicPartitionList::new();
    let offset = Offset::Offset(i64::try_from(round % 3).unwrap());
    offsets.add_partition_offset(TOPIC, 0, offset).unwrap();
    consumer.commit(&offsets, CommitMode::Sync)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_answers_storage_errors_and_recovers() {
    let Some(disk) = LoopDisk::create(24) else {
        return;
    };
    let broker = start_on(&disk);
    create_topic(&broker).await;
    // No retries, so the broker's answer reaches the application instead of a timeout.
    let producer: FutureProducer = client_config(&broker)
        .set("message.timeout.ms", "3000")
        .set("retries", "0")
        .create()
        .unwrap();
    for i in 0..3 {
        let record = FutureRecord::<(), _>::to(TOPIC).payload("before");
        producer.send(record, Duration::from_secs(5)).await.unwrap();
        let _ = i;
    }
    let consumer: BaseConsumer = client_config(&broker)
        .set("group.id", "disk-committer")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    commit_kafka(&consumer, 1).unwrap();
    let native = root(&broker).await;
    stream_and_topic(&native, "full", "t", 1).await;
    send_native(&native, 0).await.unwrap();
    store_native_offset(&native, 0).await.unwrap();

    let filler = disk.fill();
    let error = first_failure("native send", |round| send_native(&native, round)).await;
    assert_code::<()>(Err(error), 4006, "native send on a full disk");
    let error = first_failure("native offset", |round| store_native_offset(&native, round)).await;
    assert_code::<()>(Err(error), 10006, "native stored offset on a full disk");
    let error = first_failure("kafka commit", |round| {
        std::future::ready(commit_kafka(&consumer, round))
    })
    .await;
    assert_eq!(
        error.rdkafka_error_code(),
        Some(RDKafkaErrorCode::KafkaStorageError),
        "OffsetCommit on a full disk: {error}"
    );
    let error = first_failure("kafka produce", |_| {
        let record = FutureRecord::<(), _>::to(TOPIC).payload("during");
        let sent = producer.send(record, Duration::from_secs(5));
        async move { sent.await.map(drop).map_err(|(error, _)| error) }
    })
    .await;
    assert_eq!(
        error.rdkafka_error_code(),
        Some(RDKafkaErrorCode::KafkaStorageError),
        "produce on a full disk: {error}"
    );

    std::fs::remove_file(filler).unwrap();
    send_native(&native, 1).await.unwrap();
    store_native_offset(&native, 7).await.unwrap();
    commit_kafka(&consumer, 2).unwrap();
    let record = FutureRecord::<(), _>::to(TOPIC).payload("after");
    producer.send(record, Duration::from_secs(5)).await.unwrap();
    native.get_stats().await.unwrap();
}

/// Record `i` of `prefix`: its name, then 16 KiB that depend on `i`, so a record read back
/// with another's bytes (or torn) does not compare equal.
fn numbered(prefix: &str, i: u64) -> Vec<u8> {
    let mut bytes = format!("{prefix}-{i:08}-").into_bytes();
    bytes.extend((0..16 * 1024_u64).map(|j| ((i * 31 + j) % 251) as u8));
    bytes
}

/// What one protocol had acknowledged, in offset order, and the error that stopped it.
#[derive(Default)]
struct Filled {
    acked: Vec<Vec<u8>>,
    kafka_error: Option<KafkaError>,
    native_error: Option<IggyError>,
}

/// Writes numbered records through both protocols in turn (Kafka with acks=all and no retries,
/// the native SDK one message per send) until each has been refused once; nothing else writes
/// to the disk. Returns (Kafka, native).
async fn fill_by_producing(
    producer: &FutureProducer,
    native: &IggyClient,
    (sid, tid): &(iggy::prelude::Identifier, iggy::prelude::Identifier),
) -> (Filled, Filled) {
    let (mut kafka, mut iggy) = (Filled::default(), Filled::default());
    for round in 0..4_000_u64 {
        if kafka.kafka_error.is_none() {
            let value = numbered("kafka", round);
            let record = FutureRecord::<(), _>::to(TOPIC).payload(&value);
            match producer.send(record, Duration::from_secs(10)).await {
                Ok(delivery) => {
                    assert_eq!(delivery.offset, kafka.acked.len() as i64, "dense offsets");
                    kafka.acked.push(value);
                }
                Err((error, _)) => kafka.kafka_error = Some(error),
            }
        }
        if iggy.native_error.is_none() {
            let value = numbered("native", round);
            let message = IggyMessage::builder()
                .payload(bytes::Bytes::from(value.clone()))
                .build()
                .unwrap();
            let partitioning = Partitioning::partition_id(0);
            match native
                .send_messages(sid, tid, &partitioning, &mut [message])
                .await
            {
                Ok(_) => iggy.acked.push(value),
                Err(error) => iggy.native_error = Some(error),
            }
        }
        if kafka.kafka_error.is_some() && iggy.native_error.is_some() {
            return (kafka, iggy);
        }
    }
    panic!(
        "the disk never filled: {} Kafka and {} native records acknowledged",
        kafka.acked.len(),
        iggy.acked.len()
    );
}

/// Every Kafka record of partition 0 from the beginning, in offset order (stops when `want`
/// were read or nothing new arrives for 5 s).
fn kafka_records(broker: &WhippetProcess, want: usize) -> Vec<Vec<u8>> {
    let consumer: BaseConsumer = client_config(broker)
        .set("group.id", "disk-full-reader")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let mut assignment = TopicPartitionList::new();
    assignment
        .add_partition_offset(TOPIC, 0, Offset::Beginning)
        .unwrap();
    consumer.assign(&assignment).unwrap();
    let mut records = Vec::new();
    let mut last_new = Instant::now();
    while records.len() < want && last_new.elapsed() < Duration::from_secs(5) {
        if let Some(message) = consumer.poll(Duration::from_millis(200)) {
            let message = message.unwrap();
            assert_eq!(message.offset(), records.len() as i64, "dense offsets");
            records.push(message.payload().unwrap_or_default().to_vec());
            last_new = Instant::now();
        }
    }
    records
}

/// Every native message of partition 0, in offset order.
async fn native_records(
    client: &IggyClient,
    (sid, tid): &(iggy::prelude::Identifier, iggy::prelude::Identifier),
) -> Vec<Vec<u8>> {
    let mut records: Vec<Vec<u8>> = Vec::new();
    loop {
        let strategy = PollingStrategy::offset(records.len() as u64);
        let polled = native_sdk_common::poll(client, sid, tid, 0, strategy, 100).await;
        if polled.messages.is_empty() {
            return records;
        }
        for message in &polled.messages {
            assert_eq!(message.header.offset, records.len() as u64, "dense offsets");
            records.push(message.payload.to_vec());
        }
    }
}

/// Compares what was read back with what was acknowledged, naming the first difference.
fn assert_same(what: &str, read: &[Vec<u8>], acked: &[Vec<u8>]) {
    let head = |b: &Vec<u8>| String::from_utf8_lossy(&b[..b.len().min(20)]).into_owned();
    if let Some(i) = (0..read.len().min(acked.len())).find(|&i| read[i] != acked[i]) {
        panic!(
            "{what}: record {i} differs: read {:?}, acknowledged {:?}",
            head(&read[i]),
            head(&acked[i])
        );
    }
    assert_eq!(read.len(), acked.len(), "{what}: record count");
}

/// Reads both protocols' records back and compares them with what was acknowledged.
async fn assert_intact(
    broker: &WhippetProcess,
    native: &IggyClient,
    ids: &(iggy::prelude::Identifier, iggy::prelude::Identifier),
    (kafka, iggy): (&[Vec<u8>], &[Vec<u8>]),
    when: &str,
) {
    let read = kafka_records(broker, kafka.len());
    assert_same(&format!("Kafka {when}"), &read, kafka);
    let read = native_records(native, ids).await;
    assert_same(&format!("native {when}"), &read, iggy);
}

/// Writes one more record through each protocol, which must be acknowledged at the next offset.
async fn write_one_more(
    producer: &FutureProducer,
    native: &IggyClient,
    ids: &(iggy::prelude::Identifier, iggy::prelude::Identifier),
    kafka: &mut Filled,
    iggy: &mut Filled,
) {
    let value = numbered("kafka-after", 0);
    let record = FutureRecord::<(), _>::to(TOPIC).payload(&value);
    let delivery = producer
        .send(record, Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(delivery.offset, kafka.acked.len() as i64);
    kafka.acked.push(value);
    let value = numbered("native-after", 0);
    let message = IggyMessage::builder()
        .payload(bytes::Bytes::from(value.clone()))
        .build()
        .unwrap();
    native
        .send_messages(
            &ids.0,
            &ids.1,
            &Partitioning::partition_id(0),
            &mut [message],
        )
        .await
        .unwrap();
    iggy.acked.push(value);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn producing_until_the_disk_is_full_corrupts_nothing() {
    let Some(disk) = LoopDisk::create(24) else {
        return;
    };
    // Ballast to free later: the records themselves fill the rest.
    let ballast = disk.dir().join("ballast");
    std::fs::write(&ballast, vec![0_u8; 3 << 20]).unwrap();
    let mut broker = start_on(&disk);
    create_topic(&broker).await;
    let producer: FutureProducer = client_config(&broker)
        .set("acks", "all")
        .set("retries", "0")
        .set("linger.ms", "0")
        .set("message.timeout.ms", "10000")
        .create()
        .unwrap();
    let native = root(&broker).await;
    let ids = stream_and_topic(&native, "fill", "t", 1).await;

    let (mut kafka, mut iggy) = fill_by_producing(&producer, &native, &ids).await;
    let kafka_error = kafka.kafka_error.take().unwrap();
    assert_eq!(
        kafka_error.rdkafka_error_code(),
        Some(RDKafkaErrorCode::KafkaStorageError),
        "produce on a disk the records filled: {kafka_error}"
    );
    assert_code::<()>(
        Err(iggy.native_error.take().unwrap()),
        4006,
        "native send on a disk the records filled",
    );
    eprintln!(
        "disk full after {} Kafka and {} native records of 16 KiB",
        kafka.acked.len(),
        iggy.acked.len()
    );
    assert!(!kafka.acked.is_empty() && !iggy.acked.is_empty());
    assert_intact(
        &broker,
        &native,
        &ids,
        (&kafka.acked, &iggy.acked),
        "while full",
    )
    .await;

    // Space back: both protocols write again, at the next offsets.
    std::fs::remove_file(&ballast).unwrap();
    write_one_more(&producer, &native, &ids, &mut kafka, &mut iggy).await;
    assert_intact(
        &broker,
        &native,
        &ids,
        (&kafka.acked, &iggy.acked),
        "after space came back",
    )
    .await;

    // A restart finds a clean log (no recovery needed) holding exactly the same records.
    drop(native);
    let status = broker.restart().unwrap();
    assert!(status.success(), "broker exit on SIGTERM: {status:?}");
    assert!(
        broker.stderr().contains("log opened cleanly"),
        "restart after the full disk needed recovery:\n{}",
        broker.stderr()
    );
    let native = root(&broker).await;
    assert_intact(
        &broker,
        &native,
        &ids,
        (&kafka.acked, &iggy.acked),
        "after a restart",
    )
    .await;
}
