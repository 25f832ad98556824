//! A SIGKILLed group member's partitions move to the survivors within the session timeout plus
//! one rebalance while the CPU is saturated, and the survivors consume every record it left
//! behind (issue 21). Three PyPI confluent-kafka consumers (librdkafka 2.16, range assignor,
//! synchronous commit after every batch: `clients/python/group_member.py`) share a 6-partition
//! topic; the test keeps busy-loop processes running on every core for the whole scenario, and
//! the broker uses Kafka's default initial rebalance delay (3 s), as a new user's would.
//!
//! Two moments for the kill:
//! - while the group forms: the first member (the leader-to-be) is killed with its JoinGroup
//!   parked, so the join completes with a dead leader and the followers wait on SyncGroup until
//!   its session runs out. The followers' sessions must then not count the time they were
//!   blocked: the broker once expired them together with the leader, the group went Empty and
//!   the survivors started over with new member ids and the initial delay (about 8 s late);
//! - in a stable group that is consuming, the common case.
//!
//! Records: 3 000 are written before the members start and 3 000 more right after the kill, 1 000
//! per partition in all. Every offset must reach some member, every offset at or past what the
//! killed member had committed must reach a survivor (nothing it left behind is lost), no member
//! may skip an offset of a partition it owns, and the survivors' commits must reach the end.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};
use whippet_compat_tests::WhippetProcess;
use whippet_compat_tests::programs::{clients_dir, venv_python};

#[path = "kafka_group_clients/member.rs"]
mod member;
use member::{Member, STDERR_TAIL_BYTES, tail};

const PARTITIONS: i32 = 6;
/// Records per partition in all (6 000 records), half written before the members start.
const PER_PARTITION: i64 = 1_000;
/// The members' session timeout (the broker's minimum is 6 s).
const SESSION_TIMEOUT: Duration = Duration::from_secs(8);
/// The members' heartbeat interval (fixed in `group_member.py`).
const HEARTBEAT_INTERVAL: Duration = Duration::from_millis(500);
/// What one rebalance may take under load once its cause is known to the broker: the answers
/// to the survivors, their rejoin, the leader's assignment and the next consume call that
/// reports it. A survivor that is expired and starts over needs at least the initial delay
/// (3 s) plus librdkafka's rejoin backoff on top, so this separates the two.
const REBALANCE_ALLOWANCE: Duration = Duration::from_secs(4);
/// How long the members may take to form the group (python start, the initial delay and its
/// extensions, all under load).
const FORM_TIMEOUT: Duration = Duration::from_secs(45);
/// How long the survivors may take to consume and commit the rest once they own everything.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(20);
/// librdkafka request deadline for admin, produce and offset calls.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(15);

// ---------------------------------------------------------------------------------------------
// CPU load

/// Busy-loop processes, two per core, killed (by pid) on drop.
struct CpuLoad {
    children: Vec<Child>,
}

impl CpuLoad {
    fn start() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let children = (0..cores * 2)
            .map(|_| {
                Command::new("/bin/sh")
                    .args(["-c", "while :; do :; done"])
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .spawn()
                    .unwrap()
            })
            .collect();
        Self { children }
    }
}

