//! Kafka topic config names ↔ the log's [`TopicSettings`]. Clients and tools speak Kafka's
//! names (`retention.ms`, `cleanup.policy`, ...); the log speaks typed settings. This module is
//! the only translation between them, shared by CreateTopics, DescribeConfigs, AlterConfigs and
//! IncrementalAlterConfigs, so a name accepted by one is accepted by all, with one validation.
//!
//! Representation choices: `-1` for retention means "none" (the log's `None`); `segment.ms`
//! "never by age" (the log's default) is shown as `9223372036854775807`, Java's `Long.MAX_VALUE`;
//! `compression.type` `producer` and `none` both store `Compression::None`, since the log keeps
//! producer batches as sent either way, and read back as `producer`. `cleanup.policy` accepts
//! only `delete` until compaction exists. Unknown names are INVALID_CONFIG, as in Kafka.

use kafka_protocol::ResponseError;
use whippet_log::{Compression, TimestampType, TopicSettings};

/// Kafka's `ConfigSource` values used in DescribeConfigs and CreateTopics answers.
pub(crate) mod source {
    /// A per-topic override set through the admin APIs.
    pub(crate) const DYNAMIC_TOPIC_CONFIG: i8 = 1;
    /// A broker setting from its startup configuration.
    pub(crate) const STATIC_BROKER_CONFIG: i8 = 4;
    /// The built-in default.
    pub(crate) const DEFAULT_CONFIG: i8 = 5;
}

/// Kafka's `ConfigType` values (DescribeConfigs v3+).
pub(crate) mod kind {
    /// true/false.
    pub(crate) const BOOLEAN: i8 = 1;
    /// Free text or an enumeration.
    pub(crate) const STRING: i8 = 2;
    /// 32-bit integer.
    pub(crate) const INT: i8 = 3;
    /// 64-bit integer.
    pub(crate) const LONG: i8 = 5;
    /// Comma-separated list.
    pub(crate) const LIST: i8 = 7;
}

/// One topic config Kafka clients can read and write, with its type and a one-line doc.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConfigDef {
    /// Kafka's name for it.
    pub(crate) name: &'static str,
    /// Kafka's `ConfigType`.
    pub(crate) config_type: i8,
    /// What it does, for DescribeConfigs `include_documentation`.
    pub(crate) doc: &'static str,
}

/// Every topic config served, in the order DescribeConfigs lists them.
pub(crate) const TOPIC_CONFIGS: &[ConfigDef] = &[
    def(
        "cleanup.policy",
        kind::LIST,
        "Only 'delete': whole segments are removed by retention.",
    ),
    def(
        "compression.type",
        kind::STRING,
        "Codec for re-compressed batches; producer batches are kept as sent.",
    ),
    def(
        "max.message.bytes",
        kind::INT,
        "Largest record batch a producer may append.",
    ),
    def(
        "message.timestamp.type",
        kind::STRING,
        "CreateTime keeps producer timestamps; LogAppendTime stamps the broker's.",
    ),
    def(
        "retention.bytes",
        kind::LONG,
        "Partition size above which the oldest segments are deleted; -1 for no limit.",
    ),
    def(
        "retention.ms",
        kind::LONG,
        "Age after which segments are deleted; -1 keeps forever.",
    ),
    def(
        "segment.bytes",
        kind::INT,
        "Segment file size at which the log rolls a new one.",
    ),
    def(
        "segment.ms",
        kind::LONG,
        "Age at which the active segment is rolled.",
    ),
];

const fn def(name: &'static str, config_type: i8, doc: &'static str) -> ConfigDef {
    ConfigDef {
        name,
        config_type,
        doc,
    }
}

/// `segment.ms` meaning "never roll by age", as Java's `Long.MAX_VALUE`.
const NEVER_MS: i64 = i64::MAX;

/// Why a config could not be applied: the Kafka error and a message naming the config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ConfigError {
    /// The error code for the response.
    pub(crate) error: ResponseError,
    /// The message for the response's `error_message`.
    pub(crate) message: String,
}

