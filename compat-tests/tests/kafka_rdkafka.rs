//! The Rust `rdkafka` crate (bundled librdkafka 2.12.1) against the real `whippet` binary:
//! admin calls, then 10 000 keyed records with headers and explicit CreateTime timestamps under
//! every codec librdkafka has (none, gzip, snappy, lz4, zstd; idempotent for some), consumed per
//! partition from the beginning by direct assignment and checked field by field, plus
//! offsets-for-times lookups. Same data shape as `clients/README.md`.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rdkafka::admin::{
    AdminClient, AdminOptions, AlterConfig, NewPartitions, NewTopic, ResourceSpecifier,
    TopicReplication,
};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::{Offset, Timestamp, TopicPartitionList};
use whippet_compat_tests::WhippetProcess;

const RECORDS: usize = 10_000;
const PARTITIONS: i32 = 3;
const CODECS: [&str; 5] = ["none", "gzip", "snappy", "lz4", "zstd"];
const IDEMPOTENT_CODECS: [&str; 2] = ["gzip", "zstd"];
const TIMEOUT: Duration = Duration::from_secs(15);
const CONSUME_TIMEOUT: Duration = Duration::from_secs(40);
const FILLER: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";

type Admin = AdminClient<DefaultClientContext>;

/// One expected record (the same shape as `clients/python/common.py`'s `record`).
struct Expected {
    partition: i32,
    key: String,
    value: Vec<u8>,
    headers: Vec<(String, Vec<u8>)>,
    timestamp_ms: i64,
}

fn record(i: usize, codec: &str, base_ms: i64) -> Expected {
    let mut value = format!("value-rdkafka-{codec}-{i:05}-").into_bytes();
    value.extend(FILLER.iter().cycle().take((i * 37) % 400));
    Expected {
        partition: i32::try_from(i).unwrap() % PARTITIONS,
        key: format!("key-{codec}-{i}"),
        value,
        headers: vec![
            ("idx".into(), i.to_string().into_bytes()),
            ("codec".into(), codec.as_bytes().to_vec()),
            ("empty".into(), Vec::new()),
        ],
        timestamp_ms: base_ms + i64::try_from(i).unwrap(),
    }
}

fn expected_count(partition: i32) -> i64 {
    let records = i64::try_from(RECORDS).unwrap();
    (records - i64::from(partition) + i64::from(PARTITIONS) - 1) / i64::from(PARTITIONS)
}

/// An hour ago, whole second: explicit CreateTime well inside any retention.
fn base_timestamp_ms() -> i64 {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    (i64::try_from(now.as_secs()).unwrap() - 3600) * 1000
}

fn config(addr: &str) -> ClientConfig {
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", addr);
    config
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn admin_client(addr: &str) -> Admin {
    config(addr).create().unwrap()
}

fn options() -> AdminOptions {
    AdminOptions::new().operation_timeout(Some(TIMEOUT))
}

fn consumer(addr: &str) -> BaseConsumer {
    // librdkafka refuses assign() without a group.id ("Unknown group"); no group is joined.
    config(addr)
        .set("group.id", "whippet-compat-unused")
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "error")
        .create()
        .unwrap()
}

async fn create_topic(admin: &Admin, name: &str, partitions: i32, configs: &[(&str, &str)]) {
    let mut topic = NewTopic::new(name, partitions, TopicReplication::Fixed(1));
    for (key, value) in configs {
        topic = topic.set(key, value);
    }
    let results = admin.create_topics([&topic], &options()).await.unwrap();
    assert_eq!(results, vec![Ok(name.to_string())], "create {name}");
}

