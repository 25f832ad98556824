//! AlterConfigs (the legacy, non-incremental API): replaces a topic's whole config set, so
//! every config not named in the request goes back to its default, as in Kafka — including the
//! configs Whippet only stores. For a BROKER resource it replaces the set of dynamic per-broker
//! configs (see [`configs::broker`]); naming any other broker config is INVALID_REQUEST, as
//! Kafka answers for configs that cannot be altered at run time.

use std::sync::Arc;

use kafka_protocol::ResponseError;
use kafka_protocol::messages::alter_configs_request::AlterConfigsResource;
use kafka_protocol::messages::alter_configs_response::AlterConfigsResourceResponse;
use kafka_protocol::messages::{AlterConfigsRequest, AlterConfigsResponse, RequestHeader};

use super::{
    RESOURCE_BROKER, RESOURCE_TOPIC, config_topic, store_settings, text, update_broker_configs,
};
use crate::context::BrokerContext;
use crate::kafka::configs::{self, ConfigError};

/// Replaces the config set of each named topic (or only checks, with `validate_only`).
pub(crate) async fn handle(
    ctx: &Arc<BrokerContext>,
    _header: &RequestHeader,
    req: AlterConfigsRequest,
) -> AlterConfigsResponse {
    let mut responses = Vec::with_capacity(req.resources.len());
    for resource in req.resources {
        let outcome = alter(ctx, &resource, req.validate_only).await;
        let mut response = AlterConfigsResourceResponse::default()
            .with_resource_type(resource.resource_type)
            .with_resource_name(resource.resource_name);
        if let Err(error) = outcome {
            response = response
                .with_error_code(error.error.code())
                .with_error_message(Some(text(error.message)));
        }
        responses.push(response);
    }
    AlterConfigsResponse::default().with_responses(responses)
}

async fn alter(
    ctx: &Arc<BrokerContext>,
    resource: &AlterConfigsResource,
    validate_only: bool,
) -> Result<(), ConfigError> {
    match resource.resource_type {
        RESOURCE_TOPIC => {}
        RESOURCE_BROKER => return alter_broker(ctx, resource, validate_only).await,
        other => {
            return Err(ConfigError {
                error: ResponseError::InvalidRequest,
                message: format!("unsupported resource type {other}"),
            });
        }
    }
    let topic = config_topic(ctx, resource.resource_name.as_str())?;
    let mut settings = configs::from_configs(
        resource
            .configs
            .iter()
            .map(|c| (c.name.as_str(), c.value.as_ref().map(|v| v.as_str()))),
    )?;
    // Not a config clients can set: keep what the topic was created with.
    settings.replication_factor = topic.settings.replication_factor;
    store_settings(ctx, &topic, settings, validate_only).await
}

/// Replaces the stored dynamic configs of this broker with the request's.
async fn alter_broker(
    ctx: &Arc<BrokerContext>,
    resource: &AlterConfigsResource,
    validate_only: bool,
) -> Result<(), ConfigError> {
    let entries: Vec<(String, Option<String>)> = resource
        .configs
        .iter()
        .map(|c| {
            (
                c.name.as_str().to_string(),
                c.value.as_ref().map(|v| v.as_str().to_string()),
            )
        })
        .collect();
    update_broker_configs(
        ctx,
        resource.resource_name.as_str(),
        validate_only,
        move |stored| {
            let mut replaced = std::collections::BTreeMap::new();
            for (name, value) in &entries {
                match value {
                    Some(value) => configs::broker::set(&mut replaced, name, value)?,
                    None => configs::broker::reset(&mut replaced, name)?,
                }
            }
            *stored = replaced;
            Ok(())
        },
    )
    .await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use kafka_protocol::messages::ApiKey;
    use kafka_protocol::messages::alter_configs_request::AlterableConfig;

    use super::*;
    use crate::kafka::{test_support, topics};

    fn set(name: &'static str, value: &'static str) -> AlterableConfig {
        AlterableConfig::default()
            .with_name(text(name))
            .with_value(Some(text(value)))
    }

    #[tokio::test]
    async fn replaces_the_whole_set() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = test_support::context(dir.path());
        let settings = configs::from_configs([("retention.ms", Some("5000"))]).unwrap();
        test_support::kafka_topic(&ctx, "t", 1, settings).await;
        let header = test_support::header(ApiKey::AlterConfigs, 1);
        let resource = |configs| {
            AlterConfigsResource::default()
                .with_resource_type(RESOURCE_TOPIC)
                .with_resource_name(text("t"))
                .with_configs(configs)
        };
        let req = AlterConfigsRequest::default()
            .with_resources(vec![resource(vec![set("retention.bytes", "4096")])]);
        assert_eq!(handle(&ctx, &header, req).await.responses[0].error_code, 0);
        let stored = topics::find_topic(&ctx, "t").unwrap().settings.clone();
        assert_eq!(stored.retention_bytes, Some(4096));
        assert_eq!(stored.retention_ms, None, "unnamed config reset to default");

        let bad = AlterConfigsRequest::default()
            .with_resources(vec![resource(vec![set("cleanup.policy", "shred")])]);
        assert_eq!(handle(&ctx, &header, bad).await.responses[0].error_code, 40);
        let dry = AlterConfigsRequest::default()
            .with_resources(vec![resource(vec![set("retention.ms", "1")])])
            .with_validate_only(true);
        assert_eq!(handle(&ctx, &header, dry).await.responses[0].error_code, 0);
        assert_eq!(topics::find_topic(&ctx, "t").unwrap().settings, stored);
        ctx.log.shutdown().unwrap();
    }
}