impl Drop for CpuLoad {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Broker-side helpers (the rdkafka crate)

fn create_topic(addr: &str, name: &str) {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", addr)
        .create()
        .unwrap();
    let topic = NewTopic::new(name, PARTITIONS, TopicReplication::Fixed(1));
    let options = AdminOptions::new().operation_timeout(Some(CLIENT_TIMEOUT));
    let results = runtime()
        .block_on(admin.create_topics([&topic], &options))
        .unwrap();
    assert_eq!(results, vec![Ok(name.to_string())]);
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Writes `PER_PARTITION / 2` records to every partition (acks=all) and checks their offsets
/// continue densely from `first`.
fn produce_half(addr: &str, topic: &str, first: i64) {
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", addr)
        .set("acks", "all")
        .set("linger.ms", "5")
        .create()
        .unwrap();
    let mut sends = Vec::new();
    for i in 0..PER_PARTITION / 2 {
        for p in 0..PARTITIONS {
            let (key, value) = (format!("k{p}-{i}"), format!("v{p}-{}", first + i));
            let record = FutureRecord::to(topic)
                .partition(p)
                .key(&key)
                .payload(&value);
            let sent = producer
                .send_result(record)
                .unwrap_or_else(|(e, _)| panic!("partition {p}: record not queued: {e}"));
            sends.push((p, first + i, sent));
        }
    }
    runtime().block_on(async {
        for (p, want, sent) in sends {
            let delivery = sent
                .await
                .unwrap()
                .unwrap_or_else(|(e, _)| panic!("partition {p} record {want} not acked: {e}"));
            assert_eq!(
                delivery.offset, want,
                "partition {p}: offsets must be dense"
            );
        }
    });
}

/// The group's committed offsets (-1 where none), read by a client outside the group.
fn committed(addr: &str, group: &str, topic: &str) -> Vec<i64> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", addr)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let mut list = TopicPartitionList::new();
    for p in 0..PARTITIONS {
        list.add_partition(topic, p);
    }
    let found = consumer.committed_offsets(list, CLIENT_TIMEOUT).unwrap();
    (0..PARTITIONS)
        .map(|p| match found.find_partition(topic, p).unwrap().offset() {
            Offset::Offset(o) => o,
            _ => -1,
        })
        .collect()
}

/// What DescribeGroups says about the group: its state, and per member (in join order) its
/// client id and whether it holds a (non-empty) assignment.
#[derive(Debug, Clone, PartialEq, Eq)]
struct GroupView {
    state: String,
    members: Vec<(String, bool)>,
}

fn describe(admin: &BaseConsumer, group: &str) -> GroupView {
    let list = admin.fetch_group_list(Some(group), CLIENT_TIMEOUT).unwrap();
    // Before the first member joins, the group does not exist yet.
    let Some(info) = list.groups().first() else {
        return GroupView {
            state: String::from("(none)"),
            members: Vec::new(),
        };
    };
    // In the broker's order: join order.
    let members: Vec<(String, bool)> = info
        .members()
        .iter()
        .map(|m| {
            let assigned = m.assignment().is_some_and(|a| !a.is_empty());
            (m.client_id().to_string(), assigned)
        })
        .collect();
    GroupView {
        state: info.state().to_string(),
        members,
    }
}

// ---------------------------------------------------------------------------------------------
// The scenario

/// When the leader (the first member to join) is killed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KillMoment {
    /// All three joined, the first join phase still running (every JoinGroup parked).
    GroupForming,
    /// The three share the partitions and have consumed the first half.
    Stable,
}

struct Scenario {
    broker: WhippetProcess,
    admin: BaseConsumer,
    topic: String,
    group: String,
    logs: tempfile::TempDir,
    members: Vec<Member>,
}

