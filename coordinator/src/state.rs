//! The classic group states.

use serde::{Deserialize, Serialize};

/// Where a classic group is in its lifecycle. Kafka clients see these names in DescribeGroups
/// and filter ListGroups by them, so the spelling of [`GroupState::kafka_name`] matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum GroupState {
    /// No members (possibly committed offsets).
    Empty,
    /// Waiting for members to (re)join.
    PreparingRebalance,
    /// JoinGroup answered; waiting for the leader's SyncGroup.
    CompletingRebalance,
    /// Assignments handed out.
    Stable,
    /// Deleted or unknown; only ever reported, never stored.
    Dead,
    /// Consumer (KIP-848) group: its target assignment is being recomputed.
    Assigning,
    /// Consumer group: members are moving to their target assignment.
    Reconciling,
}

impl From<crate::consumer::ConsumerGroupState> for GroupState {
    fn from(s: crate::consumer::ConsumerGroupState) -> Self {
        use crate::consumer::ConsumerGroupState as C;
        match s {
            C::Empty => GroupState::Empty,
            C::Assigning => GroupState::Assigning,
            C::Reconciling => GroupState::Reconciling,
            C::Stable => GroupState::Stable,
        }
    }
}

impl GroupState {
    /// The name Kafka uses on the wire (DescribeGroups `group_state`, ListGroups filters).
    pub fn kafka_name(self) -> &'static str {
        match self {
            GroupState::Empty => "Empty",
            GroupState::PreparingRebalance => "PreparingRebalance",
            GroupState::CompletingRebalance => "CompletingRebalance",
            GroupState::Stable => "Stable",
            GroupState::Dead => "Dead",
            GroupState::Assigning => "Assigning",
            GroupState::Reconciling => "Reconciling",
        }
    }

    /// Parses a Kafka state name case-insensitively (ListGroups v4+ filters), `None` if unknown.
    pub fn from_kafka_name(name: &str) -> Option<Self> {
        [
            GroupState::Empty,
            GroupState::PreparingRebalance,
            GroupState::CompletingRebalance,
            GroupState::Stable,
            GroupState::Dead,
            GroupState::Assigning,
            GroupState::Reconciling,
        ]
        .into_iter()
        .find(|s| s.kafka_name().eq_ignore_ascii_case(name))
    }
}

#[cfg(test)]
mod tests {
    use super::GroupState;

    #[test]
    fn names_round_trip() {
        for s in [
            GroupState::Empty,
            GroupState::PreparingRebalance,
            GroupState::CompletingRebalance,
            GroupState::Stable,
            GroupState::Dead,
        ] {
            assert_eq!(GroupState::from_kafka_name(s.kafka_name()), Some(s));
        }
        assert_eq!(
            GroupState::from_kafka_name("stable"),
            Some(GroupState::Stable)
        );
        assert_eq!(GroupState::from_kafka_name("Rebalancing"), None);
    }
}
