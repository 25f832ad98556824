//! One log for every generation: the classic SDK (`iggy` 0.10.0) next to the protocol-0.11 SDK
//! (`iggy` 0.11.0) on the same native port, and across to Kafka (rdkafka, librdkafka 2.12.1):
//!
//! - 0.10 sends messages with ids, binary payloads and every header kind; 0.11 polls them back
//!   with ids, payloads, origin timestamps and the raw user-header bytes unchanged; then 0.11 sends
//!   and 0.10 polls, on the same partition, offsets continuing;
//! - a 0.10 and a 0.11 producer write one partition concurrently from one process (two
//!   connections, two framings, one port); both read back the same dense sequence;
//! - what 0.10 sent is read through Kafka as `<stream>.<topic>`: offsets, values, timestamps
//!   (origin ÷ 1000), null key, raw headers under their own names and the id in `__whippet.id`;
//!   what rdkafka produced is polled by 0.10 from stream `kafka`;
//! - committed offsets are one store: a 0.10 group store of N is Kafka committed N+1, a Kafka
//!   commit of M is native M−1 and the 0.10 group continues at M.
//!
//! Each test owns its broker.
#![allow(clippy::unwrap_used)]

mod classic_common;

use std::collections::BTreeMap;
use std::str::FromStr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use classic_common::*;
use iggy::prelude::*;
use iggy_011::prelude as v11;
use iggy_011::prelude::{Client as _, MessageClient as _, SystemClient as _, UserClient as _};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer as _};
use rdkafka::message::{Headers, Message};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};
use whippet_compat_tests::WhippetProcess;

const TIMEOUT: Duration = Duration::from_secs(15);
/// Messages each side sends in the concurrent test.
const CONCURRENT_EACH: usize = 1_000;
/// Messages per send in the concurrent test.
const CONCURRENT_BATCH: usize = 25;

/// A protocol-0.11 client logged in as root.
async fn root_011(broker: &WhippetProcess) -> v11::IggyClient {
    let client = v11::IggyClient::builder()
        .with_tcp()
        .with_server_address(broker.native_addr().to_string())
        .build()
        .unwrap();
    client.connect().await.unwrap();
    client.login_user("iggy", "iggy").await.unwrap();
    client
}

fn id_011(value: u32) -> v11::Identifier {
    v11::Identifier::numeric(value).unwrap()
}

fn name_011(value: &str) -> v11::Identifier {
    v11::Identifier::named(value).unwrap()
}

/// What one stored message looks like to either SDK, for comparing across generations.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    offset: u64,
    id: u128,
    origin_timestamp: u64,
    payload: Bytes,
    user_headers: Option<Bytes>,
}

fn seen_010(m: &IggyMessage) -> Seen {
    Seen {
        offset: m.header.offset,
        id: m.header.id,
        origin_timestamp: m.header.origin_timestamp,
        payload: m.payload.clone(),
        user_headers: m.user_headers.clone(),
    }
}

fn seen_011(m: &v11::IggyMessage) -> Seen {
    Seen {
        offset: m.header.offset,
        id: m.header.id,
        origin_timestamp: m.header.origin_timestamp,
        payload: m.payload.clone(),
        user_headers: m.user_headers.clone(),
    }
}

/// Polls partition 0 of `s`/`t` from offset 0 with the 0.11 SDK.
async fn poll_all_011(client: &v11::IggyClient, want: usize) -> Vec<Seen> {
    let consumer = v11::Consumer::new(id_011(1));
    let mut out: Vec<Seen> = Vec::new();
    let started = Instant::now();
    while out.len() < want {
        assert!(
            started.elapsed() < TIMEOUT,
            "0.11 read {} of {want}",
            out.len()
        );
        let next = out.last().map_or(0, |m| m.offset + 1);
        let polled = client
            .poll_messages(
                &name_011("s"),
                &name_011("t"),
                Some(0),
                &consumer,
                &v11::PollingStrategy::offset(next),
                500,
                false,
            )
            .await
            .unwrap();
        out.extend(polled.messages.iter().map(seen_011));
    }
    out
}

