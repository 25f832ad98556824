//! Command-line shape of `whippet-bench`. Every knob is here with its default and its bound, and
//! every struct serializes, so the JSON report can carry the exact configuration that produced
//! its figures.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use serde::Serialize;

use crate::limits;

/// Top level: output options shared by every command, then the command.
#[derive(Debug, Clone, Parser, Serialize)]
#[command(
    name = "whippet-bench",
    version,
    about = "Kafka and Iggy-native load generator"
)]
pub struct Cli {
    /// Write every figure and the full configuration as JSON to this file.
    #[arg(long, global = true, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Draw throughput over time and the latency distribution as SVG to this file.
    #[arg(long, global = true, value_name = "FILE.svg")]
    pub chart: Option<PathBuf>,
    /// No live progress line on stderr.
    #[arg(long, short, global = true)]
    pub quiet: bool,
    /// What to run.
    #[command(subcommand)]
    pub command: Command,
}

/// A workload against one target, or a comparison of several targets.
#[derive(Debug, Clone, Subcommand, Serialize)]
pub enum Command {
    /// Kafka wire protocol, over rdkafka (librdkafka).
    Kafka(KafkaCommand),
    /// Apache Iggy native protocol, over the iggy 0.11 SDK (or iggy 0.10 with `--protocol classic`).
    Native(NativeCommand),
    /// Run one workload against several targets in turn and compare medians.
    Compare(CompareArgs),
}

/// The workload `compare` runs: the same subcommands as at top level.
#[derive(Debug, Clone, Subcommand, Serialize)]
pub enum Workload {
    /// Kafka wire protocol, over rdkafka.
    Kafka(KafkaCommand),
    /// Iggy native protocol, over the iggy SDK.
    Native(NativeCommand),
}

/// `compare`: the targets, the number of rounds, and the workload.
#[derive(Debug, Clone, Args, Serialize)]
pub struct CompareArgs {
    /// A target as `NAME=HOST:PORT[,start=CMD][,stop=CMD][,protocol=classic|current]`; repeat for
    /// each. The first is the baseline every ratio is relative to. `protocol=` overrides the
    /// native workload's `--protocol` for this target.
    #[arg(long = "target", required = true, value_parser = parse_target)]
    pub targets: Vec<Target>,
    /// Rounds; each runs the workload once against every target, in order.
    #[arg(long, default_value_t = limits::ROUNDS_MIN,
          value_parser = clap::value_parser!(u32).range(i64::from(limits::ROUNDS_MIN)..=i64::from(limits::ROUNDS_MAX)))]
    pub rounds: u32,
    /// The workload; its `--brokers`/`--server` is replaced by each target's address.
    #[command(subcommand)]
    pub workload: Workload,
}

/// One named broker for `compare`, with the optional shell commands that start and stop it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Target {
    /// Label in the tables and JSON.
    pub name: String,
    /// `HOST:PORT` the workload connects to.
    pub address: String,
    /// Shell command that starts the broker (run with `sh -c`, left running during the workload).
    pub start: Option<String>,
    /// Shell command that stops the broker; without it the started process is killed.
    pub stop: Option<String>,
    /// Native protocol for this target, overriding the workload's `--protocol`.
    pub protocol: Option<Protocol>,
}

