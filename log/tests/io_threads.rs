//! No segment-file I/O runs on an async worker: appends, durable waits, reads and timestamp
//! lookups made through the async entry points from a multi-thread tokio runtime reach the files
//! only from the log's own I/O threads (`whippet-log-*`). A [`SegmentStore`] wrapper records the
//! thread of every file operation.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io;
use std::path::Path;
use std::sync::{Arc, Mutex};

use whippet_log::{
    AppendBatch, BatchFormat, FsyncPolicy, LocalStore, LogConfig, PartitionLog, SegmentFile,
    SegmentStore, THREAD_NAME_PREFIX, TopicSettings,
};

const TASKS: u64 = 8;
const APPENDS_PER_TASK: u64 = 40;
const WORKER_NAME: &str = "test-async-worker";

/// What one file operation was and where it ran.
#[derive(Debug, Clone)]
struct Op {
    what: &'static str,
    thread: String,
    in_runtime: bool,
}

#[derive(Debug, Default)]
struct Journal {
    armed: bool,
    ops: Vec<Op>,
}

/// Local files, with every operation's thread recorded while armed.
#[derive(Debug, Clone, Default)]
struct Recording {
    journal: Arc<Mutex<Journal>>,
}

impl Recording {
    fn arm(&self, armed: bool) {
        self.journal.lock().unwrap().armed = armed;
    }

    fn ops(&self) -> Vec<Op> {
        self.journal.lock().unwrap().ops.clone()
    }

    fn record(&self, what: &'static str) {
        let mut journal = self.journal.lock().unwrap();
        if journal.armed {
            let thread = std::thread::current().name().unwrap_or("?").to_string();
            let in_runtime = tokio::runtime::Handle::try_current().is_ok();
            journal.ops.push(Op {
                what,
                thread,
                in_runtime,
            });
        }
    }

    fn wrap(&self, file: Box<dyn SegmentFile>) -> Box<dyn SegmentFile> {
        Box::new(RecordedFile {
            file,
            recording: self.clone(),
        })
    }
}

#[derive(Debug)]
struct RecordedFile {
    file: Box<dyn SegmentFile>,
    recording: Recording,
}

impl SegmentStore for Recording {
    fn create_new(&self, path: &Path) -> io::Result<Box<dyn SegmentFile>> {
        self.record("create");
        Ok(self.wrap(LocalStore.create_new(path)?))
    }

    fn open(&self, path: &Path, create: bool) -> io::Result<Box<dyn SegmentFile>> {
        self.record("open");
        Ok(self.wrap(LocalStore.open(path, create)?))
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        self.record("remove");
        LocalStore.remove(path)
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        self.record("sync_dir");
        LocalStore.sync_dir(dir)
    }
}

impl SegmentFile for RecordedFile {
    fn read_exact_at(&self, buf: &mut [u8], pos: u64) -> io::Result<()> {
        self.recording.record("read");
        self.file.read_exact_at(buf, pos)
    }

    fn read_vec_at(&self, len: usize, pos: u64) -> io::Result<Vec<u8>> {
        self.recording.record("read");
        self.file.read_vec_at(len, pos)
    }

    fn write_all_at(&self, buf: &[u8], pos: u64) -> io::Result<()> {
        self.recording.record("write");
        self.file.write_all_at(buf, pos)
    }

    fn write_all_vectored_at(&self, bufs: &[&[u8]], pos: u64) -> io::Result<()> {
        self.recording.record("write");
        self.file.write_all_vectored_at(bufs, pos)
    }

    fn sync_data(&self) -> io::Result<()> {
        self.recording.record("sync");
        self.file.sync_data()
    }

    fn size(&self) -> io::Result<u64> {
        self.recording.record("size");
        self.file.size()
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        self.recording.record("set_len");
        self.file.set_len(len)
    }
}

