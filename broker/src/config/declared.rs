//! The one declaration of every setting: [`RawSettings`]. Each field is a setting; its clap
//! attributes give the flag, the environment variable and the default, its serde name is the
//! TOML key, and its doc comment is the `--help` text. Nothing else in the crate lists the
//! settings: the layers in `load.rs` walk clap's description of this struct.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgAction, Args, Command, FromArgMatches, Parser};
use serde::Deserialize;
use whippet_log::FsyncPolicy;

use super::ENV_CONFIG;
use super::SecurityProtocol;
use crate::limits;

/// Command line of the `whippet` binary: `--config` plus every setting of [`RawSettings`].
/// Only [`Self::command`] is used (through `clap::CommandFactory`); the values are read from
/// the matches by `load.rs`, so a flag absent from the command line leaves the lower layers'
/// value in place.
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
                  addresses; all logs go to stderr.\n\n\
                  Operator commands (clients of a running broker's HTTP API): whippet topic | \
                  group | user | token | produce | consume | cluster | completions; see \
                  `whippet topic --help`."
)]
pub struct Cli {
    /// TOML file of settings, overridden by environment and flags
    #[arg(long, env = ENV_CONFIG, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Every setting, as flags.
    #[command(flatten)]
    pub settings: RawSettings,
}

