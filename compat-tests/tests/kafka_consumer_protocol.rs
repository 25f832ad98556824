//! The KIP-848 consumer group protocol with real clients (issue 20): three PyPI confluent-kafka
//! consumers (librdkafka 2.16) with `group.protocol=consumer` and the broker's `uniform`
//! assignor share a 6-partition topic (`clients/python/group_member.py confluent-consumer`,
//! synchronous commit after every batch), next to a classic group of two range members on the
//! same topic. One KIP-848 member is SIGKILLed: its partitions must move to the two others once
//! its session (the broker's `group_consumer_session_timeout_ms`) runs out, nothing it left
//! uncommitted may be lost, nothing it had committed may be delivered again, and the other
//! partitions may not be delivered twice at all. Then the broker itself is SIGKILLed and
//! restarted: the group's members, epochs and assignments and both groups' commits are still
//! there. What the clients' own admin API (ListGroups v5, ConsumerGroupDescribe, DescribeGroups
//! for the classic group) reports is checked along the way
//! (`clients/python/consumer_groups_view.py`).
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};
use serde_json::Value;
use whippet_compat_tests::WhippetProcess;
use whippet_compat_tests::programs::{clients_dir, venv_python};

#[path = "kafka_group_clients/member.rs"]
mod member;
use member::{Member, STDERR_TAIL_BYTES, tail};

const PARTITIONS: i32 = 6;
/// Records per partition in all, half written before the kill and half after.
const PER_PARTITION: i64 = 400;
/// The broker's session timeout for KIP-848 members.
const SESSION: Duration = Duration::from_secs(6);
/// The heartbeat interval the broker tells members to use.
const HEARTBEAT: Duration = Duration::from_millis(500);
/// After the session runs out: the survivors' next heartbeats (the victim's partitions are
/// free at once, so no revocation round is needed) and the consume call that reports them.
const TAKEOVER_ALLOWANCE: Duration = Duration::from_secs(5);
/// Python start, joins and the first assignment.
const FORM_TIMEOUT: Duration = Duration::from_secs(45);
/// Consuming and committing what is there.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);
const CLIENT_TIMEOUT: Duration = Duration::from_secs(15);

const TOPIC: &str = "kip848";
const GROUP: &str = "kip848-consumers";
const CLASSIC_GROUP: &str = "kip848-classic";

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn create_topic(addr: &str) {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", addr)
        .create()
        .unwrap();
    let topic = NewTopic::new(TOPIC, PARTITIONS, TopicReplication::Fixed(1));
    let options = AdminOptions::new().operation_timeout(Some(CLIENT_TIMEOUT));
    let results = runtime()
        .block_on(admin.create_topics([&topic], &options))
        .unwrap();
    assert_eq!(results, vec![Ok(TOPIC.to_string())]);
}

/// Writes half of every partition (acks=all), offsets dense from `first`.
fn produce_half(addr: &str, first: i64) {
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", addr)
        .set("acks", "all")
        .set("linger.ms", "5")
        .create()
        .unwrap();
    let mut sends = Vec::new();
    for i in 0..PER_PARTITION / 2 {
        for p in 0..PARTITIONS {
            let value = format!("v{p}-{}", first + i);
            let record = FutureRecord::<(), _>::to(TOPIC)
                .partition(p)
                .payload(&value);
            let sent = producer.send_result(record).map_err(|(e, _)| e).unwrap();
            sends.push((p, first + i, sent));
        }
    }
    runtime().block_on(async {
        for (p, want, sent) in sends {
            let delivery = sent.await.unwrap().map_err(|(e, _)| e).unwrap();
            assert_eq!(
                delivery.offset, want,
                "partition {p}: offsets must be dense"
            );
        }
    });
}

/// A group's committed offsets (−1 where none), read from outside the group.
fn committed(addr: &str, group: &str) -> Vec<i64> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", addr)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let mut list = TopicPartitionList::new();
    for p in 0..PARTITIONS {
        list.add_partition(TOPIC, p);
    }
    let found = consumer.committed_offsets(list, CLIENT_TIMEOUT).unwrap();
    (0..PARTITIONS)
        .map(|p| match found.find_partition(TOPIC, p).unwrap().offset() {
            Offset::Offset(o) => o,
            _ => -1,
        })
        .collect()
}

