//! JoinGroup, SyncGroup, Heartbeat and LeaveGroup: translate the wire request into the
//! coordinator's domain request, call the core's membership operation
//! ([`crate::core::membership`]), and encode its answer.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::messages::join_group_response::JoinGroupResponseMember;
use kafka_protocol::messages::leave_group_response::MemberResponse;
use kafka_protocol::messages::{
    HeartbeatRequest, HeartbeatResponse, JoinGroupRequest, JoinGroupResponse, LeaveGroupRequest,
    LeaveGroupResponse, RequestHeader, SyncGroupRequest, SyncGroupResponse,
};
use whippet_coordinator as wc;
use whippet_coordinator::ErrorCode;

use crate::kafka::error_code::group_code;

use super::str_bytes;
use crate::context::BrokerContext;
use crate::core::{RequestContext, membership};

/// A timeout in ms from the wire; negative values become zero (and are then rejected by the
/// coordinator's bounds where that matters).
fn millis(ms: i32) -> Duration {
    Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

/// Answers JoinGroup; the answer may wait for the rebalance to complete.
pub(crate) async fn join(
    ctx: &Arc<BrokerContext>,
    rc: &RequestContext,
    header: &RequestHeader,
    req: JoinGroupRequest,
) -> JoinGroupResponse {
    let version = header.request_api_version;
    let session_timeout = millis(req.session_timeout_ms);
    let rebalance_timeout = if version == 0 {
        session_timeout
    } else {
        millis(req.rebalance_timeout_ms)
    };
    let request = wc::JoinRequest {
        group_id: req.group_id.to_string(),
        member_id: req.member_id.to_string(),
        group_instance_id: req.group_instance_id.as_ref().map(ToString::to_string),
        client_id: header
            .client_id
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        // The handler does not see the peer address; DescribeGroups reports it empty.
        client_host: String::new(),
        protocol_type: req.protocol_type.to_string(),
        protocols: req
            .protocols
            .iter()
            .map(|p| wc::Protocol {
                name: p.name.to_string(),
                metadata: p.metadata.clone(),
            })
            .collect(),
        session_timeout,
        rebalance_timeout,
        require_known_member_id: version >= 4,
    };
    let answer = membership::join(&ctx.core, rc, request).await;
    let members = answer
        .members
        .into_iter()
        .map(|m| {
            JoinGroupResponseMember::default()
                .with_member_id(str_bytes(m.member_id))
                .with_group_instance_id(m.group_instance_id.map(str_bytes))
                .with_metadata(m.metadata)
        })
        .collect();
    JoinGroupResponse::default()
        .with_error_code(group_code(answer.error))
        .with_generation_id(answer.generation_id)
        .with_protocol_type(answer.protocol_type.map(str_bytes))
        .with_protocol_name(answer.protocol_name.map(str_bytes))
        .with_leader(str_bytes(answer.leader))
        .with_member_id(str_bytes(answer.member_id))
        .with_members(members)
}

/// Answers SyncGroup; a follower's answer waits for the leader's assignment.
pub(crate) async fn sync(
    ctx: &Arc<BrokerContext>,
    rc: &RequestContext,
    _header: &RequestHeader,
    req: SyncGroupRequest,
) -> SyncGroupResponse {
    let request = wc::SyncRequest {
        group_id: req.group_id.to_string(),
        generation_id: req.generation_id,
        member_id: req.member_id.to_string(),
        group_instance_id: req.group_instance_id.as_ref().map(ToString::to_string),
        protocol_type: req.protocol_type.as_ref().map(ToString::to_string),
        protocol_name: req.protocol_name.as_ref().map(ToString::to_string),
        assignments: req
            .assignments
            .iter()
            .map(|a| (a.member_id.to_string(), a.assignment.clone()))
            .collect(),
    };
    let answer = membership::sync(&ctx.core, rc, request).await;
    SyncGroupResponse::default()
        .with_error_code(group_code(answer.error))
        .with_protocol_type(answer.protocol_type.map(str_bytes))
        .with_protocol_name(answer.protocol_name.map(str_bytes))
        .with_assignment(if answer.error == ErrorCode::None {
            answer.assignment
        } else {
            Bytes::new()
        })
}

/// Answers Heartbeat.
pub(crate) async fn heartbeat(
    ctx: &Arc<BrokerContext>,
    rc: &RequestContext,
    _header: &RequestHeader,
    req: HeartbeatRequest,
) -> HeartbeatResponse {
    let request = wc::HeartbeatRequest {
        group_id: req.group_id.to_string(),
        generation_id: req.generation_id,
        member_id: req.member_id.to_string(),
        group_instance_id: req.group_instance_id.as_ref().map(ToString::to_string),
    };
    let code = membership::heartbeat(&ctx.core, rc, &request);
    HeartbeatResponse::default().with_error_code(group_code(code))
}

/// Answers LeaveGroup: one member by id (v0–2) or a batch (v3+).
pub(crate) async fn leave(
    ctx: &Arc<BrokerContext>,
    rc: &RequestContext,
    header: &RequestHeader,
    req: LeaveGroupRequest,
) -> LeaveGroupResponse {
    let batch = header.request_api_version >= 3;
    let members: Vec<wc::LeaveMember> = if batch {
        req.members
            .iter()
            .map(|m| wc::LeaveMember {
                member_id: m.member_id.to_string(),
                group_instance_id: m.group_instance_id.as_ref().map(ToString::to_string),
            })
            .collect()
    } else {
        vec![wc::LeaveMember {
            member_id: req.member_id.to_string(),
            group_instance_id: None,
        }]
    };
    let answer = membership::leave(&ctx.core, rc, req.group_id.as_str(), &members);
    if !batch {
        // v0–2 carry only a top-level code: the one member's.
        let code = answer
            .members
            .first()
            .map_or(answer.error, |(_, code)| *code);
        return LeaveGroupResponse::default().with_error_code(group_code(code));
    }
    let members = answer
        .members
        .into_iter()
        .map(|(m, code)| {
            MemberResponse::default()
                .with_member_id(str_bytes(m.member_id))
                .with_group_instance_id(m.group_instance_id.map(str_bytes))
                .with_error_code(group_code(code))
        })
        .collect();
    LeaveGroupResponse::default()
        .with_error_code(group_code(answer.error))
        .with_members(members)
}
