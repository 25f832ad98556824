//! Moving one member from its current assignment towards its target (KIP-848's reconciliation).
//! The rules, as Kafka applies them:
//! - partitions the member holds but its target does not are revoked first: the member keeps
//!   its epoch and is told its assignment without them (state `UnrevokedPartitions`) until a
//!   heartbeat shows it no longer owns them;
//! - only then does it move to the target epoch and receive new partitions, and only those no
//!   other member still holds (assigned or pending revocation); the others wait
//!   (`UnreleasedPartitions`) until their previous owner has released them.
//!
//! So a partition never has two owners: it is given to a new owner only after the previous
//! one acknowledged its revocation (or left the group).

use serde::{Deserialize, Serialize};

use super::Assignment;

/// Where a member is in reconciling its assignment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum MemberState {
    /// Holds its target for its epoch.
    #[default]
    Stable,
    /// Must revoke `pending_revocation` before it can progress.
    UnrevokedPartitions,
    /// At the target epoch but some target partitions are still held by others.
    UnreleasedPartitions,
}

/// A member's assignment progress: what reconciliation reads and writes.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Progress {
    /// Member epoch.
    pub epoch: i32,
    /// The epoch before the last bump (a member whose answer was lost may still send it).
    pub previous_epoch: i32,
    /// Reconciliation state.
    pub state: MemberState,
    /// Partitions the member may consume.
    pub assigned: Assignment,
    /// Partitions the member must give up before it progresses.
    pub pending_revocation: Assignment,
}

/// Whether `owned` (the member's own report, `None` if not sent) still contains any partition of
/// `revoking`; an absent report counts as still owning them, as in Kafka.
fn still_owns(owned: Option<&Assignment>, revoking: &Assignment) -> bool {
    let Some(owned) = owned else {
        return true;
    };
    revoking.iter().any(|(topic, parts)| {
        owned
            .get(topic)
            .is_some_and(|o| parts.iter().any(|p| o.contains(p)))
    })
}

/// The next progress of a member at `current`, with `target` its target assignment at
/// `target_epoch`. `held_by_other(topic, partition)` says whether another member holds a
/// partition (assigned or pending revocation); `owned` is what the member's heartbeat reported.
pub fn reconcile(
    current: &Progress,
    target_epoch: i32,
    target: &Assignment,
    held_by_other: &dyn Fn(&super::TopicId, i32) -> bool,
    owned: Option<&Assignment>,
) -> Progress {
    match current.state {
        MemberState::Stable if current.epoch == target_epoch => current.clone(),
        MemberState::UnrevokedPartitions if still_owns(owned, &current.pending_revocation) => {
            current.clone()
        }
        _ => next_assignment(current, target_epoch, target, held_by_other, owned),
    }
}

fn next_assignment(
    current: &Progress,
    target_epoch: i32,
    target: &Assignment,
    held_by_other: &dyn Fn(&super::TopicId, i32) -> bool,
    owned: Option<&Assignment>,
) -> Progress {
    let mut kept = Assignment::new();
    let mut revoke = Assignment::new();
    let mut gain = Assignment::new();
    let mut unreleased = false;
    for (topic, parts) in &current.assigned {
        let wanted = target.get(topic);
        for &p in parts {
            let into = if wanted.is_some_and(|w| w.contains(&p)) {
                &mut kept
            } else {
                &mut revoke
            };
            into.entry(*topic).or_default().insert(p);
        }
    }
    for (topic, parts) in target {
        for &p in parts {
            if current.assigned.get(topic).is_some_and(|a| a.contains(&p)) {
                continue;
            }
            if held_by_other(topic, p) {
                unreleased = true;
            } else {
                gain.entry(*topic).or_default().insert(p);
            }
        }
    }
    if !revoke.is_empty() && still_owns(owned, &revoke) {
        return Progress {
            epoch: current.epoch,
            previous_epoch: current.previous_epoch,
            state: MemberState::UnrevokedPartitions,
            assigned: kept,
            pending_revocation: revoke,
        };
    }
    for (topic, parts) in gain {
        kept.entry(topic).or_default().extend(parts);
    }
    let previous_epoch = if current.epoch == target_epoch {
        current.previous_epoch
    } else {
        current.epoch
    };
    Progress {
        epoch: target_epoch,
        previous_epoch,
        state: if unreleased {
            MemberState::UnreleasedPartitions
        } else {
            MemberState::Stable
        },
        assigned: kept,
        pending_revocation: Assignment::new(),
    }
}
