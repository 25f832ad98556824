//! The metadata log's one error type; every variant names the file involved.

use std::path::PathBuf;

/// Why the metadata log could not be opened, appended to or snapshotted.
#[derive(Debug, thiserror::Error)]
pub enum MetaError {
    /// An I/O call failed.
    #[error("metadata log {path}: {op}: {source}")]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// What was being done.
        op: &'static str,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A file exists but does not hold what it must (bad magic, version, checksum, size).
    #[error("metadata log {path} is corrupt: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// An earlier append failed and its torn bytes could not be cut off: nothing more is
    /// appended until the log is reopened (which drops the torn tail).
    #[error("metadata log {path} refuses appends after an unrecovered write failure")]
    Poisoned {
        /// The log file.
        path: PathBuf,
    },
    /// A command or snapshot could not be put in its durable form.
    #[error("metadata could not be encoded: {reason}")]
    Encode {
        /// What the encoder said.
        reason: String,
    },
    /// A record is larger than [`crate::limits::RECORD_BYTES_MAX`].
    #[error("metadata record of {size} bytes exceeds the {max} byte limit")]
    RecordTooLarge {
        /// Its size.
        size: usize,
        /// The limit.
        max: u32,
    },
}

impl MetaError {
    pub(crate) fn io(
        path: &std::path::Path,
        op: &'static str,
    ) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.to_path_buf();
        move |source| Self::Io { path, op, source }
    }
}
