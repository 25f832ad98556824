//! One log for both protocols, seen by real clients (issue 6 item 4, design brief §2):
//!
//! - rdkafka (librdkafka 2.12.1) produces keyed records with headers and CreateTime timestamps
//!   under none, lz4 and zstd; the `iggy` 0.11.0 SDK polls the same topic (stream `kafka`) from
//!   offset 0 and must see one message per record: payloads byte-exact, the same offsets,
//!   origin timestamps = CreateTime ×1000, id 0, and key, null value and headers carried as the record mapping says.
//! - the SDK sends messages with ids and typed headers to a native topic; kcat, confluent-kafka
//!   (venv) and KafkaJS read it as `<stream>.<topic>`: values byte-exact, the same offsets,
//!   timestamps ÷1000, every typed header as a Kafka header holding its native encoding, and the
//!   id in its reserved header.
//! - rdkafka and the SDK write the same partition concurrently; a Kafka consumer and a native
//!   poller must both see every record exactly once, in the same offset order.
//!
//! Each test owns its broker. The Kafka client programs only report (JSON lines, bytes as hex);
//! this file judges.
#![allow(clippy::unwrap_used)]

mod cross_common;
mod native_sdk_common;

use std::collections::BTreeMap;
use std::process::Command;
use std::str::FromStr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use cross_common::mapping::{KafkaView, kafka_headers_of_native, kafka_view};
use cross_common::{
    ReportedRecord, node_script, parse_native_headers, parse_reports, require, run_reporting,
    venv_script,
};
use iggy::prelude::*;
use native_sdk_common::{KAFKA_STREAM, id, name, root, start_broker, stream_and_topic};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer as _};
use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};
use whippet_compat_tests::WhippetProcess;

const TIMEOUT: Duration = Duration::from_secs(15);
const CONSUME_TIMEOUT: Duration = Duration::from_secs(40);
/// Records per codec in the rdkafka → SDK test.
const KAFKA_RECORDS: usize = 60;
/// The first records of each codec are edge cases (see [`kafka_records`]).
const EDGE_RECORDS: usize = 4;
/// Messages in the SDK → Kafka clients test.
const NATIVE_MESSAGES: u32 = 40;
/// Records each producer writes in the mixed test.
const MIXED_EACH: usize = 3_000;
/// Messages per SDK send in the mixed test.
const MIXED_SDK_BATCH: usize = 50;
/// The largest count one native poll asks for.
const POLL_CHUNK: u32 = 1_000;

// ---------------------------------------------------------------- shared Kafka-side helpers

fn kafka_config(addr: &str) -> ClientConfig {
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", addr);
    config
}

async fn create_kafka_topic(addr: &str, topic: &str, partitions: i32) {
    let admin: AdminClient<DefaultClientContext> = kafka_config(addr).create().unwrap();
    let new = NewTopic::new(topic, partitions, TopicReplication::Fixed(1));
    let options = AdminOptions::new().operation_timeout(Some(TIMEOUT));
    let results = admin.create_topics([&new], &options).await.unwrap();
    assert_eq!(results, vec![Ok(topic.to_string())], "create {topic}");
}

