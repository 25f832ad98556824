//! The core: the typed operations both protocol adapters (Kafka, native in both framings, and
//! HTTP) call, and the rules that cut across protocols. It owns naming and collisions
//! ([`names`], under one lock held by [`Core`], not a process-wide static), the cascade when a
//! topic or stream is deleted or purged ([`topics`]: committed offsets of every group, native
//! group definitions, then whatever the adapters registered as [`CatalogObserver`]s), appends
//! ([`append`]: the topic size cap for both protocols, and when an answer waits for durability,
//! decided by [`Ack`]), reads ([`read`]: readable range, listings, timestamp lookups, the long
//! poll), committed offsets ([`offsets`]), group membership of both protocols ([`membership`]
//! over the consumer-group coordinator of [`groups`] and the native groups of
//! [`native_groups`]), users, permissions and tokens with logins and authorization for every
//! protocol ([`users`]), and the metadata state machine all durable state persists through
//! ([`meta`]: one ordered, durable command log with snapshots; the log's catalog too, through
//! its catalog seam). Every operation takes a [`RequestContext`] — it records itself as a span
//! under the request's span and waits no longer than its deadline — and fails with one
//! [`CoreError`]; each adapter maps that error to its protocol in one place.
//!
//! Boundary: the core must not import an adapter (`crate::kafka`, `crate::native`,
//! `crate::http`) nor the adapters' shared [`crate::context::BrokerContext`]; it knows no wire
//! type. Adapters reach it through `ctx.core`. `broker/tests/module_boundaries.rs` checks this.

pub mod append;
pub mod error;
pub mod groups;
#[cfg(test)]
mod groups_tests;
pub mod membership;
pub mod meta;
pub mod names;
pub mod native_groups;
pub mod offsets;
pub mod read;
pub mod topics;
pub mod txn;
pub mod users;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

pub use error::CoreError;
use whippet_log::{FsyncPolicy, Log, LogError};

use self::groups::GroupCoordinator;
use self::meta::Meta;
use self::native_groups::NativeGroups;
use self::users::Users;
use crate::config::Credentials;
use crate::metrics::{Metrics, MetricsSettings};

/// Who is asking. The native protocol authenticates users; Kafka connections are anonymous
/// until SASL exists; the broker's own work (startup, timers) is `Internal`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// An unauthenticated client.
    Anonymous,
    /// A logged-in user of the user store.
    User {
        /// The user's id.
        id: u32,
    },
    /// The broker itself.
    Internal,
}

/// What every core operation is told about the request it serves: who asks, on which
/// connection, inside which tracing span, and by when the answer is still wanted. This is
/// where authorization and instrumentation hook in.
#[derive(Debug, Clone)]
pub struct RequestContext {
    /// The authenticated principal.
    pub principal: Principal,
    /// The listener the request came in on (`kafka`, `native`, `http`; `internal` for the
    /// broker's own work).
    pub listener: &'static str,
    /// The connection's id on that listener (Kafka: [`Core::next_connection_id`]; native: the
    /// server-side client id its SDK sees); 0 for internal work.
    pub connection_id: u64,
    /// The request's span; core work is recorded inside it.
    pub span: tracing::Span,
    /// When the client stops waiting, if it said (Kafka request timeouts).
    pub deadline: Option<Instant>,
}

impl RequestContext {
    /// A request on connection `connection_id` of `listener` by `principal`, in the current
    /// span.
    pub fn new(principal: Principal, listener: &'static str, connection_id: u64) -> Self {
        Self {
            principal,
            listener,
            connection_id,
            span: tracing::Span::current(),
            deadline: None,
        }
    }

    /// The broker's own work (startup steps, timers, tests of the core).
    pub fn internal() -> Self {
        Self::new(Principal::Internal, "internal", 0)
    }

    /// One request on this context's connection: the same principal, listener and connection,
    /// recorded in `span` (the adapter's per-request span) and wanted by `deadline`.
    pub fn request(&self, span: tracing::Span, deadline: Option<Instant>) -> Self {
        Self {
            principal: self.principal.clone(),
            listener: self.listener,
            connection_id: self.connection_id,
            span,
            deadline,
        }
    }

    /// Time left until the deadline: `None` without one, zero once it has passed.
    pub fn remaining(&self) -> Option<Duration> {
        self.deadline
            .map(|deadline| deadline.saturating_duration_since(Instant::now()))
    }
}

/// Told by the core after a catalog change has been applied, so state an adapter keeps per
/// topic (native consumer-group definitions, idempotent-producer state) goes with the topic.
/// Called outside every core lock; must not block on I/O for long (persist in the background).
pub trait CatalogObserver: Send + Sync {
    /// Topic `topic_id` of stream `stream_id` and its data are gone.
    fn topic_deleted(&self, stream_id: u32, topic_id: u32);
    /// Stream `stream_id` and every topic in it are gone.
    fn stream_deleted(&self, stream_id: u32);
    /// Topic `topic_id` of stream `stream_id` was emptied; its offsets start again at 0.
    fn topic_purged(&self, _stream_id: u32, _topic_id: u32) {}
}

/// Whether an append's answer waits for durability, decided once for both protocols.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ack {
    /// The client wants no answer (Kafka acks=0): never wait. The log still syncs the data on
    /// its own under `fsync = always`.
    None,
    /// The client waits for the answer (Kafka acks=1/-1, every native send).
    Leader,
}

