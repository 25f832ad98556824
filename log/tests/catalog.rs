//! The catalog through [`Log`]: persistence across reopen, id assignment, name rules, and what
//! open does with damaged or unexpected files in the data directory.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::path::Path;
use std::sync::Arc;

use whippet_log::{
    Compression, DataDirFinding, FindingKind, FsyncPolicy, Log, LogConfig, LogError, OpenReport,
    TimestampSource, TopicSettings, limits,
};

fn config(dir: &Path) -> LogConfig {
    let mut config = LogConfig::new(dir);
    config.fsync = FsyncPolicy::Never;
    config
}

fn open(dir: &Path) -> (Arc<Log>, OpenReport) {
    Log::open(config(dir)).unwrap()
}

fn custom_settings() -> TopicSettings {
    TopicSettings {
        retention_ms: Some(60_000),
        retention_bytes: Some(10 << 20),
        segment_bytes: 1 << 20,
        segment_ms: Some(3_600_000),
        max_message_bytes: 4096,
        compression: Compression::Zstd,
        timestamp_type: TimestampSource::Broker,
        replication_factor: 3,
        remote_storage: true,
        local_retention_ms: 5_000,
        local_retention_bytes: -1,
        // Stored verbatim for the protocol layer; must survive the catalog like the rest.
        extra_configs: [("flush.ms".to_string(), "1000".to_string())].into(),
        compaction: Some(whippet_log::CompactionSettings {
            delete_too: true,
            delete_retention_ms: 1234,
            min_compaction_lag_ms: 56,
        }),
    }
}

/// A topic's persisted facts: id, name, creation time, partition count, settings.
type TopicFacts = (u32, String, i64, u32, TopicSettings);
/// A stream's persisted facts: id, name, creation time, topics.
type StreamFacts = (u32, String, i64, Vec<TopicFacts>);

/// Everything the catalog persists, in a comparable form.
fn describe(log: &Log) -> Vec<StreamFacts> {
    let snapshot = log.snapshot();
    snapshot
        .streams()
        .map(|s| {
            let topics = s
                .topics
                .values()
                .map(|t| {
                    assert_eq!(t.stream_id, s.id);
                    (
                        t.id,
                        t.name.clone(),
                        t.created_at_us,
                        t.partition_count(),
                        t.settings.clone(),
                    )
                })
                .collect();
            (s.id, s.name.clone(), s.created_at_us, topics)
        })
        .collect()
}

fn kinds_at(findings: &[DataDirFinding], path: &Path) -> Vec<FindingKind> {
    findings
        .iter()
        .filter(|f| f.path == path)
        .map(|f| f.kind)
        .collect()
}

#[test]
fn catalog_survives_reopen_identically() {
    let dir = tempfile::tempdir().unwrap();
    let before = {
        let (log, report) = open(dir.path());
        assert!(report.findings.is_empty(), "{:?}", report.findings);
        let orders = log.create_stream("orders").unwrap();
        let audit = log.create_stream("audit").unwrap();
        log.create_topic(orders.id, "created", 3, custom_settings())
            .unwrap();
        log.create_topic(orders.id, "shipped", 1, TopicSettings::default())
            .unwrap();
        log.create_topic(audit.id, "created", 0, TopicSettings::default())
            .unwrap();
        log.rename_stream(audit.id, "audit-log").unwrap();
        let description = describe(&log);
        log.shutdown().unwrap();
        description
    };
    assert_eq!(before.len(), 2);
    assert_eq!(before[0].3[0].4, custom_settings());
    assert!(
        before[0].2 > 1_600_000_000_000_000,
        "created_at_us is a real time"
    );

    let (log, report) = open(dir.path());
    assert!(report.findings.is_empty(), "{:?}", report.findings);
    assert_eq!(describe(&log), before);
    let snapshot = log.snapshot();
    let audit = snapshot.stream_by_name("audit-log").unwrap();
    assert!(snapshot.stream_by_name("audit").is_none());
    let created = snapshot.topic_by_name(0, "created").unwrap();
    assert_eq!(created.partitions.len(), 3);
    assert_eq!(
        (0..3)
            .map(|p| created.partitions[p].id())
            .collect::<Vec<_>>(),
        vec![0, 1, 2]
    );
    assert!(snapshot.topic_by_name(audit.id, "created").is_some());
    assert!(snapshot.topic_by_name(audit.id, "shipped").is_none());
    assert!(log.partition(0, 0, 2).is_some());
    assert!(log.partition(0, 0, 3).is_none());
}

