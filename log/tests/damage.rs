//! Damage in the middle of the log: one flipped byte mid-segment must cost only the frame it
//! hit. After an unclean stop recovery keeps the file and records the damaged range (it cuts
//! only a torn tail, bad bytes with nothing valid after them); after a clean stop the first
//! read that meets the damage finds the range. Either way reads serve every frame before the
//! damage, refuse the damaged offsets and serve every frame after them.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs::OpenOptions;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use whippet_log::{
    AppendBatch, BatchFormat, DamagedRange, FRAME_HEADER_BYTES, FsyncPolicy, LogConfig, LogError,
    PartitionLog, RecoveryAction, RecoveryEvent, TopicSettings,
};

/// Frames of one record each; sizes chosen so that with the default 4 KiB index interval only
/// frames 0 and 4 get index entries (a read of offset 2 scans from frame 0).
const PAYLOAD_LENS: [usize; 8] = [100, 2000, 300, 4000, 50, 1500, 700, 900];

/// Captures what the log writes through `tracing` (ERROR and WARN) while `f` runs.
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

fn config(dir: &Path) -> LogConfig {
    let mut c = LogConfig::new(dir);
    c.fsync = FsyncPolicy::Never;
    c
}

fn settings() -> TopicSettings {
    TopicSettings::default()
}

fn payload(i: usize) -> Vec<u8> {
    (0..PAYLOAD_LENS[i]).map(|j| (i * 31 + j) as u8).collect()
}

fn open(dir: &Path) -> (Arc<PartitionLog>, Vec<RecoveryEvent>) {
    PartitionLog::open(dir.to_path_buf(), 0, settings(), &config(dir)).unwrap()
}

/// Writes the frames (offsets 0..8) into one segment; `clean` closes the partition cleanly,
/// otherwise it is left as after a crash (synced, no clean-shutdown marker).
fn write_partition(dir: &Path, clean: bool) {
    let (log, _) = open(dir);
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
    if clean {
        log.close().unwrap();
    } else {
        log.sync().unwrap();
    }
}

fn segment(dir: &Path) -> PathBuf {
    dir.join(format!("{:020}.log", 0))
}

/// File position where frame `i` starts (after the 24-byte segment file header).
fn frame_position(i: usize) -> u64 {
    24 + PAYLOAD_LENS[..i]
        .iter()
        .map(|l| (FRAME_HEADER_BYTES + l) as u64)
        .sum::<u64>()
}

fn flip_byte(path: &Path, pos: u64) {
    let mut f = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .unwrap();
    f.seek(SeekFrom::Start(pos)).unwrap();
    let mut b = [0u8; 1];
    f.read_exact(&mut b).unwrap();
    f.seek(SeekFrom::Start(pos)).unwrap();
    f.write_all(&[b[0] ^ 0x40]).unwrap();
}

/// Offsets a read from `from` returns, each checked against what was written.
fn read_offsets(log: &PartitionLog, from: u64) -> Result<Vec<u64>, LogError> {
    let read = log.read_blocking(from, 1 << 20)?;
    Ok(read
        .frames
        .iter()
        .map(|f| {
            let i = f.header.base_offset as usize;
            assert_eq!(&f.payload[..], &payload(i)[..], "frame {i} intact");
            f.header.base_offset
        })
        .collect())
}

/// The damaged range one flipped byte in frame `i` makes.
fn range_of_frame(i: usize) -> DamagedRange {
    DamagedRange {
        start_position: frame_position(i),
        end_position: frame_position(i + 1),
        first_offset: i as u64,
        next_offset: i as u64 + 1,
    }
}

/// What every damaged log must answer: frames before the damage, an error on it, the frames
/// after it, appends going on at the end.
fn assert_reads_around(log: &PartitionLog, damaged: usize) {
    let damaged = damaged as u64;
    let all = PAYLOAD_LENS.len() as u64;
    assert_eq!(
        read_offsets(log, 0).unwrap(),
        (0..damaged).collect::<Vec<_>>()
    );
    assert!(matches!(
        read_offsets(log, damaged),
        Err(LogError::CorruptFrame { .. })
    ));
    for from in damaged + 1..all {
        assert_eq!(
            read_offsets(log, from).unwrap(),
            (from..all).collect::<Vec<_>>()
        );
    }
    assert_eq!(log.next_offset(), all, "nothing was cut off");
    assert_eq!(log.high_watermark(), all);
    let batch = AppendBatch {
        format: BatchFormat::Kafka,
        payload: b"after".to_vec().into(),
        record_count: 1,
        last_offset_delta: 0,
        first_timestamp_us: 9,
        max_timestamp_us: 9,
    };
    assert_eq!(log.append_blocking(batch, |_| {}).unwrap().base_offset, all);
}

/// Unclean stop, one flipped byte in frame `damaged` at `within` bytes into it: recovery
/// keeps the file, reports and logs the range at ERROR, and reads go around it.
fn unclean_open_keeps(damaged: usize, within: u64) {
    let dir = tempfile::tempdir().unwrap();
    write_partition(dir.path(), false);
    let len = std::fs::metadata(segment(dir.path())).unwrap().len();
    flip_byte(&segment(dir.path()), frame_position(damaged) + within);
    let ((log, events), logs) = with_logs(|| open(dir.path()));
    let range = range_of_frame(damaged);
    assert!(
        events
            .iter()
            .any(|e| e.action == RecoveryAction::KeptDamagedRange(range)),
        "{events:?}"
    );
    assert!(
        !events
            .iter()
            .any(|e| matches!(e.action, RecoveryAction::TruncatedTail { .. })),
        "{events:?}"
    );
    assert!(logs.contains("ERROR"), "{logs}");
    for fact in [
        segment(dir.path()).display().to_string(),
        format!("offsets {}..{}", range.first_offset, range.next_offset),
        format!("bytes {}..{}", range.start_position, range.end_position),
    ] {
        assert!(logs.contains(&fact), "{fact} not logged: {logs}");
    }
    assert_eq!(std::fs::metadata(segment(dir.path())).unwrap().len(), len);
    assert_eq!(log.damaged_ranges(), vec![range]);
    assert_reads_around(&log, damaged);
}

