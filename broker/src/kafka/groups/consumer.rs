//! ConsumerGroupHeartbeat (68) and ConsumerGroupDescribe (69), the KIP-848 consumer group
//! protocol: translate the wire request into the coordinator's domain request (topics by their
//! Kafka topic ids, as the protocol names them), call the core, encode the answer.

use std::collections::BTreeMap;
use std::sync::Arc;

use kafka_protocol::messages::consumer_group_describe_response::{
    Assignment as DescribedAssignment, DescribedGroup, Member, TopicPartitions as DescribedTopic,
};
use kafka_protocol::messages::consumer_group_heartbeat_response::{
    Assignment as HeartbeatAssignment, TopicPartitions,
};
use kafka_protocol::messages::{
    ConsumerGroupDescribeRequest, ConsumerGroupDescribeResponse, ConsumerGroupHeartbeatRequest,
    ConsumerGroupHeartbeatResponse, RequestHeader,
};
use kafka_protocol::protocol::StrBytes;
use uuid::Uuid;
use whippet_coordinator::ErrorCode;
use whippet_coordinator::consumer::{Assignment, ConsumerHeartbeat, TopicCatalog, TopicInfo};

use super::str_bytes;
use crate::context::BrokerContext;
use crate::core::{RequestContext, membership};
use crate::kafka::error_code::group_code;
use crate::kafka::topics;

/// Every topic Kafka clients can subscribe to, with its id and partition count.
fn catalog(ctx: &BrokerContext) -> TopicCatalog {
    topics::all_topics(ctx)
        .into_iter()
        .map(|(name, t)| {
            let info = TopicInfo {
                id: topics::topic_uuid(&t).as_u128(),
                partitions: t.partition_count(),
            };
            (name, info)
        })
        .collect()
}

/// Longest subscription regex accepted (Kafka has no limit; this bounds compile time and memory).
const REGEX_LEN_MAX: usize = 1024;
/// Compiled size limit of one subscription regex, in bytes.
const REGEX_SIZE_MAX: usize = 1 << 20;

/// Subscription regexes compiled once per heartbeat (the group's members may use several).
/// Kafka matches a regex against the whole topic name (RE2/J `matches`), which the anchored
/// form reproduces.
#[derive(Default)]
struct Regexes {
    compiled: std::sync::Mutex<BTreeMap<String, Option<regex::Regex>>>,
}

impl Regexes {
    fn compiled(&mut self, regex: &str) -> Option<regex::Regex> {
        self.compiled
            .get_mut()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(regex.to_owned())
            .or_insert_with(|| compile(regex))
            .clone()
    }

    fn matches(&self, regex: &str, topic: &str) -> bool {
        let mut cache = self
            .compiled
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        cache
            .entry(regex.to_owned())
            .or_insert_with(|| compile(regex))
            .as_ref()
            .is_some_and(|r| r.is_match(topic))
    }
}

fn compile(regex: &str) -> Option<regex::Regex> {
    if regex.len() > REGEX_LEN_MAX {
        return None;
    }
    regex::RegexBuilder::new(&format!("^(?:{regex})$"))
        .size_limit(REGEX_SIZE_MAX)
        .build()
        .ok()
}

