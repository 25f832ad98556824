//! The table of every topic config Kafka 3.9 defines (`TopicConfig`), with its type, Kafka's
//! default, the broker-level synonym that supplies that default, and whether Whippet acts on
//! it. Configs Whippet acts on map onto [`whippet_log::TopicSettings`] fields (see the parent
//! module); the rest are checked against a [`Rule`] and kept verbatim in
//! `TopicSettings::extra_configs`, so tools that set them (librdkafka's tests, Terraform,
//! Cruise Control) succeed and read back what they wrote.
//!
//! Kafka 3.9 rather than 4.x: 3.9 still defines `message.format.version` and
//! `message.downconversion.enable`, which librdkafka 2.0.2's tests set, and its
//! `message.timestamp.after.max.ms` default is `Long.MAX_VALUE` (4.0 lowered it to one hour).

use super::kind;

/// Java's `Long.MAX_VALUE`, Kafka's "no limit" for many millisecond and count configs.
pub(crate) const LONG_MAX: &str = "9223372036854775807";

/// How the value of a stored-only config is checked before it is kept.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Rule {
    /// A 64-bit integer in `[min, max]`.
    Long { min: i64, max: i64 },
    /// A 32-bit integer in `[min, max]`.
    Int { min: i64, max: i64 },
    /// A 32-bit integer that is `-1` (codec default) or in `[min, max]`.
    LevelOrDefault { min: i64, max: i64 },
    /// A finite decimal in `[min, max]`.
    Double { min: f64, max: f64 },
    /// `true` or `false`, any letter case (as Java's parser).
    Bool,
    /// A Kafka release such as `0.10.0`, `2.8`, `3.0-IV1`.
    FormatVersion,
    /// Empty, `*`, or a comma-separated list of `partition:broker` pairs.
    ThrottledReplicas,
    /// Any text (only the stored-value length bound applies).
    Text,
}

/// Whether Whippet acts on a config or only keeps it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Handling {
    /// Mapped onto a `TopicSettings` field; its default is the field's default.
    Acted,
    /// Validated by `rule`, stored verbatim, described back; `default` is Kafka's.
    Stored {
        /// Kafka's default, shown while the topic does not override it.
        default: &'static str,
        /// The check a new value must pass.
        rule: Rule,
    },
}

/// One topic config Kafka clients can read and write.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConfigDef {
    /// Kafka's name for it.
    pub(crate) name: &'static str,
    /// Kafka's `ConfigType`.
    pub(crate) config_type: i8,
    /// Acted on, or stored only.
    pub(crate) handling: Handling,
    /// The broker config Kafka takes this config's default from, if any (DescribeConfigs
    /// synonyms).
    pub(crate) broker_synonym: Option<&'static str>,
    /// What it does, for DescribeConfigs `include_documentation`.
    pub(crate) doc: &'static str,
}

const fn acted(
    name: &'static str,
    config_type: i8,
    broker_synonym: &'static str,
    doc: &'static str,
) -> ConfigDef {
    ConfigDef {
        name,
        config_type,
        handling: Handling::Acted,
        broker_synonym: Some(broker_synonym),
        doc,
    }
}

const fn stored(
    name: &'static str,
    config_type: i8,
    default: &'static str,
    rule: Rule,
    broker_synonym: Option<&'static str>,
    doc: &'static str,
) -> ConfigDef {
    ConfigDef {
        name,
        config_type,
        handling: Handling::Stored { default, rule },
        broker_synonym,
        doc,
    }
}

const NON_NEGATIVE_LONG: Rule = Rule::Long {
    min: 0,
    max: i64::MAX,
};
const I32_MAX: i64 = i32::MAX as i64;

