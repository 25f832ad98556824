//! Layered configuration: embedded defaults, then a TOML file, then `WHIPPET_*` environment
//! variables, then command-line flags, each layer overriding the one before. Every setting has
//! one snake_case name used as the TOML key; its flag is the same name in kebab-case and its
//! environment variable the same name upper-cased with a `WHIPPET_` prefix.
//!
//! Nothing here reads the process environment: callers pass the variables in as an [`EnvMap`],
//! so tests can exercise the environment layer in parallel without touching global state.

use std::collections::HashMap;
use std::ffi::OsString;
use std::fmt;
use std::io::Read;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use clap::Parser;
use serde::Deserialize;
use whippet_log::{FsyncPolicy, LogConfig};

use crate::limits;

/// Environment variables as name → value, the only way the environment reaches this module.
pub type EnvMap = HashMap<String, String>;

/// Prefix of every Whippet environment variable.
pub const ENV_PREFIX: &str = "WHIPPET_";
/// Environment variable naming the config file (the file cannot name itself).
pub const ENV_CONFIG: &str = "WHIPPET_CONFIG";
/// The tracing filter used when neither `log_level` nor `RUST_LOG` is set.
pub const LOG_LEVEL_DEFAULT: &str = "info";

/// Command line of the `whippet` binary. Every option is optional: an absent flag leaves the
/// setting to the lower layers (environment, file, default).
#[derive(Debug, Parser)]
#[command(
    name = "whippet",
    version,
    // A later `--flag value` replaces an earlier one, so wrappers can append overrides.
    args_override_self = true,
    about = "Whippet: one broker serving the Kafka and Apache Iggy protocols over one log.",
    after_help = "Precedence: flags > WHIPPET_* environment variables > --config file > \
                  defaults. The TOML file uses each flag's name in snake_case \
                  (e.g. data_dir = \"/var/lib/whippet\"); unknown keys are an error. \
                  On start the broker prints one JSON ready line on stdout with the bound \
                  addresses; all logs go to stderr."
)]
pub struct Cli {
    /// TOML file of settings, overridden by environment and flags [env: WHIPPET_CONFIG]
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The settings given as flags (the top layer).
    #[command(flatten)]
    pub layer: Layer,
}

