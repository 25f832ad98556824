//! Committed offsets, whichever protocol commits or reads them: one store in the group
//! coordinator, keyed by (group, stream, topic, partition), in Kafka's meaning (the next offset
//! to read); the native "last consumed" meaning is converted by the coordinator's native
//! accessors. Every change is durable before it is acknowledged
//! ([`GroupCoordinator::change_durably`](super::groups::GroupCoordinator::change_durably)).
//!
//! A commit names partitions an adapter resolved a moment earlier ([`Target`]). The topic may be
//! deleted in between, and stream and topic ids are reused, so a commit applied blindly could
//! leave an offset under the ids of a deleted topic for the next topic that gets them. The
//! check is therefore made where the commit is applied, under the coordinator lock: a deletion
//! swaps the catalog first and drops the topic's offsets under that same lock afterwards, so a
//! commit either lands before the drop (and goes with it) or finds its partition gone from the
//! catalog and is refused.

use std::sync::Arc;

use whippet_coordinator::{
    CommitOffset, CommitRequest, CommittedOffset, Coordinator, ErrorCode, GroupDescription,
    PartitionKey,
};
use whippet_log::{CatalogSnapshot, LogError, PartitionLog, TopicMeta};

use super::{Core, CoreError, RequestContext};

/// A partition an adapter resolved for an offset operation: its key in the offset store and the
/// partition log it resolved to, by which the core recognises the same partition later.
#[derive(Debug, Clone)]
pub struct Target {
    key: PartitionKey,
    log: Arc<PartitionLog>,
}

impl Target {
    /// Partition `partition` of `topic`, if the topic has it.
    pub fn new(topic: &TopicMeta, partition: u32) -> Option<Self> {
        let log = topic.partition(partition)?;
        Some(Self {
            key: PartitionKey {
                stream: topic.stream_id,
                topic: topic.id,
                partition,
            },
            log: Arc::clone(log),
        })
    }

    /// The offset-store key.
    pub fn key(&self) -> PartitionKey {
        self.key
    }

    /// Whether `snapshot` still holds this very partition (not one of a newer topic that got
    /// the same ids).
    fn exists_in(&self, snapshot: &CatalogSnapshot) -> bool {
        snapshot
            .topic(self.key.stream, self.key.topic)
            .and_then(|topic| topic.partition(self.key.partition))
            .is_some_and(|log| Arc::ptr_eq(log, &self.log))
    }
}

/// Who commits: the group and the member's view of it (generation −1 and an empty member id
/// for a simple commit from a client that manages its own partitions).
#[derive(Debug, Clone)]
pub struct Committer {
    /// Group.
    pub group_id: String,
    /// Generation, −1 for a simple commit.
    pub generation_id: i32,
    /// Member id, empty for a simple commit.
    pub member_id: String,
    /// Static instance id.
    pub group_instance_id: Option<String>,
}

/// One partition's offset to commit.
#[derive(Debug, Clone)]
pub struct Commit {
    /// The partition.
    pub target: Target,
    /// Next offset to read (Kafka meaning).
    pub offset: i64,
    /// Leader epoch, −1 if unknown.
    pub leader_epoch: i32,
    /// Opaque metadata, returned by fetches.
    pub metadata: String,
}

/// What became of one partition's commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommitOutcome {
    /// The coordinator's verdict (`ErrorCode::None`: stored).
    Decided(ErrorCode),
    /// The partition's topic was deleted before the commit could be applied; nothing stored.
    TopicGone,
}

/// Commits `commits` for `committer`, in one change, and waits until it is durable. Returns
/// one outcome per commit, in order, and whether the change reached the disk (a failure leaves
/// it pending for the next append; the adapter decides what its client is told).
pub async fn commit(
    core: &Core,
    rc: &RequestContext,
    committer: Committer,
    commits: Vec<Commit>,
) -> (Vec<CommitOutcome>, Result<(), CoreError>) {
    let span =
        tracing::trace_span!(parent: &rc.span, "core.commit_offsets", partitions = commits.len());
    let change = core.groups.change_durably(|c| {
        // Under the coordinator lock: see the module doc for why this check cannot be earlier.
        let snapshot = core.log.snapshot();
        apply_commit(c, &snapshot, &commits, |c, offsets| {
            c.commit_offsets(&CommitRequest {
                group_id: committer.group_id,
                generation_id: committer.generation_id,
                member_id: committer.member_id,
                group_instance_id: committer.group_instance_id,
                offsets,
            })
        })
    });
    let (outcomes, durable) = tracing::Instrument::instrument(change, span).await;
    (outcomes, durable.map_err(CoreError::from))
}

/// Commits the offsets a committed transaction carried for `group` (see
/// `Coordinator::commit_transaction_offsets`), in one change, and waits until it is durable.
pub async fn commit_transaction(
    core: &Core,
    group: &str,
    commits: Vec<Commit>,
) -> (Vec<CommitOutcome>, Result<(), CoreError>) {
    let change = core.groups.change_durably(|c| {
        let snapshot = core.log.snapshot();
        apply_commit(c, &snapshot, &commits, |c, offsets| {
            c.commit_transaction_offsets(group, &offsets)
        })
    });
    let (outcomes, durable) = change.await;
    (outcomes, durable.map_err(CoreError::from))
}

