//! Layered configuration: embedded defaults, then a TOML file, then `WHIPPET_*` environment
//! variables, then command-line flags, each layer overriding the one before. Every setting is
//! declared once, as a field of [`RawSettings`] (`declared.rs`): its clap attributes give the
//! flag, the environment variable and the default, and its name is the TOML key. `load.rs`
//! applies the layers without naming any setting; this file turns the result into the
//! validated [`Settings`] the broker reads.
//!
//! Nothing here reads the process environment: callers pass the variables in as an [`EnvMap`],
//! so tests can exercise the environment layer in parallel without touching global state.

mod declared;
mod load;
mod security;

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use whippet_log::{FsyncPolicy, LogConfig};

pub use declared::{Cli, RawSettings, Secret, setting_names};
pub use security::{SecurityProtocol, SecuritySettings, TlsFiles};

use crate::connections::ConnectionSettings;
use crate::limits;

/// Environment variables as name → value, the only way the environment reaches this module.
pub type EnvMap = HashMap<String, String>;

/// Prefix of every Whippet environment variable.
pub const ENV_PREFIX: &str = "WHIPPET_";
/// Environment variable naming the config file (the file cannot name itself).
pub const ENV_CONFIG: &str = "WHIPPET_CONFIG";
/// The tracing filter used when neither `log_level` nor `RUST_LOG` is set.
pub const LOG_LEVEL_DEFAULT: &str = "info";

/// The environment variable of a setting: `data_dir` → `WHIPPET_DATA_DIR`.
pub fn env_var_name(setting: &str) -> String {
    format!("{ENV_PREFIX}{}", setting.to_ascii_uppercase())
}

/// The flag of a setting: `data_dir` → `--data-dir`.
pub fn flag_name(setting: &str) -> String {
    format!("--{}", setting.replace('_', "-"))
}

/// The root user of the native protocol. `Debug` hides the password so settings can be logged.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// Login name.
    pub username: String,
    /// Plain-text password, compared on login.
    pub password: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// Fully resolved, validated settings of one broker process.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Directory the log owns.
    pub data_dir: PathBuf,
    /// Address the Kafka listener binds (port 0 allowed).
    pub kafka_addr: SocketAddr,
    /// Address the native listener binds (port 0 allowed).
    pub native_addr: SocketAddr,
    /// Address the HTTP admin listener binds (port 0 allowed).
    pub http_addr: SocketAddr,
    /// Durability policy handed to the log.
    pub fsync: FsyncPolicy,
    /// Background sync period for `fsync = interval`.
    pub fsync_interval_ms: u64,
    /// Stream under which Kafka's flat topic names live.
    pub kafka_stream: String,
    /// `host:port` advertised to Kafka clients instead of the bound address, for brokers
    /// behind NAT or bound to a wildcard address.
    pub kafka_advertised_addr: Option<String>,
    /// Whether Metadata for an unknown topic creates it (Kafka's `auto.create.topics.enable`).
    pub auto_create_topics: bool,
    /// Partition count of topics created without one (Kafka's `num.partitions`).
    pub num_partitions: u32,
    /// Consumer-group settings (Kafka's `group.*` broker settings).
    pub groups: whippet_coordinator::GroupConfig,
    /// Silence after which a native consumer-group member is evicted.
    pub native_heartbeat_timeout_ms: u64,
    /// Connection caps, read deadlines and the in-flight request budget.
    pub connections: ConnectionSettings,
    /// Root user of the native protocol.
    pub root: Credentials,
    /// Tracing filter directive, already checked to parse.
    pub log_level: String,
    /// `GET /metrics` settings.
    pub metrics: crate::metrics::MetricsSettings,
    /// OpenTelemetry export of traces and logs.
    pub otel: OtelSettings,
    /// TLS per listener, SASL on Kafka, and whether authentication is required.
    pub security: SecuritySettings,
    /// Failed logins earn back one try per this long (see `core::users::throttle`).
    pub login_failure_refill: Duration,
    /// The remote tier (tiered storage); `None` without `--s3-bucket`.
    pub tier: Option<whippet_tier::TierConfig>,
    /// Local retention (ms, bytes) of remote-storage topics that leave theirs at -2.
    pub local_retention_defaults: (i64, i64),
    /// Period of the log cleaner (compacted topics).
    pub log_cleaner_backoff: Duration,
}

