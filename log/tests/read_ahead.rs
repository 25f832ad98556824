//! Reads that go to the files keep what they read past their budget for the reads that follow
//! (`read_ahead.rs`): those must get exactly what the files give, and never frames from before
//! a purge.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::Arc;

use whippet_log::{AppendBatch, BatchFormat, FsyncPolicy, LogConfig, PartitionLog, TopicSettings};

fn open(dir: &Path) -> Arc<PartitionLog> {
    let mut config = LogConfig::new(dir);
    config.fsync = FsyncPolicy::Never;
    let settings = TopicSettings {
        segment_bytes: 1024 * 1024,
        ..TopicSettings::default()
    };
    PartitionLog::open(dir.to_path_buf(), 0, settings, &config)
        .unwrap()
        .0
}

fn batch(tag: u8, i: u32) -> AppendBatch {
    let len = 1000 + (i as usize * 7919) % 30_000;
    let mut payload = vec![tag; len];
    payload[1..5].copy_from_slice(&i.to_le_bytes());
    AppendBatch {
        format: BatchFormat::Native,
        payload: payload.into(),
        record_count: 1 + i % 4,
        last_offset_delta: i % 4,
        first_timestamp_us: 1,
        max_timestamp_us: 1,
    }
}

fn fill(log: &PartitionLog, tag: u8, n: u32) {
    for i in 0..n {
        log.append_blocking(batch(tag, i), |_| {}).unwrap();
    }
}

fn frames(read: &whippet_log::ReadResult) -> Vec<(u64, Vec<u8>)> {
    read.frames
        .iter()
        .map(|f| (f.header.base_offset, f.payload.to_vec()))
        .collect()
}

fn reads_match_the_files(rt: &tokio::runtime::Runtime) {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    fill(&log, 1, 400);
    log.sync().unwrap();
    drop(log);
    // Reopened: the recent cache is empty, every read goes to the files or the read-ahead.
    let log = open(dir.path());
    let hw = log.high_watermark();
    let mut offset = 0;
    let mut step = 1usize;
    while offset < hw {
        let got = rt.block_on(log.read(offset, step)).unwrap();
        let want = log.read_blocking(offset, step).unwrap();
        assert_eq!(
            frames(&got),
            frames(&want),
            "read of {step} bytes at {offset}"
        );
        offset = got.frames.last().unwrap().header.next_offset();
        step = (step * 3 + 1) % 200_000;
    }
    // Reads into the middle of a frame, and back to earlier offsets.
    for from in [hw - 1, 5, 0, hw / 2 + 1, 3] {
        let got = rt.block_on(log.read(from, 50_000)).unwrap();
        let want = log.read_blocking(from, 50_000).unwrap();
        assert_eq!(frames(&got), frames(&want), "read at {from}");
    }
    // After a purge the same offsets hold other data; nothing read before may be served.
    let before = rt.block_on(log.read(0, 10)).unwrap();
    log.purge().unwrap();
    fill(&log, 2, 50);
    let after = rt.block_on(log.read(0, 10)).unwrap();
    assert_ne!(frames(&before), frames(&after));
    assert_eq!(
        after.frames[0].payload[0], 2,
        "a frame from before the purge"
    );
    let mut offset = 0;
    while offset < log.high_watermark() {
        let got = rt.block_on(log.read(offset, 4096)).unwrap();
        assert!(got.frames.iter().all(|f| f.payload[0] == 2));
        offset = got.frames.last().unwrap().header.next_offset();
    }
}

#[test]
fn reads_from_the_read_ahead_match_the_files_current_thread() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    reads_match_the_files(&rt);
}

#[test]
fn reads_from_the_read_ahead_match_the_files_multi_thread() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    reads_match_the_files(&rt);
}