/// The core every adapter shares: the log, the name rules, the group coordinator and the
/// observers of catalog changes.
pub struct Core {
    /// The one log both protocols read and write.
    pub log: Arc<Log>,
    /// Name of the stream holding the topics Kafka clients create.
    pub kafka_stream: String,
    /// Consumer groups and committed offsets of both protocols.
    pub groups: Arc<GroupCoordinator>,
    /// The metadata state machine (catalog, users, groups, offsets, ...).
    pub meta: Arc<Meta>,
    /// Users, permissions, tokens, logins and authorization for every protocol.
    pub users: Arc<Users>,
    /// Native consumer groups: definitions and the membership of live native connections.
    pub native_groups: Arc<NativeGroups>,
    names: Mutex<()>,
    /// Every topic's parsed size cap, for admission.
    caps: append::TopicCaps,
    observers: Mutex<Vec<Arc<dyn CatalogObserver>>>,
    connections: AtomicU64,
    /// What every protocol appends and reads, requests and logins, for `GET /metrics`.
    pub metrics: Arc<Metrics>,
    /// Kafka transactions' coordinator (its state is the metadata state's).
    pub txns: txn::TxnCoordinator,
}

impl std::fmt::Debug for Core {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Core")
            .field("kafka_stream", &self.kafka_stream)
            .field("groups", &self.groups)
            .finish_non_exhaustive()
    }
}

impl Core {
    /// A core over `log`, `groups` and the metadata state machine with its users, with no
    /// observers yet.
    pub fn new(
        log: Arc<Log>,
        kafka_stream: String,
        groups: Arc<GroupCoordinator>,
        meta: Arc<Meta>,
        users: Arc<Users>,
    ) -> Self {
        Self {
            log,
            kafka_stream,
            groups,
            meta,
            users,
            native_groups: Arc::new(NativeGroups::default()),
            names: Mutex::new(()),
            caps: append::TopicCaps::default(),
            observers: Mutex::new(Vec::new()),
            connections: AtomicU64::new(0),
            metrics: Arc::new(Metrics::default()),
            txns: txn::TxnCoordinator::default(),
        }
    }

    /// A core whose group coordinator starts empty (nothing loaded from the metadata log,
    /// though commits are written there), with the metadata log and users opened in the log's
    /// state directory (the root user from `root` if there are none): for handler tests
    /// and embedding. The broker loads the checkpoint instead. Blocking.
    pub fn with_empty_groups(
        log: Arc<Log>,
        kafka_stream: String,
        root: &Credentials,
    ) -> Result<Self, String> {
        let (meta, users) = open_meta(&log.state_dir(), root)?;
        let groups = Arc::new(GroupCoordinator::empty(
            Arc::clone(&meta),
            log.state_dir().join(groups::GROUPS_DIR),
        ));
        Ok(Self::new(log, kafka_stream, groups, meta, users))
    }

    /// This core with `native_groups` (opened from the data dir at startup) instead of groups
    /// kept in memory only.
    #[must_use]
    pub fn with_native_groups(mut self, native_groups: Arc<NativeGroups>) -> Self {
        self.native_groups = native_groups;
        self
    }

    /// This core counting into metrics built with `settings` (at startup).
    #[must_use]
    pub fn with_metrics(mut self, settings: MetricsSettings) -> Self {
        self.metrics = Arc::new(Metrics::new(settings));
        self
    }

    /// Registers an adapter's observer of deletions and purges (at startup).
    pub fn observe(&self, observer: Arc<dyn CatalogObserver>) {
        lock(&self.observers).push(observer);
    }

    /// A fresh broker-wide connection id (never 0, which is internal work).
    pub fn next_connection_id(&self) -> u64 {
        self.connections.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Runs `op` (a name check plus the catalog change it guards) while no other
    /// name-changing catalog operation of this core runs. The lock guards ordering only, so a
    /// poisoned one is taken anyway.
    pub fn with_names_locked<T>(&self, op: impl FnOnce() -> T) -> T {
        let _guard = lock(&self.names);
        op()
    }

    /// Whether an append acknowledged with `ack` must wait for the log's durability before
    /// its answer goes out.
    pub fn waits_for_durability(&self, ack: Ack) -> bool {
        ack == Ack::Leader && self.log.config().fsync == FsyncPolicy::Always
    }

    fn observers(&self) -> Vec<Arc<dyn CatalogObserver>> {
        lock(&self.observers).clone()
    }
}

/// Opens the metadata log under `state_dir` and the users on it (migrating an old users file,
/// or creating the root user from `root`). Blocking: call it off the async workers.
pub fn open_meta(
    state_dir: &std::path::Path,
    root: &Credentials,
) -> Result<(Arc<Meta>, Arc<Users>), String> {
    let (meta, _) = Meta::open(state_dir).map_err(|error| error.to_string())?;
    let meta = Arc::new(meta);
    let users = Users::open(Arc::clone(&meta), state_dir, root)?;
    Ok((meta, Arc::new(users)))
}

/// Root credentials for cores built in tests.
#[cfg(test)]
pub(crate) fn test_root() -> Credentials {
    Credentials {
        username: "u".into(),
        password: "p".into(),
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Runs catalog or file work on the blocking pool, never on an async worker. A panicked task
/// is reported as a storage error rather than propagated, so a handler never panics because
/// the log did.
pub async fn blocking<T, F>(op: F) -> Result<T, LogError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, LogError> + Send + 'static,
{
    match tokio::task::spawn_blocking(op).await {
        Ok(result) => result,
        Err(join) => Err(LogError::io(
            "<catalog task>",
            std::io::Error::other(join.to_string()),
        )),
    }
}
