//! Consumer groups with every real Kafka client against the real `whippet` binary: the rdkafka
//! crate, PyPI confluent-kafka (librdkafka 2.16), Debian python3-confluent-kafka (librdkafka
//! 2.0.2), kafka-python 3, aiokafka, KafkaJS and Debian sarama. Each test runs one scenario:
//!
//! 1. three members of one group on a 6-partition topic hold every partition exactly once;
//! 2. one is SIGKILLed (no LeaveGroup): its partitions move to the two survivors only once its
//!    session has timed out;
//! 3. one is SIGTERMed (graceful close, LeaveGroup): the last survivor takes every partition well
//!    before a session timeout could have caused it;
//! 4. a fresh member joins and the partitions are shared again;
//! 5. a producer wrote keyed records the whole time: every offset of every partition below the
//!    high watermark was handed to some member (at least once, none skipped), and no member
//!    ever jumped over an offset while it owned a partition;
//! 6. the group's committed offsets reach the high watermarks, and are unchanged after a broker
//!    restart (SIGTERM, then a new process on the same data directory).
//!
//! Members are separate processes (so one can be killed): the programs in `compat-tests/clients/`
//! (see the group section of `clients/README.md`) print one JSON event per line, read here on
//! one thread per member. The rdkafka crate's member is this test binary itself, re-executed with
//! [`MEMBER_SPEC_ENV`] set. librdkafka's three assignors are each exercised once: roundrobin
//! (rdkafka crate), cooperative-sticky (confluent-kafka 2.16) and range (librdkafka 2.0.2).
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::util::Timeout;
use rdkafka::{Offset, TopicPartitionList};
use serde_json::Value;
use whippet_compat_tests::WhippetProcess;
use whippet_compat_tests::programs::{clients_dir, require, venv_python, work_dir};

const PARTITIONS: i32 = 6;
/// Every member's session timeout: the broker's default minimum is 6 s; 8 s leaves a clear gap
/// between a rebalance caused by a LeaveGroup and one caused by a session expiring.
const SESSION_TIMEOUT: Duration = Duration::from_secs(8);
/// The members' heartbeat interval (set in every member program): a dead member's last
/// heartbeat may be this much older than its death.
const HEARTBEAT_INTERVAL: Duration = Duration::from_millis(500);
/// A rebalance after a graceful leave must finish within this (well below the session timeout).
const PROMPT_REBALANCE: Duration = Duration::from_secs(5);
/// How long members may take to form a group or finish a rebalance that has no session wait.
const JOIN_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the members may take to consume and commit everything after the producer stops.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a SIGTERMed member may take to close and exit.
const EXIT_TIMEOUT: Duration = Duration::from_secs(20);
/// How long the producer keeps writing before the first member change (so members start with a
/// backlog), and between later steps it simply keeps going.
const PRODUCE_HEAD_START: Duration = Duration::from_millis(500);
/// Pause between produced records: a steady trickle (a few hundred records a second).
const PRODUCE_PAUSE: Duration = Duration::from_millis(2);
/// librdkafka request deadline for admin, watermark and committed-offset calls.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(15);
/// When set, this test binary runs as one rdkafka group member (see [`rdkafka_member`]).
const MEMBER_SPEC_ENV: &str = "KAFKA_GROUP_CLIENTS_MEMBER";

#[path = "kafka_group_clients/member.rs"]
mod member;
use member::{Member, STDERR_TAIL_BYTES, tail};

// ---------------------------------------------------------------------------------------------
// The clients

/// The clients under test; each names the program that runs one member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Client {
    /// The rdkafka crate (bundled librdkafka 2.12.1): this test binary re-executed.
    RdkafkaCrate,
    /// PyPI confluent-kafka 2.16 (librdkafka 2.16) in the venv.
    ConfluentPypi,
    /// Debian python3-confluent-kafka 1.7 (librdkafka 2.0.2) under /usr/bin/python3.
    ConfluentDebian,
    /// kafka-python 3 in the venv.
    KafkaPython,
    /// aiokafka in the venv.
    Aiokafka,
    /// KafkaJS 2.2.4 under node.
    KafkaJs,
    /// Debian sarama 1.22, built by the test.
    Sarama,
}