/// The commit under the coordinator lock: partitions gone from `snapshot` are refused, the
/// others decided by `decide`.
fn apply_commit(
    c: &mut Coordinator,
    snapshot: &CatalogSnapshot,
    commits: &[Commit],
    decide: impl FnOnce(&mut Coordinator, Vec<CommitOffset>) -> Vec<(PartitionKey, ErrorCode)>,
) -> Vec<CommitOutcome> {
    let alive: Vec<bool> = commits
        .iter()
        .map(|x| x.target.exists_in(snapshot))
        .collect();
    let offsets: Vec<CommitOffset> = commits
        .iter()
        .zip(&alive)
        .filter(|(_, alive)| **alive)
        .map(|(x, _)| CommitOffset {
            key: x.target.key,
            offset: x.offset,
            leader_epoch: x.leader_epoch,
            metadata: x.metadata.clone(),
        })
        .collect();
    let codes = if offsets.is_empty() {
        Vec::new()
    } else {
        decide(c, offsets)
    };
    let mut codes = codes.into_iter();
    alive
        .into_iter()
        .map(|alive| {
            if alive {
                CommitOutcome::Decided(
                    codes
                        .next()
                        .map_or(ErrorCode::CoordinatorNotAvailable, |(_, code)| code),
                )
            } else {
                CommitOutcome::TopicGone
            }
        })
        .collect()
}

/// The committed offsets of `group` on `keys` (`None` where nothing is committed), or on every
/// partition the group committed when `keys` is `None`. Read from the durable state, without
/// the coordinator's lock: an offset is seen once its commit is acknowledged, never before.
pub fn fetch(
    core: &Core,
    rc: &RequestContext,
    group: &str,
    keys: Option<&[PartitionKey]>,
) -> Vec<(PartitionKey, Option<CommittedOffset>)> {
    let _span = tracing::trace_span!(parent: &rc.span, "core.fetch_offsets").entered();
    let durable = core.groups.durable();
    match keys {
        Some(keys) => keys
            .iter()
            .map(|key| (*key, durable.committed(group, key).cloned()))
            .collect(),
        None => durable.offsets.get(group).map_or_else(Vec::new, |offsets| {
            offsets
                .iter()
                .map(|(key, value)| (*key, Some(value.clone())))
                .collect()
        }),
    }
}

/// Deletes `group`'s offsets on `keys`, durably, except where the group still consumes the
/// topic: member metadata is the adapter's to read, so `subscriptions` turns the group's
/// description into what `subscribed` then asks of each partition. The group's own refusal
/// (unknown or invalid group) is the outer error code.
pub async fn delete<S>(
    core: &Core,
    rc: &RequestContext,
    group: &str,
    keys: &[PartitionKey],
    subscriptions: impl FnOnce(&GroupDescription) -> S,
    subscribed: impl Fn(&S, &PartitionKey) -> bool,
) -> (
    Result<Vec<(PartitionKey, ErrorCode)>, ErrorCode>,
    Result<(), CoreError>,
) {
    let span = tracing::trace_span!(parent: &rc.span, "core.delete_offsets");
    let change = core.groups.change_durably(|c| {
        let subscriptions = subscriptions(&c.describe_group(group));
        c.delete_offsets(group, keys, &|key| subscribed(&subscriptions, key))
    });
    let (result, durable) = tracing::Instrument::instrument(change, span).await;
    (result, durable.map_err(CoreError::from))
}

/// The native "last consumed" offset `owner` stored on `key`, from the durable state (no lock).
pub fn native_offset(
    core: &Core,
    rc: &RequestContext,
    owner: &str,
    key: &PartitionKey,
) -> Option<u64> {
    let _span = tracing::trace_span!(parent: &rc.span, "core.native_offset").entered();
    let durable = core.groups.durable();
    let committed = durable.committed(owner, key)?;
    whippet_coordinator::committed_to_native_stored(committed.offset)
}

/// Stores `offset` as `owner`'s last consumed offset on `target`, durably. A partition whose
/// topic was deleted since it was resolved is `TopicNotFound`, nothing stored (see the module
/// doc).
pub async fn store_native(
    core: &Core,
    rc: &RequestContext,
    owner: &str,
    target: &Target,
    offset: u64,
) -> Result<(), CoreError> {
    let span = tracing::trace_span!(parent: &rc.span, "core.store_native_offset");
    let change = core.groups.change_durably(|c| {
        if !target.exists_in(&core.log.snapshot()) {
            return false;
        }
        c.store_native_offset(owner, target.key, offset);
        true
    });
    let (stored, durable) = tracing::Instrument::instrument(change, span).await;
    if !stored {
        return Err(LogError::TopicNotFound(target.key.topic.to_string()).into());
    }
    Ok(durable?)
}

/// Removes `owner`'s native offset on `key`, durably. Returns whether there was one.
pub async fn delete_native(
    core: &Core,
    rc: &RequestContext,
    owner: &str,
    key: &PartitionKey,
) -> Result<bool, CoreError> {
    let span = tracing::trace_span!(parent: &rc.span, "core.delete_native_offset");
    let change = core
        .groups
        .change_durably(|c| c.delete_native_offset(owner, key));
    let (existed, durable) = tracing::Instrument::instrument(change, span).await;
    if existed {
        durable?;
    }
    Ok(existed)
}

#[cfg(test)]
#[path = "offsets_tests.rs"]
mod tests;
