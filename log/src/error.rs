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

/// Result alias for the log.
pub type Result<T, E = LogError> = std::result::Result<T, E>;
