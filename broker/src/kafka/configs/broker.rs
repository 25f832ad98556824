//! Dynamic per-broker configs: the BROKER-resource half of AlterConfigs and
//! IncrementalAlterConfigs.
//!
//! Kafka lets an admin alter a fixed set of broker configs at run time (its
//! `DynamicBrokerConfig`); every other broker config is "read-only" and an alter naming one
//! fails with INVALID_REQUEST (Kafka wraps the validation failure that way, see KAFKA-13609).
//! Whippet accepts the subset of Kafka's per-broker dynamic configs that concern Kerberos and
//! SASL login refresh — settings a Whippet broker has no use for (it has no GSSAPI or OAuth
//! login to refresh) but that admin tools and librdkafka's test suite alter — checks them as
//! Kafka does, persists them in the log's state directory and describes them back as
//! DYNAMIC_BROKER_CONFIG. Every other name (listeners, SSL, log defaults, thread pools, ...)
//! is refused rather than accepted and ignored, because accepting those would claim a change
//! in behaviour that does not happen. All accepted configs are per-broker in Kafka, so they
//! must be altered through the broker's id, not the empty cluster-default name.

use std::collections::BTreeMap;
use std::path::Path;

use kafka_protocol::ResponseError;
use whippet_log::LogError;

use super::catalog::Rule;
use super::limits::BROKER_CONFIGS_FILE_BYTES_MAX;
use super::{ConfigError, kind, rules};
use crate::core::meta::{Meta, MetaCommand};

/// File under the log's state directory that held the per-broker overrides (JSON object of
/// name → value) before the metadata log; read once, for migration.
pub(crate) const BROKER_CONFIGS_FILE: &str = "kafka_broker_configs.json";

/// One broker config that may be altered at run time.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DynamicDef {
    /// Kafka's name for it.
    pub(crate) name: &'static str,
    /// Kafka's `ConfigType`.
    pub(crate) config_type: i8,
    /// Kafka's default, shown while not overridden.
    pub(crate) default: &'static str,
    /// The check a new value must pass.
    rule: Rule,
    /// What it is, for DescribeConfigs documentation.
    pub(crate) doc: &'static str,
}

const ANY_DOUBLE: Rule = Rule::Double {
    min: f64::MIN,
    max: f64::MAX,
};

/// The per-broker configs an alter may change, alphabetical.
pub(crate) const DYNAMIC_BROKER_CONFIGS: &[DynamicDef] = &[
    dynamic(
        "sasl.kerberos.kinit.cmd",
        kind::STRING,
        "/usr/bin/kinit",
        Rule::Text,
        "Kerberos kinit command path.",
    ),
    dynamic(
        "sasl.kerberos.min.time.before.relogin",
        kind::LONG,
        "60000",
        Rule::Long {
            min: i64::MIN,
            max: i64::MAX,
        },
        "Login thread sleep time between refresh attempts.",
    ),
    dynamic(
        "sasl.kerberos.principal.to.local.rules",
        kind::LIST,
        "DEFAULT",
        Rule::Text,
        "Rules mapping Kerberos principal names to short names.",
    ),
    dynamic(
        "sasl.kerberos.ticket.renew.jitter",
        kind::DOUBLE,
        "0.05",
        ANY_DOUBLE,
        "Random jitter added to the Kerberos renewal time.",
    ),
    dynamic(
        "sasl.kerberos.ticket.renew.window.factor",
        kind::DOUBLE,
        "0.8",
        ANY_DOUBLE,
        "Share of the ticket lifetime after which renewal is attempted.",
    ),
    dynamic(
        "sasl.login.refresh.buffer.seconds",
        kind::SHORT,
        "300",
        Rule::Int { min: 0, max: 3600 },
        "Buffer time kept before credential expiry when refreshing.",
    ),
    dynamic(
        "sasl.login.refresh.min.period.seconds",
        kind::SHORT,
        "60",
        Rule::Int { min: 0, max: 900 },
        "Minimum time between credential refreshes.",
    ),
    dynamic(
        "sasl.login.refresh.window.factor",
        kind::DOUBLE,
        "0.8",
        Rule::Double { min: 0.5, max: 1.0 },
        "Share of the credential lifetime after which it is refreshed.",
    ),
    dynamic(
        "sasl.login.refresh.window.jitter",
        kind::DOUBLE,
        "0.05",
        Rule::Double {
            min: 0.0,
            max: 0.25,
        },
        "Random jitter added to the refresh time.",
    ),
];

