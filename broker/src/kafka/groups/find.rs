//! FindCoordinator: this single node coordinates every group and every transactional id, so
//! either key resolves to this broker's advertised address.

use std::sync::Arc;

use kafka_protocol::messages::find_coordinator_response::Coordinator as CoordinatorEntry;
use kafka_protocol::messages::{
    BrokerId, FindCoordinatorRequest, FindCoordinatorResponse, RequestHeader,
};
use kafka_protocol::protocol::StrBytes;

use super::str_bytes;
use crate::context::BrokerContext;
use crate::kafka::metadata::advertised_endpoint;

/// Key type of a consumer group.
const KEY_TYPE_GROUP: i8 = 0;
/// Key type of a transactional id.
const KEY_TYPE_TRANSACTION: i8 = 1;
/// COORDINATOR_NOT_AVAILABLE, for key types this broker does not coordinate.
const COORDINATOR_NOT_AVAILABLE: i16 = 15;

/// Answers FindCoordinator, batched (v4+) or single.
pub(crate) async fn handle(
    ctx: &Arc<BrokerContext>,
    header: &RequestHeader,
    req: FindCoordinatorRequest,
) -> FindCoordinatorResponse {
    let (host, port) = advertised_endpoint(ctx);
    let answer = |key: StrBytes| -> CoordinatorEntry {
        let entry = CoordinatorEntry::default().with_key(key);
        if req.key_type == KEY_TYPE_GROUP || req.key_type == KEY_TYPE_TRANSACTION {
            entry
                .with_node_id(BrokerId(ctx.kafka.node_id))
                .with_host(str_bytes(host.clone()))
                .with_port(port)
        } else {
            entry
                .with_node_id(BrokerId(-1))
                .with_error_code(COORDINATOR_NOT_AVAILABLE)
        }
    };
    if header.request_api_version >= 4 {
        let coordinators = req.coordinator_keys.iter().cloned().map(answer).collect();
        return FindCoordinatorResponse::default().with_coordinators(coordinators);
    }
    let one = answer(req.key.clone());
    FindCoordinatorResponse::default()
        .with_error_code(one.error_code)
        .with_node_id(one.node_id)
        .with_host(one.host)
        .with_port(one.port)
}
