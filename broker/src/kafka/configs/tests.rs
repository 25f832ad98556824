//! Unit tests of the topic config table and its translation, and an admin round trip of the
//! stored-only configs through the catalog.
#![allow(clippy::unwrap_used)]

use kafka_protocol::ResponseError;
use whippet_log::{Compression, TimestampSource, TopicSettings};

use super::catalog::Handling;
use super::*;

/// The topic configs of Kafka's `TopicConfig` (3.x) that the issue lists by name.
const KAFKA_TOPIC_CONFIGS: &[&str] = &[
    "cleanup.policy",
    "compression.type",
    "compression.gzip.level",
    "compression.lz4.level",
    "compression.zstd.level",
    "delete.retention.ms",
    "file.delete.delay.ms",
    "flush.messages",
    "flush.ms",
    "follower.replication.throttled.replicas",
    "index.interval.bytes",
    "leader.replication.throttled.replicas",
    "local.retention.bytes",
    "local.retention.ms",
    "max.compaction.lag.ms",
    "max.message.bytes",
    "message.downconversion.enable",
    "message.format.version",
    "message.timestamp.after.max.ms",
    "message.timestamp.before.max.ms",
    "message.timestamp.difference.max.ms",
    "message.timestamp.type",
    "min.cleanable.dirty.ratio",
    "min.compaction.lag.ms",
    "min.insync.replicas",
    "preallocate",
    "remote.storage.enable",
    "retention.bytes",
    "retention.ms",
    "segment.bytes",
    "segment.index.bytes",
    "segment.jitter.ms",
    "segment.ms",
    "unclean.leader.election.enable",
];

#[test]
fn every_kafka_topic_config_is_accepted_with_its_default() {
    for name in KAFKA_TOPIC_CONFIGS {
        assert!(
            catalog::find(name).is_some(),
            "{name} missing from the table"
        );
    }
    let names: Vec<&str> = TOPIC_CONFIGS.iter().map(|d| d.name).collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(names, sorted, "table is alphabetical without duplicates");

    let defaults = TopicSettings::default();
    for def in TOPIC_CONFIGS {
        let value = value_of(&defaults, def.name).unwrap();
        assert!(is_default(&defaults, def.name), "{}", def.name);
        let mut settings = TopicSettings::default();
        set(&mut settings, def.name, &value).unwrap();
        assert_eq!(
            value_of(&settings, def.name).unwrap(),
            value,
            "{}",
            def.name
        );
        match def.handling {
            // Acted-on configs hold no extra state: the default value is the default.
            Handling::Acted => assert_eq!(settings, defaults, "{}", def.name),
            // A stored config set explicitly is an override, even to Kafka's default value.
            Handling::Stored { default, .. } => {
                assert_eq!(value, default, "{}", def.name);
                assert_eq!(settings.extra_configs.len(), 1, "{}", def.name);
                assert!(!is_default(&settings, def.name), "{}", def.name);
            }
        }
    }
    assert_eq!(value_of(&defaults, "retention.ms").unwrap(), "-1");
    assert_eq!(
        value_of(&defaults, "delete.retention.ms").unwrap(),
        "86400000"
    );
    assert_eq!(value_of(&defaults, "flush.ms").unwrap(), catalog::LONG_MAX);
    assert_eq!(value_of(&defaults, "no.such.config"), None);
}

#[test]
fn stored_configs_are_kept_verbatim_and_type_checked() {
    let mut settings = from_configs([
        ("flush.ms", Some("12345678")),
        ("message.format.version", Some("0.10.0.0")),
        ("preallocate", Some("TRUE")),
        ("min.cleanable.dirty.ratio", Some("0.75")),
        ("leader.replication.throttled.replicas", Some("0:0,1:0")),
        ("retention.ms", Some("60000")),
    ])
    .unwrap();
    assert_eq!(settings.retention_ms, Some(60_000));
    assert_eq!(settings.extra_configs.len(), 5);
    assert_eq!(settings.extra_configs["preallocate"], "TRUE");
    assert_eq!(value_of(&settings, "flush.ms").unwrap(), "12345678");
    reset(&mut settings, "flush.ms").unwrap();
    assert!(is_default(&settings, "flush.ms"));
    assert_eq!(value_of(&settings, "flush.ms").unwrap(), catalog::LONG_MAX);

    for (name, value) in [
        ("flush.ms", "-1"),
        ("flush.ms", "soon"),
        ("flush.messages", "0"),
        ("delete.retention.ms", "1.5"),
        ("index.interval.bytes", "2147483648"),
        ("min.insync.replicas", "0"),
        ("compression.gzip.level", "10"),
        ("compression.lz4.level", "0"),
        ("compression.zstd.level", "23"),
        ("min.cleanable.dirty.ratio", "2"),
        ("preallocate", "maybe"),
        ("unclean.leader.election.enable", "1"),
        ("message.format.version", "latest"),
        ("local.retention.ms", "-3"),
        ("follower.replication.throttled.replicas", "all"),
        ("offset.metadata.max.bytes", "12345"),
    ] {
        let error = from_configs([(name, Some(value))]).unwrap_err();
        assert_eq!(error.error, ResponseError::InvalidConfig, "{name}={value}");
    }
}

