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

/// Result alias for the log.
pub type Result<T, E = LogError> = std::result::Result<T, E>;