impl Scenario {
    fn new(name: &str) -> Self {
        // The broker's defaults, including the 3 s initial rebalance delay.
        let broker = WhippetProcess::start::<&str>([]).unwrap();
        let addr = broker.kafka_addr().to_string();
        let topic = format!("takeover-{name}");
        create_topic(&addr, &topic);
        let admin: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &addr)
            .create()
            .unwrap();
        Self {
            broker,
            admin,
            topic,
            group: format!("takeover-{name}"),
            logs: tempfile::tempdir().unwrap(),
            members: Vec::new(),
        }
    }

    fn addr(&self) -> String {
        self.broker.kafka_addr().to_string()
    }

    fn add_member(&mut self) {
        let name = format!("m{}", self.members.len());
        let mut command = Command::new(venv_python());
        command
            .arg(clients_dir().join("python/group_member.py"))
            .args(["confluent", &self.addr(), &self.topic, &self.group, &name])
            .args(["range", &SESSION_TIMEOUT.as_millis().to_string()])
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

    /// Polls DescribeGroups until `done` holds, failing after `timeout`; returns the view.
    fn wait_group(
        &self,
        what: &str,
        timeout: Duration,
        done: impl Fn(&GroupView) -> bool,
    ) -> GroupView {
        let deadline = Instant::now() + timeout;
        loop {
            let view = describe(&self.admin, &self.group);
            if done(&view) {
                return view;
            }
            if Instant::now() >= deadline {
                self.fail(&format!(
                    "{what} not seen within {timeout:?}; last {view:?}"
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits until members `live` each hold a share and together every partition exactly once.
    fn wait_cover(&self, live: &[usize], deadline: Instant, what: &str) {
        loop {
            let shares: Vec<Vec<i32>> = live
                .iter()
                .map(|&m| self.members[m].assignment().unwrap_or_default())
                .collect();
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

    /// Offsets of partition `p` from `from` on that none of `members` was handed.
    fn missing(&self, members: &[usize], p: i32, from: i64) -> Vec<i64> {
        let mut union = BTreeSet::new();
        for &m in members {
            if let Some(seen) = self.members[m].state.lock().unwrap().seen.get(&p) {
                union.extend(seen.iter().copied());
            }
        }
        (from.max(0)..PER_PARTITION)
            .filter(|o| !union.contains(o))
            .collect()
    }

    fn skips(&self) -> Vec<String> {
        let mut skips = Vec::new();
        for member in &self.members {
            for skip in &member.state.lock().unwrap().skips {
                skips.push(format!("{}: {skip}", member.name));
            }
        }
        skips
    }

    /// Waits for `moment` and returns the index of the leader: DescribeGroups lists members in
    /// join order, and the first to join leads.
    fn wait_for(&self, moment: KillMoment) -> usize {
        let view = match moment {
            // Three members, none assigned yet: the first join phase, every join parked.
            KillMoment::GroupForming => {
                self.wait_group("three members in the first join phase", FORM_TIMEOUT, |v| {
                    v.state == "PreparingRebalance"
                        && v.members.len() == 3
                        && v.members.iter().all(|(_, assigned)| !assigned)
                })
            }
            KillMoment::Stable => {
                self.wait_cover(&[0, 1, 2], Instant::now() + FORM_TIMEOUT, "formation");
                let deadline = Instant::now() + DRAIN_TIMEOUT;
                // Only the second half (not written yet) is unseen.
                while (0..PARTITIONS)
                    .any(|p| self.missing(&[0, 1, 2], p, 0).len() as i64 > PER_PARTITION / 2)
                {
                    if Instant::now() >= deadline {
                        self.fail("the first half was never consumed");
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
                self.wait_group("a stable group of three", CLIENT_TIMEOUT, |v| {
                    v.state == "Stable" && v.members.len() == 3
                })
            }
        };
        let leader = &view.members[0].0;
        self.members
            .iter()
            .position(|m| &m.name == leader)
            .unwrap_or_else(|| self.fail(&format!("unknown leader {leader:?} in {view:?}")))
    }
}

/// The whole scenario for one kill moment.
fn run(moment: KillMoment, name: &str) {
    let started = Instant::now();
    let load = CpuLoad::start();
    let mut s = Scenario::new(name);
    produce_half(&s.addr(), &s.topic, 0);
    for _ in 0..3 {
        s.add_member();
    }
    let victim = s.wait_for(moment);
    let survivors: Vec<usize> = (0..3).filter(|&m| m != victim).collect();
    s.members[victim].signal(Signal::SIGKILL);
    let killed = Instant::now();
    if s.members[victim].wait_exit(CLIENT_TIMEOUT).is_none() {
        s.fail("the killed member did not exit");
    }

    // The dead member's session counts from its last sign of life: its last heartbeat, or
    // (killed with its JoinGroup parked) the end of that join phase, when the group moves on
    // with the dead member as its leader.
    let session_from = match moment {
        KillMoment::Stable => killed,
        KillMoment::GroupForming => {
            s.wait_group("the join phase ending", FORM_TIMEOUT, |v| {
                v.state != "PreparingRebalance"
            });
            Instant::now()
        }
    };
    let committed_at_kill = committed(&s.addr(), &s.group, &s.topic);
    produce_half(&s.addr(), &s.topic, PER_PARTITION / 2);
    let limit = session_from + SESSION_TIMEOUT + HEARTBEAT_INTERVAL + REBALANCE_ALLOWANCE;
    s.wait_cover(
        &survivors,
        limit,
        "takeover within session timeout + one rebalance",
    );
    let took_over = killed.elapsed();
    let after_session = session_from.elapsed().saturating_sub(SESSION_TIMEOUT);
    drain(&s, &survivors, &committed_at_kill);
    let skips = s.skips();
    if !skips.is_empty() {
        s.fail(&format!("members skipped owned offsets: {skips:?}"));
    }
    drop(load);
    println!(
        "{moment:?}: m{victim} killed; its partitions moved {took_over:?} after the kill, \
         {after_session:?} after its session ran out ({SESSION_TIMEOUT:?}); all \
         {} records consumed and committed {:?} after the kill; whole run {:?}",
        PER_PARTITION * i64::from(PARTITIONS),
        killed.elapsed(),
        started.elapsed()
    );
}

/// Waits until every record reached some member, everything from the victim's last commit on
/// reached a survivor, and the commits reached the end of every partition.
fn drain(s: &Scenario, survivors: &[usize], committed_at_kill: &[i64]) {
    let deadline = Instant::now() + DRAIN_TIMEOUT;
    let want = vec![PER_PARTITION; PARTITIONS as usize];
    loop {
        let lost: Vec<(i32, usize, i64)> = (0..PARTITIONS)
            .map(|p| (p, s.missing(survivors, p, committed_at_kill[p as usize])))
            .filter(|(_, m)| !m.is_empty())
            .map(|(p, m)| (p, m.len(), m[0]))
            .collect();
        let unseen: Vec<(i32, usize)> = (0..PARTITIONS)
            .map(|p| (p, s.missing(&[0, 1, 2], p, 0).len()))
            .filter(|(_, n)| *n > 0)
            .collect();
        let now = committed(&s.addr(), &s.group, &s.topic);
        if lost.is_empty() && unseen.is_empty() && now == want {
            return;
        }
        if Instant::now() >= deadline {
            s.fail(&format!(
                "after {DRAIN_TIMEOUT:?}: the survivors never got (partition, how many, first) \
                 {lost:?} of what the victim left (committed at the kill {committed_at_kill:?}); \
                 never consumed at all {unseen:?}; committed {now:?}"
            ));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn leader_killed_while_the_group_forms_under_cpu_load() {
    run(KillMoment::GroupForming, "forming");
}

#[test]
fn leader_killed_in_a_stable_group_under_cpu_load() {
    run(KillMoment::Stable, "stable");
}

/// The load is real: the busy loops run, and they are gone once dropped.
#[test]
fn cpu_load_spins_and_stops() {
    let load = CpuLoad::start();
    std::thread::sleep(Duration::from_millis(200));
    let pids: Vec<u32> = load.children.iter().map(Child::id).collect();
    let state = |pid: u32| {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|s| s.rsplit(')').next().map(|rest| rest.trim().chars().next()))
            .flatten()
    };
    assert!(
        pids.iter().all(|&pid| state(pid) == Some('R')),
        "every busy loop is running or runnable: {:?}",
        pids.iter().map(|&pid| state(pid)).collect::<Vec<_>>()
    );
    drop(load);
    assert!(
        pids.iter().all(|&pid| state(pid).is_none()),
        "busy loops left behind"
    );
}