fn wait_partitions(consumer: &BaseConsumer, topic: &str, want: usize) {
    let deadline = Instant::now() + TIMEOUT;
    while Instant::now() < deadline {
        if let Ok(metadata) = consumer.fetch_metadata(Some(topic), TIMEOUT)
            && let Some(found) = metadata.topics().iter().find(|t| t.name() == topic)
            && found.error().is_none()
            && found.partitions().len() == want
        {
            return;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("metadata never showed {topic} with {want} partitions");
}

async fn topic_config(admin: &Admin, topic: &str) -> HashMap<String, String> {
    let results = admin
        .describe_configs([&ResourceSpecifier::Topic(topic)], &options())
        .await
        .unwrap();
    let resource = results.into_iter().next().unwrap().unwrap();
    resource
        .entries
        .into_iter()
        .filter_map(|entry| entry.value.map(|value| (entry.name, value)))
        .collect()
}

async fn produce(addr: &str, topic: &str, codec: &str, base_ms: i64) {
    let producer: FutureProducer = config(addr)
        .set("compression.type", codec)
        .set("linger.ms", "5")
        .set("acks", "all")
        .set(
            "enable.idempotence",
            IDEMPOTENT_CODECS.contains(&codec).to_string(),
        )
        .create()
        .unwrap();
    let mut deliveries = Vec::with_capacity(RECORDS);
    for i in 0..RECORDS {
        let want = record(i, codec, base_ms);
        let mut headers = OwnedHeaders::new();
        for (key, value) in &want.headers {
            headers = headers.insert(Header {
                key,
                value: Some(value),
            });
        }
        let mut message = FutureRecord::to(topic)
            .partition(want.partition)
            .key(&want.key)
            .payload(&want.value)
            .timestamp(want.timestamp_ms)
            .headers(headers);
        loop {
            match producer.send_result(message) {
                Ok(delivery) => break deliveries.push(delivery),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    message = back;
                    producer.poll(Duration::from_millis(10));
                }
                Err((error, _)) => panic!("{topic}: produce {i}: {error}"),
            }
        }
    }
    for (i, delivery) in deliveries.into_iter().enumerate() {
        let delivered = delivery.await.unwrap();
        let delivery = delivered.unwrap_or_else(|(e, _)| panic!("{topic}: record {i}: {e}"));
        let want_offset = i64::try_from(i).unwrap() / i64::from(PARTITIONS);
        assert_eq!(
            (delivery.partition, delivery.offset),
            (record(i, codec, base_ms).partition, want_offset),
            "{topic}: record {i} acknowledged at the wrong place"
        );
    }
    producer.flush(TIMEOUT).unwrap();
}

fn check_message(topic: &str, codec: &str, base_ms: i64, next: &mut [i64], message: &impl Message) {
    let partition = message.partition();
    let slot = usize::try_from(partition).unwrap();
    let where_ = format!("{topic}[{partition}]@{}", message.offset());
    assert_eq!(
        message.offset(),
        next[slot],
        "{where_}: offsets dense and in order"
    );
    let i = usize::try_from(next[slot] * i64::from(PARTITIONS) + i64::from(partition)).unwrap();
    assert!(i < RECORDS, "{where_}: more records than produced");
    let want = record(i, codec, base_ms);
    assert_eq!(message.key(), Some(want.key.as_bytes()), "{where_}: key");
    assert_eq!(message.payload(), Some(&want.value[..]), "{where_}: value");
    let headers: Vec<(String, Vec<u8>)> = message
        .headers()
        .map(|h| {
            h.iter()
                .map(|h| (h.key.to_string(), h.value.unwrap_or_default().to_vec()))
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(headers, want.headers, "{where_}: headers");
    assert_eq!(
        message.timestamp(),
        Timestamp::CreateTime(want.timestamp_ms),
        "{where_}: timestamp"
    );
    next[slot] += 1;
}

fn consume_and_check(addr: &str, topic: &str, codec: &str, base_ms: i64) {
    let consumer = consumer(addr);
    let mut assignment = TopicPartitionList::new();
    for p in 0..PARTITIONS {
        assignment
            .add_partition_offset(topic, p, Offset::Beginning)
            .unwrap();
    }
    consumer.assign(&assignment).unwrap();
    let mut next = vec![0_i64; usize::try_from(PARTITIONS).unwrap()];
    let deadline = Instant::now() + CONSUME_TIMEOUT;
    while (0..PARTITIONS).any(|p| next[usize::try_from(p).unwrap()] < expected_count(p)) {
        assert!(
            Instant::now() < deadline,
            "{topic}: timed out, consumed {next:?}"
        );
        match consumer.poll(Duration::from_millis(200)) {
            None => {}
            Some(Err(error)) => panic!("{topic}: consumer error {error}"),
            Some(Ok(message)) => check_message(topic, codec, base_ms, &mut next, &message),
        }
    }
    // Stop fetching: a long-polling Fetch would hold up the ListOffsets queued behind it on
    // the same connection (requests are answered in order, as in Kafka).
    consumer.unassign().unwrap();
    for p in 0..PARTITIONS {
        let marks = consumer.fetch_watermarks(topic, p, TIMEOUT).unwrap();
        assert_eq!(marks, (0, expected_count(p)), "{topic}[{p}] watermarks");
    }
    check_offsets_for_times(&consumer, topic, base_ms);
}

/// ListOffsets by timestamp: record i has timestamp base + i, so the first offset at or after
/// base + i in i's partition is i / 3 (or the next one of that partition).
fn check_offsets_for_times(consumer: &BaseConsumer, topic: &str, base_ms: i64) {
    for i in [0_i64, 1, 4_999, 9_998, 9_999] {
        let mut query = TopicPartitionList::new();
        for p in 0..PARTITIONS {
            query
                .add_partition_offset(topic, p, Offset::Offset(base_ms + i))
                .unwrap();
        }
        let found = consumer.offsets_for_times(query, TIMEOUT).unwrap();
        for p in 0..PARTITIONS {
            // First record index j >= i with j % 3 == p, at offset j / 3.
            let j = i + (i64::from(p) - i).rem_euclid(i64::from(PARTITIONS));
            let want = if j < i64::try_from(RECORDS).unwrap() {
                Offset::Offset(j / i64::from(PARTITIONS))
            } else {
                Offset::End
            };
            let got = found.find_partition(topic, p).unwrap().offset();
            assert_eq!(got, want, "{topic}[{p}]: offset for time base+{i}");
        }
    }
}

#[test]
fn rdkafka_produces_and_consumes_every_codec() {
    let broker = WhippetProcess::start::<&str>([]).unwrap();
    let addr = broker.kafka_addr().to_string();
    let runtime = runtime();
    let admin = admin_client(&addr);
    let metadata_consumer = consumer(&addr);
    for codec in CODECS {
        let topic = format!("rdkafka-{codec}");
        runtime.block_on(create_topic(&admin, &topic, PARTITIONS, &[]));
        wait_partitions(&metadata_consumer, &topic, 3);
        let base_ms = base_timestamp_ms();
        let started = Instant::now();
        runtime.block_on(produce(&addr, &topic, codec, base_ms));
        let produced = started.elapsed();
        consume_and_check(&addr, &topic, codec, base_ms);
        println!(
            "{codec}: {RECORDS} records ok (produce {produced:?}, consume {:?})",
            started.elapsed() - produced
        );
    }
}

/// Create twice (the second is TOPIC_ALREADY_EXISTS), describe, alter, describe again.
async fn create_describe_alter(admin: &Admin, consumer: &BaseConsumer, topic: &str) {
    create_topic(admin, topic, 3, &[("retention.ms", "3600000")]).await;
    wait_partitions(consumer, topic, 3);
    let again = NewTopic::new(topic, 3, TopicReplication::Fixed(1));
    let results = admin.create_topics([&again], &options()).await.unwrap();
    let exists = (topic.to_string(), RDKafkaErrorCode::TopicAlreadyExists);
    assert_eq!(results, vec![Err(exists)]);

    let configs = topic_config(admin, topic).await;
    for key in [
        "retention.bytes",
        "segment.bytes",
        "max.message.bytes",
        "cleanup.policy",
        "message.timestamp.type",
    ] {
        assert!(
            configs.contains_key(key),
            "describe lacks {key}: {configs:?}"
        );
    }
    let retention = |configs: &HashMap<String, String>| configs.get("retention.ms").cloned();
    assert_eq!(retention(&configs).as_deref(), Some("3600000"));

    let alter = AlterConfig::new(ResourceSpecifier::Topic(topic)).set("retention.ms", "7200000");
    let results = admin.alter_configs([&alter], &options()).await.unwrap();
    assert!(results.iter().all(Result::is_ok), "alter: {results:?}");
    let configs = topic_config(admin, topic).await;
    assert_eq!(retention(&configs).as_deref(), Some("7200000"));
}

/// Grow to 5 partitions, write 10 records to partition 0 and delete those before offset 4.
async fn grow_and_delete_records(admin: &Admin, consumer: &BaseConsumer, addr: &str, topic: &str) {
    let grow = NewPartitions::new(topic, 5);
    let results = admin.create_partitions([&grow], &options()).await.unwrap();
    assert_eq!(results, vec![Ok(topic.to_string())]);
    wait_partitions(consumer, topic, 5);

    let producer: FutureProducer = config(addr).create().unwrap();
    for i in 0..10 {
        let payload = format!("v{i}");
        let record = FutureRecord::<(), _>::to(topic)
            .partition(0)
            .payload(&payload);
        producer.send(record, TIMEOUT).await.unwrap();
    }
    let mut before = TopicPartitionList::new();
    before
        .add_partition_offset(topic, 0, Offset::Offset(4))
        .unwrap();
    let deleted = admin.delete_records(&before, &options()).await.unwrap();
    let low = deleted.find_partition(topic, 0).unwrap();
    assert_eq!((low.offset(), low.error()), (Offset::Offset(4), Ok(())));
    let marks = consumer.fetch_watermarks(topic, 0, TIMEOUT).unwrap();
    assert_eq!(marks, (4, 10));
}

fn wait_gone(consumer: &BaseConsumer, topic: &str) {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let metadata = consumer.fetch_metadata(None, TIMEOUT).unwrap();
        if metadata.topics().iter().all(|t| t.name() != topic) {
            return;
        }
        assert!(Instant::now() < deadline, "{topic} listed after delete");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// validate_only creates nothing; an unknown `cleanup.policy` is refused (INVALID_CONFIG).
async fn validate_only_and_refused_config(admin: &Admin, consumer: &BaseConsumer) {
    let topic = NewTopic::new("rdkafka-validate", 2, TopicReplication::Fixed(1));
    let validate = options().validate_only(true);
    let results = admin.create_topics([&topic], &validate).await.unwrap();
    assert_eq!(results, vec![Ok("rdkafka-validate".to_string())]);
    let compact = NewTopic::new("rdkafka-compact", 1, TopicReplication::Fixed(1))
        .set("cleanup.policy", "shred");
    let results = admin.create_topics([&compact], &options()).await.unwrap();
    let refused = (
        "rdkafka-compact".to_string(),
        RDKafkaErrorCode::InvalidConfig,
    );
    assert_eq!(results, vec![Err(refused)]);
    wait_gone(consumer, "rdkafka-validate");
    wait_gone(consumer, "rdkafka-compact");
}

#[test]
fn rdkafka_admin_calls() {
    let broker = WhippetProcess::start::<&str>([]).unwrap();
    let addr = broker.kafka_addr().to_string();
    let admin = admin_client(&addr);
    let consumer = consumer(&addr);
    let topic = "rdkafka-admin";
    runtime().block_on(async {
        validate_only_and_refused_config(&admin, &consumer).await;
        create_describe_alter(&admin, &consumer, topic).await;
        grow_and_delete_records(&admin, &consumer, &addr, topic).await;
        let results = admin.delete_topics(&[topic], &options()).await.unwrap();
        assert_eq!(results, vec![Ok(topic.to_string())]);
    });
    wait_gone(&consumer, topic);
}
