//! Consumer groups and committed offsets on the metadata log: the durable half of the group
//! coordinator (each group's metadata, every committed offset) as an immutable state readers
//! load without the coordinator's mutex. A command is one change set of the coordinator
//! (`whippet_coordinator::persist::Changes`): each changed group's metadata or removal, each
//! changed offset's value or removal — values, not deltas — so a commit costs one small record.
//!
//! Offsets are kept per group behind their own `Arc`: a batch of commits copies the outer map
//! (one pointer per group) and only the groups it commits to, not every offset.

use std::collections::BTreeMap;
use std::sync::Arc;

use whippet_coordinator::persist::{
    Changes, Checkpoint, GroupChange, GroupSnapshot, OffsetChange, OffsetEntry,
};
use whippet_coordinator::{CommittedOffset, PartitionKey};

/// Version of the coordinator's checkpoint layout the snapshot carries.
const CHECKPOINT_VERSION: u32 = 1;

/// Offsets of one group, by partition.
pub type GroupOffsets = BTreeMap<PartitionKey, CommittedOffset>;

/// Every group's durable metadata and every committed offset, as of the last durable commit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupsState {
    /// Each group's metadata (generation, leader, members), by group id.
    pub groups: BTreeMap<String, Arc<GroupSnapshot>>,
    /// Committed offsets, by group id.
    pub offsets: BTreeMap<String, Arc<GroupOffsets>>,
}

impl GroupsState {
    /// Whether nothing was ever committed or stored.
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty() && self.offsets.is_empty()
    }

    /// The committed offset of `group` for `key`.
    pub fn committed(&self, group: &str, key: &PartitionKey) -> Option<&CommittedOffset> {
        self.offsets.get(group)?.get(key)
    }

    /// Applies one change set.
    pub fn apply(&mut self, changes: &Changes) {
        for change in &changes.groups {
            match change {
                GroupChange::Upsert(group) => {
                    self.groups
                        .insert(group.group_id.clone(), Arc::new(group.clone()));
                }
                GroupChange::Remove(id) => {
                    self.groups.remove(id);
                }
            }
        }
        for change in &changes.offsets {
            let group = self.offsets.entry(change.group_id.clone()).or_default();
            match &change.value {
                Some(value) => {
                    Arc::make_mut(group).insert(change.key, value.clone());
                }
                None => {
                    if group.contains_key(&change.key) {
                        Arc::make_mut(group).remove(&change.key);
                    }
                }
            }
            if group.is_empty() {
                self.offsets.remove(&change.group_id);
            }
        }
    }

    /// The coordinator's whole-state form.
    pub fn to_checkpoint(&self) -> Checkpoint {
        Checkpoint {
            version: CHECKPOINT_VERSION,
            groups: self
                .groups
                .values()
                .map(|g| GroupSnapshot::clone(g))
                .collect(),
            offsets: self
                .offsets
                .iter()
                .flat_map(|(group_id, offsets)| {
                    offsets.iter().map(|(key, value)| OffsetEntry {
                        group_id: group_id.clone(),
                        key: *key,
                        value: value.clone(),
                    })
                })
                .collect(),
        }
    }

    /// From the coordinator's whole-state form.
    pub fn from_checkpoint(checkpoint: &Checkpoint) -> Self {
        let mut state = Self::default();
        for changes in changes_of(checkpoint, usize::MAX) {
            state.apply(&changes);
        }
        state
    }
}

/// `checkpoint` as change sets of at most `offsets_per_set` offsets each (the groups go with
/// the first), so a large state is written as records of bounded size.
pub fn changes_of(checkpoint: &Checkpoint, offsets_per_set: usize) -> Vec<Changes> {
    let mut sets = vec![Changes {
        groups: checkpoint
            .groups
            .iter()
            .cloned()
            .map(GroupChange::Upsert)
            .collect(),
        offsets: Vec::new(),
    }];
    for chunk in checkpoint.offsets.chunks(offsets_per_set.max(1)) {
        let offsets = chunk
            .iter()
            .map(|entry| OffsetChange {
                group_id: entry.group_id.clone(),
                key: entry.key,
                value: Some(entry.value.clone()),
            })
            .collect();
        match sets.last_mut() {
            Some(last) if last.offsets.is_empty() => last.offsets = offsets,
            _ => sets.push(Changes {
                groups: Vec::new(),
                offsets,
            }),
        }
    }
    sets
}
