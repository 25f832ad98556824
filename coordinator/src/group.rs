//! A classic group: its state, members, and the rebalance transitions shared by every request.
//! Request handlers live in `join.rs` and `sync.rs`; this file holds what they have in common.

use std::time::{Duration, Instant};

use crate::api::{JoinMember, JoinResponse, SyncResponse};
use crate::config::GroupConfig;
use crate::error::ErrorCode;
use crate::member::Member;
use crate::state::GroupState;

/// The running rebalance's timer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RebalanceTimer {
    /// When the join phase ends (or the initial delay is re-examined).
    pub deadline: Instant,
    /// Set while the initial delay of a formerly empty group runs.
    pub initial: Option<InitialDelay>,
}

/// Kafka's initial-join delay: wait `delay`, and keep extending by `delay` while new members
/// keep arriving, but never past `limit` (start + rebalance timeout).
#[derive(Debug, Clone, Copy)]
pub(crate) struct InitialDelay {
    pub delay: Duration,
    pub limit: Instant,
    pub joined_since_last_check: bool,
}

/// A member id issued with MEMBER_ID_REQUIRED that has not rejoined yet.
#[derive(Debug, Clone)]
pub(crate) struct PendingId {
    pub id: String,
    pub expires: Instant,
}

/// One classic group.
#[derive(Debug)]
pub(crate) struct Group {
    pub id: String,
    pub state: GroupState,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    pub generation: i32,
    pub leader: Option<String>,
    /// In join order; the first is the default leader.
    pub members: Vec<Member>,
    pub pending_ids: Vec<PendingId>,
    pub rebalance: Option<RebalanceTimer>,
    /// Set when durable metadata (generation, members, assignments) changed.
    pub durable_changed: bool,
}

impl Group {
    /// A new empty group.
    pub fn new(id: String) -> Self {
        Group {
            id,
            state: GroupState::Empty,
            protocol_type: None,
            protocol_name: None,
            generation: 0,
            leader: None,
            members: Vec::new(),
            pending_ids: Vec::new(),
            rebalance: None,
            durable_changed: false,
        }
    }

    pub fn member_index(&self, member_id: &str) -> Option<usize> {
        self.members.iter().position(|m| m.id == member_id)
    }

    pub fn instance_index(&self, instance_id: &str) -> Option<usize> {
        self.members
            .iter()
            .position(|m| m.instance_id.as_deref() == Some(instance_id))
    }

    /// Protocol names every member offers, in the first member's preference order.
    pub fn candidate_protocols(&self) -> Vec<String> {
        let Some(first) = self.members.first() else {
            return Vec::new();
        };
        first
            .protocols
            .iter()
            .filter(|p| {
                self.members
                    .iter()
                    .all(|m| m.protocols.iter().any(|q| q.name == p.name))
            })
            .map(|p| p.name.clone())
            .collect()
    }

    /// Whether a member offering `protocols` of `protocol_type` can be in this group.
    pub fn supports(&self, protocol_type: &str, protocols: &[crate::api::Protocol]) -> bool {
        if self.members.is_empty() {
            return true;
        }
        if self.protocol_type.as_deref() != Some(protocol_type) {
            return false;
        }
        let candidates = self.candidate_protocols();
        protocols.iter().any(|p| candidates.contains(&p.name))
    }

    /// Checks a member's identity and generation the way Kafka does for Sync/Heartbeat/Commit:
    /// fenced instance first, then unknown member, then generation.
    pub fn validate_member(
        &self,
        member_id: &str,
        instance_id: Option<&str>,
        generation: i32,
    ) -> Result<usize, ErrorCode> {
        if let Some(inst) = instance_id
            && let Some(i) = self.instance_index(inst)
            && self.members[i].id != member_id
        {
            return Err(ErrorCode::FencedInstanceId);
        }
        let idx = self
            .member_index(member_id)
            .ok_or(ErrorCode::UnknownMemberId)?;
        if generation != self.generation {
            return Err(ErrorCode::IllegalGeneration);
        }
        Ok(idx)
    }

    /// Enters PreparingRebalance: parked SyncGroups learn a rebalance started, and the join
    /// timer starts (with the initial delay if the group was empty).
    pub fn prepare_rebalance(&mut self, now: Instant, cfg: &GroupConfig) {
        let was_empty = self.state == GroupState::Empty;
        for m in &mut self.members {
            m.answer_sync(SyncResponse::error(ErrorCode::RebalanceInProgress), now);
        }
        let max_rebalance = self
            .members
            .iter()
            .map(|m| m.rebalance_timeout)
            .max()
            .unwrap_or_default();
        self.rebalance = Some(if was_empty && !cfg.initial_rebalance_delay.is_zero() {
            let delay = cfg.initial_rebalance_delay.min(max_rebalance);
            RebalanceTimer {
                deadline: now + delay,
                initial: Some(InitialDelay {
                    delay: cfg.initial_rebalance_delay,
                    limit: now + max_rebalance,
                    joined_since_last_check: false,
                }),
            }
        } else {
            RebalanceTimer {
                deadline: now + max_rebalance,
                initial: None,
            }
        });
        self.state = GroupState::PreparingRebalance;
    }

    /// Records that a new member joined, so a running initial delay extends.
    pub fn note_new_member(&mut self) {
        if let Some(RebalanceTimer {
            initial: Some(init),
            ..
        }) = &mut self.rebalance
        {
            init.joined_since_last_check = true;
        }
    }

