//! The catalog on the metadata log: changes replay to the catalog the log published, an old
//! `catalog.json` is migrated and removed, and stream data without any catalog is refused.
#![allow(clippy::unwrap_used)]

use std::path::Path;

use whippet_log::{Compression, FsyncPolicy, LogConfig, LogError, TimestampSource, TopicSettings};

use super::catalog::{CatalogChange, diff, open_log};

fn config(dir: &Path) -> LogConfig {
    let mut config = LogConfig::new(dir);
    config.fsync = FsyncPolicy::Never;
    config
}

fn catalog_of(dir: &Path) -> whippet_log::CatalogFile {
    let (log, _, meta) = open_log(config(dir)).unwrap();
    let catalog = meta.load().catalog.as_deref().cloned().unwrap();
    log.shutdown().unwrap();
    catalog
}

#[test]
fn every_catalog_change_survives_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _, meta) = open_log(config(dir.path())).unwrap();
    assert!(
        !dir.path().join("catalog.json").exists(),
        "no file: the log holds it"
    );
    log.create_stream("s").unwrap();
    log.create_stream("gone").unwrap();
    log.create_topic(0, "t", 2, TopicSettings::default())
        .unwrap();
    log.create_topic(0, "u", 1, TopicSettings::default())
        .unwrap();
    log.rename_stream(0, "renamed").unwrap();
    let settings = TopicSettings {
        retention_ms: Some(60_000),
        ..TopicSettings::default()
    };
    log.update_topic(0, 1, Some("u2"), settings).unwrap();
    log.create_partitions(0, 0, 3).unwrap();
    log.delete_topic(0, 0).unwrap();
    log.delete_stream(1).unwrap();
    let published = log.snapshot();
    let stored = meta.load().catalog.as_deref().cloned().unwrap();
    log.shutdown().unwrap();
    drop((log, meta));

    let reopened = catalog_of(dir.path());
    assert_eq!(reopened, stored);
    assert_eq!(reopened.streams.len(), 1);
    let stream = &reopened.streams[0];
    assert_eq!(stream.name, "renamed");
    assert_eq!(stream.topics.len(), 1);
    assert_eq!(stream.topics[0].name, "u2");
    assert_eq!(stream.topics[0].settings.retention_ms, Some(60_000));
    let topic = published.topic(0, 1).unwrap();
    assert_eq!(topic.name, "u2");
}

#[test]
fn a_change_logs_only_what_it_touched() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _, meta) = open_log(config(dir.path())).unwrap();
    log.create_stream("s").unwrap();
    log.create_topic(0, "t", 1, TopicSettings::default())
        .unwrap();
    let before = meta.load().catalog.as_deref().cloned().unwrap();
    log.create_topic(0, "u", 1, TopicSettings::default())
        .unwrap();
    let after = meta.load().catalog.as_deref().cloned().unwrap();
    let changes = diff(Some(&before), &after);
    assert!(
        matches!(&changes[..], [CatalogChange::PutTopic { stream_id: 0, topic }] if topic.name == "u"),
        "{changes:?}"
    );
    log.shutdown().unwrap();
}

/// A `catalog.json` exactly as the log wrote it before the metadata log.
const OLD_CATALOG: &str = r#"{
  "format_version": 1,
  "streams": [
    {
      "id": 0,
      "name": "orders",
      "created_at_us": 1700000000000000,
      "topics": [
        {
          "id": 0,
          "name": "eu",
          "created_at_us": 1700000000000001,
          "partition_count": 2,
          "settings": {
            "retention_ms": 86400000,
            "retention_bytes": null,
            "segment_bytes": 1073741824,
            "segment_ms": null,
            "max_message_bytes": 1048588,
            "compression": "gzip",
            "timestamp_type": "log_append_time",
            "replication_factor": 1,
            "extra_configs": {"flush.ms": "1000"}
          }
        }
      ]
    }
  ]
}"#;

#[test]
fn the_catalog_file_of_an_older_data_dir_is_migrated_then_removed() {
    let dir = tempfile::tempdir().unwrap();
    let old = dir.path().join("catalog.json");
    std::fs::write(&old, OLD_CATALOG).unwrap();
    let (log, _, _meta) = open_log(config(dir.path())).unwrap();
    assert!(
        !old.exists(),
        "the old file goes once the catalog is durable"
    );
    let topic = log.snapshot().topic(0, 0).cloned().unwrap();
    assert_eq!(topic.name, "eu");
    assert_eq!(topic.partition_count(), 2);
    assert_eq!(topic.settings.retention_ms, Some(86_400_000));
    assert_eq!(topic.settings.extra_configs["flush.ms"], "1000");
    // The old Kafka-named settings load as the neutral types the log stores.
    assert_eq!(topic.settings.timestamp_type, TimestampSource::Broker);
    assert_eq!(topic.settings.compression, Compression::Gzip);
    assert_eq!(log.snapshot().stream(0).unwrap().name, "orders");
    log.shutdown().unwrap();
    drop(log);
    let reopened = catalog_of(dir.path());
    assert_eq!(reopened.streams[0].topics[0].name, "eu");
    assert_eq!(reopened.streams[0].topics[0].partition_count, 2);
}

#[test]
fn stream_data_without_any_catalog_is_refused_and_nothing_is_created() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _, meta) = open_log(config(dir.path())).unwrap();
    log.create_stream("s").unwrap();
    log.create_topic(0, "t", 1, TopicSettings::default())
        .unwrap();
    log.shutdown().unwrap();
    drop((log, meta));
    let meta_dir = dir.path().join("state/meta");
    let aside = dir.path().join("meta.aside");
    std::fs::rename(&meta_dir, &aside).unwrap();
    let Err(error) = open_log(config(dir.path())) else {
        panic!("opened without its catalog");
    };
    assert!(matches!(error, LogError::MissingCatalog { .. }), "{error}");
    assert!(error.to_string().contains("state/meta"), "{error}");
    assert!(!meta_dir.exists(), "no new, empty metadata log was created");
    std::fs::rename(&aside, &meta_dir).unwrap();
    assert_eq!(catalog_of(dir.path()).streams[0].topics[0].name, "t");
}

#[test]
fn a_delete_records_start_is_kept_on_the_metadata_log() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _, meta) = open_log(config(dir.path())).unwrap();
    log.create_stream("s").unwrap();
    log.create_topic(0, "t", 1, TopicSettings::default())
        .unwrap();
    let partition = log.partition(0, 0, 0).unwrap();
    for _ in 0..3 {
        let batch = whippet_log::AppendBatch {
            format: whippet_log::BatchFormat::Kafka,
            payload: vec![1u8; 16].into(),
            record_count: 1,
            last_offset_delta: 0,
            first_timestamp_us: 1,
            max_timestamp_us: 1,
        };
        partition.append_durable_blocking(batch, |_| {}).unwrap();
    }
    assert_eq!(log.delete_records(0, 0, 0, 2).unwrap(), 2);
    let stored = meta.load().catalog.as_deref().cloned().unwrap();
    assert_eq!(stored.streams[0].topics[0].log_starts, vec![2]);
    let file = dir
        .path()
        .join("streams/0/topics/0/partitions/0/log_start.offset");
    assert!(!file.exists());
    log.shutdown().unwrap();
    drop((partition, log, meta));
    let (log, _, _meta) = open_log(config(dir.path())).unwrap();
    assert_eq!(log.partition(0, 0, 0).unwrap().log_start_offset(), 2);
    log.shutdown().unwrap();
}