/// Where and how traces and logs are exported over OTLP (`telemetry.rs`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtelSettings {
    /// The collector's base URL; `None` exports nothing.
    pub endpoint: Option<String>,
    /// The transport.
    pub protocol: OtlpProtocol,
    /// `service.name` of everything exported.
    pub service_name: String,
}

/// The OTLP transports (`OTEL_EXPORTER_OTLP_PROTOCOL`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtlpProtocol {
    /// OTLP over gRPC (port 4317 by convention).
    Grpc,
    /// OTLP over HTTP with protobuf bodies (port 4318 by convention).
    HttpProtobuf,
}

impl OtlpProtocol {
    /// The protocol a setting names: `grpc` or `http/protobuf`.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "grpc" => Some(Self::Grpc),
            "http/protobuf" => Some(Self::HttpProtobuf),
            _ => None,
        }
    }
}

/// The standard OpenTelemetry variables and the settings they stand for: each is used when
/// the matching `WHIPPET_*` variable is not set.
pub const OTEL_ENV: [(&str, &str); 3] = [
    (
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "WHIPPET_OTEL_EXPORTER_OTLP_ENDPOINT",
    ),
    (
        "OTEL_EXPORTER_OTLP_PROTOCOL",
        "WHIPPET_OTEL_EXPORTER_OTLP_PROTOCOL",
    ),
    ("OTEL_SERVICE_NAME", "WHIPPET_OTEL_SERVICE_NAME"),
];

/// Adds the standard OpenTelemetry variables of `env` under their `WHIPPET_*` names where
/// those are not set, so they configure the broker like the matching settings. An empty
/// standard variable counts as unset, as the OpenTelemetry specification says.
pub fn with_standard_otel_env(mut env: EnvMap) -> EnvMap {
    for (standard, ours) in OTEL_ENV {
        if env.contains_key(ours) {
            continue;
        }
        if let Some(value) = env.get(standard).filter(|value| !value.is_empty()) {
            let value = value.clone();
            env.insert(ours.to_string(), value);
        }
    }
    env
}

