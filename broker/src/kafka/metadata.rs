//! Metadata: tells clients where every partition lives. This broker is the whole cluster, so it
//! is the only broker listed, the controller, and the leader (epoch 0) and sole replica of
//! every partition. Unknown topics are created on request when the broker allows it
//! (`auto_create_topics`) and the client asks for it (v4+ `allow_auto_topic_creation`; implied
//! for v0–3, as in Kafka); the created topic is described in the same answer rather than with
//! Kafka's transient LEADER_NOT_AVAILABLE, since creation here is synchronous.
//!
//! Native topics of streams other than the Kafka stream are listed as `<stream>.<topic>` (and
//! found by that name), so a topic created by either protocol is visible here at once; a native
//! topic whose `<stream>.<topic>` is not a legal Kafka name is not listed ([`crate::core::names`]).

use crate::core::users::Access;
use std::net::IpAddr;
use std::sync::Arc;

use kafka_protocol::ResponseError;
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::{BrokerId, MetadataRequest, MetadataResponse, RequestHeader};
use kafka_protocol::protocol::StrBytes;
use whippet_log::TopicMeta;

use super::error_code::core_error;
use super::{authorized_ops, topics};
use crate::context::BrokerContext;
use crate::core::RequestContext;

/// The host and port clients should connect to: the configured advertised address, else the
/// bound one with a wildcard IP replaced by loopback (a client cannot connect to 0.0.0.0).
pub(crate) fn advertised_endpoint(ctx: &BrokerContext) -> (String, i32) {
    if let Some((host, port)) = &ctx.kafka.advertised {
        return (host.clone(), i32::from(*port));
    }
    let bound = ctx.addrs.kafka;
    let ip = match bound.ip() {
        IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::from([127, 0, 0, 1]),
        IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::from(std::net::Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    (ip.to_string(), i32::from(bound.port()))
}

/// Answers Metadata for the requested topics (all of them for a null list, or an empty one at
/// v0), auto-creating unknown names when allowed.
pub(crate) async fn handle(
    ctx: &Arc<BrokerContext>,
    rc: &RequestContext,
    header: &RequestHeader,
    req: MetadataRequest,
) -> MetadataResponse {
    let version = header.request_api_version;
    let (host, port) = advertised_endpoint(ctx);
    let node = BrokerId(ctx.kafka.node_id);
    let broker = MetadataResponseBroker::default()
        .with_node_id(node)
        .with_host(StrBytes::from_string(host))
        .with_port(port);
    let all = match &req.topics {
        None => true,
        Some(list) => version == 0 && list.is_empty(),
    };
    let with_ops = req.include_topic_authorized_operations;
    let cluster_ops = if req.include_cluster_authorized_operations {
        authorized_ops::cluster(ctx, rc)
    } else {
        authorized_ops::NOT_REQUESTED
    };
    let topics = if all {
        topics::all_topics(ctx)
            .iter()
            .filter(|(_, t)| may_describe(ctx, rc, t))
            .map(|(name, t)| describe_topic(ctx, name, t))
            .collect()
    } else {
        let allow_create =
            ctx.kafka.auto_create_topics && (version < 4 || req.allow_auto_topic_creation);
        let mut out = Vec::new();
        for wanted in req.topics.unwrap_or_default() {
            out.push(requested_topic(ctx, rc, wanted, allow_create).await);
        }
        out
    };
    let topics = topics
        .into_iter()
        .map(|t| with_topic_ops(ctx, rc, t, with_ops))
        .collect();
    MetadataResponse::default()
        .with_cluster_authorized_operations(cluster_ops)
        .with_brokers(vec![broker])
        .with_cluster_id(Some(StrBytes::from_string(ctx.kafka.cluster_id.clone())))
        .with_controller_id(node)
        .with_topics(topics)
}

/// One entry of an explicit topic list: by name (created if allowed), or by id at v10+.
async fn requested_topic(
    ctx: &Arc<BrokerContext>,
    rc: &RequestContext,
    wanted: MetadataRequestTopic,
    allow_create: bool,
) -> MetadataResponseTopic {
    let Some(name) = wanted.name else {
        return match topics::find_topic_by_id(ctx, wanted.topic_id) {
            Some((name, topic)) => describe_topic(ctx, &name, &topic),
            None => MetadataResponseTopic::default()
                .with_topic_id(wanted.topic_id)
                .with_error_code(ResponseError::UnknownTopicId.code()),
        };
    };
    let failed = |code: i16| {
        MetadataResponseTopic::default()
            .with_name(Some(name.clone()))
            .with_error_code(code)
    };
    if topics::validate_topic_name(name.as_str()).is_err() {
        return failed(ResponseError::InvalidTopicException.code());
    }
    if let Some(topic) = topics::find_topic(ctx, name.as_str()) {
        if !may_describe(ctx, rc, &topic) {
            return failed(ResponseError::TopicAuthorizationFailed.code());
        }
        return describe_topic(ctx, name.as_str(), &topic);
    }
    if !allow_create {
        return failed(ResponseError::UnknownTopicOrPartition.code());
    }
    // Creating a Kafka topic is creating a topic in the Kafka stream (or the stream itself).
    let create = topics::kafka_stream_id(ctx).map_or(Access::ManageStreams, Access::CreateTopic);
    if ctx.core.users.permits(rc, create).is_err() {
        return failed(ResponseError::TopicAuthorizationFailed.code());
    }
    match topics::auto_create(ctx, rc, name.as_str()).await {
        Ok(topic) => describe_topic(ctx, name.as_str(), &topic),
        Err(error) => {
            tracing::warn!(topic = %name.as_str(), %error, "auto-create failed");
            failed(core_error(&error).code())
        }
    }
}

/// `topic` with its authorized operations when they were asked for (and it exists).
fn with_topic_ops(
    ctx: &BrokerContext,
    rc: &RequestContext,
    topic: MetadataResponseTopic,
    asked: bool,
) -> MetadataResponseTopic {
    let found = asked && topic.error_code == 0;
    let meta = found
        .then(|| {
            topic
                .name
                .as_ref()
                .and_then(|n| topics::find_topic(ctx, n.as_str()))
        })
        .flatten();
    let ops = meta.map_or(authorized_ops::NOT_REQUESTED, |t| {
        authorized_ops::topic(ctx, rc, &t)
    });
    topic.with_topic_authorized_operations(ops)
}

/// Whether the request's user may see `topic` (native `read_topic` on it).
fn may_describe(ctx: &BrokerContext, rc: &RequestContext, topic: &TopicMeta) -> bool {
    let read = Access::ReadTopic(topic.stream_id, topic.id);
    ctx.core.users.permits(rc, read).is_ok()
}

/// A topic with its partitions, all led by this broker, under its Kafka name `name` (for a
/// native topic, `<stream>.<topic>`).
fn describe_topic(ctx: &BrokerContext, name: &str, topic: &TopicMeta) -> MetadataResponseTopic {
    let node = BrokerId(ctx.kafka.node_id);
    let partitions = (0..topic.partition_count())
        .map(|p| {
            MetadataResponsePartition::default()
                .with_partition_index(i32::try_from(p).unwrap_or(i32::MAX))
                .with_leader_id(node)
                .with_leader_epoch(0)
                .with_replica_nodes(vec![node])
                .with_isr_nodes(vec![node])
        })
        .collect();
    MetadataResponseTopic::default()
        .with_name(Some(topics::topic_name(name)))
        .with_topic_id(topics::topic_uuid(topic))
        .with_partitions(partitions)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use kafka_protocol::messages::ApiKey;
    use whippet_log::TopicSettings;

    use super::*;
    use crate::kafka::test_support;

    fn named(name: &'static str) -> MetadataRequestTopic {
        MetadataRequestTopic::default().with_name(Some(topics::topic_name(name)))
    }

    #[tokio::test]
    async fn all_topics_and_auto_create_rules() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = test_support::context(dir.path());
        test_support::kafka_topic(&ctx, "t", 3, TopicSettings::default()).await;
        let v12 = test_support::header(ApiKey::Metadata, 12);
        let resp = handle(
            &ctx,
            &crate::core::RequestContext::internal(),
            &v12,
            MetadataRequest::default().with_topics(None),
        )
        .await;
        assert_eq!(resp.topics.len(), 1);
        assert_eq!(resp.topics[0].partitions.len(), 3);
        assert_eq!(resp.brokers[0].port, 9092);
        assert_eq!(resp.controller_id, BrokerId(0));

        // v4+ without the flag: not created.
        let req = MetadataRequest::default()
            .with_topics(Some(vec![named("new")]))
            .with_allow_auto_topic_creation(false);
        let resp = handle(
            &ctx,
            &crate::core::RequestContext::internal(),
            &v12,
            req.clone(),
        )
        .await;
        assert_eq!(resp.topics[0].error_code, 3);
        assert!(topics::find_topic(&ctx, "new").is_none());
        // With the flag: created with the default partition count.
        let resp = handle(
            &ctx,
            &crate::core::RequestContext::internal(),
            &v12,
            req.with_allow_auto_topic_creation(true),
        )
        .await;
        assert_eq!(resp.topics[0].error_code, 0);
        assert_eq!(resp.topics[0].partitions.len(), 1);
        // v0: an empty list is "all topics".
        let v0 = test_support::header(ApiKey::Metadata, 0);
        let resp = handle(
            &ctx,
            &crate::core::RequestContext::internal(),
            &v0,
            MetadataRequest::default().with_topics(Some(vec![])),
        )
        .await;
        assert_eq!(resp.topics.len(), 2);
        // Invalid names are refused, never created.
        let req = MetadataRequest::default()
            .with_topics(Some(vec![named("bad name")]))
            .with_allow_auto_topic_creation(true);
        let resp = handle(&ctx, &crate::core::RequestContext::internal(), &v12, req).await;
        assert_eq!(resp.topics[0].error_code, 17);
        ctx.log.shutdown().unwrap();
    }

    #[tokio::test]
    async fn native_topics_are_listed_and_found_as_stream_dot_topic() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = test_support::context(dir.path());
        test_support::kafka_topic(&ctx, "k", 1, TopicSettings::default()).await;
        let s = ctx.log.create_stream("s").unwrap().id;
        ctx.log
            .create_topic(s, "t", 2, TopicSettings::default())
            .unwrap();
        let odd = ctx.log.create_stream("not kafka").unwrap().id;
        ctx.log
            .create_topic(odd, "x", 1, TopicSettings::default())
            .unwrap();
        let v12 = test_support::header(ApiKey::Metadata, 12);
        let resp = handle(
            &ctx,
            &crate::core::RequestContext::internal(),
            &v12,
            MetadataRequest::default().with_topics(None),
        )
        .await;
        let listed: Vec<&str> = resp
            .topics
            .iter()
            .map(|t| t.name.as_ref().unwrap().as_str())
            .collect();
        assert_eq!(listed, ["k", "s.t"]);
        assert_eq!(resp.topics[1].partitions.len(), 2);
        // By name; and by id, which answers with the Kafka name.
        let req = MetadataRequest::default().with_topics(Some(vec![named("s.t")]));
        let by_name = handle(&ctx, &crate::core::RequestContext::internal(), &v12, req).await;
        assert_eq!(by_name.topics[0].error_code, 0);
        let id = by_name.topics[0].topic_id;
        let req = MetadataRequest::default().with_topics(Some(vec![
            MetadataRequestTopic::default()
                .with_name(None)
                .with_topic_id(id),
        ]));
        let by_id = handle(&ctx, &crate::core::RequestContext::internal(), &v12, req).await;
        assert_eq!(by_id.topics[0].name.as_ref().unwrap().as_str(), "s.t");
        // Auto-create of `s.u` (stream s exists, topic u does not) goes to the Kafka stream.
        let req = MetadataRequest::default()
            .with_topics(Some(vec![named("s.u")]))
            .with_allow_auto_topic_creation(true);
        assert_eq!(
            handle(&ctx, &crate::core::RequestContext::internal(), &v12, req)
                .await
                .topics[0]
                .error_code,
            0
        );
        let created = topics::find_topic(&ctx, "s.u").unwrap();
        assert_eq!(Some(created.stream_id), topics::kafka_stream_id(&ctx));
        ctx.log.shutdown().unwrap();
    }
}