/// What confluent-kafka's AdminClient says about both groups.
fn view(addr: &str) -> Value {
    let out = Command::new(venv_python())
        .arg(clients_dir().join("python/consumer_groups_view.py"))
        .args([addr, GROUP, CLASSIC_GROUP])
        .env_remove("LD_LIBRARY_PATH")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "consumer_groups_view.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Partitions of the KIP-848 group per member client id, from ConsumerGroupDescribe: current
/// assignment and target.
fn described(view: &Value) -> BTreeMap<String, (Vec<i64>, Vec<i64>)> {
    let parts = |v: &Value| -> Vec<i64> {
        v.as_array()
            .into_iter()
            .flatten()
            .filter_map(|tp| tp[1].as_i64())
            .collect()
    };
    view["described"][GROUP]["members"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| {
            let id = m["client_id"].as_str().unwrap_or_default().to_string();
            (id, (parts(&m["partitions"]), parts(&m["target"])))
        })
        .collect()
}

struct Scenario {
    broker: WhippetProcess,
    logs: tempfile::TempDir,
    members: Vec<Member>,
}

impl Scenario {
    fn addr(&self) -> String {
        self.broker.kafka_addr().to_string()
    }

    fn add_member(&mut self, client: &str, group: &str, assignor: &str) {
        let name = format!("m{}", self.members.len());
        let mut command = Command::new(venv_python());
        command
            .arg(clients_dir().join("python/group_member.py"))
            .args([client, &self.addr(), TOPIC, group, &name, assignor, "10000"])
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .env("PYTHONUNBUFFERED", "1");
        self.members
            .push(Member::spawn(&name, command, self.logs.path()));
    }

    fn fail(&self, message: &str) -> ! {
        let members: Vec<String> = self.members.iter().map(Member::describe).collect();
        panic!(
            "{message}\n{}\n--- broker stderr tail ---\n{}",
            members.join("\n"),
            tail(&self.broker.stderr(), STDERR_TAIL_BYTES)
        );
    }

    fn assignment(&self, m: usize) -> Vec<i32> {
        self.members[m].assignment().unwrap_or_default()
    }

    /// Waits until members `live` each hold a share and together every partition exactly once.
    fn wait_cover(&self, live: &[usize], deadline: Instant, what: &str) {
        loop {
            let shares: Vec<Vec<i32>> = live.iter().map(|&m| self.assignment(m)).collect();
            let mut all: Vec<i32> = shares.iter().flatten().copied().collect();
            all.sort_unstable();
            if shares.iter().all(|s| !s.is_empty()) && all == (0..PARTITIONS).collect::<Vec<_>>() {
                return;
            }
            if Instant::now() >= deadline {
                self.fail(&format!(
                    "{what}: members {live:?} did not share every partition (last {shares:?})"
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// How often each offset of partition `p` was handed to any of `members` (offsets never
    /// handed are absent).
    fn deliveries(&self, members: &[usize], p: i32) -> BTreeMap<i64, usize> {
        let mut count = BTreeMap::new();
        for &m in members {
            if let Some(seen) = self.members[m].state.lock().unwrap().seen.get(&p) {
                for &o in seen {
                    *count.entry(o).or_insert(0) += 1;
                }
            }
        }
        count
    }

    /// Offsets of partition `p` in `[from, upto)` none of `members` was handed.
    fn missing(&self, members: &[usize], p: i32, from: i64, upto: i64) -> Vec<i64> {
        let seen = self.deliveries(members, p);
        (from.max(0)..upto)
            .filter(|o| !seen.contains_key(o))
            .collect()
    }

    /// Waits until `members` consumed `[0, upto)` of every partition and `group` committed
    /// `upto` everywhere.
    fn drain(&self, members: &[usize], group: &str, upto: i64, what: &str) {
        let deadline = Instant::now() + DRAIN_TIMEOUT;
        loop {
            let unseen: Vec<(i32, usize)> = (0..PARTITIONS)
                .map(|p| (p, self.missing(members, p, 0, upto).len()))
                .filter(|(_, n)| *n > 0)
                .collect();
            let now = committed(&self.addr(), group);
            if unseen.is_empty() && now.iter().all(|&o| o == upto) {
                return;
            }
            if Instant::now() >= deadline {
                self.fail(&format!(
                    "{what}: after {DRAIN_TIMEOUT:?} unseen (partition, count) {unseen:?}, \
                     committed {now:?}, want {upto} everywhere"
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// The view while the three KIP-848 members and the classic pair are consuming.
fn check_stable_view(s: &Scenario) {
    let deadline = Instant::now() + CLIENT_TIMEOUT;
    loop {
        let v = view(&s.addr());
        let listed_consumer = &v["listed"][GROUP];
        let listed_classic = &v["listed"][CLASSIC_GROUP];
        let members = described(&v);
        let described_ok = v["described"][GROUP]["state"] == "ConsumerGroupState.STABLE"
            && v["described"][GROUP]["type"] == "ConsumerGroupType.CONSUMER"
            && v["described"][GROUP]["assignor"] == "uniform"
            && members.len() == 3
            && members
                .values()
                .all(|(now, target)| now.len() == 2 && now == target);
        let listed_ok = listed_consumer["type"] == "ConsumerGroupType.CONSUMER"
            && listed_consumer["state"] == "ConsumerGroupState.STABLE"
            && listed_classic["type"] == "ConsumerGroupType.CLASSIC"
            && v["described"][CLASSIC_GROUP]["type"] == "ConsumerGroupType.CLASSIC"
            && v["described"][CLASSIC_GROUP]["members"]
                .as_array()
                .is_some_and(|m| m.len() == 2);
        if described_ok && listed_ok {
            return;
        }
        if Instant::now() >= deadline {
            s.fail(&format!("admin view of a stable pair of groups: {v}"));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// No duplicates on partitions the victim never held; on its partitions, only what it had
/// not committed (at-least-once), never what it had.
fn check_duplicates(
    s: &Scenario,
    consumers: &[usize],
    victim_parts: &[i32],
    victim_commits: &BTreeMap<i32, i64>,
) {
    for p in 0..PARTITIONS {
        let twice: Vec<i64> = s
            .deliveries(consumers, p)
            .into_iter()
            .filter(|(_, n)| *n > 1)
            .map(|(o, _)| o)
            .collect();
        let floor = if victim_parts.contains(&p) {
            victim_commits.get(&p).copied().unwrap_or(0)
        } else {
            PER_PARTITION
        };
        let wrong: Vec<i64> = twice.iter().copied().filter(|&o| o < floor).collect();
        if !wrong.is_empty() {
            s.fail(&format!(
                "partition {p} (victim's: {}): offsets delivered twice below {floor}: {wrong:?}",
                victim_parts.contains(&p)
            ));
        }
    }
}

/// A broker with a short KIP-848 session, the topic, three KIP-848 members (0–2) and two classic
/// ones (3, 4), all holding partitions.
fn start() -> Scenario {
    let ms = |d: Duration| d.as_millis().to_string();
    let broker = WhippetProcess::start([
        "--group-consumer-session-timeout-ms".to_string(),
        ms(SESSION),
        "--group-consumer-heartbeat-interval-ms".to_string(),
        ms(HEARTBEAT),
        "--group-initial-rebalance-delay-ms".to_string(),
        "500".to_string(),
    ])
    .unwrap();
    let mut s = Scenario {
        broker,
        logs: tempfile::tempdir().unwrap(),
        members: Vec::new(),
    };
    create_topic(&s.addr());
    for _ in 0..3 {
        s.add_member("confluent-consumer", GROUP, "uniform");
    }
    for _ in 0..2 {
        s.add_member("confluent", CLASSIC_GROUP, "range");
    }
    let form = Instant::now() + FORM_TIMEOUT;
    s.wait_cover(&CONSUMERS, form, "KIP-848 group formation");
    s.wait_cover(&CLASSIC, form, "classic group formation");
    s
}

const CONSUMERS: [usize; 3] = [0, 1, 2];
const CLASSIC: [usize; 2] = [3, 4];
const VICTIM: usize = 0;
const SURVIVORS: [usize; 2] = [1, 2];

/// Kills the victim, writes the second half, and checks the takeover; returns how long it took
/// and the victim's partitions.
fn kill_and_take_over(s: &mut Scenario) -> (Duration, Vec<i32>) {
    let victim_parts = s.assignment(VICTIM);
    s.members[VICTIM].signal(Signal::SIGKILL);
    let killed = Instant::now();
    // Once it exited and its stdout is read to the end, its commits are all known.
    if s.members[VICTIM].wait_exit(CLIENT_TIMEOUT).is_none() {
        s.fail("the killed member did not exit");
    }
    let victim_commits = s.members[VICTIM].state.lock().unwrap().committed.clone();
    produce_half(&s.addr(), PER_PARTITION / 2);
    s.wait_cover(
        &SURVIVORS,
        killed + SESSION + TAKEOVER_ALLOWANCE,
        "takeover within the session timeout",
    );
    let took_over = killed.elapsed();
    s.drain(
        &CONSUMERS,
        GROUP,
        PER_PARTITION,
        "everything, KIP-848 group",
    );
    for p in 0..PARTITIONS {
        let from = victim_commits.get(&p).copied().unwrap_or(0);
        let lost = s.missing(&SURVIVORS, p, from, PER_PARTITION);
        if victim_parts.contains(&p) && !lost.is_empty() {
            s.fail(&format!(
                "partition {p}: survivors never got {} offsets from the victim's commit {from}",
                lost.len()
            ));
        }
    }
    check_duplicates(s, &CONSUMERS, &victim_parts, &victim_commits);
    (took_over, victim_parts)
}

/// The broker crashes with the group live: membership, epochs, assignments and commits come
/// back from the metadata log.
fn crash_and_check_restore(s: &mut Scenario) {
    let before = described(&view(&s.addr()));
    s.broker.kill().unwrap();
    s.broker.restart().unwrap();
    let after = view(&s.addr());
    let restored = described(&after);
    let shares: BTreeSet<i64> = restored.values().flat_map(|(now, _)| now.clone()).collect();
    if restored != before
        || restored.len() != 2
        || shares != (0..i64::from(PARTITIONS)).collect::<BTreeSet<_>>()
    {
        s.fail(&format!(
            "after a broker crash the group is {after} (before: {before:?})"
        ));
    }
    let want = vec![PER_PARTITION; PARTITIONS as usize];
    assert_eq!(committed(&s.addr(), GROUP), want, "KIP-848 group commits");
    assert_eq!(
        committed(&s.addr(), CLASSIC_GROUP),
        want,
        "classic group commits"
    );
}

#[test]
fn consumer_protocol_member_killed_partitions_move_commits_survive() {
    let started = Instant::now();
    let mut s = start();
    produce_half(&s.addr(), 0);
    s.drain(
        &CONSUMERS,
        GROUP,
        PER_PARTITION / 2,
        "first half, KIP-848 group",
    );
    check_stable_view(&s);
    let (took_over, victim_parts) = kill_and_take_over(&mut s);
    s.drain(
        &CLASSIC,
        CLASSIC_GROUP,
        PER_PARTITION,
        "everything, classic group",
    );
    let skips: Vec<String> = s
        .members
        .iter()
        .flat_map(|m| {
            let skips = m.state.lock().unwrap().skips.clone();
            skips.into_iter().map(move |k| format!("{}: {k}", m.name))
        })
        .collect();
    if !skips.is_empty() {
        s.fail(&format!("members skipped owned offsets: {skips:?}"));
    }
    crash_and_check_restore(&mut s);
    println!(
        "m{VICTIM} (partitions {victim_parts:?}) killed; they moved {took_over:?} after the kill \
         (session {SESSION:?}); {} records consumed by each group and committed; whole run {:?}",
        PER_PARTITION * i64::from(PARTITIONS),
        started.elapsed()
    );
}
