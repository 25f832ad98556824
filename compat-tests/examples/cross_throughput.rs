//! Cross-protocol read cost (issue 6 item 5): the same 1 KiB records read by the protocol that
//! wrote them (zero-copy) and by the other one (transcoded), side by side. Writes `RECORDS`
//! records with rdkafka (uncompressed, or `CODEC`) to Kafka topic `xk`, and as many with the
//! `iggy` 0.11 SDK to native topic `xs`/`t` (Kafka name `xs.t`), then reports MB/s and
//! records/s for: rdkafka reading `xk` (same) and `xs.t` (cross); the SDK polling `xs`/`t`
//! (same) and `kafka`/`xk` (cross). Each read runs twice; the better run is reported.
//!
//! Start a broker (release build for meaningful numbers), then:
//!   cargo run --release -p whippet-compat-tests --example cross_throughput -- \
//!       KAFKA_HOST:PORT NATIVE_HOST:PORT [RECORDS] [CODEC]
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use bytes::Bytes;
use iggy::prelude::*;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer as _};
use rdkafka::message::Message;
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::{Offset, TopicPartitionList};

const RECORD_BYTES: usize = 1024;
const BATCH: usize = 1_000;
const DEFAULT_RECORDS: usize = 200_000;
const TIMEOUT: Duration = Duration::from_secs(300);

fn value(i: usize) -> Vec<u8> {
    let mut value = vec![b'a' + (i % 26) as u8; RECORD_BYTES];
    value[..8].copy_from_slice(&(i as u64).to_le_bytes());
    value
}

fn report(what: &str, records: usize, elapsed: Duration) -> f64 {
    let secs = elapsed.as_secs_f64();
    let mb = (records * RECORD_BYTES) as f64 / secs / 1e6;
    println!(
        "{what:<28} {records} x {RECORD_BYTES} B in {elapsed:.2?}: {mb:.0} MB/s, {:.0} rec/s",
        records as f64 / secs
    );
    mb
}

fn kafka_produce(addr: &str, topic: &str, codec: &str, records: usize) {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", addr)
        .create()
        .unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let new = NewTopic::new(topic, 1, TopicReplication::Fixed(1));
    runtime
        .block_on(admin.create_topics([&new], &AdminOptions::new()))
        .unwrap();
    let producer: ThreadedProducer<DefaultProducerContext> = ClientConfig::new()
        .set("bootstrap.servers", addr)
        .set("compression.type", codec)
        .set("linger.ms", "5")
        .set("batch.size", "1000000")
        .create()
        .unwrap();
    for i in 0..records {
        let v = value(i);
        let mut record = BaseRecord::<(), [u8]>::to(topic).partition(0).payload(&v);
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((_, back)) => {
                    record = back;
                    producer.poll(Duration::from_millis(10));
                }
            }
        }
    }
    producer.flush(TIMEOUT).unwrap();
}

fn kafka_read(addr: &str, topic: &str, records: usize) -> Duration {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", addr)
        .set("group.id", "whippet-cross-throughput-unused")
        .set("enable.auto.commit", "false")
        .set("fetch.max.bytes", "52428800")
        .set("max.partition.fetch.bytes", "10485760")
        .create()
        .unwrap();
    let mut assignment = TopicPartitionList::new();
    assignment
        .add_partition_offset(topic, 0, Offset::Beginning)
        .unwrap();
    consumer.assign(&assignment).unwrap();
    let started = Instant::now();
    let mut read = 0;
    while read < records {
        assert!(
            started.elapsed() < TIMEOUT,
            "{topic}: read timed out at {read}"
        );
        if let Some(message) = consumer.poll(Duration::from_millis(100)) {
            let message = message.unwrap();
            assert_eq!(message.payload().map(<[u8]>::len), Some(RECORD_BYTES));
            read += 1;
        }
    }
    started.elapsed()
}

async fn native_send(client: &IggyClient, records: usize) {
    client.create_stream("xs").await.unwrap();
    let options = TopicCreateOptions {
        partitions_count: Some(1),
        ..Default::default()
    };
    client
        .create_topic(&Identifier::named("xs").unwrap(), "t", &options)
        .await
        .unwrap();
    let (stream, topic) = (
        Identifier::named("xs").unwrap(),
        Identifier::named("t").unwrap(),
    );
    let mut sent = 0;
    while sent < records {
        let n = BATCH.min(records - sent);
        let mut batch: Vec<IggyMessage> = (sent..sent + n)
            .map(|i| {
                IggyMessage::builder()
                    .payload(Bytes::from(value(i)))
                    .build()
                    .unwrap()
            })
            .collect();
        client
            .send_messages(&stream, &topic, &Partitioning::partition_id(0), &mut batch)
            .await
            .unwrap();
        sent += n;
    }
}

async fn native_read(client: &IggyClient, stream: &str, topic: &str, records: usize) -> Duration {
    let (stream, topic) = (
        Identifier::named(stream).unwrap(),
        Identifier::named(topic).unwrap(),
    );
    let consumer = Consumer::new(Identifier::numeric(1).unwrap());
    let started = Instant::now();
    let mut next = 0u64;
    while (next as usize) < records {
        assert!(
            started.elapsed() < TIMEOUT,
            "native read timed out at {next}"
        );
        let polled = client
            .poll_messages(
                &stream,
                &topic,
                Some(0),
                &consumer,
                &PollingStrategy::offset(next),
                BATCH as u32,
                false,
            )
            .await
            .unwrap();
        for message in &polled.messages {
            assert_eq!(message.payload.len(), RECORD_BYTES);
        }
        next += polled.messages.len() as u64;
    }
    started.elapsed()
}

fn best(a: Duration, b: Duration) -> Duration {
    a.min(b)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(kafka), Some(native)) = (args.next(), args.next()) else {
        eprintln!("usage: cross_throughput KAFKA_HOST:PORT NATIVE_HOST:PORT [RECORDS] [CODEC]");
        std::process::exit(2);
    };
    let records = args.next().map_or(DEFAULT_RECORDS, |n| n.parse().unwrap());
    let codec = args.next().unwrap_or_else(|| "none".to_string());
    kafka_produce(&kafka, "xk", &codec, records);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let client = runtime.block_on(async {
        let client = IggyClient::builder()
            .with_tcp()
            .with_server_address(native.clone())
            .build()
            .unwrap();
        client.connect().await.unwrap();
        client
            .login_user(DEFAULT_ROOT_USERNAME, DEFAULT_ROOT_PASSWORD)
            .await
            .unwrap();
        native_send(&client, records).await;
        client
    });
    let same = best(
        kafka_read(&kafka, "xk", records),
        kafka_read(&kafka, "xk", records),
    );
    let cross = best(
        kafka_read(&kafka, "xs.t", records),
        kafka_read(&kafka, "xs.t", records),
    );
    let same_mb = report("kafka read, kafka data", records, same);
    let cross_mb = report("kafka read, native data", records, cross);
    println!("  cross/same time: {:.2}x", same_mb / cross_mb);
    let (same, cross) = runtime.block_on(async {
        let same = best(
            native_read(&client, "xs", "t", records).await,
            native_read(&client, "xs", "t", records).await,
        );
        let cross = best(
            native_read(&client, "kafka", "xk", records).await,
            native_read(&client, "kafka", "xk", records).await,
        );
        (same, cross)
    });
    let same_mb = report("native read, native data", records, same);
    let cross_mb = report(
        &format!("native read, kafka data ({codec})"),
        records,
        cross,
    );
    println!("  cross/same time: {:.2}x", same_mb / cross_mb);
}
