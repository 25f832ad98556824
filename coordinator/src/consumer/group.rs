//! One consumer group: members, epochs, the target assignment, and the heartbeat state
//! machine (join, leave, epoch validation, reconciliation).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use super::assignor::{self, AssignorMember};
use super::reconcile::{self, MemberState, Progress};
use super::{
    Assignment, ConsumerGroupSnapshot, ConsumerGroupState, ConsumerHeartbeat,
    ConsumerHeartbeatResponse, ConsumerMemberSnapshot, TopicCatalog, TopicId, TopicInfo, check,
};
use crate::config::GroupConfig;
use crate::error::ErrorCode;
use crate::limits;

/// Epoch a member sends to leave.
pub(crate) const LEAVE_EPOCH: i32 = -1;
/// Epoch a static member sends to leave temporarily.
pub(crate) const STATIC_LEAVE_EPOCH: i32 = -2;

/// A member of a consumer group.
#[derive(Debug, Clone)]
pub(crate) struct ConsumerMember {
    pub id: String,
    pub instance_id: Option<String>,
    pub rack_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub subscribed: Vec<String>,
    /// Regex subscription (Kafka's `subscribed_topic_regex`), matched against whole names.
    pub regex: Option<String>,
    /// Topics the regex matched at the last metadata refresh.
    pub resolved: Vec<String>,
    pub server_assignor: Option<String>,
    pub rebalance_timeout: Duration,
    pub departed: bool,
    pub progress: Progress,
    pub last_heard: Instant,
    /// Set while the member owes a revocation; it is removed if it has not revoked by then.
    pub revocation_deadline: Option<Instant>,
}

/// A consumer group.
#[derive(Debug, Clone)]
pub(crate) struct ConsumerGroup {
    pub id: String,
    pub group_epoch: i32,
    pub assignment_epoch: i32,
    pub members: BTreeMap<String, ConsumerMember>,
    pub target: BTreeMap<String, Assignment>,
    pub subscribed_topics: BTreeMap<String, TopicInfo>,
}

impl ConsumerGroup {
    pub fn new(id: String) -> Self {
        Self {
            id,
            group_epoch: 0,
            assignment_epoch: 0,
            members: BTreeMap::new(),
            target: BTreeMap::new(),
            subscribed_topics: BTreeMap::new(),
        }
    }

    pub fn state(&self) -> ConsumerGroupState {
        if self.members.is_empty() {
            ConsumerGroupState::Empty
        } else if self.group_epoch > self.assignment_epoch {
            ConsumerGroupState::Assigning
        } else if self.members.values().any(|m| {
            m.progress.epoch != self.assignment_epoch || m.progress.state != MemberState::Stable
        }) {
            ConsumerGroupState::Reconciling
        } else {
            ConsumerGroupState::Stable
        }
    }

    /// Every topic some member subscribes to, by name or (as last resolved) by regex.
    pub fn subscriptions(&self) -> BTreeSet<String> {
        self.members
            .values()
            .flat_map(|m| m.subscribed.iter().chain(m.resolved.iter()))
            .cloned()
            .collect()
    }

    /// The assignor in use: the one most members prefer (uniform by default).
    pub fn assignor(&self) -> &str {
        let mut votes: BTreeMap<&str, usize> = BTreeMap::new();
        for m in self.members.values() {
            if let Some(a) = m.server_assignor.as_deref() {
                *votes.entry(a).or_default() += 1;
            }
        }
        votes
            .into_iter()
            .max_by_key(|(name, n)| (*n, *name == assignor::UNIFORM))
            .map_or(assignor::UNIFORM, |(name, _)| name)
    }

    fn bump_epoch(&mut self) {
        self.group_epoch = self.group_epoch.saturating_add(1);
    }

    /// Removes a member, freeing its partitions (assigned and pending revocation).
    pub fn remove_member(&mut self, id: &str) {
        if self.members.remove(id).is_some() {
            self.target.remove(id);
            self.bump_epoch();
        }
    }

    /// Whether a member other than `except` holds `(topic, partition)`.
    fn held_by_other(&self, except: &str, topic: &TopicId, p: i32) -> bool {
        self.members.iter().any(|(id, m)| {
            id != except
                && (m
                    .progress
                    .assigned
                    .get(topic)
                    .is_some_and(|s| s.contains(&p))
                    || m.progress
                        .pending_revocation
                        .get(topic)
                        .is_some_and(|s| s.contains(&p)))
        })
    }