const fn dynamic(
    name: &'static str,
    config_type: i8,
    default: &'static str,
    rule: Rule,
    doc: &'static str,
) -> DynamicDef {
    DynamicDef {
        name,
        config_type,
        default,
        rule,
        doc,
    }
}

/// What every stored broker config's documentation adds: Whippet keeps it but does not use it.
pub(crate) const STORED_NOTE: &str =
    " Stored and described back; Whippet does not act on it (no Kerberos or OAuth login).";

/// The stored per-broker overrides (empty when none were ever set), from the metadata log.
pub(crate) fn load(meta: &Meta) -> BTreeMap<String, String> {
    BTreeMap::clone(&meta.load().broker_configs)
}

/// Applies `change` to the stored overrides and, unless `validate_only`, submits what it set
/// and reset as one command of the metadata log; answers once that is durable. Concurrent
/// alters of different configs both land; of the same config, the later one wins (as in
/// Kafka).
pub(crate) async fn update(
    meta: &Meta,
    validate_only: bool,
    change: impl FnOnce(&mut BTreeMap<String, String>) -> Result<(), ConfigError>,
) -> Result<(), ConfigError> {
    let before = load(meta);
    let mut after = before.clone();
    change(&mut after)?;
    if validate_only {
        return Ok(());
    }
    let set: BTreeMap<String, String> = after
        .iter()
        .filter(|(name, value)| before.get(*name) != Some(*value))
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect();
    let reset: Vec<String> = before
        .keys()
        .filter(|name| !after.contains_key(*name))
        .cloned()
        .collect();
    if set.is_empty() && reset.is_empty() {
        return Ok(());
    }
    meta.submit(MetaCommand::BrokerConfigs { set, reset })
        .await
        .map(drop)
        .map_err(|error| storage(meta.dir(), &error.to_string()))
}

/// Moves the overrides of the file an older data dir kept them in
/// ([`BROKER_CONFIGS_FILE`]) onto the metadata log, then removes the file. Blocking: run at
/// startup, off the async workers.
pub(crate) fn migrate(meta: &Meta, state_dir: &Path) -> Result<(), LogError> {
    let path = state_dir.join(BROKER_CONFIGS_FILE);
    let io = |error: String| LogError::io(&path, std::io::Error::other(error));
    let Some(set) = load_legacy(&path).map_err(|error| io(error.message))? else {
        return Ok(());
    };
    let command = MetaCommand::BrokerConfigs {
        set,
        reset: Vec::new(),
    };
    meta.submit_blocking(command)
        .map_err(|error| io(error.to_string()))?;
    std::fs::remove_file(&path).map_err(|error| LogError::io(&path, error))
}

/// The overrides in the old file, `None` when there is none.
fn load_legacy(path: &Path) -> Result<Option<BTreeMap<String, String>>, ConfigError> {
    let Some(text) = whippet_meta::read_bounded_file(path, BROKER_CONFIGS_FILE_BYTES_MAX)
        .map_err(|error| storage(path, &error.to_string()))?
    else {
        return Ok(None);
    };
    serde_json::from_slice(&text)
        .map(Some)
        .map_err(|error| storage(path, &error.to_string()))
}

/// Sets broker config `name` to `value` in `configs`, if Kafka allows altering it per broker
/// and the value passes Kafka's check.
pub(crate) fn set(
    configs: &mut BTreeMap<String, String>,
    name: &str,
    value: &str,
) -> Result<(), ConfigError> {
    let def = find(name)?;
    rules::check(name, value, def.rule).map_err(|error| ConfigError {
        error: ResponseError::InvalidRequest,
        message: error.message,
    })?;
    configs.insert(name.to_string(), value.to_string());
    Ok(())
}

