//! JoinGroup handling for one group: new members, known members, and static-member rejoins.

use std::time::Instant;

use bytes::Bytes;

use crate::api::{JoinRequest, JoinResponse, Reply};
use crate::config::GroupConfig;
use crate::error::ErrorCode;
use crate::group::{Group, PendingId};
use crate::limits;
use crate::member::Member;
use crate::state::GroupState;

impl Group {
    /// Handles a JoinGroup that passed request-level validation. `new_id` is the member id to
    /// use if the request needs one generated.
    pub fn join(
        &mut self,
        req: JoinRequest,
        new_id: String,
        now: Instant,
        cfg: &GroupConfig,
    ) -> Reply<JoinResponse> {
        if !self.supports(&req.protocol_type, &req.protocols) {
            return Reply::Ready(JoinResponse::error(
                ErrorCode::InconsistentGroupProtocol,
                &req.member_id,
            ));
        }
        if req.member_id.is_empty() {
            self.join_new(req, new_id, now, cfg)
        } else {
            self.join_known(req, now, cfg)
        }
    }

    fn join_new(
        &mut self,
        req: JoinRequest,
        new_id: String,
        now: Instant,
        cfg: &GroupConfig,
    ) -> Reply<JoinResponse> {
        if let Some(inst) = req.group_instance_id.as_deref()
            && let Some(idx) = self.instance_index(inst)
        {
            return self.static_rejoin(idx, new_id, req, now, cfg);
        }
        if req.require_known_member_id && req.group_instance_id.is_none() {
            if self.pending_ids.len() >= limits::MAX_PENDING_MEMBER_IDS {
                return Reply::Ready(JoinResponse::error(ErrorCode::GroupMaxSizeReached, ""));
            }
            self.pending_ids.push(PendingId {
                id: new_id.clone(),
                expires: now + req.session_timeout,
            });
            return Reply::Ready(JoinResponse::error(ErrorCode::MemberIdRequired, &new_id));
        }
        self.add_member(req, new_id, now, cfg)
    }

    fn join_known(
        &mut self,
        req: JoinRequest,
        now: Instant,
        cfg: &GroupConfig,
    ) -> Reply<JoinResponse> {
        if let Some(pos) = self.pending_ids.iter().position(|p| p.id == req.member_id) {
            let pending = self.pending_ids.remove(pos);
            return self.add_member(req, pending.id, now, cfg);
        }
        if let Some(inst) = req.group_instance_id.as_deref()
            && let Some(i) = self.instance_index(inst)
            && self.members[i].id != req.member_id
        {
            return Reply::Ready(JoinResponse::error(
                ErrorCode::FencedInstanceId,
                &req.member_id,
            ));
        }
        let Some(idx) = self.member_index(&req.member_id) else {
            return Reply::Ready(JoinResponse::error(
                ErrorCode::UnknownMemberId,
                &req.member_id,
            ));
        };
        let member = &mut self.members[idx];
        member.last_heard = now;
        member.session_timeout = req.session_timeout;
        member.rebalance_timeout = req.rebalance_timeout;
        let unchanged = member.protocols == req.protocols;
        let is_leader = self.leader.as_deref() == Some(req.member_id.as_str());
        match self.state {
            GroupState::CompletingRebalance if unchanged => {
                Reply::Ready(self.join_response_for(idx))
            }
            GroupState::Stable if unchanged && !is_leader => {
                Reply::Ready(self.join_response_for(idx))
            }
            GroupState::Empty | GroupState::Dead => Reply::Ready(JoinResponse::error(
                ErrorCode::UnknownMemberId,
                &req.member_id,
            )),
            _ => self.park_and_rebalance(idx, req.protocols, now, cfg),
        }
    }

    /// A static member came back with a new member id: the old id is fenced and replaced. In a
    /// Stable group with unchanged protocols this does not rebalance (Kafka's KIP-345 rule).
    fn static_rejoin(
        &mut self,
        idx: usize,
        new_id: String,
        req: JoinRequest,
        now: Instant,
        cfg: &GroupConfig,
    ) -> Reply<JoinResponse> {
        let member = &mut self.members[idx];
        member.fail_waiters(ErrorCode::FencedInstanceId);
        let old_id = std::mem::replace(&mut member.id, new_id.clone());
        member.last_heard = now;
        member.session_timeout = req.session_timeout;
        member.rebalance_timeout = req.rebalance_timeout;
        member.client_id = req.client_id;
        member.client_host = req.client_host;
        let unchanged = member.protocols == req.protocols;
        if self.leader.as_deref() == Some(old_id.as_str()) {
            self.leader = Some(new_id);
        }
        self.durable_changed = true;
        if self.state == GroupState::Stable && unchanged {
            return Reply::Ready(self.join_response_for(idx));
        }
        self.park_and_rebalance(idx, req.protocols, now, cfg)
    }

    fn add_member(
        &mut self,
        req: JoinRequest,
        id: String,
        now: Instant,
        cfg: &GroupConfig,
    ) -> Reply<JoinResponse> {
        if self.members.len() >= limits::MAX_MEMBERS_PER_GROUP {
            return Reply::Ready(JoinResponse::error(ErrorCode::GroupMaxSizeReached, &id));
        }
        if self.members.is_empty() {
            self.protocol_type = Some(req.protocol_type.clone());
        }
        self.members.push(Member {
            id,
            instance_id: req.group_instance_id,
            client_id: req.client_id,
            client_host: req.client_host,
            session_timeout: req.session_timeout,
            rebalance_timeout: req.rebalance_timeout,
            protocols: Vec::new(),
            assignment: Bytes::new(),
            last_heard: now,
            join_waiter: None,
            sync_waiter: None,
        });
        self.note_new_member();
        let idx = self.members.len() - 1;
        self.park_and_rebalance(idx, req.protocols, now, cfg)
    }

    /// Stores the member's protocols, parks its JoinGroup, starts a rebalance if none runs, and
    /// completes the join phase if this was the last member awaited.
    fn park_and_rebalance(
        &mut self,
        idx: usize,
        protocols: Vec<crate::api::Protocol>,
        now: Instant,
        cfg: &GroupConfig,
    ) -> Reply<JoinResponse> {
        self.members[idx].protocols = protocols;
        let rx = self.members[idx].park_join();
        if self.state != GroupState::PreparingRebalance {
            self.prepare_rebalance(now, cfg);
        }
        self.maybe_complete_join(now);
        Reply::settle(rx)
    }
}
