#![allow(clippy::unwrap_used)]

use std::path::Path;

use whippet_log::{AppendBatch, FsyncPolicy, LogConfig, PartitionLog, TopicSettings};
use whippet_wire::native::batch::{encode_batch, stamp_batch};
use whippet_wire::native::commands::messages::PollReply;
use whippet_wire::native::message::NewMessage;

use super::*;

const BOUNDS: Bounds = Bounds {
    log_start: 10,
    high_watermark: 100,
};

#[test]
fn strategies_resolve_to_start_offsets() {
    let at = |strategy, count, stored| plan_start(strategy, count, BOUNDS, stored);
    assert_eq!(at(PollingStrategy::Offset(42), 5, None), Start::At(42));
    // Below the log start (retention, purge): from the first readable offset.
    assert_eq!(at(PollingStrategy::Offset(3), 5, None), Start::At(10));
    assert_eq!(at(PollingStrategy::Offset(500), 5, None), Start::At(500));
    assert_eq!(at(PollingStrategy::First, 5, None), Start::At(10));
    assert_eq!(at(PollingStrategy::Last, 5, None), Start::At(95));
    assert_eq!(at(PollingStrategy::Last, 500, None), Start::At(10));
    assert_eq!(at(PollingStrategy::Next, 5, None), Start::At(10));
    assert_eq!(at(PollingStrategy::Next, 5, Some(41)), Start::At(42));
    assert_eq!(
        at(PollingStrategy::Next, 5, Some(u64::MAX)),
        Start::At(u64::MAX)
    );
    assert_eq!(
        at(PollingStrategy::Timestamp(7), 5, None),
        Start::Timestamp(7)
    );
    assert_eq!(current_offset(100), 99);
    assert_eq!(current_offset(0), 0);
}

fn open(dir: &Path) -> Arc<PartitionLog> {
    let config = LogConfig {
        fsync: FsyncPolicy::Never,
        ..LogConfig::new(dir)
    };
    let settings = TopicSettings {
        max_message_bytes: 64 * 1024 * 1024,
        ..TopicSettings::default()
    };
    PartitionLog::open(dir.join("p0"), 0, settings, &config)
        .unwrap()
        .0
}

/// Appends one native batch of `count` messages the way send does.
fn append_native(log: &PartitionLog, count: u32) {
    let payloads: Vec<Vec<u8>> = (0..count)
        .map(|i| vec![b'a' + (i % 26) as u8; 10])
        .collect();
    let messages: Vec<NewMessage<'_>> = payloads
        .iter()
        .enumerate()
        .map(|(i, payload)| NewMessage {
            id: i as u128 + 1,
            offset_delta: i as u32,
            timestamp_delta: 0,
            payload,
            user_headers: &[],
        })
        .collect();
    let batch = encode_batch(1, &messages);
    let append = AppendBatch {
        format: BatchFormat::Native,
        payload: batch.to_vec(),
        record_count: count,
        last_offset_delta: count - 1,
        first_timestamp_us: 0,
        max_timestamp_us: 0,
    };
    log.append(append, |patch| {
        stamp_batch(patch.payload, 0, patch.base_offset, 5).unwrap();
    })
    .unwrap();
}

fn append_kafka(log: &PartitionLog, count: u32) {
    let append = AppendBatch {
        format: BatchFormat::Kafka,
        payload: vec![0; 61],
        record_count: count,
        last_offset_delta: count - 1,
        first_timestamp_us: 0,
        max_timestamp_us: 0,
    };
    log.append(append, |_| {}).unwrap();
}

/// The offsets of every message in a gathered reply, checked the way the SDK parses it.
fn offsets_of(gathered: Gathered) -> Vec<u64> {
    let Payload::Parts(parts) = reply(0, 0, gathered) else {
        panic!("poll replies are parts");
    };
    let body: Vec<u8> = parts.concat();
    let parsed = PollReply::parse(&body).unwrap();
    whippet_wire::native::batch::records(parsed.records)
        .flat_map(|record| {
            let record = record.unwrap();
            record
                .messages()
                .map(|m| m.unwrap().offset)
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn whole_batches_are_shared_and_straddling_ones_sliced() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    append_native(&log, 4); // 0..=3
    append_native(&log, 4); // 4..=7
    append_native(&log, 4); // 8..=11
    let hw = log.high_watermark();
    let gathered = gather(&log, 2, 7, hw).unwrap();
    assert_eq!(gathered.messages, 7);
    assert_eq!(gathered.last_offset, Some(8));
    // The middle batch is the stored payload itself (no copy): same bytes as a log read.
    let stored = log.read(4, 1).unwrap().frames[0].payload.clone();
    assert_eq!(gathered.records[1], stored);
    assert_eq!(offsets_of(gathered), vec![2, 3, 4, 5, 6, 7, 8]);
    // Capped at the high watermark; past it is empty.
    assert_eq!(offsets_of(gather(&log, 10, 100, hw).unwrap()), vec![10, 11]);
    assert_eq!(gather(&log, 12, 5, hw).unwrap().messages, 0);
}

#[test]
fn kafka_frames_are_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    append_native(&log, 2); // 0..=1
    append_kafka(&log, 3); // 2..=4
    append_native(&log, 2); // 5..=6
    let hw = log.high_watermark();
    assert_eq!(
        offsets_of(gather(&log, 0, 10, hw).unwrap()),
        vec![0, 1, 5, 6]
    );
    assert_eq!(offsets_of(gather(&log, 2, 4, hw).unwrap()), vec![5]);
    assert_eq!(gather(&log, 2, 3, hw).unwrap().messages, 0);
}

#[test]
fn timestamp_finds_the_first_batch_stamped_at_or_after() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    assert_eq!(timestamp_start(&log, 0).unwrap(), None);
    append_native(&log, 3);
    let found = timestamp_start(&log, 0).unwrap();
    assert_eq!(found, Some(0));
    assert_eq!(timestamp_start(&log, u64::MAX).unwrap(), None);
}
