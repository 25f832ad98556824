//! Kafka topic config names ↔ the log's [`TopicSettings`]. Clients and tools speak Kafka's
//! names (`retention.ms`, `cleanup.policy`, ...); the log speaks typed settings. This module is
//! the only translation between them, shared by CreateTopics, DescribeConfigs, AlterConfigs and
//! IncrementalAlterConfigs, so a name accepted by one is accepted by all, with one validation.
//!
//! Every topic config Kafka defines is accepted (the table is in [`catalog`]). The ones
//! Whippet acts on map onto typed settings; the others are checked the way Kafka checks them
//! ([`rules`]) and kept verbatim in `TopicSettings::extra_configs`, so they are described back
//! (and their documentation says they are stored, not acted upon) instead of being refused or
//! silently dropped. Unknown names are INVALID_CONFIG, as in Kafka.
//!
//! Representation choices for the acted-on configs: `-1` for retention means "none" (the log's
//! `None`); `segment.ms` "never by age" (the log's default) is shown as `9223372036854775807`,
//! Java's `Long.MAX_VALUE`; `compression.type` `producer` and `none` both store
//! `Compression::None`, since the log keeps producer batches as sent either way, and read back
//! as `producer`. `cleanup.policy` is `delete`, `compact` or `compact,delete` (the log's
//! `compaction` setting); `delete.retention.ms` and `min.compaction.lag.ms` are kept verbatim
//! like stored configs and mirrored into that setting whenever either changes. Their defaults
//! are Whippet's own (retention is unlimited unless set), which is what the log really does.

pub(crate) mod broker;
mod catalog;
mod limits;
mod rules;

use kafka_protocol::ResponseError;
use whippet_log::{CompactionSettings, Compression, TimestampSource, TopicSettings};

use catalog::Handling;

/// Kafka's `ConfigSource` values used in DescribeConfigs and CreateTopics answers.
pub(crate) mod source {
    /// A per-topic override set through the admin APIs.
    pub(crate) const DYNAMIC_TOPIC_CONFIG: i8 = 1;
    /// A per-broker setting altered through the admin APIs.
    pub(crate) const DYNAMIC_BROKER_CONFIG: i8 = 2;
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
    /// 16-bit integer.
    pub(crate) const SHORT: i8 = 4;
    /// 64-bit integer.
    pub(crate) const LONG: i8 = 5;
    /// Decimal number.
    pub(crate) const DOUBLE: i8 = 6;
    /// Comma-separated list.
    pub(crate) const LIST: i8 = 7;
}

pub(crate) use catalog::TOPIC_CONFIGS;

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
    /// An INVALID_CONFIG error with `message`.
    pub(crate) fn invalid(message: String) -> Self {
        Self {
            error: ResponseError::InvalidConfig,
            message,
        }
    }
}

/// The current value of config `name` in `settings`, as Kafka would print it; `None` for a
/// name Kafka does not define.
pub(crate) fn value_of(settings: &TopicSettings, name: &str) -> Option<String> {
    match catalog::find(name)?.handling {
        Handling::Acted => acted_value(settings, name),
        Handling::Stored { default, .. } => Some(
            settings
                .extra_configs
                .get(name)
                .map_or_else(|| default.to_string(), Clone::clone),
        ),
    }
}