/// Polls partition 0 of `s`/`t` from offset 0 with the 0.10 SDK.
async fn poll_all_010(client: &IggyClient, want: usize) -> Vec<Seen> {
    let mut out: Vec<Seen> = Vec::new();
    let started = Instant::now();
    while out.len() < want {
        assert!(
            started.elapsed() < TIMEOUT,
            "0.10 read {} of {want}",
            out.len()
        );
        let next = out.last().map_or(0, |m| m.offset + 1);
        let (stream, topic) = (name("s"), name("t"));
        let polled = poll(
            client,
            &stream,
            &topic,
            0,
            PollingStrategy::offset(next),
            500,
        )
        .await;
        out.extend(polled.messages.iter().map(seen_010));
    }
    out
}

/// 0.10 messages with ids, binary payloads and every header kind on most.
fn classic_messages(count: u32) -> Vec<IggyMessage> {
    (0..count)
        .map(|i| {
            let mut payload = format!("classic-{i}\n").into_bytes();
            payload.extend((0..(i * 7) % 90).map(|b| (b % 256) as u8));
            let builder = IggyMessage::builder()
                .id(0xC1A5_0000_0000_0000_0000 + u128::from(i))
                .payload(Bytes::from(payload));
            if i % 3 == 0 {
                builder.build().unwrap()
            } else {
                builder.user_headers(every_header_kind()).build().unwrap()
            }
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdk_010_and_011_read_each_other() {
    let broker = start_broker();
    let classic = root(&broker).await;
    let current = root_011(&broker).await;
    let (sid, tid) = stream_and_topic(&classic, "s", "t", 1).await;
    let sent = classic_messages(30);
    let want: Vec<(u128, u64, Bytes, Option<Bytes>)> = sent
        .iter()
        .map(|m| {
            let h = &m.header;
            (
                h.id,
                h.origin_timestamp,
                m.payload.clone(),
                m.user_headers.clone(),
            )
        })
        .collect();
    send_to(&classic, (&sid, &tid), 0, sent).await;

    let read = poll_all_011(&current, 30).await;
    for (i, (seen, want)) in read.iter().zip(&want).enumerate() {
        assert_eq!(seen.offset, i as u64, "offset @{i}");
        let got = (
            seen.id,
            seen.origin_timestamp,
            &seen.payload,
            &seen.user_headers,
        );
        assert_eq!(got, (want.0, want.1, &want.2, &want.3), "0.10 → 0.11 @{i}");
    }
    // The 0.11 SDK decodes the classic headers into its own typed map.
    let typed = current
        .poll_messages(
            &name_011("s"),
            &id_011(0),
            Some(0),
            &v11::Consumer::new(id_011(1)),
            &v11::PollingStrategy::offset(1),
            1,
            false,
        )
        .await
        .unwrap();
    let map = typed.messages[0].user_headers_map().unwrap().unwrap();
    let key = v11::HeaderKey::from_str("u128").unwrap();
    assert_eq!(map[&key].as_uint128().unwrap(), u128::MAX - 5);

    let mut current_sent = current_messages();
    let partitioning = v11::Partitioning::partition_id(0);
    current
        .send_messages(&name_011("s"), &id_011(0), &partitioning, &mut current_sent)
        .await
        .unwrap();
    let all = poll_all_010(&classic, 50).await;
    assert_eq!(
        &all[..30],
        &read[..],
        "0.10 and 0.11 see the classic messages alike"
    );
    for (i, (seen, sent)) in all[30..].iter().zip(&current_sent).enumerate() {
        assert_eq!(
            seen,
            &seen_011_sent(sent, 30 + i as u64),
            "0.11 → 0.10 @{i}"
        );
    }
}

/// 20 protocol-0.11 messages with ids and a string header.
fn current_messages() -> Vec<v11::IggyMessage> {
    (0..20u128)
        .map(|i| {
            let headers = BTreeMap::from([(
                v11::HeaderKey::from_str("from").unwrap(),
                v11::HeaderValue::from_str("0.11").unwrap(),
            )]);
            let payload = Bytes::from(format!("current-{i}"));
            let message = v11::IggyMessage::builder().id(7_000 + i).payload(payload);
            message.user_headers(headers).build().unwrap()
        })
        .collect()
}

/// A message as the 0.11 SDK sent it, at `offset`.
fn seen_011_sent(m: &v11::IggyMessage, offset: u64) -> Seen {
    Seen {
        offset,
        ..seen_011(m)
    }
}

async fn send_concurrently_010(client: IggyClient) {
    for start in (0..CONCURRENT_EACH).step_by(CONCURRENT_BATCH) {
        let batch: Vec<IggyMessage> = (start..start + CONCURRENT_BATCH)
            .map(|i| IggyMessage::from_str(&format!("classic-{i:05}")).unwrap())
            .collect();
        send_to(&client, (&name("s"), &name("t")), 0, batch).await;
    }
}

async fn send_concurrently_011(client: v11::IggyClient) {
    for start in (0..CONCURRENT_EACH).step_by(CONCURRENT_BATCH) {
        let mut batch: Vec<v11::IggyMessage> = (start..start + CONCURRENT_BATCH)
            .map(|i| v11::IggyMessage::from_str(&format!("current-{i:05}")).unwrap())
            .collect();
        let partitioning = v11::Partitioning::partition_id(0);
        client
            .send_messages(&name_011("s"), &name_011("t"), &partitioning, &mut batch)
            .await
            .unwrap();
    }
}

/// Every message once, each producer's in the order it sent them.
fn check_sequence(who: &str, seen: &[Seen]) {
    assert_eq!(seen.len(), 2 * CONCURRENT_EACH, "{who}: count");
    let (mut classic, mut current) = (0, 0);
    for (offset, message) in seen.iter().enumerate() {
        assert_eq!(message.offset, offset as u64, "{who}: dense offsets");
        let text = std::str::from_utf8(&message.payload).unwrap();
        if let Some(n) = text.strip_prefix("classic-") {
            assert_eq!(n.parse::<usize>().unwrap(), classic, "{who}@{offset}");
            classic += 1;
        } else if let Some(n) = text.strip_prefix("current-") {
            assert_eq!(n.parse::<usize>().unwrap(), current, "{who}@{offset}");
            current += 1;
        } else {
            panic!("{who}@{offset}: unexpected {text:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_generations_on_one_port_at_once() {
    let broker = start_broker();
    let classic = root(&broker).await;
    let current = root_011(&broker).await;
    stream_and_topic(&classic, "s", "t", 1).await;
    let classic_me = classic.get_me().await.unwrap();
    let current_me = current.get_me().await.unwrap();
    assert_ne!(classic_me.client_id, current_me.client_id);
    let listed: Vec<u32> = classic
        .get_clients()
        .await
        .unwrap()
        .iter()
        .map(|c| c.client_id)
        .collect();
    assert!(listed.contains(&classic_me.client_id), "{listed:?}");
    assert!(listed.contains(&current_me.client_id), "{listed:?}");

    let a = tokio::spawn(send_concurrently_010(root(&broker).await));
    let b = tokio::spawn(send_concurrently_011(root_011(&broker).await));
    // Both generations keep answering other calls while the producers run.
    for _ in 0..20 {
        classic.ping().await.unwrap();
        current.ping().await.unwrap();
        classic.get_streams().await.unwrap();
    }
    a.await.unwrap();
    b.await.unwrap();
    let by_classic = poll_all_010(&classic, 2 * CONCURRENT_EACH).await;
    let by_current = poll_all_011(&current, 2 * CONCURRENT_EACH).await;
    check_sequence("0.10 poll", &by_classic);
    check_sequence("0.11 poll", &by_current);
    assert_eq!(by_classic, by_current, "both generations see one sequence");
}

fn kafka_config(addr: &str) -> ClientConfig {
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", addr);
    config
}

/// One record as rdkafka read it: offset, timestamp (ms), value, headers.
type Record = (i64, i64, Vec<u8>, Vec<(String, Vec<u8>)>);

/// Reads `want` records of partition 0 of `topic` from the beginning (no group joined).
fn rdkafka_read(addr: &str, topic: &str, want: usize) -> Vec<Record> {
    let consumer: BaseConsumer = kafka_config(addr)
        .set("group.id", "classic-cross-unused")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let mut assignment = TopicPartitionList::new();
    assignment
        .add_partition_offset(topic, 0, Offset::Beginning)
        .unwrap();
    consumer.assign(&assignment).unwrap();
    let mut records = Vec::new();
    let started = Instant::now();
    while records.len() < want {
        assert!(
            started.elapsed() < TIMEOUT * 2,
            "rdkafka read {} of {want}",
            records.len()
        );
        let Some(result) = consumer.poll(Duration::from_millis(200)) else {
            continue;
        };
        let m = result.unwrap_or_else(|e| panic!("rdkafka consume {topic}: {e}"));
        assert!(m.key().is_none(), "a native message has a null key");
        let headers = m.headers().map_or_else(Vec::new, |h| {
            h.iter()
                .map(|h| (h.key.to_string(), h.value.unwrap_or_default().to_vec()))
                .collect()
        });
        let ts = m.timestamp().to_millis().unwrap_or(-1);
        records.push((
            m.offset(),
            ts,
            m.payload().unwrap_or_default().to_vec(),
            headers,
        ));
    }
    records
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn classic_messages_read_through_kafka() {
    let broker = start_broker();
    let classic = root(&broker).await;
    let (sid, tid) = stream_and_topic(&classic, "orders", "placed", 1).await;
    let sent: Vec<IggyMessage> = (0..40u32)
        .map(|i| {
            let headers = BTreeMap::from([
                (
                    HeaderKey::from_str("idx").unwrap(),
                    HeaderValue::try_from(i.to_string().as_bytes()).unwrap(),
                ),
                (
                    HeaderKey::from_str("raw").unwrap(),
                    HeaderValue::try_from(&[0u8, 10, 255][..]).unwrap(),
                ),
            ]);
            let payload = Bytes::from(format!("order-{i}-").repeat(1 + i as usize % 5));
            let builder = IggyMessage::builder()
                .id(9_000 + u128::from(i))
                .payload(payload);
            builder.user_headers(headers).build().unwrap()
        })
        .collect();
    let stored: Vec<(u64, Bytes)> = sent
        .iter()
        .map(|m| (m.header.origin_timestamp, m.payload.clone()))
        .collect();
    send_to(&classic, (&sid, &tid), 0, sent).await;
    let addr = broker.kafka_addr().to_string();
    let records = tokio::task::spawn_blocking(move || rdkafka_read(&addr, "orders.placed", 40));
    let records = records.await.unwrap();
    for (i, (record, (origin, payload))) in records.iter().zip(&stored).enumerate() {
        let (offset, ts, value, headers) = record;
        assert_eq!(*offset, i as i64, "offset @{i}");
        assert_eq!(
            *ts,
            (origin / 1000) as i64,
            "timestamp = origin ÷ 1000 @{i}"
        );
        assert_eq!(value.as_slice(), payload.as_ref(), "value @{i}");
        let ordinary: Vec<(String, Vec<u8>)> = headers
            .iter()
            .filter(|(k, _)| !k.starts_with("__whippet."))
            .cloned()
            .collect();
        let want = vec![
            ("idx".to_string(), i.to_string().into_bytes()),
            ("raw".to_string(), vec![0u8, 10, 255]),
        ];
        assert_eq!(ordinary, want, "raw headers under their own names @{i}");
        let id_header = headers.iter().find(|(k, _)| k == "__whippet.id");
        let want_id = (9_000u128 + i as u128).to_le_bytes().to_vec();
        assert_eq!(id_header.map(|(_, v)| v), Some(&want_id), "id header @{i}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_records_polled_by_classic_sdk() {
    let broker = start_broker();
    let topic = "from-kafka";
    let addr = broker.kafka_addr().to_string();
    let admin: AdminClient<DefaultClientContext> = kafka_config(&addr).create().unwrap();
    let new = NewTopic::new(topic, 1, TopicReplication::Fixed(1));
    let options = AdminOptions::new().operation_timeout(Some(TIMEOUT));
    let created = admin.create_topics([&new], &options).await.unwrap();
    assert_eq!(created, vec![Ok(topic.to_string())]);
    let producer: FutureProducer = kafka_config(&addr).set("linger.ms", "5").create().unwrap();
    let base_ms = now_ms() - 60_000;
    for i in 0..25i64 {
        let value = format!("kafka-{i}");
        let record = FutureRecord::<[u8], [u8]>::to(topic)
            .partition(0)
            .timestamp(base_ms + i)
            .payload(value.as_bytes());
        producer
            .send(record, TIMEOUT)
            .await
            .map_err(|(e, _)| e)
            .unwrap();
    }
    let classic = root(&broker).await;
    let (stream, topic_id) = (name(KAFKA_STREAM), name(topic));
    let polled = poll(
        &classic,
        &stream,
        &topic_id,
        0,
        PollingStrategy::offset(0),
        100,
    )
    .await;
    let want: Vec<String> = (0..25).map(|i| format!("kafka-{i}")).collect();
    assert_eq!(payloads(&polled), want);
    assert_eq!(offsets(&polled), (0..25).collect::<Vec<u64>>());
    for (i, message) in polled.messages.iter().enumerate() {
        let micros = ((base_ms + i as i64) * 1000) as u64;
        assert_eq!(
            message.header.origin_timestamp, micros,
            "CreateTime ×1000 @{i}"
        );
        assert_eq!(message.header.id, 0, "Kafka records get id 0");
    }
}

fn now_ms() -> i64 {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    now.as_millis() as i64
}

/// The committed offset of `group` on partition 0 of `topic`, as a Kafka client sees it.
fn kafka_committed(addr: &str, topic: &str, group: &str) -> Offset {
    let consumer: BaseConsumer = kafka_config(addr).set("group.id", group).create().unwrap();
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition(topic, 0);
    let committed = consumer.committed_offsets(tpl, TIMEOUT).unwrap();
    committed.find_partition(topic, 0).unwrap().offset()
}

/// Commits `offset` for `group` on partition 0 of `topic` without joining the group.
fn kafka_commit(addr: &str, topic: &str, group: &str, offset: i64) {
    let consumer: BaseConsumer = kafka_config(addr)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, 0, Offset::Offset(offset))
        .unwrap();
    consumer.commit(&tpl, CommitMode::Sync).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn committed_offsets_shared_with_kafka() {
    let broker = start_broker();
    let classic = root(&broker).await;
    let topic = "shared";
    let (stream, tid) = (name(KAFKA_STREAM), name(topic));
    // No Kafka topic exists yet, so neither does the Kafka stream: a native client may create
    // it like any stream, and the Kafka listener then uses it.
    classic.create_stream(KAFKA_STREAM).await.unwrap();
    create_topic(&classic, &stream, topic, 1).await.unwrap();
    send_to(&classic, (&stream, &tid), 0, text_messages("c", 20)).await;
    classic
        .create_consumer_group(&stream, &tid, "g")
        .await
        .unwrap();
    classic
        .join_consumer_group(&stream, &tid, &name("g"))
        .await
        .unwrap();
    let group = Consumer::group(name("g"));
    classic
        .store_consumer_offset(&group, &stream, &tid, Some(0), 4)
        .await
        .unwrap();
    let addr = broker.kafka_addr().to_string();
    let committed = || {
        let addr = addr.clone();
        tokio::task::spawn_blocking(move || kafka_committed(&addr, "shared", "g"))
    };
    let seen = committed().await.unwrap();
    assert_eq!(
        seen,
        Offset::Offset(5),
        "native store 4 is Kafka committed 5"
    );

    let committer = addr.clone();
    tokio::task::spawn_blocking(move || kafka_commit(&committer, "shared", "g", 12))
        .await
        .unwrap();
    let stored = classic
        .get_consumer_offset(&group, &stream, &tid, Some(0))
        .await
        .unwrap()
        .expect("the Kafka commit is visible to the classic SDK");
    assert_eq!(stored.stored_offset, 11, "Kafka commit 12 is native 11");
    let polled = classic
        .poll_messages(
            &stream,
            &tid,
            None,
            &group,
            &PollingStrategy::next(),
            100,
            true,
        )
        .await
        .unwrap();
    assert_eq!(
        offsets(&polled),
        (12..20).collect::<Vec<u64>>(),
        "continues at 12"
    );
    let seen = committed().await.unwrap();
    assert_eq!(seen, Offset::Offset(20), "the auto-commit reaches Kafka");
}