/// Kafka mode and its knobs.
#[derive(Debug, Clone, Args, Serialize)]
pub struct KafkaCommand {
    /// What to measure.
    #[arg(value_enum)]
    pub mode: KafkaMode,
    /// Bootstrap broker(s), `HOST:PORT[,HOST:PORT...]`.
    #[arg(long, default_value = "127.0.0.1:9092")]
    pub brokers: String,
    /// Producer threads (each its own rdkafka producer).
    #[arg(long, default_value_t = 1, value_parser = parse_workers)]
    pub producers: usize,
    /// Consumer threads (each its own rdkafka consumer).
    #[arg(long, default_value_t = 1, value_parser = parse_workers)]
    pub consumers: usize,
    /// Topics to spread records over.
    #[arg(long, default_value_t = 1, value_parser = parse_topics)]
    pub topics: usize,
    /// Partitions per topic (when the bench creates the topics).
    #[arg(long, default_value_t = 1, value_parser = parse_partitions)]
    pub partitions: u32,
    /// Topic names are `PREFIX-0`, `PREFIX-1`, ...; given, topics are reused and kept; absent, a
    /// unique prefix is made and the topics are deleted at the end.
    #[arg(long)]
    pub topic_prefix: Option<String>,
    /// Producer `batch.size` in bytes.
    #[arg(long, default_value_t = 1_000_000)]
    pub batch_size: u32,
    /// Producer `linger.ms`.
    #[arg(long, default_value_t = 5)]
    pub linger_ms: u32,
    /// Most records each producer has sent but not yet seen acknowledged; it waits for an
    /// acknowledgement before sending more (1 = one record at a time, as a synchronous
    /// client). Absent: as many as librdkafka queues.
    #[arg(long)]
    pub in_flight: Option<u64>,
    /// Producer `compression.type`.
    #[arg(long, value_enum, default_value_t = Compression::None)]
    pub compression: Compression,
    /// Producer `acks` (`0`, `1`, `all` or `-1`).
    #[arg(long, value_enum, default_value_t = Acks::One, allow_hyphen_values = true)]
    pub acks: Acks,
    /// Consume as members of this consumer group (subscribe); absent, partitions are assigned
    /// round-robin to the consumers by hand.
    #[arg(long)]
    pub group: Option<String>,
    /// `consume`: read existing topics instead of producing the records first.
    #[arg(long)]
    pub no_preload: bool,
    /// Extra librdkafka property `KEY=VALUE` for every client (repeatable), e.g.
    /// `security.protocol=SSL`, `ssl.ca.location=ca.pem`, `sasl.mechanism=SCRAM-SHA-512`.
    #[arg(long = "config", value_name = "KEY=VALUE", value_parser = parse_property)]
    pub config: Vec<(String, String)>,
    /// Run length, record size and rate.
    #[command(flatten)]
    pub run: RunArgs,
}

impl KafkaCommand {
    /// A client configuration with the bootstrap servers and every `--config` property.
    pub fn client_config(&self) -> rdkafka::ClientConfig {
        let mut config = rdkafka::ClientConfig::new();
        config.set("bootstrap.servers", &self.brokers);
        for (key, value) in &self.config {
            config.set(key, value);
        }
        config
    }
}

fn parse_property(text: &str) -> Result<(String, String), String> {
    let (key, value) = text
        .split_once('=')
        .ok_or_else(|| format!("{text:?} is not KEY=VALUE"))?;
    Ok((key.to_string(), value.to_string()))
}

/// Native mode and its knobs.
#[derive(Debug, Clone, Args, Serialize)]
pub struct NativeCommand {
    /// What to measure.
    #[arg(value_enum)]
    pub mode: NativeMode,
    /// The server's TCP address.
    #[arg(long, default_value = "127.0.0.1:8090")]
    pub server: String,
    /// Which generation of the Iggy protocol (and so which SDK) the clients speak.
    #[arg(long, value_enum, default_value_t = Protocol::Current)]
    pub protocol: Protocol,
    /// User to log in as.
    #[arg(long, default_value = "iggy")]
    pub username: String,
    /// Password of that user.
    #[arg(long, default_value = "iggy")]
    pub password: String,
    /// Producer tasks (each its own connection).
    #[arg(long, default_value_t = 1, value_parser = parse_workers)]
    pub producers: usize,
    /// Consumer tasks (each its own connection).
    #[arg(long, default_value_t = 1, value_parser = parse_workers)]
    pub consumers: usize,
    /// Streams to spread messages over.
    #[arg(long, default_value_t = 1, value_parser = parse_topics)]
    pub streams: usize,
    /// Topics per stream.
    #[arg(long, default_value_t = 1, value_parser = parse_topics)]
    pub topics: usize,
    /// Partitions per topic.
    #[arg(long, default_value_t = 1, value_parser = parse_partitions)]
    pub partitions: u32,
    /// Messages per send (and most messages per poll).
    #[arg(long, default_value_t = 1000,
          value_parser = clap::value_parser!(u32).range(1..=i64::from(limits::NATIVE_BATCH_MAX)))]
    pub messages_per_batch: u32,
    /// How consumers ask for the next messages.
    #[arg(long, value_enum, default_value_t = Polling::Offset)]
    pub polling: Polling,
    /// Set `TCP_NODELAY` on the SDK's connections. The SDK's default is off, which lets Nagle's
    /// algorithm and delayed ACKs add tens of milliseconds to every request/response exchange.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub nodelay: bool,
    /// Poll as members of this consumer group (server assigns partitions; implies `next`).
    #[arg(long)]
    pub group: Option<String>,
    /// Stream names are `PREFIX-0`, ...; given, streams are reused and kept; absent, a unique
    /// prefix is made and the streams are deleted at the end.
    #[arg(long)]
    pub stream_prefix: Option<String>,
    /// `poll`: read existing streams instead of sending the messages first.
    #[arg(long)]
    pub no_preload: bool,
    /// Connect over TLS, trusting the CA certificate in this PEM file (protocol 0.11 only).
    #[arg(long, value_name = "FILE")]
    pub tls_ca: Option<String>,
    /// The server name the TLS certificate must carry (with `--tls-ca`).
    #[arg(long, default_value = "localhost")]
    pub tls_domain: String,
    /// Run length, record size and rate.
    #[command(flatten)]
    pub run: RunArgs,
}