/// One layer of settings, every field optional. The same struct is filled from the TOML file,
/// from the environment and from flags, so the three layers can never disagree on names.
#[derive(Debug, Default, Clone, PartialEq, clap::Args, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Layer {
    /// Directory holding all stored data [default: ./data] [env: WHIPPET_DATA_DIR]
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Kafka listener address; port 0 picks a free port [default: 127.0.0.1:9092] [env: WHIPPET_KAFKA_ADDR]
    #[arg(long, value_name = "IP:PORT")]
    pub kafka_addr: Option<SocketAddr>,
    /// Iggy native (TCP) listener address; port 0 picks a free port [default: 127.0.0.1:8090] [env: WHIPPET_NATIVE_ADDR]
    #[arg(long, value_name = "IP:PORT")]
    pub native_addr: Option<SocketAddr>,
    /// HTTP admin listener address (GET /health); port 0 picks a free port [default: 127.0.0.1:3000] [env: WHIPPET_HTTP_ADDR]
    #[arg(long, value_name = "IP:PORT")]
    pub http_addr: Option<SocketAddr>,
    /// When appends reach disk: always | interval | never [default: interval] [env: WHIPPET_FSYNC]
    #[arg(long, value_name = "POLICY")]
    pub fsync: Option<FsyncPolicy>,
    /// Period of the background fsync with --fsync interval, in ms [default: 1000] [env: WHIPPET_FSYNC_INTERVAL_MS]
    #[arg(long, value_name = "MS")]
    pub fsync_interval_ms: Option<u64>,
    /// Stream that holds the topics Kafka clients see [default: kafka] [env: WHIPPET_KAFKA_STREAM]
    #[arg(long, value_name = "NAME")]
    pub kafka_stream: Option<String>,
    /// Host:port Kafka clients are told to connect to (Metadata); unset = the bound address, with 0.0.0.0/:: shown as 127.0.0.1/::1 [env: WHIPPET_KAFKA_ADVERTISED_ADDR]
    #[arg(long, value_name = "HOST:PORT")]
    pub kafka_advertised_addr: Option<String>,
    /// Create a Kafka topic when a client asks Metadata for an unknown one: true | false [default: true] [env: WHIPPET_AUTO_CREATE_TOPICS]
    #[arg(long, value_name = "BOOL")]
    pub auto_create_topics: Option<bool>,
    /// Partitions of a Kafka topic created without a count (auto-create, CreateTopics with -1) [default: 1] [env: WHIPPET_NUM_PARTITIONS]
    #[arg(long, value_name = "N")]
    pub num_partitions: Option<u32>,
    /// How long the first rebalance of a new or empty consumer group waits for more members, in ms; 0 disables it [default: 3000] [env: WHIPPET_GROUP_INITIAL_REBALANCE_DELAY_MS]
    #[arg(long, value_name = "MS")]
    pub group_initial_rebalance_delay_ms: Option<u64>,
    /// Smallest session timeout a consumer-group member may ask for, in ms [default: 6000] [env: WHIPPET_GROUP_MIN_SESSION_TIMEOUT_MS]
    #[arg(long, value_name = "MS")]
    pub group_min_session_timeout_ms: Option<u64>,
    /// Largest session timeout a consumer-group member may ask for, in ms [default: 1800000] [env: WHIPPET_GROUP_MAX_SESSION_TIMEOUT_MS]
    #[arg(long, value_name = "MS")]
    pub group_max_session_timeout_ms: Option<u64>,
    /// A native connection in a consumer group that sends nothing for this long is evicted from its groups, in ms [default: 36000] [env: WHIPPET_NATIVE_HEARTBEAT_TIMEOUT_MS]
    #[arg(long, value_name = "MS")]
    pub native_heartbeat_timeout_ms: Option<u64>,
    /// Root user name of the native protocol [default: iggy] [env: WHIPPET_ROOT_USERNAME]
    #[arg(long, value_name = "NAME")]
    pub root_username: Option<String>,
    /// Root password; prefer the environment or the file, flags show in `ps` [default: iggy] [env: WHIPPET_ROOT_PASSWORD]
    #[arg(long, value_name = "PASSWORD")]
    pub root_password: Option<String>,
    /// Tracing filter, e.g. `info` or `whippet_log=debug` [default: $RUST_LOG, else info] [env: WHIPPET_LOG_LEVEL]
    #[arg(long, value_name = "FILTER")]
    pub log_level: Option<String>,
}

/// Every setting's snake_case name, in help order. Tests check that each has a flag, an
/// environment variable and a TOML key, so adding a field without wiring it fails a test.
pub const SETTING_NAMES: [&str; 17] = [
    "data_dir",
    "kafka_addr",
    "native_addr",
    "http_addr",
    "fsync",
    "fsync_interval_ms",
    "kafka_stream",
    "kafka_advertised_addr",
    "auto_create_topics",
    "num_partitions",
    "group_initial_rebalance_delay_ms",
    "group_min_session_timeout_ms",
    "group_max_session_timeout_ms",
    "native_heartbeat_timeout_ms",
    "root_username",
    "root_password",
    "log_level",
];

/// The environment variable of a setting: `data_dir` → `WHIPPET_DATA_DIR`.
pub fn env_var_name(setting: &str) -> String {
    format!("{ENV_PREFIX}{}", setting.to_ascii_uppercase())
}

/// The flag of a setting: `data_dir` → `--data-dir`.
pub fn flag_name(setting: &str) -> String {
    format!("--{}", setting.replace('_', "-"))
}