/// Answers ConsumerGroupHeartbeat.
pub(crate) async fn heartbeat(
    ctx: &Arc<BrokerContext>,
    rc: &RequestContext,
    header: &RequestHeader,
    req: ConsumerGroupHeartbeatRequest,
) -> ConsumerGroupHeartbeatResponse {
    let request = ConsumerHeartbeat {
        group_id: req.group_id.to_string(),
        member_id: req.member_id.to_string(),
        member_epoch: req.member_epoch,
        instance_id: req.instance_id.as_ref().map(ToString::to_string),
        rack_id: req.rack_id.as_ref().map(ToString::to_string),
        rebalance_timeout_ms: req.rebalance_timeout_ms,
        subscribed_topic_names: req
            .subscribed_topic_names
            .as_ref()
            .map(|names| names.iter().map(|n| n.to_string()).collect()),
        subscribed_topic_regex: req.subscribed_topic_regex.as_ref().map(ToString::to_string),
        server_assignor: req.server_assignor.as_ref().map(ToString::to_string),
        owned: req.topic_partitions.as_ref().map(|tps| {
            let mut owned = Assignment::new();
            for tp in tps {
                owned
                    .entry(tp.topic_id.as_u128())
                    .or_default()
                    .extend(tp.partitions.iter().copied());
            }
            owned
        }),
        client_id: header
            .client_id
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        client_host: String::new(),
    };
    if header.request_api_version >= 1 && request.member_id.is_empty() {
        // v1 members make their own id (KIP-1082).
        return ConsumerGroupHeartbeatResponse::default()
            .with_error_code(kafka_protocol::ResponseError::InvalidRequest.code())
            .with_error_message(Some(StrBytes::from_static_str("MemberId can't be empty.")))
            .with_member_epoch(request.member_epoch);
    }
    let mut regexes = Regexes::default();
    if let Some(regex) = request.subscribed_topic_regex.as_deref()
        && !regex.is_empty()
        && regexes.compiled(regex).is_none()
    {
        return ConsumerGroupHeartbeatResponse::default()
            .with_error_code(group_code(ErrorCode::InvalidRegularExpression))
            .with_member_epoch(request.member_epoch);
    }
    let topics = catalog(ctx);
    let matches = |regex: &str, topic: &str| regexes.matches(regex, topic);
    let answer = membership::consumer_heartbeat(&ctx.core, rc, &request, &topics, &matches).await;
    let assignment = answer.assignment.map(|a| {
        HeartbeatAssignment::default().with_topic_partitions(
            a.into_iter()
                .map(|(topic, parts)| {
                    TopicPartitions::default()
                        .with_topic_id(Uuid::from_u128(topic))
                        .with_partitions(parts.into_iter().collect())
                })
                .collect(),
        )
    });
    ConsumerGroupHeartbeatResponse::default()
        .with_error_code(group_code(answer.error))
        .with_member_id(answer.member_id.map(str_bytes))
        .with_member_epoch(answer.member_epoch)
        .with_heartbeat_interval_ms(
            i32::try_from(answer.heartbeat_interval.as_millis()).unwrap_or(i32::MAX),
        )
        .with_assignment(assignment)
}

/// Answers ConsumerGroupDescribe: each group's epochs, assignor and members with their
/// current and target assignments (topic names resolved from the catalog now).
pub(crate) async fn describe(
    ctx: &Arc<BrokerContext>,
    rc: &crate::core::RequestContext,
    _header: &RequestHeader,
    req: ConsumerGroupDescribeRequest,
) -> ConsumerGroupDescribeResponse {
    let operations = if req.include_authorized_operations {
        crate::kafka::authorized_ops::group(ctx, rc)
    } else {
        crate::kafka::authorized_ops::NOT_REQUESTED
    };
    let names: BTreeMap<u128, String> = catalog(ctx)
        .into_iter()
        .map(|(name, t)| (t.id, name))
        .collect();
    let descriptions: Vec<_> = {
        let c = ctx.core.groups.lock();
        req.group_ids
            .iter()
            .map(|g| c.describe_consumer_group(g.as_str()))
            .collect()
    };
    let groups = descriptions
        .into_iter()
        .map(|d| {
            let members = d
                .members
                .into_iter()
                .map(|m| {
                    Member::default()
                        .with_member_id(str_bytes(m.member_id))
                        .with_instance_id(m.instance_id.map(str_bytes))
                        .with_rack_id(m.rack_id.map(str_bytes))
                        .with_member_epoch(m.member_epoch)
                        .with_client_id(str_bytes(m.client_id))
                        .with_client_host(str_bytes(m.client_host))
                        .with_subscribed_topic_names(
                            m.subscribed_topic_names
                                .into_iter()
                                .map(|n| topics::topic_name(&n))
                                .collect(),
                        )
                        .with_assignment(described(&m.assignment, &names))
                        .with_target_assignment(described(&m.target_assignment, &names))
                })
                .collect();
            DescribedGroup::default()
                .with_error_code(group_code(d.error))
                .with_group_id(str_bytes(d.group_id).into())
                .with_group_state(StrBytes::from_static_str(d.state.kafka_name()))
                .with_group_epoch(d.group_epoch)
                .with_assignment_epoch(d.assignment_epoch)
                .with_assignor_name(str_bytes(d.assignor_name))
                .with_members(members)
                .with_authorized_operations(operations)
        })
        .collect();
    ConsumerGroupDescribeResponse::default().with_groups(groups)
}

fn described(a: &Assignment, names: &BTreeMap<u128, String>) -> DescribedAssignment {
    DescribedAssignment::default().with_topic_partitions(
        a.iter()
            .map(|(topic, parts)| {
                DescribedTopic::default()
                    .with_topic_id(Uuid::from_u128(*topic))
                    .with_topic_name(topics::topic_name(
                        names.get(topic).map_or("", String::as_str),
                    ))
                    .with_partitions(parts.iter().copied().collect())
            })
            .collect(),
    )
}
