//! No segment-file I/O runs on an async worker: appends, durable waits, reads and timestamp
//! lookups made through the async entry points from a tokio runtime reach the files only from
//! the log's own I/O threads (`whippet-log-*`) or from a worker thread that tokio has released
//! from driving tasks (`block_in_place`, which the log uses on multi-thread runtimes to spare a
//! thread hop). A [`SegmentStore`] wrapper records, for every file operation, its thread and
//! whether that thread was driving async tasks at the time.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io;
use std::panic::AssertUnwindSafe;
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
    /// The thread was driving async tasks (a runtime worker, or a thread inside `block_on`).
    driving_tasks: bool,
}

/// Whether the calling thread is driving async tasks. `Handle::block_on` refuses exactly there
/// (it panics: "Cannot start a runtime from within a runtime"); on a worker inside
/// `block_in_place`, and on any thread outside a runtime, it is allowed.
fn driving_tasks() -> bool {
    let Ok(handle) = tokio::runtime::Handle::try_current() else {
        return false;
    };
    std::panic::catch_unwind(AssertUnwindSafe(|| handle.block_on(async {}))).is_err()
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
            let driving_tasks = driving_tasks();
            journal.ops.push(Op {
                what,
                thread,
                driving_tasks,
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

fn runtime(multi_thread: bool) -> tokio::runtime::Runtime {
    let mut builder = if multi_thread {
        let mut builder = tokio::runtime::Builder::new_multi_thread();
        builder.worker_threads(2);
        builder
    } else {
        tokio::runtime::Builder::new_current_thread()
    };
    builder
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
        payload: payload.into(),
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

/// Every operation ran on a log I/O thread or on a runtime worker released by `block_in_place`
/// (only multi-thread runtimes have those); none on a thread driving async tasks.
fn check(ops: &[Op], phase: &str, multi_thread: bool) {
    let bad: Vec<&Op> = ops
        .iter()
        .filter(|op| {
            let released_worker = multi_thread && op.thread == WORKER_NAME;
            op.driving_tasks || !(op.thread.starts_with(THREAD_NAME_PREFIX) || released_worker)
        })
        .collect();
    assert!(
        bad.is_empty(),
        "{phase}: {} of {} file operations ran on a thread driving async tasks, e.g. {:?}",
        bad.len(),
        ops.len(),
        bad.first()
    );
}

fn run(policy: FsyncPolicy, multi_thread: bool) {
    let dir = tempfile::tempdir().unwrap();
    let store = Recording::default();
    let rt = runtime(multi_thread);
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
    check(&appended, "appends", multi_thread);

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
    check(&read, "reads", multi_thread);
    // Both ways off the workers are exercised: in place (multi-thread) and the log's threads.
    let in_place = read.iter().filter(|op| op.thread == WORKER_NAME).count();
    if multi_thread {
        assert!(in_place > 0, "reads never ran in block_in_place");
    } else {
        assert_eq!(
            in_place, 0,
            "a current-thread runtime has no worker to release"
        );
    }
}

#[test]
fn no_file_io_on_async_workers_multi_thread_fsync_never() {
    run(FsyncPolicy::Never, true);
}

#[test]
fn no_file_io_on_async_workers_multi_thread_fsync_always() {
    run(FsyncPolicy::Always, true);
}

#[test]
fn no_file_io_on_async_workers_current_thread_fsync_never() {
    run(FsyncPolicy::Never, false);
}

#[test]
fn no_file_io_on_async_workers_current_thread_fsync_always() {
    run(FsyncPolicy::Always, false);
}
