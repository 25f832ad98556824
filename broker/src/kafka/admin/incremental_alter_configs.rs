//! IncrementalAlterConfigs: changes only the named configs of a topic, leaving the rest as
//! they are. SET assigns a value and DELETE restores the default, for acted-on and stored-only
//! configs alike; APPEND and SUBTRACT edit list configs (the result must still pass the
//! config's check) and are INVALID_CONFIG for the others, as Kafka answers. For a BROKER
//! resource SET and DELETE change the dynamic per-broker configs (see `configs::broker`); the
//! list operations are refused there, since none of the few lists accepted is worth editing
//! item by item.

use std::sync::Arc;

use kafka_protocol::ResponseError;
use kafka_protocol::messages::incremental_alter_configs_request::AlterConfigsResource;
use kafka_protocol::messages::incremental_alter_configs_response::AlterConfigsResourceResponse;
use kafka_protocol::messages::{
    IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse, RequestHeader,
};

use super::{
    RESOURCE_BROKER, RESOURCE_TOPIC, config_topic, store_settings, text, update_broker_configs,
};
use crate::context::BrokerContext;
use crate::kafka::configs::{self, ConfigError};

/// Kafka's `AlterConfigOp.OpType` codes.
const OP_SET: i8 = 0;
const OP_DELETE: i8 = 1;
const OP_APPEND: i8 = 2;
const OP_SUBTRACT: i8 = 3;

/// Applies each resource's operations (or only checks them, with `validate_only`).
pub(crate) async fn handle(
    ctx: &Arc<BrokerContext>,
    _header: &RequestHeader,
    req: IncrementalAlterConfigsRequest,
) -> IncrementalAlterConfigsResponse {
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
    IncrementalAlterConfigsResponse::default().with_responses(responses)
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
    let mut settings = topic.settings.clone();
    for op in &resource.configs {
        let name = op.name.as_str();
        match (op.config_operation, op.value.as_ref()) {
            (OP_SET, Some(value)) => configs::set(&mut settings, name, value.as_str())?,
            (OP_SET, None) | (OP_DELETE, _) => configs::reset(&mut settings, name)?,
            (OP_APPEND | OP_SUBTRACT, value) => configs::apply_list_op(
                &mut settings,
                name,
                value.map_or("", |v| v.as_str()),
                op.config_operation == OP_SUBTRACT,
            )?,
            (other, _) => {
                return Err(ConfigError {
                    error: ResponseError::InvalidRequest,
                    message: format!("unknown config operation {other}"),
                });
            }
        }
    }
    configs::validate(&settings)?;
    store_settings(ctx, &topic, settings, validate_only).await
}

/// Applies SET/DELETE operations to this broker's stored dynamic configs.
async fn alter_broker(
    ctx: &Arc<BrokerContext>,
    resource: &AlterConfigsResource,
    validate_only: bool,
) -> Result<(), ConfigError> {
    let ops: Vec<(String, i8, Option<String>)> = resource
        .configs
        .iter()
        .map(|op| {
            (
                op.name.as_str().to_string(),
                op.config_operation,
                op.value.as_ref().map(|v| v.as_str().to_string()),
            )
        })
        .collect();
    update_broker_configs(
        ctx,
        resource.resource_name.as_str(),
        validate_only,
        move |stored| {
            for (name, operation, value) in &ops {
                match (*operation, value) {
                    (OP_SET, Some(value)) => configs::broker::set(stored, name, value)?,
                    (OP_SET, None) | (OP_DELETE, _) => configs::broker::reset(stored, name)?,
                    (other, _) => {
                        return Err(ConfigError {
                            error: ResponseError::InvalidRequest,
                            message: format!(
                                "config operation {other} is not supported for broker config \
                                 {name:?}"
                            ),
                        });
                    }
                }
            }
            Ok(())
        },
    )
    .await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use kafka_protocol::messages::ApiKey;
    use kafka_protocol::messages::incremental_alter_configs_request::AlterableConfig;

    use super::*;
    use crate::kafka::{test_support, topics};

    fn op(name: &'static str, operation: i8, value: Option<&'static str>) -> AlterableConfig {
        AlterableConfig::default()
            .with_name(text(name))
            .with_config_operation(operation)
            .with_value(value.map(text))
    }

    #[tokio::test]
    async fn set_delete_and_refused_ops() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = test_support::context(dir.path());
        let settings = configs::from_configs([("retention.ms", Some("5000"))]).unwrap();
        test_support::kafka_topic(&ctx, "t", 1, settings).await;
        let header = test_support::header(ApiKey::IncrementalAlterConfigs, 1);
        let request = |ops| {
            IncrementalAlterConfigsRequest::default().with_resources(vec![
                AlterConfigsResource::default()
                    .with_resource_type(RESOURCE_TOPIC)
                    .with_resource_name(text("t"))
                    .with_configs(ops),
            ])
        };
        let req = request(vec![op("retention.bytes", OP_SET, Some("8192"))]);
        assert_eq!(handle(&ctx, &header, req).await.responses[0].error_code, 0);
        let stored = topics::find_topic(&ctx, "t").unwrap().settings.clone();
        assert_eq!(stored.retention_bytes, Some(8192));
        assert_eq!(stored.retention_ms, Some(5000), "untouched config kept");

        let req = request(vec![op("retention.ms", OP_DELETE, None)]);
        assert_eq!(handle(&ctx, &header, req).await.responses[0].error_code, 0);
        assert_eq!(
            topics::find_topic(&ctx, "t").unwrap().settings.retention_ms,
            None
        );

        for bad in [
            op("cleanup.policy", OP_APPEND, Some("shred")),
            op("cleanup.policy", OP_SUBTRACT, Some("delete")),
            op("unknown.config", OP_SET, Some("1")),
        ] {
            assert_eq!(
                handle(&ctx, &header, request(vec![bad])).await.responses[0].error_code,
                40
            );
        }
        ctx.log.shutdown().unwrap();
    }
}
