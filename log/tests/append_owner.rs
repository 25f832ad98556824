//! The append owner: appends queued at once keep their order and are written in groups (across
//! segment rolls), and a writer job that panics does not wedge the partition.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::Arc;

use whippet_log::{
    AppendBatch, Appending, BatchFormat, FsyncPolicy, LogConfig, PartitionLog, TopicSettings,
};

fn open(dir: &Path, fsync: FsyncPolicy) -> Arc<PartitionLog> {
    let mut config = LogConfig::new(dir);
    config.fsync = fsync;
    config.index_interval_bytes = 300;
    let settings = TopicSettings {
        segment_bytes: 64 * 1024,
        ..TopicSettings::default()
    };
    PartitionLog::open(dir.to_path_buf(), 0, settings, &config)
        .unwrap()
        .0
}

fn batch(i: u32) -> AppendBatch {
    let len = 100 + (i as usize * 37) % 3000;
    let mut payload = vec![u8::try_from(i % 251).unwrap(); len];
    payload[..4].copy_from_slice(&i.to_le_bytes());
    AppendBatch {
        format: BatchFormat::Native,
        payload: payload.into(),
        record_count: 1 + i % 3,
        last_offset_delta: i % 3,
        first_timestamp_us: i64::from(i),
        max_timestamp_us: i64::from(i),
    }
}

fn queued_appends_keep_their_order_and_survive_reopen(fsync: FsyncPolicy) {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), fsync);
    let n = 600;
    // Queue everything before waiting for anything: the owner writes them in groups.
    let queued: Vec<Appending> = (0..n).map(|i| log.append(batch(i), |_| {})).collect();
    let mut next = 0;
    for (i, appending) in (0..n).zip(queued) {
        let appended = appending.wait().unwrap();
        assert_eq!(appended.base_offset, next, "append {i} out of order");
        next = appended.last_offset + 1;
    }
    log.sync().unwrap();
    let segments = std::fs::read_dir(dir.path())
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().extension() == Some("log".as_ref()))
        .count();
    assert!(segments > 3, "the groups rolled segments ({segments})");
    drop(log);
    let log = open(dir.path(), fsync);
    assert_eq!(log.high_watermark(), next);
    let mut offset = 0;
    let mut i = 0;
    while offset < next {
        for frame in log.read_blocking(offset, 1 << 20).unwrap().frames {
            assert_eq!(frame.header.base_offset, offset);
            assert_eq!(&frame.payload[..], &batch(i).payload[..], "bytes of {i}");
            offset = frame.header.next_offset();
            i += 1;
        }
    }
    assert_eq!(i, n);
    // The index written with the groups finds every batch by offset after reopen.
    for probe in [1, next / 3, next / 2, next - 1] {
        let read = log.read_blocking(probe, 1).unwrap();
        let first = &read.frames[0].header;
        assert!(first.base_offset <= probe && probe < first.next_offset());
    }
}

#[test]
fn queued_appends_keep_their_order_and_survive_reopen_fsync_never() {
    queued_appends_keep_their_order_and_survive_reopen(FsyncPolicy::Never);
}

#[test]
fn queued_appends_keep_their_order_and_survive_reopen_fsync_always() {
    queued_appends_keep_their_order_and_survive_reopen(FsyncPolicy::Always);
}

#[test]
fn a_panicking_patch_fails_its_append_and_the_partition_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), FsyncPolicy::Always);
    log.append_durable_blocking(batch(0), |_| {}).unwrap();
    let failed = log.append_blocking(batch(1), |_| panic!("patch callback panics"));
    assert!(failed.is_err(), "the panicking append reported success");
    // Bounded: a writer job that died with the queue claimed would leave this waiting forever.
    let (tx, rx) = std::sync::mpsc::channel();
    let appender = Arc::clone(&log);
    std::thread::spawn(move || tx.send(appender.append_durable_blocking(batch(2), |_| {})));
    let appended = rx
        .recv_timeout(std::time::Duration::from_secs(20))
        .expect("the partition is wedged after a panicking append")
        .unwrap();
    assert_eq!(appended.base_offset, 1, "the failed append took no offset");
    let read = log.read_blocking(0, 1 << 20).unwrap();
    let ids: Vec<u8> = read.frames.iter().map(|f| f.payload[0]).collect();
    assert_eq!(ids, vec![0, 2]);
}

#[test]
fn appends_to_a_removed_partition_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path().join("p").as_path(), FsyncPolicy::Never);
    log.append_blocking(batch(0), |_| {}).unwrap();
    log.remove().unwrap();
    let refused = log.append_blocking(batch(1), |_| {});
    assert!(matches!(
        refused,
        Err(whippet_log::LogError::PartitionDeleted)
    ));
}