/// Every setting of the broker as the operator gives it, before validation. A setting is one
/// field here: `#[arg(long, env = "WHIPPET_<NAME>", default_value…)]` for the flag, the
/// environment variable and the default; the field name is the TOML key. The flag must be the
/// field name in kebab-case and the variable the field name upper-cased after `WHIPPET_` (a
/// test checks both). A setting without a default is an `Option`.
///
/// A group of new settings (TLS, S3, telemetry) can be a struct of its own deriving the same
/// traits (with `#[serde(default, deny_unknown_fields)]` and a `Default` built like the one
/// below), included here as `#[command(flatten)] pub tls: TlsSettings` and handed to
/// [`super::Settings`] whole, so its users read the declared fields. Its TOML keys then sit
/// in a `[tls]` table, and its fields need `id = "tls_<name>"` so that the flag and the
/// variable carry the prefix. No setting uses this yet.
#[derive(Debug, Clone, PartialEq, Args, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawSettings {
    /// Directory holding all stored data
    #[arg(
        long,
        env = "WHIPPET_DATA_DIR",
        value_name = "DIR",
        default_value = "data"
    )]
    pub data_dir: PathBuf,
    /// Kafka listener address; port 0 picks a free port
    #[arg(
        long,
        env = "WHIPPET_KAFKA_ADDR",
        value_name = "IP:PORT",
        default_value = "127.0.0.1:9092"
    )]
    pub kafka_addr: SocketAddr,
    /// Iggy native (TCP) listener address; port 0 picks a free port
    #[arg(
        long,
        env = "WHIPPET_NATIVE_ADDR",
        value_name = "IP:PORT",
        default_value = "127.0.0.1:8090"
    )]
    pub native_addr: SocketAddr,
    /// HTTP listener address (Iggy HTTP API, web console, /health, /metrics); port 0 picks a
    /// free port
    #[arg(
        long,
        env = "WHIPPET_HTTP_ADDR",
        value_name = "IP:PORT",
        default_value = "127.0.0.1:3000"
    )]
    pub http_addr: SocketAddr,
    /// When appends reach disk: always | interval | never
    #[arg(long, env = "WHIPPET_FSYNC", value_name = "POLICY", default_value_t = FsyncPolicy::Interval)]
    pub fsync: FsyncPolicy,
    /// Period of the background fsync with --fsync interval, in ms
    #[arg(
        long,
        env = "WHIPPET_FSYNC_INTERVAL_MS",
        value_name = "MS",
        default_value_t = 1000
    )]
    pub fsync_interval_ms: u64,
    /// Stream that holds the topics Kafka clients see
    #[arg(
        long,
        env = "WHIPPET_KAFKA_STREAM",
        value_name = "NAME",
        default_value = "kafka"
    )]
    pub kafka_stream: String,
    /// Host:port Kafka clients are told to connect to (Metadata); unset = the bound address, with 0.0.0.0/:: shown as 127.0.0.1/::1
    #[arg(long, env = "WHIPPET_KAFKA_ADVERTISED_ADDR", value_name = "HOST:PORT")]
    pub kafka_advertised_addr: Option<String>,
    /// Create a Kafka topic when a client asks Metadata for an unknown one
    #[arg(
        long,
        env = "WHIPPET_AUTO_CREATE_TOPICS",
        value_name = "BOOL",
        action = ArgAction::Set,
        default_value_t = true
    )]
    pub auto_create_topics: bool,
    /// Partitions of a Kafka topic created without a count (auto-create, CreateTopics with -1)
    #[arg(
        long,
        env = "WHIPPET_NUM_PARTITIONS",
        value_name = "N",
        default_value_t = 1
    )]
    pub num_partitions: u32,
    /// How long the first rebalance of a new or empty consumer group waits for more members, in ms; 0 disables it
    #[arg(
        long,
        env = "WHIPPET_GROUP_INITIAL_REBALANCE_DELAY_MS",
        value_name = "MS",
        default_value_t = kafka_group_default_ms(|g| g.initial_rebalance_delay)
    )]
    pub group_initial_rebalance_delay_ms: u64,
    /// Smallest session timeout a consumer-group member may ask for, in ms
    #[arg(
        long,
        env = "WHIPPET_GROUP_MIN_SESSION_TIMEOUT_MS",
        value_name = "MS",
        default_value_t = kafka_group_default_ms(|g| g.min_session_timeout)
    )]
    pub group_min_session_timeout_ms: u64,
    /// Largest session timeout a consumer-group member may ask for, in ms
    #[arg(
        long,
        env = "WHIPPET_GROUP_MAX_SESSION_TIMEOUT_MS",
        value_name = "MS",
        default_value_t = kafka_group_default_ms(|g| g.max_session_timeout)
    )]
    pub group_max_session_timeout_ms: u64,
    /// Consumer groups of the KIP-848 protocol (`group.protocol=consumer`): a member that sends no heartbeat for this long is removed and its partitions reassigned, in ms
    #[arg(
        long,
        env = "WHIPPET_GROUP_CONSUMER_SESSION_TIMEOUT_MS",
        value_name = "MS",
        default_value_t = kafka_group_default_ms(|g| g.consumer_session_timeout)
    )]
    pub group_consumer_session_timeout_ms: u64,
    /// Consumer groups of the KIP-848 protocol: the heartbeat interval members are told to use, in ms
    #[arg(
        long,
        env = "WHIPPET_GROUP_CONSUMER_HEARTBEAT_INTERVAL_MS",
        value_name = "MS",
        default_value_t = kafka_group_default_ms(|g| g.consumer_heartbeat_interval)
    )]
    pub group_consumer_heartbeat_interval_ms: u64,
    /// A native connection in a consumer group that sends nothing for this long is evicted from its groups, in ms
    #[arg(
        long,
        env = "WHIPPET_NATIVE_HEARTBEAT_TIMEOUT_MS",
        value_name = "MS",
        default_value_t = limits::NATIVE_HEARTBEAT_TIMEOUT_MS
    )]
    pub native_heartbeat_timeout_ms: u64,
    /// Most connections open at once on each listener (Kafka, native and HTTP each have this many); at the cap a listener stops accepting until one closes
    #[arg(
        long,
        env = "WHIPPET_CONNECTIONS_PER_LISTENER_MAX",
        value_name = "N",
        default_value_t = limits::CONNECTIONS_PER_LISTENER_MAX_DEFAULT
    )]
    pub connections_per_listener_max: usize,
    /// Most connections one client IP address may hold open at once on each listener; a connection over it is closed at once
    #[arg(
        long,
        env = "WHIPPET_CONNECTIONS_PER_ADDRESS_MAX",
        value_name = "N",
        default_value_t = limits::CONNECTIONS_PER_ADDRESS_MAX_DEFAULT
    )]
    pub connections_per_address_max: usize,
    /// A new connection that has not sent a whole first Kafka request, or logged in on the native port, within this many ms is closed
    #[arg(
        long,
        env = "WHIPPET_CONNECTION_SETUP_TIMEOUT_MS",
        value_name = "MS",
        default_value_t = limits::CONNECTION_SETUP_TIMEOUT_MS_DEFAULT
    )]
    pub connection_setup_timeout_ms: u64,
    /// An established connection that sends no request for this many ms is closed (Kafka's connections.max.idle.ms); 0 never closes it
    #[arg(
        long,
        env = "WHIPPET_CONNECTION_IDLE_TIMEOUT_MS",
        value_name = "MS",
        default_value_t = limits::CONNECTION_IDLE_TIMEOUT_MS_DEFAULT
    )]
    pub connection_idle_timeout_ms: u64,
    /// Once the first byte of a request has arrived, the whole request must arrive within this many ms, or the connection is closed
    #[arg(
        long,
        env = "WHIPPET_FRAME_READ_TIMEOUT_MS",
        value_name = "MS",
        default_value_t = limits::FRAME_READ_TIMEOUT_MS_DEFAULT
    )]
    pub frame_read_timeout_ms: u64,
    /// Most bytes of large requests (over 64 KiB) read or being served at once over all connections (Kafka's queued.max.request.bytes); a connection waits for room before reading one
    #[arg(
        long,
        env = "WHIPPET_REQUEST_BYTES_IN_FLIGHT_MAX",
        value_name = "BYTES",
        default_value_t = limits::REQUEST_BYTES_IN_FLIGHT_MAX_DEFAULT
    )]
    pub request_bytes_in_flight_max: u64,
    /// Most partitions with their own series in GET /metrics, per protocol; the traffic of partitions past it is counted per topic (partition="all")
    #[arg(
        long,
        env = "WHIPPET_METRICS_PARTITION_SERIES_MAX",
        value_name = "N",
        default_value_t = crate::metrics::PARTITION_SERIES_MAX_DEFAULT
    )]
    pub metrics_partition_series_max: usize,
    /// OTLP endpoint traces and logs are exported to (e.g. http://collector:4318); unset = no export. OTEL_EXPORTER_OTLP_ENDPOINT is read too
    #[arg(long, env = "WHIPPET_OTEL_EXPORTER_OTLP_ENDPOINT", value_name = "URL")]
    pub otel_exporter_otlp_endpoint: Option<String>,
    /// OTLP transport: grpc | http/protobuf. OTEL_EXPORTER_OTLP_PROTOCOL is read too
    #[arg(
        long,
        env = "WHIPPET_OTEL_EXPORTER_OTLP_PROTOCOL",
        value_name = "PROTOCOL",
        default_value = "http/protobuf"
    )]
    pub otel_exporter_otlp_protocol: String,
    /// service.name of the exported traces and logs. OTEL_SERVICE_NAME is read too
    #[arg(
        long,
        env = "WHIPPET_OTEL_SERVICE_NAME",
        value_name = "NAME",
        default_value = "whippet"
    )]
    pub otel_service_name: String,
    /// Root user name of the native protocol
    #[arg(
        long,
        env = "WHIPPET_ROOT_USERNAME",
        value_name = "NAME",
        default_value = "iggy"
    )]
    pub root_username: String,
    /// Root password; prefer the environment or the file, flags show in `ps`
    #[arg(
        long,
        env = "WHIPPET_ROOT_PASSWORD",
        value_name = "PASSWORD",
        default_value = "iggy"
    )]
    pub root_password: Secret,
    /// Certificate chain (PEM) the TLS listeners present
    #[arg(long, env = "WHIPPET_TLS_CERT", value_name = "FILE")]
    pub tls_cert: Option<PathBuf>,
    /// Private key (PEM: PKCS#8, PKCS#1 or SEC1) of --tls-cert
    #[arg(long, env = "WHIPPET_TLS_KEY", value_name = "FILE")]
    pub tls_key: Option<PathBuf>,
    /// CA certificates (PEM); when set, TLS clients must present a certificate signed by one (mTLS)
    #[arg(long, env = "WHIPPET_TLS_CLIENT_CA", value_name = "FILE")]
    pub tls_client_ca: Option<PathBuf>,
    /// Security of the Kafka listener: PLAINTEXT | SSL | SASL_PLAINTEXT | SASL_SSL
    #[arg(
        long,
        env = "WHIPPET_KAFKA_SECURITY_PROTOCOL",
        value_name = "PROTOCOL",
        default_value_t = SecurityProtocol::Plaintext
    )]
    pub kafka_security_protocol: SecurityProtocol,
    /// Serve the native (TCP) listener over TLS
    #[arg(
        long,
        env = "WHIPPET_NATIVE_TLS",
        value_name = "BOOL",
        action = ArgAction::Set,
        default_value_t = false
    )]
    pub native_tls: bool,
    /// Serve the HTTP listener over TLS (HTTPS)
    #[arg(
        long,
        env = "WHIPPET_HTTP_TLS",
        value_name = "BOOL",
        action = ArgAction::Set,
        default_value_t = false
    )]
    pub http_tls: bool,
    /// Require authentication on every protocol and authorize every request (Kafka then needs SASL_PLAINTEXT or SASL_SSL)
    #[arg(
        long,
        env = "WHIPPET_AUTH",
        value_name = "BOOL",
        action = ArgAction::Set,
        default_value_t = false
    )]
    pub auth: bool,
    /// Failed logins: each client address may fail 10 at once and each username 30 (over all addresses), then one more per this many ms
    #[arg(
        long,
        env = "WHIPPET_LOGIN_FAILURE_REFILL_MS",
        value_name = "MS",
        default_value_t = crate::core::users::throttle::LOGIN_FAILURE_REFILL_MS
    )]
    pub login_failure_refill_ms: u64,
    /// S3 bucket for tiered storage of topics with remote.storage.enable; unset = no remote tier. Credentials come from the standard AWS environment/profile chain
    #[arg(long, env = "WHIPPET_S3_BUCKET", value_name = "BUCKET")]
    pub s3_bucket: Option<String>,
    /// S3-compatible endpoint URL (addressed path-style); unset = AWS
    #[arg(long, env = "WHIPPET_S3_ENDPOINT", value_name = "URL")]
    pub s3_endpoint: Option<String>,
    /// S3 region; unset = from the AWS environment/profile chain
    #[arg(long, env = "WHIPPET_S3_REGION", value_name = "REGION")]
    pub s3_region: Option<String>,
    /// Key prefix of every object the broker writes to the bucket
    #[arg(
        long,
        env = "WHIPPET_S3_PREFIX",
        value_name = "PREFIX",
        default_value = "whippet"
    )]
    pub s3_prefix: String,
    /// Bytes of remote segments kept in memory for reads below the local log
    #[arg(
        long,
        env = "WHIPPET_S3_CACHE_BYTES",
        value_name = "BYTES",
        default_value_t = 256 * 1024 * 1024
    )]
    pub s3_cache_bytes: u64,
    /// Period of the remote tier's upload pass, in ms
    #[arg(
        long,
        env = "WHIPPET_S3_UPLOAD_INTERVAL_MS",
        value_name = "MS",
        default_value_t = 1000
    )]
    pub s3_upload_interval_ms: u64,
    /// Local retention (ms) of remote-storage topics whose local.retention.ms is -2 (Kafka's log.local.retention.ms); -2 = as the topic's retention.ms, -1 = no age limit
    #[arg(
        long,
        env = "WHIPPET_LOCAL_RETENTION_MS",
        value_name = "MS",
        default_value_t = -2,
        allow_hyphen_values = true
    )]
    pub local_retention_ms: i64,
    /// Local retention (bytes) of remote-storage topics whose local.retention.bytes is -2 (Kafka's log.local.retention.bytes); -2 = as the topic's retention.bytes, -1 = no size limit
    #[arg(
        long,
        env = "WHIPPET_LOCAL_RETENTION_BYTES",
        value_name = "BYTES",
        default_value_t = -2,
        allow_hyphen_values = true
    )]
    pub local_retention_bytes: i64,
    /// How often the log cleaner compacts topics with cleanup.policy=compact (Kafka's log.cleaner.backoff.ms)
    #[arg(
        long,
        env = "WHIPPET_LOG_CLEANER_BACKOFF_MS",
        value_name = "MS",
        default_value_t = 15_000
    )]
    pub log_cleaner_backoff_ms: u64,
    /// Tracing filter, e.g. `info` or `whippet_log=debug` [default: $RUST_LOG, else info]
    #[arg(long, env = "WHIPPET_LOG_LEVEL", value_name = "FILTER")]
    pub log_level: Option<String>,
}

