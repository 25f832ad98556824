//! The read-ahead of a partition: when a read the recent-append cache cannot serve goes to the
//! files (off the async workers, which costs a thread handoff), it reads at least
//! [`READ_AHEAD_BYTES`] and keeps the frames past what was asked here, so the sequential reads
//! that follow — a native poll asks in doubling steps, a consumer asks again where it stopped —
//! are served from memory on the caller's thread.
//!
//! Invariant: the kept frames are contiguous, were read below the high watermark, and belong to
//! the purge epoch they were read in (a purge restarts offsets at 0, so frames of an older epoch
//! are never served). A read served from here gets exactly what the files would give it: the
//! frames starting with the one holding its offset, within its byte budget, at least one.

use crate::budget::ReadBudget;
use crate::partition::StoredFrame;

/// Bytes a read that goes to the files asks for at least (2 MiB): one or two native polls of
/// 1 000 × 1 KiB messages, or two Kafka fetches of 1 MiB per partition.
pub(crate) const READ_AHEAD_BYTES: usize = 2 * 1024 * 1024;

/// The frames kept from the last read that went to the files.
#[derive(Debug, Default)]
pub(crate) struct ReadAhead {
    frames: Vec<StoredFrame>,
    epoch: u64,
}

/// The prefix of `frames` (which start with the frame holding the read's offset) a read of
/// `max_bytes` gets: frames while the payload total stays within `max_bytes`, at least one —
/// the rule the segment reader applies. The flag says whether the budget ended the prefix
/// (rather than the end of `frames`, after which the files may hold more).
pub(crate) fn within_budget(frames: &[StoredFrame], max_bytes: usize) -> (usize, bool) {
    let mut budget = ReadBudget::new(max_bytes);
    for (n, frame) in frames.iter().enumerate() {
        let len = frame.payload.len();
        if !budget.admits(len) {
            return (n, true);
        }
        if budget.take(len) {
            return (n + 1, true);
        }
    }
    (frames.len(), false)
}

impl ReadAhead {
    /// Keeps `frames` (contiguous, read in purge epoch `epoch`).
    pub(crate) fn keep(&mut self, frames: Vec<StoredFrame>, epoch: u64) {
        self.frames = frames;
        self.epoch = epoch;
    }

    /// What a read of `max_bytes` from `from` gets from the kept frames, if they hold `from`
    /// and all it gets (the budget ends within them), and are of the current purge epoch.
    pub(crate) fn read(&self, from: u64, max_bytes: usize, epoch: u64) -> Option<Vec<StoredFrame>> {
        if self.epoch != epoch {
            return None;
        }
        let first = self.frames.first()?;
        if from < first.header.base_offset {
            return None;
        }
        let start = self
            .frames
            .partition_point(|f| f.header.next_offset() <= from);
        let rest = self.frames.get(start..).filter(|rest| !rest.is_empty())?;
        match within_budget(rest, max_bytes) {
            (n, true) => Some(rest[..n].to_vec()),
            (_, false) => None,
        }
    }

    /// Bytes of payload kept.
    pub(crate) fn bytes(&self) -> usize {
        self.frames.iter().map(|f| f.payload.len()).sum()
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
    fn serves_held_offsets_within_budget_and_epoch() {
        let mut ahead = ReadAhead::default();
        ahead.keep((0..10).map(|i| frame(10 + i * 2, 100)).collect(), 3);
        let bases = |frames: Vec<StoredFrame>| -> Vec<u64> {
            frames.iter().map(|f| f.header.base_offset).collect()
        };
        assert_eq!(bases(ahead.read(13, 250, 3).unwrap()), vec![12, 14]);
        assert_eq!(bases(ahead.read(10, 1, 3).unwrap()), vec![10]);
        assert!(
            ahead.read(28, 10_000, 3).is_none(),
            "the files may hold more"
        );
        assert_eq!(ahead.read(28, 100, 3).unwrap().len(), 1);
        assert!(ahead.read(9, 100, 3).is_none(), "before the kept frames");
        assert!(ahead.read(30, 100, 3).is_none(), "past the kept frames");
        assert!(ahead.read(12, 100, 4).is_none(), "another purge epoch");
        assert_eq!(ahead.bytes(), 1000);
        assert_eq!(
            within_budget(&[frame(0, 500), frame(2, 10)], 100),
            (1, true)
        );
        assert_eq!(
            within_budget(&[frame(0, 50), frame(2, 10)], 100),
            (2, false)
        );
    }
}
