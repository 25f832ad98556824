//! The destructive operations of a partition: retention, delete-records, purge and removal.
//! All are serialised by the maintenance lock; each takes the writer lock only to swap the
//! segment list, and deletes files after letting go of it (readers still holding a removed
//! segment keep reading through their open handle).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::{Inner, PartitionLog, RetentionOutcome, Writer};
use crate::checkpoint;
use crate::error::{LogError, Result};
use crate::recovery::{RecoveryAction, RecoveryEvent};
use crate::segment::Segment;
use crate::sync_util::lock;

impl PartitionLog {
    /// DeleteRecords with the new log start persisted by `persist` instead of the partition's
    /// own `log_start.offset` (the log, when its catalog store keeps log starts). `persist` runs
    /// only when the start moves, before anything changes; its error leaves the partition as
    /// it was.
    pub(crate) fn delete_records_persisted_by(
        &self,
        before_offset: u64,
        persist: impl FnOnce(u64) -> Result<()>,
    ) -> Result<u64> {
        self.inner.delete_records_with(before_offset, persist)
    }

    /// Moves the log start up to `start`, kept outside the partition (at open, from the
    /// catalog store); a start beyond the data is reset to its end and reported.
    pub(crate) fn restore_log_start(&self, start: u64) -> Option<RecoveryEvent> {
        let inner = &self.inner;
        let _m = lock(&inner.maintenance);
        let end = inner.high_watermark.load(Ordering::Acquire);
        if start <= end {
            inner.log_start.fetch_max(start, Ordering::AcqRel);
            return None;
        }
        inner.log_start.fetch_max(end, Ordering::AcqRel);
        let reason = format!("stored log start {start} is beyond the data (ends at {end})");
        tracing::warn!(path = %inner.dir.display(), %reason, "partition recovery: {reason}");
        Some(RecoveryEvent {
            path: inner.dir.clone(),
            action: RecoveryAction::LogStartReset { to: end },
            reason,
        })
    }

    /// Removes the partition's own `log_start.offset` (if any), once its value is kept
    /// elsewhere.
    pub(crate) fn remove_log_start_file(&self) -> Result<()> {
        let inner = &self.inner;
        let _m = lock(&inner.maintenance);
        checkpoint::remove_log_start(&inner.dir)
    }
}

impl Inner {
    pub(super) fn delete_records(&self, before: u64) -> Result<u64> {
        // Persist first: a crash after this but before the segments go still starts at `before`.
        self.delete_records_with(before, |before| {
            checkpoint::write_log_start(&self.dir, before)
        })
    }

    fn delete_records_with(
        &self,
        before: u64,
        persist: impl FnOnce(u64) -> Result<()>,
    ) -> Result<u64> {
        let _m = lock(&self.maintenance);
        self.check_alive()?;
        let hw = self.high_watermark.load(Ordering::Acquire);
        if before > hw {
            return Err(self.out_of_range(before));
        }
        let start = self.log_start.load(Ordering::Acquire);
        if before <= start {
            return Ok(start);
        }
        persist(before)?;
        self.log_start.fetch_max(before, Ordering::AcqRel);
        let segments = self.segments.load_full();
        let closed = segments.len().saturating_sub(1);
        let n = segments
            .iter()
            .take(closed)
            .take_while(|s| s.next_offset() <= before)
            .count();
        self.remove_prefix(n)?;
        Ok(self.log_start.load(Ordering::Acquire))
    }

    pub(super) fn enforce_retention(&self, now_us: i64) -> Result<RetentionOutcome> {
        let _m = lock(&self.maintenance);
        self.check_alive()?;
        let rolled = self.maybe_roll(now_us)?;
        let settings = self.settings.load_full();
        let segments = self.segments.load_full();
        // Never the active (last) segment.
        let closed = &segments[..segments.len().saturating_sub(1)];
        let mut n = 0;
        // `cleanup.policy=compact` alone: the cleaner, not retention, shrinks the log.
        let deletes = settings.compaction.is_none_or(|c| c.delete_too);
        if let Some(ms) = settings.retention_ms.filter(|_| deletes) {
            let limit_us = i64::try_from(ms.saturating_mul(1000)).unwrap_or(i64::MAX);
            n = closed
                .iter()
                .take_while(|s| now_us.saturating_sub(s.max_timestamp_us()) > limit_us)
                .count();
        }
        if let Some(limit) = settings.retention_bytes.filter(|_| deletes) {
            let mut total: u64 = segments.iter().skip(n).map(|s| s.size()).sum();
            while total > limit {
                let Some(seg) = closed.get(n) else { break };
                total -= seg.size();
                n += 1;
            }
        }
        let (mut removed_segments, mut removed_bytes) = self.remove_prefix(n)?;
        if settings.remote_storage {
            let local = self.local_retention_count(&settings, now_us);
            let (segments, bytes) = self.remove_local_prefix(local)?;
            removed_segments += segments;
            removed_bytes += bytes;
        }
        let log_start_offset = self.log_start.load(Ordering::Acquire);
        Ok(RetentionOutcome {
            removed_segments,
            removed_bytes,
            log_start_offset,
            rolled,
        })
    }

    pub(super) fn delete_oldest_segments(&self, count: u32) -> Result<(u32, u64)> {
        let _m = lock(&self.maintenance);
        self.check_alive()?;
        self.remove_prefix(usize::try_from(count).unwrap_or(usize::MAX))
    }

