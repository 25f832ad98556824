//! CreatePartitions: raises a topic's partition count to the requested total. As in Kafka, the
//! count may only grow (equal or lower is INVALID_PARTITIONS), manual assignments must name
//! only this broker, and `validate_only` checks without adding anything.

use std::collections::HashSet;
use std::sync::Arc;

use kafka_protocol::ResponseError;
use kafka_protocol::messages::create_partitions_request::CreatePartitionsTopic;
use kafka_protocol::messages::create_partitions_response::CreatePartitionsTopicResult;
use kafka_protocol::messages::{CreatePartitionsRequest, CreatePartitionsResponse, RequestHeader};

use super::text;
use crate::context::BrokerContext;
use crate::kafka::configs::ConfigError;
use crate::kafka::error_code::log_error;
use crate::kafka::topics;
use crate::limits;

/// Grows each named topic to its requested partition count.
pub(crate) async fn handle(
    ctx: &Arc<BrokerContext>,
    _header: &RequestHeader,
    req: CreatePartitionsRequest,
) -> CreatePartitionsResponse {
    let mut seen = HashSet::new();
    let duplicates: HashSet<String> = req
        .topics
        .iter()
        .filter(|t| !seen.insert(t.name.as_str().to_string()))
        .map(|t| t.name.as_str().to_string())
        .collect();
    let mut results = Vec::with_capacity(req.topics.len());
    for topic in req.topics {
        let outcome = if duplicates.contains(topic.name.as_str()) {
            Err(ConfigError {
                error: ResponseError::InvalidRequest,
                message: "duplicate topic in request".into(),
            })
        } else {
            grow(ctx, &topic, req.validate_only).await
        };
        let mut result = CreatePartitionsTopicResult::default().with_name(topic.name);
        if let Err(error) = outcome {
            result = result
                .with_error_code(error.error.code())
                .with_error_message(Some(text(error.message)));
        }
        results.push(result);
    }
    CreatePartitionsResponse::default().with_results(results)
}

async fn grow(
    ctx: &Arc<BrokerContext>,
    req: &CreatePartitionsTopic,
    validate_only: bool,
) -> Result<(), ConfigError> {
    let invalid = |message: String| ConfigError {
        error: ResponseError::InvalidPartitions,
        message,
    };
    let topic = topics::find_topic(ctx, req.name.as_str()).ok_or_else(|| ConfigError {
        error: ResponseError::UnknownTopicOrPartition,
        message: format!("topic {:?} does not exist", req.name.as_str()),
    })?;
    let current = topic.partition_count();
    let wanted = u32::try_from(req.count).unwrap_or(0);
    if wanted == current {
        return Err(invalid(format!("Topic already has {current} partitions.")));
    }
    if wanted < current {
        return Err(invalid(format!(
            "Topic currently has {current} partitions, which is higher than the requested {}.",
            req.count
        )));
    }
    if wanted > limits::NUM_PARTITIONS_MAX {
        return Err(invalid(format!(
            "at most {} partitions per topic",
            limits::NUM_PARTITIONS_MAX
        )));
    }
    // Clients send null or an empty list when they leave placement to the broker.
    if let Some(assignments) = req.assignments.as_ref().filter(|a| !a.is_empty()) {
        let node = ctx.kafka.node_id;
        let added = usize::try_from(wanted - current).unwrap_or(usize::MAX);
        let valid = assignments.len() == added
            && assignments
                .iter()
                .all(|a| a.broker_ids.len() == 1 && a.broker_ids.iter().all(|b| b.0 == node));
        if !valid {
            return Err(ConfigError {
                error: ResponseError::InvalidReplicaAssignment,
                message: format!("each new partition must be assigned to broker {node} only"),
            });
        }
    }
    if validate_only {
        return Ok(());
    }
    let (stream_id, topic_id, add) = (topic.stream_id, topic.id, wanted - current);
    let ctx = Arc::clone(ctx);
    topics::blocking(move || ctx.log.create_partitions(stream_id, topic_id, add))
        .await
        .map(|_| ())
        .map_err(|error| ConfigError {
            error: log_error(&error),
            message: error.to_string(),
        })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use kafka_protocol::messages::ApiKey;
    use whippet_log::TopicSettings;

    use super::*;
    use crate::kafka::test_support;

    fn grow_to(name: &'static str, count: i32) -> CreatePartitionsTopic {
        CreatePartitionsTopic::default()
            .with_name(topics::topic_name(name))
            .with_count(count)
    }

    #[tokio::test]
    async fn only_grows() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = test_support::context(dir.path());
        test_support::kafka_topic(&ctx, "t", 2, TopicSettings::default()).await;
        let header = test_support::header(ApiKey::CreatePartitions, 3);
        let dry = CreatePartitionsRequest::default()
            .with_topics(vec![grow_to("t", 5)])
            .with_validate_only(true);
        assert_eq!(handle(&ctx, &header, dry).await.results[0].error_code, 0);
        assert_eq!(topics::find_topic(&ctx, "t").unwrap().partition_count(), 2);

        let req = CreatePartitionsRequest::default()
            .with_topics(vec![grow_to("t", 5), grow_to("missing", 2)]);
        let resp = handle(&ctx, &header, req).await;
        let codes: Vec<i16> = resp.results.iter().map(|r| r.error_code).collect();
        assert_eq!(codes, vec![0, 3]);
        assert_eq!(topics::find_topic(&ctx, "t").unwrap().partition_count(), 5);

        for count in [5, 4, -1] {
            let req = CreatePartitionsRequest::default().with_topics(vec![grow_to("t", count)]);
            assert_eq!(handle(&ctx, &header, req).await.results[0].error_code, 37);
        }
        ctx.log.shutdown().unwrap();
    }
}