impl Settings {
    /// Converts the merged `raw` settings and validates the result. `rust_log` is the
    /// `RUST_LOG` fallback for the tracing filter.
    pub fn resolve(raw: RawSettings, rust_log: Option<&str>) -> Result<Self, ConfigError> {
        let ms = Duration::from_millis;
        let security = SecuritySettings::resolve(
            raw.tls_cert,
            raw.tls_key,
            raw.tls_client_ca,
            raw.kafka_security_protocol,
            raw.native_tls,
            raw.http_tls,
            raw.auth,
        )?;
        let settings = Self {
            data_dir: raw.data_dir,
            kafka_addr: raw.kafka_addr,
            native_addr: raw.native_addr,
            http_addr: raw.http_addr,
            fsync: raw.fsync,
            fsync_interval_ms: raw.fsync_interval_ms,
            kafka_stream: raw.kafka_stream,
            kafka_advertised_addr: raw.kafka_advertised_addr,
            auto_create_topics: raw.auto_create_topics,
            num_partitions: raw.num_partitions,
            groups: whippet_coordinator::GroupConfig {
                min_session_timeout: ms(raw.group_min_session_timeout_ms),
                max_session_timeout: ms(raw.group_max_session_timeout_ms),
                initial_rebalance_delay: ms(raw.group_initial_rebalance_delay_ms),
                consumer_session_timeout: ms(raw.group_consumer_session_timeout_ms),
                consumer_heartbeat_interval: ms(raw.group_consumer_heartbeat_interval_ms),
            },
            native_heartbeat_timeout_ms: raw.native_heartbeat_timeout_ms,
            connections: ConnectionSettings {
                per_listener_max: raw.connections_per_listener_max,
                per_address_max: raw.connections_per_address_max,
                setup_timeout: ms(raw.connection_setup_timeout_ms),
                idle_timeout: (raw.connection_idle_timeout_ms != 0)
                    .then(|| ms(raw.connection_idle_timeout_ms)),
                frame_read_timeout: ms(raw.frame_read_timeout_ms),
                request_bytes_in_flight_max: raw.request_bytes_in_flight_max,
            },
            root: Credentials {
                username: raw.root_username,
                password: raw.root_password.into_inner(),
            },
            log_level: raw
                .log_level
                .or_else(|| rust_log.map(str::to_string))
                .unwrap_or_else(|| LOG_LEVEL_DEFAULT.to_string()),
            metrics: crate::metrics::MetricsSettings {
                partition_series_max: raw.metrics_partition_series_max,
            },
            otel: OtelSettings {
                endpoint: raw
                    .otel_exporter_otlp_endpoint
                    .filter(|url| !url.is_empty()),
                protocol: OtlpProtocol::parse(&raw.otel_exporter_otlp_protocol).ok_or_else(
                    || {
                        invalid(
                            "otel_exporter_otlp_protocol",
                            &raw.otel_exporter_otlp_protocol,
                            "must be one of: grpc, http/protobuf".into(),
                        )
                    },
                )?,
                service_name: raw.otel_service_name,
            },
            security,
            login_failure_refill: ms(raw.login_failure_refill_ms),
            local_retention_defaults: (raw.local_retention_ms, raw.local_retention_bytes),
            log_cleaner_backoff: ms(raw.log_cleaner_backoff_ms),
            tier: tier_config(
                raw.s3_bucket,
                raw.s3_endpoint,
                raw.s3_region,
                raw.s3_prefix,
                raw.s3_cache_bytes,
                raw.s3_upload_interval_ms,
            ),
        };
        settings.validate()?;
        Ok(settings)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if self.data_dir.as_os_str().is_empty() {
            return Err(invalid("data_dir", "", "must not be empty".to_string()));
        }
        let (local_ms, local_bytes) = self.local_retention_defaults;
        for (name, value) in [
            ("local_retention_ms", local_ms),
            ("local_retention_bytes", local_bytes),
        ] {
            if value < -2 {
                return Err(invalid(
                    name,
                    &value.to_string(),
                    "must be at least -2".into(),
                ));
            }
        }
        let interval = limits::FSYNC_INTERVAL_MS_MIN..=limits::FSYNC_INTERVAL_MS_MAX;
        if !interval.contains(&self.fsync_interval_ms) {
            let reason = format!("must be in [{}, {}]", interval.start(), interval.end());
            return Err(invalid(
                "fsync_interval_ms",
                &self.fsync_interval_ms.to_string(),
                reason,
            ));
        }
        check_text(
            "kafka_stream",
            &self.kafka_stream,
            limits::KAFKA_STREAM_BYTES_MAX,
        )?;
        self.validate_kafka()?;
        self.validate_connections()?;
        in_range(
            "log_cleaner_backoff_ms",
            u64::try_from(self.log_cleaner_backoff.as_millis()).unwrap_or(u64::MAX),
            limits::LOG_CLEANER_BACKOFF_MS_MIN,
            limits::LOG_CLEANER_BACKOFF_MS_MAX,
        )?;
        in_range(
            "login_failure_refill_ms",
            u64::try_from(self.login_failure_refill.as_millis()).unwrap_or(u64::MAX),
            1,
            limits::LOGIN_FAILURE_REFILL_MS_MAX,
        )?;
        check_text(
            "root_username",
            &self.root.username,
            limits::CREDENTIAL_BYTES_MAX,
        )?;
        // The password's value is never echoed back in an error.
        check_text(
            "root_password",
            &self.root.password,
            limits::CREDENTIAL_BYTES_MAX,
        )
        .map_err(|_| {
            invalid(
                "root_password",
                "<redacted>",
                "must be 1..=255 bytes".into(),
            )
        })?;
        if let Err(error) = tracing_subscriber::EnvFilter::try_new(&self.log_level) {
            return Err(invalid("log_level", &self.log_level, error.to_string()));
        }
        Ok(())
    }

    fn validate_kafka(&self) -> Result<(), ConfigError> {
        let partitions = 1..=limits::NUM_PARTITIONS_MAX;
        if !partitions.contains(&self.num_partitions) {
            let reason = format!("must be in [{}, {}]", partitions.start(), partitions.end());
            return Err(invalid(
                "num_partitions",
                &self.num_partitions.to_string(),
                reason,
            ));
        }
        self.validate_groups()?;
        if let Some(addr) = &self.kafka_advertised_addr {
            check_host_port(addr)
                .map_err(|reason| invalid("kafka_advertised_addr", addr, reason.to_string()))?;
        }
        Ok(())
    }