    /// How many of the oldest closed segments local retention removes: those wholly below the
    /// remote end (copied to the remote tier) that are older than `local_retention_ms` or
    /// beyond `local_retention_bytes` (each `-2`: the log's default, which is itself `-2`, as
    /// the total retention, unless set; `-1`: no limit).
    fn local_retention_count(&self, settings: &crate::TopicSettings, now_us: i64) -> usize {
        let remote_end = self.remote_end.load(Ordering::Acquire);
        let segments = self.segments.load_full();
        let closed = &segments[..segments.len().saturating_sub(1)];
        let copied = closed
            .iter()
            .take_while(|s| s.next_offset() <= remote_end)
            .count();
        let (default_ms, default_bytes) = self.local_retention_defaults;
        let local_limit = |local: i64, default: i64, total: Option<u64>| match if local == -2 {
            default
        } else {
            local
        } {
            -2 => total,
            limit => u64::try_from(limit).ok(),
        };
        let local_ms = local_limit(
            settings.local_retention_ms,
            default_ms,
            settings.retention_ms,
        );
        let local_bytes = local_limit(
            settings.local_retention_bytes,
            default_bytes,
            settings.retention_bytes,
        );
        let mut n = 0;
        if let Some(ms) = local_ms {
            let limit_us = i64::try_from(ms.saturating_mul(1000)).unwrap_or(i64::MAX);
            n = closed[..copied]
                .iter()
                .take_while(|s| now_us.saturating_sub(s.max_timestamp_us()) > limit_us)
                .count();
        }
        if let Some(limit) = local_bytes {
            let mut total: u64 = segments.iter().skip(n).map(|s| s.size()).sum();
            while total > limit && n < copied {
                total -= closed[n].size();
                n += 1;
            }
        }
        n
    }

    /// Drops the `n` oldest segments (never the active one) and deletes their files.
    fn remove_prefix(&self, n: usize) -> Result<(u32, u64)> {
        self.remove_segments(n, true)
    }

    /// [`Self::remove_prefix`] for segments held by the remote tier: the log start stays.
    /// Removes `n` local segments the remote tier holds, after persisting what it holds (so
    /// a restart keeps the log start below them, even before the tier is back).
    fn remove_local_prefix(&self, n: usize) -> Result<(u32, u64)> {
        if n == 0 {
            return Ok((0, 0));
        }
        let start = self.log_start.load(Ordering::Acquire);
        let end = self.remote_end.load(Ordering::Acquire);
        checkpoint::write_remote_range(&self.dir, start, end)?;
        self.remove_segments(n, false)
    }

    fn remove_segments(&self, n: usize, move_start: bool) -> Result<(u32, u64)> {
        if n == 0 {
            return Ok((0, 0));
        }
        let removed: Vec<Arc<Segment>> = {
            let _w = lock(&self.writer);
            let segments = self.segments.load_full();
            let n = n.min(segments.len().saturating_sub(1));
            let (gone, kept) = segments.split_at(n);
            let Some(first) = kept.first() else {
                return Ok((0, 0));
            };
            if move_start {
                self.log_start
                    .fetch_max(first.base_offset(), Ordering::AcqRel);
            }
            self.segments.store(Arc::new(kept.to_vec()));
            gone.to_vec()
        };
        let bytes = removed.iter().map(|s| s.size()).sum();
        for seg in &removed {
            tracing::debug!(path = %seg.log_path().display(), "removing segment");
            seg.remove_files()?;
        }
        Ok((u32::try_from(removed.len()).unwrap_or(u32::MAX), bytes))
    }

    pub(super) fn purge(&self) -> Result<()> {
        let _m = lock(&self.maintenance);
        self.check_alive()?;
        let mut w = lock(&self.writer);
        for seg in self.segments.load().iter() {
            seg.remove_files()?;
        }
        checkpoint::remove_log_start(&self.dir)?;
        checkpoint::remove_remote_range(&self.dir)?;
        self.restart_at(&mut w, 0)
    }

    /// Starts the partition over, empty, with one fresh segment at `base` (its old files are
    /// gone already). Under the maintenance and writer locks.
    pub(super) fn restart_at(&self, w: &mut Writer, base: u64) -> Result<()> {
        let fresh = Arc::new(Segment::create(
            &self.store,
            &self.dir,
            base,
            self.index_interval,
        )?);
        self.store
            .sync_dir(&self.dir)
            .map_err(|e| LogError::io(&self.dir, e))?;
        w.active = Arc::clone(&fresh);
        w.next_offset = base;
        w.unsynced.clear();
        w.dir_dirty = false;
        self.segments.store(Arc::new(vec![fresh]));
        lock(&self.cache).clear();
        self.durability.reset_to(base);
        self.next_offset.store(base, Ordering::Release);
        self.high_watermark.store(base, Ordering::Release);
        self.log_start.store(base, Ordering::Release);
        self.hw_tx.send_replace(base);
        Ok(())
    }

    pub(super) fn remove(&self) -> Result<()> {
        self.deleted.store(true, Ordering::Release);
        self.durability.close();
        // Wake long-polls so they see the deletion.
        self.hw_tx.send_modify(|_| {});
        let _m = lock(&self.maintenance);
        let _w = lock(&self.writer);
        lock(&self.cache).clear();
        match std::fs::remove_dir_all(&self.dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(LogError::io(&self.dir, e)),
        }
    }

    pub(super) fn check_alive(&self) -> Result<()> {
        if self.deleted.load(Ordering::Acquire) {
            return Err(LogError::PartitionDeleted);
        }
        Ok(())
    }
}
