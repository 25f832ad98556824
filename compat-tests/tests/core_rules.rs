//! Rules the core applies to both protocols (issue 14 item 4), each shown with real clients
//! against the real binary — each of these failed before the core owned the rule:
//!
//! - a deleted (or purged) topic takes its committed offsets with it, so a new topic that gets
//!   the old topic's ids (they are reused lowest-free, as in Iggy) starts with none — for native
//!   consumer offsets (`iggy` 0.11 SDK) and Kafka group commits (rdkafka) alike;
//! - Kafka produce is held to a native topic's `max_topic_size`, as native sends are, and what
//!   is refused is not written.
#![allow(clippy::unwrap_used)]

mod native_sdk_common;

use std::time::Duration;

use iggy::prelude::*;
use native_sdk_common::{id, root, start_broker, stream_and_topic, text_messages};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer as _};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};

const TIMEOUT: Duration = Duration::from_secs(15);

fn client_config(addr: &str) -> ClientConfig {
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", addr);
    config
}

fn admin(addr: &str) -> AdminClient<DefaultClientContext> {
    client_config(addr).create().unwrap()
}

async fn create_kafka_topic(addr: &str, topic: &str) {
    let new = NewTopic::new(topic, 1, TopicReplication::Fixed(1));
    let options = AdminOptions::new().operation_timeout(Some(TIMEOUT));
    let results = admin(addr).create_topics([&new], &options).await.unwrap();
    assert_eq!(results, vec![Ok(topic.to_string())], "create {topic}");
}

async fn delete_kafka_topic(addr: &str, topic: &str) {
    let options = AdminOptions::new().operation_timeout(Some(TIMEOUT));
    let results = admin(addr).delete_topics(&[topic], &options).await.unwrap();
    assert_eq!(results, vec![Ok(topic.to_string())], "delete {topic}");
}

fn group_consumer(addr: &str, group: &str) -> BaseConsumer {
    client_config(addr)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()
        .unwrap()
}

/// The group's committed offset on partition 0 of `topic`, as rdkafka reads it back.
fn committed(consumer: &BaseConsumer, topic: &str) -> Offset {
    let mut wanted = TopicPartitionList::new();
    wanted.add_partition(topic, 0);
    let got = consumer.committed_offsets(wanted, TIMEOUT).unwrap();
    got.find_partition(topic, 0).unwrap().offset()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_commits_do_not_outlive_their_topic() {
    let broker = start_broker();
    let addr = broker.kafka_addr().to_string();
    let topic = "reborn";
    create_kafka_topic(&addr, topic).await;
    let consumer = group_consumer(&addr, "g");
    let mut commit = TopicPartitionList::new();
    commit
        .add_partition_offset(topic, 0, Offset::Offset(42))
        .unwrap();
    consumer.commit(&commit, CommitMode::Sync).unwrap();
    assert_eq!(committed(&consumer, topic), Offset::Offset(42));

    delete_kafka_topic(&addr, topic).await;
    create_kafka_topic(&addr, topic).await;
    assert_eq!(
        committed(&consumer, topic),
        Offset::Invalid,
        "the re-created topic must not inherit the deleted topic's committed offset"
    );

    // A restart does not bring it back either.
    drop(consumer);
    let mut broker = broker;
    broker.restart().unwrap();
    let consumer = group_consumer(&broker.kafka_addr().to_string(), "g");
    assert_eq!(committed(&consumer, topic), Offset::Invalid);
}

async fn send_text(client: &IggyClient, sid: &Identifier, tid: &Identifier, count: usize) {
    let mut messages = text_messages("m", count);
    client
        .send_messages(sid, tid, &Partitioning::partition_id(0), &mut messages)
        .await
        .unwrap();
}

/// The stored offset of consumer 1 on partition 0.
async fn stored(client: &IggyClient, sid: &Identifier, tid: &Identifier) -> Option<u64> {
    client
        .get_consumer_offset(&Consumer::new(id(1)), sid, tid, Some(0))
        .await
        .unwrap()
        .map(|offset| offset.stored_offset)
}

async fn store(client: &IggyClient, sid: &Identifier, tid: &Identifier, offset: u64) {
    client
        .store_consumer_offset(&Consumer::new(id(1)), sid, tid, Some(0), offset)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn native_offsets_do_not_outlive_their_topic_nor_a_purge() {
    let broker = start_broker();
    let client = root(&broker).await;
    let (sid, tid) = stream_and_topic(&client, "s", "t", 1).await;
    send_text(&client, &sid, &tid, 5).await;
    store(&client, &sid, &tid, 3).await;
    assert_eq!(stored(&client, &sid, &tid).await, Some(3));

    // Purge restarts the topic's offsets at 0: the stored offset goes, as in Iggy.
    client.purge_topic(&sid, &tid).await.unwrap();
    assert_eq!(stored(&client, &sid, &tid).await, None, "after purge");
    send_text(&client, &sid, &tid, 5).await;
    store(&client, &sid, &tid, 2).await;

    client.delete_topic(&sid, &tid).await.unwrap();
    let options = TopicCreateOptions {
        partitions_count: Some(1),
        ..Default::default()
    };
    let again = id(client.create_topic(&sid, "t2", &options).await.unwrap().id);
    assert_eq!(again, tid, "ids are reused lowest-free, as in Iggy");
    assert_eq!(
        stored(&client, &sid, &again).await,
        None,
        "a new topic with the old id must not inherit the old topic's offsets"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_produce_is_held_to_max_topic_size() {
    const CAP: u64 = 64 * 1024;
    let broker = start_broker();
    let client = root(&broker).await;
    let sid = id(client.create_stream("capped").await.unwrap().id);
    let options = TopicCreateOptions {
        partitions_count: Some(1),
        max_topic_size: Some(MaxTopicSize::Custom(IggyByteSize::from(CAP))),
        // The cap may not be below the segment size; 64 KiB is the smallest segment.
        segment_size: Some(IggyByteSize::from(CAP)),
        ..Default::default()
    };
    let tid = id(client.create_topic(&sid, "t", &options).await.unwrap().id);
    let producer: FutureProducer = client_config(&broker.kafka_addr().to_string())
        .set("linger.ms", "0")
        .set("message.send.max.retries", "0")
        .create()
        .unwrap();
    let value = vec![b'x'; 1024];
    let (mut delivered, mut refused) = (0u64, None);
    for i in 0..400 {
        let record = FutureRecord::<(), _>::to("capped.t").payload(&value);
        match producer.send(record, TIMEOUT).await {
            Ok(_) => delivered += 1,
            Err((error, _)) => {
                refused = Some((i, error));
                break;
            }
        }
    }
    let (at, error) = refused.expect("the cap must refuse Kafka produce");
    assert_eq!(
        error,
        KafkaError::MessageProduction(RDKafkaErrorCode::PolicyViolation),
        "refused after {at} records"
    );
    let topic = client.get_topic(&sid, &tid).await.unwrap().unwrap();
    assert_eq!(
        topic.messages_count, delivered,
        "nothing refused was written"
    );
    assert!(
        topic.size.as_bytes_u64() >= CAP,
        "refused only once full: {}",
        topic.size
    );
    // The native side is held to the same cap on the same topic.
    let mut messages = text_messages("n", 1);
    let native = client
        .send_messages(&sid, &tid, &Partitioning::partition_id(0), &mut messages)
        .await;
    native_sdk_common::assert_code(native, 3009, "native send to the full topic");
}