    /// Removes members whose session or revocation deadline passed at `now`.
    pub fn expire(&mut self, now: Instant, session: Duration) -> bool {
        let expired: Vec<String> = self
            .members
            .values()
            .filter(|m| {
                now.saturating_duration_since(m.last_heard) >= session
                    || m.revocation_deadline.is_some_and(|d| now >= d)
            })
            .map(|m| m.id.clone())
            .collect();
        for id in &expired {
            self.remove_member(id);
        }
        !expired.is_empty()
    }

    /// One heartbeat; `new_id` is used when a v0 member joins without an id.
    pub fn heartbeat(
        &mut self,
        req: &ConsumerHeartbeat,
        new_id: String,
        topics: &TopicCatalog,
        matches: &dyn Fn(&str, &str) -> bool,
        now: Instant,
        cfg: &GroupConfig,
    ) -> Result<ConsumerHeartbeatResponse, ErrorCode> {
        let epoch_before = self.group_epoch;
        let id = if req.member_epoch == 0 {
            self.join(req, new_id, now)?
        } else {
            self.validate(req)?;
            req.member_id.clone()
        };
        self.update_member(&id, req, now);
        self.refresh_metadata(topics, matches);
        // One heartbeat moves the group at most one epoch, whatever it changed.
        self.group_epoch = self.group_epoch.min(epoch_before.saturating_add(1));
        if self.group_epoch > self.assignment_epoch {
            self.compute_target();
        }
        let before = self.members.get(&id).map(|m| m.progress.assigned.clone());
        self.reconcile_member(&id, req.owned.as_ref(), now);
        let member = self.members.get(&id).ok_or(ErrorCode::UnknownMemberId)?;
        let changed = before.as_ref() != Some(&member.progress.assigned);
        let send = req.member_epoch == 0 || changed || req.owned.is_some();
        Ok(ConsumerHeartbeatResponse {
            error: ErrorCode::None,
            member_id: Some(id.clone()),
            member_epoch: member.progress.epoch,
            heartbeat_interval: cfg.consumer_heartbeat_interval,
            assignment: send.then(|| member.progress.assigned.clone()),
        })
    }

    /// A join (epoch 0): a new member, a static member taking over its instance, or a known
    /// member starting over (it gave up its partitions, so its old state is dropped).
    fn join(
        &mut self,
        req: &ConsumerHeartbeat,
        new_id: String,
        now: Instant,
    ) -> Result<String, ErrorCode> {
        let id = if req.member_id.is_empty() {
            new_id
        } else {
            req.member_id.clone()
        };
        if let Some(instance) = req.instance_id.as_deref() {
            let holder = self
                .members
                .values()
                .find(|m| m.instance_id.as_deref() == Some(instance))
                .map(|m| (m.id.clone(), m.departed));
            match holder {
                Some((old, true)) => {
                    // The static member comes back: it keeps its epoch and assignment.
                    if let Some(mut m) = self.members.remove(&old) {
                        m.id = id.clone();
                        m.departed = false;
                        m.last_heard = now;
                        if let Some(t) = self.target.remove(&old) {
                            self.target.insert(id.clone(), t);
                        }
                        self.members.insert(id.clone(), m);
                    }
                    return Ok(id);
                }
                Some((old, false)) if old != id => return Err(ErrorCode::UnreleasedInstanceId),
                _ => {}
            }
        }
        check(
            req.subscribed_topic_names.is_some() || req.subscribed_topic_regex.is_some(),
            ErrorCode::InvalidRequest,
        )?;
        self.remove_member(&id);
        check(
            self.members.len() < limits::MAX_MEMBERS_PER_GROUP,
            ErrorCode::GroupMaxSizeReached,
        )?;
        self.members.insert(id.clone(), new_member(&id, now));
        self.bump_epoch();
        Ok(id)
    }