#[test]
fn catalog_file_has_a_format_version() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = open(dir.path());
    log.create_stream("s").unwrap();
    let text = fs::read_to_string(dir.path().join("catalog.json")).unwrap();
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(value["format_version"], 1);
    assert_eq!(value["streams"][0]["name"], "s");
    assert!(!dir.path().join("catalog.json.tmp").exists());
}

#[test]
fn ids_are_lowest_free_first() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = open(dir.path());
    for (expected, name) in ["a", "b", "c"].into_iter().enumerate() {
        assert_eq!(log.create_stream(name).unwrap().id, expected as u32);
    }
    log.delete_stream(1).unwrap();
    assert_eq!(log.create_stream("d").unwrap().id, 1);
    assert_eq!(log.create_stream("e").unwrap().id, 3);
    log.delete_stream(0).unwrap();
    assert_eq!(log.create_stream("f").unwrap().id, 0);

    for (expected, name) in ["t0", "t1", "t2"].into_iter().enumerate() {
        assert_eq!(
            log.create_topic(2, name, 1, TopicSettings::default())
                .unwrap()
                .id,
            expected as u32
        );
    }
    // Topic ids are per stream.
    assert_eq!(
        log.create_topic(3, "t0", 1, TopicSettings::default())
            .unwrap()
            .id,
        0
    );
    log.delete_topic(2, 1).unwrap();
    assert_eq!(
        log.create_topic(2, "t3", 1, TopicSettings::default())
            .unwrap()
            .id,
        1
    );
    assert_eq!(
        log.create_topic(2, "t4", 1, TopicSettings::default())
            .unwrap()
            .id,
        3
    );
}

#[test]
fn duplicate_names_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = open(dir.path());
    log.create_stream("s").unwrap();
    log.create_stream("other").unwrap();
    assert!(matches!(log.create_stream("s"), Err(LogError::StreamExists(n)) if n == "s"));
    assert!(matches!(
        log.rename_stream(1, "s"),
        Err(LogError::StreamExists(_))
    ));
    log.rename_stream(0, "s").unwrap(); // its own name: no change, no error

    log.create_topic(0, "t", 1, TopicSettings::default())
        .unwrap();
    log.create_topic(0, "u", 1, TopicSettings::default())
        .unwrap();
    let again = log.create_topic(0, "t", 2, TopicSettings::default());
    assert!(matches!(again, Err(LogError::TopicExists(n)) if n == "t"));
    // The same topic name in another stream is fine.
    log.create_topic(1, "t", 1, TopicSettings::default())
        .unwrap();
    let rename = log.update_topic(0, 1, Some("t"), TopicSettings::default());
    assert!(matches!(rename, Err(LogError::TopicExists(_))));
    assert_eq!(log.snapshot().streams().count(), 2);
    assert_eq!(log.snapshot().stream(0).unwrap().topics.len(), 2);
}

#[test]
fn invalid_names_and_settings_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = open(dir.path());
    let long = "n".repeat(limits::NAME_BYTES_MAX + 1);
    for bad in ["", ".", "..", "bell\u{7}", long.as_str()] {
        assert!(
            matches!(log.create_stream(bad), Err(LogError::InvalidName { .. })),
            "{bad:?}"
        );
    }
    let stream = log
        .create_stream(&"n".repeat(limits::NAME_BYTES_MAX))
        .unwrap();
    assert!(matches!(
        log.rename_stream(stream.id, "x\u{7}y"),
        Err(LogError::InvalidName { .. })
    ));
    let topic = log.create_topic(stream.id, "a\nb", 1, TopicSettings::default());
    assert!(matches!(topic, Err(LogError::InvalidName { .. })));
    let tiny = TopicSettings {
        segment_bytes: 1,
        ..TopicSettings::default()
    };
    let topic = log.create_topic(stream.id, "t", 1, tiny.clone());
    assert!(matches!(
        topic,
        Err(LogError::InvalidSetting {
            name: "segment_bytes",
            ..
        })
    ));
    let too_many = log.create_topic(
        stream.id,
        "t",
        limits::PARTITIONS_PER_TOPIC_MAX + 1,
        TopicSettings::default(),
    );
    assert!(matches!(too_many, Err(LogError::LimitExceeded { .. })));
    assert!(log.snapshot().stream(stream.id).unwrap().topics.is_empty());
    log.create_topic(stream.id, "t", 1, TopicSettings::default())
        .unwrap();
    assert!(matches!(
        log.update_topic(stream.id, 0, None, tiny),
        Err(LogError::InvalidSetting { .. })
    ));
}

