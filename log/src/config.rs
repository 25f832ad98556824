//! Settings of the storage engine and of each topic. Units are in the field names.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::limits;

/// When appended bytes are made durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FsyncPolicy {
    /// Every append is synced (`fdatasync`) by the log's sync workers right after it is
    /// written, whether or not anybody waits for it; concurrent appends share one sync (group
    /// commit). An append is acknowledged (`wait_durable`) and visible to readers only once it
    /// is on disk.
    Always,
    /// A background task syncs dirty partitions every [`LogConfig::fsync_interval`].
    Interval,
    /// The log never syncs on its own (the OS writes back when it likes); shutdown still syncs.
    Never,
}

impl std::str::FromStr for FsyncPolicy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "always" => Ok(Self::Always),
            "interval" => Ok(Self::Interval),
            "never" => Ok(Self::Never),
            other => Err(format!(
                "unknown fsync policy {other:?} (always | interval | never)"
            )),
        }
    }
}

impl std::fmt::Display for FsyncPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Always => "always",
            Self::Interval => "interval",
            Self::Never => "never",
        })
    }
}

/// Settings of the whole log.
#[derive(Debug, Clone)]
pub struct LogConfig {
    /// Root of everything the log writes.
    pub data_dir: PathBuf,
    pub fsync: FsyncPolicy,
    /// Period of the background sync when `fsync = interval`.
    pub fsync_interval: Duration,
    /// Bytes of frames between two sparse index entries.
    pub index_interval_bytes: u64,
    /// Period of the background maintenance round (retention and rolling segments by age).
    pub maintenance_interval: Duration,
    /// The local retention (ms, bytes) of remote-storage topics that leave theirs at `-2`
    /// (Kafka's `log.local.retention.ms` / `.bytes`); `-2` here too: as the total retention.
    pub local_retention_defaults: (i64, i64),
    /// Reads and rewrites stored frames for compacted topics; without one no topic is
    /// compacted (`compaction.rs`).
    pub compactor: Option<std::sync::Arc<dyn crate::compaction::Compactor>>,
    /// Period of the cleaner's round over compacted topics.
    pub compaction_interval: Duration,
    /// Most keys the cleaner's key map holds per partition and round (about 50 bytes each).
    pub compaction_map_keys: usize,
}

impl LogConfig {
    /// Defaults for a data directory.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            fsync: FsyncPolicy::Interval,
            fsync_interval: Duration::from_millis(1000),
            index_interval_bytes: limits::INDEX_INTERVAL_BYTES,
            maintenance_interval: Duration::from_millis(1000),
            local_retention_defaults: (-2, -2),
            compactor: None,
            compaction_interval: Duration::from_millis(15_000),
            compaction_map_keys: 1 << 20,
        }
    }
}

/// Who chooses a topic's record timestamps. The log stores the choice with the topic but never
/// acts on it: the protocol layer stamps a batch before it is appended (Kafka calls these
/// CreateTime and LogAppendTime; the stored names are those of older catalogs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum TimestampSource {
    /// The producer's timestamp is kept.
    #[default]
    #[serde(rename = "create_time")]
    Producer,
    /// The broker stamps its own append time.
    #[serde(rename = "log_append_time")]
    Broker,
}

/// A topic's codec for batches the broker builds itself (transcoded from the other protocol);
/// shared by both protocols. The log stores it with the topic but never compresses anything:
/// batches are stored as they arrived, whatever this says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    #[default]
    None,
    Gzip,
    Snappy,
    Lz4,
    Zstd,
}

