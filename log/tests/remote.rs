//! The remote-tier seam through the public API, with a tier that keeps its copies in another
//! directory: closed segments copied, local retention removing only copied ones without moving
//! the log start, reads and timestamp lookups below the local segments served from the copies,
//! a damaged copy refused, and an empty partition continuing after its remote part.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use whippet_log::{
    AppendBatch, BatchFormat, FrameHeader, LogConfig, LogError, PartitionLog, RemoteRange,
    RemoteSegments, StoredFrame, TopicSettings, parse_segment,
};

/// Copies of segments in a directory: `(base, next, path)`.
#[derive(Debug, Default)]
struct DirTier {
    copies: Mutex<Vec<(u64, u64, PathBuf)>>,
}

impl DirTier {
    fn copy_closed(&self, log: &PartitionLog, to: &Path) -> u64 {
        let mut copies = self.copies.lock().unwrap();
        for segment in log.closed_segments() {
            if copies
                .iter()
                .any(|(base, _, _)| *base == segment.base_offset)
            {
                continue;
            }
            let path = to.join(format!("{}.log", segment.base_offset));
            std::fs::copy(&segment.log_path, &path).unwrap();
            copies.push((segment.base_offset, segment.next_offset, path));
        }
        let end = copies.last().map_or(0, |(_, next, _)| *next);
        log.set_remote_end(end);
        end
    }

    fn frames(&self, offset: u64) -> Result<Vec<StoredFrame>, LogError> {
        let copies = self.copies.lock().unwrap();
        let (base, _, path) = copies
            .iter()
            .find(|(base, next, _)| *base <= offset && offset < *next)
            .ok_or(LogError::OffsetOutOfRange {
                offset,
                start: 0,
                end: 0,
            })?;
        let image = Bytes::from(std::fs::read(path).map_err(|e| LogError::io(path, e))?);
        parse_segment(&image, *base)
    }
}

impl RemoteSegments for DirTier {
    fn read(&self, from: u64, max_bytes: usize) -> Result<Vec<StoredFrame>, LogError> {
        let mut out = Vec::new();
        let mut bytes = 0;
        for frame in self.frames(from)? {
            if frame.header.next_offset() <= from {
                continue;
            }
            if !out.is_empty() && bytes + frame.payload.len() > max_bytes {
                break;
            }
            bytes += frame.payload.len();
            out.push(frame);
        }
        Ok(out)
    }

    fn find_by_timestamp(&self, ts_us: i64) -> Result<Option<FrameHeader>, LogError> {
        let bases: Vec<u64> = (self.copies.lock().unwrap().iter())
            .map(|(base, _, _)| *base)
            .collect();
        for base in bases {
            let found = self.frames(base)?;
            if let Some(frame) = found.iter().find(|f| f.header.max_timestamp_us >= ts_us) {
                return Ok(Some(frame.header));
            }
        }
        Ok(None)
    }
}

fn settings() -> TopicSettings {
    TopicSettings {
        segment_bytes: 64 * 1024,
        remote_storage: true,
        local_retention_bytes: 0,
        ..TopicSettings::default()
    }
}

fn open(dir: &Path) -> Arc<PartitionLog> {
    let mut config = LogConfig::new(dir);
    config.fsync = whippet_log::FsyncPolicy::Always;
    PartitionLog::open(dir.to_path_buf(), 0, settings(), &config)
        .unwrap()
        .0
}

fn batch(i: u64) -> AppendBatch {
    AppendBatch {
        format: BatchFormat::Native,
        payload: (0..2000).map(|j| (i as usize * 7 + j) as u8).collect(),
        record_count: 2,
        last_offset_delta: 1,
        first_timestamp_us: 1_000 + i as i64,
        max_timestamp_us: 1_000 + i as i64,
    }
}