/// Knobs every workload shares: how long, how big, how fast.
#[derive(Debug, Clone, Args, Serialize)]
pub struct RunArgs {
    /// Total records to produce/consume (split across workers). Default 100000 unless
    /// `--duration` is given.
    #[arg(long)]
    pub records: Option<u64>,
    /// Run for this long (`30`, `30s`, `500ms`, `2m`); with `--records`, whichever ends first.
    #[arg(long, value_parser = parse_duration)]
    #[serde(serialize_with = "serialize_duration")]
    pub duration: Option<Duration>,
    /// Record (message payload) size in bytes.
    #[arg(long, default_value_t = 1024, value_parser = parse_record_size)]
    pub record_size: usize,
    /// Fixed total send rate in records/s; latency is then measured from each record's intended
    /// send time (coordinated-omission aware).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub rate: Option<u64>,
}

/// The three Kafka measurements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum KafkaMode {
    /// Producer throughput and delivery latency.
    Produce,
    /// Consumer throughput from the beginning of the topics.
    Consume,
    /// Produce-to-consume latency from timestamps in the records.
    E2e,
}

/// The three native measurements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NativeMode {
    /// Send throughput and per-batch acknowledgement latency.
    Send,
    /// Poll throughput and per-poll latency from the first offset.
    Poll,
    /// Send-to-poll latency from timestamps in the messages.
    E2e,
}

/// Kafka producer compression codecs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    /// No compression.
    None,
    /// gzip.
    Gzip,
    /// Snappy.
    Snappy,
    /// LZ4.
    Lz4,
    /// Zstandard.
    Zstd,
}

impl Compression {
    /// The `compression.type` value librdkafka expects.
    pub fn as_config(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Gzip => "gzip",
            Self::Snappy => "snappy",
            Self::Lz4 => "lz4",
            Self::Zstd => "zstd",
        }
    }
}

/// Kafka producer acknowledgement levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
pub enum Acks {
    /// No acknowledgement (`acks=0`).
    #[value(name = "0")]
    #[serde(rename = "0")]
    Zero,
    /// Leader acknowledgement (`acks=1`).
    #[value(name = "1")]
    #[serde(rename = "1")]
    One,
    /// Full ISR acknowledgement (`acks=all`).
    #[value(name = "all", alias = "-1")]
    #[serde(rename = "all")]
    All,
}

impl Acks {
    /// The `acks` value librdkafka expects.
    pub fn as_config(self) -> &'static str {
        match self {
            Self::Zero => "0",
            Self::One => "1",
            Self::All => "all",
        }
    }
}

/// The two generations of the Iggy TCP protocol, each spoken through its own official SDK.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// Classic framing (`[length][code][payload]`) over the iggy 0.10.0 SDK: what Apache Iggy
    /// server 0.8 and the SDKs up to 0.10 speak.
    Classic,
    /// Protocol 0.11 (256-byte headers, sessions) over the iggy 0.11.0 SDK.
    Current,
}

impl Protocol {
    /// Its name on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Self::Classic => "classic",
            Self::Current => "current",
        }
    }

    /// The client that speaks it, for reports.
    pub fn client(self) -> &'static str {
        match self {
            Self::Classic => "iggy 0.10.0 SDK, classic framing",
            Self::Current => "iggy 0.11.0 SDK, protocol 0.11",
        }
    }
}

/// What a run's figures came through: the protocol and the client library, as reports show them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ClientLabel {
    /// `kafka`, or the native protocol: `current` or `classic`.
    pub protocol: &'static str,
    /// The client library and what it speaks.
    pub client: &'static str,
}

impl ClientLabel {
    /// The Kafka client.
    pub const KAFKA: Self = Self {
        protocol: "kafka",
        client: "rdkafka 0.39, librdkafka 2.12.1",
    };

    /// The native client of `protocol`.
    pub fn native(protocol: Protocol) -> Self {
        Self {
            protocol: protocol.name(),
            client: protocol.client(),
        }
    }
}

impl Workload {
    /// Protocol and client this workload runs over.
    pub fn client_label(&self) -> ClientLabel {
        match self {
            Self::Kafka(_) => ClientLabel::KAFKA,
            Self::Native(cmd) => ClientLabel::native(cmd.protocol),
        }
    }
}

