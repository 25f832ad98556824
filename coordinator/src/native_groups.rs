//! Native (Iggy) consumer groups, beside the Kafka ones: definitions per topic and server-side
//! membership, as pure state. No I/O and no clock: the caller passes in how long each client has
//! been silent, so every rule here (ids, names, assignment, generations, eviction) is tested
//! deterministically. Outcomes are [`NativeGroupError`]s; the native adapter maps them to Iggy
//! status codes. Committed offsets of native groups live in the shared [`crate::OffsetStore`].
//!
//! Assignment follows the reference server: members are ordered by client id and partition
//! `p` goes to member `p % members`, so every partition is owned by exactly one member and the
//! spread differs by at most one. Every reassignment bumps the group's generation, which the
//! SDK reads through sync (606) to notice that its cached assignment is stale.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::limits::NATIVE_GROUPS_PER_TOPIC_MAX;

/// How a request names a native group: by its id within the topic or by its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NativeGroupRef {
    /// The group's id within its topic.
    Id(u32),
    /// The group's name, unique within its topic.
    Name(String),
}

/// Why a native group operation was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NativeGroupError {
    /// No group of the topic has that id.
    #[error("consumer group id not found")]
    IdNotFound,
    /// No group of the topic has that name.
    #[error("consumer group name not found")]
    NameNotFound,
    /// The topic already has a group of that name.
    #[error("consumer group name already exists")]
    NameExists,
    /// The topic already has the most groups allowed.
    #[error("too many consumer groups on the topic")]
    TooMany,
    /// The client is not a member of the group.
    #[error("not a member of the consumer group")]
    MemberNotFound,
    /// The member does not own the partition it named.
    #[error("partition not owned by the member")]
    PartitionNotOwned,
}

/// One group definition as persisted: what must survive a restart (memberships do not).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredGroup {
    /// Stream id of the topic.
    pub stream: u32,
    /// Topic id within the stream.
    pub topic: u32,
    /// Group id within the topic.
    pub id: u32,
    /// Group name, unique within the topic.
    pub name: String,
}

/// A member's view of its assignment, as sync (606) reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    /// The group's generation when this assignment was made.
    pub generation: u64,
    /// Partitions owned by the member, ascending.
    pub partitions: Vec<u32>,
}

/// One connection's membership in a group.
#[derive(Debug, Clone, Default)]
struct Member {
    /// Owned partitions, ascending.
    partitions: Vec<u32>,
    /// Index into `partitions` of the next partition a poll without an explicit id uses.
    cursor: usize,
}

/// One consumer group of a topic.
#[derive(Debug, Clone)]
pub struct Group {
    /// 0-based id, lowest free within the topic.
    pub id: u32,
    /// Unique within the topic.
    pub name: String,
    /// Partitions of the topic as last told.
    pub partitions_count: u32,
    /// Bumped on every reassignment.
    pub generation: u64,
    /// Members by server-side client id (ordered: the assignment depends on the order).
    members: BTreeMap<u32, Member>,
}

impl Group {
    fn new(id: u32, name: String, partitions_count: u32) -> Self {
        Self {
            id,
            name,
            partitions_count,
            generation: 0,
            members: BTreeMap::new(),
        }
    }

    /// Members with their partitions, ordered by client id (get_consumer_group's body).
    pub fn members(&self) -> Vec<(u32, Vec<u32>)> {
        self.members
            .iter()
            .map(|(id, member)| (*id, member.partitions.clone()))
            .collect()
    }

    /// Number of members.
    pub fn members_count(&self) -> usize {
        self.members.len()
    }

    /// The assignment of `client`, or `None` when it is not a member.
    pub fn assignment_of(&self, client: u32) -> Option<Assignment> {
        self.members.get(&client).map(|member| Assignment {
            generation: self.generation,
            partitions: member.partitions.clone(),
        })
    }

    /// Spreads every partition over the members round-robin and starts a new generation.
    fn rebalance(&mut self) {
        self.generation = self.generation.saturating_add(1);
        let count = self.members.len();
        let mut owned: Vec<Vec<u32>> = vec![Vec::new(); count];
        if count > 0 {
            for partition in 0..self.partitions_count {
                // `partition as usize % count` < count, so the index is always in range.
                if let Some(slot) = owned.get_mut(partition as usize % count) {
                    slot.push(partition);
                }
            }
        }
        for (member, partitions) in self.members.values_mut().zip(owned) {
            member.partitions = partitions;
            member.cursor = 0;
        }
    }

    fn matches(&self, identifier: &NativeGroupRef) -> bool {
        match identifier {
            NativeGroupRef::Id(id) => self.id == *id,
            NativeGroupRef::Name(name) => self.name == *name,
        }
    }
}

/// The error for a group reference that names nothing.
fn not_found(identifier: &NativeGroupRef) -> NativeGroupError {
    match identifier {
        NativeGroupRef::Id(_) => NativeGroupError::IdNotFound,
        NativeGroupRef::Name(_) => NativeGroupError::NameNotFound,
    }
}