    /// Kafka's epoch rules for a heartbeat of a known member.
    fn validate(&self, req: &ConsumerHeartbeat) -> Result<(), ErrorCode> {
        let member = self
            .members
            .get(&req.member_id)
            .ok_or(ErrorCode::UnknownMemberId)?;
        if member.departed {
            return Err(ErrorCode::UnknownMemberId);
        }
        if req.instance_id.is_some() && req.instance_id != member.instance_id {
            return Err(ErrorCode::FencedInstanceId);
        }
        let current = member.progress.epoch;
        if req.member_epoch > current {
            return Err(ErrorCode::FencedMemberEpoch);
        }
        if req.member_epoch < current {
            // A member whose previous answer (with the bumped epoch) was lost may still send
            // the previous epoch, if it owns nothing it was not assigned.
            let subset = req.owned.as_ref().is_some_and(|owned| {
                owned.iter().all(|(t, ps)| {
                    ps.is_empty()
                        || member
                            .progress
                            .assigned
                            .get(t)
                            .is_some_and(|a| ps.is_subset(a))
                })
            });
            check(
                req.member_epoch == member.progress.previous_epoch && subset,
                ErrorCode::FencedMemberEpoch,
            )?;
        }
        Ok(())
    }

    /// Applies what the heartbeat says about the member; subscription changes bump the epoch.
    fn update_member(&mut self, id: &str, req: &ConsumerHeartbeat, now: Instant) {
        let Some(m) = self.members.get_mut(id) else {
            return;
        };
        m.last_heard = now;
        let mut bump = false;
        if req.instance_id.is_some() {
            m.instance_id.clone_from(&req.instance_id);
        }
        if req.rack_id.is_some() {
            m.rack_id.clone_from(&req.rack_id);
        }
        if !req.client_id.is_empty() {
            m.client_id.clone_from(&req.client_id);
        }
        m.client_host.clone_from(&req.client_host);
        if let Ok(ms) = u64::try_from(req.rebalance_timeout_ms) {
            m.rebalance_timeout = Duration::from_millis(ms);
        }
        if let Some(names) = &req.subscribed_topic_names {
            let set: BTreeSet<&String> = names.iter().collect();
            let names: Vec<String> = set.into_iter().cloned().collect();
            if names != m.subscribed {
                m.subscribed = names;
                bump = true;
            }
        }
        if let Some(regex) = &req.subscribed_topic_regex {
            // An empty regex drops the regex subscription.
            let regex = (!regex.is_empty()).then(|| regex.clone());
            if regex != m.regex {
                m.regex = regex;
                bump = true;
            }
        }
        if req.server_assignor.is_some() && req.server_assignor != m.server_assignor {
            m.server_assignor.clone_from(&req.server_assignor);
            bump = true;
        }
        if bump {
            self.bump_epoch();
        }
    }

    /// Records the subscribed topics' current ids and partition counts; a change (a topic
    /// created, deleted, re-created or grown) bumps the group epoch.
    fn refresh_metadata(&mut self, topics: &TopicCatalog, matches: &dyn Fn(&str, &str) -> bool) {
        for m in self.members.values_mut() {
            m.resolved = match &m.regex {
                Some(regex) => topics
                    .keys()
                    .filter(|name| matches(regex, name))
                    .cloned()
                    .collect(),
                None => Vec::new(),
            };
        }
        let now: BTreeMap<String, TopicInfo> = self
            .members
            .values()
            .flat_map(|m| m.subscribed.iter().chain(m.resolved.iter()))
            .filter_map(|name| topics.get(name).map(|t| (name.clone(), *t)))
            .collect();
        if now != self.subscribed_topics {
            self.subscribed_topics = now;
            self.bump_epoch();
        }
    }

    /// Recomputes the target assignment for the current group epoch.
    fn compute_target(&mut self) {
        let partitions: BTreeMap<TopicId, u32> = self
            .subscribed_topics
            .values()
            .map(|t| (t.id, t.partitions))
            .collect();
        let members: Vec<AssignorMember<'_>> = self
            .members
            .values()
            .map(|m| AssignorMember {
                id: &m.id,
                topics: m
                    .subscribed
                    .iter()
                    .chain(m.resolved.iter())
                    .filter_map(|n| self.subscribed_topics.get(n).map(|t| t.id))
                    .collect(),
            })
            .collect();
        let target = assignor::assign(self.assignor(), &members, &partitions, &self.target);
        self.target = target;
        self.assignment_epoch = self.group_epoch;
    }

