//! A partition's side of the remote tier (see `crate::remote`): the closed segments a tier may
//! copy, how far its copy reaches, the attached reader, and reads below the local segments.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::{Inner, PartitionLog, StoredFrame};
use crate::error::{LogError, Result};
use crate::frame::FrameHeader;
use crate::remote::{ClosedSegment, RemoteRange, RemoteSegments};
use crate::segment::index_file_name;
use crate::sync_util::lock;

impl PartitionLog {
    /// The closed segments that are durable on the local disk, oldest first (never the active
    /// one). With `fsync = never` nothing is ever synced by the log, so every closed segment
    /// counts.
    pub fn closed_segments(&self) -> Vec<ClosedSegment> {
        let inner = &self.inner;
        let durable = match inner.policy {
            crate::config::FsyncPolicy::Never => u64::MAX,
            _ => inner.durability.durable_next(),
        };
        let segments = inner.segments.load_full();
        let closed = &segments[..segments.len().saturating_sub(1)];
        closed
            .iter()
            .filter(|s| s.next_offset() <= durable && s.next_offset() > s.base_offset())
            .map(|s| ClosedSegment {
                base_offset: s.base_offset(),
                next_offset: s.next_offset(),
                max_timestamp_us: s.max_timestamp_us(),
                size: s.size(),
                log_path: s.log_path().to_path_buf(),
                index_path: inner.dir.join(index_file_name(s.base_offset())),
            })
            .collect()
    }

    /// Everything below `end` is held by the remote tier (only ever moves up): local retention
    /// may remove local segments wholly below it.
    pub fn set_remote_end(&self, end: u64) {
        self.inner.remote_end.fetch_max(end, Ordering::AcqRel);
    }

    /// How far the remote tier's copy reaches (0: nothing copied).
    pub fn remote_end(&self) -> u64 {
        self.inner.remote_end.load(Ordering::Acquire)
    }

    /// First offset held by a local segment.
    pub fn local_start_offset(&self) -> u64 {
        let segments = self.inner.segments.load();
        segments.first().map_or(0, |s| s.base_offset())
    }

    /// Attaches the reader of the partition's remote segments, which hold `range` (`None`:
    /// nothing yet). An empty partition whose remote part ends later starts over at its end (a
    /// data directory restored from the remote tier); when the remote part reaches the local
    /// segments, the log start moves down to the remote start (never below a start the
    /// partition keeps for a delete-records, which the tier's manifest records).
    pub fn attach_remote(
        &self,
        reader: Arc<dyn RemoteSegments>,
        range: Option<RemoteRange>,
    ) -> Result<()> {
        let inner = &self.inner;
        let _m = lock(&inner.maintenance);
        *lock(&inner.remote) = Some(reader);
        let Some(range) = range else {
            return Ok(());
        };
        inner.remote_end.fetch_max(range.end, Ordering::AcqRel);
        let mut w = lock(&inner.writer);
        let segments = inner.segments.load_full();
        if segments.len() == 1 && w.active.is_empty() && w.next_offset < range.end {
            let old = Arc::clone(&w.active);
            old.remove_files()?;
            inner.restart_at(&mut w, range.end)?;
            tracing::info!(
                path = %inner.dir.display(),
                next_offset = range.end,
                "empty partition continues after its remote segments"
            );
        }
        let local_start = inner.segments.load().first().map_or(0, |s| s.base_offset());
        if range.end >= local_start && range.start < local_start {
            let start = inner.log_start.load(Ordering::Acquire);
            if start == local_start {
                inner.log_start.store(range.start, Ordering::Release);
            }
        }
        Ok(())
    }
}

impl Inner {
    fn remote_reader(&self) -> Option<Arc<dyn RemoteSegments>> {
        lock(&self.remote).clone()
    }

    /// Frames for a read below the first local segment, from the remote tier; `None` when the
    /// read is for the local segments.
    pub(super) fn read_remote(
        &self,
        from: u64,
        hw: u64,
        max_bytes: usize,
    ) -> Result<Option<Vec<StoredFrame>>> {
        let local_start = self.segments.load().first().map_or(0, |s| s.base_offset());
        if from >= local_start {
            return Ok(None);
        }
        let Some(reader) = self.remote_reader() else {
            // Held by the remote tier (the log start is below the local segments), whose
            // reader is not attached yet (object store unreachable since the start): a
            // storage error clients retry, not "out of range", which would make them skip it.
            return Err(LogError::io(
                &self.dir,
                std::io::Error::other(format!(
                    "offset {from} is in the remote tier, which is not reachable yet"
                )),
            ));
        };
        let mut frames = reader.read(from, max_bytes)?;
        frames.retain(|f| f.header.next_offset() <= hw && f.header.next_offset() > from);
        if frames.is_empty() {
            return Err(LogError::io(
                &self.dir,
                std::io::Error::other(format!("the remote tier holds no frame at offset {from}")),
            ));
        }
        Ok(Some(frames))
    }

    /// A timestamp lookup in the remote segments still above the log start.
    pub(super) fn find_remote(&self, ts_us: i64) -> Result<Option<FrameHeader>> {
        let Some(reader) = self.remote_reader() else {
            return Ok(None);
        };
        let start = self.log_start.load(Ordering::Acquire);
        let local_start = self.segments.load().first().map_or(0, |s| s.base_offset());
        if start >= local_start {
            return Ok(None);
        }
        Ok(reader
            .find_by_timestamp(ts_us)?
            .filter(|h| h.next_offset() > start))
    }
}