#[test]
fn copied_segments_leave_the_disk_and_are_read_back_through_the_tier() {
    let dir = tempfile::tempdir().unwrap();
    let remote = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    let payloads: Vec<Vec<u8>> = (0..200)
        .map(|i| {
            let b = batch(i);
            let payload = b.payload.to_vec();
            log.append_durable_blocking(b, |_| {}).unwrap();
            payload
        })
        .collect();
    // Nothing copied yet: local retention removes nothing.
    let before = log.stats().segment_count;
    log.enforce_retention(i64::MAX / 2).unwrap();
    assert_eq!(log.stats().segment_count, before);

    let tier = Arc::new(DirTier::default());
    let end = tier.copy_closed(&log, remote.path());
    assert!(end > 0 && end < 400);
    log.attach_remote(tier.clone(), Some(RemoteRange { start: 0, end }))
        .unwrap();
    log.enforce_retention(i64::MAX / 2).unwrap();
    assert_eq!(log.local_start_offset(), end, "copied segments removed");
    assert_eq!(log.log_start_offset(), 0, "the log start stays");

    // Reopened (no recent-append cache), the tier attached again: everything reads back, below
    // and above the local start.
    log.close().unwrap();
    drop(log);
    let log = open(dir.path());
    // The partition's remote.range keeps the log start at the remote part, and a read there
    // before the tier's reader is attached is a storage error, not "out of range".
    assert_eq!(log.log_start_offset(), 0, "before the tier is attached");
    assert_eq!(log.remote_end(), end);
    assert!(matches!(
        log.read_blocking(0, 1),
        Err(whippet_log::LogError::Io { .. })
    ));
    log.attach_remote(tier.clone(), Some(RemoteRange { start: 0, end }))
        .unwrap();
    assert_eq!(log.log_start_offset(), 0);
    let mut next = 0;
    while next < 400 {
        let read = log.read_blocking(next, 1).unwrap();
        let frame = &read.frames[0];
        assert_eq!(frame.header.base_offset, next);
        assert_eq!(frame.payload.as_ref(), &payloads[(next / 2) as usize][..]);
        next = frame.header.next_offset();
    }
    let found = log.find_by_timestamp_blocking(1_005).unwrap().unwrap();
    assert_eq!(found.base_offset, 10);

    // A damaged copy is refused, not served.
    let first = tier.copies.lock().unwrap()[0].2.clone();
    let mut bytes = std::fs::read(&first).unwrap();
    let at = bytes.len() - 10;
    bytes[at] ^= 1;
    std::fs::write(&first, bytes).unwrap();
    log.close().unwrap();
    drop(log);
    let log = open(dir.path());
    log.attach_remote(tier, Some(RemoteRange { start: 0, end }))
        .unwrap();
    assert!(log.read_blocking(0, 1 << 20).is_err());
    assert_eq!(
        log.read_blocking(end, 1).unwrap().frames[0]
            .header
            .base_offset,
        end
    );
}

#[test]
fn an_empty_partition_continues_after_its_remote_part() {
    let dir = tempfile::tempdir().unwrap();
    let remote = tempfile::tempdir().unwrap();
    let tier = Arc::new(DirTier::default());
    let end = {
        let log = open(dir.path());
        for i in 0..100 {
            log.append_durable_blocking(batch(i), |_| {}).unwrap();
        }
        tier.copy_closed(&log, remote.path())
    };
    let fresh = tempfile::tempdir().unwrap();
    let log = open(fresh.path());
    log.attach_remote(tier, Some(RemoteRange { start: 0, end }))
        .unwrap();
    assert_eq!(log.next_offset(), end);
    assert_eq!(log.log_start_offset(), 0);
    assert_eq!(log.high_watermark(), end);
    let appended = log.append_durable_blocking(batch(1000), |_| {}).unwrap();
    assert_eq!(appended.base_offset, end);
    assert_eq!(
        log.read_blocking(0, 1).unwrap().frames[0]
            .header
            .base_offset,
        0
    );
    assert_eq!(
        log.read_blocking(end, 1).unwrap().frames[0]
            .header
            .base_offset,
        end
    );
}

#[test]
fn a_topic_left_at_minus_two_follows_the_logs_local_retention_default() {
    let remote = tempfile::tempdir().unwrap();
    for (defaults, removes) in [((-2, -2), false), ((-2, 0), true), ((-1, -1), false)] {
        let dir = tempfile::tempdir().unwrap();
        let mut config = LogConfig::new(dir.path());
        config.fsync = whippet_log::FsyncPolicy::Always;
        config.local_retention_defaults = defaults;
        let settings = TopicSettings {
            local_retention_bytes: -2,
            ..settings()
        };
        let log = PartitionLog::open(dir.path().to_path_buf(), 0, settings, &config)
            .unwrap()
            .0;
        for i in 0..100 {
            log.append_durable_blocking(batch(i), |_| {}).unwrap();
        }
        let end = DirTier::default().copy_closed(&log, remote.path());
        log.enforce_retention(0).unwrap();
        assert_eq!(log.local_start_offset() == end, removes, "{defaults:?}");
        assert_eq!(log.log_start_offset(), 0);
    }
}
