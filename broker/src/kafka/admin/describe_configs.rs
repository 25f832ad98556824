//! DescribeConfigs: every topic config Kafka defines with its current value and whether it is
//! the default (DEFAULT_CONFIG) or a per-topic override (DYNAMIC_TOPIC_CONFIG), with synonyms
//! (the broker-level name of the same default) and documentation when asked, as Kafka answers;
//! configs Whippet stores without acting on say so in their documentation. For the BROKER
//! resource: the broker settings that shape topics, read-only (they are static), and the
//! dynamic per-broker configs an admin may alter (DYNAMIC_BROKER_CONFIG once altered).

use std::collections::BTreeMap;
use std::sync::Arc;

use kafka_protocol::ResponseError;
use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::describe_configs_response::{
    DescribeConfigsResourceResult, DescribeConfigsResult, DescribeConfigsSynonym,
};
use kafka_protocol::messages::{DescribeConfigsRequest, DescribeConfigsResponse, RequestHeader};
use whippet_log::TopicSettings;

use super::{
    RESOURCE_BROKER, RESOURCE_TOPIC, check_broker_resource, config_topic, load_broker_configs, text,
};
use crate::context::BrokerContext;
use crate::kafka::configs::{self, ConfigError, kind, source};

/// What the client asked to see besides names and values.
#[derive(Clone, Copy)]
struct Detail {
    synonyms: bool,
    documentation: bool,
    version: i16,
}

