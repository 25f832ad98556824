//! Kafka transactions (issue 20 item 1) with real clients: confluent-kafka's transactional
//! producer (commit, abort, a transaction left open, consume-transform-produce with
//! `send_offsets_to_transaction`, fencing by a second producer with the same transactional
//! id), the rdkafka crate's transactional API, and KafkaJS's; read back by `read_committed`
//! and `read_uncommitted` consumers and by the iggy SDK, which sees committed data only; a
//! broker SIGKILLed with a transaction open and right after a commit; DescribeTransactions and
//! ListTransactions over a raw connection (no client library has them).
#![allow(clippy::unwrap_used)]

mod cross_common;
mod kafka_raw;
mod native_sdk_common;

use std::time::Duration;

use cross_common::{node_script, run_program, run_reporting, venv_script};
use kafka_protocol::messages::add_partitions_to_txn_request::AddPartitionsToTxnTopic;
use kafka_protocol::messages::offset_fetch_request::OffsetFetchRequestTopic;
use kafka_protocol::messages::{
    AddPartitionsToTxnRequest, AddPartitionsToTxnResponse, DescribeTransactionsRequest,
    EndTxnRequest, GroupId, InitProducerIdRequest, ListTransactionsRequest, OffsetFetchRequest,
    ProducerId, TopicName, TransactionalId,
};
use kafka_protocol::protocol::StrBytes;
use native_sdk_common::{native_values, start_broker};
use rdkafka::TopicPartitionList;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer as _};
use rdkafka::message::Message as _;
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer as _, ThreadedProducer};
use whippet_compat_tests::WhippetProcess;

const TIMEOUT: Duration = Duration::from_secs(30);

/// Runs `transactions.py ACTION ARGS…` against `broker` and returns its stdout.
fn py(broker: &WhippetProcess, action: &str, args: &[&str]) -> String {
    let mut command = venv_script("transactions.py");
    command
        .arg(broker.kafka_addr().to_string())
        .arg(action)
        .args(args);
    run_reporting(&format!("transactions.py {action}"), command, || {
        broker.stderr()
    })
}

/// The `REC offset value` lines of a consume, as (offset, value).
fn records(out: &str) -> Vec<(i64, String)> {
    out.lines()
        .filter_map(|line| line.strip_prefix("REC "))
        .map(|rest| {
            let (offset, value) = rest.split_once(' ').unwrap();
            (offset.parse().unwrap(), value.to_string())
        })
        .collect()
}

fn values(records: &[(i64, String)]) -> Vec<String> {
    records.iter().map(|(_, v)| v.clone()).collect()
}

