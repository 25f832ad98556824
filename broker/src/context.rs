//! State every connection handler shares: the log, the bound addresses and the settings the
//! protocols need. It is built once at startup and never mutated, so handlers reach it through
//! an `Arc` without any lock.

use std::net::SocketAddr;
use std::sync::Arc;

use whippet_log::Log;

use crate::config::Credentials;
use crate::connections::{ConnectionLimits, Listener};
use crate::core::{CatalogObserver, Core};

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

/// Everything a connection handler may need, shared read-only by all connections: the core
/// every adapter calls, and what only one adapter uses (Kafka identity and producer state,
/// native users and groups), kept beside it.
pub struct BrokerContext {
    /// The core of typed operations and cross-protocol rules.
    pub core: Arc<Core>,
    /// The one log both protocols read and write (the core's, for reads that need no rule).
    pub log: Arc<Log>,
    /// Where the listeners are bound.
    pub addrs: BoundAddrs,
    /// Stream holding the topics Kafka clients see (the core's name).
    pub kafka_stream: String,
    /// Kafka identity (node id, cluster id, advertised address) and auto-create policy.
    pub kafka: crate::kafka::KafkaSettings,
    /// Idempotent-producer state (ids, per-partition sequences), persisted under the data dir.
    pub producers: Arc<crate::kafka::producers::ProducerStates>,
    /// Root user the native protocol authenticates.
    pub root: Credentials,
    /// Native protocol state: users and tokens, native consumer groups, connected clients.
    pub native: Arc<crate::native::NativeState>,
    /// Connection caps per listener and per address, read deadlines, the request budget.
    pub connections: ConnectionLimits,
    /// Which listeners speak TLS, with the certificate they present.
    pub tls: crate::tls::TlsListeners,
    /// The security settings: SASL on Kafka, whether authentication is required.
    pub security: crate::config::SecuritySettings,
}

impl BrokerContext {
    /// Builds the shared context around `core` and the native state opened from the data
    /// dir, and registers the adapters' per-topic state with the core so deletions and purges
    /// reach it. Connection limits and Kafka settings start at their defaults (the broker
    /// replaces them at startup).
    pub fn new(
        core: Arc<Core>,
        addrs: BoundAddrs,
        root: Credentials,
        native: Arc<crate::native::NativeState>,
    ) -> Self {
        let producers = Arc::new(crate::kafka::producers::ProducerStates::new(
            &core.log.state_dir(),
            Arc::clone(&core.meta),
        ));
        core.observe(Arc::clone(&producers) as Arc<dyn CatalogObserver>);
        Self {
            log: Arc::clone(&core.log),
            kafka_stream: core.kafka_stream.clone(),
            core,
            addrs,
            kafka: crate::kafka::KafkaSettings::default(),
            producers,
            native,
            root,
            connections: ConnectionLimits::default(),
            tls: crate::tls::TlsListeners::default(),
            security: crate::config::SecuritySettings::default(),
        }
    }

    /// Connections `listener` could still accept right now (for metrics and tests).
    pub fn connection_slots_free(&self, listener: Listener) -> usize {
        self.connections.slots(listener).free()
    }
}

impl std::fmt::Debug for BrokerContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The log has no useful `Debug` of its own; the rest is what a reader needs.
        f.debug_struct("BrokerContext")
            .field("addrs", &self.addrs)
            .field("kafka_stream", &self.kafka_stream)
            .field("root", &self.root)
            .field("connections", &self.connections.settings())
            .finish_non_exhaustive()
    }
}

/// Contexts over a real log in a temporary directory, for the adapters' handler tests.
#[cfg(test)]
pub(crate) mod test_support {
    #![allow(clippy::unwrap_used)]

    use std::sync::Arc;

    use super::{BoundAddrs, BrokerContext};
    use crate::config::Credentials;
    use crate::core::Core;
    use crate::core::groups::GroupCoordinator;

    /// A broker context whose log lives in `dir`, with the Kafka stream created.
    /// Creates Kafka topic `name` through the core (as an internal request) and returns it.
    pub(crate) async fn kafka_topic(
        ctx: &Arc<BrokerContext>,
        name: &str,
        partitions: u32,
        settings: whippet_log::TopicSettings,
    ) -> Arc<whippet_log::TopicMeta> {
        let rc = crate::core::RequestContext::internal();
        crate::kafka::topics::create_topic(ctx, &rc, name, partitions, settings)
            .await
            .unwrap()
    }

    pub(crate) fn context(dir: &std::path::Path) -> Arc<BrokerContext> {
        context_with_groups(dir, None)
    }

    /// [`context`] whose group coordinator uses `config` (loaded from the checkpoint in the
    /// log's state dir), or starts empty with the defaults when `None`.
    pub(crate) fn context_with_groups(
        dir: &std::path::Path,
        config: Option<whippet_coordinator::GroupConfig>,
    ) -> Arc<BrokerContext> {
        let (log, _) = whippet_log::Log::open(whippet_log::LogConfig::new(dir)).unwrap();
        context_on_log(log, config)
    }

    /// [`context_with_groups`] over an already open `log` (for a log on a fault-injecting
    /// store).
    pub(crate) fn context_on_log(
        log: Arc<whippet_log::Log>,
        config: Option<whippet_coordinator::GroupConfig>,
    ) -> Arc<BrokerContext> {
        let addr = "127.0.0.1:9092".parse().unwrap();
        let addrs = BoundAddrs {
            kafka: addr,
            native: addr,
            http: addr,
        };
        let root = Credentials {
            username: "u".into(),
            password: "p".into(),
        };
        crate::core::topics::ensure_kafka_stream(&log, "kafka").unwrap();
        let core = match config {
            None => Core::with_empty_groups(log, "kafka".into(), &root).unwrap(),
            Some(config) => {
                let dir = log.state_dir().join(crate::core::groups::GROUPS_DIR);
                let (meta, users) = crate::core::open_meta(&log.state_dir(), &root).unwrap();
                let groups = GroupCoordinator::load(config, dir, Arc::clone(&meta)).unwrap();
                Core::new(log, "kafka".into(), Arc::new(groups), meta, users)
            }
        };
        let native = Arc::new(crate::native::NativeState::empty(Arc::clone(&core.users)));
        let core = core.with_native_groups(Arc::clone(&native.groups));
        Arc::new(BrokerContext::new(Arc::new(core), addrs, root, native))
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
