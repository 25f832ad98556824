//! Damaged or incomplete data directories, driven through the real `whippet` binary with the
//! `rdkafka` crate (bundled librdkafka):
//!
//! - a missing catalog (the metadata log, `state/meta/`, that holds it) while partition
//!   directories remain: the broker refuses to start, naming it and what to do, and deletes
//!   or creates nothing; with the metadata log back every record is there again;
//! - one flipped byte in the middle of a segment, after a clean stop (SIGTERM) and after a
//!   crash (SIGKILL): a consumer from offset 0 gets every record before the damaged batch, then
//!   the Kafka error for it (CORRUPT_MESSAGE); the broker logs the damaged offsets at ERROR,
//!   nothing is cut from the file, and every record after the damaged batch is served to a
//!   consumer starting there. An idempotent producer can still append.
#![allow(clippy::unwrap_used)]

use std::fs;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};
use whippet_compat_tests::{Launch, WhippetProcess};

const RECORDS: usize = 3000;
const BATCH_RECORDS: usize = 50;
const TIMEOUT: Duration = Duration::from_secs(15);
const CONSUME_TIMEOUT: Duration = Duration::from_secs(40);

fn value(i: usize) -> Vec<u8> {
    let mut value = format!("record-{i:05}-").into_bytes();
    value.extend(b"0123456789abcdef".iter().cycle().take(40 + i % 60));
    value
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn client(addr: &str) -> ClientConfig {
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", addr);
    config
}

/// Produces `values` to partition 0 of `topic` (auto-created) in batches of at most
/// `BATCH_RECORDS`, checking each record lands at its index.
fn produce(addr: &str, topic: &str, first_offset: usize, values: &[Vec<u8>], idempotent: bool) {
    let producer: FutureProducer = client(addr)
        .set("linger.ms", "20")
        .set("batch.num.messages", BATCH_RECORDS.to_string())
        .set("acks", "all")
        .set("enable.idempotence", idempotent.to_string())
        .create()
        .unwrap();
    runtime().block_on(async {
        let mut deliveries = Vec::new();
        for value in values {
            let record = FutureRecord::<(), _>::to(topic).partition(0).payload(value);
            deliveries.push(producer.send_result(record).unwrap());
        }
        for (i, delivery) in deliveries.into_iter().enumerate() {
            let delivered = delivery.await.unwrap();
            let delivery = delivered.unwrap_or_else(|(e, _)| panic!("record {i}: {e}"));
            let want = i64::try_from(first_offset + i).unwrap();
            assert_eq!(
                (delivery.partition, delivery.offset),
                (0, want),
                "record {i}"
            );
        }
    });
    producer.flush(TIMEOUT).unwrap();
}

/// A consumer of partition 0 of `topic` from `offset`, by direct assignment.
fn consumer_at(addr: &str, topic: &str, offset: i64) -> BaseConsumer {
    let consumer: BaseConsumer = client(addr)
        .set("group.id", "whippet-compat-unused")
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "error")
        .create()
        .unwrap();
    let mut assignment = TopicPartitionList::new();
    assignment
        .add_partition_offset(topic, 0, Offset::Offset(offset))
        .unwrap();
    consumer.assign(&assignment).unwrap();
    consumer
}

/// How a consumption from some offset ended.
#[derive(Debug)]
enum Ended {
    /// Reached `until` (exclusive).
    Complete,
    /// The broker answered a fetch with this error after the records before it.
    Error(KafkaError),
}

/// Consumes from `from` until offset `until` or an error, checking each record against
/// [`value`]; returns the offsets read and how it ended.
fn consume(addr: &str, topic: &str, from: usize, until: usize) -> (Vec<usize>, Ended) {
    let consumer = consumer_at(addr, topic, i64::try_from(from).unwrap());
    let mut offsets = Vec::new();
    let deadline = Instant::now() + CONSUME_TIMEOUT;
    while offsets.last().map_or(from, |last| last + 1) < until {
        assert!(
            Instant::now() < deadline,
            "timed out after offsets {from}..{:?}",
            offsets.last()
        );
        match consumer.poll(Duration::from_millis(200)) {
            None => {}
            Some(Err(error)) => return (offsets, Ended::Error(error)),
            Some(Ok(message)) => {
                let offset = usize::try_from(message.offset()).unwrap();
                assert_eq!(
                    offset,
                    offsets.last().map_or(from, |last| last + 1),
                    "dense"
                );
                assert_eq!(
                    message.payload(),
                    Some(&value(offset)[..]),
                    "record {offset}"
                );
                offsets.push(offset);
            }
        }
    }
    (offsets, Ended::Complete)
}

/// Every file under `dir`, with its bytes.
fn files_under(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let bytes = fs::read(&path).unwrap();
                out.push((path, bytes));
            }
        }
    }
    out.sort();
    out
}

/// The one segment file the test topic has (the data dir holds no other topic).
fn segment_file(data_dir: &Path) -> PathBuf {
    let logs: Vec<PathBuf> = files_under(&data_dir.join("streams"))
        .into_iter()
        .map(|(path, _)| path)
        .filter(|path| path.extension().is_some_and(|e| e == "log"))
        .collect();
    assert_eq!(logs.len(), 1, "{logs:?}");
    logs.into_iter().next().unwrap()
}

fn all_values() -> Vec<Vec<u8>> {
    (0..RECORDS).map(value).collect()
}

