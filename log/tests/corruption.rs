//! One test per corrupt-on-disk case: each damages a closed partition's files the way a crash or
//! a bad disk would, reopens it, and checks what recovery did and the reason it logged.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs::OpenOptions;
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use whippet_log::{
    AppendBatch, BatchFormat, FRAME_HEADER_BYTES, FsyncPolicy, LogConfig, PartitionLog,
    RecoveryEvent, TopicSettings,
};

/// Captures what the log writes through `tracing` while `f` runs.
fn with_logs<T>(f: impl FnOnce() -> T) -> (T, String) {
    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);
    impl Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buf = Buf::default();
    let writer = buf.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::WARN)
        .finish();
    let out = tracing::subscriber::with_default(subscriber, f);
    let text = String::from_utf8_lossy(&buf.0.lock().unwrap()).into_owned();
    (out, text)
}

const PAYLOAD_LENS: [usize; 6] = [100, 2000, 300, 4000, 50, 1500];

fn config(dir: &Path) -> LogConfig {
    let mut c = LogConfig::new(dir);
    c.fsync = FsyncPolicy::Never;
    c.index_interval_bytes = 1; // an index entry per frame, so index damage matters
    c
}

fn payload(i: usize) -> Vec<u8> {
    (0..PAYLOAD_LENS[i]).map(|j| (i * 31 + j) as u8).collect()
}

/// Writes the six frames (one record each, offsets 0..6) into one segment and closes the log.
fn write_partition(dir: &Path) {
    let (log, _) =
        PartitionLog::open(dir.to_path_buf(), 0, TopicSettings::default(), &config(dir)).unwrap();
    for i in 0..PAYLOAD_LENS.len() {
        let ts = 1_000_000 * (i as i64 + 1);
        let batch = AppendBatch {
            format: BatchFormat::Kafka,
            payload: payload(i).into(),
            record_count: 1,
            last_offset_delta: 0,
            first_timestamp_us: ts,
            max_timestamp_us: ts,
        };
        log.append_blocking(batch, |_| {}).unwrap();
    }
    log.sync().unwrap();
}

fn reopen(dir: &Path) -> ((Arc<PartitionLog>, Vec<RecoveryEvent>), String) {
    with_logs(|| {
        PartitionLog::open(dir.to_path_buf(), 0, TopicSettings::default(), &config(dir)).unwrap()
    })
}

fn segment_file(dir: &Path, ext: &str) -> PathBuf {
    dir.join(format!("{:020}.{ext}", 0))
}

/// File position where frame `i` starts (the segment file header comes first).
fn frame_position(dir: &Path, i: usize) -> u64 {
    let len = std::fs::metadata(segment_file(dir, "log")).unwrap().len();
    let frames: u64 = PAYLOAD_LENS
        .iter()
        .map(|l| (FRAME_HEADER_BYTES + l) as u64)
        .sum();
    let file_header = len - frames;
    file_header
        + PAYLOAD_LENS[..i]
            .iter()
            .map(|l| (FRAME_HEADER_BYTES + l) as u64)
            .sum::<u64>()
}

fn offsets_readable(log: &PartitionLog) -> Vec<u64> {
    let mut out = Vec::new();
    let mut next = log.log_start_offset();
    while next < log.high_watermark() {
        let r = log.read_blocking(next, 1 << 20).unwrap();
        for f in r.frames {
            let i = f.header.base_offset as usize;
            assert_eq!(&f.payload[..], &payload(i)[..], "frame {i} payload intact");
            out.push(f.header.base_offset);
            next = f.header.next_offset();
        }
    }
    out
}

fn truncate_to(path: &Path, len: u64) {
    OpenOptions::new()
        .write(true)
        .open(path)
        .unwrap()
        .set_len(len)
        .unwrap();
}

