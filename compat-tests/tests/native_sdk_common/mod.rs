//! Shared helpers for the `native_sdk*.rs` tests: start a broker, connect the official `iggy`
//! 0.11.0 SDK to its native listener, and small assertions on SDK errors. Every test owns its
//! broker, so tests run in parallel without sharing ids or names.
#![allow(dead_code, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::str::FromStr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use iggy::prelude::*;
use whippet_compat_tests::{Launch, WhippetProcess};

/// The stream the Kafka listener keeps its topics in; it exists from startup (id 0) and is an
/// ordinary stream to native clients.
pub const KAFKA_STREAM: &str = "kafka";

/// How long a test waits for an asynchronous effect (rebalance, consumer progress).
pub const SETTLE_TIMEOUT: Duration = Duration::from_secs(30);

/// Starts a broker with the harness defaults (root user `iggy`/`iggy`).
pub fn start_broker() -> WhippetProcess {
    Launch::new().start().unwrap()
}

/// The SDK's connection string for `user`/`password` at the broker's native address.
pub fn connection_string(broker: &WhippetProcess, user: &str, password: &str) -> String {
    format!("iggy://{user}:{password}@{}", broker.native_addr())
}

/// A connected, not yet logged-in client (the SDK's heartbeat PING is already running).
pub async fn connect(broker: &WhippetProcess) -> IggyClient {
    let client = IggyClient::builder()
        .with_tcp()
        .with_server_address(broker.native_addr().to_string())
        .build()
        .unwrap();
    client.connect().await.unwrap();
    client
}

/// A client logged in as `user`.
pub async fn login(broker: &WhippetProcess, user: &str, password: &str) -> IggyClient {
    let client = connect(broker).await;
    client.login_user(user, password).await.unwrap();
    client
}

/// A client logged in as the default root user.
pub async fn root(broker: &WhippetProcess) -> IggyClient {
    login(broker, DEFAULT_ROOT_USERNAME, DEFAULT_ROOT_PASSWORD).await
}

/// A numeric identifier.
pub fn id(value: u32) -> Identifier {
    Identifier::numeric(value).unwrap()
}

/// A string identifier.
pub fn name(value: &str) -> Identifier {
    Identifier::named(value).unwrap()
}

/// Asserts that `result` failed with the `IggyError` whose numeric code is `code`.
#[track_caller]
pub fn assert_code<T: std::fmt::Debug>(result: Result<T, IggyError>, code: u32, what: &str) {
    match result {
        Ok(value) => panic!("{what}: expected error {code}, got Ok({value:?})"),
        Err(error) => assert_eq!(
            error.as_code(),
            code,
            "{what}: expected error {code}, got {error:?} ({})",
            error.as_code()
        ),
    }
}

/// Creates a stream and a topic with `partitions`, returning their numeric ids.
pub async fn stream_and_topic(
    client: &IggyClient,
    stream: &str,
    topic: &str,
    partitions: u32,
) -> (Identifier, Identifier) {
    let s = client.create_stream(stream).await.unwrap();
    let sid = id(s.id);
    let options = TopicCreateOptions {
        partitions_count: Some(partitions),
        ..Default::default()
    };
    let t = client.create_topic(&sid, topic, &options).await.unwrap();
    (sid, id(t.id))
}

/// `count` messages with payloads `"{prefix}-{i}"`.
pub fn text_messages(prefix: &str, count: usize) -> Vec<IggyMessage> {
    (0..count)
        .map(|i| {
            IggyMessage::builder()
                .payload(Bytes::from(format!("{prefix}-{i}")))
                .build()
                .unwrap()
        })
        .collect()
}

/// The payloads of polled messages, as strings.
pub fn payloads(polled: &PolledMessages) -> Vec<String> {
    polled
        .messages
        .iter()
        .map(|m| String::from_utf8(m.payload.to_vec()).unwrap())
        .collect()
}

/// The offsets of polled messages.
pub fn offsets(polled: &PolledMessages) -> Vec<u64> {
    polled.messages.iter().map(|m| m.header.offset).collect()
}

/// Polls one partition with a single consumer, by `strategy`, without auto-commit.
pub async fn poll(
    client: &IggyClient,
    stream: &Identifier,
    topic: &Identifier,
    partition: u32,
    strategy: PollingStrategy,
    count: u32,
) -> PolledMessages {
    let consumer = Consumer::new(id(1));
    client
        .poll_messages(
            stream,
            topic,
            Some(partition),
            &consumer,
            &strategy,
            count,
            false,
        )
        .await
        .unwrap()
}

/// One header of every value kind the protocol defines, keyed by the kind's name.
pub fn every_header_kind() -> BTreeMap<HeaderKey, HeaderValue> {
    let key = |k: &str| HeaderKey::from_str(k).unwrap();
    BTreeMap::from([
        (
            key("raw"),
            HeaderValue::try_from(&[0u8, 1, 2, 254, 255][..]).unwrap(),
        ),
        (key("string"), HeaderValue::from_str("zażółć").unwrap()),
        (key("bool"), HeaderValue::from(true)),
        (key("i8"), HeaderValue::from(-8i8)),
        (key("i16"), HeaderValue::from(-16_000i16)),
        (key("i32"), HeaderValue::from(-32_000_000i32)),
        (key("i64"), HeaderValue::from(i64::MIN + 7)),
        (key("i128"), HeaderValue::from(i128::MIN + 11)),
        (key("u8"), HeaderValue::from(200u8)),
        (key("u16"), HeaderValue::from(65_000u16)),
        (key("u32"), HeaderValue::from(4_000_000_000u32)),
        (key("u64"), HeaderValue::from(u64::MAX - 3)),
        (key("u128"), HeaderValue::from(u128::MAX - 5)),
        (key("f32"), HeaderValue::from(3.5f32)),
        (key("f64"), HeaderValue::from(-2.25e300f64)),
    ])
}

/// Retries `probe` until it returns `Some` or [`SETTLE_TIMEOUT`] passes.
pub async fn eventually<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let started = Instant::now();
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(
            started.elapsed() < SETTLE_TIMEOUT,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Everything the iggy SDK polls from partition 0 of a Kafka topic, from offset 0.
pub async fn native_values(broker: &WhippetProcess, topic: &str) -> Vec<(u64, String)> {
    let client = root(broker).await;
    let polled = client
        .poll_messages(
            &name(KAFKA_STREAM),
            &name(topic),
            Some(0),
            &Consumer::new(Identifier::numeric(1).unwrap()),
            &PollingStrategy::offset(0),
            1000,
            false,
        )
        .await
        .unwrap();
    polled
        .messages
        .iter()
        .map(|m| {
            (
                m.header.offset,
                String::from_utf8(m.payload.to_vec()).unwrap(),
            )
        })
        .collect()
}