/// How to start one member of `client`: the program and its fixed leading arguments; the test
/// appends bootstrap, topic, group, member name, assignor (where the client has a choice) and
/// the session timeout.
struct MemberProgram {
    client: Client,
    base: Vec<String>,
    program: PathBuf,
    env: Vec<(String, String)>,
}

impl MemberProgram {
    fn new(client: Client, test_name: &str) -> Self {
        let python = |interpreter: PathBuf, which: &str| MemberProgram {
            client,
            program: interpreter,
            base: vec![
                path_arg(&clients_dir().join("python/group_member.py")),
                which.to_string(),
            ],
            env: vec![
                ("PYTHONDONTWRITEBYTECODE".into(), "1".into()),
                ("PYTHONUNBUFFERED".into(), "1".into()),
            ],
        };
        match client {
            Client::RdkafkaCrate => MemberProgram {
                client,
                program: std::env::current_exe().unwrap(),
                base: vec![
                    "--exact".into(),
                    test_name.into(),
                    "--nocapture".into(),
                    "--test-threads=1".into(),
                ],
                env: Vec::new(),
            },
            Client::ConfluentPypi => python(venv_python(), "confluent"),
            Client::ConfluentDebian => python(require(Path::new("/usr/bin/python3")), "confluent"),
            Client::KafkaPython => python(venv_python(), "kafka-python"),
            Client::Aiokafka => python(venv_python(), "aiokafka"),
            Client::KafkaJs => {
                let modules = require(&work_dir().join("node/node_modules/kafkajs"));
                MemberProgram {
                    client,
                    program: PathBuf::from("node"),
                    base: vec![path_arg(
                        &clients_dir().join("node/kafkajs_group_member.js"),
                    )],
                    env: vec![("NODE_PATH".into(), path_arg(modules.parent().unwrap()))],
                }
            }
            Client::Sarama => MemberProgram {
                client,
                program: build_sarama_member(),
                base: Vec::new(),
                env: Vec::new(),
            },
        }
    }

    fn command(
        &self,
        bootstrap: &str,
        topic: &str,
        group: &str,
        member: &str,
        assignor: &str,
    ) -> Command {
        let session_ms = SESSION_TIMEOUT.as_millis().to_string();
        let mut command = Command::new(&self.program);
        command.args(&self.base);
        command.envs(self.env.iter().map(|(k, v)| (k, v)));
        if self.client == Client::RdkafkaCrate {
            let spec = serde_json::json!({
                "bootstrap": bootstrap, "topic": topic, "group": group, "member": member,
                "assignor": assignor, "session_ms": session_ms,
            });
            command.env(MEMBER_SPEC_ENV, spec.to_string());
            return command;
        }
        command.args([bootstrap, topic, group, member]);
        if self.client != Client::KafkaJs {
            command.arg(assignor);
        }
        command.arg(session_ms);
        command
    }
}

fn path_arg(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

/// Builds the sarama member with Debian's Go and sarama packages (GOPATH mode: no module proxy
/// is reachable) into `.work/go/`.
fn build_sarama_member() -> PathBuf {
    let go = require(Path::new("/usr/bin/go"));
    require(Path::new("/usr/share/gocode/src/github.com/Shopify/sarama"));
    let out_dir = work_dir().join("go");
    std::fs::create_dir_all(&out_dir).unwrap();
    let binary = out_dir.join("sarama-group-member");
    let output = Command::new(go)
        .args(["build", "-o"])
        .arg(&binary)
        .arg(".")
        .current_dir(clients_dir().join("go/sarama_group"))
        .env("GO111MODULE", "off")
        .env("GOPATH", "/usr/share/gocode")
        .env("GOCACHE", out_dir.join("cache"))
        .env("GOFLAGS", "")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "go build of the sarama group member failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    binary
}

// ---------------------------------------------------------------------------------------------
// The rdkafka crate's member (this binary, re-executed)

/// Reads the member spec when this process is a re-executed rdkafka member.
fn member_spec() -> Option<Value> {
    let text = std::env::var(MEMBER_SPEC_ENV).ok()?;
    Some(serde_json::from_str(&text).unwrap())
}

fn emit(event: Value) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{event}").unwrap();
    out.flush().unwrap();
}

