//! The broker on a real failing disk (a loop-mounted ext4 image, see `failing_disk/`), driven
//! by real clients (rdkafka, the `iggy` 0.11 SDK) against the real binary:
//!
//! * a disk that dies under an idempotent producer (EXT4_IOC_SHUTDOWN, journal not flushed)
//!   loses no acknowledged record across the reboot, although librdkafka retries the batches
//!   whose sync failed (issue 22 item 1);
//! * a full disk answers each protocol's storage error (Kafka KAFKA_STORAGE_ERROR for produce
//!   and OffsetCommit; native CannotSaveMessagesToSegment 4006 for sends and CannotWriteToFile
//!   10006 for stored offsets), and everything works again once space is back (item 8).
#![allow(clippy::unwrap_used)]

mod failing_disk;
mod native_sdk_common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use failing_disk::LoopDisk;
use iggy::prelude::{
    Consumer as NativeConsumer, ConsumerOffsetClient, IggyClient, IggyError, IggyMessage,
    MessageClient, Partitioning, SystemClient,
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
