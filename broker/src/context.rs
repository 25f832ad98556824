//! State every connection handler shares: the log, the bound addresses and the settings the
//! protocols need. It is built once at startup and never mutated, so handlers reach it through
//! an `Arc` without any lock.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::sync::Semaphore;
use whippet_log::Log;

use crate::config::Credentials;
use crate::limits;

/// The addresses the three listeners actually got (port 0 resolved to the real port). The
/// Kafka handler advertises `kafka` in Metadata; the harness reads all three off the ready line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BoundAddrs {
    /// Kafka wire protocol listener.
    pub kafka: SocketAddr,
    /// Iggy native (TCP) protocol listener.
    pub native: SocketAddr,
    /// HTTP admin listener.
    pub http: SocketAddr,
}

impl BoundAddrs {
    /// The one machine-readable line the broker prints on stdout once it accepts connections.
    /// Its shape is a contract with test harnesses and deployment scripts: keep the keys.
    pub fn ready_line(&self) -> String {
        let line = ReadyLine {
            event: "ready",
            kafka: self.kafka.to_string(),
            native: self.native.to_string(),
            http: self.http.to_string(),
        };
        // Serializing a struct of strings cannot fail; the fallback keeps this total anyway.
        serde_json::to_string(&line).unwrap_or_else(|_| String::from(r#"{"event":"ready"}"#))
    }
}

/// Field order here is the key order of the ready line.
#[derive(serde::Serialize)]
struct ReadyLine {
    event: &'static str,
    kafka: String,
    native: String,
    http: String,
}

/// Subdirectory of the log's state directory holding the group checkpoint.
pub const GROUPS_DIR: &str = "groups";

/// Everything a connection handler may need, shared read-only by all connections.
pub struct BrokerContext {
    /// The one log both protocols read and write.
    pub log: Arc<Log>,
    /// Where the listeners are bound.
    pub addrs: BoundAddrs,
    /// Stream holding the topics Kafka clients see.
    pub kafka_stream: String,
    /// Kafka identity (node id, cluster id, advertised address) and auto-create policy.
    pub kafka: crate::kafka::KafkaSettings,
    /// Idempotent-producer state (ids, per-partition sequences), persisted under the data dir.
    pub producers: Arc<crate::kafka::producers::ProducerStates>,
    /// Consumer groups and committed offsets (the Kafka group APIs; later the native ones).
    pub coordinator: Arc<crate::kafka::groups::GroupCoordinator>,
    /// Root user the native protocol authenticates.
    pub root: Credentials,
    /// Native protocol state: users and tokens, native consumer groups, connected clients.
    pub native: Arc<crate::native::NativeState>,
    /// One permit per open connection over all listeners ([`limits::CONNECTIONS_MAX`]).
    pub(crate) connection_slots: Arc<Semaphore>,
}

impl BrokerContext {
    /// Builds the shared context over the native state opened from the data dir; the connection
    /// cap comes from [`limits::CONNECTIONS_MAX`]. Kafka settings start at their defaults and the
    /// group coordinator empty; the broker replaces both at startup.
    pub fn new(
        log: Arc<Log>,
        addrs: BoundAddrs,
        kafka_stream: String,
        root: Credentials,
        native: Arc<crate::native::NativeState>,
    ) -> Self {
        let producers = Arc::new(crate::kafka::producers::ProducerStates::new(
            &log.state_dir(),
        ));
        let coordinator = Arc::new(crate::kafka::groups::GroupCoordinator::empty(
            log.state_dir().join(GROUPS_DIR),
        ));
        Self {
            coordinator,
            log,
            addrs,
            kafka_stream,
            kafka: crate::kafka::KafkaSettings::default(),
            producers,
            native,
            root,
            connection_slots: Arc::new(Semaphore::new(limits::CONNECTIONS_MAX)),
        }
    }

    /// Connections that could still be accepted right now (for metrics and tests).
    pub fn connection_slots_free(&self) -> usize {
        self.connection_slots.available_permits()
    }
}

impl std::fmt::Debug for BrokerContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The log has no useful `Debug` of its own; the rest is what a reader needs.
        f.debug_struct("BrokerContext")
            .field("addrs", &self.addrs)
            .field("kafka_stream", &self.kafka_stream)
            .field("root", &self.root)
            .field("connection_slots_free", &self.connection_slots_free())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn ready_line_has_the_exact_shape() {
        let addrs = BoundAddrs {
            kafka: "127.0.0.1:9092".parse().unwrap(),
            native: "127.0.0.1:8090".parse().unwrap(),
            http: "[::1]:3000".parse().unwrap(),
        };
        assert_eq!(
            addrs.ready_line(),
            r#"{"event":"ready","kafka":"127.0.0.1:9092","native":"127.0.0.1:8090","http":"[::1]:3000"}"#
        );
    }
}
