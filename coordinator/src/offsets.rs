//! The committed-offset store shared by the Kafka and native protocols.
//!
//! One meaning is stored: Kafka's, the **next offset to read**. The native protocol stores the
//! **last offset consumed**, so the native boundary converts with [`native_stored_to_committed`]
//! and [`committed_to_native_stored`]: a Kafka commit of 123 is a native stored offset of 122 and
//! vice versa. The membership rules for a commit (generation, rebalance) live in the
//! coordinator; this module only stores.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

/// A partition inside a group's offset namespace. Kafka topic names are mapped to (stream,
/// topic) ids by the broker, so both protocols address the same entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct PartitionKey {
    /// Stream id.
    pub stream: u32,
    /// Topic id within the stream.
    pub topic: u32,
    /// Partition number.
    pub partition: u32,
}

/// One committed offset, in Kafka's meaning.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommittedOffset {
    /// The next offset the group will read.
    pub offset: i64,
    /// Leader epoch the client sent (−1 if none); OffsetFetch v5+ returns it.
    pub leader_epoch: i32,
    /// The client's opaque commit metadata, returned verbatim by OffsetFetch.
    pub metadata: String,
    /// When the commit was accepted, in ms since the Unix epoch.
    pub commit_timestamp_ms: i64,
}

/// Converts a native "stored offset" (last consumed) into the stored Kafka meaning (next to
/// read). Saturates at `i64::MAX` for offsets no log can reach.
pub fn native_stored_to_committed(stored: u64) -> i64 {
    i64::try_from(stored).map_or(i64::MAX, |s| s.saturating_add(1))
}

/// Converts a stored Kafka offset into the native "stored offset". `None` when nothing has been
/// consumed yet (a Kafka commit of 0, or a negative value), which the native side reports as
/// "no offset stored".
pub fn committed_to_native_stored(committed: i64) -> Option<u64> {
    if committed >= 1 {
        u64::try_from(committed - 1).ok()
    } else {
        None
    }
}

/// All committed offsets, ordered by group then partition so a group's entries are contiguous.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct OffsetStore {
    entries: BTreeMap<String, BTreeMap<PartitionKey, CommittedOffset>>,
    /// Entries put or removed since [`OffsetStore::take_changed`]: what the next durable
    /// change set must carry.
    changed: BTreeSet<(String, PartitionKey)>,
}

impl OffsetStore {
    /// Stores (or replaces) one offset.
    pub fn put(&mut self, group: &str, key: PartitionKey, value: CommittedOffset) {
        self.changed.insert((group.to_owned(), key));
        self.entries
            .entry(group.to_owned())
            .or_default()
            .insert(key, value);
    }

    /// The committed offset, if any.
    pub fn get(&self, group: &str, key: &PartitionKey) -> Option<&CommittedOffset> {
        self.entries.get(group).and_then(|g| g.get(key))
    }

    /// Every committed offset of a group (OffsetFetch with no partition list).
    pub fn group_offsets(&self, group: &str) -> Vec<(PartitionKey, CommittedOffset)> {
        self.entries
            .get(group)
            .map(|g| g.iter().map(|(k, v)| (*k, v.clone())).collect())
            .unwrap_or_default()
    }

    /// Whether the group has any committed offset (an Empty group with offsets is listed).
    pub fn has_group(&self, group: &str) -> bool {
        self.entries.get(group).is_some_and(|g| !g.is_empty())
    }

    /// Removes one offset; true if it existed.
    pub fn remove(&mut self, group: &str, key: &PartitionKey) -> bool {
        let Some(g) = self.entries.get_mut(group) else {
            return false;
        };
        let existed = g.remove(key).is_some();
        if existed {
            self.changed.insert((group.to_owned(), *key));
        }
        if g.is_empty() {
            self.entries.remove(group);
        }
        existed
    }

    /// Removes every offset of a group (DeleteGroups).
    pub fn remove_group(&mut self, group: &str) {
        if let Some(removed) = self.entries.remove(group) {
            self.changed
                .extend(removed.into_keys().map(|key| (group.to_owned(), key)));
        }
    }

    /// Removes every group's offsets on the partitions `doomed` selects (a deleted or purged
    /// topic or stream); returns how many were removed. Groups left without offsets go too.
    pub fn remove_where(&mut self, doomed: impl Fn(&PartitionKey) -> bool) -> usize {
        let mut removed = Vec::new();
        self.entries.retain(|name, group| {
            group.retain(|key, _| {
                let gone = doomed(key);
                if gone {
                    removed.push((name.clone(), *key));
                }
                !gone
            });
            !group.is_empty()
        });
        let count = removed.len();
        self.changed.extend(removed);
        count
    }

    /// The entries put or removed since the last call, each once, and forgets them.
    pub fn take_changed(&mut self) -> BTreeSet<(String, PartitionKey)> {
        std::mem::take(&mut self.changed)
    }

    /// Whether anything changed since [`OffsetStore::take_changed`].
    pub fn has_changes(&self) -> bool {
        !self.changed.is_empty()
    }

    /// Marks entries as changed again (their durable write failed).
    pub fn mark_changed(&mut self, keys: impl IntoIterator<Item = (String, PartitionKey)>) {
        self.changed.extend(keys);
    }

    /// Names of groups that have offsets.
    pub fn groups(&self) -> impl Iterator<Item = &str> {
        self.entries.keys().map(String::as_str)
    }

    /// Every entry, for checkpoints.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &PartitionKey, &CommittedOffset)> {
        self.entries
            .iter()
            .flat_map(|(g, m)| m.iter().map(move |(k, v)| (g.as_str(), k, v)))
    }
}
