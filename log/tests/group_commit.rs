//! Group commit is run by the log itself: with `fsync = always`, an append that nobody waits on
//! (Kafka acks=0) must still be synced and become visible, with or without a tokio runtime.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use whippet_log::{AppendBatch, BatchFormat, FsyncPolicy, LogConfig, PartitionLog, TopicSettings};

/// How long an unwaited append may take to become durable and visible. Generous: a sync round
/// takes milliseconds; the deadline only bounds a failing test.
const VISIBLE_DEADLINE: Duration = Duration::from_secs(5);

fn open(dir: &Path) -> Arc<PartitionLog> {
    let mut config = LogConfig::new(dir);
    config.fsync = FsyncPolicy::Always;
    PartitionLog::open(dir.to_path_buf(), 0, TopicSettings::default(), &config)
        .unwrap()
        .0
}

fn batch(tag: u8, records: u32) -> AppendBatch {
    AppendBatch {
        format: BatchFormat::Kafka,
        payload: vec![tag; 100 + usize::from(tag)].into(),
        record_count: records,
        last_offset_delta: records - 1,
        first_timestamp_us: 1,
        max_timestamp_us: 1,
    }
}

/// Polls (no fixed sleep decides the outcome) until the high watermark passes `last_offset` or
/// the deadline expires; returns whether it did.
fn wait_visible(log: &PartitionLog, last_offset: u64) -> bool {
    let deadline = Instant::now() + VISIBLE_DEADLINE;
    while Instant::now() < deadline {
        if log.high_watermark() > last_offset {
            return true;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    log.high_watermark() > last_offset
}

/// Checks that the frames at offsets `0..` are exactly `tags`, in order.
fn assert_reads(log: &PartitionLog, tags: &[u8]) {
    let read = log.read_blocking(0, usize::MAX).unwrap();
    let got: Vec<u8> = read.frames.iter().map(|f| f.payload[0]).collect();
    assert_eq!(got, tags);
    for f in &read.frames {
        let tag = f.payload[0];
        assert_eq!(&f.payload[..], &vec![tag; 100 + usize::from(tag)][..]);
    }
}

#[test]
fn unwaited_append_under_always_is_synced_without_a_runtime() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    let a = log.append_blocking(batch(1, 3), |_| {}).unwrap();
    assert!(
        wait_visible(&log, a.last_offset),
        "an append nobody waits on never became durable: hw {} durable {}",
        log.high_watermark(),
        log.stats().durable_offset
    );
    assert!(log.stats().durable_offset > a.last_offset);
    assert_reads(&log, &[1]);
    // A second unwaited append, after the first round has finished, gets its own round.
    let b = log.append_blocking(batch(2, 1), |_| {}).unwrap();
    assert!(wait_visible(&log, b.last_offset), "second unwaited append");
    assert_reads(&log, &[1, 2]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unwaited_append_under_always_is_synced_inside_a_runtime() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    let appender = Arc::clone(&log);
    let a = tokio::spawn(async move { appender.append(batch(3, 2), |_| {}).await.unwrap() })
        .await
        .unwrap();
    let visible = log.wait_for_data(a.last_offset, VISIBLE_DEADLINE).await;
    assert!(visible, "an append nobody waits on never became visible");
    assert_reads(&log, &[3]);
}

#[test]
fn unwaited_appends_racing_a_round_are_all_synced() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    let mut last = 0;
    for tag in 0..50u8 {
        last = log
            .append_blocking(batch(tag, 1), |_| {})
            .unwrap()
            .last_offset;
    }
    assert!(wait_visible(&log, last), "the last of 50 unwaited appends");
    assert_reads(&log, &(0..50u8).collect::<Vec<_>>());
}