/// Sets `stop` on SIGTERM (through tokio's signal handling: the workspace forbids unsafe code).
fn stop_on_sigterm() -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    let (installed, wait_installed) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            use tokio::signal::unix::{SignalKind, signal};
            let mut term = signal(SignalKind::terminate()).unwrap();
            installed.send(()).unwrap();
            term.recv().await;
            flag.store(true, Ordering::SeqCst);
        });
    });
    wait_installed.recv().unwrap();
    stop
}

/// One group member on the rdkafka crate, speaking the same events as the client programs:
/// commits synchronously after each batch, closes (LeaveGroup) on SIGTERM.
fn rdkafka_member(spec: &Value) {
    let stop = stop_on_sigterm();
    let field = |name: &str| spec[name].as_str().unwrap().to_string();
    let topic = field("topic");
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", field("bootstrap"))
        .set("group.id", field("group"))
        .set("client.id", field("member"))
        .set("partition.assignment.strategy", field("assignor"))
        .set("session.timeout.ms", field("session_ms"))
        .set(
            "heartbeat.interval.ms",
            HEARTBEAT_INTERVAL.as_millis().to_string(),
        )
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .create()
        .unwrap();
    consumer.subscribe(&[&topic]).unwrap();
    let mut assignment: Option<Vec<i32>> = None;
    let mut pending: BTreeMap<i32, i64> = BTreeMap::new();
    while !stop.load(Ordering::SeqCst) {
        let mut message = consumer.poll(Duration::from_millis(200));
        let mut now: Vec<i32> = consumer
            .assignment()
            .unwrap()
            .elements_for_topic(&topic)
            .iter()
            .map(|e| e.partition())
            .collect();
        now.sort_unstable();
        if assignment.as_ref() != Some(&now) {
            pending.retain(|p, _| now.contains(p));
            emit(serde_json::json!({"ev": "assigned", "partitions": now}));
            assignment = Some(now);
        }
        while let Some(result) = message {
            match result {
                Ok(m) => {
                    emit(serde_json::json!({"ev": "record", "p": m.partition(), "o": m.offset()}));
                    pending.insert(m.partition(), m.offset() + 1);
                }
                Err(e) => eprintln!("rdkafka member: consume error: {e}"),
            }
            message = consumer.poll(Duration::ZERO);
        }
        rdkafka_commit(&consumer, &topic, &mut pending);
    }
    rdkafka_commit(&consumer, &topic, &mut pending);
    drop(consumer); // closes: LeaveGroup
    emit(serde_json::json!({"ev": "closed"}));
}

fn rdkafka_commit(consumer: &BaseConsumer, topic: &str, pending: &mut BTreeMap<i32, i64>) {
    if pending.is_empty() {
        return;
    }
    let mut list = TopicPartitionList::new();
    for (p, o) in pending.iter() {
        list.add_partition_offset(topic, *p, Offset::Offset(*o))
            .unwrap();
    }
    match consumer.commit(&list, CommitMode::Sync) {
        Ok(()) => {
            let offsets: serde_json::Map<String, Value> = pending
                .iter()
                .map(|(p, o)| (p.to_string(), Value::from(*o)))
                .collect();
            emit(serde_json::json!({"ev": "committed", "offsets": offsets}));
            pending.clear();
        }
        // A rebalance raced the commit: keep the progress and try again after the next poll.
        Err(e) => eprintln!("rdkafka member: commit {pending:?} failed: {e}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Broker-side helpers (rdkafka crate: admin, producer, watermarks, committed offsets)

fn start_broker() -> WhippetProcess {
    // A short initial delay: the three members, started together, mostly join one generation.
    WhippetProcess::start(["--group-initial-rebalance-delay-ms", "500"]).unwrap()
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
    let options = AdminOptions::new().operation_timeout(Some(CLIENT_TIMEOUT));
    let results = runtime
        .block_on(admin.create_topics([&topic], &options))
        .unwrap();
    assert_eq!(results, vec![Ok(name.to_string())]);
}

/// A producer thread writing keyed records round-robin over the partitions until stopped; it
/// returns how many records each partition acknowledged.
struct Producer {
    stop: Arc<AtomicBool>,
    handle: JoinHandle<Vec<i64>>,
}

impl Producer {
    fn start(addr: &str, topic: &str) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let producer: FutureProducer = ClientConfig::new()
            .set("bootstrap.servers", addr)
            .set("acks", "all")
            .set("linger.ms", "1")
            .create()
            .unwrap();
        let (flag, topic) = (Arc::clone(&stop), topic.to_string());
        let handle = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(produce_until(&producer, &topic, &flag))
        });
        Self { stop, handle }
    }

    fn stop(self) -> Vec<i64> {
        self.stop.store(true, Ordering::SeqCst);
        self.handle.join().unwrap()
    }
}