/// Removes the override of broker config `name`, back to its default.
pub(crate) fn reset(configs: &mut BTreeMap<String, String>, name: &str) -> Result<(), ConfigError> {
    find(name)?;
    configs.remove(name);
    Ok(())
}

/// Checks that a BROKER alter targets one broker by id: every accepted config is per-broker.
pub(crate) fn check_per_broker(resource_name: &str) -> Result<(), ConfigError> {
    if resource_name.is_empty() {
        Err(ConfigError {
            error: ResponseError::InvalidRequest,
            message: "Cannot update these configs at default cluster level, broker id must be \
                      specified"
                .into(),
        })
    } else {
        Ok(())
    }
}

fn find(name: &str) -> Result<&'static DynamicDef, ConfigError> {
    DYNAMIC_BROKER_CONFIGS
        .iter()
        .find(|def| def.name == name)
        .ok_or_else(|| ConfigError {
            error: ResponseError::InvalidRequest,
            message: format!(
                "Cannot update broker config {name:?} dynamically: Whippet's broker settings come \
                 from flags, environment or the config file; only these may be altered: {}",
                DYNAMIC_BROKER_CONFIGS
                    .iter()
                    .map(|def| def.name)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })
}

fn storage(path: &Path, reason: &str) -> ConfigError {
    ConfigError {
        error: ResponseError::KafkaStorageError,
        message: format!("broker configs in {}: {reason}", path.display()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[tokio::test]
    async fn dynamic_configs_persist_and_others_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (meta, _) = Meta::open(dir.path()).unwrap();
        assert!(load(&meta).is_empty());
        for def in DYNAMIC_BROKER_CONFIGS {
            let mut configs = BTreeMap::new();
            set(&mut configs, def.name, def.default).unwrap();
        }
        update(&meta, false, |c| {
            set(c, "sasl.kerberos.min.time.before.relogin", "58000")
        })
        .await
        .unwrap();
        update(&meta, true, |c| {
            set(c, "sasl.login.refresh.window.factor", "0.9")
        })
        .await
        .unwrap();
        drop(meta);
        let (meta, _) = Meta::open(dir.path()).unwrap();
        let stored = load(&meta);
        assert_eq!(stored.len(), 1, "validate_only wrote nothing");
        assert_eq!(stored["sasl.kerberos.min.time.before.relogin"], "58000");

        let mut configs = stored.clone();
        for (name, value) in [
            ("sasl.kerberos.min.time.before.relogin", "soon"),
            ("sasl.login.refresh.window.factor", "0.1"),
            ("broker.id", "7"),
            ("log.retention.ms", "1000"),
            ("no.such.config", "1"),
        ] {
            let error = set(&mut configs, name, value).unwrap_err();
            assert_eq!(error.error, ResponseError::InvalidRequest, "{name}");
        }
        assert!(reset(&mut configs, "listeners").is_err());
        reset(&mut configs, "sasl.kerberos.min.time.before.relogin").unwrap();
        assert!(configs.is_empty());
        assert!(check_per_broker("").is_err());
        assert!(check_per_broker("0").is_ok());
        update(&meta, false, |c| {
            reset(c, "sasl.kerberos.min.time.before.relogin")
        })
        .await
        .unwrap();
        assert!(load(&meta).is_empty());
    }

    #[test]
    fn the_broker_configs_file_of_an_older_data_dir_is_migrated_then_removed() {
        let dir = tempfile::tempdir().unwrap();
        let (meta, _) = Meta::open(dir.path()).unwrap();
        let old = dir.path().join(BROKER_CONFIGS_FILE);
        std::fs::write(&old, r#"{"sasl.login.refresh.window.factor": "0.9"}"#).unwrap();
        migrate(&meta, dir.path()).unwrap();
        assert!(!old.exists());
        drop(meta);
        let (meta, _) = Meta::open(dir.path()).unwrap();
        assert_eq!(load(&meta)["sasl.login.refresh.window.factor"], "0.9");

        std::fs::write(&old, "{not json").unwrap();
        assert!(
            migrate(&meta, dir.path()).is_err(),
            "a bad file is an error, not dropped"
        );
    }
}
