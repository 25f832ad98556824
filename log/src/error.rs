//! The log's error type. Variants carry typed fields; I/O errors keep the path they concern.

use std::path::PathBuf;

/// Everything the storage engine can fail with.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("I/O error on {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("corrupt frame: {reason}")]
    CorruptFrame { reason: &'static str },
    #[error("corrupt catalog {path}: {reason}")]
    CorruptCatalog { path: PathBuf, reason: String },
    /// The catalog (its file, or the store that keeps it) is gone while stream directories
    /// remain: starting would lose track of (and could later overwrite) that data, so the log
    /// refuses to open.
    #[error(
        "catalog {path} is missing but {streams_dir} holds stream data; refusing to start \
         rather than lose track of it: put the catalog back (from a backup, or wherever it \
         was moved) and start again, or move {streams_dir} out of the data directory to \
         start with an empty log"
    )]
    MissingCatalog { path: PathBuf, streams_dir: PathBuf },
    /// A create would reuse the id of a directory the catalog did not list when the log was
    /// opened; that data is kept, never overwritten.
    #[error(
        "{path} holds data the catalog does not list (found when the log was opened); it is \
         kept, not overwritten: move it out of the data directory to reuse its id"
    )]
    UnlistedData { path: PathBuf },
    #[error("stream {0} not found")]
    StreamNotFound(String),
    #[error("topic {0} not found")]
    TopicNotFound(String),
    #[error("partition {0} not found")]
    PartitionNotFound(u32),
    #[error("stream name {0:?} already exists")]
    StreamExists(String),
    #[error("topic name {0:?} already exists")]
    TopicExists(String),
    #[error("invalid name {name:?}: {reason}")]
    InvalidName { name: String, reason: &'static str },
    #[error("invalid setting {name}: {reason}")]
    InvalidSetting { name: &'static str, reason: String },
    #[error("limit {name} exceeded: {value} > {max}")]
    LimitExceeded {
        name: &'static str,
        value: u64,
        max: u64,
    },
    #[error("batch of {size} bytes exceeds the topic's max message size of {max} bytes")]
    BatchTooLarge { size: u64, max: u64 },
    #[error("offset {offset} out of range [{start}, {end}]")]
    OffsetOutOfRange { offset: u64, start: u64, end: u64 },
    #[error("the log is shutting down")]
    ShuttingDown,
    #[error("partition was deleted")]
    PartitionDeleted,
}

impl LogError {
    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
}

impl LogError {
    /// A copy of this error, for when one failure answers several callers (a group write, a
    /// poisoned partition). `io::Error` is not `Clone`: an I/O error's copy keeps its kind and
    /// message.
    pub(crate) fn duplicate(&self) -> Self {
        match self {
            Self::Io { path, source } => Self::Io {
                path: path.clone(),
                source: std::io::Error::new(source.kind(), source.to_string()),
            },
            Self::CorruptFrame { reason } => Self::CorruptFrame { reason },
            Self::CorruptCatalog { path, reason } => Self::CorruptCatalog {
                path: path.clone(),
                reason: reason.clone(),
            },
            Self::MissingCatalog { path, streams_dir } => Self::MissingCatalog {
                path: path.clone(),
                streams_dir: streams_dir.clone(),
            },
            Self::UnlistedData { path } => Self::UnlistedData { path: path.clone() },
            Self::StreamNotFound(s) => Self::StreamNotFound(s.clone()),
            Self::TopicNotFound(s) => Self::TopicNotFound(s.clone()),
            Self::PartitionNotFound(id) => Self::PartitionNotFound(*id),
            Self::StreamExists(s) => Self::StreamExists(s.clone()),
            Self::TopicExists(s) => Self::TopicExists(s.clone()),
            Self::InvalidName { name, reason } => Self::InvalidName {
                name: name.clone(),
                reason,
            },
            Self::InvalidSetting { name, reason } => Self::InvalidSetting {
                name,
                reason: reason.clone(),
            },
            Self::LimitExceeded { name, value, max } => Self::LimitExceeded {
                name,
                value: *value,
                max: *max,
            },
            Self::BatchTooLarge { size, max } => Self::BatchTooLarge {
                size: *size,
                max: *max,
            },
            Self::OffsetOutOfRange { offset, start, end } => Self::OffsetOutOfRange {
                offset: *offset,
                start: *start,
                end: *end,
            },
            Self::ShuttingDown => Self::ShuttingDown,
            Self::PartitionDeleted => Self::PartitionDeleted,
        }
    }
}

/// Result alias for the log.
pub type Result<T, E = LogError> = std::result::Result<T, E>;