#[test]
fn missing_catalog_refuses_to_start_and_deletes_nothing() {
    let mut broker = WhippetProcess::start(["--fsync", "always"]).unwrap();
    let addr = broker.kafka_addr().to_string();
    produce(&addr, "kept", 0, &all_values(), false);
    assert!(broker.terminate().unwrap().success());

    let data_dir = broker.data_dir();
    let catalog = data_dir.join("state").join("meta");
    let aside = data_dir.join("meta.aside");
    let before = files_under(&data_dir.join("streams"));
    assert!(
        before
            .iter()
            .any(|(path, _)| path.ends_with("00000000000000000000.log"))
    );
    fs::rename(&catalog, &aside).unwrap();

    let finished = Launch::new()
        .without_data_dir_flag()
        .args(["--data-dir".as_ref(), data_dir.as_os_str()])
        .run_to_exit()
        .unwrap();
    assert_eq!(finished.status.code(), Some(1), "{}", finished.stderr);
    let errors: Vec<&str> = finished
        .stderr
        .lines()
        .filter(|line| line.starts_with("whippet: error:"))
        .collect();
    assert_eq!(errors.len(), 1, "{}", finished.stderr);
    for words in [
        catalog.to_str().unwrap(),
        "is missing",
        "put the catalog back",
    ] {
        assert!(errors[0].contains(words), "{words:?} not in {}", errors[0]);
    }
    assert!(
        !finished.stderr.contains("removing"),
        "nothing removed: {}",
        finished.stderr
    );
    assert_eq!(
        files_under(&data_dir.join("streams")),
        before,
        "data untouched"
    );
    assert!(!catalog.exists(), "no empty catalog written over the loss");

    fs::rename(&aside, &catalog).unwrap();
    broker.restart().unwrap();
    let addr = broker.kafka_addr().to_string();
    let (offsets, ended) = consume(&addr, "kept", 0, RECORDS);
    assert!(matches!(ended, Ended::Complete), "{ended:?}");
    assert_eq!(offsets.len(), RECORDS);
}

/// Flips one byte in the middle of the segment file.
fn flip_middle_byte(path: &Path) -> u64 {
    let mut file = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .unwrap();
    let len = file.metadata().unwrap().len();
    let pos = len / 2;
    let mut byte = [0u8; 1];
    file.seek(SeekFrom::Start(pos)).unwrap();
    file.read_exact(&mut byte).unwrap();
    file.seek(SeekFrom::Start(pos)).unwrap();
    file.write_all(&[byte[0] ^ 0x40]).unwrap();
    file.sync_all().unwrap();
    len
}

/// The `first..next` offsets of the broker's ERROR line about damaged frames, once it has one.
fn logged_damage(broker: &WhippetProcess) -> Option<(usize, usize)> {
    broker.stderr().lines().find_map(|line| {
        if !line.contains("ERROR") {
            return None;
        }
        let range = line.split("offsets ").nth(1)?.split(' ').next()?;
        let (first, next) = range.split_once("..")?;
        Some((first.parse().ok()?, next.parse().ok()?))
    })
}

/// Produce, stop with `stop`, flip a byte mid-segment, restart, and check what consumers get.
fn mid_segment_damage(stop: fn(&mut WhippetProcess)) {
    let mut broker = WhippetProcess::start(["--fsync", "always"]).unwrap();
    let addr = broker.kafka_addr().to_string();
    produce(&addr, "damaged", 0, &all_values(), false);
    stop(&mut broker);
    let segment = segment_file(&broker.data_dir());
    let len = flip_middle_byte(&segment);
    broker.restart().unwrap();
    let addr = broker.kafka_addr().to_string();

    // From 0: every record before the damaged batch, then the broker's error for it.
    let (before, ended) = consume(&addr, "damaged", 0, RECORDS);
    let damaged_from = before.len();
    assert!(
        matches!(
            &ended,
            Ended::Error(KafkaError::MessageConsumption(
                RDKafkaErrorCode::InvalidMessage
            ))
        ),
        "expected CORRUPT_MESSAGE after {damaged_from} records, got {ended:?}"
    );
    assert!(
        (RECORDS / 4..RECORDS * 3 / 4).contains(&damaged_from),
        "the damage is mid-segment, yet only {damaged_from} records were served before it"
    );
    let (first, next) = logged_damage(&broker)
        .unwrap_or_else(|| panic!("no ERROR line names the damage:\n{}", broker.stderr()));
    assert_eq!(first, damaged_from, "{}", broker.stderr());
    assert!(
        next > first && next - first <= BATCH_RECORDS,
        "one batch lost, not {first}..{next}"
    );
    assert_eq!(
        fs::metadata(&segment).unwrap().len(),
        len,
        "nothing cut off"
    );

    // From the offset after the damaged batch: every later record.
    let (after, ended) = consume(&addr, "damaged", next, RECORDS);
    assert!(matches!(ended, Ended::Complete), "{ended:?}");
    assert_eq!(after, (next..RECORDS).collect::<Vec<_>>());

    // The partition still takes appends, idempotent ones too.
    produce(&addr, "damaged", RECORDS, &[value(RECORDS)], true);
    let (tail, _) = consume(&addr, "damaged", RECORDS, RECORDS + 1);
    assert_eq!(tail, vec![RECORDS]);
}

#[test]
fn flipped_byte_mid_segment_after_sigterm_costs_one_batch() {
    mid_segment_damage(|broker| assert!(broker.terminate().unwrap().success()));
}

#[test]
fn flipped_byte_mid_segment_after_sigkill_costs_one_batch() {
    mid_segment_damage(|broker| {
        broker.kill().unwrap();
    });
}
