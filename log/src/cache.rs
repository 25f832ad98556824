//! The recent-append cache: the newest frames of a partition, kept in memory (payloads as
//! `Bytes`, shared without copying) so tailing readers are served without a syscall.
//!
//! Invariant: the cached frames are contiguous and end exactly at the writer's next offset, so
//! a reader whose offset falls inside the cache gets exactly what the disk would give it. The
//! cache is bounded by [`RECENT_CACHE_BYTES_MAX`]; a frame too big for it empties it.

use std::collections::VecDeque;

use crate::budget::ReadBudget;
use crate::frame::FRAME_HEADER_BYTES;
use crate::limits::RECENT_CACHE_BYTES_MAX;
use crate::partition::StoredFrame;

/// Bounded FIFO of the newest frames.
#[derive(Debug, Default)]
pub(crate) struct RecentCache {
    frames: VecDeque<StoredFrame>,
    bytes: usize,
}

fn cost(frame: &StoredFrame) -> usize {
    frame.payload.len() + FRAME_HEADER_BYTES
}

impl RecentCache {
    /// Adds the frame just appended, evicting the oldest frames to stay under the bound.
    pub(crate) fn push(&mut self, frame: StoredFrame) {
        if let Some(last) = self.frames.back() {
            assert_eq!(
                last.header.next_offset(),
                frame.header.base_offset,
                "cache gap"
            );
        }
        let c = cost(&frame);
        if c > RECENT_CACHE_BYTES_MAX {
            self.clear();
            return;
        }
        self.bytes += c;
        self.frames.push_back(frame);
        while self.bytes > RECENT_CACHE_BYTES_MAX {
            match self.frames.pop_front() {
                Some(old) => self.bytes -= cost(&old),
                None => break,
            }
        }
    }

    /// Forgets everything (purge, truncation).
    pub(crate) fn clear(&mut self) {
        self.frames.clear();
        self.bytes = 0;
    }

    /// Frames starting with the one holding `from`, below `high_watermark`, within `max_bytes`
    /// of payload (at least one frame). `None` when the cache does not hold `from`.
    pub(crate) fn read(
        &self,
        from: u64,
        high_watermark: u64,
        max_bytes: usize,
    ) -> Option<Vec<StoredFrame>> {
        let first = self.frames.front()?;
        if from < first.header.base_offset {
            return None;
        }
        let start = self
            .frames
            .partition_point(|f| f.header.next_offset() <= from);
        if start == self.frames.len() {
            return None;
        }
        let mut out = Vec::new();
        let mut budget = ReadBudget::new(max_bytes);
        for f in self.frames.range(start..) {
            let len = f.payload.len();
            if f.header.next_offset() > high_watermark || !budget.admits(len) {
                break;
            }
            out.push(f.clone());
            if budget.take(len) {
                break;
            }
        }
        Some(out)
    }

    /// Bytes held (payloads plus headers).
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn frame(base: u64, len: usize) -> StoredFrame {
        StoredFrame::for_test(base, len)
    }

    #[test]
    fn serves_held_offsets_and_respects_bounds() {
        let mut c = RecentCache::default();
        for i in 0..10 {
            c.push(frame(i * 2, 100));
        }
        assert!(c.read(0, 20, 1).unwrap().len() == 1);
        let r = c.read(5, 20, 250).unwrap();
        assert_eq!(
            r.iter().map(|f| f.header.base_offset).collect::<Vec<_>>(),
            vec![4, 6]
        );
        // Frames at or above the high watermark are not visible.
        assert_eq!(c.read(16, 18, 10_000).unwrap().len(), 1);
        assert!(c.read(20, 20, 10).is_none());
        c.push(frame(20, RECENT_CACHE_BYTES_MAX));
        assert!(
            c.read(20, 22, 10).is_none(),
            "oversized frame empties the cache"
        );
        assert_eq!(c.bytes(), 0);
    }

    #[test]
    fn evicts_oldest_beyond_bound() {
        let mut c = RecentCache::default();
        let big = RECENT_CACHE_BYTES_MAX / 3;
        for i in 0..5 {
            c.push(frame(i * 2, big));
        }
        assert!(c.bytes() <= RECENT_CACHE_BYTES_MAX);
        assert!(c.read(0, 10, 10).is_none());
        assert_eq!(c.read(8, 10, 10).unwrap()[0].header.base_offset, 8);
    }
}
