//! Consumer groups of the KIP-848 protocol (`group.protocol=consumer`): membership driven by one
//! heartbeat API, member epochs, server-side assignment ([`assignor`]) and incremental
//! reconciliation ([`reconcile`]). Like the classic groups, these are pure state driven by the
//! coordinator's clock; topics are identified by the ids and partition counts the broker passes
//! in with each heartbeat ([`TopicCatalog`]), since the coordinator knows no catalog.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::ErrorCode;

pub mod assignor;
mod group;
mod ops;
pub mod reconcile;
#[cfg(test)]
mod tests;

pub(crate) use group::ConsumerGroup;
pub use reconcile::{MemberState, Progress};

/// A topic id (Kafka's 128-bit topic UUID).
pub type TopicId = u128;

/// Partitions per topic id.
pub type Assignment = BTreeMap<TopicId, BTreeSet<i32>>;

/// One topic as the broker's catalog knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicInfo {
    /// The topic's id.
    pub id: TopicId,
    /// Its partition count.
    pub partitions: u32,
}

/// Every topic clients can subscribe to, by name.
pub type TopicCatalog = BTreeMap<String, TopicInfo>;

/// A ConsumerGroupHeartbeat, any version. `None` fields mean "unchanged since the last one".
#[derive(Debug, Clone, Default)]
pub struct ConsumerHeartbeat {
    /// The group.
    pub group_id: String,
    /// Member id; empty on a v0 join (the coordinator then makes one).
    pub member_id: String,
    /// 0 to join, −1 to leave, −2 for a static member's temporary leave, else the member epoch.
    pub member_epoch: i32,
    /// Static instance id.
    pub instance_id: Option<String>,
    /// Rack.
    pub rack_id: Option<String>,
    /// Rebalance timeout in ms, −1 if unchanged.
    pub rebalance_timeout_ms: i32,
    /// Subscribed topic names.
    pub subscribed_topic_names: Option<Vec<String>>,
    /// Subscription regex, matched against whole topic names by the matcher the broker passes
    /// (empty: no regex).
    pub subscribed_topic_regex: Option<String>,
    /// Preferred server assignor.
    pub server_assignor: Option<String>,
    /// Partitions the member owns now.
    pub owned: Option<Assignment>,
    /// Client id from the request header.
    pub client_id: String,
    /// Client host.
    pub client_host: String,
}

/// The answer to a [`ConsumerHeartbeat`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerHeartbeatResponse {
    /// Outcome.
    pub error: ErrorCode,
    /// The member id (generated on a v0 join).
    pub member_id: Option<String>,
    /// The member's epoch after this heartbeat.
    pub member_epoch: i32,
    /// How often the member should heartbeat.
    pub heartbeat_interval: Duration,
    /// The member's assignment, when it changed or the member needs it.
    pub assignment: Option<Assignment>,
}

impl ConsumerHeartbeatResponse {
    pub(crate) fn error(error: ErrorCode, req: &ConsumerHeartbeat) -> Self {
        Self {
            error,
            member_id: Some(req.member_id.clone()),
            member_epoch: req.member_epoch,
            heartbeat_interval: Duration::ZERO,
            assignment: None,
        }
    }
}

/// The state names of a consumer group (ConsumerGroupDescribe, ListGroups).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsumerGroupState {
    /// No members.
    Empty,
    /// The target assignment is being recomputed.
    Assigning,
    /// Members are moving to the target assignment.
    Reconciling,
    /// Every member holds its target.
    Stable,
}

impl ConsumerGroupState {
    /// Kafka's name for the state.
    pub fn kafka_name(self) -> &'static str {
        match self {
            Self::Empty => "Empty",
            Self::Assigning => "Assigning",
            Self::Reconciling => "Reconciling",
            Self::Stable => "Stable",
        }
    }
}

/// One member in a [`ConsumerGroupDescription`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerMemberDescription {
    /// Member id.
    pub member_id: String,
    /// Static instance id.
    pub instance_id: Option<String>,
    /// Rack.
    pub rack_id: Option<String>,
    /// Member epoch.
    pub member_epoch: i32,
    /// Client id.
    pub client_id: String,
    /// Client host.
    pub client_host: String,
    /// Subscribed topic names.
    pub subscribed_topic_names: Vec<String>,
    /// Regex subscription.
    pub subscribed_topic_regex: Option<String>,
    /// Current assignment.
    pub assignment: Assignment,
    /// Target assignment.
    pub target_assignment: Assignment,
}

/// ConsumerGroupDescribe of one group; `error` GROUP_ID_NOT_FOUND for an unknown group or a
/// classic one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerGroupDescription {
    /// Outcome.
    pub error: ErrorCode,
    /// The group.
    pub group_id: String,
    /// State.
    pub state: ConsumerGroupState,
    /// Group epoch.
    pub group_epoch: i32,
    /// Epoch of the target assignment.
    pub assignment_epoch: i32,
    /// The assignor in use.
    pub assignor_name: String,
    /// Members.
    pub members: Vec<ConsumerMemberDescription>,
}

/// A consumer group's durable metadata (part of a group's snapshot on the metadata log).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsumerGroupSnapshot {
    /// Group epoch.
    pub group_epoch: i32,
    /// Target assignment epoch.
    pub assignment_epoch: i32,
    /// The subscribed topics' metadata the target was computed from.
    pub subscribed_topics: BTreeMap<String, TopicInfo>,
    /// Members.
    pub members: Vec<ConsumerMemberSnapshot>,
}

/// A consumer group member's durable metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsumerMemberSnapshot {
    /// Member id.
    pub member_id: String,
    /// Static instance id.
    pub instance_id: Option<String>,
    /// Rack.
    pub rack_id: Option<String>,
    /// Client id.
    pub client_id: String,
    /// Client host.
    pub client_host: String,
    /// Subscribed topic names.
    pub subscribed_topic_names: Vec<String>,
    /// Regex subscription.
    #[serde(default)]
    pub subscribed_topic_regex: Option<String>,
    /// Preferred assignor.
    pub server_assignor: Option<String>,
    /// Rebalance timeout in ms.
    pub rebalance_timeout_ms: u64,
    /// A static member that left temporarily (epoch −2).
    pub departed: bool,
    /// Epochs and assignment.
    pub progress: Progress,
    /// Target assignment.
    pub target: Assignment,
}

/// Parses an error-free [`ErrorCode`] check into a result.
pub(crate) fn check(ok: bool, error: ErrorCode) -> Result<(), ErrorCode> {
    if ok { Ok(()) } else { Err(error) }
}
