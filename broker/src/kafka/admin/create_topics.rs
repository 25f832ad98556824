//! CreateTopics: creates Kafka topics in the Kafka stream, with Kafka's checks and error codes
//! for a one-broker cluster: a replication factor above 1 is INVALID_REPLICATION_FACTOR (only
//! one broker exists), −1 partitions or replication means the broker default, manual replica
//! assignments must name this broker only, and `validate_only` runs every check without
//! creating anything. Topics in one request are independent: one failing does not stop others.

use std::collections::HashSet;
use std::sync::Arc;

use kafka_protocol::ResponseError;
use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::create_topics_response::{
    CreatableTopicConfigs, CreatableTopicResult,
};
use kafka_protocol::messages::{CreateTopicsRequest, CreateTopicsResponse, RequestHeader};
use whippet_log::TopicSettings;

use super::text;
use crate::context::BrokerContext;
use crate::core::{CoreError, RequestContext};
use crate::kafka::configs::{self, ConfigError, source};
use crate::kafka::error_code::core_error;
use crate::kafka::topics;
use crate::limits;

/// A topic that passed every check: what would be (or was) created.
struct Plan {
    partitions: u32,
    settings: TopicSettings,
}

/// Creates (or, with `validate_only`, checks) each requested topic.
pub(crate) async fn handle(
    ctx: &Arc<BrokerContext>,
    rc: &RequestContext,
    header: &RequestHeader,
    req: CreateTopicsRequest,
) -> CreateTopicsResponse {
    let version = header.request_api_version;
    let mut seen = HashSet::new();
    let duplicates: HashSet<String> = req
        .topics
        .iter()
        .filter(|t| !seen.insert(t.name.as_str().to_string()))
        .map(|t| t.name.as_str().to_string())
        .collect();
    let mut results = Vec::with_capacity(req.topics.len());
    for topic in req.topics {
        let name = topic.name.as_str().to_string();
        let mut result = CreatableTopicResult::default().with_name(topic.name.clone());
        let outcome = if duplicates.contains(&name) {
            Err(ConfigError {
                error: ResponseError::InvalidRequest,
                message: format!("topic {name:?} appears more than once in the request"),
            })
        } else {
            create_one(ctx, rc, &topic, req.validate_only).await
        };
        match outcome {
            Ok(plan) => {
                if version >= 5 {
                    result = with_details(result, &plan);
                }
            }
            Err(error) => {
                result = result
                    .with_error_code(error.error.code())
                    .with_error_message(Some(text(error.message)));
            }
        }
        results.push(result);
    }
    CreateTopicsResponse::default().with_topics(results)
}

/// Checks one topic and creates it unless `validate_only`.
async fn create_one(
    ctx: &Arc<BrokerContext>,
    rc: &RequestContext,
    topic: &CreatableTopic,
    validate_only: bool,
) -> Result<Plan, ConfigError> {
    let name = topic.name.as_str();
    topics::validate_topic_name(name).map_err(|reason| ConfigError {
        error: ResponseError::InvalidTopicException,
        message: reason.to_string(),
    })?;
    let create = topics::kafka_stream_id(ctx).map_or(
        crate::core::users::Access::ManageStreams,
        crate::core::users::Access::CreateTopic,
    );
    if ctx.core.users.permits(rc, create).is_err() {
        return Err(ConfigError {
            error: ResponseError::TopicAuthorizationFailed,
            message: "not allowed to create topics".to_string(),
        });
    }
    if topics::find_topic(ctx, name).is_some() {
        return Err(exists(name));
    }
    let partitions = partition_count(ctx, topic)?;
    let replication = replication_factor(topic)?;
    let mut settings = configs::from_configs(
        topic
            .configs
            .iter()
            .map(|c| (c.name.as_str(), c.value.as_ref().map(|v| v.as_str()))),
    )?;
    settings.replication_factor = replication;
    if !validate_only {
        match topics::create_topic(ctx, rc, name, partitions, settings.clone()).await {
            Ok(_) => {}
            Err(CoreError::Log(whippet_log::LogError::TopicExists(_))) => {
                return Err(exists(name));
            }
            Err(error) => {
                return Err(ConfigError {
                    error: core_error(&error),
                    message: error.to_string(),
                });
            }
        }
    }
    Ok(Plan {
        partitions,
        settings,
    })
}

