#![allow(clippy::unwrap_used)]

use std::path::Path;

use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};
use whippet_log::{AppendBatch, FsyncPolicy, LogConfig, PartitionLog, TopicSettings};
use whippet_wire::kafka::batch::set_base_offset;
use whippet_wire::native::batch::{encode_batch, stamp_batch};
use whippet_wire::native::commands::messages::PollReply;
use whippet_wire::native::message::NewMessage;

use super::*;

/// A core to call the read operations through (its own log is empty: these tests read the
/// partition they are given).
fn with_core<T>(f: impl FnOnce((&Core, &RequestContext)) -> T) -> T {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = whippet_log::Log::open(LogConfig::new(dir.path())).unwrap();
    let core = Core::with_empty_groups(log, "kafka".into(), &crate::core::test_root()).unwrap();
    f((&core, &RequestContext::internal()))
}

fn gather_at(log: &PartitionLog, start: u64, count: u32, hw: u64) -> Result<Gathered, Status> {
    with_core(|at| gather(at, (log, &CommittedView::default()), (start, count), hw))
}

fn timestamp_start_at(log: &PartitionLog, ts: u64) -> Result<Option<u64>, Status> {
    with_core(|at| timestamp_start(at, log, ts))
}

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
        payload: batch.to_vec().into(),
        record_count: count,
        last_offset_delta: count - 1,
        first_timestamp_us: 0,
        max_timestamp_us: 0,
    };
    log.append_blocking(append, |patch| {
        stamp_batch(patch.payload, 0, patch.base_offset, 5).unwrap();
    })
    .unwrap();
}

/// Appends one Kafka v2 batch of `count` records (value `k<i>`, key `key<i>`, one header) the
/// way produce does: encoded by an independent encoder, base offset stamped by the log.
fn append_kafka(log: &PartitionLog, count: u32, codec: Compression) {
    let records: Vec<Record> = (0..count)
        .map(|i| Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: TimestampType::Creation,
            offset: i64::from(i),
            // The encoder starts a new batch when sequences do not follow on.
            sequence: i32::try_from(i).unwrap(),
            timestamp: 1_700_000_000_000 + i64::from(i),
            key: Some(Bytes::from(format!("key{i}"))),
            value: Some(Bytes::from(format!("k{i}"))),
            headers: [(
                StrBytes::from_static_str("h"),
                Some(Bytes::from_static(b"hv")),
            )]
            .into_iter()
            .collect(),
        })
        .collect();
    let mut buf = BytesMut::new();
    let options = RecordEncodeOptions {
        version: 2,
        compression: codec,
    };
    RecordBatchEncoder::encode(&mut buf, &records, &options).unwrap();
    let append = AppendBatch {
        format: BatchFormat::Kafka,
        payload: buf.to_vec().into(),
        record_count: count,
        last_offset_delta: count - 1,
        first_timestamp_us: 0,
        max_timestamp_us: 0,
    };
    log.append_blocking(append, |patch| {
        let base = i64::try_from(patch.base_offset).unwrap();
        set_base_offset(patch.payload, base).unwrap();
    })
    .unwrap();
}

/// Every message of a gathered reply as (offset, payload).
fn messages_of(gathered: Gathered) -> Vec<(u64, Vec<u8>)> {
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
                .map(|m| {
                    let m = m.unwrap();
                    (m.offset, m.frame.payload.to_vec())
                })
                .collect::<Vec<_>>()
        })
        .collect()
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
    let gathered = gather_at(&log, 2, 7, hw).unwrap();
    assert_eq!(gathered.messages, 7);
    assert_eq!(gathered.last_offset, Some(8));
    // The middle batch is the stored payload itself (no copy): same bytes as a log read.
    let stored = log.read_blocking(4, 1).unwrap().frames[0].payload.clone();
    assert_eq!(gathered.records[1], stored);
    assert_eq!(offsets_of(gathered), vec![2, 3, 4, 5, 6, 7, 8]);
    // Capped at the high watermark; past it is empty.
    assert_eq!(
        offsets_of(gather_at(&log, 10, 100, hw).unwrap()),
        vec![10, 11]
    );
    assert_eq!(gather_at(&log, 12, 5, hw).unwrap().messages, 0);
}

#[test]
fn kafka_frames_are_transcoded_and_sliced() {
    for codec in [Compression::None, Compression::Lz4, Compression::Zstd] {
        let dir = tempfile::tempdir().unwrap();
        let log = open(dir.path());
        append_native(&log, 2); // 0..=1
        append_kafka(&log, 3, codec); // 2..=4
        append_native(&log, 2); // 5..=6
        let hw = log.high_watermark();
        let all = messages_of(gather_at(&log, 0, 10, hw).unwrap());
        let offsets: Vec<u64> = all.iter().map(|(o, _)| *o).collect();
        assert_eq!(offsets, vec![0, 1, 2, 3, 4, 5, 6], "{codec:?}");
        assert_eq!(all[2].1, b"k0");
        assert_eq!(all[4].1, b"k2");
        // A range inside the Kafka batch is sliced like a native one.
        let mid = messages_of(gather_at(&log, 3, 1, hw).unwrap());
        assert_eq!(mid, vec![(3, b"k1".to_vec())]);
        let gathered = gather_at(&log, 3, 3, hw).unwrap();
        assert_eq!((gathered.messages, gathered.last_offset), (3, Some(5)));
    }
}

#[test]
fn a_kafka_frame_that_does_not_transcode_ends_the_reply() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    append_native(&log, 2); // 0..=1
    // Not a record batch: the log stores it (its frame checksum is fine), transcoding fails.
    let append = AppendBatch {
        format: BatchFormat::Kafka,
        payload: vec![0u8; 61].into(),
        record_count: 3,
        last_offset_delta: 2,
        first_timestamp_us: 0,
        max_timestamp_us: 0,
    };
    log.append_blocking(append, |_| {}).unwrap();
    let hw = log.high_watermark();
    assert_eq!(offsets_of(gather_at(&log, 0, 10, hw).unwrap()), vec![0, 1]);
    assert_eq!(gather_at(&log, 2, 10, hw).unwrap_err(), Status::Error);
}

#[test]
fn timestamp_finds_the_first_batch_stamped_at_or_after() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    assert_eq!(timestamp_start_at(&log, 0).unwrap(), None);
    append_native(&log, 3);
    let found = timestamp_start_at(&log, 0).unwrap();
    assert_eq!(found, Some(0));
    assert_eq!(timestamp_start_at(&log, u64::MAX).unwrap(), None);
}
