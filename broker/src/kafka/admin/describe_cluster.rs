//! DescribeCluster: the admin client's view of the cluster (KIP-700): this broker as the only
//! broker and the controller, at the same advertised address and with the same cluster id that
//! Metadata gives, so both APIs agree.

use std::sync::Arc;

use kafka_protocol::messages::describe_cluster_response::DescribeClusterBroker;
use kafka_protocol::messages::{
    BrokerId, DescribeClusterRequest, DescribeClusterResponse, RequestHeader,
};

use super::text;
use crate::context::BrokerContext;
use crate::core::RequestContext;
use crate::kafka::authorized_ops;
use crate::kafka::metadata::advertised_endpoint;

/// Describes the one-broker cluster.
pub(crate) async fn handle(
    ctx: &Arc<BrokerContext>,
    rc: &RequestContext,
    _header: &RequestHeader,
    req: DescribeClusterRequest,
) -> DescribeClusterResponse {
    let (host, port) = advertised_endpoint(ctx);
    let node = BrokerId(ctx.kafka.node_id);
    DescribeClusterResponse::default()
        .with_cluster_id(text(ctx.kafka.cluster_id.clone()))
        .with_controller_id(node)
        .with_cluster_authorized_operations(if req.include_cluster_authorized_operations {
            authorized_ops::cluster(ctx, rc)
        } else {
            authorized_ops::NOT_REQUESTED
        })
        .with_brokers(vec![
            DescribeClusterBroker::default()
                .with_broker_id(node)
                .with_host(text(host))
                .with_port(port),
        ])
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use kafka_protocol::messages::ApiKey;

    use super::*;
    use crate::kafka::test_support;

    #[tokio::test]
    async fn one_broker_that_is_the_controller() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = test_support::context(dir.path());
        let header = test_support::header(ApiKey::DescribeCluster, 1);
        let rc = RequestContext::internal();
        let resp = handle(&ctx, &rc, &header, DescribeClusterRequest::default()).await;
        assert_eq!(resp.brokers.len(), 1);
        assert_eq!(resp.brokers[0].broker_id, resp.controller_id);
        assert_eq!(resp.brokers[0].port, 9092);
        assert_eq!(resp.cluster_id.as_str(), ctx.kafka.cluster_id);
        ctx.log.shutdown().unwrap();
    }
}