/// Every topic config served, in the order DescribeConfigs lists them (alphabetical, as Kafka).
pub(crate) const TOPIC_CONFIGS: &[ConfigDef] = &[
    acted(
        "cleanup.policy",
        kind::LIST,
        "log.cleanup.policy",
        "delete: whole segments are removed by retention; compact: the log cleaner keeps the latest record per key (compact,delete: both).",
    ),
    stored(
        "compression.gzip.level",
        kind::INT,
        "-1",
        Rule::LevelOrDefault { min: 1, max: 9 },
        Some("compression.gzip.level"),
        "Gzip level for re-compressed batches. Stored and described back; Whippet does not act on it.",
    ),
    stored(
        "compression.lz4.level",
        kind::INT,
        "9",
        Rule::Int { min: 1, max: 17 },
        Some("compression.lz4.level"),
        "LZ4 level for re-compressed batches. Stored and described back; Whippet does not act on it.",
    ),
    acted(
        "compression.type",
        kind::STRING,
        "compression.type",
        "Codec for re-compressed batches; producer batches are kept as sent.",
    ),
    stored(
        "compression.zstd.level",
        kind::INT,
        "3",
        Rule::Int {
            min: -131_072,
            max: 22,
        },
        Some("compression.zstd.level"),
        "Zstandard level for re-compressed batches. Stored and described back; Whippet does not act on it.",
    ),
    stored(
        "delete.retention.ms",
        kind::LONG,
        "86400000",
        NON_NEGATIVE_LONG,
        Some("log.cleaner.delete.retention.ms"),
        "How long compaction tombstones are kept after their segment was first cleaned.",
    ),
    stored(
        "file.delete.delay.ms",
        kind::LONG,
        "60000",
        NON_NEGATIVE_LONG,
        Some("log.segment.delete.delay.ms"),
        "Delay before a deleted segment file is removed. Stored and described back; Whippet does not act on it (files go at once).",
    ),
    stored(
        "flush.messages",
        kind::LONG,
        LONG_MAX,
        Rule::Long {
            min: 1,
            max: i64::MAX,
        },
        Some("log.flush.interval.messages"),
        "Messages between forced fsyncs. Stored and described back; Whippet does not act on it (the broker's fsync policy decides).",
    ),
    stored(
        "flush.ms",
        kind::LONG,
        LONG_MAX,
        NON_NEGATIVE_LONG,
        Some("log.flush.interval.ms"),
        "Time between forced fsyncs. Stored and described back; Whippet does not act on it (the broker's fsync policy decides).",
    ),
    stored(
        "follower.replication.throttled.replicas",
        kind::LIST,
        "",
        Rule::ThrottledReplicas,
        None,
        "Replicas throttled on the follower side. Stored and described back; Whippet does not act on it (one replica).",
    ),
    stored(
        "index.interval.bytes",
        kind::INT,
        "4096",
        Rule::Int {
            min: 0,
            max: I32_MAX,
        },
        Some("log.index.interval.bytes"),
        "Bytes between offset-index entries. Stored and described back; Whippet does not act on it (the log's own index interval applies).",
    ),
    stored(
        "leader.replication.throttled.replicas",
        kind::LIST,
        "",
        Rule::ThrottledReplicas,
        None,
        "Replicas throttled on the leader side. Stored and described back; Whippet does not act on it (one replica).",
    ),
    acted(
        "local.retention.bytes",
        kind::LONG,
        "log.local.retention.bytes",
        "With remote.storage.enable: the local segments are cut (oldest first, only those already copied to the remote tier) while they take more bytes than this; -2 = as retention.bytes, -1 = no size limit.",
    ),
    acted(
        "local.retention.ms",
        kind::LONG,
        "log.local.retention.ms",
        "With remote.storage.enable: local segments already copied to the remote tier are removed from the local disk once their newest record is older than this; -2 = as retention.ms, -1 = no age limit.",
    ),
    stored(
        "max.compaction.lag.ms",
        kind::LONG,
        LONG_MAX,
        Rule::Long {
            min: 1,
            max: i64::MAX,
        },
        Some("log.cleaner.max.compaction.lag.ms"),
        "Longest a record stays uncompacted. Stored and described back; Whippet does not act on it (the cleaner runs every --log-cleaner-backoff-ms).",
    ),
    acted(
        "max.message.bytes",
        kind::INT,
        "message.max.bytes",
        "Largest record batch a producer may append.",
    ),
    stored(
        "message.downconversion.enable",
        kind::BOOLEAN,
        "true",
        Rule::Bool,
        Some("log.message.downconversion.enable"),
        "Whether old consumers get down-converted batches. Stored and described back; Whippet does not act on it.",
    ),
    stored(
        "message.format.version",
        kind::STRING,
        "3.0-IV1",
        Rule::FormatVersion,
        Some("log.message.format.version"),
        "Record format for old clients. Stored and described back; Whippet does not act on it (batches keep the format they came in).",
    ),
    stored(
        "message.timestamp.after.max.ms",
        kind::LONG,
        LONG_MAX,
        NON_NEGATIVE_LONG,
        Some("log.message.timestamp.after.max.ms"),
        "How far in the future a CreateTime may be. Stored and described back; Whippet does not act on it.",
    ),
    stored(
        "message.timestamp.before.max.ms",
        kind::LONG,
        LONG_MAX,
        NON_NEGATIVE_LONG,
        Some("log.message.timestamp.before.max.ms"),
        "How far in the past a CreateTime may be. Stored and described back; Whippet does not act on it.",
    ),
    stored(
        "message.timestamp.difference.max.ms",
        kind::LONG,
        LONG_MAX,
        NON_NEGATIVE_LONG,
        Some("log.message.timestamp.difference.max.ms"),
        "Deprecated bound on CreateTime skew. Stored and described back; Whippet does not act on it.",
    ),
    acted(
        "message.timestamp.type",
        kind::STRING,
        "log.message.timestamp.type",
        "CreateTime keeps producer timestamps; LogAppendTime stamps the broker's.",
    ),
    stored(
        "min.cleanable.dirty.ratio",
        kind::DOUBLE,
        "0.5",
        Rule::Double { min: 0.0, max: 1.0 },
        Some("log.cleaner.min.cleanable.ratio"),
        "Dirty share that triggers compaction. Stored and described back; Whippet does not act on it (every round cleans each segment with a record to remove).",
    ),
    stored(
        "min.compaction.lag.ms",
        kind::LONG,
        "0",
        NON_NEGATIVE_LONG,
        Some("log.cleaner.min.compaction.lag.ms"),
        "Shortest time a record stays uncompacted (a segment is cleaned once its newest record is older).",
    ),
    stored(
        "min.insync.replicas",
        kind::INT,
        "1",
        Rule::Int {
            min: 1,
            max: I32_MAX,
        },
        Some("min.insync.replicas"),
        "Replicas that must acknowledge acks=all. Stored and described back; Whippet does not act on it (one replica, always in sync).",
    ),
    stored(
        "preallocate",
        kind::BOOLEAN,
        "false",
        Rule::Bool,
        Some("log.preallocate"),
        "Preallocate segment files. Stored and described back; Whippet does not act on it.",
    ),
    stored(
        "remote.log.copy.disable",
        kind::BOOLEAN,
        "false",
        Rule::Bool,
        None,
        "Stop copying segments to tiered storage. Stored and described back; Whippet does not act on it (no tiered storage).",
    ),
    stored(
        "remote.log.delete.on.disable",
        kind::BOOLEAN,
        "false",
        Rule::Bool,
        None,
        "Delete tiered data when tiering is turned off. Stored and described back; Whippet does not act on it (no tiered storage).",
    ),
    ConfigDef {
        name: "remote.storage.enable",
        config_type: kind::BOOLEAN,
        handling: Handling::Acted,
        broker_synonym: None,
        doc: "Tiered storage: closed segments are copied to the broker's S3 bucket (--s3-bucket) and read back from it once local retention removed them. Without a bucket the setting is kept but nothing is copied.",
    },
    acted(
        "retention.bytes",
        kind::LONG,
        "log.retention.bytes",
        "Partition size above which the oldest segments are deleted; -1 for no limit.",
    ),
    acted(
        "retention.ms",
        kind::LONG,
        "log.retention.ms",
        "Age after which segments are deleted; -1 keeps forever.",
    ),
    acted(
        "segment.bytes",
        kind::INT,
        "log.segment.bytes",
        "Segment file size at which the log rolls a new one.",
    ),
    stored(
        "segment.index.bytes",
        kind::INT,
        "10485760",
        Rule::Int {
            min: 4,
            max: I32_MAX,
        },
        Some("log.index.size.max.bytes"),
        "Size of a segment's offset index. Stored and described back; Whippet does not act on it (its index grows as needed).",
    ),
    stored(
        "segment.jitter.ms",
        kind::LONG,
        "0",
        NON_NEGATIVE_LONG,
        Some("log.roll.jitter.ms"),
        "Random jitter subtracted from segment.ms. Stored and described back; Whippet does not act on it.",
    ),
    acted(
        "segment.ms",
        kind::LONG,
        "log.roll.ms",
        "Age at which the active segment is rolled.",
    ),
    stored(
        "unclean.leader.election.enable",
        kind::BOOLEAN,
        "false",
        Rule::Bool,
        Some("unclean.leader.election.enable"),
        "Allow out-of-sync replicas to lead. Stored and described back; Whippet does not act on it (one replica).",
    ),
];

/// The definition of topic config `name`, if Kafka has one.
pub(crate) fn find(name: &str) -> Option<&'static ConfigDef> {
    TOPIC_CONFIGS.iter().find(|def| def.name == name)
}