fn exists(name: &str) -> ConfigError {
    ConfigError {
        error: ResponseError::TopicAlreadyExists,
        message: format!("Topic '{name}' already exists."),
    }
}

/// The partition count: explicit, the broker default for −1, or the number of manual
/// assignments (which must each name only this broker).
fn partition_count(ctx: &BrokerContext, topic: &CreatableTopic) -> Result<u32, ConfigError> {
    let invalid = |message: String| ConfigError {
        error: ResponseError::InvalidPartitions,
        message,
    };
    if !topic.assignments.is_empty() {
        if topic.num_partitions != -1 || topic.replication_factor != -1 {
            return Err(ConfigError {
                error: ResponseError::InvalidRequest,
                message: "both num_partitions/replication_factor and assignments were given".into(),
            });
        }
        check_assignments(ctx, topic)?;
        return u32::try_from(topic.assignments.len())
            .ok()
            .filter(|n| *n <= limits::NUM_PARTITIONS_MAX)
            .ok_or_else(|| invalid("too many partitions".into()));
    }
    match topic.num_partitions {
        -1 => Ok(ctx.kafka.num_partitions),
        n if n >= 1 && n.unsigned_abs() <= limits::NUM_PARTITIONS_MAX => Ok(n.unsigned_abs()),
        n => Err(invalid(format!(
            "number of partitions must be in [1, {}] (or -1 for the default), got {n}",
            limits::NUM_PARTITIONS_MAX
        ))),
    }
}

/// Manual assignments: partitions 0..n in order, each on exactly this broker.
fn check_assignments(ctx: &BrokerContext, topic: &CreatableTopic) -> Result<(), ConfigError> {
    let node = ctx.kafka.node_id;
    for (index, assignment) in topic.assignments.iter().enumerate() {
        let in_order = usize::try_from(assignment.partition_index).ok() == Some(index);
        let here =
            !assignment.broker_ids.is_empty() && assignment.broker_ids.iter().all(|b| b.0 == node);
        if !in_order || !here || assignment.broker_ids.len() > 1 {
            return Err(ConfigError {
                error: ResponseError::InvalidReplicaAssignment,
                message: format!(
                    "partition {} must be assigned to broker {node} only, partitions in order",
                    assignment.partition_index
                ),
            });
        }
    }
    Ok(())
}

/// −1 is the default (1); anything but 1 cannot be satisfied by a one-broker cluster.
fn replication_factor(topic: &CreatableTopic) -> Result<u8, ConfigError> {
    match topic.replication_factor {
        -1 | 1 => Ok(1),
        n => Err(ConfigError {
            error: ResponseError::InvalidReplicationFactor,
            message: format!("Replication factor: {n} larger than available brokers: 1."),
        }),
    }
}