fn expected(prefix: &str, count: usize) -> Vec<String> {
    (0..count).map(|i| format!("{prefix}-{i}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn committed_and_aborted_transactions_as_each_reader_sees_them() {
    let broker = start_broker();
    let topic = "txn-basic";
    py(&broker, "produce", &[topic, "tx-a", "COMMIT", "c", "5"]);
    py(&broker, "produce", &[topic, "tx-b", "ABORT", "a", "4"]);
    py(&broker, "produce", &[topic, "tx-a", "COMMIT", "d", "3"]);

    let committed = records(&py(
        &broker,
        "consume",
        &[topic, "read_committed", "8", "g1"],
    ));
    let mut want = expected("c", 5);
    want.extend(expected("d", 3));
    assert_eq!(
        values(&committed),
        want,
        "read_committed: committed records only"
    );
    // Offsets: 5 records, a commit marker, 4 aborted records, an abort marker, 3 records.
    let offsets: Vec<i64> = committed.iter().map(|(o, _)| *o).collect();
    assert_eq!(offsets, vec![0, 1, 2, 3, 4, 11, 12, 13]);

    let all = records(&py(
        &broker,
        "consume",
        &[topic, "read_uncommitted", "12", "g2"],
    ));
    let mut want_all = expected("c", 5);
    want_all.extend(expected("a", 4));
    want_all.extend(expected("d", 3));
    assert_eq!(
        values(&all),
        want_all,
        "read_uncommitted: every data record, no marker"
    );

    let native = native_values(&broker, topic).await;
    let native_offsets: Vec<u64> = native.iter().map(|(o, _)| *o).collect();
    let native_values: Vec<String> = native.into_iter().map(|(_, v)| v).collect();
    assert_eq!(
        native_values, want,
        "native readers see committed records only"
    );
    assert_eq!(native_offsets, vec![0, 1, 2, 3, 4, 11, 12, 13]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consume_transform_produce_commits_output_and_offsets_together() {
    let broker = start_broker();
    py(
        &broker,
        "produce",
        &["ctp-in", "tx-in", "COMMIT", "v", "25"],
    );
    let out = py(
        &broker,
        "ctp",
        &["ctp-in", "ctp-out", "tx-ctp", "g-ctp", "25"],
    );
    assert!(out.contains("OK 25"), "{out}");
    // The group's offset is past the 25 records (past the input's commit marker too when the
    // consumer had read it: librdkafka's position may stop before a control batch).
    let committed = py(&broker, "committed", &["g-ctp", "ctp-in"]);
    assert!(
        committed.contains("COMMITTED 0 25") || committed.contains("COMMITTED 0 26"),
        "{committed}"
    );
    let output = records(&py(
        &broker,
        "consume",
        &["ctp-out", "read_committed", "25", "g-out"],
    ));
    let want: Vec<String> = expected("V", 25);
    assert_eq!(values(&output), want, "every transformed record, once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_producer_with_the_same_id_fences_the_first() {
    let broker = start_broker();
    let out = py(&broker, "fence", &["txn-fence", "tx-f"]);
    assert!(out.contains("FENCED _FENCED"), "{out}");
    let seen = records(&py(
        &broker,
        "consume",
        &["txn-fence", "read_committed", "1", "g"],
    ));
    assert_eq!(
        values(&seen),
        vec!["winner".to_string()],
        "the zombie's records are aborted"
    );
}

/// Starts `transactions.py produce … HANG` and waits until its records are written.
fn open_transaction(broker: &WhippetProcess, topic: &str, id: &str) -> std::process::Child {
    hanging(broker, &["produce", topic, id, "HANG", "h", "3"])
}

/// Starts `transactions.py ARGS…` and waits until it prints OPEN.
fn hanging(broker: &WhippetProcess, args: &[&str]) -> std::process::Child {
    use std::io::BufRead;
    let mut command = venv_script("transactions.py");
    command
        .arg(broker.kafka_addr().to_string())
        .args(args)
        .stdout(std::process::Stdio::piped())
        .env_remove("LD_LIBRARY_PATH");
    let mut child = command.spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let first = std::io::BufReader::new(stdout).lines().next();
    assert_eq!(
        first.map(Result::unwrap).as_deref(),
        Some("OPEN"),
        "{}",
        broker.stderr()
    );
    child
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_transaction_holds_readers_back_until_its_timeout_aborts_it() {
    let broker = start_broker();
    let topic = "txn-open";
    let mut hanging = open_transaction(&broker, topic, "tx-h");
    py(&broker, "produce", &[topic, "tx-x", "COMMIT", "x", "2"]);
    // Nothing past the open transaction's first record is stable yet.
    let native = native_values(&broker, topic).await;
    assert!(
        native.is_empty(),
        "native poll stopped at the last stable offset: {native:?}"
    );
    // The broker aborts it after its 5 s timeout; then the later commit is readable.
    let seen = records(&py(
        &broker,
        "consume",
        &[topic, "read_committed", "2", "g"],
    ));
    assert_eq!(values(&seen), expected("x", 2));
    assert!(
        broker.stderr().contains("transaction timed out"),
        "{}",
        broker.stderr()
    );
    hanging.kill().unwrap();
    hanging.wait().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_transaction_and_after_commit_loses_nothing_shows_nothing_half_done() {
    let mut broker = start_broker();
    let topic = "txn-kill";
    py(&broker, "produce", &[topic, "tx-c", "COMMIT", "c", "4"]);
    let mut hanging = open_transaction(&broker, topic, "tx-k");
    broker.kill().unwrap();
    hanging.kill().unwrap();
    hanging.wait().unwrap();
    broker.restart().unwrap();
    // After the restart: the committed transaction is there, the open one never shows (the
    // sweep aborts it once its timeout has passed), and a later commit is readable.
    py(&broker, "produce", &[topic, "tx-c", "COMMIT", "e", "2"]);
    let seen = records(&py(
        &broker,
        "consume",
        &[topic, "read_committed", "6", "g"],
    ));
    let mut want = expected("c", 4);
    want.extend(expected("e", 2));
    assert_eq!(values(&seen), want);
    let native: Vec<String> = native_values(&broker, topic)
        .await
        .into_iter()
        .map(|(_, v)| v)
        .collect();
    assert_eq!(native, want, "native view after the restart");
}

/// OffsetFetch v7 with require_stable for partition 0 of `topic`: (error, offset).
fn stable_offset_fetch(broker: &WhippetProcess, group: &str, topic: &str) -> (i16, i64) {
    let mut conn = kafka_raw::Conn::open(broker.kafka_addr(), TIMEOUT);
    let wanted = OffsetFetchRequestTopic::default()
        .with_name(TopicName(StrBytes::from_string(topic.to_string())))
        .with_partition_indexes(vec![0]);
    let request = OffsetFetchRequest::default()
        .with_group_id(GroupId(StrBytes::from_string(group.to_string())))
        .with_topics(Some(vec![wanted]))
        .with_require_stable(true);
    let answer = conn.call(7, &request);
    let partition = &answer.topics[0].partitions[0];
    (partition.error_code, partition.committed_offset)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offsets_pending_in_an_open_transaction_are_unstable_until_it_ends() {
    let broker = start_broker();
    let topic = "txn-unstable";
    py(&broker, "produce", &[topic, "tx-data", "COMMIT", "v", "6"]);
    let mut open = hanging(&broker, &["offsets-hang", topic, "tx-off", "g-unstable"]);
    assert_eq!(
        stable_offset_fetch(&broker, "g-unstable", topic),
        (88, -1),
        "UNSTABLE_OFFSET_COMMIT while the transaction is open"
    );
    // Its 5 s timeout aborts it: the offset was never committed.
    let deadline = std::time::Instant::now() + TIMEOUT;
    loop {
        let answer = stable_offset_fetch(&broker, "g-unstable", topic);
        if answer.0 == 0 {
            assert_eq!(answer.1, -1, "an aborted transaction's offsets are dropped");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still unstable: {answer:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    open.kill().unwrap();
    open.wait().unwrap();
}

fn rdkafka_transactional(addr: &str, id: &str) -> ThreadedProducer<DefaultProducerContext> {
    let producer: ThreadedProducer<DefaultProducerContext> = ClientConfig::new()
        .set("bootstrap.servers", addr)
        .set("transactional.id", id)
        .create()
        .unwrap();
    producer.init_transactions(TIMEOUT).unwrap();
    producer
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rdkafka_crate_transactions_commit_and_abort() {
    let broker = start_broker();
    let addr = broker.kafka_addr().to_string();
    let topic = "txn-rdkafka";
    let producer = rdkafka_transactional(&addr, "tx-rust");
    for (round, commit) in [(0, true), (1, false), (2, true)] {
        producer.begin_transaction().unwrap();
        for i in 0..10 {
            let value = format!("r{round}-{i}");
            producer
                .send(BaseRecord::<(), _>::to(topic).payload(&value))
                .unwrap();
        }
        producer.flush(TIMEOUT).unwrap();
        if commit {
            producer.commit_transaction(TIMEOUT).unwrap();
        } else {
            producer.abort_transaction(TIMEOUT).unwrap();
        }
    }
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &addr)
        .set("group.id", "rust-reader")
        .set("isolation.level", "read_committed")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let mut assignment = TopicPartitionList::new();
    assignment
        .add_partition_offset(topic, 0, rdkafka::Offset::Beginning)
        .unwrap();
    consumer.assign(&assignment).unwrap();
    let mut seen = Vec::new();
    let started = std::time::Instant::now();
    while seen.len() < 20 && started.elapsed() < TIMEOUT {
        if let Some(message) = consumer.poll(Duration::from_millis(200)) {
            let message = message.unwrap();
            seen.push(String::from_utf8(message.payload().unwrap().to_vec()).unwrap());
        }
    }
    let mut want: Vec<String> = (0..10).map(|i| format!("r0-{i}")).collect();
    want.extend((0..10).map(|i| format!("r2-{i}")));
    assert_eq!(seen, want);
    let (low, high) = consumer.fetch_watermarks(topic, 0, TIMEOUT).unwrap();
    // 30 records and three markers.
    assert_eq!((low, high), (0, 33));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafkajs_transactions_commit_and_abort() {
    let broker = start_broker();
    let mut command = node_script("kafkajs_transactions.js");
    command
        .arg(broker.kafka_addr().to_string())
        .arg("txn-kafkajs");
    let output = run_program(command);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.success && stdout.contains("OK"),
        "{stdout}\n{}\n{}",
        output.stderr,
        broker.stderr()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn describe_and_list_transactions() {
    let broker = start_broker();
    let topic = "txn-views";
    let mut hanging = open_transaction(&broker, topic, "tx-view");
    py(&broker, "produce", &[topic, "tx-done", "COMMIT", "x", "1"]);
    let mut conn = kafka_raw::Conn::open(broker.kafka_addr(), TIMEOUT);
    let ids = ["tx-view", "tx-done", "tx-ghost"]
        .map(|id| TransactionalId(StrBytes::from_static_str(id)))
        .to_vec();
    let described = conn.call(
        0,
        &DescribeTransactionsRequest::default().with_transactional_ids(ids),
    );
    let states: Vec<(i16, String)> = described
        .transaction_states
        .iter()
        .map(|s| (s.error_code, s.transaction_state.to_string()))
        .collect();
    assert_eq!(states[0], (0, "Ongoing".to_string()));
    assert_eq!(states[1], (0, "Empty".to_string()));
    assert_eq!(states[2].0, 105, "TRANSACTIONAL_ID_NOT_FOUND");
    let open = &described.transaction_states[0];
    assert_eq!(open.topics.len(), 1);
    assert_eq!(open.topics[0].topic.as_str(), topic);
    assert_eq!(open.topics[0].partitions, vec![0]);

    let listed = conn.call(
        1,
        &ListTransactionsRequest::default()
            .with_state_filters(vec![StrBytes::from_static_str("Ongoing")]),
    );
    let names: Vec<String> = listed
        .transaction_states
        .iter()
        .map(|s| s.transactional_id.to_string())
        .collect();
    assert_eq!(names, vec!["tx-view".to_string()]);
    hanging.kill().unwrap();
    hanging.wait().unwrap();
}

fn id(name: &'static str) -> TransactionalId {
    TransactionalId(StrBytes::from_static_str(name))
}

/// AddPartitionsToTxn v3 of transactional id `tx-raw`.
fn add_partitions(
    pid: ProducerId,
    epoch: i16,
    topics: Vec<AddPartitionsToTxnTopic>,
) -> AddPartitionsToTxnRequest {
    AddPartitionsToTxnRequest::default()
        .with_v3_and_below_transactional_id(id("tx-raw"))
        .with_v3_and_below_producer_id(pid)
        .with_v3_and_below_producer_epoch(epoch)
        .with_v3_and_below_topics(topics)
}

/// Every partition's error code of an AddPartitionsToTxn answer.
fn codes(answer: AddPartitionsToTxnResponse) -> Vec<i16> {
    answer
        .results_by_topic_v3_and_below
        .iter()
        .flat_map(|t| {
            t.results_by_partition
                .iter()
                .map(|p| p.partition_error_code)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_that_break_the_rules_get_kafka_s_errors_and_change_nothing() {
    let broker = start_broker();
    py(
        &broker,
        "produce",
        &["txn-rules", "tx-ok", "COMMIT", "v", "1"],
    );
    let mut conn = kafka_raw::Conn::open(broker.kafka_addr(), TIMEOUT);

    let too_long = InitProducerIdRequest::default()
        .with_transactional_id(Some(id("tx-new")))
        .with_transaction_timeout_ms(900_001);
    assert_eq!(
        conn.call(4, &too_long).error_code,
        50,
        "INVALID_TRANSACTION_TIMEOUT"
    );

    let init = InitProducerIdRequest::default()
        .with_transactional_id(Some(id("tx-raw")))
        .with_transaction_timeout_ms(60_000);
    let granted = conn.call(4, &init);
    assert_eq!(granted.error_code, 0);
    let (pid, epoch) = (granted.producer_id, granted.producer_epoch);

    let topics = vec![
        AddPartitionsToTxnTopic::default()
            .with_name(TopicName(StrBytes::from_static_str("txn-rules")))
            .with_partitions(vec![0]),
        AddPartitionsToTxnTopic::default()
            .with_name(TopicName(StrBytes::from_static_str("no-such-topic")))
            .with_partitions(vec![0]),
    ];
    let answer = conn.call(3, &add_partitions(pid, epoch, topics.clone()));
    assert_eq!(
        codes(answer),
        vec![55, 3],
        "OPERATION_NOT_ATTEMPTED, UNKNOWN_TOPIC_OR_PARTITION"
    );
    let answer = conn.call(
        3,
        &add_partitions(ProducerId(pid.0 + 1000), epoch, topics[..1].to_vec()),
    );
    assert_eq!(codes(answer), vec![49], "INVALID_PRODUCER_ID_MAPPING");
    let answer = conn.call(3, &add_partitions(pid, epoch - 1, topics[..1].to_vec()));
    assert_eq!(codes(answer), vec![90], "PRODUCER_FENCED");

    // None of that opened a transaction.
    let end = EndTxnRequest::default()
        .with_transactional_id(id("tx-raw"))
        .with_producer_id(pid)
        .with_producer_epoch(epoch)
        .with_committed(true);
    assert_eq!(conn.call(3, &end).error_code, 0, "nothing open: a no-op");
    let described = conn.call(
        0,
        &DescribeTransactionsRequest::default().with_transactional_ids(vec![id("tx-raw")]),
    );
    assert_eq!(
        described.transaction_states[0].transaction_state.as_str(),
        "Empty"
    );
    assert!(described.transaction_states[0].topics.is_empty());
    // A second init fences the first epoch.
    let bumped = conn.call(4, &init);
    assert_eq!(
        (bumped.producer_id, bumped.producer_epoch),
        (pid, epoch + 1)
    );
    assert_eq!(conn.call(3, &end).error_code, 90, "the old epoch is fenced");
}
