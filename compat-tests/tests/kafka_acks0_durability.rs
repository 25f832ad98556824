//! With `--fsync always`, Kafka acks=0 appends are synced by the log on its own (issue 14
//! item 4): the high watermark moves only after fdatasync, and before the log ran group commit
//! itself nobody synced an append that no client waited for, so consumers saw none of these
//! records until some later acknowledged write or shutdown. Real rdkafka producer and consumer
//! against the real binary.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::{Message, Offset, TopicPartitionList};
use whippet_compat_tests::Launch;

const TIMEOUT: Duration = Duration::from_secs(15);
const RECORDS: usize = 200;

fn client_config(addr: &str) -> ClientConfig {
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", addr);
    config
}

#[test]
fn kafka_acks0_appends_are_synced_and_visible_with_fsync_always() {
    let broker = Launch::new().args(["--fsync", "always"]).start().unwrap();
    let addr = broker.kafka_addr().to_string();
    let producer: ThreadedProducer<DefaultProducerContext> = client_config(&addr)
        .set("acks", "0")
        .set("linger.ms", "5")
        .create()
        .unwrap();
    for i in 0..RECORDS {
        let payload = format!("acks0-{i}");
        producer
            .send(BaseRecord::<(), _>::to("acks0").payload(&payload))
            .map_err(|(error, _)| error)
            .unwrap();
    }
    producer.flush(TIMEOUT).unwrap();
    // Nothing else is written from here on: the log must sync these appends by itself.
    let consumer: BaseConsumer = client_config(&addr)
        .set("group.id", "acks0-reader")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let mut assignment = TopicPartitionList::new();
    assignment
        .add_partition_offset("acks0", 0, Offset::Beginning)
        .unwrap();
    consumer.assign(&assignment).unwrap();
    let deadline = Instant::now() + TIMEOUT;
    let mut seen = Vec::new();
    while seen.len() < RECORDS && Instant::now() < deadline {
        if let Some(message) = consumer.poll(Duration::from_millis(200)) {
            let message = message.unwrap();
            seen.push(String::from_utf8(message.payload().unwrap().to_vec()).unwrap());
        }
    }
    let want: Vec<String> = (0..RECORDS).map(|i| format!("acks0-{i}")).collect();
    assert_eq!(seen, want, "acks=0 records visible in order");
}
