//! One topic namespace for both protocols (issue 6 item 1, design brief §2 "Names"), seen
//! from real clients: rdkafka (librdkafka 2.12.1) on the Kafka listener and the `iggy` 0.11.0
//! SDK on the native one, against the real binary.
//!
//! - A native topic `t` of stream `s` is Kafka topic `s.t` in Metadata at once; a Kafka topic
//!   is a topic of the `kafka` stream for native clients at once.
//! - Names that would resolve two ways are refused with each protocol's "already exists":
//!   Kafka CreateTopics `s.t` (TOPIC_ALREADY_EXISTS), native create_topic / update_topic
//!   (TopicNameAlreadyExists, 2013) and update_stream (StreamNameAlreadyExists, 1012).
//! - Smoke of the transcoded reads through a native topic's Kafka name: rdkafka produces lz4
//!   to `s.t` and the SDK polls it; the SDK sends and rdkafka fetches both kinds in order. The
//!   thorough client and codec matrix is `cross_clients.rs`.
#![allow(clippy::unwrap_used)]

mod native_sdk_common;

use std::time::{Duration, Instant};

use bytes::Bytes;
use iggy::prelude::*;
use native_sdk_common::{KAFKA_STREAM, assert_code, id, name, root, start_broker};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer as _};
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};

const TIMEOUT: Duration = Duration::from_secs(15);
/// Iggy's StreamNameAlreadyExists.
const STREAM_NAME_EXISTS: u32 = 1012;
/// Iggy's TopicNameAlreadyExists.
const TOPIC_NAME_EXISTS: u32 = 2013;

fn kafka_config(addr: &str) -> ClientConfig {
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", addr);
    config
}

/// Creates Kafka topics through rdkafka's admin client; one result per name, in order.
async fn kafka_create(addr: &str, names: &[&str]) -> Vec<Result<String, RDKafkaErrorCode>> {
    let admin: AdminClient<DefaultClientContext> = kafka_config(addr).create().unwrap();
    let new: Vec<NewTopic<'_>> = names
        .iter()
        .map(|n| NewTopic::new(n, 1, TopicReplication::Fixed(1)))
        .collect();
    let options = AdminOptions::new().operation_timeout(Some(TIMEOUT));
    admin
        .create_topics(&new, &options)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.map_err(|(_, code)| code))
        .collect()
}

/// Every topic in a Metadata answer for all topics, with its partition count.
fn kafka_topics(addr: &str) -> Vec<(String, usize)> {
    let consumer: BaseConsumer = kafka_config(addr).create().unwrap();
    let metadata = consumer.fetch_metadata(None, TIMEOUT).unwrap();
    let mut out: Vec<(String, usize)> = metadata
        .topics()
        .iter()
        .map(|t| (t.name().to_string(), t.partitions().len()))
        .collect();
    out.sort();
    out
}

/// The topic names of a native stream, sorted.
async fn native_topics(client: &IggyClient, stream: &str) -> Vec<String> {
    let mut out: Vec<String> = client
        .get_topics(&name(stream))
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name)
        .collect();
    out.sort();
    out
}

fn partitions(count: u32) -> TopicCreateOptions {
    TopicCreateOptions {
        partitions_count: Some(count),
        ..Default::default()
    }
}

