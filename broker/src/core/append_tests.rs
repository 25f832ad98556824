#![allow(clippy::unwrap_used)]

use super::*;

#[test]
fn cap_reads_canonical_text_and_treats_zero_and_max_as_unlimited() {
    let mut settings = TopicSettings::default();
    assert_eq!(max_topic_size(&settings), None);
    for (text, cap) in [
        ("1024", Some(1024)),
        ("0", None),
        ("18446744073709551615", None),
        ("x", None),
    ] {
        settings
            .extra_configs
            .insert(MAX_TOPIC_SIZE_KEY.into(), text.into());
        assert_eq!(max_topic_size(&settings), cap, "{text}");
    }
}

fn capped(cap: &str) -> TopicSettings {
    let mut settings = TopicSettings::default();
    settings
        .extra_configs
        .insert(MAX_TOPIC_SIZE_KEY.into(), cap.into());
    settings
}

#[test]
fn cached_cap_follows_each_version_of_the_topic() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = whippet_log::Log::open(whippet_log::LogConfig::new(dir.path())).unwrap();
    let stream = log.create_stream("s").unwrap();
    let first = log.create_topic(stream.id, "t", 1, capped("1024")).unwrap();
    let caps = TopicCaps::default();
    assert_eq!(caps.cap(&first), Some(1024));
    assert_eq!(caps.cap(&first), Some(1024));
    // Re-set (another catalog version of the same ids): parsed again, not served stale.
    log.update_topic(stream.id, first.id, None, capped("2048"))
        .unwrap();
    let second = log.snapshot().topic(stream.id, first.id).unwrap().clone();
    assert_eq!(caps.cap(&second), Some(2048));
    // Deleted and created again under the same ids without a cap.
    drop(first);
    log.delete_topic(stream.id, second.id).unwrap();
    drop(second);
    let third = log
        .create_topic(stream.id, "t", 1, TopicSettings::default())
        .unwrap();
    assert_eq!(caps.cap(&third), None);
    assert_eq!(caps.caps.load().len(), 1);
}

/// Local segment files whose `fdatasync` waits while `stalled` is set: a disk slower than the
/// request's patience.
#[derive(Debug, Default)]
struct StallingSync {
    stalled: Arc<std::sync::atomic::AtomicBool>,
}

#[derive(Debug)]
struct StallingFile {
    inner: Box<dyn whippet_log::SegmentFile>,
    stalled: Arc<std::sync::atomic::AtomicBool>,
}

impl whippet_log::SegmentStore for StallingSync {
    fn create_new(
        &self,
        path: &std::path::Path,
    ) -> std::io::Result<Box<dyn whippet_log::SegmentFile>> {
        let inner = whippet_log::LocalStore.create_new(path)?;
        let stalled = Arc::clone(&self.stalled);
        Ok(Box::new(StallingFile { inner, stalled }))
    }

    fn open(
        &self,
        path: &std::path::Path,
        create: bool,
    ) -> std::io::Result<Box<dyn whippet_log::SegmentFile>> {
        let inner = whippet_log::LocalStore.open(path, create)?;
        let stalled = Arc::clone(&self.stalled);
        Ok(Box::new(StallingFile { inner, stalled }))
    }

    fn remove(&self, path: &std::path::Path) -> std::io::Result<()> {
        whippet_log::LocalStore.remove(path)
    }

    fn sync_dir(&self, dir: &std::path::Path) -> std::io::Result<()> {
        whippet_log::LocalStore.sync_dir(dir)
    }
}

impl whippet_log::SegmentFile for StallingFile {
    fn read_exact_at(&self, buf: &mut [u8], pos: u64) -> std::io::Result<()> {
        self.inner.read_exact_at(buf, pos)
    }

    fn read_vec_at(&self, len: usize, pos: u64) -> std::io::Result<Vec<u8>> {
        self.inner.read_vec_at(len, pos)
    }

    fn write_all_at(&self, buf: &[u8], pos: u64) -> std::io::Result<()> {
        self.inner.write_all_at(buf, pos)
    }

