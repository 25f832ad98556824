//! `whippet-coordinator` owns consumer groups — the Kafka classic group protocol state machine
//! and the native (Iggy) groups' pure table ([`native_groups`]) — and the committed-offset
//! store shared by both protocols, keyed by (group, stream, topic,
//! partition). Its state machines are driven by a [`Clock`] passed in, so tests are
//! deterministic. It must not do socket I/O and must not know any wire byte layout.
//!
//! Shape: the broker holds one [`Coordinator`] behind a mutex. JoinGroup and SyncGroup answers
//! that Kafka defers come back as [`Reply::Pending`] (a oneshot receiver the broker awaits
//! outside the lock); [`Coordinator::tick`] drives timeouts; [`Coordinator::take_changes`]
//! hands out what must be made durable as one change set ([`persist::Changes`]: values, not
//! deltas), which the broker submits to its metadata state machine off the async path, one
//! at a time ([`persist::GroupStore`] is the store it used before, kept to read old data
//! dirs and for tools). Iggy's native consumer offsets share [`OffsetStore`].

use std::sync::Mutex;
use std::time::{Duration, Instant};

pub mod api;
mod commit;
pub mod config;
pub mod consumer;
mod coordinator;
pub mod error;
mod group;
mod join;
pub mod limits;
mod member;
pub mod native_groups;
mod native_offsets;
pub mod offsets;
pub mod persist;
pub mod state;
mod sync;

pub use api::{
    GroupDescription, GroupListing, HeartbeatRequest, JoinMember, JoinRequest, JoinResponse,
    LeaveMember, LeaveResponse, MemberDescription, Protocol, Reply, SyncRequest, SyncResponse,
};
pub use commit::{CommitOffset, CommitRequest};
pub use config::GroupConfig;
pub use coordinator::Coordinator;
pub use error::{CheckpointError, ErrorCode};
pub use native_offsets::{SINGLE_CONSUMER_PREFIX, is_single_consumer_key, single_consumer_key};
pub use offsets::{
    CommittedOffset, OffsetStore, PartitionKey, committed_to_native_stored,
    native_stored_to_committed,
};
pub use state::GroupState;

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

/// A clock that only moves when told to, so timeout tests are exact and instant.
#[derive(Debug)]
pub struct FakeClock {
    now: Mutex<Instant>,
}

impl Default for FakeClock {
    fn default() -> Self {
        FakeClock {
            now: Mutex::new(Instant::now()),
        }
    }
}

impl FakeClock {
    /// A clock frozen at the current instant.
    pub fn new() -> Self {
        FakeClock::default()
    }

    /// Moves time forward by `by`.
    pub fn advance(&self, by: Duration) {
        let mut now = self.now.lock().unwrap_or_else(|p| p.into_inner());
        *now += by;
    }
}

impl Clock for FakeClock {
    fn now(&self) -> Instant {
        *self.now.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Time elapsed between two instants of a clock, zero if `later` is before `earlier`.
pub fn elapsed(earlier: Instant, later: Instant) -> Duration {
    later.saturating_duration_since(earlier)
}