fn open(dir: &Path, store: &Recording, policy: FsyncPolicy) -> Arc<PartitionLog> {
    let mut config = LogConfig::new(dir);
    config.fsync = policy;
    config.index_interval_bytes = 256;
    let settings = TopicSettings {
        // Small segments, so appends roll (segment creation is file I/O too).
        segment_bytes: 64 * 1024,
        ..TopicSettings::default()
    };
    let store: Arc<dyn SegmentStore> = Arc::new(store.clone());
    PartitionLog::open_with_store(dir.to_path_buf(), 0, settings, &config, store)
        .unwrap()
        .0
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name(WORKER_NAME)
        .enable_all()
        .build()
        .unwrap()
}

fn batch(task: u64, n: u64) -> AppendBatch {
    let mut payload = vec![0u8; 700];
    payload[..8].copy_from_slice(&task.to_le_bytes());
    payload[8..16].copy_from_slice(&n.to_le_bytes());
    let ts = i64::try_from(1_000 + task * APPENDS_PER_TASK + n).unwrap();
    AppendBatch {
        format: BatchFormat::Native,
        payload,
        record_count: 2,
        last_offset_delta: 1,
        first_timestamp_us: ts,
        max_timestamp_us: ts,
    }
}

/// Concurrent appends (each waited durable) from several tasks.
async fn append_all(log: &Arc<PartitionLog>) {
    let mut tasks = Vec::new();
    for task in 0..TASKS {
        let log = Arc::clone(log);
        tasks.push(tokio::spawn(async move {
            for n in 0..APPENDS_PER_TASK {
                let appended = log.append(batch(task, n), |_| {}).await.unwrap();
                log.wait_durable(appended.last_offset).await.unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
}

/// Reads everything back (from the files: the partition was reopened, its cache is empty) and
/// looks up timestamps, from tasks on the runtime's workers.
async fn read_all(log: &Arc<PartitionLog>) -> u64 {
    let log = Arc::clone(log);
    tokio::spawn(async move {
        let mut next = 0;
        let mut frames = 0;
        while next < log.high_watermark() {
            let read = log.read(next, 4096).await.unwrap();
            for frame in &read.frames {
                assert_eq!(frame.header.base_offset, next, "gap or disorder");
                next = frame.header.next_offset();
                frames += 1;
            }
        }
        let found = log.find_by_timestamp(1_000 + 77).await.unwrap().unwrap();
        assert!(found.max_timestamp_us >= 1_077, "found {found:?}");
        frames
    })
    .await
    .unwrap()
}

fn check(ops: &[Op], phase: &str) {
    let on_runtime: Vec<&Op> = ops
        .iter()
        .filter(|op| op.in_runtime || !op.thread.starts_with(THREAD_NAME_PREFIX))
        .collect();
    assert!(
        on_runtime.is_empty(),
        "{phase}: {} of {} file operations ran off the log's I/O threads, e.g. {:?}",
        on_runtime.len(),
        ops.len(),
        on_runtime.first()
    );
}

fn run(policy: FsyncPolicy) {
    let dir = tempfile::tempdir().unwrap();
    let store = Recording::default();
    let rt = runtime();
    let log = open(dir.path(), &store, policy);
    store.arm(true);
    rt.block_on(append_all(&log));
    store.arm(false);
    let appended = store.ops();
    assert!(
        appended.iter().any(|op| op.what == "write"),
        "no write seen"
    );
    assert!(
        appended.iter().any(|op| op.what == "create"),
        "no roll seen"
    );
    if policy == FsyncPolicy::Always {
        assert!(appended.iter().any(|op| op.what == "sync"), "no sync seen");
    }
    check(&appended, "appends");

    log.sync().unwrap();
    drop(log);
    let log = open(dir.path(), &store, policy);
    let before = store.ops().len();
    store.arm(true);
    let frames = rt.block_on(read_all(&log));
    store.arm(false);
    assert_eq!(frames, TASKS * APPENDS_PER_TASK);
    let read = store.ops().split_off(before);
    assert!(read.iter().any(|op| op.what == "read"), "no file read seen");
    check(&read, "reads");
}

#[test]
fn async_appends_do_no_file_io_on_runtime_workers_fsync_never() {
    run(FsyncPolicy::Never);
}

#[test]
fn async_appends_and_durable_waits_do_no_file_io_on_runtime_workers_fsync_always() {
    run(FsyncPolicy::Always);
}
