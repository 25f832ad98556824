//! The Kafka group APIs (JoinGroup, SyncGroup, Heartbeat, LeaveGroup, OffsetCommit/Fetch,
//! FindCoordinator, the group admin APIs) over the core's shared group coordinator
//! ([`crate::core::groups`]), which also holds the native protocol's offsets.

pub(crate) mod admin;
pub(crate) mod authz;
pub(crate) mod consumer;
pub(crate) mod find;
pub(crate) mod membership;
pub(crate) mod offsets;
pub(crate) mod subscription;

use kafka_protocol::protocol::StrBytes;

#[cfg(test)]
use crate::core::groups::GroupCoordinator;

/// A protocol string from an owned one.
pub(crate) fn str_bytes(s: impl Into<String>) -> StrBytes {
    StrBytes::from_string(s.into())
}

#[cfg(test)]
mod tests;
