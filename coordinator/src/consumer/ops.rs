//! The coordinator's consumer-group operations: ConsumerGroupHeartbeat, ConsumerGroupDescribe,
//! and the member-epoch checks of OffsetCommit/OffsetFetch. Classic and consumer groups share
//! one id space: a non-empty group of one protocol answers the other protocol's requests with
//! Kafka's errors, and an empty one is converted.

use super::group::{ConsumerGroup, LEAVE_EPOCH, STATIC_LEAVE_EPOCH};
use super::{
    ConsumerGroupDescription, ConsumerGroupState, ConsumerHeartbeat, ConsumerHeartbeatResponse,
    ConsumerMemberDescription, TopicCatalog, assignor,
};
use crate::coordinator::{Coordinator, valid_group_id};
use crate::error::ErrorCode;
use crate::state::GroupState;

impl Coordinator {
    /// ConsumerGroupHeartbeat. `topics` is the broker's catalog of subscribable topics now;
    /// `matches(regex, topic)` says whether a regex subscription covers a topic (the broker
    /// compiles regexes; the coordinator only stores them).
    pub fn consumer_heartbeat(
        &mut self,
        req: &ConsumerHeartbeat,
        topics: &TopicCatalog,
        matches: &dyn Fn(&str, &str) -> bool,
    ) -> ConsumerHeartbeatResponse {
        let result = self.consumer_heartbeat_inner(req, topics, matches);
        self.absorb_consumer_change(&req.group_id);
        result.unwrap_or_else(|e| ConsumerHeartbeatResponse::error(e, req))
    }

    fn consumer_heartbeat_inner(
        &mut self,
        req: &ConsumerHeartbeat,
        topics: &TopicCatalog,
        matches: &dyn Fn(&str, &str) -> bool,
    ) -> Result<ConsumerHeartbeatResponse, ErrorCode> {
        valid_group_id(&req.group_id)?;
        if req.member_epoch < STATIC_LEAVE_EPOCH {
            return Err(ErrorCode::InvalidRequest);
        }
        if req
            .server_assignor
            .as_deref()
            .is_some_and(|a| !assignor::is_supported(a))
        {
            return Err(ErrorCode::UnsupportedAssignor);
        }
        self.claim_for_consumer(&req.group_id, req.member_epoch == 0)?;
        let now = self.clock.now();
        let config = self.config;
        if req.member_epoch == LEAVE_EPOCH || req.member_epoch == STATIC_LEAVE_EPOCH {
            let group = self
                .consumer_groups
                .get_mut(&req.group_id)
                .ok_or(ErrorCode::UnknownMemberId)?;
            group.leave(req)?;
            return Ok(ConsumerHeartbeatResponse {
                error: ErrorCode::None,
                member_id: Some(req.member_id.clone()),
                member_epoch: req.member_epoch,
                heartbeat_interval: config.consumer_heartbeat_interval,
                assignment: None,
            });
        }
        let new_id = self.generate_consumer_member_id();
        let group = self
            .consumer_groups
            .get_mut(&req.group_id)
            .ok_or(ErrorCode::UnknownMemberId)?;
        group.heartbeat(req, new_id, topics, matches, now, &config)
    }

    /// Makes sure `group_id` may be a consumer group: an empty classic group is dropped (the
    /// id changes protocol), a non-empty one answers GROUP_ID_NOT_FOUND as Kafka does. With
    /// `create`, a missing consumer group is created.
    fn claim_for_consumer(&mut self, group_id: &str, create: bool) -> Result<(), ErrorCode> {
        if let Some(classic) = self.groups.get(group_id) {
            if classic.state != GroupState::Empty {
                return Err(ErrorCode::GroupIdNotFound);
            }
            self.groups.remove(group_id);
            self.mark_group_dirty(group_id);
        }
        if create && !self.consumer_groups.contains_key(group_id) {
            self.consumer_groups
                .insert(group_id.to_owned(), ConsumerGroup::new(group_id.to_owned()));
            self.mark_group_dirty(group_id);
        }
        Ok(())
    }

    /// For the classic APIs: `Err` when `group_id` is a consumer group with members (JoinGroup
    /// gets INCONSISTENT_GROUP_PROTOCOL, the others GROUP_ID_NOT_FOUND); an empty consumer group
    /// is dropped so the id can become a classic group.
    pub(crate) fn claim_for_classic(
        &mut self,
        group_id: &str,
        join: bool,
    ) -> Result<(), ErrorCode> {
        let Some(group) = self.consumer_groups.get(group_id) else {
            return Ok(());
        };
        if !group.members.is_empty() {
            return Err(if join {
                ErrorCode::InconsistentGroupProtocol
            } else {
                ErrorCode::GroupIdNotFound
            });
        }
        if join {
            self.consumer_groups.remove(group_id);
            self.mark_group_dirty(group_id);
        }
        Ok(())
    }