#[test]
fn list_operations_edit_list_configs_only() {
    let mut settings = TopicSettings::default();
    let name = "leader.replication.throttled.replicas";
    apply_list_op(&mut settings, name, "0:0", false).unwrap();
    apply_list_op(&mut settings, name, "1:0,0:0", false).unwrap();
    assert_eq!(value_of(&settings, name).unwrap(), "0:0,1:0");
    apply_list_op(&mut settings, name, "0:0", true).unwrap();
    assert_eq!(value_of(&settings, name).unwrap(), "1:0");
    apply_list_op(&mut settings, "cleanup.policy", "delete", false).unwrap();
    apply_list_op(&mut settings, "cleanup.policy", "compact", false).unwrap();
    assert_eq!(
        value_of(&settings, "cleanup.policy").unwrap(),
        "compact,delete"
    );
    assert!(settings.compaction.is_some_and(|c| c.delete_too));
    apply_list_op(&mut settings, "cleanup.policy", "delete", true).unwrap();
    assert_eq!(value_of(&settings, "cleanup.policy").unwrap(), "compact");
    for (name, items) in [
        ("cleanup.policy", "shred"),
        ("flush.ms", "1"),
        ("retention.ms", "1"),
        ("nope", "1"),
    ] {
        let error = apply_list_op(&mut settings, name, items, false).unwrap_err();
        assert_eq!(error.error, ResponseError::InvalidConfig, "{name}");
    }
}

#[test]
fn cleanup_policy_and_compaction_configs_reach_the_log() {
    let settings = from_configs([
        ("cleanup.policy", Some("compact")),
        ("delete.retention.ms", Some("1000")),
        ("min.compaction.lag.ms", Some("5")),
    ])
    .unwrap();
    let compaction = settings.compaction.unwrap();
    assert!(!compaction.delete_too);
    assert_eq!(compaction.delete_retention_ms, 1000);
    assert_eq!(compaction.min_compaction_lag_ms, 5);
    assert_eq!(value_of(&settings, "cleanup.policy").unwrap(), "compact");
    assert!(!is_default(&settings, "cleanup.policy"));
    // The order of the configs does not matter: the policy picks up values set before it.
    let both = from_configs([
        ("min.compaction.lag.ms", Some("7")),
        ("cleanup.policy", Some("delete,compact")),
    ])
    .unwrap();
    assert_eq!(value_of(&both, "cleanup.policy").unwrap(), "compact,delete");
    assert_eq!(both.compaction.unwrap().min_compaction_lag_ms, 7);
    assert_eq!(both.compaction.unwrap().delete_retention_ms, 86_400_000);
    let mut reset = both.clone();
    super::reset(&mut reset, "min.compaction.lag.ms").unwrap();
    assert_eq!(reset.compaction.unwrap().min_compaction_lag_ms, 0);
    super::reset(&mut reset, "cleanup.policy").unwrap();
    assert_eq!(reset.compaction, None);
    let tiered = from_configs([
        ("cleanup.policy", Some("compact")),
        ("remote.storage.enable", Some("true")),
    ]);
    assert_eq!(tiered.unwrap_err().error, ResponseError::InvalidConfig);
}