    fn validate_connections(&self) -> Result<(), ConfigError> {
        let c = &self.connections;
        let caps = [
            ("connections_per_listener_max", c.per_listener_max),
            ("connections_per_address_max", c.per_address_max),
        ];
        for (setting, value) in caps {
            in_range(
                setting,
                value as u64,
                1,
                limits::CONNECTIONS_SETTING_MAX as u64,
            )?;
        }
        let millis = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        let timeouts = [
            ("connection_setup_timeout_ms", millis(c.setup_timeout)),
            (
                "connection_idle_timeout_ms",
                c.idle_timeout.map_or(1, millis),
            ),
            ("frame_read_timeout_ms", millis(c.frame_read_timeout)),
        ];
        for (setting, value) in timeouts {
            in_range(setting, value, 1, limits::CONNECTION_TIMEOUT_MS_MAX)?;
        }
        in_range(
            "request_bytes_in_flight_max",
            c.request_bytes_in_flight_max,
            limits::REQUEST_BYTES_IN_FLIGHT_MIN,
            limits::REQUEST_BYTES_IN_FLIGHT_MAX,
        )
    }

    fn validate_groups(&self) -> Result<(), ConfigError> {
        let heartbeat = self.native_heartbeat_timeout_ms;
        if heartbeat == 0 || heartbeat > limits::GROUP_TIMEOUT_MS_MAX {
            let reason = format!("must be in [1, {}]", limits::GROUP_TIMEOUT_MS_MAX);
            return Err(invalid(
                "native_heartbeat_timeout_ms",
                &heartbeat.to_string(),
                reason,
            ));
        }
        let g = &self.groups;
        let ms = |d: Duration| d.as_millis().to_string();
        if g.initial_rebalance_delay > Duration::from_millis(limits::GROUP_TIMEOUT_MS_MAX) {
            let reason = format!("must be at most {}", limits::GROUP_TIMEOUT_MS_MAX);
            return Err(invalid(
                "group_initial_rebalance_delay_ms",
                &ms(g.initial_rebalance_delay),
                reason,
            ));
        }
        if g.min_session_timeout.is_zero() {
            let reason = "must be at least 1".to_string();
            return Err(invalid(
                "group_min_session_timeout_ms",
                &ms(g.min_session_timeout),
                reason,
            ));
        }
        if g.max_session_timeout < g.min_session_timeout
            || g.max_session_timeout > Duration::from_millis(limits::GROUP_TIMEOUT_MS_MAX)
        {
            let reason = format!(
                "must be in [group_min_session_timeout_ms, {}]",
                limits::GROUP_TIMEOUT_MS_MAX
            );
            return Err(invalid(
                "group_max_session_timeout_ms",
                &ms(g.max_session_timeout),
                reason,
            ));
        }
        let max = limits::GROUP_TIMEOUT_MS_MAX;
        let consumer_session = g.consumer_session_timeout.as_millis();
        let interval = g.consumer_heartbeat_interval.as_millis();
        if consumer_session == 0 || consumer_session > u128::from(max) {
            let reason = format!("must be in [1, {max}]");
            return Err(invalid(
                "group_consumer_session_timeout_ms",
                &ms(g.consumer_session_timeout),
                reason,
            ));
        }
        if interval == 0 || interval >= consumer_session {
            let reason = "must be at least 1 and below group_consumer_session_timeout_ms".into();
            return Err(invalid(
                "group_consumer_heartbeat_interval_ms",
                &ms(g.consumer_heartbeat_interval),
                reason,
            ));
        }
        Ok(())
    }

    /// The storage engine's configuration for these settings.
    pub fn log_config(&self) -> LogConfig {
        let mut config = LogConfig::new(self.data_dir.clone());
        config.fsync = self.fsync;
        config.fsync_interval = Duration::from_millis(self.fsync_interval_ms);
        config.local_retention_defaults = self.local_retention_defaults;
        config.compactor = Some(std::sync::Arc::new(
            crate::kafka::compaction::KafkaCompactor,
        ));
        config.compaction_interval = self.log_cleaner_backoff;
        config
    }
}