/// Native polling strategies the bench can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Polling {
    /// Explicit offsets tracked by the consumer (no server-side offset commits).
    Offset,
    /// `next` with auto-commit: the server tracks the consumer's offset.
    Next,
}

impl RunArgs {
    /// The record budget: `--records`, else the default when no duration bounds the run.
    pub fn record_budget(&self) -> Option<u64> {
        match (self.records, self.duration) {
            (Some(records), _) => Some(records),
            (None, None) => Some(limits::DEFAULT_RECORDS),
            (None, Some(_)) => None,
        }
    }
}

/// Parses `NAME=HOST:PORT[,start=CMD][,stop=CMD][,protocol=P]`. A value runs to the next
/// `,start=`, `,stop=` or `,protocol=` marker, so a command may itself contain commas.
pub fn parse_target(text: &str) -> Result<Target, String> {
    let (name, rest) = text
        .split_once('=')
        .ok_or_else(|| format!("target {text:?} is not NAME=HOST:PORT"))?;
    if name.is_empty() {
        return Err(format!("target {text:?} has an empty name"));
    }
    let mut markers: Vec<(usize, &str)> = [",start=", ",stop=", ",protocol="]
        .iter()
        .filter_map(|marker| rest.find(marker).map(|at| (at, *marker)))
        .collect();
    markers.sort_unstable();
    let address_end = markers.first().map_or(rest.len(), |(at, _)| *at);
    let address = &rest[..address_end];
    if address.is_empty() || !address.contains(':') {
        return Err(format!(
            "target {name:?} needs an address HOST:PORT, got {address:?}"
        ));
    }
    let mut target = Target {
        name: name.to_string(),
        address: address.to_string(),
        start: None,
        stop: None,
        protocol: None,
    };
    for (index, (at, marker)) in markers.iter().enumerate() {
        let end = markers.get(index + 1).map_or(rest.len(), |(next, _)| *next);
        let value = rest[at + marker.len()..end].to_string();
        if value.is_empty() {
            return Err(format!("target {name:?} has an empty {marker:?} value"));
        }
        match *marker {
            ",start=" => target.start = Some(value),
            ",stop=" => target.stop = Some(value),
            _ => {
                let protocol = Protocol::from_str(&value, true).map_err(|_| {
                    format!("target {name:?}: protocol must be classic or current, got {value:?}")
                })?;
                target.protocol = Some(protocol);
            }
        }
    }
    Ok(target)
}

/// Parses `30`, `30s`, `1.5s`, `500ms` or `2m` into a duration within [`limits::DURATION_MAX`].
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let (number, scale) = if let Some(n) = text.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = text.strip_suffix('m') {
        (n, 60.0)
    } else if let Some(n) = text.strip_suffix('h') {
        (n, 3600.0)
    } else {
        (text, 1.0)
    };
    let value: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a duration like 30s, 500ms or 2m"))?;
    let seconds = value * scale;
    if !seconds.is_finite() || seconds <= 0.0 || seconds > limits::DURATION_MAX.as_secs_f64() {
        return Err(format!(
            "duration {text:?} must be positive and at most {:?}",
            limits::DURATION_MAX
        ));
    }
    Ok(Duration::from_secs_f64(seconds))
}

fn parse_bounded(text: &str, what: &str, min: u64, max: u64) -> Result<u64, String> {
    let value: u64 = text
        .parse()
        .map_err(|_| format!("{what} {text:?} is not a whole number"))?;
    if (min..=max).contains(&value) {
        Ok(value)
    } else {
        Err(format!(
            "{what} must be between {min} and {max}, got {value}"
        ))
    }
}

fn parse_workers(text: &str) -> Result<usize, String> {
    let max = limits::WORKERS_MAX as u64;
    parse_bounded(text, "worker count", 1, max).map(|v| v as usize)
}

fn parse_topics(text: &str) -> Result<usize, String> {
    let max = limits::TOPICS_MAX as u64;
    parse_bounded(text, "topic count", 1, max).map(|v| v as usize)
}

fn parse_partitions(text: &str) -> Result<u32, String> {
    let max = u64::from(limits::PARTITIONS_MAX);
    parse_bounded(text, "partition count", 1, max).map(|v| v as u32)
}

fn parse_record_size(text: &str) -> Result<usize, String> {
    let (min, max) = (
        limits::RECORD_SIZE_MIN as u64,
        limits::RECORD_SIZE_MAX as u64,
    );
    parse_bounded(text, "record size", min, max).map(|v| v as usize)
}

fn serialize_duration<S: serde::Serializer>(
    value: &Option<Duration>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match value {
        Some(duration) => serializer.serialize_some(&duration.as_secs_f64()),
        None => serializer.serialize_none(),
    }
}
