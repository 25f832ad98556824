//! `whippet-coordinator` owns consumer groups (the Kafka classic group protocol state machine and
//! Iggy's server-side groups) and the committed-offset store shared by both protocols, keyed by
//! (group, stream, topic, partition). Its state machines are driven by a [`Clock`] passed in, so
//! tests are deterministic. It must not do socket I/O and must not know any wire byte layout.
//!
//! Only the clock seam exists so far; the consumer-group issue builds the rest.

use std::time::{Duration, Instant};

/// Source of time for every timeout the coordinator enforces.
pub trait Clock: Send + Sync {
    /// A monotonic instant.
    fn now(&self) -> Instant;
}

/// The real clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// Time elapsed between two instants of a clock, zero if `later` is before `earlier`.
pub fn elapsed(earlier: Instant, later: Instant) -> Duration {
    later.saturating_duration_since(earlier)
}
