//! DeleteTopics: deletes Kafka topics and their data, by name (all versions) or by topic id
//! (v6+). A missing topic is UNKNOWN_TOPIC_OR_PARTITION (or UNKNOWN_TOPIC_ID when asked by id),
//! as in Kafka; each topic in a request succeeds or fails on its own.

use std::sync::Arc;

use kafka_protocol::ResponseError;
use kafka_protocol::messages::delete_topics_response::DeletableTopicResult;
use kafka_protocol::messages::{DeleteTopicsRequest, DeleteTopicsResponse, RequestHeader};
use uuid::Uuid;
use whippet_log::TopicMeta;

use super::text;
use crate::context::BrokerContext;
use crate::core::{self, RequestContext};
use crate::kafka::error_code::core_error;
use crate::kafka::topics;

/// Deletes each named (or identified) topic.
pub(crate) async fn handle(
    ctx: &Arc<BrokerContext>,
    rc: &RequestContext,
    header: &RequestHeader,
    req: DeleteTopicsRequest,
) -> DeleteTopicsResponse {
    let version = header.request_api_version;
    let wanted: Vec<(Option<String>, Uuid)> = if version >= 6 {
        req.topics
            .into_iter()
            .map(|t| (t.name.map(|n| n.as_str().to_string()), t.topic_id))
            .collect()
    } else {
        req.topic_names
            .into_iter()
            .map(|n| (Some(n.as_str().to_string()), Uuid::nil()))
            .collect()
    };
    let mut responses = Vec::with_capacity(wanted.len());
    for (name, id) in wanted {
        responses.push(delete_one(ctx, rc, name, id, version).await);
    }
    DeleteTopicsResponse::default().with_responses(responses)
}

async fn delete_one(
    ctx: &Arc<BrokerContext>,
    rc: &RequestContext,
    name: Option<String>,
    id: Uuid,
    version: i16,
) -> DeletableTopicResult {
    let found: Result<(String, Arc<TopicMeta>), ResponseError> = match &name {
        Some(name) => topics::find_topic(ctx, name)
            .map(|topic| (name.clone(), topic))
            .ok_or(ResponseError::UnknownTopicOrPartition),
        None => topics::find_topic_by_id(ctx, id).ok_or(ResponseError::UnknownTopicId),
    };
    let mut result =
        DeletableTopicResult::default().with_name(name.as_deref().map(topics::topic_name));
    if version >= 6 {
        result = result.with_topic_id(id);
    }
    let (kafka_name, topic) = match found {
        Ok(found) => found,
        Err(error) => return failed(result, error, "topic does not exist", version),
    };
    let manage = crate::core::users::Access::ManageTopic(topic.stream_id, topic.id);
    if ctx.core.users.permits(rc, manage).is_err() {
        let denied = ResponseError::TopicAuthorizationFailed;
        return failed(result, denied, "not allowed to delete the topic", version);
    }
    if version >= 6 {
        result = result
            .with_name(Some(topics::topic_name(&kafka_name)))
            .with_topic_id(topics::topic_uuid(&topic));
    }
    // The core takes the topic's committed offsets and every protocol's per-topic state
    // (native group definitions, producer state) with it.
    match core::topics::delete_topic(&ctx.core, rc, topic.stream_id, topic.id).await {
        Ok(()) => result,
        Err(error) => failed(result, core_error(&error), &error.to_string(), version),
    }
}

fn failed(
    result: DeletableTopicResult,
    error: ResponseError,
    message: &str,
    version: i16,
) -> DeletableTopicResult {
    let result = result.with_error_code(error.code());
    if version >= 5 {
        result.with_error_message(Some(text(message)))
    } else {
        result
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use kafka_protocol::messages::ApiKey;
    use kafka_protocol::messages::delete_topics_request::DeleteTopicState;
    use whippet_log::TopicSettings;

    use super::*;
    use crate::kafka::test_support;

    #[tokio::test]
    async fn deletes_by_name_and_by_id() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = test_support::context(dir.path());
        for name in ["a", "b"] {
            test_support::kafka_topic(&ctx, name, 1, TopicSettings::default()).await;
        }
        let v4 = test_support::header(ApiKey::DeleteTopics, 4);
        let req = DeleteTopicsRequest::default()
            .with_topic_names(vec![topics::topic_name("a"), topics::topic_name("zz")]);
        let resp = handle(&ctx, &RequestContext::internal(), &v4, req).await;
        let codes: Vec<i16> = resp.responses.iter().map(|r| r.error_code).collect();
        assert_eq!(codes, vec![0, 3]);
        assert!(topics::find_topic(&ctx, "a").is_none());

        let id = topics::topic_uuid(&topics::find_topic(&ctx, "b").unwrap());
        let v6 = test_support::header(ApiKey::DeleteTopics, 6);
        let req = DeleteTopicsRequest::default().with_topics(vec![
            DeleteTopicState::default().with_topic_id(id),
            DeleteTopicState::default().with_topic_id(Uuid::from_u128(7)),
        ]);
        let resp = handle(&ctx, &RequestContext::internal(), &v6, req).await;
        assert_eq!(resp.responses[0].error_code, 0);
        assert_eq!(resp.responses[0].name.as_ref().unwrap().as_str(), "b");
        assert_eq!(resp.responses[1].error_code, 100);
        assert!(topics::find_topic(&ctx, "b").is_none());
        ctx.log.shutdown().unwrap();
    }
}