impl ConfigError {
    fn invalid(message: String) -> Self {
        Self {
            error: ResponseError::InvalidConfig,
            message,
        }
    }
}

/// The current value of config `name` in `settings`, as Kafka would print it.
pub(crate) fn value_of(settings: &TopicSettings, name: &str) -> Option<String> {
    let value = match name {
        "cleanup.policy" => "delete".to_string(),
        "compression.type" => compression_name(settings.compression).to_string(),
        "max.message.bytes" => settings.max_message_bytes.to_string(),
        "message.timestamp.type" => match settings.timestamp_type {
            TimestampType::CreateTime => "CreateTime".to_string(),
            TimestampType::LogAppendTime => "LogAppendTime".to_string(),
        },
        "retention.bytes" => optional(settings.retention_bytes),
        "retention.ms" => optional(settings.retention_ms),
        "segment.bytes" => settings.segment_bytes.to_string(),
        "segment.ms" => settings
            .segment_ms
            .map_or_else(|| NEVER_MS.to_string(), |ms| ms.to_string()),
        _ => return None,
    };
    Some(value)
}

fn optional(value: Option<u64>) -> String {
    value.map_or_else(|| "-1".to_string(), |v| v.to_string())
}

fn compression_name(compression: Compression) -> &'static str {
    match compression {
        Compression::None => "producer",
        Compression::Gzip => "gzip",
        Compression::Snappy => "snappy",
        Compression::Lz4 => "lz4",
        Compression::Zstd => "zstd",
    }
}

/// Whether `name` holds its built-in default value in `settings`.
pub(crate) fn is_default(settings: &TopicSettings, name: &str) -> bool {
    value_of(settings, name) == value_of(&TopicSettings::default(), name)
}

/// Sets config `name` to `value` in `settings`. Each value is parsed and range-checked on its
/// own; limits that depend on the log (segment size bounds) are checked by [`validate`].
pub(crate) fn set(
    settings: &mut TopicSettings,
    name: &str,
    value: &str,
) -> Result<(), ConfigError> {
    let value = value.trim();
    match name {
        "cleanup.policy" => check_cleanup_policy(value)?,
        "compression.type" => settings.compression = parse_compression(value)?,
        "max.message.bytes" => settings.max_message_bytes = parse_int(name, value, 0)?,
        "message.timestamp.type" => {
            settings.timestamp_type = match value {
                "CreateTime" => TimestampType::CreateTime,
                "LogAppendTime" => TimestampType::LogAppendTime,
                _ => return Err(bad_value(name, value, "CreateTime or LogAppendTime")),
            }
        }
        "retention.bytes" => settings.retention_bytes = parse_optional(name, value)?,
        "retention.ms" => settings.retention_ms = parse_optional(name, value)?,
        "segment.bytes" => settings.segment_bytes = parse_int(name, value, 1)?,
        "segment.ms" => {
            let ms: i64 = parse_int(name, value, 1)?;
            settings.segment_ms = if ms == NEVER_MS {
                None
            } else {
                Some(ms.unsigned_abs())
            };
        }
        _ => return Err(unknown(name)),
    }
    Ok(())
}

/// Puts config `name` back to its default in `settings` (AlterConfigs leaving it out,
/// IncrementalAlterConfigs DELETE).
pub(crate) fn reset(settings: &mut TopicSettings, name: &str) -> Result<(), ConfigError> {
    let defaults = TopicSettings::default();
    let Some(default) = value_of(&defaults, name) else {
        return Err(unknown(name));
    };
    set(settings, name, &default)
}

/// Checks the settings as a whole against the log's limits, naming the Kafka config at fault.
pub(crate) fn validate(settings: &TopicSettings) -> Result<(), ConfigError> {
    settings.validate().map_err(|error| {
        let kafka_name = match &error {
            whippet_log::LogError::InvalidSetting { name, .. } => kafka_name_of(name),
            _ => "config",
        };
        ConfigError::invalid(format!("invalid value for {kafka_name}: {error}"))
    })
}