    /// ConsumerGroupDescribe of one group.
    pub fn describe_consumer_group(&self, group_id: &str) -> ConsumerGroupDescription {
        let Some(g) = self.consumer_groups.get(group_id) else {
            return ConsumerGroupDescription {
                error: ErrorCode::GroupIdNotFound,
                group_id: group_id.to_owned(),
                state: ConsumerGroupState::Empty,
                group_epoch: 0,
                assignment_epoch: 0,
                assignor_name: String::new(),
                members: Vec::new(),
            };
        };
        ConsumerGroupDescription {
            error: ErrorCode::None,
            group_id: g.id.clone(),
            state: g.state(),
            group_epoch: g.group_epoch,
            assignment_epoch: g.assignment_epoch,
            assignor_name: g.assignor().to_owned(),
            members: g
                .members
                .values()
                .map(|m| ConsumerMemberDescription {
                    member_id: m.id.clone(),
                    instance_id: m.instance_id.clone(),
                    rack_id: m.rack_id.clone(),
                    member_epoch: m.progress.epoch,
                    client_id: m.client_id.clone(),
                    client_host: m.client_host.clone(),
                    subscribed_topic_names: m.subscribed.clone(),
                    subscribed_topic_regex: m.regex.clone(),
                    assignment: m.progress.assigned.clone(),
                    target_assignment: g.target.get(&m.id).cloned().unwrap_or_default(),
                })
                .collect(),
        }
    }

    /// Whether `group_id` is a consumer (KIP-848) group.
    pub fn is_consumer_group(&self, group_id: &str) -> bool {
        self.consumer_groups.contains_key(group_id)
    }

    /// OffsetCommit's check for a consumer group, `None` when `group_id` is not one. Kafka's
    /// rules: epoch < 0 from a non-member is allowed while the group is empty; otherwise the
    /// member must exist (UNKNOWN_MEMBER_ID) at exactly the epoch sent (a higher one is
    /// FENCED_MEMBER_EPOCH, a lower one STALE_MEMBER_EPOCH).
    pub(crate) fn consumer_commit_allowed(
        &self,
        group_id: &str,
        member_id: &str,
        epoch: i32,
    ) -> Option<Result<(), ErrorCode>> {
        let group = self.consumer_groups.get(group_id)?;
        if epoch < 0 && group.members.is_empty() {
            return Some(Ok(()));
        }
        Some(Self::member_epoch_check(group, member_id, epoch))
    }

    /// OffsetFetch's check (v9+ carries the member): `None` member with a negative epoch is an
    /// admin or classic fetch and always allowed.
    pub fn consumer_fetch_allowed(
        &self,
        group_id: &str,
        member_id: Option<&str>,
        epoch: i32,
    ) -> Result<(), ErrorCode> {
        let (Some(member_id), Some(group)) = (member_id, self.consumer_groups.get(group_id)) else {
            return Ok(());
        };
        if epoch < 0 && member_id.is_empty() {
            return Ok(());
        }
        Self::member_epoch_check(group, member_id, epoch)
    }

    fn member_epoch_check(
        group: &ConsumerGroup,
        member_id: &str,
        epoch: i32,
    ) -> Result<(), ErrorCode> {
        let member = group
            .members
            .get(member_id)
            .ok_or(ErrorCode::UnknownMemberId)?;
        let current = member.progress.epoch;
        if epoch > current {
            Err(ErrorCode::FencedMemberEpoch)
        } else if epoch < current {
            Err(ErrorCode::StaleMemberEpoch)
        } else {
            Ok(())
        }
    }

    /// Drives consumer groups' session and revocation timers.
    pub(crate) fn tick_consumer_groups(&mut self) {
        let now = self.clock.now();
        let session = self.config.consumer_session_timeout;
        let mut changed = Vec::new();
        for (id, g) in &mut self.consumer_groups {
            if g.expire(now, session) {
                changed.push(id.clone());
            }
        }
        for id in changed {
            self.mark_group_dirty(&id);
        }
    }

    /// Marks consumer group `id` dirty when its durable state differs from the last one
    /// marked (heartbeats that change nothing durable write nothing).
    fn absorb_consumer_change(&mut self, id: &str) {
        let snapshot = self.consumer_groups.get(id).map(ConsumerGroup::snapshot);
        if self.consumer_persisted.get(id) != snapshot.as_ref() {
            match snapshot {
                Some(s) => self.consumer_persisted.insert(id.to_owned(), s),
                None => self.consumer_persisted.remove(id),
            };
            self.mark_group_dirty(id);
        }
    }
}