async fn produce_until(producer: &FutureProducer, topic: &str, stop: &AtomicBool) -> Vec<i64> {
    let mut acked = vec![0i64; PARTITIONS as usize];
    let mut i: u64 = 0;
    while !stop.load(Ordering::SeqCst) {
        let partition = (i % PARTITIONS as u64) as i32;
        let key = format!("key-{i}");
        let value = format!("value-{i}");
        let record = FutureRecord::to(topic)
            .partition(partition)
            .key(&key)
            .payload(&value);
        let delivery = producer
            .send(record, Timeout::After(CLIENT_TIMEOUT))
            .await
            .unwrap_or_else(|(e, _)| panic!("record {i} not acknowledged: {e}"));
        let slot = &mut acked[partition as usize];
        assert_eq!(
            delivery.offset, *slot,
            "partition {partition}: offsets must be dense"
        );
        *slot += 1;
        i += 1;
        tokio::time::sleep(PRODUCE_PAUSE).await;
    }
    acked
}

fn high_watermarks(addr: &str, topic: &str) -> Vec<i64> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", addr)
        .create()
        .unwrap();
    (0..PARTITIONS)
        .map(|p| {
            consumer
                .fetch_watermarks(topic, p, CLIENT_TIMEOUT)
                .unwrap()
                .1
        })
        .collect()
}

/// The group's committed offsets (OffsetFetch from a client that never joins the group);
/// -1 where nothing is committed.
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

// ---------------------------------------------------------------------------------------------
// The scenario

/// One client's run: the broker, the group's members (every one ever started, by index) and
/// where their stderr goes.
struct Scenario {
    client: Client,
    program: MemberProgram,
    assignor: &'static str,
    broker: WhippetProcess,
    topic: String,
    group: String,
    logs: tempfile::TempDir,
    members: Vec<Member>,
}

impl Scenario {
    fn new(client: Client, assignor: &'static str, test_name: &str) -> Self {
        let program = MemberProgram::new(client, test_name);
        let broker = start_broker();
        let topic = format!("group-clients-{assignor}");
        create_topic(&broker.kafka_addr().to_string(), &topic);
        Self {
            client,
            program,
            assignor,
            broker,
            topic,
            group: format!("group-{test_name}"),
            logs: tempfile::tempdir().unwrap(),
            members: Vec::new(),
        }
    }

    fn addr(&self) -> String {
        self.broker.kafka_addr().to_string()
    }

    /// Starts member `m<n>` and returns its index.
    fn add_member(&mut self) -> usize {
        let name = format!("m{}", self.members.len());
        let command =
            self.program
                .command(&self.addr(), &self.topic, &self.group, &name, self.assignor);
        let member = Member::spawn(&name, command, self.logs.path());
        self.members.push(member);
        self.members.len() - 1
    }

    /// Panics with `message`, every member's state and stderr, and the broker's stderr.
    fn fail(&self, message: &str) -> ! {
        let members: Vec<String> = self.members.iter().map(Member::describe).collect();
        panic!(
            "{:?} ({}): {message}\n{}\n--- broker stderr tail ---\n{}",
            self.client,
            self.assignor,
            members.join("\n"),
            tail(&self.broker.stderr(), STDERR_TAIL_BYTES)
        );
    }

