//! Kafka admin APIs: topic creation and deletion, partitions, configs, record deletion, ACLs,
//! SCRAM users and the cluster description. One file per API; helpers they share (resource types, config lookups
//! by resource) live here.

pub(crate) mod acls;
pub(crate) mod alter_configs;
pub(crate) mod create_partitions;
pub(crate) mod create_topics;
pub(crate) mod delete_records;
pub(crate) mod delete_topics;
pub(crate) mod describe_cluster;
pub(crate) mod describe_configs;
pub(crate) mod incremental_alter_configs;
pub(crate) mod scram_users;

use std::collections::BTreeMap;
use std::sync::Arc;

use kafka_protocol::ResponseError;
use kafka_protocol::protocol::StrBytes;
use whippet_log::TopicMeta;

use super::configs::{self, ConfigError};
use super::topics;
use crate::context::BrokerContext;

/// Kafka's `ConfigResource.Type` for a topic.
pub(crate) const RESOURCE_TOPIC: i8 = 2;
/// Kafka's `ConfigResource.Type` for a broker.
pub(crate) const RESOURCE_BROKER: i8 = 4;

/// An owned protocol string.
pub(crate) fn text(value: impl Into<String>) -> StrBytes {
    StrBytes::from_string(value.into())
}

/// The topic a config resource names, or the error Kafka gives for a missing one.
pub(crate) fn config_topic(ctx: &BrokerContext, name: &str) -> Result<Arc<TopicMeta>, ConfigError> {
    if topics::validate_topic_name(name).is_err() {
        return Err(ConfigError {
            error: ResponseError::InvalidTopicException,
            message: format!("invalid topic name {name:?}"),
        });
    }
    topics::find_topic(ctx, name).ok_or_else(|| ConfigError {
        error: ResponseError::UnknownTopicOrPartition,
        message: format!("topic {name:?} does not exist"),
    })
}

/// Checks that a BROKER resource names this broker (or is empty, meaning "the default").
pub(crate) fn check_broker_resource(ctx: &BrokerContext, name: &str) -> Result<(), ConfigError> {
    if name.is_empty() || name == ctx.kafka.node_id.to_string() {
        Ok(())
    } else {
        Err(ConfigError {
            error: ResponseError::InvalidRequest,
            message: format!("broker {name:?} is not this broker ({})", ctx.kafka.node_id),
        })
    }
}

/// Applies new settings to a topic unless `validate_only`, mapping storage failures to Kafka
/// errors with a message.
pub(crate) async fn store_settings(
    ctx: &Arc<BrokerContext>,
    topic: &TopicMeta,
    settings: whippet_log::TopicSettings,
    validate_only: bool,
) -> Result<(), ConfigError> {
    if validate_only {
        return Ok(());
    }
    let (stream_id, topic_id) = (topic.stream_id, topic.id);
    let ctx = Arc::clone(ctx);
    topics::blocking(move || ctx.log.update_topic(stream_id, topic_id, None, settings))
        .await
        .map_err(|error| ConfigError {
            error: super::error_code::log_error(&error),
            message: error.to_string(),
        })
}

/// The stored dynamic per-broker configs (a lock-free read of the metadata state).
pub(crate) async fn load_broker_configs(
    ctx: &BrokerContext,
) -> Result<BTreeMap<String, String>, ConfigError> {
    Ok(configs::broker::load(&ctx.core.meta))
}

/// Alters the dynamic configs of the BROKER resource `resource_name` with `change` (run on the
/// current overrides), persisting on the metadata log unless `validate_only`.
pub(crate) async fn update_broker_configs(
    ctx: &BrokerContext,
    resource_name: &str,
    validate_only: bool,
    change: impl FnOnce(&mut BTreeMap<String, String>) -> Result<(), ConfigError> + Send + 'static,
) -> Result<(), ConfigError> {
    check_broker_resource(ctx, resource_name)?;
    configs::broker::check_per_broker(resource_name)?;
    configs::broker::update(&ctx.core.meta, validate_only, change).await
}
