//! The byte budget of a read, the one rule every reader of a partition applies (the segment
//! reader, the recent-append cache and the read-ahead): frames are taken in offset order while
//! their payloads stay within the budget, and the first frame is always taken, however big, so
//! a read never comes back empty because one batch is larger than what was asked.

/// A read's budget as frames are taken.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ReadBudget {
    max_bytes: usize,
    taken_bytes: usize,
    taken_frames: usize,
}

impl ReadBudget {
    /// A budget of `max_bytes` of payload.
    pub(crate) fn new(max_bytes: usize) -> Self {
        Self {
            max_bytes,
            taken_bytes: 0,
            taken_frames: 0,
        }
    }

    /// Whether a next frame of `len` payload bytes still fits (the first always does).
    pub(crate) fn admits(&self, len: usize) -> bool {
        self.taken_frames == 0 || self.taken_bytes + len <= self.max_bytes
    }

    /// Takes a frame of `len` bytes; true when the budget is now spent.
    pub(crate) fn take(&mut self, len: usize) -> bool {
        self.taken_bytes += len;
        self.taken_frames += 1;
        self.taken_bytes >= self.max_bytes
    }
}