/// Reads `want` records of partition 0 from the beginning with an rdkafka consumer.
fn rdkafka_read_all(addr: &str, topic: &str, want: usize) -> Vec<ReportedRecord> {
    // librdkafka refuses assign() without a group.id; no group is joined.
    let consumer: BaseConsumer = kafka_config(addr)
        .set("group.id", "whippet-cross-unused")
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "error")
        .create()
        .unwrap();
    let mut assignment = TopicPartitionList::new();
    assignment
        .add_partition_offset(topic, 0, Offset::Beginning)
        .unwrap();
    consumer.assign(&assignment).unwrap();
    let mut records = Vec::with_capacity(want);
    let started = Instant::now();
    while records.len() < want {
        assert!(
            started.elapsed() < CONSUME_TIMEOUT,
            "rdkafka read only {} of {want} records of {topic}",
            records.len()
        );
        let Some(result) = consumer.poll(Duration::from_millis(200)) else {
            continue;
        };
        let message = result.unwrap_or_else(|e| panic!("rdkafka consume {topic}: {e}"));
        let headers = message
            .headers()
            .map(|h| {
                h.iter()
                    .map(|header| (header.key.to_string(), header.value.map(<[u8]>::to_vec)))
                    .collect()
            })
            .unwrap_or_default();
        records.push(ReportedRecord {
            partition: i64::from(message.partition()),
            offset: message.offset(),
            timestamp_ms: message.timestamp().to_millis().unwrap_or(-1),
            key: message.key().map(<[u8]>::to_vec),
            value: message.payload().map(<[u8]>::to_vec),
            headers,
        });
    }
    records
}

/// Polls partition 0 of `stream`/`topic` from offset 0 until `want` messages arrived.
async fn native_read_all(
    client: &IggyClient,
    stream: &Identifier,
    topic: &Identifier,
    want: usize,
) -> Vec<IggyMessage> {
    let consumer = Consumer::new(id(1));
    let mut messages: Vec<IggyMessage> = Vec::with_capacity(want);
    let started = Instant::now();
    while messages.len() < want {
        assert!(
            started.elapsed() < CONSUME_TIMEOUT,
            "native poll read only {} of {want} messages",
            messages.len()
        );
        let next = messages.last().map_or(0, |m| m.header.offset + 1);
        let polled = client
            .poll_messages(
                stream,
                topic,
                Some(0),
                &consumer,
                &PollingStrategy::offset(next),
                POLL_CHUNK,
                false,
            )
            .await
            .unwrap_or_else(|e| panic!("native poll from {next}: {e} (code {})", e.as_code()));
        if polled.messages.is_empty() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        messages.extend(polled.messages);
    }
    messages
}

fn now_ms() -> i64 {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    i64::try_from(now.as_millis()).unwrap()
}

// ---------------------------------------------------------------- 1. rdkafka → iggy SDK

/// One record rdkafka produces.
struct KafkaRecord {
    key: Option<Vec<u8>>,
    value: Option<Vec<u8>>,
    headers: Vec<(String, Vec<u8>)>,
    timestamp_ms: i64,
}

/// The records of one codec: the edge cases first (duplicate header keys, an empty header value,
/// a 300-byte key, binary bytes, a null value, a null key), then ordinary keyed records.
fn kafka_records(codec: &str, base_ms: i64) -> Vec<KafkaRecord> {
    let ts = |i: usize| base_ms + i64::try_from(i).unwrap();
    let mut records = vec![
        KafkaRecord {
            key: Some(b"dup-headers".to_vec()),
            value: Some(b"v0".to_vec()),
            headers: vec![("dup".into(), b"a".to_vec()), ("dup".into(), b"b".to_vec())],
            timestamp_ms: ts(0),
        },
        KafkaRecord {
            key: Some((0..300u32).map(|b| (b % 251) as u8).collect()),
            value: Some((0..=255u8).collect()),
            headers: vec![("empty".into(), Vec::new())],
            timestamp_ms: ts(1),
        },
        KafkaRecord {
            key: Some(b"tombstone".to_vec()),
            value: None,
            headers: vec![("h".into(), b"x".to_vec())],
            timestamp_ms: ts(2),
        },
        KafkaRecord {
            key: None,
            value: Some(b"no key".to_vec()),
            headers: vec![("bin".into(), (0..200u8).rev().collect())],
            timestamp_ms: ts(3),
        },
    ];
    debug_assert_eq!(records.len(), EDGE_RECORDS);
    for i in records.len()..KAFKA_RECORDS {
        let mut value = format!("value-{codec}-{i:04}-").into_bytes();
        value.extend(b"0123456789abcdef".iter().cycle().take((i * 37) % 300));
        records.push(KafkaRecord {
            key: Some(format!("key-{i}").into_bytes()),
            value: Some(value),
            headers: vec![
                ("idx".into(), i.to_string().into_bytes()),
                ("codec".into(), codec.as_bytes().to_vec()),
            ],
            timestamp_ms: ts(i),
        });
    }
    records
}

