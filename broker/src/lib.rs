//! `whippet-broker` owns the running process: configuration, listeners, connection loops,
//! authentication, mapping decoded requests onto `whippet-log` and `whippet-coordinator`,
//! metrics and tracing wiring. It must not hold protocol byte-layout code (that is
//! `whippet-wire`'s) nor storage-format code (that is `whippet-log`'s).
//!
//! Invariants: nothing but the one ready line ever goes to stdout (logs go to stderr); every
//! connection holds a slot of its listener's cap and a count against its client address for
//! its whole life (`connections.rs`); shutdown always ends with the log's own shutdown, which
//! syncs every file.

pub mod alloc_guard;
pub mod broker;
pub mod config;
pub mod connections;
pub mod context;
pub mod core;
pub mod error;
pub mod http;
pub mod kafka;
pub mod limits;
pub mod metrics;
pub mod native;
pub mod process;
mod reading;
pub mod server;
pub mod telemetry;
pub mod tls;

use std::future::Future;
use std::io::Write;

pub use broker::Broker;
pub use config::Settings;
pub use context::{BoundAddrs, BrokerContext};
pub use error::BrokerError;

/// Runs a broker with `settings` until `shutdown` completes: open the log, bind, print the
/// ready line on stdout, serve, drain, sync. This is the binary's whole life, shared with tests.
pub async fn run(
    settings: Settings,
    shutdown: impl Future<Output = ()>,
) -> Result<(), BrokerError> {
    let broker = Broker::start(settings).await?;
    print_ready(&broker.addrs());
    broker.serve(shutdown).await
}

/// Prints the ready line and flushes it. A closed stdout is not fatal: the broker still
/// serves, only whoever waited for the line will not see it.
fn print_ready(addrs: &BoundAddrs) {
    let mut stdout = std::io::stdout().lock();
    let written = writeln!(stdout, "{}", addrs.ready_line()).and_then(|()| stdout.flush());
    if let Err(error) = written {
        tracing::warn!(%error, "could not write the ready line to stdout");
    }
}