    fn sync_data(&self) -> std::io::Result<()> {
        while self.stalled.load(std::sync::atomic::Ordering::SeqCst) {
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        self.inner.sync_data()
    }

    fn size(&self) -> std::io::Result<u64> {
        self.inner.size()
    }

    fn set_len(&self, len: u64) -> std::io::Result<()> {
        self.inner.set_len(len)
    }
}

fn one_batch() -> AppendBatch {
    AppendBatch {
        format: whippet_log::BatchFormat::Native,
        payload: vec![7u8; 64].into(),
        record_count: 1,
        last_offset_delta: 0,
        first_timestamp_us: 0,
        max_timestamp_us: 0,
    }
}

/// The durability wait is the core's, decided by the Ack and bounded by the request's
/// deadline: a sync slower than the deadline answers TimedOut instead of holding the answer.
#[tokio::test]
async fn the_durability_wait_follows_the_ack_and_ends_at_the_deadline() {
    let dir = tempfile::tempdir().unwrap();
    let store = StallingSync::default();
    let stalled = Arc::clone(&store.stalled);
    let mut config = whippet_log::LogConfig::new(dir.path());
    config.fsync = whippet_log::FsyncPolicy::Always;
    let (log, _) = whippet_log::Log::open_with_store(config, Arc::new(store)).unwrap();
    let core = Core::with_empty_groups(log, "kafka".into(), &crate::core::test_root()).unwrap();
    let stream = core.log.create_stream("s").unwrap();
    let topic = core
        .log
        .create_topic(stream.id, "t", 1, TopicSettings::default())
        .unwrap();
    let partition = Arc::clone(topic.partition(0).unwrap());
    stalled.store(true, std::sync::atomic::Ordering::SeqCst);
    let rc = RequestContext::internal();
    let appended = append(&core, &rc, &topic, &partition, |appender| {
        appender.append(one_batch(), |_| {})
    })
    .unwrap();
    let pending = || {
        vec![(
            7,
            Pending {
                log: Arc::clone(&partition),
                last_offset: appended.last_offset,
            },
        )]
    };
    // acks=0: nobody waits, whatever the disk does.
    assert!(
        wait_durable(&core, &rc, Ack::None, pending())
            .await
            .is_empty()
    );
    let hurried = rc.request(
        tracing::Span::none(),
        Some(std::time::Instant::now() + std::time::Duration::from_millis(50)),
    );
    let failed = wait_durable(&core, &hurried, Ack::Leader, pending()).await;
    assert!(
        matches!(failed.as_slice(), [(7, CoreError::TimedOut)]),
        "{failed:?}"
    );
    stalled.store(false, std::sync::atomic::Ordering::SeqCst);
    assert!(
        wait_durable(&core, &rc, Ack::Leader, pending())
            .await
            .is_empty()
    );
    core.log.shutdown().unwrap();
}

#[tokio::test]
async fn a_full_topic_refuses_at_the_first_append_only() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = whippet_log::Log::open(whippet_log::LogConfig::new(dir.path())).unwrap();
    let core = Core::with_empty_groups(log, "kafka".into(), &crate::core::test_root()).unwrap();
    let stream = core.log.create_stream("s").unwrap();
    let topic = core
        .log
        .create_topic(stream.id, "t", 1, capped("1"))
        .unwrap();
    let partition = Arc::clone(topic.partition(0).unwrap());
    let rc = RequestContext::internal();
    // Under the cap: every batch of the operation goes in (the one crossing it included).
    let written = append(&core, &rc, &topic, &partition, |appender| {
        appender.append(one_batch(), |_| {})?;
        appender.append(one_batch(), |_| {})
    });
    assert_eq!(written.unwrap().last_offset, 1);
    // At the cap: refused before anything is written; work that appends nothing is not.
    let refused = append(&core, &rc, &topic, &partition, |appender| {
        appender.append(one_batch(), |_| {})
    });
    assert!(
        matches!(refused, Err(CoreError::TopicFull { cap: 1, .. })),
        "{refused:?}"
    );
    assert_eq!(partition.high_watermark(), 2);
    let answered: Result<u8, CoreError> = append(&core, &rc, &topic, &partition, |_| Ok(5));
    assert_eq!(answered.unwrap(), 5);
    core.log.shutdown().unwrap();
}