/// Per-topic settings, persisted in the catalog. The log acts on the retention, segment and
/// size settings; the rest it keeps for the layers above without interpreting them, in
/// protocol-neutral types.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicSettings {
    /// Delete whole segments whose newest record is older than this; `None` keeps forever.
    pub retention_ms: Option<u64>,
    /// Delete the oldest whole segments while the partition is bigger than this; `None` = no cap.
    pub retention_bytes: Option<u64>,
    /// Roll the active segment when it would grow past this many bytes.
    pub segment_bytes: u64,
    /// Roll the active segment when its first frame is older than this; `None` = never by age.
    pub segment_ms: Option<u64>,
    /// Largest batch payload a producer may append.
    pub max_message_bytes: u32,
    /// Codec of batches the broker builds itself; stored, never interpreted by the log.
    pub compression: Compression,
    /// Who chooses record timestamps; stored, never interpreted by the log.
    pub timestamp_type: TimestampSource,
    /// Replication factor as requested by the client; single-node Whippet stores it only.
    pub replication_factor: u8,
    /// Copy closed segments to the remote tier (when the broker has one) and let local
    /// retention remove copied ones; reads below the local segments go to the remote copy.
    #[serde(default)]
    pub remote_storage: bool,
    /// With `remote_storage`: remove copied segments whose newest record is older than this
    /// many ms from the local disk; `-2` = the log's default
    /// ([`LogConfig::local_retention_defaults`], itself `-2` = as `retention_ms` unless the
    /// broker sets one), `-1` = no age limit.
    #[serde(default = "as_total_retention")]
    pub local_retention_ms: i64,
    /// With `remote_storage`: remove the oldest copied segments while the local segments take
    /// more bytes than this; `-2` = the log's default (as for `local_retention_ms`; else as
    /// `retention_bytes`), `-1` = no size limit.
    #[serde(default = "as_total_retention")]
    pub local_retention_bytes: i64,
    /// Protocol-level settings the engine does not act on (for example Kafka's `flush.ms`),
    /// kept verbatim by name so a client that set them can read them back. The log persists
    /// them with the topic but never interprets them; the protocol layer validates them.
    #[serde(default)]
    pub extra_configs: std::collections::BTreeMap<String, String>,
    /// Compact closed segments (keep the latest record per key; `compaction.rs`); `None`
    /// (the default) = Kafka's `cleanup.policy=delete`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compaction: Option<CompactionSettings>,
}

/// How a compacted topic is cleaned (Kafka's `cleanup.policy=compact[,delete]` and the
/// `delete.retention.ms` / `min.compaction.lag.ms` it acts on).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompactionSettings {
    /// Retention (`retention_ms`, `retention_bytes`) still removes whole segments
    /// (`compact,delete`); without it a compacted topic keeps its segments.
    pub delete_too: bool,
    /// Tombstones stay this long after their segment was first cleaned.
    pub delete_retention_ms: u64,
    /// A segment is cleaned only once its newest record is older than this.
    pub min_compaction_lag_ms: u64,
}

impl Default for CompactionSettings {
    fn default() -> Self {
        Self {
            delete_too: false,
            delete_retention_ms: 86_400_000,
            min_compaction_lag_ms: 0,
        }
    }
}

impl Default for TopicSettings {
    fn default() -> Self {
        Self {
            retention_ms: None,
            retention_bytes: None,
            segment_bytes: limits::SEGMENT_BYTES_DEFAULT,
            segment_ms: None,
            // Kafka's default max.message.bytes (1 MiB + record overhead).
            max_message_bytes: 1_048_588,
            compression: Compression::None,
            timestamp_type: TimestampSource::Producer,
            replication_factor: 1,
            remote_storage: false,
            local_retention_ms: -2,
            local_retention_bytes: -2,
            extra_configs: std::collections::BTreeMap::new(),
            compaction: None,
        }
    }
}

/// `-2`: a local retention that follows the total one (Kafka's default).
fn as_total_retention() -> i64 {
    -2
}

impl TopicSettings {
    /// Checks each setting against the engine's limits.
    pub fn validate(&self) -> crate::Result<()> {
        let bad = |name: &'static str, reason: String| {
            Err(crate::LogError::InvalidSetting { name, reason })
        };
        if !(limits::SEGMENT_BYTES_MIN..=limits::SEGMENT_BYTES_MAX).contains(&self.segment_bytes) {
            return bad(
                "segment_bytes",
                format!(
                    "{} not in [{}, {}]",
                    self.segment_bytes,
                    limits::SEGMENT_BYTES_MIN,
                    limits::SEGMENT_BYTES_MAX
                ),
            );
        }
        if self.max_message_bytes == 0 || self.max_message_bytes > limits::FRAME_PAYLOAD_BYTES_MAX {
            return bad(
                "max_message_bytes",
                format!(
                    "{} not in [1, {}]",
                    self.max_message_bytes,
                    limits::FRAME_PAYLOAD_BYTES_MAX
                ),
            );
        }
        for (name, value) in [
            ("local_retention_ms", self.local_retention_ms),
            ("local_retention_bytes", self.local_retention_bytes),
        ] {
            if value < -2 {
                return bad(name, format!("{value} is below -2"));
            }
        }
        if self.segment_ms == Some(0) {
            return bad("segment_ms", "must be positive".to_string());
        }
        Ok(())
    }
}
