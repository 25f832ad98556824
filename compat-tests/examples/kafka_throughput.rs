//! Quick Kafka throughput measurement with the `rdkafka` crate (not a test, not the full bench):
//! 1 KiB records into one partition with acks=1, for compression `none` and `lz4`, reporting
//! MB/s and records/s for produce (until every delivery is acknowledged) and for consume (from
//! offset 0 until every record is read).
//!
//! Start a broker (release build for meaningful numbers), then:
//!   cargo run --release -p whippet-compat-tests --example kafka_throughput -- HOST:PORT [RECORDS]
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::{Message, Offset, TopicPartitionList};

const RECORD_BYTES: usize = 1024;
const DEFAULT_RECORDS: usize = 200_000;
/// Distinct values cycled through, so lz4 sees realistic (not identical) records.
const DISTINCT_VALUES: usize = 64;
const TIMEOUT: Duration = Duration::from_secs(60);

/// Text-like 1 KiB values: a 16-letter alphabet from a xorshift generator (about 4 bits of
/// entropy per byte, so lz4 has something to do but does not get it for free).
fn values() -> Vec<Vec<u8>> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..DISTINCT_VALUES)
        .map(|_| {
            (0..RECORD_BYTES)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    b"abcdefghijklmnop"[usize::try_from(state % 16).unwrap()]
                })
                .collect()
        })
        .collect()
}

fn report(what: &str, codec: &str, records: usize, elapsed: Duration) {
    let seconds = elapsed.as_secs_f64();
    let megabytes = (records * RECORD_BYTES) as f64 / 1_000_000.0;
    println!(
        "{what:<8} {codec:<5} {records} records in {seconds:.2} s: {:.1} MB/s, {:.0} records/s",
        megabytes / seconds,
        records as f64 / seconds
    );
}

fn create_topic(addr: &str, topic: &str) {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", addr)
        .create()
        .unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let new_topic = NewTopic::new(topic, 1, TopicReplication::Fixed(1));
    let results = runtime
        .block_on(admin.create_topics([&new_topic], &AdminOptions::new()))
        .unwrap();
    assert!(
        results.iter().all(Result::is_ok),
        "create {topic}: {results:?}"
    );
}

fn produce(addr: &str, topic: &str, codec: &str, records: usize, values: &[Vec<u8>]) {
    let producer: ThreadedProducer<DefaultProducerContext> = ClientConfig::new()
        .set("bootstrap.servers", addr)
        .set("acks", "1")
        .set("compression.type", codec)
        .set("linger.ms", "5")
        .set("batch.size", "1000000")
        .set("queue.buffering.max.messages", "500000")
        .create()
        .unwrap();
    let started = Instant::now();
    for i in 0..records {
        let mut record = BaseRecord::<(), [u8]>::to(topic)
            .partition(0)
            .payload(&values[i % DISTINCT_VALUES]);
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    record = back;
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err((error, _)) => panic!("produce: {error}"),
            }
        }
    }
    producer.flush(TIMEOUT).unwrap();
    report("produce", codec, records, started.elapsed());
}

fn consume(addr: &str, topic: &str, codec: &str, records: usize) {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", addr)
        .set("group.id", "whippet-throughput-unused")
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
        assert!(started.elapsed() < TIMEOUT, "consume timed out at {read}");
        if let Some(message) = consumer.poll(Duration::from_millis(100)) {
            let message = message.unwrap();
            assert_eq!(message.payload().map(<[u8]>::len), Some(RECORD_BYTES));
            read += 1;
        }
    }
    report("consume", codec, records, started.elapsed());
}

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(addr) = args.next() else {
        eprintln!("usage: kafka_throughput HOST:PORT [RECORDS]");
        std::process::exit(2);
    };
    let records = args.next().map_or(DEFAULT_RECORDS, |n| n.parse().unwrap());
    let values = values();
    for codec in ["none", "lz4"] {
        let topic = format!("throughput-{codec}-{}", std::process::id());
        create_topic(&addr, &topic);
        produce(&addr, &topic, codec, records, &values);
        consume(&addr, &topic, codec, records);
    }
}