#[tokio::test]
async fn topics_created_on_either_side_are_visible_on_the_other() {
    let broker = start_broker();
    let addr = broker.kafka_addr().to_string();
    let client = root(&broker).await;

    client.create_stream("orders").await.unwrap();
    client
        .create_topic(&name("orders"), "eu", &partitions(3))
        .await
        .unwrap();
    // A stream name Kafka cannot spell: its topics stay native-only.
    client.create_stream("not kafka").await.unwrap();
    client
        .create_topic(&name("not kafka"), "x", &partitions(1))
        .await
        .unwrap();
    assert_eq!(kafka_topics(&addr), vec![("orders.eu".to_string(), 3)]);

    assert_eq!(
        kafka_create(&addr, &["clicks"]).await,
        vec![Ok("clicks".into())]
    );
    assert_eq!(native_topics(&client, KAFKA_STREAM).await, vec!["clicks"]);
    assert_eq!(
        kafka_topics(&addr),
        vec![("clicks".to_string(), 1), ("orders.eu".to_string(), 3)]
    );

    // Deleting through Kafka deletes the native topic; renaming natively renames for Kafka.
    client
        .update_topic(
            &name("orders"),
            &name("eu"),
            "emea",
            &TopicUpdateOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(
        kafka_topics(&addr),
        vec![("clicks".to_string(), 1), ("orders.emea".to_string(), 3)]
    );
    let admin: AdminClient<DefaultClientContext> = kafka_config(&addr).create().unwrap();
    let options = AdminOptions::new().operation_timeout(Some(TIMEOUT));
    let deleted = admin
        .delete_topics(&["orders.emea"], &options)
        .await
        .unwrap();
    assert_eq!(deleted, vec![Ok("orders.emea".to_string())]);
    assert!(native_topics(&client, "orders").await.is_empty());
}

#[tokio::test]
async fn names_that_would_resolve_two_ways_are_refused() {
    let broker = start_broker();
    let addr = broker.kafka_addr().to_string();
    let client = root(&broker).await;

    // Native s/t holds the Kafka name "s.t".
    client.create_stream("s").await.unwrap();
    client
        .create_topic(&name("s"), "t", &partitions(1))
        .await
        .unwrap();
    assert_eq!(
        kafka_create(&addr, &["s.t", "s.u"]).await,
        vec![Err(RDKafkaErrorCode::TopicAlreadyExists), Ok("s.u".into())]
    );
    // Kafka "s.u" (made in the Kafka stream) now holds the name: native s/u is refused.
    assert_code(
        client.create_topic(&name("s"), "u", &partitions(1)).await,
        TOPIC_NAME_EXISTS,
        "create_topic s/u over Kafka s.u",
    );
    // Dotted stream names: stream "s.x" topic "y" and stream "s" topic "x.y" are both "s.x.y".
    client.create_stream("s.x").await.unwrap();
    client
        .create_topic(&name("s.x"), "y", &partitions(1))
        .await
        .unwrap();
    assert_code(
        client.create_topic(&name("s"), "x.y", &partitions(1)).await,
        TOPIC_NAME_EXISTS,
        "create_topic s/x.y over s.x/y",
    );
    // Renaming a topic onto a taken Kafka name is refused; renaming a stream too.
    client
        .create_topic(&name("s"), "free", &partitions(1))
        .await
        .unwrap();
    let rename = client
        .update_topic(
            &name("s"),
            &name("free"),
            "u",
            &TopicUpdateOptions::default(),
        )
        .await;
    assert_code(rename, TOPIC_NAME_EXISTS, "rename s/free to s/u");
    // Kafka "m.u" exists and no stream "m" does: renaming a stream with topic "u" to "m"
    // would make it "m.u" too.
    assert_eq!(kafka_create(&addr, &["m.u"]).await, vec![Ok("m.u".into())]);
    let other = client.create_stream("other").await.unwrap();
    client
        .create_topic(&id(other.id), "u", &partitions(1))
        .await
        .unwrap();
    assert_code(
        client
            .update_stream(&id(other.id), "m", &StreamUpdateOptions::default())
            .await,
        STREAM_NAME_EXISTS,
        "rename stream other (topic u) to m over Kafka m.u",
    );
    client
        .update_stream(&id(other.id), "n", &StreamUpdateOptions::default())
        .await
        .unwrap();
    assert_eq!(
        kafka_topics(&addr)
            .into_iter()
            .map(|(n, _)| n)
            .collect::<Vec<_>>(),
        vec!["m.u", "n.u", "s.free", "s.t", "s.u", "s.x.y"]
    );
}

/// Produces `values` to partition 0 of `topic` with rdkafka (lz4), each keyed `k<i>` with one
/// header `h` = `hv<i>`, and waits for every delivery.
async fn rdkafka_produce(addr: &str, topic: &str, values: &[&str]) {
    let producer: FutureProducer = kafka_config(addr)
        .set("compression.type", "lz4")
        .set("linger.ms", "20")
        .create()
        .unwrap();
    let mut deliveries = Vec::new();
    for (i, value) in values.iter().enumerate() {
        let key = format!("k{i}");
        let header = format!("hv{i}");
        let headers = OwnedHeaders::new().insert(Header {
            key: "h",
            value: Some(header.as_bytes()),
        });
        let record = FutureRecord::to(topic)
            .partition(0)
            .key(&key)
            .payload(*value)
            .headers(headers);
        deliveries.push(producer.send_result(record).map_err(|(e, _)| e).unwrap());
    }
    for delivery in deliveries {
        delivery.await.unwrap().map_err(|(e, _)| e).unwrap();
    }
}

/// (offset, key, value, header `h`) of the first `want` records of partition 0 of `topic`.
type Read = (i64, Option<Vec<u8>>, Vec<u8>, Option<Vec<u8>>);

fn rdkafka_read(addr: &str, topic: &str, want: usize) -> Vec<Read> {
    let consumer: BaseConsumer = kafka_config(addr)
        .set("group.id", "cross-names-unused")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let mut assignment = TopicPartitionList::new();
    assignment
        .add_partition_offset(topic, 0, Offset::Beginning)
        .unwrap();
    consumer.assign(&assignment).unwrap();
    let started = Instant::now();
    let mut out = Vec::new();
    while out.len() < want {
        assert!(started.elapsed() < TIMEOUT, "read {} of {want}", out.len());
        let Some(result) = consumer.poll(Duration::from_millis(200)) else {
            continue;
        };
        let message = result.unwrap();
        let header = message.headers().and_then(|headers| {
            headers
                .iter()
                .find(|h| h.key == "h")
                .and_then(|h| h.value.map(<[u8]>::to_vec))
        });
        out.push((
            message.offset(),
            message.key().map(<[u8]>::to_vec),
            message.payload().unwrap_or_default().to_vec(),
            header,
        ));
    }
    out
}

#[tokio::test]
async fn kafka_and_native_read_each_other_through_a_native_topic() {
    let broker = start_broker();
    let addr = broker.kafka_addr().to_string();
    let client = root(&broker).await;
    client.create_stream("s").await.unwrap();
    client
        .create_topic(&name("s"), "t", &partitions(1))
        .await
        .unwrap();

    // Kafka → native: rdkafka writes lz4 batches to "s.t", the SDK polls s/t.
    rdkafka_produce(&addr, "s.t", &["a", "bb", "ccc"]).await;
    let polled = client
        .poll_messages(
            &name("s"),
            &name("t"),
            Some(0),
            &Consumer::new(id(1)),
            &PollingStrategy::offset(0),
            10,
            false,
        )
        .await
        .unwrap();
    let got: Vec<(u64, Vec<u8>)> = polled
        .messages
        .iter()
        .map(|m| (m.header.offset, m.payload.to_vec()))
        .collect();
    assert_eq!(
        got,
        vec![
            (0, b"a".to_vec()),
            (1, b"bb".to_vec()),
            (2, b"ccc".to_vec())
        ]
    );
    let headers = polled.messages[1].user_headers_map().unwrap().unwrap();
    let h = headers.get(&"h".parse::<HeaderKey>().unwrap()).unwrap();
    assert_eq!(h.as_bytes(), b"hv1");

    // native → Kafka: the SDK appends two messages; rdkafka reads all five in offset order.
    let mut messages: Vec<IggyMessage> = ["n0", "n1"]
        .iter()
        .map(|p| {
            IggyMessage::builder()
                .payload(Bytes::from_static(p.as_bytes()))
                .build()
                .unwrap()
        })
        .collect();
    client
        .send_messages(
            &name("s"),
            &name("t"),
            &Partitioning::partition_id(0),
            &mut messages,
        )
        .await
        .unwrap();
    let read = rdkafka_read(&addr, "s.t", 5);
    let values: Vec<(i64, &[u8])> = read.iter().map(|r| (r.0, r.2.as_slice())).collect();
    assert_eq!(
        values,
        vec![
            (0, &b"a"[..]),
            (1, &b"bb"[..]),
            (2, &b"ccc"[..]),
            (3, &b"n0"[..]),
            (4, &b"n1"[..])
        ]
    );
    // Kafka keys and headers survive the round through the log; native messages have no key.
    assert_eq!(read[2].1.as_deref(), Some(&b"k2"[..]));
    assert_eq!(read[2].3.as_deref(), Some(&b"hv2"[..]));
    assert_eq!(read[3].1, None);
}

/// Commits `offset` for partition 0 of `topic` as Kafka group `group` (manual assignment, no
/// join: a plain OffsetCommit), then reads the group's committed offset back.
fn rdkafka_commit_and_read(addr: &str, topic: &str, group: &str, offset: Option<i64>) -> i64 {
    let consumer: BaseConsumer = kafka_config(addr)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let mut list = TopicPartitionList::new();
    if let Some(offset) = offset {
        list.add_partition_offset(topic, 0, Offset::Offset(offset))
            .unwrap();
        consumer
            .commit(&list, rdkafka::consumer::CommitMode::Sync)
            .unwrap();
    } else {
        list.add_partition(topic, 0);
    }
    let committed = consumer.committed_offsets(list, TIMEOUT).unwrap();
    let element = committed.find_partition(topic, 0).unwrap();
    match element.offset() {
        Offset::Offset(offset) => offset,
        other => panic!("no committed offset for {topic}: {other:?}"),
    }
}

#[tokio::test]
async fn a_kafka_group_and_a_native_group_share_offsets_on_a_native_topic() {
    let broker = start_broker();
    let addr = broker.kafka_addr().to_string();
    let client = root(&broker).await;
    client.create_stream("s").await.unwrap();
    client
        .create_topic(&name("s"), "t", &partitions(1))
        .await
        .unwrap();
    let mut messages: Vec<IggyMessage> = (0..10)
        .map(|i| {
            IggyMessage::builder()
                .payload(Bytes::from(format!("m{i}")))
                .build()
                .unwrap()
        })
        .collect();
    let (stream, topic) = (name("s"), name("t"));
    client
        .send_messages(
            &stream,
            &topic,
            &Partitioning::partition_id(0),
            &mut messages,
        )
        .await
        .unwrap();

    // Kafka group "g" commits 6 (next to read) on "s.t"; no native group "g" exists yet.
    assert_eq!(rdkafka_commit_and_read(&addr, "s.t", "g", Some(6)), 6);
    client
        .create_consumer_group(&stream, &topic, "g")
        .await
        .unwrap();
    client
        .join_consumer_group(&stream, &topic, &name("g"))
        .await
        .unwrap();
    let group = Consumer::group(name("g"));
    let stored = client
        .get_consumer_offset(&group, &stream, &topic, Some(0))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.stored_offset, 5, "Kafka 6 is native last-consumed 5");
    let next = client
        .poll_messages(
            &stream,
            &topic,
            Some(0),
            &group,
            &PollingStrategy::next(),
            2,
            true,
        )
        .await
        .unwrap();
    let offsets: Vec<u64> = next.messages.iter().map(|m| m.header.offset).collect();
    assert_eq!(offsets, vec![6, 7], "a native next poll continues at 6");

    // The poll's auto-commit stored 7; Kafka reads 8. An explicit store reads back +1 too.
    assert_eq!(rdkafka_commit_and_read(&addr, "s.t", "g", None), 8);
    client
        .store_consumer_offset(&group, &stream, &topic, Some(0), 2)
        .await
        .unwrap();
    assert_eq!(rdkafka_commit_and_read(&addr, "s.t", "g", None), 3);
}
