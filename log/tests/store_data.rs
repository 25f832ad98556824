//! [`Log`] with data in its partitions: what reopen, purge, delete, settings updates and the
//! maintenance thread do to appended frames.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use whippet_log::{
    AppendBatch, BatchFormat, FsyncPolicy, Log, LogConfig, LogError, PartitionLog, TopicSettings,
};

fn config(dir: &Path) -> LogConfig {
    let mut config = LogConfig::new(dir);
    config.fsync = FsyncPolicy::Never;
    config
}

/// One single-record frame with this payload and timestamp.
fn batch(payload: Vec<u8>, timestamp_us: i64) -> AppendBatch {
    AppendBatch {
        format: BatchFormat::Native,
        payload: payload.into(),
        record_count: 1,
        last_offset_delta: 0,
        first_timestamp_us: timestamp_us,
        max_timestamp_us: timestamp_us,
    }
}

fn append(partition: &PartitionLog, payload: &[u8]) -> u64 {
    partition
        .append_blocking(batch(payload.to_vec(), 1_700_000_000_000_000), |_| {})
        .unwrap()
        .base_offset
}

fn payloads(partition: &PartitionLog) -> Vec<Vec<u8>> {
    let read = partition
        .read_blocking(partition.log_start_offset(), 1 << 20)
        .unwrap();
    read.frames
        .iter()
        .map(|frame| frame.payload.to_vec())
        .collect()
}

#[test]
fn data_is_found_again_after_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (log, _) = Log::open(config(dir.path())).unwrap();
        log.create_stream("s").unwrap();
        log.create_stream("s2").unwrap();
        log.create_topic(1, "t", 2, TopicSettings::default())
            .unwrap();
        append(&log.partition(1, 0, 0).unwrap(), b"zero");
        append(&log.partition(1, 0, 1).unwrap(), b"one");
        append(&log.partition(1, 0, 1).unwrap(), b"two");
        log.shutdown().unwrap();
    }
    let (log, report) = Log::open(config(dir.path())).unwrap();
    assert!(report.findings.is_empty(), "{:?}", report.findings);
    assert_eq!(
        payloads(&log.partition(1, 0, 0).unwrap()),
        vec![b"zero".to_vec()]
    );
    assert_eq!(
        payloads(&log.partition(1, 0, 1).unwrap()),
        vec![b"one".to_vec(), b"two".to_vec()]
    );
    assert_eq!(log.partition(1, 0, 1).unwrap().next_offset(), 2);
}

#[test]
fn purge_empties_partitions_and_restarts_offsets() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = Log::open(config(dir.path())).unwrap();
    log.create_stream("s").unwrap();
    log.create_topic(0, "a", 2, TopicSettings::default())
        .unwrap();
    log.create_topic(0, "b", 1, TopicSettings::default())
        .unwrap();
    for (topic, partition) in [(0, 0), (0, 1), (1, 0)] {
        let partition = log.partition(0, topic, partition).unwrap();
        append(&partition, b"x");
        append(&partition, b"y");
    }
    log.purge_topic(0, 0).unwrap();
    assert_eq!(log.partition(0, 0, 1).unwrap().next_offset(), 0);
    assert_eq!(
        log.partition(0, 1, 0).unwrap().next_offset(),
        2,
        "other topic untouched"
    );
    assert_eq!(append(&log.partition(0, 0, 1).unwrap(), b"again"), 0);

    log.purge_stream(0).unwrap();
    for (topic, partition) in [(0, 0), (0, 1), (1, 0)] {
        let partition = log.partition(0, topic, partition).unwrap();
        assert_eq!(partition.next_offset(), 0);
        assert!(payloads(&partition).is_empty());
    }
}

#[test]
fn deleted_partitions_refuse_appends_through_old_handles() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = Log::open(config(dir.path())).unwrap();
    log.create_stream("s").unwrap();
    log.create_topic(0, "t", 3, TopicSettings::default())
        .unwrap();
    let kept = log.partition(0, 0, 0).unwrap();
    let trimmed = log.partition(0, 0, 2).unwrap();
    log.delete_partitions(0, 0, 1).unwrap();
    let refused = trimmed.append_blocking(batch(b"late".to_vec(), 0), |_| {});
    assert!(
        matches!(refused, Err(LogError::PartitionDeleted)),
        "{refused:?}"
    );
    append(&kept, b"still fine");
    log.delete_topic(0, 0).unwrap();
    let refused = kept.append_blocking(batch(b"late".to_vec(), 0), |_| {});
    assert!(
        matches!(refused, Err(LogError::PartitionDeleted)),
        "{refused:?}"
    );
}

#[test]
fn update_topic_pushes_settings_to_partitions() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = Log::open(config(dir.path())).unwrap();
    log.create_stream("s").unwrap();
    log.create_topic(0, "t", 1, TopicSettings::default())
        .unwrap();
    let partition = log.partition(0, 0, 0).unwrap();
    append(&partition, &[7; 500]);
    let small = TopicSettings {
        max_message_bytes: 100,
        ..TopicSettings::default()
    };
    log.update_topic(0, 0, None, small).unwrap();
    let refused = partition.append_blocking(batch(vec![7; 500], 0), |_| {});
    assert!(
        matches!(refused, Err(LogError::BatchTooLarge { .. })),
        "{refused:?}"
    );
}

#[test]
fn maintenance_thread_enforces_retention() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path());
    config.maintenance_interval = Duration::from_millis(10);
    let (log, _) = Log::open(config).unwrap();
    log.create_stream("s").unwrap();
    let settings = TopicSettings {
        segment_bytes: whippet_log::limits::SEGMENT_BYTES_MIN,
        retention_ms: Some(1000),
        ..TopicSettings::default()
    };
    log.create_topic(0, "t", 1, settings).unwrap();
    let partition: Arc<PartitionLog> = log.partition(0, 0, 0).unwrap();
    // Records stamped in 1970: far older than the retention time.
    for _ in 0..8 {
        partition
            .append_blocking(batch(vec![1; 20_000], 1_000_000), |_| {})
            .unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while partition.log_start_offset() == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        partition.log_start_offset() > 0,
        "old segments were removed: {:?}",
        partition.stats()
    );
    assert_eq!(partition.next_offset(), 8);
    log.shutdown().unwrap();
}
