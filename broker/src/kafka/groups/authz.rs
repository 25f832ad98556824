//! Who may use Kafka consumer groups, on the native permissions. Native permissions have no
//! group resource (a native consumer group belongs to its topic), so Kafka's group operations
//! map onto what a group is for: READ/DESCRIBE on a group (FindCoordinator, Join/Sync/
//! Heartbeat/LeaveGroup, OffsetCommit/OffsetFetch, DescribeGroups) needs the right to poll
//! some topic (`Access::UseGroups`); DELETE (DeleteGroups, OffsetDelete) the right to manage
//! some topic (`Access::ManageGroups`, as native consumer groups are managed with their topic).
//! A denied request gets GROUP_AUTHORIZATION_FAILED (30) where Kafka puts it; ListGroups
//! lists nothing to a user who may describe no group. The topic checks of the handlers still
//! apply to the partitions of an allowed request.

use kafka_protocol::ResponseError;
use kafka_protocol::messages::consumer_group_describe_response::DescribedGroup as ConsumerGroupDescribed;
use kafka_protocol::messages::delete_groups_response::DeletableGroupResult;
use kafka_protocol::messages::describe_groups_response::DescribedGroup;
use kafka_protocol::messages::find_coordinator_response::Coordinator;
use kafka_protocol::messages::offset_commit_response::{
    OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use kafka_protocol::messages::offset_fetch_response::OffsetFetchResponseGroup;
use kafka_protocol::messages::{
    ConsumerGroupDescribeResponse, ConsumerGroupHeartbeatResponse, DeleteGroupsResponse,
    DescribeGroupsResponse, FindCoordinatorResponse, HeartbeatResponse, JoinGroupResponse,
    LeaveGroupResponse, ListGroupsResponse, OffsetCommitResponse, OffsetDeleteResponse,
    OffsetFetchResponse, RequestKind, ResponseKind, SyncGroupResponse,
};

use crate::context::BrokerContext;
use crate::core::RequestContext;
use crate::core::users::Access;

/// FindCoordinator's key type of a consumer group (1 is a transactional id).
const KEY_TYPE_GROUP: i8 = 0;

/// The denial answer to `request` when the caller may not do it, `None` when it may.
pub(crate) fn denied(
    ctx: &BrokerContext,
    rc: &RequestContext,
    request: &RequestKind,
) -> Option<ResponseKind> {
    let access = match request {
        RequestKind::DeleteGroups(_) | RequestKind::OffsetDelete(_) => Access::ManageGroups,
        RequestKind::FindCoordinator(req) if req.key_type != KEY_TYPE_GROUP => return None,
        RequestKind::FindCoordinator(_)
        | RequestKind::OffsetCommit(_)
        | RequestKind::OffsetFetch(_)
        | RequestKind::JoinGroup(_)
        | RequestKind::SyncGroup(_)
        | RequestKind::Heartbeat(_)
        | RequestKind::LeaveGroup(_)
        | RequestKind::DescribeGroups(_)
        | RequestKind::ConsumerGroupHeartbeat(_)
        | RequestKind::ConsumerGroupDescribe(_)
        | RequestKind::ListGroups(_) => Access::UseGroups,
        _ => return None,
    };
    if ctx.core.users.permits(rc, access).is_ok() {
        return None;
    }
    Some(denial(request))
}

fn denial(request: &RequestKind) -> ResponseKind {
    let code = ResponseError::GroupAuthorizationFailed.code();
    match request {
        RequestKind::OffsetCommit(req) => offset_commit_denial(req, code),
        RequestKind::OffsetFetch(req) => ResponseKind::OffsetFetch(
            OffsetFetchResponse::default()
                .with_error_code(code)
                .with_groups(
                    req.groups
                        .iter()
                        .map(|group| {
                            OffsetFetchResponseGroup::default()
                                .with_group_id(group.group_id.clone())
                                .with_error_code(code)
                        })
                        .collect(),
                ),
        ),
        RequestKind::OffsetDelete(_) => {
            ResponseKind::OffsetDelete(OffsetDeleteResponse::default().with_error_code(code))
        }
        RequestKind::FindCoordinator(req) => ResponseKind::FindCoordinator(
            FindCoordinatorResponse::default()
                .with_error_code(code)
                .with_node_id((-1).into())
                .with_coordinators(
                    req.coordinator_keys
                        .iter()
                        .map(|key| {
                            Coordinator::default()
                                .with_key(key.clone())
                                .with_node_id((-1).into())
                                .with_error_code(code)
                        })
                        .collect(),
                ),
        ),
        RequestKind::JoinGroup(_) => {
            ResponseKind::JoinGroup(JoinGroupResponse::default().with_error_code(code))
        }
        RequestKind::SyncGroup(_) => {
            ResponseKind::SyncGroup(SyncGroupResponse::default().with_error_code(code))
        }
        RequestKind::Heartbeat(_) => {
            ResponseKind::Heartbeat(HeartbeatResponse::default().with_error_code(code))
        }
        RequestKind::LeaveGroup(_) => {
            ResponseKind::LeaveGroup(LeaveGroupResponse::default().with_error_code(code))
        }
        RequestKind::DescribeGroups(req) => ResponseKind::DescribeGroups(
            DescribeGroupsResponse::default().with_groups(
                req.groups
                    .iter()
                    .map(|group| {
                        DescribedGroup::default()
                            .with_group_id(group.clone())
                            .with_error_code(code)
                    })
                    .collect(),
            ),
        ),
        RequestKind::ConsumerGroupHeartbeat(_) | RequestKind::ConsumerGroupDescribe(_) => {
            consumer_group_denial(request, code)
        }
        RequestKind::DeleteGroups(req) => ResponseKind::DeleteGroups(
            DeleteGroupsResponse::default().with_results(
                req.groups_names
                    .iter()
                    .map(|group| {
                        DeletableGroupResult::default()
                            .with_group_id(group.clone())
                            .with_error_code(code)
                    })
                    .collect(),
            ),
        ),
        // ListGroups (the only other kind `denied` refuses): nothing listed.
        _ => ResponseKind::ListGroups(ListGroupsResponse::default()),
    }
}

/// A KIP-848 request refused: the heartbeat's error, or every described group's.
fn consumer_group_denial(request: &RequestKind, code: i16) -> ResponseKind {
    match request {
        RequestKind::ConsumerGroupDescribe(req) => ResponseKind::ConsumerGroupDescribe(
            ConsumerGroupDescribeResponse::default().with_groups(
                req.group_ids
                    .iter()
                    .map(|group| {
                        ConsumerGroupDescribed::default()
                            .with_group_id(group.clone())
                            .with_error_code(code)
                    })
                    .collect(),
            ),
        ),
        _ => ResponseKind::ConsumerGroupHeartbeat(
            ConsumerGroupHeartbeatResponse::default().with_error_code(code),
        ),
    }
}

/// OffsetCommit refused: the error on every partition named.
fn offset_commit_denial(
    request: &kafka_protocol::messages::OffsetCommitRequest,
    code: i16,
) -> ResponseKind {
    let topics = request
        .topics
        .iter()
        .map(|topic| {
            let partitions = topic
                .partitions
                .iter()
                .map(|p| {
                    OffsetCommitResponsePartition::default()
                        .with_partition_index(p.partition_index)
                        .with_error_code(code)
                })
                .collect();
            OffsetCommitResponseTopic::default()
                .with_name(topic.name.clone())
                .with_topic_id(topic.topic_id)
                .with_partitions(partitions)
        })
        .collect();
    ResponseKind::OffsetCommit(OffsetCommitResponse::default().with_topics(topics))
}