/// All native consumer groups, by (stream, topic) and then by group id.
#[derive(Debug, Default)]
pub struct GroupTable {
    topics: BTreeMap<(u32, u32), BTreeMap<u32, Group>>,
}

impl GroupTable {
    /// Rebuilds the table from persisted definitions (no members, generation 0). Duplicate ids
    /// or names within a topic mean the file is not ours or is corrupt: refused.
    pub fn from_definitions(definitions: Vec<StoredGroup>) -> Result<Self, String> {
        let mut table = Self::default();
        for stored in definitions {
            let groups = table
                .topics
                .entry((stored.stream, stored.topic))
                .or_default();
            if groups.contains_key(&stored.id)
                || groups.values().any(|group| group.name == stored.name)
            {
                return Err(format!(
                    "duplicate consumer group {} ({:?}) in stream {} topic {}",
                    stored.id, stored.name, stored.stream, stored.topic
                ));
            }
            groups.insert(stored.id, Group::new(stored.id, stored.name, 0));
        }
        Ok(table)
    }

    /// Every definition, ordered by stream, topic and id (what gets persisted).
    pub fn definitions(&self) -> Vec<StoredGroup> {
        self.topics
            .iter()
            .flat_map(|((stream, topic), groups)| {
                groups.values().map(|group| StoredGroup {
                    stream: *stream,
                    topic: *topic,
                    id: group.id,
                    name: group.name.clone(),
                })
            })
            .collect()
    }

    /// Number of groups over all topics.
    pub fn count(&self) -> usize {
        self.topics.values().map(BTreeMap::len).sum()
    }

    /// The groups of one topic, by id.
    pub fn list(&self, stream: u32, topic: u32) -> Vec<&Group> {
        self.topics
            .get(&(stream, topic))
            .map(|groups| groups.values().collect())
            .unwrap_or_default()
    }

    /// One group by id or name.
    pub fn get(
        &self,
        stream: u32,
        topic: u32,
        identifier: &NativeGroupRef,
    ) -> Result<&Group, NativeGroupError> {
        self.topics
            .get(&(stream, topic))
            .and_then(|groups| groups.values().find(|group| group.matches(identifier)))
            .ok_or_else(|| not_found(identifier))
    }

    fn get_mut(
        &mut self,
        stream: u32,
        topic: u32,
        identifier: &NativeGroupRef,
    ) -> Result<&mut Group, NativeGroupError> {
        self.topics
            .get_mut(&(stream, topic))
            .and_then(|groups| groups.values_mut().find(|group| group.matches(identifier)))
            .ok_or_else(|| not_found(identifier))
    }

    /// Creates a group with the lowest free id of the topic.
    pub fn create(
        &mut self,
        stream: u32,
        topic: u32,
        name: &str,
        partitions_count: u32,
    ) -> Result<&Group, NativeGroupError> {
        let groups = self.topics.entry((stream, topic)).or_default();
        if groups.values().any(|group| group.name == name) {
            return Err(NativeGroupError::NameExists);
        }
        if groups.len() >= NATIVE_GROUPS_PER_TOPIC_MAX {
            return Err(NativeGroupError::TooMany);
        }
        // Ids are keys of an ordered map: the first gap (or the end) is the lowest free id.
        let id = (0u32..)
            .zip(groups.keys())
            .find(|(expected, id)| expected != *id)
            .map_or(groups.len() as u32, |(expected, _)| expected);
        let group = groups
            .entry(id)
            .or_insert_with(|| Group::new(id, name.to_owned(), partitions_count));
        Ok(group)
    }

    /// Deletes a group (its members simply stop being members).
    pub fn delete(
        &mut self,
        stream: u32,
        topic: u32,
        identifier: &NativeGroupRef,
    ) -> Result<Group, NativeGroupError> {
        let id = self.get(stream, topic, identifier)?.id;
        let groups = self
            .topics
            .get_mut(&(stream, topic))
            .ok_or_else(|| not_found(identifier))?;
        let removed = groups.remove(&id).ok_or_else(|| not_found(identifier))?;
        if groups.is_empty() {
            self.topics.remove(&(stream, topic));
        }
        Ok(removed)
    }

    /// Adds `client` to a group and rebalances; joining again changes nothing.
    pub fn join(
        &mut self,
        stream: u32,
        topic: u32,
        identifier: &NativeGroupRef,
        client: u32,
    ) -> Result<(), NativeGroupError> {
        let group = self.get_mut(stream, topic, identifier)?;
        if let Entry::Vacant(slot) = group.members.entry(client) {
            slot.insert(Member::default());
            group.rebalance();
        }
        Ok(())
    }