/// v5+ answers carry the resulting partition count, replication factor and configs.
fn with_details(result: CreatableTopicResult, plan: &Plan) -> CreatableTopicResult {
    let configs = configs::TOPIC_CONFIGS
        .iter()
        .filter_map(|def| {
            let value = configs::value_of(&plan.settings, def.name)?;
            let source = if configs::is_default(&plan.settings, def.name) {
                source::DEFAULT_CONFIG
            } else {
                source::DYNAMIC_TOPIC_CONFIG
            };
            Some(
                CreatableTopicConfigs::default()
                    .with_name(text(def.name))
                    .with_value(Some(text(value)))
                    .with_config_source(source),
            )
        })
        .collect();
    result
        .with_num_partitions(i32::try_from(plan.partitions).unwrap_or(i32::MAX))
        .with_replication_factor(i16::from(plan.settings.replication_factor))
        .with_configs(Some(configs))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use kafka_protocol::messages::ApiKey;
    use kafka_protocol::messages::create_topics_request::CreatableTopicConfig;

    use super::*;
    use crate::kafka::test_support;

    fn topic(name: &'static str, partitions: i32, replication: i16) -> CreatableTopic {
        CreatableTopic::default()
            .with_name(topics::topic_name(name))
            .with_num_partitions(partitions)
            .with_replication_factor(replication)
    }

    #[tokio::test]
    async fn creates_validates_and_refuses_like_kafka() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = test_support::context(dir.path());
        let header = test_support::header(ApiKey::CreateTopics, 5);
        let config = CreatableTopicConfig::default()
            .with_name(text("retention.ms"))
            .with_value(Some(text("1000")));
        let req = CreateTopicsRequest::default().with_topics(vec![
            topic("a", 3, 1).with_configs(vec![config]),
            topic("b", -1, -1),
            topic("c", 1, 3),
            topic("d", 0, 1),
            topic("bad/name", 1, 1),
        ]);
        let resp = handle(&ctx, &crate::core::RequestContext::internal(), &header, req).await;
        let codes: Vec<i16> = resp.topics.iter().map(|t| t.error_code).collect();
        assert_eq!(codes, vec![0, 0, 38, 37, 17]);
        assert_eq!(resp.topics[0].num_partitions, 3);
        let a = topics::find_topic(&ctx, "a").unwrap();
        assert_eq!(a.settings.retention_ms, Some(1000));
        assert_eq!(topics::find_topic(&ctx, "b").unwrap().partition_count(), 1);
        assert!(topics::find_topic(&ctx, "c").is_none());

        let again = CreateTopicsRequest::default().with_topics(vec![topic("a", 1, 1)]);
        assert_eq!(
            handle(
                &ctx,
                &crate::core::RequestContext::internal(),
                &header,
                again
            )
            .await
            .topics[0]
                .error_code,
            36
        );

        let dry = CreateTopicsRequest::default()
            .with_topics(vec![topic("dry", 2, 1)])
            .with_validate_only(true);
        let resp = handle(&ctx, &crate::core::RequestContext::internal(), &header, dry).await;
        assert_eq!(
            (resp.topics[0].error_code, resp.topics[0].num_partitions),
            (0, 2)
        );
        assert!(topics::find_topic(&ctx, "dry").is_none());

        let dup =
            CreateTopicsRequest::default().with_topics(vec![topic("x", 1, 1), topic("x", 1, 1)]);
        let resp = handle(&ctx, &crate::core::RequestContext::internal(), &header, dup).await;
        assert!(resp.topics.iter().all(|t| t.error_code == 42));
        ctx.log.shutdown().unwrap();
    }

    #[tokio::test]
    async fn names_of_native_topics_are_taken() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = test_support::context(dir.path());
        let s = ctx.log.create_stream("s").unwrap().id;
        ctx.log
            .create_topic(s, "t", 1, whippet_log::TopicSettings::default())
            .unwrap();
        let header = test_support::header(ApiKey::CreateTopics, 5);
        let req = CreateTopicsRequest::default()
            .with_topics(vec![topic("s.t", 1, 1), topic("s.u", 1, 1)]);
        let codes: Vec<i16> = handle(&ctx, &crate::core::RequestContext::internal(), &header, req)
            .await
            .topics
            .iter()
            .map(|t| t.error_code)
            .collect();
        // TOPIC_ALREADY_EXISTS for the native topic's name; a free dotted name is created.
        assert_eq!(codes, vec![36, 0]);
        // The direct path refuses too (it is what auto-create and races go through).
        let direct = topics::create_topic(
            &ctx,
            &crate::core::RequestContext::internal(),
            "s.t",
            1,
            whippet_log::TopicSettings::default(),
        )
        .await;
        assert!(matches!(
            direct,
            Err(CoreError::Log(whippet_log::LogError::TopicExists(_)))
        ));
        ctx.log.shutdown().unwrap();
    }
}
