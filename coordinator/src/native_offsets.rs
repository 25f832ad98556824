//! Native (Iggy protocol) consumer offsets in the shared [`OffsetStore`](crate::OffsetStore).
//!
//! Native consumer *groups* use the group's name as the store's group key, so a Kafka group and
//! a native group of the same name share offsets (design brief §3). Native *single* consumers
//! (consumer kind 1) are not groups at all; they live under keys starting with
//! [`SINGLE_CONSUMER_PREFIX`], which Kafka's ListGroups never shows, so they get the same
//! durability (the coordinator checkpoint) without appearing in Kafka's group namespace.
//!
//! The store keeps Kafka's meaning (next offset to read); these methods speak the native
//! meaning (last offset consumed) and convert at this boundary.

use crate::coordinator::Coordinator;
use crate::offsets::{
    CommittedOffset, PartitionKey, committed_to_native_stored, native_stored_to_committed,
};

/// Start of every store key that belongs to a native single consumer. The NUL byte keeps it
/// out of any name a Kafka client or a native group would realistically use.
pub const SINGLE_CONSUMER_PREFIX: &str = "\u{0}iggy-consumer/";

/// The store key of a native single consumer, named by its identifier rendered as text
/// (`id:<n>` for numeric ids, `name:<s>` for names, so the two kinds never collide).
pub fn single_consumer_key(identifier: &str) -> String {
    format!("{SINGLE_CONSUMER_PREFIX}{identifier}")
}

/// Whether a store key is reserved for native single consumers (hidden from Kafka listings).
pub fn is_single_consumer_key(group: &str) -> bool {
    group.starts_with(SINGLE_CONSUMER_PREFIX)
}

fn wall_clock_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

impl Coordinator {
    /// The native stored offset (last consumed) of `owner` on `key`; `None` when nothing is
    /// stored or a Kafka commit says nothing was consumed yet (a committed offset of 0).
    pub fn native_stored_offset(&self, owner: &str, key: &PartitionKey) -> Option<u64> {
        self.offsets
            .get(owner, key)
            .and_then(|committed| committed_to_native_stored(committed.offset))
    }

    /// Stores a native offset (last consumed) for `owner`, without Kafka's generation rules:
    /// native membership is checked by the broker before it calls this. Marks the state dirty,
    /// so the broker must persist a checkpoint before acknowledging.
    pub fn store_native_offset(&mut self, owner: &str, key: PartitionKey, stored: u64) {
        let value = CommittedOffset {
            offset: native_stored_to_committed(stored),
            leader_epoch: -1,
            metadata: String::new(),
            commit_timestamp_ms: wall_clock_ms(),
        };
        self.offsets.put(owner, key, value);
    }

    /// Removes `owner`'s offset on `key`; false when there was none (ConsumerOffsetNotFound).
    pub fn delete_native_offset(&mut self, owner: &str, key: &PartitionKey) -> bool {
        self.offsets.remove(owner, key)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::{GroupConfig, SystemClock};

    fn key() -> PartitionKey {
        PartitionKey {
            stream: 0,
            topic: 1,
            partition: 2,
        }
    }

    #[test]
    fn dropping_a_topic_takes_every_groups_offsets_on_it_and_nothing_else() {
        let mut c = Coordinator::new(Arc::new(SystemClock), GroupConfig::default());
        let other_topic = PartitionKey { topic: 9, ..key() };
        let other_stream = PartitionKey { stream: 5, ..key() };
        c.store_native_offset("a", key(), 3);
        c.store_native_offset("b", key(), 4);
        c.store_native_offset("b", other_topic, 5);
        c.store_native_offset("c", other_stream, 6);
        let _ = c.take_changes();
        assert_eq!(c.drop_offsets(0, Some(1)), 2);
        assert!(c.checkpoint_due(), "the removal must reach the checkpoint");
        assert_eq!(c.native_stored_offset("a", &key()), None);
        assert_eq!(c.native_stored_offset("b", &other_topic), Some(5));
        assert!(
            !c.offsets.has_group("a"),
            "a group left without offsets goes"
        );
        let _ = c.take_changes();
        assert_eq!(c.drop_offsets(0, Some(1)), 0);
        assert!(!c.checkpoint_due());
        assert_eq!(c.drop_offsets(0, None), 1);
        assert_eq!(c.native_stored_offset("c", &other_stream), Some(6));
    }

    #[test]
    fn native_offsets_convert_and_stay_out_of_listings() {
        let mut c = Coordinator::new(Arc::new(SystemClock), GroupConfig::default());
        let single = single_consumer_key("id:7");
        assert!(is_single_consumer_key(&single));
        assert!(!is_single_consumer_key("g"));
        assert_eq!(c.native_stored_offset("g", &key()), None);
        c.store_native_offset("g", key(), 122);
        c.store_native_offset(&single, key(), 0);
        assert!(c.checkpoint_due());
        assert_eq!(c.native_stored_offset("g", &key()), Some(122));
        assert_eq!(c.native_stored_offset(&single, &key()), Some(0));
        // Kafka's meaning is next-to-read.
        let fetched = c.fetch_offsets("g", Some(&[key()]));
        assert_eq!(fetched[0].1.as_ref().map(|o| o.offset), Some(123));
        let names: Vec<String> = c.list_groups(&[]).into_iter().map(|l| l.group_id).collect();
        assert_eq!(names, vec!["g".to_owned()]);
        assert!(c.delete_native_offset(&single, &key()));
        assert!(!c.delete_native_offset(&single, &key()));
        assert_eq!(c.native_stored_offset(&single, &key()), None);
    }

    #[test]
    fn kafka_commit_of_zero_reads_as_nothing_stored() {
        let mut c = Coordinator::new(Arc::new(SystemClock), GroupConfig::default());
        c.offsets.put(
            "g",
            key(),
            CommittedOffset {
                offset: 0,
                leader_epoch: -1,
                metadata: String::new(),
                commit_timestamp_ms: 0,
            },
        );
        assert_eq!(c.native_stored_offset("g", &key()), None);
    }
}