fn assert_truncated_to(dir: &Path, kept: usize, what: &str) {
    let ((log, events), logs) = reopen(dir);
    assert_eq!(offsets_readable(&log), (0..kept as u64).collect::<Vec<_>>());
    assert_eq!(
        log.next_offset(),
        kept as u64,
        "appends continue after the last good frame"
    );
    assert!(
        events
            .iter()
            .any(|e| e.path.ends_with(format!("{:020}.log", 0))),
        "{what}: no recovery event for the segment: {events:?}"
    );
    assert!(
        logs.to_lowercase().contains("truncat"),
        "{what}: reason not logged: {logs}"
    );
    // The log accepts new data where the good prefix ends.
    let batch = AppendBatch {
        format: BatchFormat::Kafka,
        payload: b"after".to_vec().into(),
        record_count: 1,
        last_offset_delta: 0,
        first_timestamp_us: 9,
        max_timestamp_us: 9,
    };
    assert_eq!(
        log.append_blocking(batch, |_| {}).unwrap().base_offset,
        kept as u64
    );
}

#[test]
fn truncated_frame_header_is_cut_off() {
    let dir = tempfile::tempdir().unwrap();
    write_partition(dir.path());
    let pos = frame_position(dir.path(), 5) + 20; // mid-header of the last frame
    truncate_to(&segment_file(dir.path(), "log"), pos);
    assert_truncated_to(dir.path(), 5, "truncated header");
}

#[test]
fn truncated_payload_is_cut_off() {
    let dir = tempfile::tempdir().unwrap();
    write_partition(dir.path());
    let pos = frame_position(dir.path(), 5) + FRAME_HEADER_BYTES as u64 + 100;
    truncate_to(&segment_file(dir.path(), "log"), pos);
    assert_truncated_to(dir.path(), 5, "truncated payload");
}

#[test]
fn flipped_payload_byte_mid_segment_costs_only_its_frame() {
    let dir = tempfile::tempdir().unwrap();
    write_partition(dir.path());
    let pos = frame_position(dir.path(), 3) + FRAME_HEADER_BYTES as u64 + 1234;
    let mut f = OpenOptions::new()
        .read(true)
        .write(true)
        .open(segment_file(dir.path(), "log"))
        .unwrap();
    f.seek(SeekFrom::Start(pos)).unwrap();
    let mut b = [0u8; 1];
    std::io::Read::read_exact(&mut f, &mut b).unwrap();
    f.seek(SeekFrom::Start(pos)).unwrap();
    f.write_all(&[b[0] ^ 0x40]).unwrap();
    drop(f);
    // The corrupt frame is never served; the frames after it are kept and served (see
    // tests/damage.rs for the whole contract).
    let ((log, events), logs) = reopen(dir.path());
    assert_eq!(log.next_offset(), 6, "nothing cut off: {events:?}");
    let offsets = |from| -> Vec<u64> {
        let read = log.read_blocking(from, 1 << 20).unwrap();
        read.frames.iter().map(|f| f.header.base_offset).collect()
    };
    assert_eq!(offsets(0), vec![0, 1, 2]);
    assert!(log.read_blocking(3, 1 << 20).is_err());
    assert_eq!(offsets(4), vec![4, 5]);
    assert!(logs.contains("offsets 3..4 cannot be read"), "{logs}");
}

fn assert_index_rebuilt(dir: &Path) {
    let ((log, events), logs) = reopen(dir);
    assert_eq!(offsets_readable(&log), (0..6).collect::<Vec<_>>());
    for i in 0..6u64 {
        let r = log.read_blocking(i, 1).unwrap();
        assert_eq!(
            r.frames[0].header.base_offset, i,
            "offset lookup through rebuilt index"
        );
        let h = log
            .find_by_timestamp_blocking(1_000_000 * (i as i64 + 1))
            .unwrap()
            .unwrap();
        assert_eq!(h.base_offset, i, "timestamp lookup through rebuilt index");
    }
    assert!(
        events
            .iter()
            .any(|e| e.path.ends_with(format!("{:020}.index", 0))),
        "no recovery event for the index: {events:?}"
    );
    assert!(
        logs.to_lowercase().contains("index"),
        "reason not logged: {logs}"
    );
    assert!(segment_file(dir, "index").exists(), "index written again");
}