/// Builds settings from defaults plus `configs` (CreateTopics, AlterConfigs): each name must be
/// known; a null value means the default. The result is validated.
pub(crate) fn from_configs<'a>(
    configs: impl IntoIterator<Item = (&'a str, Option<&'a str>)>,
) -> Result<TopicSettings, ConfigError> {
    let mut settings = TopicSettings::default();
    for (name, value) in configs {
        match value {
            Some(value) => set(&mut settings, name, value)?,
            None => reset(&mut settings, name)?,
        }
    }
    validate(&settings)?;
    Ok(settings)
}

fn kafka_name_of(log_name: &str) -> &'static str {
    match log_name {
        "segment_bytes" => "segment.bytes",
        "segment_ms" => "segment.ms",
        "max_message_bytes" => "max.message.bytes",
        "retention_ms" => "retention.ms",
        "retention_bytes" => "retention.bytes",
        _ => "config",
    }
}

fn check_cleanup_policy(value: &str) -> Result<(), ConfigError> {
    let mut policies = value.split(',').map(str::trim);
    if policies.clone().any(|p| p == "compact") {
        return Err(ConfigError::invalid(
            "cleanup.policy=compact is not supported yet (no log compaction); use delete".into(),
        ));
    }
    if policies.all(|p| p == "delete") {
        Ok(())
    } else {
        Err(bad_value("cleanup.policy", value, "delete"))
    }
}

fn parse_compression(value: &str) -> Result<Compression, ConfigError> {
    Ok(match value {
        "producer" | "none" | "uncompressed" => Compression::None,
        "gzip" => Compression::Gzip,
        "snappy" => Compression::Snappy,
        "lz4" => Compression::Lz4,
        "zstd" => Compression::Zstd,
        _ => {
            return Err(bad_value(
                "compression.type",
                value,
                "producer, none, gzip, snappy, lz4 or zstd",
            ));
        }
    })
}

/// An integer of type `T` that is at least `min`.
fn parse_int<T>(name: &str, value: &str, min: i64) -> Result<T, ConfigError>
where
    T: TryFrom<i64>,
{
    let parsed: i64 = value
        .parse()
        .map_err(|_| bad_value(name, value, "an integer"))?;
    if parsed < min {
        return Err(bad_value(name, value, &format!("at least {min}")));
    }
    T::try_from(parsed).map_err(|_| bad_value(name, value, "an integer in range"))
}

/// -1 for "none", else a non-negative integer.
fn parse_optional(name: &str, value: &str) -> Result<Option<u64>, ConfigError> {
    let parsed: i64 = parse_int(name, value, -1)?;
    Ok(u64::try_from(parsed).ok())
}

fn bad_value(name: &str, value: &str, expected: &str) -> ConfigError {
    ConfigError::invalid(format!(
        "invalid value {value:?} for {name}: expected {expected}"
    ))
}

fn unknown(name: &str) -> ConfigError {
    ConfigError::invalid(format!("unknown topic config {name:?}"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn defaults_round_trip_through_names() {
        let defaults = TopicSettings::default();
        for def in TOPIC_CONFIGS {
            let value = value_of(&defaults, def.name).unwrap();
            let mut settings = TopicSettings::default();
            set(&mut settings, def.name, &value).unwrap();
            assert_eq!(settings, defaults, "{}", def.name);
            assert!(is_default(&settings, def.name));
        }
        assert_eq!(value_of(&defaults, "retention.ms").unwrap(), "-1");
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
        assert_eq!(settings.timestamp_type, TimestampType::LogAppendTime);
        assert_eq!(settings.compression, Compression::Zstd);
        assert_eq!(settings.segment_ms, Some(3_600_000));
        assert!(!is_default(&settings, "retention.ms"));

        for (name, value) in [
            ("retention.ms", "-2"),
            ("retention.ms", "soon"),
            ("cleanup.policy", "compact"),
            ("cleanup.policy", "compact,delete"),
            ("cleanup.policy", "shred"),
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
}
