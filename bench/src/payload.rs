//! What producers send and when: record bodies that carry their own send timestamp, the split of
//! a record budget across workers, and the fixed-rate schedule whose intended send times make
//! latency coordinated-omission aware.

use std::time::{Duration, Instant};

use crate::limits;

/// Bytes at the start of every record: send time (nanoseconds since the run's epoch) then a
/// sequence number, both little-endian.
pub const HEADER_BYTES: usize = 16;

/// Text-like record bodies (16-letter alphabet from a xorshift generator, about 4 bits of entropy
/// per byte) so compression has real work to do; [`limits::DISTINCT_VALUES`] of them, cycled.
pub fn bodies(record_size: usize) -> Vec<Vec<u8>> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..limits::DISTINCT_VALUES)
        .map(|_| {
            (0..record_size)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    b"abcdefghijklmnop"[(state % 16) as usize]
                })
                .collect()
        })
        .collect()
}

/// Writes the send stamp and sequence into the record's header.
pub fn stamp(record: &mut [u8], sent_ns: u64, sequence: u64) {
    if record.len() >= HEADER_BYTES {
        record[..8].copy_from_slice(&sent_ns.to_le_bytes());
        record[8..16].copy_from_slice(&sequence.to_le_bytes());
    }
}

/// Reads the send stamp of a received record; `None` for a record too short to carry one (not
/// written by this bench).
pub fn read_stamp(record: &[u8]) -> Option<u64> {
    let bytes: [u8; 8] = record.get(..8)?.try_into().ok()?;
    Some(u64::from_le_bytes(bytes))
}

/// Nanoseconds since `epoch`, saturating.
pub fn nanos_since(epoch: Instant, at: Instant) -> u64 {
    u64::try_from(at.saturating_duration_since(epoch).as_nanos()).unwrap_or(u64::MAX)
}

/// Worker `index`'s share of `total` records: equal shares, the remainder to the first workers.
pub fn share(total: u64, workers: usize, index: usize) -> u64 {
    let workers = workers.max(1) as u64;
    let index = index as u64;
    total / workers + u64::from(index < total % workers)
}

/// A fixed-rate schedule for one worker: record `k` is due at `start + k / rate`.
#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    start: Instant,
    interval_ns: f64,
}

impl Schedule {
    /// A schedule of `per_sec` records per second from `start`; `None` rate means "as fast as
    /// possible" and gives no schedule.
    pub fn new(start: Instant, per_sec: Option<f64>) -> Option<Self> {
        let per_sec = per_sec.filter(|r| *r > 0.0 && r.is_finite())?;
        Some(Self {
            start,
            interval_ns: 1e9 / per_sec,
        })
    }

    /// When record `k` should be sent.
    pub fn due(&self, k: u64) -> Instant {
        self.start + Duration::from_nanos((k as f64 * self.interval_ns) as u64)
    }

    /// Sleeps until record `k` is due (returns at once if it is late) and returns its due time,
    /// which latency is measured from.
    pub fn wait(&self, k: u64) -> Instant {
        let due = self.due(k);
        let now = Instant::now();
        if due > now {
            std::thread::sleep(due - now);
        }
        due
    }
}

/// When a run by duration must stop, if it has one.
pub fn deadline(start: Instant, duration: Option<Duration>) -> Option<Instant> {
    duration.map(|d| start + d)
}

/// Whether the deadline, if any, has passed.
pub fn past(deadline: Option<Instant>) -> bool {
    deadline.is_some_and(|d| Instant::now() >= d)
}