#[test]
fn garbage_index_is_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    write_partition(dir.path());
    std::fs::write(segment_file(dir.path(), "index"), vec![0xAB; 333]).unwrap();
    assert_index_rebuilt(dir.path());
}

#[test]
fn missing_index_is_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    write_partition(dir.path());
    std::fs::remove_file(segment_file(dir.path(), "index")).unwrap();
    assert_index_rebuilt(dir.path());
}

#[test]
fn stray_files_are_reported_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    write_partition(dir.path());
    let strays = ["notes.txt", "abc.log", "12.index"];
    for s in strays {
        std::fs::write(dir.path().join(s), b"not ours").unwrap();
    }
    let ((log, events), logs) = reopen(dir.path());
    assert_eq!(offsets_readable(&log), (0..6).collect::<Vec<_>>());
    for s in strays {
        assert!(
            events.iter().any(|e| e.path.ends_with(s)),
            "{s} not reported: {events:?}"
        );
        assert!(logs.contains(s), "{s} not logged: {logs}");
        assert_eq!(
            std::fs::read(dir.path().join(s)).unwrap(),
            b"not ours",
            "{s} touched"
        );
    }
}

/// Closes the partition written by `write_partition` cleanly (leaving the marker).
fn close_cleanly(dir: &Path) {
    let (log, _) =
        PartitionLog::open(dir.to_path_buf(), 0, TopicSettings::default(), &config(dir)).unwrap();
    log.close().unwrap();
    assert!(
        dir.join("clean.shutdown").exists(),
        "close leaves the marker"
    );
}

fn flip_byte(path: &Path, pos: u64) {
    let mut f = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .unwrap();
    f.seek(SeekFrom::Start(pos)).unwrap();
    let mut b = [0u8; 1];
    std::io::Read::read_exact(&mut f, &mut b).unwrap();
    f.seek(SeekFrom::Start(pos)).unwrap();
    f.write_all(&[b[0] ^ 0x40]).unwrap();
}

#[test]
fn clean_close_skips_the_full_scan_but_reads_still_verify() {
    let dir = tempfile::tempdir().unwrap();
    write_partition(dir.path());
    close_cleanly(dir.path());
    // Damage a frame in the middle of the active segment after the clean close: the open trusts
    // the segment (no scan, no event), but the damaged frame is still never served.
    let pos = frame_position(dir.path(), 3) + FRAME_HEADER_BYTES as u64 + 7;
    flip_byte(&segment_file(dir.path(), "log"), pos);
    let ((log, events), _) = reopen(dir.path());
    assert!(events.is_empty(), "clean open reports nothing: {events:?}");
    assert!(
        !dir.path().join("clean.shutdown").exists(),
        "the marker is used once"
    );
    assert_eq!(log.next_offset(), 6);
    for i in 0..3u64 {
        assert_eq!(
            log.read_blocking(i, 1).unwrap().frames[0]
                .header
                .base_offset,
            i
        );
    }
    assert!(
        log.read_blocking(3, 1).is_err(),
        "a frame failing its checksum is an error"
    );
}

#[test]
fn stale_clean_marker_is_ignored() {
    let dir = tempfile::tempdir().unwrap();
    write_partition(dir.path());
    close_cleanly(dir.path());
    // Bytes appended after the marker was written (a torn write after a later open, say): the
    // size no longer matches, so the segment is scanned and the torn tail cut off.
    let log_path = segment_file(dir.path(), "log");
    let mut f = OpenOptions::new().append(true).open(&log_path).unwrap();
    f.write_all(&[0x57; 30]).unwrap();
    drop(f);
    assert_truncated_to(dir.path(), 6, "tail after a clean close");
}