    /// Moves member `id` towards its target.
    fn reconcile_member(&mut self, id: &str, owned: Option<&Assignment>, now: Instant) {
        let Some(member) = self.members.get(id) else {
            return;
        };
        let empty = Assignment::new();
        let target = self.target.get(id).unwrap_or(&empty);
        let held = |t: &TopicId, p: i32| self.held_by_other(id, t, p);
        let next = reconcile::reconcile(
            &member.progress,
            self.assignment_epoch,
            target,
            &held,
            owned,
        );
        let timeout = member.rebalance_timeout;
        if let Some(m) = self.members.get_mut(id) {
            let revoking = next.state == MemberState::UnrevokedPartitions;
            m.revocation_deadline = match (revoking, m.revocation_deadline) {
                (true, Some(d)) => Some(d),
                (true, None) => Some(now + timeout),
                (false, _) => None,
            };
            m.progress = next;
        }
    }

    /// Leave (epoch −1) or a static member's temporary leave (−2).
    pub fn leave(&mut self, req: &ConsumerHeartbeat) -> Result<(), ErrorCode> {
        let id = match (req.member_id.is_empty(), req.instance_id.as_deref()) {
            (true, Some(instance)) => self
                .members
                .values()
                .find(|m| m.instance_id.as_deref() == Some(instance))
                .map(|m| m.id.clone())
                .ok_or(ErrorCode::UnknownMemberId)?,
            _ => req.member_id.clone(),
        };
        let member = self
            .members
            .get_mut(&id)
            .ok_or(ErrorCode::UnknownMemberId)?;
        if req.member_epoch == STATIC_LEAVE_EPOCH && member.instance_id.is_some() {
            // Keeps its partitions until its session expires or it comes back.
            member.departed = true;
        } else {
            self.remove_member(&id);
        }
        Ok(())
    }

    pub fn snapshot(&self) -> ConsumerGroupSnapshot {
        ConsumerGroupSnapshot {
            group_epoch: self.group_epoch,
            assignment_epoch: self.assignment_epoch,
            subscribed_topics: self.subscribed_topics.clone(),
            members: self
                .members
                .values()
                .map(|m| ConsumerMemberSnapshot {
                    member_id: m.id.clone(),
                    instance_id: m.instance_id.clone(),
                    rack_id: m.rack_id.clone(),
                    client_id: m.client_id.clone(),
                    client_host: m.client_host.clone(),
                    subscribed_topic_names: m.subscribed.clone(),
                    subscribed_topic_regex: m.regex.clone(),
                    server_assignor: m.server_assignor.clone(),
                    rebalance_timeout_ms: u64::try_from(m.rebalance_timeout.as_millis())
                        .unwrap_or(u64::MAX),
                    departed: m.departed,
                    progress: m.progress.clone(),
                    target: self.target.get(&m.id).cloned().unwrap_or_default(),
                })
                .collect(),
        }
    }

    /// A group restored from `s`; every member's session restarts at `now`.
    pub fn restore(id: String, s: ConsumerGroupSnapshot, now: Instant) -> Self {
        let mut g = ConsumerGroup::new(id);
        g.group_epoch = s.group_epoch;
        g.assignment_epoch = s.assignment_epoch;
        g.subscribed_topics = s.subscribed_topics;
        for m in s.members {
            g.target.insert(m.member_id.clone(), m.target);
            let revoking = m.progress.state == MemberState::UnrevokedPartitions;
            let rebalance_timeout = Duration::from_millis(m.rebalance_timeout_ms);
            g.members.insert(
                m.member_id.clone(),
                ConsumerMember {
                    id: m.member_id,
                    instance_id: m.instance_id,
                    rack_id: m.rack_id,
                    client_id: m.client_id,
                    client_host: m.client_host,
                    subscribed: m.subscribed_topic_names,
                    regex: m.subscribed_topic_regex,
                    resolved: Vec::new(),
                    server_assignor: m.server_assignor,
                    rebalance_timeout,
                    departed: m.departed,
                    progress: m.progress,
                    last_heard: now,
                    revocation_deadline: revoking.then(|| now + rebalance_timeout),
                },
            );
        }
        g
    }
}

fn new_member(id: &str, now: Instant) -> ConsumerMember {
    ConsumerMember {
        id: id.to_owned(),
        instance_id: None,
        rack_id: None,
        client_id: String::new(),
        client_host: String::new(),
        subscribed: Vec::new(),
        regex: None,
        resolved: Vec::new(),
        server_assignor: None,
        rebalance_timeout: limits::DEFAULT_CONSUMER_REBALANCE_TIMEOUT,
        departed: false,
        progress: Progress::default(),
        last_heard: now,
        revocation_deadline: None,
    }
}
