//! Data the catalog does not list is never deleted: a data directory whose `catalog.json` is
//! missing is refused, not opened empty, and orphan directories found at open are kept however
//! the log is used afterwards (creates skip or refuse their ids).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use whippet_log::{
    AppendBatch, BatchFormat, FindingKind, FsyncPolicy, Log, LogConfig, LogError, TopicSettings,
};

fn config(dir: &Path) -> LogConfig {
    let mut config = LogConfig::new(dir);
    config.fsync = FsyncPolicy::Never;
    config
}

fn open(dir: &Path) -> Arc<Log> {
    Log::open(config(dir)).unwrap().0
}

fn batch(bytes: &[u8]) -> AppendBatch {
    AppendBatch {
        format: BatchFormat::Kafka,
        payload: bytes.to_vec().into(),
        record_count: 1,
        last_offset_delta: 0,
        first_timestamp_us: 1,
        max_timestamp_us: 1,
    }
}

/// Stream 0 "s" with topic 0 "t" (one partition holding one frame) and topic 1 "u" (two empty
/// partitions); returns the path of the first segment of `t`.
fn populate(dir: &Path) -> PathBuf {
    let log = open(dir);
    log.create_stream("s").unwrap();
    log.create_topic(0, "t", 1, TopicSettings::default())
        .unwrap();
    log.create_topic(0, "u", 2, TopicSettings::default())
        .unwrap();
    log.partition(0, 0, 0)
        .unwrap()
        .append_durable_blocking(batch(b"precious"), |_| {})
        .unwrap();
    log.shutdown().unwrap();
    dir.join("streams/0/topics/0/partitions/0/00000000000000000000.log")
}

fn catalog_path(dir: &Path) -> PathBuf {
    dir.join("catalog.json")
}

#[test]
fn missing_catalog_with_stream_data_refuses_to_open_and_touches_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let segment = populate(dir.path());
    let segment_bytes = fs::read(&segment).unwrap();
    let saved = dir.path().join("catalog.saved");
    fs::rename(catalog_path(dir.path()), &saved).unwrap();
    fs::write(dir.path().join("catalog.json.tmp"), b"half-written").unwrap();

    match Log::open(config(dir.path())) {
        Err(LogError::MissingCatalog { path, streams_dir }) => {
            assert_eq!(path, catalog_path(dir.path()));
            assert_eq!(streams_dir, dir.path().join("streams"));
        }
        other => panic!("expected MissingCatalog, got {other:?}"),
    }
    let message = LogError::MissingCatalog {
        path: catalog_path(dir.path()),
        streams_dir: dir.path().join("streams"),
    }
    .to_string();
    assert!(message.contains("catalog.json") && message.contains("put the catalog back"));
    assert!(
        !catalog_path(dir.path()).exists(),
        "no empty catalog written"
    );
    assert!(
        dir.path().join("catalog.json.tmp").exists(),
        "temp file kept"
    );
    assert_eq!(fs::read(&segment).unwrap(), segment_bytes, "data untouched");
    assert!(dir.path().join("streams/0/topics/1/partitions/1").is_dir());

    // With the catalog back, everything is there again.
    fs::rename(&saved, catalog_path(dir.path())).unwrap();
    let log = open(dir.path());
    let read = log
        .partition(0, 0, 0)
        .unwrap()
        .read_blocking(0, 1 << 20)
        .unwrap();
    assert_eq!(&read.frames[0].payload[..], b"precious");
    assert_eq!(log.snapshot().topic(0, 1).unwrap().partition_count(), 2);
}

#[test]
fn fresh_data_dir_without_catalog_opens() {
    let dir = tempfile::tempdir().unwrap();
    open(dir.path());
    assert!(catalog_path(dir.path()).is_file());

    // An empty `streams/` holds no data: still a fresh start.
    let other = tempfile::tempdir().unwrap();
    fs::create_dir_all(other.path().join("streams")).unwrap();
    let log = open(other.path());
    assert_eq!(log.create_stream("s").unwrap().id, 0);
}

/// Rewrites the catalog through its JSON: drops topic `drop_topic` of stream 0 and sets the
/// partition count of topic 1.
fn edit_catalog(dir: &Path, drop_topic: u64, partitions_of_topic_1: u64) {
    let text = fs::read_to_string(catalog_path(dir)).unwrap();
    let mut value: serde_json::Value = serde_json::from_str(&text).unwrap();
    let topics = value["streams"][0]["topics"].as_array_mut().unwrap();
    topics.retain(|topic| topic["id"] != drop_topic);
    for topic in topics.iter_mut().filter(|topic| topic["id"] == 1) {
        topic["partition_count"] = partitions_of_topic_1.into();
    }
    fs::write(catalog_path(dir), serde_json::to_vec(&value).unwrap()).unwrap();
}

#[test]
fn orphans_found_at_open_are_kept_by_later_creates() {
    let dir = tempfile::tempdir().unwrap();
    let segment = populate(dir.path());
    let segment_bytes = fs::read(&segment).unwrap();
    // The catalog lost topic 0 and the second partition of topic 1.
    edit_catalog(dir.path(), 0, 1);
    let (log, report) = Log::open(config(dir.path())).unwrap();
    let orphan_topic = dir.path().join("streams/0/topics/0");
    let orphan_partition = dir.path().join("streams/0/topics/1/partitions/1");
    for orphan in [&orphan_topic, &orphan_partition] {
        assert!(
            report
                .findings
                .iter()
                .any(|f| &f.path == orphan && f.kind == FindingKind::OrphanDirectory),
            "{orphan:?} not reported: {:?}",
            report.findings
        );
    }

    // A new topic skips the orphan's id instead of removing it.
    let topic = log
        .create_topic(0, "v", 1, TopicSettings::default())
        .unwrap();
    assert_eq!(topic.id, 2);
    assert_eq!(fs::read(&segment).unwrap(), segment_bytes);

    // A partition id cannot be skipped: the create is refused and the data kept.
    match log.create_partitions(0, 1, 1) {
        Err(LogError::UnlistedData { path }) => assert_eq!(path, orphan_partition),
        other => panic!("expected UnlistedData, got {other:?}"),
    }
    assert!(orphan_partition.is_dir());
    assert_eq!(log.snapshot().topic(0, 1).unwrap().partition_count(), 1);
    drop(log);

    // A stream orphan (the catalog lost every stream) is kept the same way.
    fs::write(
        catalog_path(dir.path()),
        br#"{"format_version":1,"streams":[]}"#,
    )
    .unwrap();
    let log = open(dir.path());
    assert_eq!(log.create_stream("kafka").unwrap().id, 1);
    assert_eq!(fs::read(&segment).unwrap(), segment_bytes);
}