async fn rdkafka_produce(addr: &str, topic: &str, codec: &str, records: &[KafkaRecord]) {
    let producer: FutureProducer = kafka_config(addr)
        .set("compression.type", codec)
        .set("linger.ms", "50")
        .set("enable.idempotence", "true")
        .create()
        .unwrap();
    let mut deliveries = Vec::with_capacity(records.len());
    for record in records {
        let mut headers = OwnedHeaders::new();
        for (key, value) in &record.headers {
            headers = headers.insert(Header {
                key,
                value: Some(value),
            });
        }
        let mut future = FutureRecord::<[u8], [u8]>::to(topic)
            .partition(0)
            .timestamp(record.timestamp_ms)
            .headers(headers);
        if let Some(key) = &record.key {
            future = future.key(key);
        }
        if let Some(value) = &record.value {
            future = future.payload(value);
        }
        deliveries.push(producer.send_result(future).map_err(|(e, _)| e).unwrap());
    }
    for (i, delivery) in deliveries.into_iter().enumerate() {
        let delivered = delivery.await.unwrap().map_err(|(e, _)| e).unwrap();
        assert_eq!(
            delivered.offset,
            i64::try_from(i).unwrap(),
            "delivery order"
        );
    }
}

async fn rdkafka_to_sdk(codec: &str) {
    let broker = start_broker();
    let addr = broker.kafka_addr().to_string();
    let topic = format!("cross-{codec}");
    create_kafka_topic(&addr, &topic, 1).await;
    let records = kafka_records(codec, now_ms() - 3_600_000);
    rdkafka_produce(&addr, &topic, codec, &records).await;

    let client = root(&broker).await;
    let messages =
        native_read_all(&client, &name(KAFKA_STREAM), &name(&topic), records.len()).await;
    assert_eq!(
        messages.len(),
        records.len(),
        "{topic}: one message per record"
    );
    for (i, (message, record)) in messages.iter().zip(&records).enumerate() {
        let at = format!("{topic}@{i}");
        assert_eq!(
            message.header.offset,
            u64::try_from(i).unwrap(),
            "{at}: offset"
        );
        assert_eq!(message.header.id, 0, "{at}: Kafka records get id 0");
        // The Kafka CreateTime is the native origin timestamp (the producer's clock; the wire
        // module's mapping table); the native `timestamp` is the batch's append time.
        let micros = u64::try_from(record.timestamp_ms * 1000).unwrap();
        assert_eq!(
            message.header.origin_timestamp, micros,
            "{at}: origin timestamp = CreateTime ×1000"
        );
        let map = message.user_headers_map();
        assert!(
            map.is_ok(),
            "{at}: the SDK cannot read the headers: {map:?}"
        );
        let raw = message.user_headers.as_deref().unwrap_or_default();
        let native = parse_native_headers(raw);
        // An ordinary header (the first of its name, fitting a native field) is a raw native
        // header under its own name, readable through the SDK's map.
        if i >= EDGE_RECORDS {
            let map = map.unwrap().unwrap_or_default();
            for (name, value) in &record.headers {
                let got = map.get(&HeaderKey::from_str(name).unwrap());
                assert_eq!(
                    got.map(|v| (v.kind(), v.as_bytes().to_vec())),
                    Some((HeaderKind::Raw, value.clone())),
                    "{at}: header {name} under its own name"
                );
            }
        }
        let want = KafkaView {
            key: record.key.clone(),
            value: record.value.clone(),
            headers: record
                .headers
                .iter()
                .map(|(k, v)| (k.as_bytes().to_vec(), Some(v.clone())))
                .collect(),
        };
        let payload = &message.payload[..];
        assert_eq!(
            payload,
            record.value.as_deref().unwrap_or_default(),
            "{at}: payload byte-exact (null → empty)"
        );
        assert_eq!(
            kafka_view(&native, payload),
            want,
            "{at}: key, value, headers: {native:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rdkafka_none_to_iggy_sdk() {
    rdkafka_to_sdk("none").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rdkafka_lz4_to_iggy_sdk() {
    rdkafka_to_sdk("lz4").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rdkafka_zstd_to_iggy_sdk() {
    rdkafka_to_sdk("zstd").await;
}

// ---------------------------------------------------------------- 2. iggy SDK → Kafka clients

const NATIVE_STREAM: &str = "orders";
const NATIVE_TOPIC: &str = "placed";

/// The `i`-th message the SDK sends: an explicit id, a binary payload of varying length
/// (newlines and zero bytes included) and, on most, typed headers of several kinds.
fn native_message(i: u32) -> IggyMessage {
    let mut payload = format!("native-{i:03}\n").into_bytes();
    payload.extend((0..(i * 13) % 200).map(|b| u8::try_from(b % 256).unwrap()));
    let key = |k: &str| HeaderKey::from_str(k).unwrap();
    let headers = match i % 4 {
        0 => None,
        1 => Some(BTreeMap::from([
            (key("text"), HeaderValue::from_str("zażółć").unwrap()),
            (key("n"), HeaderValue::from(i64::from(i) - 1_000)),
        ])),
        2 => Some(BTreeMap::from([
            (key("flag"), HeaderValue::from(i % 8 == 2)),
            (key("u128"), HeaderValue::from(u128::MAX - u128::from(i))),
            (key("f64"), HeaderValue::from(f64::from(i) / 3.0)),
        ])),
        _ => Some(BTreeMap::from([
            (
                key("raw"),
                HeaderValue::try_from(&[0u8, 10, 13, 255][..]).unwrap(),
            ),
            (key("u16"), HeaderValue::from(u16::try_from(i).unwrap())),
        ])),
    };
    let id = (u128::from(i) << 64) | 0xfeed_0000_0000_0000_u128 | u128::from(i);
    let builder = IggyMessage::builder().id(id).payload(Bytes::from(payload));
    match headers {
        Some(headers) => builder.user_headers(headers).build().unwrap(),
        None => builder.build().unwrap(),
    }
}

/// What a Kafka consumer must see for a native message (as stored, read back by the SDK):
/// the payload, no key, each typed header by name with its native encoding, and the id header.
struct ExpectedKafka {
    offset: i64,
    timestamp_ms: i64,
    value: Vec<u8>,
    /// (name, value) pairs in Kafka order, kind markers and the id header included.
    headers: Vec<(String, Vec<u8>)>,
}

fn expected_kafka(stored: &IggyMessage) -> ExpectedKafka {
    let raw = stored.user_headers.as_deref().unwrap_or_default();
    ExpectedKafka {
        offset: i64::try_from(stored.header.offset).unwrap(),
        timestamp_ms: i64::try_from(stored.header.origin_timestamp / 1000).unwrap(),
        value: stored.payload.to_vec(),
        headers: kafka_headers_of_native(&parse_native_headers(raw), stored.header.id),
    }
}

/// Checks what a Kafka client reported; `header_order` is false for KafkaJS, which returns
/// headers as an object (repeated names grouped), so only the multiset is compared.
fn check_kafka_reports(
    client: &str,
    got: &[ReportedRecord],
    want: &[ExpectedKafka],
    header_order: bool,
) {
    assert_eq!(got.len(), want.len(), "{client}: record count");
    for (record, expected) in got.iter().zip(want) {
        let at = format!(
            "{client} {NATIVE_STREAM}.{NATIVE_TOPIC}@{}",
            expected.offset
        );
        assert_eq!(record.partition, 0, "{at}: partition");
        assert_eq!(record.offset, expected.offset, "{at}: offset");
        assert_eq!(
            record.timestamp_ms, expected.timestamp_ms,
            "{at}: timestamp ÷1000"
        );
        assert_eq!(record.key, None, "{at}: a native message has a null key");
        assert_eq!(
            record.value.as_deref(),
            Some(&expected.value[..]),
            "{at}: value"
        );
        let mut headers: Vec<(String, Vec<u8>)> = record
            .headers
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    v.clone().unwrap_or_else(|| panic!("{at}: null header {k}")),
                )
            })
            .collect();
        let mut want_headers = expected.headers.clone();
        if !header_order {
            headers.sort();
            want_headers.sort();
        }
        assert_eq!(headers, want_headers, "{at}: headers");
    }
}

/// One record as kcat printed it.
struct KcatRecord {
    offset: i64,
    timestamp_ms: i64,
    /// `%K`: -1 for a null key.
    key_len: i64,
    value: Vec<u8>,
    key: Vec<u8>,
    /// `%h`: `name=value` items joined by `,`.
    headers: Vec<u8>,
}

/// Reads the topic with kcat (Debian, librdkafka 2.0.2). The format prints lengths before the
/// bytes (`%S`, `%K`), so binary values and keys are cut exactly; headers (`%h`, `name=value`
/// joined by `,`) come last before an end marker and are compared byte for byte.
fn kcat_read(broker: &WhippetProcess, topic: &str, count: u32) -> Vec<KcatRecord> {
    const END: &[u8] = b"\n<<whippet-end>>\n";
    let kcat = require(std::path::Path::new("/usr/bin/kcat"));
    let mut command = Command::new(kcat);
    command.args([
        "-b",
        &broker.kafka_addr().to_string(),
        "-C",
        "-t",
        topic,
        "-p",
        "0",
    ]);
    command.args(["-o", "beginning", "-c", &count.to_string(), "-e", "-q"]);
    command.args(["-f", "%o %T %S %K\n%s%k%h\n<<whippet-end>>\n"]);
    let output = cross_common::run_program(command);
    assert!(
        output.success,
        "kcat failed: {}\n{}",
        output.stderr,
        broker.stderr()
    );
    let mut rest = &output.stdout[..];
    let mut records = Vec::new();
    while !rest.is_empty() {
        let newline = rest.iter().position(|&b| b == b'\n').unwrap();
        let line = std::str::from_utf8(&rest[..newline]).unwrap();
        let numbers: Vec<i64> = line.split(' ').map(|n| n.parse().unwrap()).collect();
        let (value_len, key_len) = (numbers[2].max(0) as usize, numbers[3]);
        rest = &rest[newline + 1..];
        let value = rest[..value_len].to_vec();
        rest = &rest[value_len..];
        let key_bytes = usize::try_from(key_len.max(0)).unwrap();
        let key = rest[..key_bytes].to_vec();
        rest = &rest[key_bytes..];
        let end = rest.windows(END.len()).position(|w| w == END).unwrap();
        let headers = rest[..end].to_vec();
        rest = &rest[end + END.len()..];
        records.push(KcatRecord {
            offset: numbers[0],
            timestamp_ms: numbers[1],
            key_len,
            value,
            key,
            headers,
        });
    }
    records
}

fn check_kcat(records: &[KcatRecord], want: &[ExpectedKafka]) {
    assert_eq!(records.len(), want.len(), "kcat: record count");
    for (record, expected) in records.iter().zip(want) {
        let KcatRecord {
            offset,
            timestamp_ms: ts,
            key_len,
            value,
            key,
            headers,
        } = record;
        let at = format!("kcat @{}", expected.offset);
        assert_eq!(*offset, expected.offset, "{at}: offset");
        assert_eq!(*ts, expected.timestamp_ms, "{at}: timestamp");
        assert_eq!((*key_len, key.len()), (-1, 0), "{at}: null key");
        assert_eq!(value, &expected.value, "{at}: value");
        // kcat prints `name=value` items joined by `,`, in wire order, each with `%.*s`: a
        // value is cut at its first zero byte (a kcat limit; the other clients see all bytes).
        let items: Vec<Vec<u8>> = expected
            .headers
            .iter()
            .map(|(k, v)| {
                let shown = v.split(|&b| b == 0).next().unwrap_or_default();
                [k.as_bytes(), b"=", shown].concat()
            })
            .collect();
        assert_eq!(
            String::from_utf8_lossy(headers),
            String::from_utf8_lossy(&items.join(&b","[..])),
            "{at}: headers"
        );
        assert_eq!(headers, &items.join(&b","[..]), "{at}: header bytes");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn iggy_sdk_to_kcat_confluent_kafkajs() {
    let broker = start_broker();
    let client = root(&broker).await;
    let (sid, tid) = stream_and_topic(&client, NATIVE_STREAM, NATIVE_TOPIC, 1).await;
    let sent: Vec<(u128, Bytes)> = (0..NATIVE_MESSAGES)
        .map(native_message)
        .map(|m| (m.header.id, m.payload))
        .collect();
    for start in (0..NATIVE_MESSAGES).step_by(10) {
        let mut batch: Vec<IggyMessage> = (start..start + 10).map(native_message).collect();
        client
            .send_messages(&sid, &tid, &Partitioning::partition_id(0), &mut batch)
            .await
            .unwrap();
    }
    let count = usize::try_from(NATIVE_MESSAGES).unwrap();
    let stored = native_read_all(&client, &sid, &tid, count).await;
    for (i, message) in stored.iter().enumerate() {
        assert_eq!(message.header.id, sent[i].0, "stored id @{i}");
        assert_eq!(message.payload, sent[i].1, "stored payload @{i}");
    }
    let want: Vec<ExpectedKafka> = stored.iter().map(expected_kafka).collect();
    let kafka_name = format!("{NATIVE_STREAM}.{NATIVE_TOPIC}");
    let addr = broker.kafka_addr().to_string();

    check_kcat(&kcat_read(&broker, &kafka_name, NATIVE_MESSAGES), &want);

    let mut confluent = venv_script("cross_consume.py");
    confluent.args([&addr, &kafka_name, "0", &NATIVE_MESSAGES.to_string()]);
    let out = run_reporting("confluent-kafka", confluent, || broker.stderr());
    check_kafka_reports("confluent-kafka", &parse_reports(&out), &want, true);

    let mut kafkajs = node_script("kafkajs_cross_consume.js");
    kafkajs.args([
        &addr,
        &kafka_name,
        "cross-kafkajs",
        &NATIVE_MESSAGES.to_string(),
    ]);
    let out = run_reporting("KafkaJS", kafkajs, || broker.stderr());
    let mut reports = parse_reports(&out);
    reports.sort_by_key(|r| r.offset);
    check_kafka_reports("KafkaJS", &reports, &want, false);

    // The rdkafka crate too (librdkafka 2.12.1), from the same process.
    let records = rdkafka_read_all(&addr, &kafka_name, count);
    check_kafka_reports("rdkafka", &records, &want, true);
}

// ---------------------------------------------------------------- 3. mixed producers

async fn mixed_kafka_side(addr: String, topic: String) {
    let producer: FutureProducer = kafka_config(&addr)
        .set("linger.ms", "5")
        .set("enable.idempotence", "true")
        .set("compression.type", "lz4")
        .create()
        .unwrap();
    let mut deliveries = Vec::with_capacity(MIXED_EACH);
    for i in 0..MIXED_EACH {
        let value = format!("kafka-{i:05}");
        let record = FutureRecord::<[u8], [u8]>::to(&topic)
            .partition(0)
            .payload(value.as_bytes());
        deliveries.push(producer.send_result(record).map_err(|(e, _)| e).unwrap());
        if i % 100 == 99 {
            tokio::task::yield_now().await;
        }
    }
    for delivery in deliveries {
        delivery.await.unwrap().map_err(|(e, _)| e).unwrap();
    }
}

async fn mixed_native_side(client: IggyClient, topic: String) {
    let (stream, topic) = (name(KAFKA_STREAM), name(&topic));
    for start in (0..MIXED_EACH).step_by(MIXED_SDK_BATCH) {
        let mut batch: Vec<IggyMessage> = (start..start + MIXED_SDK_BATCH)
            .map(|i| IggyMessage::from_str(&format!("native-{i:05}")).unwrap())
            .collect();
        client
            .send_messages(&stream, &topic, &Partitioning::partition_id(0), &mut batch)
            .await
            .unwrap();
    }
}

/// Every record once, each producer's records in the order it sent them.
fn check_mixed_sequence(who: &str, values: &[String]) {
    assert_eq!(values.len(), 2 * MIXED_EACH, "{who}: record count");
    let (mut kafka, mut native) = (0, 0);
    for (offset, value) in values.iter().enumerate() {
        if let Some(n) = value.strip_prefix("kafka-") {
            assert_eq!(
                n.parse::<usize>().unwrap(),
                kafka,
                "{who}@{offset}: {value}"
            );
            kafka += 1;
        } else if let Some(n) = value.strip_prefix("native-") {
            assert_eq!(
                n.parse::<usize>().unwrap(),
                native,
                "{who}@{offset}: {value}"
            );
            native += 1;
        } else {
            panic!("{who}@{offset}: unexpected value {value:?}");
        }
    }
    assert_eq!(
        (kafka, native),
        (MIXED_EACH, MIXED_EACH),
        "{who}: both producers"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_producers_one_partition_both_consumers() {
    let broker = start_broker();
    let addr = broker.kafka_addr().to_string();
    let topic = "mixed".to_string();
    create_kafka_topic(&addr, &topic, 1).await;
    let client = root(&broker).await;
    let kafka = tokio::spawn(mixed_kafka_side(addr.clone(), topic.clone()));
    let native = tokio::spawn(mixed_native_side(root(&broker).await, topic.clone()));
    kafka.await.unwrap();
    native.await.unwrap();

    let total = 2 * MIXED_EACH;
    let polled = native_read_all(&client, &name(KAFKA_STREAM), &name(&topic), total).await;
    let offsets: Vec<u64> = polled.iter().map(|m| m.header.offset).collect();
    let dense: Vec<u64> = (0..u64::try_from(total).unwrap()).collect();
    assert_eq!(offsets, dense, "native: offsets dense from 0, in order");
    let native_values: Vec<String> = polled
        .iter()
        .map(|m| String::from_utf8(m.payload.to_vec()).unwrap())
        .collect();
    check_mixed_sequence("native poll", &native_values);

    let addr_for_read = addr.clone();
    let topic_for_read = topic.clone();
    let records = tokio::task::spawn_blocking(move || {
        rdkafka_read_all(&addr_for_read, &topic_for_read, total)
    })
    .await
    .unwrap();
    let kafka_offsets: Vec<u64> = records
        .iter()
        .map(|r| u64::try_from(r.offset).unwrap())
        .collect();
    assert_eq!(
        kafka_offsets, dense,
        "Kafka: offsets dense from 0, in order"
    );
    let kafka_values: Vec<String> = records
        .iter()
        .map(|r| String::from_utf8(r.value.clone().unwrap_or_default()).unwrap())
        .collect();
    check_mixed_sequence("Kafka consumer", &kafka_values);
    assert_eq!(
        kafka_values, native_values,
        "both protocols see the same sequence"
    );
}
