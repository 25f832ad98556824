//! DescribeGroups, ListGroups and DeleteGroups.

use std::sync::Arc;

use kafka_protocol::ResponseError;
use kafka_protocol::messages::delete_groups_response::DeletableGroupResult;
use kafka_protocol::messages::describe_groups_response::{DescribedGroup, DescribedGroupMember};
use kafka_protocol::messages::list_groups_response::ListedGroup;
use kafka_protocol::messages::{
    DeleteGroupsRequest, DeleteGroupsResponse, DescribeGroupsRequest, DescribeGroupsResponse,
    GroupId, ListGroupsRequest, ListGroupsResponse, RequestHeader,
};
use kafka_protocol::protocol::StrBytes;
use tracing::warn;
use whippet_coordinator::{ErrorCode, GroupState};

use crate::kafka::error_code::group_code;

use super::str_bytes;
use crate::context::BrokerContext;

/// INVALID_REQUEST, for a ListGroups state filter naming no state.
const INVALID_REQUEST: i16 = 42;

/// Answers DescribeGroups; an unknown group is reported Dead, as Kafka does, and a consumer
/// (KIP-848) group GROUP_ID_NOT_FOUND, as Kafka does.
pub(crate) async fn describe(
    ctx: &Arc<BrokerContext>,
    rc: &crate::core::RequestContext,
    _header: &RequestHeader,
    req: DescribeGroupsRequest,
) -> DescribeGroupsResponse {
    let operations = if req.include_authorized_operations {
        crate::kafka::authorized_ops::group(ctx, rc)
    } else {
        crate::kafka::authorized_ops::NOT_REQUESTED
    };
    let c = ctx.core.groups.lock();
    let groups = req
        .groups
        .iter()
        .map(|id| {
            let d = c.describe_group(id.as_str());
            let members = d
                .members
                .into_iter()
                .map(|m| {
                    DescribedGroupMember::default()
                        .with_member_id(str_bytes(m.member_id))
                        .with_group_instance_id(m.group_instance_id.map(str_bytes))
                        .with_client_id(str_bytes(m.client_id))
                        .with_client_host(str_bytes(m.client_host))
                        .with_member_metadata(m.metadata)
                        .with_member_assignment(m.assignment)
                })
                .collect();
            let error = if id.is_empty() {
                ErrorCode::InvalidGroupId
            } else if c.is_consumer_group(id.as_str()) {
                // A KIP-848 group is described by ConsumerGroupDescribe; Kafka answers this
                // (and clients then know to use that API).
                ErrorCode::GroupIdNotFound
            } else {
                ErrorCode::None
            };
            DescribedGroup::default()
                .with_error_code(group_code(error))
                .with_group_id(id.clone())
                .with_group_state(str_bytes(d.state.kafka_name()))
                .with_protocol_type(str_bytes(d.protocol_type))
                .with_protocol_data(str_bytes(d.protocol_name))
                .with_members(members)
                .with_authorized_operations(operations)
        })
        .collect();
    DescribeGroupsResponse::default().with_groups(groups)
}

/// Answers ListGroups, with the v4 state filter and the v5 type filter (`classic`, `consumer`;
/// case-insensitive, as Kafka parses them).
pub(crate) async fn list(
    ctx: &Arc<BrokerContext>,
    _header: &RequestHeader,
    req: ListGroupsRequest,
) -> ListGroupsResponse {
    let mut states = Vec::with_capacity(req.states_filter.len());
    for name in &req.states_filter {
        match GroupState::from_kafka_name(name.as_str()) {
            Some(state) => states.push(state),
            None => return ListGroupsResponse::default().with_error_code(INVALID_REQUEST),
        }
    }
    let mut types = Vec::with_capacity(req.types_filter.len());
    for name in &req.types_filter {
        match name.to_ascii_lowercase().as_str() {
            "classic" => types.push(false),
            "consumer" => types.push(true),
            _ => return ListGroupsResponse::default().with_error_code(INVALID_REQUEST),
        }
    }
    let listings = ctx.core.groups.lock().list_groups(&states);
    let groups = listings
        .into_iter()
        .filter(|l| types.is_empty() || types.contains(&l.consumer_protocol))
        .map(|l| {
            let group_type = if l.consumer_protocol {
                "consumer"
            } else {
                "classic"
            };
            ListedGroup::default()
                .with_group_id(GroupId(str_bytes(l.group_id)))
                .with_protocol_type(str_bytes(l.protocol_type))
                .with_group_state(str_bytes(l.state.kafka_name()))
                .with_group_type(StrBytes::from_static_str(group_type))
        })
        .collect();
    ListGroupsResponse::default().with_groups(groups)
}

/// Answers DeleteGroups; only Empty groups are deleted, with their offsets, and the deletion
/// is on disk before the answer.
pub(crate) async fn delete(
    ctx: &Arc<BrokerContext>,
    _header: &RequestHeader,
    req: DeleteGroupsRequest,
) -> DeleteGroupsResponse {
    let (codes, durable) = ctx
        .core
        .groups
        .change_durably(|c| {
            req.groups_names
                .iter()
                .map(|id| c.delete_group(id.as_str()))
                .collect::<Vec<ErrorCode>>()
        })
        .await;
    if let Err(error) = &durable {
        warn!(%error, "group deletion not durable; answering KAFKA_STORAGE_ERROR");
    }
    let results = req
        .groups_names
        .into_iter()
        .zip(codes)
        .map(|(id, code)| {
            let code = if durable.is_err() && code == ErrorCode::None {
                ResponseError::KafkaStorageError.code()
            } else {
                group_code(code)
            };
            DeletableGroupResult::default()
                .with_group_id(id)
                .with_error_code(code)
        })
        .collect();
    DeleteGroupsResponse::default().with_results(results)
}