/// The embedded defaults: what clap fills in when no layer names a setting. Serde starts
/// from this value too, so a key missing from the file keeps its default.
impl Default for RawSettings {
    fn default() -> Self {
        // No environment here: that layer is applied from the caller's map, not the process.
        let mut command = super::load::without_env(Self::augment_args(Command::new("whippet")));
        let defaults = command
            .try_get_matches_from_mut(["whippet"])
            .and_then(|matches| Self::from_arg_matches(&matches));
        // Only a default literal in the declaration above can fail here; every test that
        // loads settings would fail with it, so this never reaches a running broker.
        defaults.expect("every embedded default parses as its setting's type")
    }
}

/// Kafka's default for one consumer-group timing, in ms, taken from the coordinator so the
/// two crates cannot drift apart.
fn kafka_group_default_ms(pick: fn(&whippet_coordinator::GroupConfig) -> Duration) -> u64 {
    let millis = pick(&whippet_coordinator::GroupConfig::default()).as_millis();
    u64::try_from(millis).unwrap_or(u64::MAX)
}

/// The snake_case names of every setting (flag ids and TOML keys), in help order.
pub fn setting_names() -> Vec<String> {
    RawSettings::augment_args(Command::new("whippet"))
        .get_arguments()
        .map(|arg| arg.get_id().to_string())
        .collect()
}

/// A string that never shows in `Debug` output (the root password), so settings can be
/// logged whole.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// The secret itself, for the one place that compares it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Takes the secret out.
    pub fn into_inner(self) -> String {
        self.0
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}