#[test]
fn unknown_ids_are_not_found() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = open(dir.path());
    assert!(matches!(
        log.delete_stream(0),
        Err(LogError::StreamNotFound(_))
    ));
    assert!(matches!(
        log.rename_stream(7, "x"),
        Err(LogError::StreamNotFound(_))
    ));
    assert!(matches!(
        log.create_topic(0, "t", 1, TopicSettings::default()),
        Err(LogError::StreamNotFound(_))
    ));
    log.create_stream("s").unwrap();
    assert!(matches!(
        log.delete_topic(0, 0),
        Err(LogError::TopicNotFound(_))
    ));
    assert!(matches!(
        log.purge_topic(0, 4),
        Err(LogError::TopicNotFound(_))
    ));
    assert!(matches!(
        log.create_partitions(0, 0, 1),
        Err(LogError::TopicNotFound(_))
    ));
    assert!(log.partition(0, 0, 0).is_none());
}

#[test]
fn update_topic_renames_and_persists_settings() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (log, _) = open(dir.path());
        log.create_stream("s").unwrap();
        log.create_topic(0, "t", 2, TopicSettings::default())
            .unwrap();
        let before = log.snapshot();
        log.update_topic(0, 0, Some("renamed"), custom_settings())
            .unwrap();
        // An old snapshot is immutable.
        assert_eq!(before.topic(0, 0).unwrap().name, "t");
        let after = log.snapshot();
        let topic = after.topic_by_name(0, "renamed").unwrap();
        assert_eq!(topic.settings, custom_settings());
        assert!(Arc::ptr_eq(
            &topic.partitions[1],
            &before.topic(0, 0).unwrap().partitions[1]
        ));
        log.update_topic(0, 0, None, TopicSettings::default())
            .unwrap();
        log.update_topic(0, 0, None, custom_settings()).unwrap();
    }
    let (log, _) = open(dir.path());
    let topic = Arc::clone(log.snapshot().topic_by_name(0, "renamed").unwrap());
    assert_eq!(topic.settings, custom_settings());
    assert!(log.snapshot().topic_by_name(0, "t").is_none());
}

#[test]
fn leftover_tmp_is_reported_and_removed() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (log, _) = open(dir.path());
        log.create_stream("kept").unwrap();
    }
    let tmp = dir.path().join("catalog.json.tmp");
    fs::write(&tmp, b"{\"format_version\":1,\"streams\":[{\"id\":0,\"na").unwrap();
    let (log, report) = open(dir.path());
    assert_eq!(
        kinds_at(&report.findings, &tmp),
        vec![FindingKind::RemovedCatalogTmp]
    );
    assert!(!tmp.exists());
    assert!(log.snapshot().stream_by_name("kept").is_some());
}

fn assert_corrupt(dir: &Path, contents: &[u8], reason_part: &str) {
    let catalog = dir.join("catalog.json");
    fs::write(&catalog, contents).unwrap();
    match Log::open(config(dir)) {
        Err(LogError::CorruptCatalog { path, reason }) => {
            assert_eq!(path, catalog);
            assert!(
                reason.contains(reason_part),
                "{reason:?} should mention {reason_part:?}"
            );
        }
        other => panic!("expected CorruptCatalog, got {other:?}"),
    }
    // The damaged file is left for the operator.
    assert_eq!(fs::read(&catalog).unwrap(), contents);
}

#[test]
fn corrupt_catalog_is_an_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    assert_corrupt(dir.path(), b"\x00\x01not json", "expected");
    assert_corrupt(dir.path(), b"{\"format_version\":1,\"streams\":[", "EOF");
    assert_corrupt(
        dir.path(),
        b"{\"format_version\":99,\"streams\":[]}",
        "format_version",
    );
    assert_corrupt(dir.path(), b"{\"streams\":[]}", "format_version");
    let twice = br#"{"format_version":1,"streams":[
        {"id":0,"name":"a","created_at_us":0,"topics":[]},
        {"id":0,"name":"b","created_at_us":0,"topics":[]}]}"#;
    assert_corrupt(dir.path(), twice, "twice");
    let bad_name = br#"{"format_version":1,"streams":[
        {"id":0,"name":"..","created_at_us":0,"topics":[]}]}"#;
    assert_corrupt(dir.path(), bad_name, "invalid name");
}

