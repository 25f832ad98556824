//! [`Log`] mutations that touch files (delete, partitions), shutdown, and the maintenance
//! thread's lifecycle.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use whippet_log::{FsyncPolicy, Log, LogConfig, LogError, TopicSettings};

fn config(dir: &Path) -> LogConfig {
    let mut config = LogConfig::new(dir);
    config.fsync = FsyncPolicy::Never;
    config
}

fn open(dir: &Path) -> Arc<Log> {
    Log::open(config(dir)).unwrap().0
}

fn partition_dir(root: &Path, stream: u32, topic: u32, partition: u32) -> std::path::PathBuf {
    root.join(format!(
        "streams/{stream}/topics/{topic}/partitions/{partition}"
    ))
}

#[test]
fn layout_uses_ids_for_directories() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    log.create_stream("with space").unwrap();
    log.create_stream("second").unwrap();
    log.create_topic(1, "topic name", 3, TopicSettings::default())
        .unwrap();
    for p in 0..3 {
        assert!(partition_dir(dir.path(), 1, 0, p).is_dir(), "partition {p}");
    }
    assert!(dir.path().join("streams/0/topics").is_dir());
    assert!(!partition_dir(dir.path(), 1, 0, 3).exists());
}

#[test]
fn delete_topic_and_stream_remove_their_files() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let log = open(root);
    log.create_stream("s").unwrap();
    log.create_topic(0, "a", 2, TopicSettings::default())
        .unwrap();
    log.create_topic(0, "b", 1, TopicSettings::default())
        .unwrap();
    let removed_partition = log.partition(0, 0, 1).unwrap();
    log.delete_topic(0, 0).unwrap();
    assert!(!root.join("streams/0/topics/0").exists());
    assert!(partition_dir(root, 0, 1, 0).is_dir());
    assert!(log.snapshot().topic(0, 0).is_none());
    assert!(log.snapshot().topic_by_name(0, "a").is_none());
    assert!(log.partition(0, 0, 1).is_none());
    drop(removed_partition);

    log.delete_stream(0).unwrap();
    assert!(!root.join("streams/0").exists());
    assert!(log.snapshot().stream_by_name("s").is_none());
    drop(log);
    // The deletions are in the persisted catalog, and nothing is left to report.
    let (log, report) = Log::open(config(root)).unwrap();
    assert_eq!(log.snapshot().streams().count(), 0);
    assert!(report.findings.is_empty(), "{:?}", report.findings);
}

#[test]
fn create_and_delete_partitions() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let log = open(root);
    log.create_stream("s").unwrap();
    log.create_topic(0, "t", 1, TopicSettings::default())
        .unwrap();
    let first = log.partition(0, 0, 0).unwrap();
    assert_eq!(log.create_partitions(0, 0, 3).unwrap(), 4);
    assert_eq!(log.create_partitions(0, 0, 0).unwrap(), 4);
    let topic = Arc::clone(log.snapshot().topic(0, 0).unwrap());
    assert_eq!(
        topic.partitions.iter().map(|p| p.id()).collect::<Vec<_>>(),
        vec![0, 1, 2, 3]
    );
    assert!(
        Arc::ptr_eq(&topic.partitions[0], &first),
        "existing partitions are kept"
    );
    assert!(partition_dir(root, 0, 0, 3).is_dir());

    assert_eq!(log.delete_partitions(0, 0, 2).unwrap(), 2);
    assert!(partition_dir(root, 0, 0, 1).is_dir());
    assert!(!partition_dir(root, 0, 0, 2).exists());
    assert!(!partition_dir(root, 0, 0, 3).exists());
    assert!(log.partition(0, 0, 2).is_none());
    let too_many = log.delete_partitions(0, 0, 3);
    assert!(matches!(
        too_many,
        Err(LogError::LimitExceeded {
            value: 3,
            max: 2,
            ..
        })
    ));
    assert_eq!(log.snapshot().topic(0, 0).unwrap().partition_count(), 2);
    let over_max = log.create_partitions(0, 0, whippet_log::limits::PARTITIONS_PER_TOPIC_MAX);
    assert!(matches!(over_max, Err(LogError::LimitExceeded { .. })));

    drop(log);
    let log = open(root);
    assert_eq!(log.snapshot().topic(0, 0).unwrap().partition_count(), 2);
    assert_eq!(log.delete_partitions(0, 0, 2).unwrap(), 0);
    assert!(log.partition(0, 0, 0).is_none());
    assert_eq!(log.create_partitions(0, 0, 1).unwrap(), 1);
}

#[test]
fn purge_keeps_the_catalog() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    log.create_stream("s").unwrap();
    log.create_topic(0, "t", 2, TopicSettings::default())
        .unwrap();
    let before = log.snapshot();
    log.purge_topic(0, 0).unwrap();
    log.purge_stream(0).unwrap();
    assert!(matches!(
        log.purge_stream(1),
        Err(LogError::StreamNotFound(_))
    ));
    let after = log.snapshot();
    assert_eq!(after.topic(0, 0).unwrap().partition_count(), 2);
    assert!(Arc::ptr_eq(
        before.stream(0).unwrap(),
        after.stream(0).unwrap()
    ));
    assert!(partition_dir(dir.path(), 0, 0, 1).is_dir());
}