/// One config as described: name, value, type, source, read-only flag, docs and synonyms.
struct Described {
    name: &'static str,
    value: String,
    config_type: i8,
    source: i8,
    read_only: bool,
    doc: String,
    synonyms: Vec<(&'static str, String, i8)>,
}

/// Describes each requested resource; each fails or succeeds on its own.
pub(crate) async fn handle(
    ctx: &Arc<BrokerContext>,
    header: &RequestHeader,
    req: DescribeConfigsRequest,
) -> DescribeConfigsResponse {
    let detail = Detail {
        synonyms: req.include_synonyms,
        documentation: req.include_documentation,
        version: header.request_api_version,
    };
    let broker_overrides = if req
        .resources
        .iter()
        .any(|r| r.resource_type == RESOURCE_BROKER)
    {
        load_broker_configs(ctx).await
    } else {
        Ok(BTreeMap::new())
    };
    let results = req
        .resources
        .into_iter()
        .map(|resource| describe_resource(ctx, resource, detail, &broker_overrides))
        .collect();
    DescribeConfigsResponse::default().with_results(results)
}

fn describe_resource(
    ctx: &BrokerContext,
    resource: DescribeConfigsResource,
    detail: Detail,
    broker_overrides: &Result<BTreeMap<String, String>, ConfigError>,
) -> DescribeConfigsResult {
    let name = resource.resource_name.as_str();
    let described = match resource.resource_type {
        RESOURCE_TOPIC => config_topic(ctx, name).map(|t| topic_configs(&t.settings)),
        RESOURCE_BROKER => check_broker_resource(ctx, name).and_then(|()| {
            let overrides = broker_overrides.as_ref().map_err(Clone::clone)?;
            let mut all = broker_configs(ctx);
            all.extend(dynamic_broker_configs(overrides));
            Ok(all)
        }),
        other => Err(ConfigError {
            error: ResponseError::InvalidRequest,
            message: format!("unsupported resource type {other}"),
        }),
    };
    let result = DescribeConfigsResult::default()
        .with_resource_type(resource.resource_type)
        .with_resource_name(resource.resource_name.clone());
    match described {
        Ok(all) => {
            // Null (and, as Java brokers treat it, an empty list) means every config.
            let keys = resource.configuration_keys.filter(|k| !k.is_empty());
            let configs = all
                .into_iter()
                .filter(|c| {
                    keys.as_ref()
                        .is_none_or(|k| k.iter().any(|k| k.as_str() == c.name))
                })
                .map(|c| encode(c, detail))
                .collect();
            result.with_configs(configs)
        }
        Err(error) => result
            .with_error_code(error.error.code())
            .with_error_message(Some(text(error.message))),
    }
}

fn encode(config: Described, detail: Detail) -> DescribeConfigsResourceResult {
    let mut out = DescribeConfigsResourceResult::default()
        .with_name(text(config.name))
        .with_value(Some(text(config.value)))
        .with_read_only(config.read_only)
        .with_config_source(config.source);
    if detail.synonyms && detail.version >= 1 {
        out = out.with_synonyms(
            config
                .synonyms
                .into_iter()
                .map(|(name, value, source)| {
                    DescribeConfigsSynonym::default()
                        .with_name(text(name))
                        .with_value(Some(text(value)))
                        .with_source(source)
                })
                .collect(),
        );
    }
    if detail.version >= 3 {
        out = out.with_config_type(config.config_type);
        if detail.documentation {
            out = out.with_documentation(Some(text(config.doc)));
        }
    }
    out
}

fn topic_configs(settings: &TopicSettings) -> Vec<Described> {
    let defaults = TopicSettings::default();
    configs::TOPIC_CONFIGS
        .iter()
        .filter_map(|def| {
            let value = configs::value_of(settings, def.name)?;
            let default = configs::value_of(&defaults, def.name)?;
            let is_default = configs::is_default(settings, def.name);
            let mut synonyms = Vec::with_capacity(2);
            if !is_default {
                synonyms.push((def.name, value.clone(), source::DYNAMIC_TOPIC_CONFIG));
            }
            if let Some(broker_name) = def.broker_synonym {
                synonyms.push((broker_name, default, source::DEFAULT_CONFIG));
            }
            Some(Described {
                name: def.name,
                value,
                config_type: def.config_type,
                source: if is_default {
                    source::DEFAULT_CONFIG
                } else {
                    source::DYNAMIC_TOPIC_CONFIG
                },
                read_only: false,
                doc: def.doc.to_string(),
                synonyms,
            })
        })
        .collect()
}

/// Where a static broker config's value comes from.
enum BrokerValue {
    AutoCreate,
    NodeId,
    NumPartitions,
    /// The default of this topic config.
    TopicDefault(&'static str),
    Fixed(&'static str),
}

/// The read-only broker configs: name, value, type, whether static (else a default), doc.
const BROKER_CONFIGS: [(&str, BrokerValue, i8, bool, &str); 11] = [
    (
        "auto.create.topics.enable",
        BrokerValue::AutoCreate,
        kind::BOOLEAN,
        true,
        "Whether Metadata creates unknown topics.",
    ),
    (
        "broker.id",
        BrokerValue::NodeId,
        kind::INT,
        true,
        "This broker's node id.",
    ),
    (
        "compression.type",
        BrokerValue::TopicDefault("compression.type"),
        kind::STRING,
        false,
        "Default topic compression.",
    ),
    (
        "default.replication.factor",
        BrokerValue::Fixed("1"),
        kind::INT,
        false,
        "Replication factor of auto-created topics.",
    ),
    (
        "log.cleanup.policy",
        BrokerValue::TopicDefault("cleanup.policy"),
        kind::LIST,
        false,
        "Default cleanup policy.",
    ),
    (
        "log.message.timestamp.type",
        BrokerValue::TopicDefault("message.timestamp.type"),
        kind::STRING,
        false,
        "Default timestamp type.",
    ),
    (
        "log.retention.bytes",
        BrokerValue::TopicDefault("retention.bytes"),
        kind::LONG,
        false,
        "Default retention by size.",
    ),
    (
        "log.retention.ms",
        BrokerValue::TopicDefault("retention.ms"),
        kind::LONG,
        false,
        "Default retention by age.",
    ),
    (
        "log.segment.bytes",
        BrokerValue::TopicDefault("segment.bytes"),
        kind::INT,
        false,
        "Default segment size.",
    ),
    (
        "message.max.bytes",
        BrokerValue::TopicDefault("max.message.bytes"),
        kind::INT,
        false,
        "Default largest batch.",
    ),
    (
        "num.partitions",
        BrokerValue::NumPartitions,
        kind::INT,
        true,
        "Partitions of topics created without a count.",
    ),
];

fn broker_configs(ctx: &BrokerContext) -> Vec<Described> {
    let defaults = TopicSettings::default();
    BROKER_CONFIGS
        .iter()
        .map(|(name, value, config_type, is_static, doc)| {
            let value = match value {
                BrokerValue::AutoCreate => ctx.kafka.auto_create_topics.to_string(),
                BrokerValue::NodeId => ctx.kafka.node_id.to_string(),
                BrokerValue::NumPartitions => ctx.kafka.num_partitions.to_string(),
                BrokerValue::TopicDefault(topic_config) => {
                    configs::value_of(&defaults, topic_config).unwrap_or_default()
                }
                BrokerValue::Fixed(text) => (*text).to_string(),
            };
            let source = if *is_static {
                source::STATIC_BROKER_CONFIG
            } else {
                source::DEFAULT_CONFIG
            };
            Described {
                name,
                synonyms: vec![(name, value.clone(), source)],
                value,
                config_type: *config_type,
                source,
                read_only: true,
                doc: (*doc).to_string(),
            }
        })
        .collect()
}

/// The per-broker configs an admin may alter, with any stored override.
fn dynamic_broker_configs(overrides: &BTreeMap<String, String>) -> Vec<Described> {
    configs::broker::DYNAMIC_BROKER_CONFIGS
        .iter()
        .map(|def| {
            let stored = overrides.get(def.name);
            let mut synonyms = Vec::with_capacity(2);
            if let Some(value) = stored {
                synonyms.push((def.name, value.clone(), source::DYNAMIC_BROKER_CONFIG));
            }
            synonyms.push((def.name, def.default.to_string(), source::DEFAULT_CONFIG));
            Described {
                name: def.name,
                value: stored.map_or_else(|| def.default.to_string(), Clone::clone),
                config_type: def.config_type,
                source: if stored.is_some() {
                    source::DYNAMIC_BROKER_CONFIG
                } else {
                    source::DEFAULT_CONFIG
                },
                read_only: false,
                doc: format!("{}{}", def.doc, configs::broker::STORED_NOTE),
                synonyms,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use kafka_protocol::messages::ApiKey;

    use super::*;
    use crate::kafka::test_support;

    fn resource(kind: i8, name: &'static str) -> DescribeConfigsResource {
        DescribeConfigsResource::default()
            .with_resource_type(kind)
            .with_resource_name(text(name))
    }

    #[tokio::test]
    async fn topic_broker_and_errors() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = test_support::context(dir.path());
        let settings = configs::from_configs([("retention.ms", Some("5000"))]).unwrap();
        test_support::kafka_topic(&ctx, "t", 1, settings).await;
        let header = test_support::header(ApiKey::DescribeConfigs, 4);
        let req = DescribeConfigsRequest::default()
            .with_resources(vec![
                resource(RESOURCE_TOPIC, "t"),
                resource(RESOURCE_TOPIC, "missing"),
                resource(RESOURCE_BROKER, "0"),
            ])
            .with_include_synonyms(true);
        let resp = handle(&ctx, &header, req).await;
        let topic = &resp.results[0];
        assert_eq!(topic.error_code, 0);
        assert_eq!(topic.configs.len(), configs::TOPIC_CONFIGS.len());
        let retention = topic
            .configs
            .iter()
            .find(|c| c.name.as_str() == "retention.ms")
            .unwrap();
        assert_eq!(retention.value.as_ref().unwrap().as_str(), "5000");
        assert_eq!(retention.config_source, source::DYNAMIC_TOPIC_CONFIG);
        assert_eq!(retention.synonyms.len(), 2);
        let segment = topic
            .configs
            .iter()
            .find(|c| c.name.as_str() == "segment.bytes")
            .unwrap();
        assert_eq!(segment.config_source, source::DEFAULT_CONFIG);
        assert_eq!(resp.results[1].error_code, 3);
        let broker = &resp.results[2];
        assert!(
            broker
                .configs
                .iter()
                .any(|c| c.name.as_str() == "num.partitions")
        );

        let only = DescribeConfigsRequest::default().with_resources(vec![
            resource(RESOURCE_TOPIC, "t")
                .with_configuration_keys(Some(vec![text("cleanup.policy")])),
        ]);
        let resp = handle(&ctx, &header, only).await;
        assert_eq!(resp.results[0].configs.len(), 1);
        ctx.log.shutdown().unwrap();
    }
}
