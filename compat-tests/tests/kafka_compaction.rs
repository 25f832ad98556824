//! Log compaction (issue 20 item 2) with real clients against the real binary: confluent-kafka
//! produces keys overwritten many times and tombstones to a `cleanup.policy=compact` topic
//! (small `segment.bytes` and `segment.ms`, the cleaner every 300 ms via
//! `--log-cleaner-backoff-ms`); after cleaning a consumer from offset 0 (confluent-kafka, and
//! the rdkafka crate) sees exactly the latest record per key at its original offset, the
//! tombstones until `delete.retention.ms` has passed and then not, and the partition's files
//! shrank; a consumer positioned at a removed offset gets the next record. A keyless record is
//! refused with INVALID_RECORD and nothing is written. The broker SIGKILLed again and again
//! while the cleaner works loses nothing. Appends produced while the cleaner runs are all
//! acknowledged and the latest per key is found at its acknowledged offset.
#![allow(clippy::unwrap_used)]

mod cross_common;
mod native_sdk_common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use cross_common::{run_reporting, venv_script};
use native_sdk_common::native_values;
use rdkafka::TopicPartitionList;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer as _};
use rdkafka::message::Message as _;
use whippet_compat_tests::{Launch, WhippetProcess};

const TIMEOUT: Duration = Duration::from_secs(30);
/// How long a test waits for the cleaner to reach a state.
const CLEAN_WAIT: Duration = Duration::from_secs(40);

/// A record as a client reported it: (offset, key, value or `NULL`).
type Rec = (i64, String, String);

fn start() -> WhippetProcess {
    Launch::new()
        .args(["--log-cleaner-backoff-ms", "300"])
        .start()
        .unwrap()
}

/// Runs `compaction.py ACTION ARGS…` against `broker` and returns its stdout.
fn py(broker: &WhippetProcess, action: &str, args: &[&str]) -> String {
    let mut command = venv_script("compaction.py");
    command
        .arg(broker.kafka_addr().to_string())
        .arg(action)
        .args(args);
    run_reporting(&format!("compaction.py {action}"), command, || {
        broker.stderr()
    })
}

/// The `<prefix> offset key value` lines of a client's output.
fn lines(out: &str, prefix: &str) -> Vec<Rec> {
    out.lines()
        .filter_map(|line| line.strip_prefix(prefix))
        .map(|rest| {
            let mut parts = rest.splitn(3, ' ');
            let offset = parts.next().unwrap().parse().unwrap();
            let key = parts.next().unwrap().to_string();
            (offset, key, parts.next().unwrap_or_default().to_string())
        })
        .collect()
}

/// What a finished clean leaves of `acked`: the latest record per key, in offset order, with
/// or without the tombstones.
fn latest_per_key(acked: &[Rec], with_tombstones: bool) -> Vec<Rec> {
    let mut latest: BTreeMap<&str, &Rec> = BTreeMap::new();
    for rec in acked {
        latest.insert(&rec.1, rec);
    }
    let mut out: Vec<Rec> = latest
        .into_values()
        .filter(|r| with_tombstones || r.2 != "NULL")
        .cloned()
        .collect();
    out.sort();
    out
}

fn create(broker: &WhippetProcess, topic: &str, delete_retention_ms: &str) {
    let out = py(
        broker,
        "create",
        &[
            topic,
            "cleanup.policy=compact",
            "segment.bytes=65536",
            "segment.ms=500",
            &format!("delete.retention.ms={delete_retention_ms}"),
            "min.compaction.lag.ms=0",
        ],
    );
    assert!(out.contains("CONFIG cleanup.policy compact"), "{out}");
    assert!(
        out.contains(&format!("CONFIG delete.retention.ms {delete_retention_ms}")),
        "{out}"
    );
}

/// Consumes with confluent-kafka from `from` to the high watermark.
fn consume(broker: &WhippetProcess, topic: &str, from: i64) -> Vec<Rec> {
    lines(&py(broker, "consume", &[topic, &from.to_string()]), "REC ")
}