#[test]
fn unclean_open_keeps_a_frame_with_a_flipped_payload_byte_and_the_frames_after_it() {
    unclean_open_keeps(2, FRAME_HEADER_BYTES as u64 + 123);
}

#[test]
fn unclean_open_keeps_a_frame_with_a_flipped_header_byte_and_the_frames_after_it() {
    unclean_open_keeps(2, 9); // inside the base offset: the header checksum fails
}

#[test]
fn clean_open_finds_mid_segment_damage_on_read_and_serves_around_it() {
    // (byte flipped within frame 2, what a timestamp lookup landing on frame 2 answers): the
    // lookup reads headers only, so a frame whose header is intact is still its answer (the
    // fetch that follows gets the error); a damaged header is stepped over.
    for (within, found) in [(FRAME_HEADER_BYTES as u64 + 7, 2), (1, 3)] {
        let dir = tempfile::tempdir().unwrap();
        write_partition(dir.path(), true);
        flip_byte(&segment(dir.path()), frame_position(2) + within);
        let (log, events) = open(dir.path());
        assert!(
            events.is_empty(),
            "a clean open trusts the segment: {events:?}"
        );
        let (_, logs) = with_logs(|| assert_reads_around(&log, 2));
        assert!(logs.contains("ERROR"), "{logs}");
        assert!(logs.contains("offsets 2..3"), "{logs}");
        assert_eq!(log.damaged_ranges(), vec![range_of_frame(2)]);
        let header = log.find_by_timestamp_blocking(2_500_000).unwrap().unwrap();
        assert_eq!(header.base_offset, found);
        assert_eq!(
            log.find_by_timestamp_blocking(1_000_000)
                .unwrap()
                .unwrap()
                .base_offset,
            0
        );
    }
}

#[test]
fn garbled_last_frame_is_a_torn_tail_and_is_cut_off() {
    let dir = tempfile::tempdir().unwrap();
    write_partition(dir.path(), false);
    let last = PAYLOAD_LENS.len() - 1;
    flip_byte(&segment(dir.path()), frame_position(last) + 100);
    let ((log, events), logs) = with_logs(|| open(dir.path()));
    let at = frame_position(last);
    assert!(
        events
            .iter()
            .any(|e| matches!(e.action, RecoveryAction::TruncatedTail { at: a, .. } if a == at)),
        "{events:?}"
    );
    assert!(logs.contains("truncated"), "{logs}");
    assert!(log.damaged_ranges().is_empty());
    assert_eq!(log.next_offset(), last as u64);
    assert_eq!(std::fs::metadata(segment(dir.path())).unwrap().len(), at);
    assert_eq!(
        read_offsets(&log, 0).unwrap(),
        (0..last as u64).collect::<Vec<_>>()
    );
}

#[test]
fn damage_at_the_end_of_a_rolled_segment_keeps_the_segments_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let small = TopicSettings {
        segment_bytes: 64 * 1024,
        ..TopicSettings::default()
    };
    let frame = |i: u64| AppendBatch {
        format: BatchFormat::Native,
        payload: vec![i as u8; 10_000].into(),
        record_count: 1,
        last_offset_delta: 0,
        first_timestamp_us: 1,
        max_timestamp_us: 1,
    };
    let open_small = || {
        PartitionLog::open(
            dir.path().to_path_buf(),
            0,
            small.clone(),
            &config(dir.path()),
        )
        .unwrap()
    };
    {
        let (log, _) = open_small();
        for i in 0..20 {
            log.append_blocking(frame(i), |_| {}).unwrap();
        }
        log.sync().unwrap();
    }
    // Six 10 KB frames fit in a 64 KiB segment: the second segment starts at offset 6.
    let first = segment(dir.path());
    let second = dir.path().join(format!("{:020}.log", 6));
    assert!(second.exists());
    let len = std::fs::metadata(&first).unwrap().len();
    flip_byte(&first, len - 10); // in the last frame's payload
    let (log, events) = open_small();
    let range = DamagedRange {
        start_position: len - (FRAME_HEADER_BYTES as u64 + 10_000),
        end_position: len,
        first_offset: 5,
        next_offset: 6,
    };
    assert!(
        events
            .iter()
            .any(|e| e.action == RecoveryAction::KeptDamagedRange(range)),
        "{events:?}"
    );
    assert!(second.exists(), "the next segment is kept, not quarantined");
    assert_eq!(log.next_offset(), 20);
    assert_eq!(log.read_blocking(0, 1 << 20).unwrap().frames.len(), 5);
    assert!(matches!(
        log.read_blocking(5, 1),
        Err(LogError::CorruptFrame { .. })
    ));
    let after = log.read_blocking(6, 1 << 20).unwrap();
    assert_eq!(after.frames[0].header.base_offset, 6);
    assert_eq!(&after.frames[0].payload[..], &[6u8; 10_000][..]);
}