#[test]
fn shutdown_is_prompt_idempotent_and_final() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path());
    config.fsync = FsyncPolicy::Interval;
    config.maintenance_interval = Duration::from_secs(3600);
    config.fsync_interval = Duration::from_secs(3600);
    let (log, _) = Log::open(config).unwrap();
    log.create_stream("s").unwrap();
    log.create_topic(0, "t", 1, TopicSettings::default())
        .unwrap();
    let started = Instant::now();
    log.shutdown().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "maintenance thread stopped at once"
    );
    log.shutdown().unwrap();
    log.flush().unwrap();
    assert!(matches!(
        log.create_stream("late"),
        Err(LogError::ShuttingDown)
    ));
    assert!(matches!(log.delete_stream(0), Err(LogError::ShuttingDown)));
    assert!(log.snapshot().stream(0).is_some(), "reads still work");
}

#[test]
fn drop_stops_the_maintenance_thread_promptly() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path());
    config.maintenance_interval = Duration::from_secs(3600);
    let (log, _) = Log::open(config).unwrap();
    let started = Instant::now();
    drop(log);
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn fast_maintenance_runs_alongside_mutations() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path());
    config.fsync = FsyncPolicy::Interval;
    config.maintenance_interval = Duration::ZERO; // clamped to the named minimum
    config.fsync_interval = Duration::from_millis(1);
    let (log, _) = Log::open(config).unwrap();
    for round in 0..20u32 {
        let stream = log.create_stream(&format!("s{round}")).unwrap();
        log.create_topic(stream.id, "t", 2, TopicSettings::default())
            .unwrap();
        log.delete_stream(stream.id).unwrap();
    }
    log.shutdown().unwrap();
    assert_eq!(log.snapshot().streams().count(), 0);
}

#[test]
fn readers_see_consistent_snapshots_during_mutations() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    log.create_stream("s").unwrap();
    let writer = {
        let log = Arc::clone(&log);
        std::thread::spawn(move || {
            for i in 0..30u32 {
                log.create_topic(0, &format!("t{i}"), 1, TopicSettings::default())
                    .unwrap();
            }
        })
    };
    let mut last_seen = 0;
    while !writer.is_finished() {
        let snapshot = log.snapshot();
        let stream = snapshot.stream(0).unwrap();
        assert!(stream.topics.len() >= last_seen, "snapshots never go back");
        last_seen = stream.topics.len();
        for topic in stream.topics.values() {
            let by_name = snapshot.topic_by_name(0, &topic.name).unwrap();
            assert!(Arc::ptr_eq(by_name, topic));
        }
    }
    writer.join().unwrap();
    assert_eq!(log.snapshot().stream(0).unwrap().topics.len(), 30);
}

#[test]
fn the_state_directory_belongs_to_callers() {
    let dir = tempfile::tempdir().unwrap();
    let (log, report) = whippet_log::Log::open(whippet_log::LogConfig::new(dir.path())).unwrap();
    assert!(report.findings.is_empty());
    let state = log.state_dir();
    assert!(state.is_dir(), "open creates the state directory");
    std::fs::write(state.join("cluster_id"), b"caller's").unwrap();
    std::fs::create_dir(state.join("producers")).unwrap();
    log.shutdown().unwrap();
    drop(log);
    let (_log, report) = whippet_log::Log::open(whippet_log::LogConfig::new(dir.path())).unwrap();
    assert!(
        report.findings.is_empty(),
        "nothing reported: {:?}",
        report.findings
    );
    assert_eq!(
        std::fs::read(state.join("cluster_id")).unwrap(),
        b"caller's"
    );
}

/// A local store that counts the segment files it is asked to create or open.
#[derive(Debug, Default)]
struct CountingStore {
    opened: std::sync::atomic::AtomicUsize,
}

impl whippet_log::SegmentStore for CountingStore {
    fn create_new(&self, path: &Path) -> std::io::Result<Box<dyn whippet_log::SegmentFile>> {
        self.opened
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        whippet_log::LocalStore.create_new(path)
    }

    fn open(
        &self,
        path: &Path,
        create: bool,
    ) -> std::io::Result<Box<dyn whippet_log::SegmentFile>> {
        self.opened
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        whippet_log::LocalStore.open(path, create)
    }

    fn remove(&self, path: &Path) -> std::io::Result<()> {
        whippet_log::LocalStore.remove(path)
    }

    fn sync_dir(&self, dir: &Path) -> std::io::Result<()> {
        whippet_log::LocalStore.sync_dir(dir)
    }
}

#[test]
fn a_whole_log_can_run_over_another_segment_store() {
    use std::sync::atomic::Ordering;
    use whippet_log::{AppendBatch, BatchFormat, SegmentStore};

    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(CountingStore::default());
    let seam: Arc<dyn SegmentStore> = store.clone();
    let (log, _) = Log::open_with_store(config(dir.path()), Arc::clone(&seam)).unwrap();
    let stream = log.create_stream("s").unwrap();
    let topic = log
        .create_topic(stream.id, "t", 2, TopicSettings::default())
        .unwrap();
    let created = store.opened.load(Ordering::SeqCst);
    assert!(
        created >= 4,
        "2 partitions × (log + index) through the store: {created}"
    );
    let batch = AppendBatch {
        format: BatchFormat::Native,
        payload: b"hello".to_vec().into(),
        record_count: 1,
        last_offset_delta: 0,
        first_timestamp_us: 1,
        max_timestamp_us: 1,
    };
    topic.partitions[1]
        .append_durable_blocking(batch, |_| {})
        .unwrap();
    log.shutdown().unwrap();
    drop(log);

    let (log, _) = Log::open_with_store(config(dir.path()), seam).unwrap();
    assert!(
        store.opened.load(Ordering::SeqCst) > created,
        "reopening goes through the store too"
    );
    let partition = log.partition(stream.id, topic.id, 1).unwrap();
    assert_eq!(partition.high_watermark(), 1);
    log.shutdown().unwrap();
}