    /// Removes `client` from a group and rebalances the rest.
    pub fn leave(
        &mut self,
        stream: u32,
        topic: u32,
        identifier: &NativeGroupRef,
        client: u32,
    ) -> Result<(), NativeGroupError> {
        let group = self.get_mut(stream, topic, identifier)?;
        if group.members.remove(&client).is_none() {
            return Err(NativeGroupError::MemberNotFound);
        }
        group.rebalance();
        Ok(())
    }

    /// The partition a group consumer may read: `requested` when the member owns it, else the
    /// member's owned partitions in turn. Returns `(group_id, group_name, partition)`.
    pub fn pick_partition(
        &mut self,
        stream: u32,
        topic: u32,
        identifier: &NativeGroupRef,
        client: u32,
        requested: Option<u32>,
    ) -> Result<(u32, String, u32), NativeGroupError> {
        let group = self.get_mut(stream, topic, identifier)?;
        let (id, name) = (group.id, group.name.clone());
        let member = group
            .members
            .get_mut(&client)
            .ok_or(NativeGroupError::MemberNotFound)?;
        let partition = match requested {
            Some(partition) if member.partitions.contains(&partition) => partition,
            Some(_) => return Err(NativeGroupError::PartitionNotOwned),
            None => {
                let index = member.cursor % member.partitions.len().max(1);
                let partition = *member
                    .partitions
                    .get(index)
                    .ok_or(NativeGroupError::PartitionNotOwned)?;
                member.cursor = index + 1;
                partition
            }
        };
        Ok((id, name, partition))
    }

    /// `(group_id, group_name)` when `client` is a member of the group (classic connections may
    /// name any partition of the topic, as the 0.8 server allowed any member to).
    pub fn member_of(
        &mut self,
        stream: u32,
        topic: u32,
        identifier: &NativeGroupRef,
        client: u32,
    ) -> Result<(u32, String), NativeGroupError> {
        let group = self.get_mut(stream, topic, identifier)?;
        if !group.members.contains_key(&client) {
            return Err(NativeGroupError::MemberNotFound);
        }
        Ok((group.id, group.name.clone()))
    }

    /// `(stream, topic, group)` of every group `client` belongs to.
    pub fn memberships_of(&self, client: u32) -> Vec<(u32, u32, u32)> {
        self.topics
            .iter()
            .flat_map(|((stream, topic), groups)| {
                groups
                    .values()
                    .filter(|group| group.members.contains_key(&client))
                    .map(|group| (*stream, *topic, group.id))
            })
            .collect()
    }

    /// Removes `client` from every group it is in (rebalancing each); true when it was in any.
    pub fn remove_client(&mut self, client: u32) -> bool {
        let mut removed = false;
        for group in self.topics.values_mut().flat_map(BTreeMap::values_mut) {
            if group.members.remove(&client).is_some() {
                group.rebalance();
                removed = true;
            }
        }
        removed
    }

    /// Evicts every member silent for at least `timeout`. `silent_for` answers how long a
    /// client has sent nothing, or `None` when the client is gone (evicted as well). Returns
    /// the evicted client ids, ascending.
    pub fn evict_silent(
        &mut self,
        timeout: Duration,
        silent_for: impl Fn(u32) -> Option<Duration>,
    ) -> Vec<u32> {
        let mut members: Vec<u32> = self
            .topics
            .values()
            .flat_map(BTreeMap::values)
            .flat_map(|group| group.members.keys().copied())
            .collect();
        members.sort_unstable();
        members.dedup();
        let evicted: Vec<u32> = members
            .into_iter()
            .filter(|client| silent_for(*client).is_none_or(|silent| silent >= timeout))
            .collect();
        for client in &evicted {
            self.remove_client(*client);
        }
        evicted
    }

    /// Whether any group has a member (a sweep has nothing to do otherwise).
    pub fn has_members(&self) -> bool {
        self.topics
            .values()
            .flat_map(BTreeMap::values)
            .any(|group| !group.members.is_empty())
    }

    /// Drops the groups of one topic; true when there were any.
    pub fn drop_topic(&mut self, stream: u32, topic: u32) -> bool {
        self.topics.remove(&(stream, topic)).is_some()
    }

    /// Drops the groups of every topic of a stream; true when there were any.
    pub fn drop_stream(&mut self, stream: u32) -> bool {
        let before = self.topics.len();
        self.topics.retain(|(owner, _), _| *owner != stream);
        self.topics.len() != before
    }

    /// Records a topic's partition count; groups whose count changed are rebalanced.
    pub fn set_partitions(&mut self, stream: u32, topic: u32, partitions_count: u32) {
        let Some(groups) = self.topics.get_mut(&(stream, topic)) else {
            return;
        };
        for group in groups.values_mut() {
            if group.partitions_count != partitions_count {
                group.partitions_count = partitions_count;
                group.rebalance();
            }
        }
    }
}

#[cfg(test)]
#[path = "native_groups_tests.rs"]
mod tests;
