//! OffsetCommit, OffsetFetch and OffsetDelete: the membership rules around the offset store.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::coordinator::{Coordinator, valid_group_id};
use crate::error::ErrorCode;
use crate::limits;
use crate::offsets::{CommittedOffset, PartitionKey};
use crate::state::GroupState;

/// One partition's offset in an OffsetCommit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitOffset {
    /// Partition.
    pub key: PartitionKey,
    /// Next offset to read (Kafka meaning).
    pub offset: i64,
    /// Leader epoch, −1 if unknown.
    pub leader_epoch: i32,
    /// Opaque metadata, returned by OffsetFetch.
    pub metadata: String,
}

/// An OffsetCommit. Generation −1 with an empty member id is a "simple" commit from a client
/// that manages its own partitions.
#[derive(Debug, Clone)]
pub struct CommitRequest {
    /// Group.
    pub group_id: String,
    /// Generation, −1 for a simple commit.
    pub generation_id: i32,
    /// Member id, empty for a simple commit.
    pub member_id: String,
    /// Static instance id.
    pub group_instance_id: Option<String>,
    /// The offsets.
    pub offsets: Vec<CommitOffset>,
}

fn wall_clock_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

impl Coordinator {
    /// OffsetCommit. Returns one code per partition, in request order. Accepted commits mark
    /// the state dirty; the broker must write a checkpoint before acknowledging them.
    pub fn commit_offsets(&mut self, req: &CommitRequest) -> Vec<(PartitionKey, ErrorCode)> {
        let verdict = self.commit_allowed(req);
        self.store_offsets(&req.group_id, &req.offsets, verdict)
    }

    /// The offsets a committed transaction carried (TxnOffsetCommit), made visible when its
    /// commit marker is written: stored whatever the group's membership is now, as Kafka
    /// does (they were checked when the producer sent them).
    pub fn commit_transaction_offsets(
        &mut self,
        group_id: &str,
        offsets: &[CommitOffset],
    ) -> Vec<(PartitionKey, ErrorCode)> {
        let verdict = valid_group_id(group_id);
        self.store_offsets(group_id, offsets, verdict)
    }

    fn store_offsets(
        &mut self,
        group_id: &str,
        offsets: &[CommitOffset],
        verdict: Result<(), ErrorCode>,
    ) -> Vec<(PartitionKey, ErrorCode)> {
        let now_ms = wall_clock_ms();
        let mut out = Vec::with_capacity(offsets.len());
        for o in offsets {
            let code = match verdict {
                Err(e) => e,
                Ok(()) if o.metadata.len() > limits::MAX_COMMIT_METADATA_BYTES => {
                    ErrorCode::OffsetMetadataTooLarge
                }
                Ok(()) => {
                    let value = CommittedOffset {
                        offset: o.offset,
                        leader_epoch: o.leader_epoch,
                        metadata: o.metadata.clone(),
                        commit_timestamp_ms: now_ms,
                    };
                    self.offsets.put(group_id, o.key, value);
                    ErrorCode::None
                }
            };
            out.push((o.key, code));
        }
        out
    }

    /// Kafka's rules: a simple commit (generation < 0) is allowed when the group is unknown or
    /// Empty and creates no group; otherwise the committer must be a current member of the
    /// current generation, and not during a rebalance. A valid member commit counts as a
    /// heartbeat.
    fn commit_allowed(&mut self, req: &CommitRequest) -> Result<(), ErrorCode> {
        valid_group_id(&req.group_id)?;
        if let Some(verdict) =
            self.consumer_commit_allowed(&req.group_id, &req.member_id, req.generation_id)
        {
            return verdict;
        }
        let now = self.clock.now();
        let Some(group) = self.groups.get_mut(&req.group_id) else {
            return if req.generation_id < 0 {
                Ok(())
            } else {
                Err(ErrorCode::IllegalGeneration)
            };
        };
        if req.generation_id < 0 && group.state == GroupState::Empty {
            return Ok(());
        }
        if group.state == GroupState::Empty {
            return Err(ErrorCode::UnknownMemberId);
        }
        let idx = group.validate_member(
            &req.member_id,
            req.group_instance_id.as_deref(),
            req.generation_id,
        )?;
        match group.state {
            GroupState::PreparingRebalance | GroupState::CompletingRebalance => {
                Err(ErrorCode::RebalanceInProgress)
            }
            _ => {
                group.members[idx].last_heard = now;
                Ok(())
            }
        }
    }

    /// OffsetFetch: the committed offset per partition, `None` where nothing is committed (the
    /// broker encodes −1). `partitions = None` means every partition the group committed.
    pub fn fetch_offsets(
        &self,
        group_id: &str,
        partitions: Option<&[PartitionKey]>,
    ) -> Vec<(PartitionKey, Option<CommittedOffset>)> {
        match partitions {
            Some(keys) => keys
                .iter()
                .map(|k| (*k, self.offsets.get(group_id, k).cloned()))
                .collect(),
            None => self
                .offsets
                .group_offsets(group_id)
                .into_iter()
                .map(|(k, v)| (k, Some(v)))
                .collect(),
        }
    }

    /// OffsetDelete. The coordinator treats member metadata as opaque, so the broker supplies
    /// `subscribed`, which says whether the group's members subscribe to a partition's topic
    /// (it can decode the consumer protocol metadata from DescribeGroups). It is consulted only
    /// when the group has members; an Empty group's offsets are always deletable.
    pub fn delete_offsets(
        &mut self,
        group_id: &str,
        partitions: &[PartitionKey],
        subscribed: &dyn Fn(&PartitionKey) -> bool,
    ) -> Result<Vec<(PartitionKey, ErrorCode)>, ErrorCode> {
        valid_group_id(group_id)?;
        let consumer = self.consumer_groups.get(group_id);
        let active = match self.groups.get(group_id) {
            _ if consumer.is_some() => consumer.is_some_and(|g| !g.members.is_empty()),
            Some(g) => g.state != GroupState::Empty,
            None if self.offsets.has_group(group_id) => false,
            None => return Err(ErrorCode::GroupIdNotFound),
        };
        let mut out = Vec::with_capacity(partitions.len());
        for k in partitions {
            if active && subscribed(k) {
                out.push((*k, ErrorCode::GroupSubscribedToTopic));
            } else {
                self.offsets.remove(group_id, k);
                out.push((*k, ErrorCode::None));
            }
        }
        Ok(out)
    }
}