/// The remote tier's settings; `None` without a bucket.
fn tier_config(
    bucket: Option<String>,
    endpoint: Option<String>,
    region: Option<String>,
    prefix: String,
    cache_bytes: u64,
    upload_interval_ms: u64,
) -> Option<whippet_tier::TierConfig> {
    bucket
        .filter(|b| !b.is_empty())
        .map(|bucket| whippet_tier::TierConfig {
            bucket,
            endpoint: endpoint.filter(|e| !e.is_empty()),
            region: region.filter(|r| !r.is_empty()),
            prefix,
            cache_bytes,
            interval: Duration::from_millis(upload_interval_ms.max(10)),
        })
}

fn in_range(setting: &'static str, value: u64, min: u64, max: u64) -> Result<(), ConfigError> {
    if (min..=max).contains(&value) {
        return Ok(());
    }
    Err(invalid(
        setting,
        &value.to_string(),
        format!("must be in [{min}, {max}]"),
    ))
}

fn check_text(setting: &'static str, value: &str, max: usize) -> Result<(), ConfigError> {
    if value.is_empty() || value.len() > max {
        return Err(invalid(setting, value, format!("must be 1..={max} bytes")));
    }
    Ok(())
}

/// Splits an advertised `host:port` (IPv6 hosts in brackets) and checks both halves, so a
/// typo fails at startup instead of sending every client to a wrong address.
pub fn split_host_port(addr: &str) -> Result<(String, u16), &'static str> {
    let (host, port) = addr.rsplit_once(':').ok_or("must be HOST:PORT")?;
    let port: u16 = port
        .parse()
        .map_err(|_| "port must be a number in 1..=65535")?;
    if port == 0 {
        return Err("port must be a number in 1..=65535");
    }
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let host_ok = !host.is_empty()
        && host.len() <= limits::ADVERTISED_HOST_BYTES_MAX
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':'));
    if !host_ok {
        return Err("host must be a name or IP address");
    }
    Ok((host.to_string(), port))
}

fn check_host_port(addr: &str) -> Result<(), &'static str> {
    split_host_port(addr).map(|_| ())
}

fn invalid(setting: &'static str, value: &str, reason: String) -> ConfigError {
    ConfigError::Invalid {
        setting,
        value: value.to_string(),
        reason,
    }
}

/// Why the settings could not be loaded. Every variant names the setting, variable or file at
/// fault so the one error line the broker prints is enough to fix the problem.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A flag did not parse, or `--help`/`--version` was asked for; clap formats and exits.
    #[error("{0}")]
    Cli(Box<clap::Error>),
    /// The config file could not be opened or read.
    #[error("cannot read config file {path}: {source}")]
    ReadFile {
        /// The file named by `--config` or `WHIPPET_CONFIG`.
        path: PathBuf,
        /// What the operating system reported.
        #[source]
        source: std::io::Error,
    },
    /// The config file is larger than any real config.
    #[error("config file {path} is larger than {max} bytes")]
    FileTooLarge {
        /// The file named by `--config` or `WHIPPET_CONFIG`.
        path: PathBuf,
        /// [`limits::CONFIG_FILE_BYTES_MAX`].
        max: u64,
    },
    /// The config file is not valid TOML for these settings (syntax, type or unknown key).
    #[error("config file {path}, line {line}: {message}")]
    ParseFile {
        /// The file named by `--config` or `WHIPPET_CONFIG`.
        path: PathBuf,
        /// 1-based line of the error (0 when the parser gave no position).
        line: usize,
        /// The parser's description, which names the offending key.
        message: String,
    },
    /// A `WHIPPET_*` variable holds a value its setting cannot take.
    #[error("invalid value {value:?} for environment variable {var}: {reason}")]
    Env {
        /// The variable, e.g. `WHIPPET_KAFKA_ADDR`.
        var: String,
        /// Its value as found.
        value: String,
        /// Why it does not parse.
        reason: String,
    },
    /// A setting parsed but is out of range, whichever layer it came from.
    #[error("invalid value {value:?} for setting {setting} ({flag}): {reason}", flag = flag_name(setting))]
    Invalid {
        /// The snake_case setting name (TOML key).
        setting: &'static str,
        /// The rejected value (redacted for the password).
        value: String,
        /// The rule it breaks.
        reason: String,
    },
}

#[cfg(test)]
mod tests;
