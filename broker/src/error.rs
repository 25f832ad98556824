//! The broker's error type: what can stop the process from starting, serving or shutting down
//! cleanly. Configuration problems are [`crate::config::ConfigError`]; they exit with code 2,
//! everything here exits with code 1.

use std::net::SocketAddr;
use std::path::PathBuf;

use whippet_log::LogError;

/// Everything that can make [`crate::run`] fail.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    /// The data directory could not be opened or recovered.
    #[error("cannot open the log in {data_dir}: {source}")]
    OpenLog {
        /// The configured data directory.
        data_dir: PathBuf,
        /// What the log reported.
        #[source]
        source: LogError,
    },
    /// A listener could not bind its address (in use, not local, no permission).
    #[error("cannot bind the {listener} listener on {addr}: {source}")]
    Bind {
        /// `kafka`, `native` or `http`.
        listener: &'static str,
        /// The configured address.
        addr: SocketAddr,
        /// What the operating system reported.
        #[source]
        source: std::io::Error,
    },
    /// The kernel would not say which address a listener got.
    #[error("cannot read the bound address of the {listener} listener: {source}")]
    LocalAddr {
        /// `kafka`, `native` or `http`.
        listener: &'static str,
        /// What the operating system reported.
        #[source]
        source: std::io::Error,
    },
    /// An accept loop ended before shutdown was asked for (only a bug can do this).
    #[error("the {listener} listener stopped unexpectedly")]
    ListenerStopped {
        /// `kafka`, `native` or `http`.
        listener: &'static str,
    },
    /// The consumer-group checkpoint could not be loaded (unreadable or corrupt); the file is
    /// named in the error so an operator can inspect it.
    #[error("cannot load consumer groups: {0}")]
    LoadGroups(#[source] whippet_coordinator::CheckpointError),
    /// The metadata log (users, permissions, tokens) could not be opened, replayed or migrated
    /// into (the message names the file).
    #[error("cannot load the metadata log: {0}")]
    LoadMeta(String),
    /// The native users or consumer-group state could not be loaded (the message names the file).
    #[error("cannot load native protocol state: {0}")]
    LoadNative(String),
    /// Syncing and closing the log at shutdown failed; data since the last sync may be lost.
    #[error("log shutdown failed: {0}")]
    ShutdownLog(#[source] LogError),
    /// A blocking storage task (open or shutdown) panicked or was cancelled.
    #[error("storage task failed: {0}")]
    StorageTask(#[source] tokio::task::JoinError),
    /// The TLS certificate, key or client CAs could not be loaded (the message names the file).
    #[error("cannot set up TLS: {0}")]
    Tls(String),
    /// The async runtime could not be built.
    #[error("cannot start the async runtime: {0}")]
    Runtime(#[source] std::io::Error),
    /// SIGTERM/SIGINT handlers could not be installed.
    #[error("cannot install signal handlers: {0}")]
    Signal(#[source] std::io::Error),
}