    /// Waits until the `live` members each hold a non-empty share and together hold every
    /// partition exactly once; returns their shares and how long it took. Fails if a live member
    /// exits.
    fn wait_cover(&mut self, live: &[usize], timeout: Duration) -> (Vec<Vec<i32>>, Duration) {
        let started = Instant::now();
        let mut last = Vec::new();
        while started.elapsed() < timeout {
            for &m in live {
                if let Ok(Some(status)) = self.members[m].child.try_wait() {
                    self.fail(&format!("member m{m} exited unexpectedly: {status}"));
                }
            }
            last = live.iter().map(|&m| self.members[m].assignment()).collect();
            if let Some(shares) = exclusive_cover(&last) {
                return (shares, started.elapsed());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.fail(&format!(
            "members {live:?} never held the {PARTITIONS} partitions exactly once within \
             {timeout:?}; last assignments {last:?}"
        ));
    }

    /// SIGTERMs member `m` and requires a clean exit after a graceful close.
    fn terminate(&mut self, m: usize) {
        self.members[m].signal(Signal::SIGTERM);
        match self.members[m].wait_exit(EXIT_TIMEOUT) {
            Some(status) if status.success() => {}
            other => self.fail(&format!("m{m} after SIGTERM: exit {other:?}")),
        }
        if !self.members[m].state.lock().unwrap().closed {
            self.fail(&format!("m{m} exited without closing its consumer"));
        }
    }

    /// Offsets below `counts[p]` that no member was handed, per partition (empty = complete).
    fn unseen(&self, counts: &[i64]) -> Vec<(i32, i64, usize)> {
        let mut missing = Vec::new();
        for (p, &count) in (0..PARTITIONS).zip(counts) {
            let mut union = BTreeSet::new();
            for member in &self.members {
                if let Some(seen) = member.state.lock().unwrap().seen.get(&p) {
                    union.extend(seen.range(0..count).copied());
                }
            }
            if union.len() as i64 != count {
                let first = (0..count).find(|o| !union.contains(o)).unwrap_or(count);
                missing.push((p, first, count as usize - union.len()));
            }
        }
        missing
    }

    fn wait_all_consumed(&self, counts: &[i64]) {
        let deadline = Instant::now() + DRAIN_TIMEOUT;
        loop {
            let missing = self.unseen(counts);
            if missing.is_empty() {
                return;
            }
            if Instant::now() >= deadline {
                self.fail(&format!(
                    "records never consumed (partition, first missing offset, how many): \
                     {missing:?} of {counts:?}"
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn wait_committed(&self, counts: &[i64]) {
        let deadline = Instant::now() + DRAIN_TIMEOUT;
        loop {
            let now = committed(&self.addr(), &self.group, &self.topic);
            if now == counts {
                return;
            }
            if Instant::now() >= deadline {
                self.fail(&format!(
                    "committed offsets {now:?}, want the high watermarks {counts:?}"
                ));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
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
}

/// The shares when every member has a non-empty assignment and together they hold each
/// partition exactly once.
fn exclusive_cover(assignments: &[Option<Vec<i32>>]) -> Option<Vec<Vec<i32>>> {
    let shares: Vec<Vec<i32>> = assignments.iter().cloned().collect::<Option<_>>()?;
    if shares.iter().any(Vec::is_empty) {
        return None;
    }
    let mut all: Vec<i32> = shares.iter().flatten().copied().collect();
    all.sort_unstable();
    (all == (0..PARTITIONS).collect::<Vec<_>>()).then_some(shares)
}

/// Steps 1–4: form the group, kill one member, stop one gracefully, add a fresh one. Returns
/// the indexes of the two members still running.
fn membership_changes(s: &mut Scenario, timings: &mut Vec<(&'static str, Duration)>) -> [usize; 2] {
    let first: Vec<usize> = (0..3).map(|_| s.add_member()).collect();
    let (shares, took) = s.wait_cover(&first, JOIN_TIMEOUT);
    timings.push(("three members share the partitions", took));
    println!("{:?}: three members: {shares:?}", s.client);

    // SIGKILL: no LeaveGroup, so only the session timeout can free the partitions.
    s.members[first[0]].signal(Signal::SIGKILL);
    let (shares, took) = s.wait_cover(&first[1..], SESSION_TIMEOUT + JOIN_TIMEOUT);
    timings.push(("killed member's partitions reassigned", took));
    let earliest = SESSION_TIMEOUT - HEARTBEAT_INTERVAL * 2;
    if took < earliest {
        s.fail(&format!(
            "partitions of the killed member moved after {took:?}, before its session timeout \
             ({SESSION_TIMEOUT:?}) could have expired: {shares:?}"
        ));
    }

    // SIGTERM: a graceful close sends LeaveGroup; the rebalance must not wait for a timeout.
    let left_at = Instant::now();
    s.terminate(first[1]);
    let (_, _) = s.wait_cover(&first[2..], JOIN_TIMEOUT);
    let took = left_at.elapsed();
    timings.push(("graceful leave rebalanced", took));
    if took > PROMPT_REBALANCE {
        s.fail(&format!(
            "rebalance after a graceful leave took {took:?} (limit {PROMPT_REBALANCE:?}, session \
             timeout {SESSION_TIMEOUT:?})"
        ));
    }

    let fresh = s.add_member();
    let live = [first[2], fresh];
    let (shares, took) = s.wait_cover(&live, JOIN_TIMEOUT);
    timings.push(("fresh member joined", took));
    println!("{:?}: after the changes: {shares:?}", s.client);
    live
}

/// The whole scenario for one client (see the module documentation).
fn run(client: Client, assignor: &'static str, test_name: &str) {
    let started = Instant::now();
    let mut s = Scenario::new(client, assignor, test_name);
    let mut timings = Vec::new();
    let producer = Producer::start(&s.addr(), &s.topic);
    std::thread::sleep(PRODUCE_HEAD_START);

    let live = membership_changes(&mut s, &mut timings);

    let counts = producer.stop();
    let watermarks = high_watermarks(&s.addr(), &s.topic);
    assert_eq!(
        watermarks, counts,
        "high watermarks vs acknowledged records"
    );
    let drain = Instant::now();
    s.wait_all_consumed(&counts);
    s.wait_committed(&counts);
    timings.push((
        "consumed and committed after the producer stopped",
        drain.elapsed(),
    ));
    let skips = s.skips();
    if !skips.is_empty() {
        s.fail(&format!(
            "members skipped offsets of partitions they owned: {skips:?}"
        ));
    }
    for m in live {
        s.terminate(m);
    }

    let before = committed(&s.addr(), &s.group, &s.topic);
    assert_eq!(
        before, counts,
        "committed offsets after every member closed"
    );
    let status = s.broker.restart().unwrap();
    assert!(status.success(), "broker SIGTERM exit: {status:?}");
    let after = committed(&s.addr(), &s.group, &s.topic);
    assert_eq!(after, before, "committed offsets after a broker restart");

    let total: i64 = counts.iter().sum();
    println!(
        "{client:?} ({assignor}) passed in {:?}: {total} records {counts:?}; steps {timings:?}",
        started.elapsed()
    );
}

/// Runs the scenario, or — when this process is a re-executed rdkafka member — the member.
fn run_or_member(client: Client, assignor: &'static str, test_name: &str) {
    match member_spec() {
        Some(spec) => rdkafka_member(&spec),
        None => run(client, assignor, test_name),
    }
}

#[test]
fn rdkafka_crate_roundrobin() {
    run_or_member(
        Client::RdkafkaCrate,
        "roundrobin",
        "rdkafka_crate_roundrobin",
    );
}

#[test]
fn confluent_kafka_pypi_cooperative_sticky() {
    run_or_member(
        Client::ConfluentPypi,
        "cooperative-sticky",
        "confluent_kafka_pypi_cooperative_sticky",
    );
}

#[test]
fn confluent_kafka_debian_range() {
    run_or_member(
        Client::ConfluentDebian,
        "range",
        "confluent_kafka_debian_range",
    );
}

#[test]
fn kafka_python_range() {
    run_or_member(Client::KafkaPython, "range", "kafka_python_range");
}

#[test]
fn aiokafka_roundrobin() {
    run_or_member(Client::Aiokafka, "roundrobin", "aiokafka_roundrobin");
}

#[test]
fn kafkajs_round_robin() {
    run_or_member(Client::KafkaJs, "roundrobin", "kafkajs_round_robin");
}

#[test]
fn sarama_range() {
    run_or_member(Client::Sarama, "range", "sarama_range");
}

#[test]
fn exclusive_cover_needs_every_partition_once_and_no_idle_member() {
    let cover = |a: &[Option<Vec<i32>>]| exclusive_cover(a).is_some();
    assert!(cover(&[Some(vec![0, 1, 2]), Some(vec![3, 4, 5])]));
    assert!(
        !cover(&[Some(vec![0, 1, 2]), Some(vec![2, 3, 4, 5])]),
        "2 twice"
    );
    assert!(
        !cover(&[Some(vec![0, 1, 2]), Some(vec![3, 4])]),
        "5 missing"
    );
    assert!(
        !cover(&[Some((0..6).collect()), Some(vec![])]),
        "idle member"
    );
    assert!(!cover(&[Some((0..6).collect()), None]), "not yet assigned");
}
