//! Shared committed offsets (issue 6 item 3, design brief §3): a Kafka group `g` and a native
//! consumer group named `g` on the same topic read and write one store. Kafka commits the next
//! offset to read, Iggy stores the last offset consumed, so a Kafka commit of N reads back
//! natively as N−1 and a native `next` poll continues at N; a native store of M reads back in
//! Kafka as M+1.
//!
//! kafka-python (venv, `clients/python/cross_offsets.py`) commits and resumes with manual
//! assignment, so the Kafka group never competes with the native group's membership; the
//! `iggy` 0.11.0 SDK creates, joins and polls the native group. The data is written by the
//! reader's own protocol (SDK for the native reader, rdkafka for the Kafka reader) so that these
//! tests measure the offset store alone; reading the other protocol's records is
//! `cross_clients.rs`'s subject.
#![allow(clippy::unwrap_used)]

mod cross_common;
mod native_sdk_common;

use std::time::Duration;

use cross_common::{run_reporting, venv_script};
use iggy::prelude::*;
use native_sdk_common::{KAFKA_STREAM, name, root, start_broker, text_messages};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::producer::{FutureProducer, FutureRecord};
use whippet_compat_tests::WhippetProcess;

const TIMEOUT: Duration = Duration::from_secs(15);
/// Records in each test's topic.
const RECORDS: u64 = 20;
/// The group name both protocols use.
const GROUP: &str = "g";

async fn create_kafka_topic(addr: &str, topic: &str) {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", addr)
        .create()
        .unwrap();
    let new = NewTopic::new(topic, 1, TopicReplication::Fixed(1));
    let options = AdminOptions::new().operation_timeout(Some(TIMEOUT));
    let results = admin.create_topics([&new], &options).await.unwrap();
    assert_eq!(results, vec![Ok(topic.to_string())], "create {topic}");
}

/// Runs `cross_offsets.py MODE …` and returns its JSON report.
fn kafka_python(broker: &WhippetProcess, args: &[&str]) -> serde_json::Value {
    let mut command = venv_script("cross_offsets.py");
    command.arg(args[0]).arg(broker.kafka_addr().to_string());
    command.args(&args[1..]);
    let out = run_reporting("kafka-python cross_offsets.py", command, || broker.stderr());
    serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("report {out:?}: {e}"))
}

/// Creates and joins the native group `g` on the Kafka topic (stream `kafka`).
async fn join_native_group(client: &IggyClient, topic: &str) {
    let (stream, topic) = (name(KAFKA_STREAM), name(topic));
    client
        .create_consumer_group(&stream, &topic, GROUP)
        .await
        .unwrap();
    client
        .join_consumer_group(&stream, &topic, &name(GROUP))
        .await
        .unwrap();
}