impl Layer {
    /// Reads the `WHIPPET_*` variables of `env` into a layer; a value that does not parse is an
    /// error naming the variable. Variables this build does not know are ignored, so a newer
    /// deployment's environment does not stop an older binary.
    pub fn from_env(env: &EnvMap) -> Result<Self, ConfigError> {
        Ok(Self {
            data_dir: env_value(env, "data_dir")?,
            kafka_addr: env_value(env, "kafka_addr")?,
            native_addr: env_value(env, "native_addr")?,
            http_addr: env_value(env, "http_addr")?,
            fsync: env_value(env, "fsync")?,
            fsync_interval_ms: env_value(env, "fsync_interval_ms")?,
            kafka_stream: env_value(env, "kafka_stream")?,
            kafka_advertised_addr: env_value(env, "kafka_advertised_addr")?,
            auto_create_topics: env_value(env, "auto_create_topics")?,
            num_partitions: env_value(env, "num_partitions")?,
            group_initial_rebalance_delay_ms: env_value(env, "group_initial_rebalance_delay_ms")?,
            group_min_session_timeout_ms: env_value(env, "group_min_session_timeout_ms")?,
            group_max_session_timeout_ms: env_value(env, "group_max_session_timeout_ms")?,
            native_heartbeat_timeout_ms: env_value(env, "native_heartbeat_timeout_ms")?,
            root_username: env_value(env, "root_username")?,
            root_password: env_value(env, "root_password")?,
            log_level: env_value(env, "log_level")?,
        })
    }

    /// Reads a TOML file into a layer. The file is size-checked before it is read, and a syntax
    /// error, a wrong type or an unknown key is an error naming the file and line.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = read_bounded(path)?;
        toml::from_str(&text).map_err(|source| ConfigError::ParseFile {
            path: path.to_path_buf(),
            line: source.span().map_or(0, |span| line_of(&text, span.start)),
            message: source.message().to_string(),
        })
    }

    /// This layer with every setting that `top` sets replaced by `top`'s value.
    pub fn overlay(self, top: Layer) -> Layer {
        Layer {
            data_dir: top.data_dir.or(self.data_dir),
            kafka_addr: top.kafka_addr.or(self.kafka_addr),
            native_addr: top.native_addr.or(self.native_addr),
            http_addr: top.http_addr.or(self.http_addr),
            fsync: top.fsync.or(self.fsync),
            fsync_interval_ms: top.fsync_interval_ms.or(self.fsync_interval_ms),
            kafka_stream: top.kafka_stream.or(self.kafka_stream),
            kafka_advertised_addr: top.kafka_advertised_addr.or(self.kafka_advertised_addr),
            auto_create_topics: top.auto_create_topics.or(self.auto_create_topics),
            num_partitions: top.num_partitions.or(self.num_partitions),
            group_initial_rebalance_delay_ms: top
                .group_initial_rebalance_delay_ms
                .or(self.group_initial_rebalance_delay_ms),
            group_min_session_timeout_ms: top
                .group_min_session_timeout_ms
                .or(self.group_min_session_timeout_ms),
            group_max_session_timeout_ms: top
                .group_max_session_timeout_ms
                .or(self.group_max_session_timeout_ms),
            native_heartbeat_timeout_ms: top
                .native_heartbeat_timeout_ms
                .or(self.native_heartbeat_timeout_ms),
            root_username: top.root_username.or(self.root_username),
            root_password: top.root_password.or(self.root_password),
            log_level: top.log_level.or(self.log_level),
        }
    }
}

