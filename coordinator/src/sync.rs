//! SyncGroup, Heartbeat and LeaveGroup handling for one group.

use std::time::Instant;

use crate::api::{LeaveMember, Reply, SyncRequest, SyncResponse};
use crate::config::GroupConfig;
use crate::error::ErrorCode;
use crate::group::Group;
use crate::state::GroupState;

impl Group {
    /// Handles SyncGroup: followers park until the leader's assignments arrive; the leader's
    /// SyncGroup makes the group Stable and answers everyone. Assignments are opaque bytes, so
    /// any client-side assignor (eager or cooperative) works.
    pub fn sync(&mut self, req: SyncRequest, now: Instant) -> Reply<SyncResponse> {
        if matches!(self.state, GroupState::Empty | GroupState::Dead) {
            return Reply::Ready(SyncResponse::error(ErrorCode::UnknownMemberId));
        }
        let idx = match self.validate_member(
            &req.member_id,
            req.group_instance_id.as_deref(),
            req.generation_id,
        ) {
            Ok(idx) => idx,
            Err(e) => return Reply::Ready(SyncResponse::error(e)),
        };
        let type_ok = req.protocol_type.is_none() || req.protocol_type == self.protocol_type;
        let name_ok = req.protocol_name.is_none() || req.protocol_name == self.protocol_name;
        if !type_ok || !name_ok {
            return Reply::Ready(SyncResponse::error(ErrorCode::InconsistentGroupProtocol));
        }
        self.members[idx].last_heard = now;
        match self.state {
            GroupState::PreparingRebalance => {
                Reply::Ready(SyncResponse::error(ErrorCode::RebalanceInProgress))
            }
            GroupState::CompletingRebalance => {
                let rx = self.members[idx].park_sync();
                if self.leader.as_deref() == Some(req.member_id.as_str()) {
                    self.apply_assignments(req.assignments, now);
                }
                Reply::settle(rx)
            }
            _ => Reply::Ready(self.sync_response(idx)),
        }
    }

    fn sync_response(&self, idx: usize) -> SyncResponse {
        SyncResponse {
            error: ErrorCode::None,
            protocol_type: self.protocol_type.clone(),
            protocol_name: self.protocol_name.clone(),
            assignment: self.members[idx].assignment.clone(),
        }
    }

    /// Stores the leader's assignments (members it did not mention get an empty one; ids that
    /// are not members are ignored), makes the group Stable and answers every parked SyncGroup
    /// (restarting those members' sessions at `now`).
    fn apply_assignments(&mut self, assignments: Vec<(String, bytes::Bytes)>, now: Instant) {
        for m in &mut self.members {
            m.assignment = bytes::Bytes::new();
        }
        for (member_id, assignment) in assignments {
            if let Some(i) = self.member_index(&member_id) {
                self.members[i].assignment = assignment;
            }
        }
        self.state = GroupState::Stable;
        self.durable_changed = true;
        for i in 0..self.members.len() {
            let response = self.sync_response(i);
            self.members[i].answer_sync(response, now);
        }
    }

    /// Handles Heartbeat. During PreparingRebalance the heartbeat still counts (the member is
    /// alive) but the answer tells it to rejoin.
    pub fn heartbeat(
        &mut self,
        member_id: &str,
        instance_id: Option<&str>,
        generation: i32,
        now: Instant,
    ) -> ErrorCode {
        if matches!(self.state, GroupState::Empty | GroupState::Dead) {
            return ErrorCode::UnknownMemberId;
        }
        let idx = match self.validate_member(member_id, instance_id, generation) {
            Ok(idx) => idx,
            Err(e) => return e,
        };
        self.members[idx].last_heard = now;
        if self.state == GroupState::PreparingRebalance {
            ErrorCode::RebalanceInProgress
        } else {
            ErrorCode::None
        }
    }

    /// Handles LeaveGroup for a batch of members; each gets its own error code.
    pub fn leave(
        &mut self,
        members: &[LeaveMember],
        now: Instant,
        cfg: &GroupConfig,
    ) -> Vec<(LeaveMember, ErrorCode)> {
        members
            .iter()
            .map(|lm| {
                let code = match self.leaving_index(lm) {
                    Ok(idx) => {
                        self.remove_member(idx, now, cfg, ErrorCode::UnknownMemberId);
                        ErrorCode::None
                    }
                    Err(e) => e,
                };
                (lm.clone(), code)
            })
            .collect()
    }

    fn leaving_index(&self, lm: &LeaveMember) -> Result<usize, ErrorCode> {
        match lm.group_instance_id.as_deref() {
            Some(inst) => {
                let idx = self
                    .instance_index(inst)
                    .ok_or(ErrorCode::UnknownMemberId)?;
                if !lm.member_id.is_empty() && self.members[idx].id != lm.member_id {
                    return Err(ErrorCode::FencedInstanceId);
                }
                Ok(idx)
            }
            None => self
                .member_index(&lm.member_id)
                .ok_or(ErrorCode::UnknownMemberId),
        }
    }
}