#[test]
fn oversized_catalog_is_refused_before_reading() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = dir.path().join("catalog.json");
    let file = fs::File::create(&catalog).unwrap();
    file.set_len(limits::CATALOG_BYTES_MAX + 1).unwrap();
    match Log::open(config(dir.path())) {
        Err(LogError::CorruptCatalog { path, reason }) => {
            assert_eq!(path, catalog);
            assert!(reason.contains("CATALOG_BYTES_MAX"), "{reason}");
        }
        other => panic!("expected CorruptCatalog, got {other:?}"),
    }
}

#[test]
fn stray_files_and_orphan_dirs_are_reported_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (log, _) = open(dir.path());
        log.create_stream("s").unwrap();
        log.create_topic(0, "t", 2, TopicSettings::default())
            .unwrap();
    }
    let root = dir.path();
    let topic = root.join("streams/0/topics/0");
    let strays = [
        root.join("notes.txt"),
        root.join("streams/README"),
        root.join("streams/0/extra"),
        topic.join("leftover.bin"),
        topic.join("partitions/x"),
    ];
    for stray in &strays {
        fs::write(stray, b"keep me").unwrap();
    }
    let orphans = [
        root.join("streams/5"),
        root.join("streams/0/topics/3"),
        topic.join("partitions/2"),
        topic.join("partitions/9"),
    ];
    for orphan in &orphans {
        fs::create_dir_all(orphan).unwrap();
        fs::write(orphan.join("00000000000000000000.log"), b"stale").unwrap();
    }
    let not_an_id = root.join("streams/007");
    fs::create_dir_all(&not_an_id).unwrap();

    let (log, report) = open(dir.path());
    for stray in strays.iter().chain([&not_an_id]) {
        assert_eq!(
            kinds_at(&report.findings, stray),
            vec![FindingKind::UnknownEntry],
            "{stray:?}"
        );
        assert!(stray.exists());
    }
    for orphan in &orphans {
        assert_eq!(
            kinds_at(&report.findings, orphan),
            vec![FindingKind::OrphanDirectory],
            "{orphan:?}"
        );
        assert!(orphan.join("00000000000000000000.log").exists());
    }
    assert_eq!(
        report.findings.len(),
        strays.len() + orphans.len() + 1,
        "{:?}",
        report.findings
    );
    assert_eq!(log.snapshot().topic(0, 0).unwrap().partition_count(), 2);
}

#[test]
fn creating_over_an_orphan_does_not_reuse_stale_data() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let (log, _) = open(root);
    log.create_stream("s").unwrap();
    let stale_topic = root.join("streams/0/topics/0");
    fs::create_dir_all(stale_topic.join("partitions/0")).unwrap();
    fs::write(stale_topic.join("partitions/0/stale.log"), b"old").unwrap();
    fs::write(stale_topic.join("stale-marker"), b"old").unwrap();
    let stale_stream = root.join("streams/1");
    fs::create_dir_all(stale_stream.join("topics/0/partitions/0")).unwrap();

    log.create_topic(0, "t", 1, TopicSettings::default())
        .unwrap();
    assert!(!stale_topic.join("stale-marker").exists());
    assert!(!stale_topic.join("partitions/0/stale.log").exists());
    assert!(stale_topic.join("partitions/0").is_dir());

    assert_eq!(log.create_stream("s2").unwrap().id, 1);
    assert!(!stale_stream.join("topics/0").exists());

    let stale_partition = stale_topic.join("partitions/1");
    fs::create_dir_all(&stale_partition).unwrap();
    fs::write(stale_partition.join("stale.log"), b"old").unwrap();
    assert_eq!(log.create_partitions(0, 0, 1).unwrap(), 2);
    assert!(!stale_partition.join("stale.log").exists());
}

#[test]
fn missing_partition_dir_is_reported_and_recreated() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (log, _) = open(dir.path());
        log.create_stream("s").unwrap();
        log.create_topic(0, "t", 2, TopicSettings::default())
            .unwrap();
    }
    let lost = dir.path().join("streams/0/topics/0/partitions/1");
    fs::remove_dir_all(&lost).unwrap();
    let (log, report) = open(dir.path());
    assert_eq!(
        kinds_at(&report.findings, &lost),
        vec![FindingKind::MissingPartitionDirectory]
    );
    assert!(lost.is_dir());
    assert!(log.partition(0, 0, 1).is_some());
}