    /// Completes the join phase if every member has rejoined and no initial delay is running.
    pub fn maybe_complete_join(&mut self, now: Instant) {
        if self.state != GroupState::PreparingRebalance {
            return;
        }
        let delaying = self.rebalance.is_some_and(|r| r.initial.is_some());
        if self.members.is_empty()
            || (!delaying && self.members.iter().all(|m| m.join_waiter.is_some()))
        {
            self.complete_join(now);
        }
    }

    /// Ends the join phase: drops members that did not rejoin, bumps the generation, picks the
    /// protocol and leader, and answers every parked JoinGroup.
    pub fn complete_join(&mut self, now: Instant) {
        self.members.retain(|m| m.join_waiter.is_some());
        if let Some(leader) = &self.leader
            && self.member_index(leader).is_none()
        {
            self.leader = None;
        }
        self.generation = self.generation.wrapping_add(1).max(1);
        self.rebalance = None;
        self.durable_changed = true;
        if self.members.is_empty() {
            self.state = GroupState::Empty;
            self.protocol_name = None;
            self.leader = None;
            return;
        }
        self.protocol_name = self.select_protocol();
        if self.leader.is_none() {
            self.leader = self.members.first().map(|m| m.id.clone());
        }
        self.state = GroupState::CompletingRebalance;
        for m in &mut self.members {
            m.assignment = bytes::Bytes::new();
            m.last_heard = now;
        }
        for i in 0..self.members.len() {
            let response = self.join_response_for(i);
            if let Some(tx) = self.members[i].join_waiter.take() {
                let _ = tx.send(response);
            }
        }
    }

    /// The JoinGroup answer for member `idx` in the current generation; only the leader gets
    /// the member list.
    pub fn join_response_for(&self, idx: usize) -> JoinResponse {
        let member = &self.members[idx];
        let is_leader = self.leader.as_deref() == Some(member.id.as_str());
        let members = if is_leader {
            self.members
                .iter()
                .map(|m| JoinMember {
                    member_id: m.id.clone(),
                    group_instance_id: m.instance_id.clone(),
                    metadata: m.metadata_for(self.protocol_name.as_deref()),
                })
                .collect()
        } else {
            Vec::new()
        };
        JoinResponse {
            error: ErrorCode::None,
            generation_id: self.generation,
            protocol_type: self.protocol_type.clone(),
            protocol_name: self.protocol_name.clone(),
            leader: self.leader.clone().unwrap_or_default(),
            member_id: member.id.clone(),
            members,
        }
    }

    /// Each member votes for its most preferred candidate; most votes wins, ties go to the
    /// first member's preference order (Kafka's rule).
    fn select_protocol(&self) -> Option<String> {
        let candidates = self.candidate_protocols();
        let mut best: Option<(usize, &String)> = None;
        for name in &candidates {
            let votes = self
                .members
                .iter()
                .filter(|m| {
                    m.protocols
                        .iter()
                        .find(|p| candidates.contains(&p.name))
                        .is_some_and(|p| &p.name == name)
                })
                .count();
            if best.is_none_or(|(v, _)| votes > v) {
                best = Some((votes, name));
            }
        }
        best.map(|(_, n)| n.clone())
    }

    /// Removes member `idx` (leave or expiry), failing its parked answers with `error`, and
    /// starts or advances a rebalance.
    pub fn remove_member(&mut self, idx: usize, now: Instant, cfg: &GroupConfig, error: ErrorCode) {
        let mut member = self.members.remove(idx);
        member.fail_waiters(error);
        if self.leader.as_deref() == Some(member.id.as_str()) {
            self.leader = None;
        }
        self.durable_changed = true;
        match self.state {
            GroupState::Stable | GroupState::CompletingRebalance => {
                self.prepare_rebalance(now, cfg);
                self.maybe_complete_join(now);
            }
            GroupState::PreparingRebalance => self.maybe_complete_join(now),
            // The last two are consumer-group states, never a classic group's.
            GroupState::Empty
            | GroupState::Dead
            | GroupState::Assigning
            | GroupState::Reconciling => {}
        }
    }

    /// Drives every timer of the group to `now`.
    pub fn tick(&mut self, now: Instant, cfg: &GroupConfig) {
        self.pending_ids.retain(|p| p.expires > now);
        self.tick_rebalance(now);
        while let Some(idx) = self.members.iter().position(|m| m.expired(now)) {
            self.remove_member(idx, now, cfg, ErrorCode::UnknownMemberId);
        }
    }

    fn tick_rebalance(&mut self, now: Instant) {
        if self.state != GroupState::PreparingRebalance {
            return;
        }
        let Some(timer) = self.rebalance else {
            return;
        };
        if now < timer.deadline {
            return;
        }
        match timer.initial {
            Some(init) if init.joined_since_last_check && now < init.limit => {
                self.rebalance = Some(RebalanceTimer {
                    deadline: (now + init.delay).min(init.limit),
                    initial: Some(InitialDelay {
                        joined_since_last_check: false,
                        ..init
                    }),
                });
            }
            Some(init) => {
                // Initial delay over: from here on it is an ordinary join phase.
                self.rebalance = Some(RebalanceTimer {
                    deadline: init.limit.max(now),
                    initial: None,
                });
                self.maybe_complete_join(now);
            }
            None => self.complete_join(now),
        }
    }
}