/// Consumes until the records equal `want` (the cleaner runs in the background), or fails.
fn await_contents(broker: &WhippetProcess, topic: &str, want: &[Rec], what: &str) {
    let started = Instant::now();
    loop {
        let got = consume(broker, topic, 0);
        if got == want {
            return;
        }
        assert!(
            started.elapsed() < CLEAN_WAIT,
            "{what}: still {} records, want {}\nfirst got: {:?}\nbroker stderr tail:\n{}",
            got.len(),
            want.len(),
            got.iter().take(5).collect::<Vec<_>>(),
            cross_common::tail(&broker.stderr(), 4000)
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Bytes of the `.log` files of the topics (each test's broker has one).
fn partition_bytes(data: &Path) -> u64 {
    walkdir(&data.join("streams"))
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .map(|p| p.metadata().unwrap().len())
        .sum()
}

/// With the rdkafka crate: the low watermark (ListOffsets earliest) and the offset
/// ListOffsets finds for timestamp 0 (the first record left).
fn earliest_and_first_by_time(broker: &WhippetProcess, topic: &str) -> (i64, i64) {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", broker.kafka_addr().to_string())
        .set("group.id", "compaction-rust-times")
        .create()
        .unwrap();
    let (low, _) = consumer.fetch_watermarks(topic, 0, TIMEOUT).unwrap();
    let mut query = TopicPartitionList::new();
    query
        .add_partition_offset(topic, 0, rdkafka::Offset::Offset(0))
        .unwrap();
    let found = consumer.offsets_for_times(query, TIMEOUT).unwrap();
    let offset = found.elements()[0].offset();
    let rdkafka::Offset::Offset(offset) = offset else {
        panic!("ListOffsets by timestamp: {offset:?}");
    };
    (low, offset)
}

/// Everything the rdkafka crate reads from partition 0 from the start.
fn rdkafka_consume(broker: &WhippetProcess, topic: &str) -> Vec<Rec> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", broker.kafka_addr().to_string())
        .set("group.id", "compaction-rust")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let (_, high) = consumer.fetch_watermarks(topic, 0, TIMEOUT).unwrap();
    let mut assignment = TopicPartitionList::new();
    assignment
        .add_partition_offset(topic, 0, rdkafka::Offset::Beginning)
        .unwrap();
    consumer.assign(&assignment).unwrap();
    let mut seen = Vec::new();
    let started = Instant::now();
    while started.elapsed() < TIMEOUT {
        let Some(message) = consumer.poll(Duration::from_millis(200)) else {
            continue;
        };
        let message = message.unwrap();
        let text = |b: Option<&[u8]>| {
            b.map_or("NULL".to_string(), |b| {
                String::from_utf8_lossy(b).into_owned()
            })
        };
        seen.push((
            message.offset(),
            text(message.key()),
            text(message.payload()),
        ));
        if message.offset() + 1 >= high {
            break;
        }
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latest_value_per_key_tombstones_until_delete_retention_and_offsets_kept() {
    let broker = start();
    let topic = "compacted";
    create(&broker, topic, "6000");
    // 60 keys × 40 rounds of up to ~300-byte values (several 64 KiB segments), then
    // tombstones for k0..k9; the cleaner runs while this is produced.
    let out = py(&broker, "produce", &[topic, "60", "40", "lz4", "10"]);
    assert!(out.contains("DONE"), "{out}");
    let acked = lines(&out, "ACK ");
    assert_eq!(acked.len(), 60 * 40 + 10);
    let mut offsets: Vec<i64> = acked.iter().map(|r| r.0).collect();
    offsets.sort_unstable();
    assert_eq!(offsets, (0..2410).collect::<Vec<_>>(), "dense offsets");
    let before = partition_bytes(&broker.data_dir());

    let with_tombstones = latest_per_key(&acked, true);
    assert_eq!(with_tombstones.len(), 60);
    await_contents(
        &broker,
        topic,
        &with_tombstones,
        "latest per key, tombstones kept",
    );
    let after = partition_bytes(&broker.data_dir());
    assert!(
        after * 5 < before,
        "the partition shrank: {before} bytes before, {after} after"
    );
    // The rdkafka crate sees the same records at the same offsets (unless the tombstones
    // went in between: delete.retention.ms is 6 s).
    let rust = rdkafka_consume(&broker, topic);
    assert!(
        rust == with_tombstones || rust == latest_per_key(&acked, false),
        "rdkafka crate: {:?}",
        rust.iter().take(5).collect::<Vec<_>>()
    );
    // A consumer positioned at a removed offset gets the next record left.
    let removed = 1000;
    assert!(with_tombstones.iter().all(|r| r.0 != removed));
    let next = consume(&broker, topic, removed);
    let want_next = with_tombstones.iter().find(|r| r.0 > removed).unwrap();
    assert_eq!(next.first(), Some(want_next), "from a removed offset");

    // After delete.retention.ms the tombstones go too.
    await_contents(
        &broker,
        topic,
        &latest_per_key(&acked, false),
        "tombstones removed after delete.retention.ms",
    );
    // A native reader (the iggy SDK) sees the same records at the same offsets.
    let want: Vec<(i64, String)> = latest_per_key(&acked, false)
        .into_iter()
        .map(|(offset, _, value)| (offset, value))
        .collect();
    let native: Vec<(i64, String)> = native_values(&broker, topic)
        .await
        .into_iter()
        .map(|(offset, value)| (i64::try_from(offset).unwrap(), value))
        .collect();
    assert_eq!(native, want, "native view");
    // ListOffsets: earliest is still 0; by timestamp, the first record left.
    assert_eq!(earliest_and_first_by_time(&broker, topic), (0, want[0].0));
    // Appends continue at the next offset.
    let more = py(&broker, "produce", &[topic, "1", "1", "none", "0"]);
    assert_eq!(lines(&more, "ACK ")[0].0, 2410);
}

#[test]
fn a_keyless_record_is_refused_and_nothing_is_written() {
    let broker = start();
    let topic = "compacted-keys";
    create(&broker, topic, "86400000");
    let out = py(&broker, "keyless", &[topic]);
    assert_eq!(out.trim(), "ERR INVALID_RECORD");
    let out = py(&broker, "consume", &[topic, "0"]);
    assert!(out.contains("END 0"), "nothing written: {out}");
}

#[test]
fn sigkill_during_compaction_loses_nothing() {
    let mut broker = start();
    let topic = "compacted-kill";
    create(&broker, topic, "86400000");
    let mut acked = Vec::new();
    // Several producing rounds, each followed by a SIGKILL while the cleaner (every 300 ms)
    // is at work on what was just written, then a restart on the same data.
    for round in 0..4 {
        let out = py(&broker, "produce", &[topic, "40", "15", "gzip", "0"]);
        acked.extend(lines(&out, "ACK "));
        std::thread::sleep(Duration::from_millis(300 + 150 * round));
        broker.kill().unwrap();
        broker.restart().unwrap();
    }
    let stderr = broker.stderr();
    let want = latest_per_key(&acked, true);
    await_contents(&broker, topic, &want, "after SIGKILLs mid-compaction");
    assert!(
        !stderr.contains("quarantin"),
        "no segment was quarantined:\n{}",
        cross_common::tail(&stderr, 4000)
    );
    let mut files = Vec::new();
    for entry in walkdir(&broker.data_dir()) {
        let name = entry.file_name().unwrap().to_string_lossy().into_owned();
        if name.ends_with(".cleaned") || name.ends_with(".swap") {
            files.push(name);
        }
    }
    assert!(files.is_empty(), "no compaction file left over: {files:?}");
}

fn walkdir(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                out.extend(walkdir(&path));
            } else {
                out.push(path);
            }
        }
    }
    out
}