fn env_value<T>(env: &EnvMap, setting: &'static str) -> Result<Option<T>, ConfigError>
where
    T: FromStr,
    T::Err: fmt::Display,
{
    let var = env_var_name(setting);
    let Some(value) = env.get(&var) else {
        return Ok(None);
    };
    value
        .parse()
        .map(Some)
        .map_err(|error: T::Err| ConfigError::Env {
            var,
            value: value.clone(),
            reason: error.to_string(),
        })
}

fn read_bounded(path: &Path) -> Result<String, ConfigError> {
    let read_error = |source| ConfigError::ReadFile {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(read_error)?;
    let mut text = String::new();
    // Read one byte past the cap so an oversized file is detected without reading it whole.
    let read = file
        .take(limits::CONFIG_FILE_BYTES_MAX + 1)
        .read_to_string(&mut text)
        .map_err(read_error)?;
    if read as u64 > limits::CONFIG_FILE_BYTES_MAX {
        return Err(ConfigError::FileTooLarge {
            path: path.to_path_buf(),
            max: limits::CONFIG_FILE_BYTES_MAX,
        });
    }
    Ok(text)
}

fn line_of(text: &str, byte: usize) -> usize {
    let end = byte.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
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
    /// Root user of the native protocol.
    pub root: Credentials,
    /// Tracing filter directive, already checked to parse.
    pub log_level: String,
}

impl Settings {
    /// Loads settings from command-line `args` (including the program name) and `env`, applying
    /// precedence flags > env > file > defaults, then validates them. `--help` and `--version`
    /// come back as [`ConfigError::Cli`], which the caller prints and exits with.
    pub fn load<I, T>(args: I, env: &EnvMap) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        let cli = Cli::try_parse_from(args).map_err(|error| ConfigError::Cli(Box::new(error)))?;
        let config_path = match cli.config {
            Some(path) => Some(path),
            None => env.get(ENV_CONFIG).map(PathBuf::from),
        };
        let file = match config_path {
            Some(path) => Layer::from_file(&path)?,
            None => Layer::default(),
        };
        let merged = file.overlay(Layer::from_env(env)?).overlay(cli.layer);
        Self::resolve(merged, env.get("RUST_LOG").map(String::as_str))
    }

    /// Fills what `layer` leaves unset with the embedded defaults and validates the result.
    /// `rust_log` is the `RUST_LOG` fallback for the tracing filter.
    pub fn resolve(layer: Layer, rust_log: Option<&str>) -> Result<Self, ConfigError> {
        let groups = group_config(&layer);
        let settings = Self {
            data_dir: layer.data_dir.unwrap_or_else(|| PathBuf::from("data")),
            kafka_addr: layer
                .kafka_addr
                .unwrap_or(SocketAddr::from(([127, 0, 0, 1], 9092))),
            native_addr: layer
                .native_addr
                .unwrap_or(SocketAddr::from(([127, 0, 0, 1], 8090))),
            http_addr: layer
                .http_addr
                .unwrap_or(SocketAddr::from(([127, 0, 0, 1], 3000))),
            fsync: layer.fsync.unwrap_or(FsyncPolicy::Interval),
            fsync_interval_ms: layer.fsync_interval_ms.unwrap_or(1000),
            kafka_stream: layer.kafka_stream.unwrap_or_else(|| "kafka".to_string()),
            kafka_advertised_addr: layer.kafka_advertised_addr,
            auto_create_topics: layer.auto_create_topics.unwrap_or(true),
            num_partitions: layer.num_partitions.unwrap_or(1),
            groups,
            native_heartbeat_timeout_ms: layer
                .native_heartbeat_timeout_ms
                .unwrap_or(limits::NATIVE_HEARTBEAT_TIMEOUT_MS),
            root: Credentials {
                username: layer.root_username.unwrap_or_else(|| "iggy".to_string()),
                password: layer.root_password.unwrap_or_else(|| "iggy".to_string()),
            },
            log_level: layer
                .log_level
                .or_else(|| rust_log.map(str::to_string))
                .unwrap_or_else(|| LOG_LEVEL_DEFAULT.to_string()),
        };
        settings.validate()?;
        Ok(settings)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if self.data_dir.as_os_str().is_empty() {
            return Err(invalid("data_dir", "", "must not be empty".to_string()));
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
        Ok(())
    }

    /// The storage engine's configuration for these settings.
    pub fn log_config(&self) -> LogConfig {
        let mut config = LogConfig::new(self.data_dir.clone());
        config.fsync = self.fsync;
        config.fsync_interval = Duration::from_millis(self.fsync_interval_ms);
        config
    }
}

/// The coordinator's settings from a merged layer, Kafka's defaults where unset.
fn group_config(layer: &Layer) -> whippet_coordinator::GroupConfig {
    let defaults = whippet_coordinator::GroupConfig::default();
    let ms = |v: Option<u64>, default: Duration| v.map_or(default, Duration::from_millis);
    whippet_coordinator::GroupConfig {
        min_session_timeout: ms(
            layer.group_min_session_timeout_ms,
            defaults.min_session_timeout,
        ),
        max_session_timeout: ms(
            layer.group_max_session_timeout_ms,
            defaults.max_session_timeout,
        ),
        initial_rebalance_delay: ms(
            layer.group_initial_rebalance_delay_ms,
            defaults.initial_rebalance_delay,
        ),
    }
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