#[test]
fn values_are_parsed_and_checked() {
    let settings = from_configs([
        ("retention.ms", Some("60000")),
        ("retention.bytes", Some("1048576")),
        ("message.timestamp.type", Some("LogAppendTime")),
        ("compression.type", Some("zstd")),
        ("segment.ms", Some("3600000")),
    ])
    .unwrap();
    assert_eq!(settings.retention_ms, Some(60_000));
    assert_eq!(settings.retention_bytes, Some(1_048_576));
    assert_eq!(settings.timestamp_type, TimestampSource::Broker);
    assert_eq!(settings.compression, Compression::Zstd);
    assert_eq!(settings.segment_ms, Some(3_600_000));
    assert!(!is_default(&settings, "retention.ms"));

    for (name, value) in [
        ("retention.ms", "-2"),
        ("retention.ms", "soon"),
        ("cleanup.policy", "shred"),
        ("cleanup.policy", ""),
        ("compression.type", "brotli"),
        ("message.timestamp.type", "Now"),
        ("segment.bytes", "100"),
        ("max.message.bytes", "0"),
        ("no.such.config", "1"),
    ] {
        let error = from_configs([(name, Some(value))]).unwrap_err();
        assert_eq!(error.error, ResponseError::InvalidConfig, "{name}={value}");
    }
}

#[test]
fn reset_restores_the_default() {
    let mut settings = from_configs([("retention.bytes", Some("5"))]).unwrap();
    reset(&mut settings, "retention.bytes").unwrap();
    assert_eq!(settings, TopicSettings::default());
    assert!(reset(&mut settings, "nope").is_err());
}

mod admin_round_trip {
    use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
    use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
    use kafka_protocol::messages::describe_configs_response::DescribeConfigsResult;
    use kafka_protocol::messages::{
        AlterConfigsRequest, ApiKey, CreateTopicsRequest, DescribeConfigsRequest,
        IncrementalAlterConfigsRequest, alter_configs_request as legacy,
        incremental_alter_configs_request as incremental,
    };

    use super::*;
    use crate::context::BrokerContext;
    use crate::kafka::admin::{
        RESOURCE_BROKER, RESOURCE_TOPIC, alter_configs, create_topics, describe_configs,
        incremental_alter_configs, text,
    };
    use crate::kafka::{test_support, topics};

    async fn describe(
        ctx: &std::sync::Arc<BrokerContext>,
        kind: i8,
        name: &str,
    ) -> DescribeConfigsResult {
        let header = test_support::header(ApiKey::DescribeConfigs, 3);
        let req = DescribeConfigsRequest::default()
            .with_resources(vec![
                DescribeConfigsResource::default()
                    .with_resource_type(kind)
                    .with_resource_name(text(name)),
            ])
            .with_include_documentation(true);
        describe_configs::handle(ctx, &header, req)
            .await
            .results
            .remove(0)
    }

    /// (value, config_source, documentation) of config `name` in a described resource.
    fn entry(result: &DescribeConfigsResult, name: &str) -> (String, i8, String) {
        let config = result
            .configs
            .iter()
            .find(|c| c.name.as_str() == name)
            .unwrap();
        (
            config.value.as_ref().unwrap().to_string(),
            config.config_source,
            config.documentation.as_ref().unwrap().to_string(),
        )
    }

    async fn create(
        ctx: &std::sync::Arc<BrokerContext>,
        configs: &[(&'static str, &'static str)],
    ) -> i16 {
        let header = test_support::header(ApiKey::CreateTopics, 4);
        let topic = CreatableTopic::default()
            .with_name(topics::topic_name("t"))
            .with_num_partitions(1)
            .with_replication_factor(1)
            .with_configs(
                configs
                    .iter()
                    .map(|(n, v)| {
                        CreatableTopicConfig::default()
                            .with_name(text(*n))
                            .with_value(Some(text(*v)))
                    })
                    .collect(),
            );
        let req = CreateTopicsRequest::default().with_topics(vec![topic]);
        create_topics::handle(ctx, &crate::core::RequestContext::internal(), &header, req)
            .await
            .topics[0]
            .error_code
    }

    #[tokio::test]
    async fn stored_configs_survive_a_restart_and_alters() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = test_support::context(dir.path());
        assert_eq!(create(&ctx, &[("flush.ms", "not-a-number")]).await, 40);
        let configs = [("file.delete.delay.ms", "900"), ("compression.type", "lz4")];
        assert_eq!(create(&ctx, &configs).await, 0);
        let described = describe(&ctx, RESOURCE_TOPIC, "t").await;
        assert_eq!(described.configs.len(), TOPIC_CONFIGS.len());
        let (value, source, doc) = entry(&described, "file.delete.delay.ms");
        assert_eq!(
            (value.as_str(), source),
            ("900", source::DYNAMIC_TOPIC_CONFIG)
        );
        assert!(doc.contains("does not act on it"), "{doc}");
        let (value, source, _) = entry(&described, "flush.ms");
        assert_eq!(
            (value.as_str(), source),
            (catalog::LONG_MAX, source::DEFAULT_CONFIG)
        );
        let (_, _, doc) = entry(&described, "retention.ms");
        assert!(!doc.contains("does not act on it"), "{doc}");