/// Polls the native group `g` with `next` until `want` messages arrived.
async fn poll_group_next(client: &IggyClient, topic: &str, want: usize, commit: bool) -> Vec<u64> {
    let (stream, topic) = (name(KAFKA_STREAM), name(topic));
    let consumer = Consumer::group(name(GROUP));
    let mut offsets = Vec::new();
    for _ in 0..50 {
        if offsets.len() >= want {
            break;
        }
        let left = u32::try_from(want - offsets.len()).unwrap();
        let polled = client
            .poll_messages(
                &stream,
                &topic,
                None,
                &consumer,
                &PollingStrategy::next(),
                left,
                commit,
            )
            .await
            .unwrap();
        if polled.messages.is_empty() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        offsets.extend(polled.messages.iter().map(|m| m.header.offset));
    }
    offsets
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_python_commit_then_iggy_sdk_continues() {
    const COMMIT: u64 = 7;
    let broker = start_broker();
    let topic = "shared-offsets-a";
    create_kafka_topic(&broker.kafka_addr().to_string(), topic).await;
    let client = root(&broker).await;
    let mut messages = text_messages("a", usize::try_from(RECORDS).unwrap());
    client
        .send_messages(
            &name(KAFKA_STREAM),
            &name(topic),
            &Partitioning::partition_id(0),
            &mut messages,
        )
        .await
        .unwrap();

    let report = kafka_python(&broker, &["commit", topic, GROUP, "0", &COMMIT.to_string()]);
    assert_eq!(
        report["committed"], COMMIT,
        "kafka-python reads its own commit back"
    );

    join_native_group(&client, topic).await;
    let stored = client
        .get_consumer_offset(
            &Consumer::group(name(GROUP)),
            &name(KAFKA_STREAM),
            &name(topic),
            Some(0),
        )
        .await
        .unwrap()
        .expect("the Kafka commit is visible to the native group");
    assert_eq!(
        stored.stored_offset,
        COMMIT - 1,
        "Kafka commit {COMMIT} (next to read) is native {} (last consumed)",
        COMMIT - 1
    );
    assert_eq!(stored.current_offset, RECORDS - 1, "partition end");

    let offsets = poll_group_next(
        &client,
        topic,
        usize::try_from(RECORDS - COMMIT).unwrap(),
        true,
    )
    .await;
    let want: Vec<u64> = (COMMIT..RECORDS).collect();
    assert_eq!(
        offsets, want,
        "the native group continues right after the Kafka commit"
    );

    // The native auto-commit is visible to Kafka again, in Kafka's meaning.
    let report = kafka_python(&broker, &["resume", topic, GROUP, "0", "0"]);
    assert_eq!(
        report["committed"], RECORDS,
        "Kafka sees the native progress"
    );
}

async fn rdkafka_produce(addr: &str, topic: &str) {
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", addr)
        .set("linger.ms", "5")
        .create()
        .unwrap();
    for i in 0..RECORDS {
        let value = format!("b-{i}");
        let record = FutureRecord::<[u8], [u8]>::to(topic)
            .partition(0)
            .payload(value.as_bytes());
        producer
            .send(record, TIMEOUT)
            .await
            .map_err(|(e, _)| e)
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn iggy_sdk_commits_then_kafka_python_resumes() {
    const CONSUMED: u64 = 12;
    let broker = start_broker();
    let addr = broker.kafka_addr().to_string();
    let topic = "shared-offsets-b";
    create_kafka_topic(&addr, topic).await;
    rdkafka_produce(&addr, topic).await;

    let client = root(&broker).await;
    join_native_group(&client, topic).await;
    let offsets = poll_group_next(&client, topic, usize::try_from(CONSUMED).unwrap(), true).await;
    let want: Vec<u64> = (0..CONSUMED).collect();
    assert_eq!(offsets, want, "the native group reads from the start");
    let stored = client
        .get_consumer_offset(
            &Consumer::group(name(GROUP)),
            &name(KAFKA_STREAM),
            &name(topic),
            Some(0),
        )
        .await
        .unwrap()
        .expect("auto-commit stored the group offset");
    assert_eq!(stored.stored_offset, CONSUMED - 1, "native: last consumed");

    let left = RECORDS - CONSUMED;
    let report = kafka_python(&broker, &["resume", topic, GROUP, "0", &left.to_string()]);
    assert_eq!(
        report["committed"],
        CONSUMED,
        "native store {} is Kafka {CONSUMED}",
        CONSUMED - 1
    );
    assert_eq!(
        report["position"], CONSUMED,
        "kafka-python resumes at the committed offset"
    );
    let resumed: Vec<u64> = report["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|pair| pair[0].as_u64().unwrap())
        .collect();
    let want: Vec<u64> = (CONSUMED..RECORDS).collect();
    assert_eq!(
        resumed, want,
        "Kafka continues exactly after the native progress"
    );
    let first_value = report["records"][0][1].as_str().unwrap();
    assert_eq!(
        first_value,
        hex(format!("b-{CONSUMED}").as_bytes()),
        "first resumed value"
    );

    // An explicit native store (not a poll's auto-commit) is shared the same way.
    client
        .store_consumer_offset(
            &Consumer::group(name(GROUP)),
            &name(KAFKA_STREAM),
            &name(topic),
            Some(0),
            4,
        )
        .await
        .unwrap();
    let report = kafka_python(&broker, &["resume", topic, GROUP, "0", "1"]);
    assert_eq!(report["committed"], 5, "native store 4 is Kafka 5");
    assert_eq!(report["records"][0][0], 5, "and Kafka reads from there");
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