fn acted_value(settings: &TopicSettings, name: &str) -> Option<String> {
    let value = match name {
        "cleanup.policy" => match settings.compaction {
            None => "delete",
            Some(c) if c.delete_too => "compact,delete",
            Some(_) => "compact",
        }
        .to_string(),
        "compression.type" => compression_name(settings.compression).to_string(),
        "max.message.bytes" => settings.max_message_bytes.to_string(),
        "message.timestamp.type" => match settings.timestamp_type {
            TimestampSource::Producer => "CreateTime".to_string(),
            TimestampSource::Broker => "LogAppendTime".to_string(),
        },
        "retention.bytes" => optional(settings.retention_bytes),
        "retention.ms" => optional(settings.retention_ms),
        "local.retention.bytes" => settings.local_retention_bytes.to_string(),
        "local.retention.ms" => settings.local_retention_ms.to_string(),
        "remote.storage.enable" => settings.remote_storage.to_string(),
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

/// Whether `name` is not overridden in `settings`: a stored-only config that was never set
/// (or was reset), or an acted-on one holding the default value.
pub(crate) fn is_default(settings: &TopicSettings, name: &str) -> bool {
    match catalog::find(name).map(|def| def.handling) {
        Some(Handling::Stored { .. }) => !settings.extra_configs.contains_key(name),
        _ => value_of(settings, name) == value_of(&TopicSettings::default(), name),
    }
}

/// Sets config `name` to `value` in `settings`. Each value is parsed and range-checked on its
/// own; limits that depend on the log (segment size bounds) are checked by [`validate`].
/// Stored-only configs keep `value` exactly as given once it passes Kafka's check.
pub(crate) fn set(
    settings: &mut TopicSettings,
    name: &str,
    value: &str,
) -> Result<(), ConfigError> {
    match catalog::find(name).map(|def| def.handling) {
        None => Err(unknown(name)),
        Some(Handling::Acted) => set_acted(settings, name, value),
        Some(Handling::Stored { rule, .. }) => {
            rules::check(name, value, rule)?;
            settings
                .extra_configs
                .insert(name.to_string(), value.to_string());
            mirror_compaction(settings);
            Ok(())
        }
    }
}

/// Copies the stored `delete.retention.ms` / `min.compaction.lag.ms` (or Kafka's defaults)
/// into the log's compaction setting, if the topic is compacted.
fn mirror_compaction(settings: &mut TopicSettings) {
    let stored = |name: &str, default: u64| {
        settings
            .extra_configs
            .get(name)
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(default)
    };
    let defaults = CompactionSettings::default();
    let delete_retention_ms = stored("delete.retention.ms", defaults.delete_retention_ms);
    let min_compaction_lag_ms = stored("min.compaction.lag.ms", defaults.min_compaction_lag_ms);
    if let Some(compaction) = &mut settings.compaction {
        compaction.delete_retention_ms = delete_retention_ms;
        compaction.min_compaction_lag_ms = min_compaction_lag_ms;
    }
}

fn set_acted(settings: &mut TopicSettings, name: &str, value: &str) -> Result<(), ConfigError> {
    let value = value.trim();
    match name {
        "cleanup.policy" => {
            settings.compaction = parse_cleanup_policy(value)?;
            mirror_compaction(settings);
        }
        "compression.type" => settings.compression = parse_compression(value)?,
        "max.message.bytes" => settings.max_message_bytes = parse_int(name, value, 0)?,
        "message.timestamp.type" => {
            settings.timestamp_type = match value {
                "CreateTime" => TimestampSource::Producer,
                "LogAppendTime" => TimestampSource::Broker,
                _ => return Err(bad_value(name, value, "CreateTime or LogAppendTime")),
            }
        }
        "retention.bytes" => settings.retention_bytes = parse_optional(name, value)?,
        "retention.ms" => settings.retention_ms = parse_optional(name, value)?,
        "local.retention.bytes" => settings.local_retention_bytes = parse_local(name, value)?,
        "local.retention.ms" => settings.local_retention_ms = parse_local(name, value)?,
        "remote.storage.enable" => {
            settings.remote_storage = match value.to_ascii_lowercase().as_str() {
                "true" => true,
                "false" => false,
                _ => return Err(bad_value(name, value, "true or false")),
            }
        }
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

/// A local retention: `-2` (as the total), `-1` (no limit) or a non-negative limit.
fn parse_local(name: &str, value: &str) -> Result<i64, ConfigError> {
    let parsed: i64 = parse_int(name, value, -2)?;
    Ok(parsed)
}

/// Puts config `name` back to its default in `settings` (AlterConfigs leaving it out,
/// IncrementalAlterConfigs DELETE).
pub(crate) fn reset(settings: &mut TopicSettings, name: &str) -> Result<(), ConfigError> {
    match catalog::find(name).map(|def| def.handling) {
        None => Err(unknown(name)),
        Some(Handling::Stored { .. }) => {
            settings.extra_configs.remove(name);
            mirror_compaction(settings);
            Ok(())
        }
        Some(Handling::Acted) => {
            let default =
                acted_value(&TopicSettings::default(), name).ok_or_else(|| unknown(name))?;
            set_acted(settings, name, &default)
        }
    }
}

/// IncrementalAlterConfigs APPEND (or, with `subtract`, SUBTRACT): adds the comma-separated
/// `items` missing from list config `name` (or removes those present), then sets the result
/// through [`set`], so the new list passes the same check as a SET would. Non-list configs are
/// INVALID_CONFIG, as in Kafka.
pub(crate) fn apply_list_op(
    settings: &mut TopicSettings,
    name: &str,
    items: &str,
    subtract: bool,
) -> Result<(), ConfigError> {
    let def = catalog::find(name).ok_or_else(|| unknown(name))?;
    if def.config_type != kind::LIST {
        return Err(ConfigError::invalid(format!(
            "APPEND/SUBTRACT are not allowed for config {name:?} since it is not a list"
        )));
    }
    let split = |text: &str| -> Vec<String> {
        text.split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(str::to_string)
            .collect()
    };
    let mut list = split(&value_of(settings, name).unwrap_or_default());
    let items = split(items);
    if subtract {
        list.retain(|item| !items.contains(item));
    } else {
        for item in items {
            if !list.contains(&item) {
                list.push(item);
            }
        }
    }
    set(settings, name, &list.join(","))
}

/// Checks the settings as a whole against the log's limits, naming the Kafka config at fault.
pub(crate) fn validate(settings: &TopicSettings) -> Result<(), ConfigError> {
    if settings.remote_storage && settings.compaction.is_some() {
        // As Kafka: the remote copy of a segment could not follow its compaction.
        return Err(ConfigError::invalid(
            "Remote log storage is not supported for compacted topics (cleanup.policy=compact)"
                .into(),
        ));
    }
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

/// `delete` → no compaction; `compact` → compaction alone; both → compaction and retention.
fn parse_cleanup_policy(value: &str) -> Result<Option<CompactionSettings>, ConfigError> {
    let policies: Vec<&str> = value.split(',').map(str::trim).collect();
    if policies.is_empty() || policies.iter().any(|p| *p != "delete" && *p != "compact") {
        return Err(bad_value(
            "cleanup.policy",
            value,
            "delete, compact or compact,delete",
        ));
    }
    let delete = policies.contains(&"delete");
    Ok(policies.contains(&"compact").then(|| CompactionSettings {
        delete_too: delete,
        ..CompactionSettings::default()
    }))
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

/// An INVALID_CONFIG error saying what `name` expected instead of `value`.
pub(crate) fn bad_value(name: &str, value: &str, expected: &str) -> ConfigError {
    ConfigError::invalid(format!(
        "invalid value {value:?} for {name}: expected {expected}"
    ))
}

fn unknown(name: &str) -> ConfigError {
    ConfigError::invalid(format!("unknown topic config {name:?}"))
}

#[cfg(test)]
mod tests;