        // Restart: the catalog brings the stored config back.
        ctx.log.shutdown().unwrap();
        drop(ctx);
        let ctx = test_support::context(dir.path());
        let described = describe(&ctx, RESOURCE_TOPIC, "t").await;
        assert_eq!(entry(&described, "file.delete.delay.ms").0, "900");
        assert_eq!(entry(&described, "compression.type").0, "lz4");

        incremental_alters_work_on_stored_configs(&ctx).await;
        legacy_alter_replaces_stored_configs_too(&ctx).await;

        // The broker config is described back, and survives a restart too.
        ctx.log.shutdown().unwrap();
        drop(ctx);
        let ctx = test_support::context(dir.path());
        let broker = describe(&ctx, RESOURCE_BROKER, "0").await;
        let (value, source, doc) = entry(&broker, "sasl.kerberos.min.time.before.relogin");
        assert_eq!(
            (value.as_str(), source),
            ("58000", source::DYNAMIC_BROKER_CONFIG)
        );
        assert!(doc.contains("does not act on it"), "{doc}");
        let (value, source, _) = entry(&broker, "sasl.login.refresh.window.factor");
        assert_eq!((value.as_str(), source), ("0.8", source::DEFAULT_CONFIG));
        ctx.log.shutdown().unwrap();
    }

    /// IncrementalAlterConfigs SET and DELETE work on stored configs.
    async fn incremental_alters_work_on_stored_configs(ctx: &std::sync::Arc<BrokerContext>) {
        let header = test_support::header(ApiKey::IncrementalAlterConfigs, 0);
        let op = |name: &'static str, operation: i8, value: Option<&'static str>| {
            incremental::AlterableConfig::default()
                .with_name(text(name))
                .with_config_operation(operation)
                .with_value(value.map(text))
        };
        let req = IncrementalAlterConfigsRequest::default().with_resources(vec![
            incremental::AlterConfigsResource::default()
                .with_resource_type(RESOURCE_TOPIC)
                .with_resource_name(text("t"))
                .with_configs(vec![
                    op("flush.ms", 0, Some("5000")),
                    op("file.delete.delay.ms", 1, None),
                ]),
        ]);
        let resp = incremental_alter_configs::handle(ctx, &header, req).await;
        assert_eq!(resp.responses[0].error_code, 0);
        let stored = topics::find_topic(ctx, "t").unwrap().settings.clone();
        assert_eq!(stored.extra_configs.len(), 1);
        assert_eq!(stored.extra_configs["flush.ms"], "5000");
    }

    /// Legacy AlterConfigs replaces the whole set, stored configs included; a dynamic broker
    /// config is accepted and a static one refused.
    async fn legacy_alter_replaces_stored_configs_too(ctx: &std::sync::Arc<BrokerContext>) {
        let header = test_support::header(ApiKey::AlterConfigs, 0);
        let set = |name: &'static str, value: &'static str| {
            legacy::AlterableConfig::default()
                .with_name(text(name))
                .with_value(Some(text(value)))
        };
        let resource = |kind: i8, name: &'static str, configs| {
            legacy::AlterConfigsResource::default()
                .with_resource_type(kind)
                .with_resource_name(text(name))
                .with_configs(configs)
        };
        let req = AlterConfigsRequest::default().with_resources(vec![
            resource(
                RESOURCE_TOPIC,
                "t",
                vec![set("message.format.version", "0.10.0.0")],
            ),
            resource(
                RESOURCE_BROKER,
                "0",
                vec![set("sasl.kerberos.min.time.before.relogin", "58000")],
            ),
            resource(RESOURCE_BROKER, "0", vec![set("log.retention.ms", "1")]),
            resource(
                RESOURCE_TOPIC,
                "missing",
                vec![set("offset.metadata.max.bytes", "1")],
            ),
        ]);
        let codes: Vec<i16> = alter_configs::handle(ctx, &header, req)
            .await
            .responses
            .iter()
            .map(|r| r.error_code)
            .collect();
        assert_eq!(codes, [0, 0, 42, 3]);
        let stored = topics::find_topic(ctx, "t").unwrap().settings.clone();
        assert_eq!(stored.extra_configs.len(), 1);
        assert_eq!(stored.extra_configs["message.format.version"], "0.10.0.0");
        assert_eq!(
            stored.compression,
            Compression::None,
            "unnamed config reset"
        );
    }
}
