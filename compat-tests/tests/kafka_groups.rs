//! Consumer groups through the Rust `rdkafka` crate (bundled librdkafka) against the real
//! `whippet` binary: three members of one group share a 6-partition topic with every partition
//! assigned to exactly one member (range and cooperative-sticky assignors), a member that
//! closes gracefully hands its partitions to the other two well before any session timeout,
//! and committed offsets survive a SIGTERM restart and, once acknowledged, a SIGKILL.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::{Offset, TopicPartitionList};
use whippet_compat_tests::WhippetProcess;

const PARTITIONS: i32 = 6;
const TIMEOUT: Duration = Duration::from_secs(20);
/// Far longer than a graceful rebalance may take, so a rebalance finishing in time proves the
/// leave was acted on rather than the member timing out.
const SESSION_TIMEOUT_MS: &str = "45000";

fn start() -> WhippetProcess {
    WhippetProcess::start(["--group-initial-rebalance-delay-ms", "0"]).unwrap()
}

fn create_topic(addr: &str, name: &str) {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", addr)
        .create()
        .unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let topic = NewTopic::new(name, PARTITIONS, TopicReplication::Fixed(1));
    let options = AdminOptions::new().operation_timeout(Some(TIMEOUT));
    let results = runtime
        .block_on(admin.create_topics([&topic], &options))
        .unwrap();
    assert_eq!(results, vec![Ok(name.to_string())]);
}

fn member(addr: &str, group: &str, assignor: &str) -> BaseConsumer {
    ClientConfig::new()
        .set("bootstrap.servers", addr)
        .set("group.id", group)
        .set("partition.assignment.strategy", assignor)
        .set("session.timeout.ms", SESSION_TIMEOUT_MS)
        .set("heartbeat.interval.ms", "300")
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .create()
        .unwrap()
}

/// Polls every member until each of the `members` holds a non-empty share and together they
/// hold every partition exactly once; returns each member's partitions.
fn wait_exclusive_cover(members: &[&BaseConsumer], topic: &str) -> Vec<Vec<i32>> {
    let deadline = Instant::now() + TIMEOUT;
    let mut last = Vec::new();
    while Instant::now() < deadline {
        for m in members {
            // Drives the group protocol (and rebalance callbacks); no records are produced.
            let _ = m.poll(Duration::from_millis(20));
        }
        last = members
            .iter()
            .map(|m| {
                let mut parts: Vec<i32> = m
                    .assignment()
                    .unwrap()
                    .elements_for_topic(topic)
                    .iter()
                    .map(|e| e.partition())
                    .collect();
                parts.sort_unstable();
                parts
            })
            .collect();
        let mut owners: BTreeMap<i32, usize> = BTreeMap::new();
        for parts in &last {
            for p in parts {
                *owners.entry(*p).or_default() += 1;
            }
        }
        let covered = owners.len() == PARTITIONS as usize && owners.values().all(|n| *n == 1);
        if covered && last.iter().all(|parts| !parts.is_empty()) {
            return last;
        }
    }
    panic!("no exclusive cover of {PARTITIONS} partitions; last assignments: {last:?}");
}

fn three_members_then_one_leaves(assignor: &str) {
    let broker = start();
    let addr = broker.kafka_addr().to_string();
    let topic = format!("groups-{assignor}");
    create_topic(&addr, &topic);
    let group = format!("group-{assignor}");
    let consumers: Vec<BaseConsumer> = (0..3).map(|_| member(&addr, &group, assignor)).collect();
    for c in &consumers {
        c.subscribe(&[&topic]).unwrap();
    }
    let refs: Vec<&BaseConsumer> = consumers.iter().collect();
    let shares = wait_exclusive_cover(&refs, &topic);
    assert!(
        shares.iter().all(|s| s.len() == 2),
        "{assignor}: {shares:?}"
    );

    // Closing (drop) sends LeaveGroup: the other two take over long before the session timeout.
    let mut consumers = consumers;
    let leaver = consumers.pop().unwrap();
    let left_at = Instant::now();
    drop(leaver);
    let refs: Vec<&BaseConsumer> = consumers.iter().collect();
    let shares = wait_exclusive_cover(&refs, &topic);
    assert!(
        shares.iter().all(|s| s.len() == 3),
        "{assignor}: {shares:?}"
    );
    assert!(
        left_at.elapsed() < Duration::from_secs(15),
        "rebalance after a graceful leave took {:?}",
        left_at.elapsed()
    );
}

#[test]
fn range_assignor_shares_partitions_and_rebalances_on_leave() {
    three_members_then_one_leaves("range");
}

#[test]
fn cooperative_sticky_assignor_shares_partitions_and_rebalances_on_leave() {
    three_members_then_one_leaves("cooperative-sticky");
}

fn committer(addr: &str) -> BaseConsumer {
    ClientConfig::new()
        .set("bootstrap.servers", addr)
        .set("group.id", "committer")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap()
}

/// Commits `base + p` for every partition (a simple commit: no group membership).
fn commit_all(addr: &str, topic: &str, base: i64) {
    let consumer = committer(addr);
    let mut tpl = TopicPartitionList::new();
    for p in 0..PARTITIONS {
        tpl.add_partition_offset(topic, p, Offset::Offset(base + i64::from(p)))
            .unwrap();
    }
    consumer.commit(&tpl, CommitMode::Sync).unwrap();
}

fn committed(addr: &str, topic: &str) -> Vec<Offset> {
    let consumer = committer(addr);
    let mut tpl = TopicPartitionList::new();
    for p in 0..PARTITIONS {
        tpl.add_partition(topic, p);
    }
    let found = consumer.committed_offsets(tpl, TIMEOUT).unwrap();
    (0..PARTITIONS)
        .map(|p| found.find_partition(topic, p).unwrap().offset())
        .collect()
}

fn expected(base: i64) -> Vec<Offset> {
    (0..PARTITIONS)
        .map(|p| Offset::Offset(base + i64::from(p)))
        .collect()
}

#[test]
fn committed_offsets_survive_sigterm_and_sigkill() {
    let mut broker = start();
    let topic = "groups-commits";
    create_topic(&broker.kafka_addr().to_string(), topic);
    let addr = broker.kafka_addr().to_string();
    assert!(
        committed(&addr, topic)
            .iter()
            .all(|o| *o == Offset::Invalid),
        "nothing committed yet"
    );
    commit_all(&addr, topic, 100);
    assert_eq!(committed(&addr, topic), expected(100));

    let status = broker.restart().unwrap();
    assert!(status.success(), "SIGTERM exit: {status:?}");
    let addr = broker.kafka_addr().to_string();
    assert_eq!(committed(&addr, topic), expected(100));

    // An acknowledged commit is on disk: SIGKILL right after the acknowledgement loses nothing.
    commit_all(&addr, topic, 500);
    broker.kill().unwrap();
    broker.restart().unwrap();
    let addr = broker.kafka_addr().to_string();
    assert_eq!(committed(&addr, topic), expected(500));
}
