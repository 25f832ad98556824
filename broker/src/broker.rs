//! The broker's lifecycle: open the log, bind the listeners, serve until asked to stop, drain,
//! and sync the log. [`crate::run`] and the in-process tests both go through [`Broker`], so the
//! binary and the tests share one path.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};
use whippet_log::{Log, OpenReport};

use crate::config::Settings;
use crate::connections::ConnectionLimits;
use crate::context::{BoundAddrs, BrokerContext};
use crate::core::groups::GroupCoordinator;
use crate::core::{self, Core};
use crate::error::BrokerError;
use crate::{http, kafka, limits, native};

/// A broker whose log is open and whose listeners are bound, not yet serving. Splitting start
/// from serve lets the caller learn the bound addresses (port 0) before any traffic flows.
pub struct Broker {
    ctx: Arc<BrokerContext>,
    kafka: TcpListener,
    native: TcpListener,
    http: TcpListener,
    /// The remote tier, stopped before the log shuts down.
    tier: Option<whippet_tier::Tier>,
}

impl Broker {
    /// Opens (recovering) the log in the configured data directory and binds the three
    /// listeners. On a bind failure the log is shut down again before the error is returned.
    pub async fn start(settings: Settings) -> Result<Self, BrokerError> {
        // Certificates first: a bad file should stop the broker before it touches the log.
        let tls = crate::tls::TlsListeners::load(&settings.security).map_err(BrokerError::Tls)?;
        warn_if_open(&settings);
        let (log, meta) = open_log(&settings).await?;
        let (core, kafka_settings, native_state) = match open_state(&settings, &log, meta).await {
            Ok(opened) => opened,
            Err(error) => {
                if let Err(shutdown_error) = shutdown_log(log).await {
                    warn!(%shutdown_error, "log shutdown after failed start also failed");
                }
                return Err(error);
            }
        };
        let mut tier = match start_tier(&settings, &core) {
            Ok(tier) => tier,
            Err(error) => {
                let log = Arc::clone(&core.log);
                drop(core);
                if let Err(shutdown_error) = shutdown_log(log).await {
                    warn!(%shutdown_error, "log shutdown after failed start also failed");
                }
                return Err(error);
            }
        };
        if let Some(tier) = tier.as_mut() {
            tier.first_pass(limits::TIER_FIRST_PASS_WAIT).await;
        }
        match core::topics::drop_orphaned_offsets(&core).await {
            Ok(0) => {}
            Ok(topics) => info!(
                topics,
                "dropped committed offsets of topics that no longer exist"
            ),
            Err(error) => warn!(%error, "could not drop offsets of deleted topics"),
        }
        match bind_all(&settings).await {
            Ok((kafka, native, http, addrs)) => {
                let mut ctx = BrokerContext::new(core, addrs, settings.root.clone(), native_state);
                ctx.kafka = kafka_settings;
                ctx.connections = ConnectionLimits::new(settings.connections);
                ctx.tls = tls;
                ctx.security = settings.security.clone();
                Ok(Self {
                    ctx: Arc::new(ctx),
                    kafka,
                    native,
                    http,
                    tier,
                })
            }
            Err(bind_error) => {
                // The tier goes first: it holds partitions of the log.
                drop(tier);
                let log = Arc::clone(&core.log);
                drop(core);
                if let Err(shutdown_error) = shutdown_log(log).await {
                    warn!(%shutdown_error, "log shutdown after failed start also failed");
                }
                Err(bind_error)
            }
        }
    }

    /// The addresses the listeners actually bound.
    pub fn addrs(&self) -> BoundAddrs {
        self.ctx.addrs
    }

    /// The shared context handlers see (for tests and embedding).
    pub fn context(&self) -> &Arc<BrokerContext> {
        &self.ctx
    }

    /// Serves all three protocols until `shutdown` completes, then stops accepting, drains open
    /// connections (at most [`limits::SHUTDOWN_DRAIN_MS_MAX`]) and shuts the log down.
    pub async fn serve(self, shutdown: impl Future<Output = ()>) -> Result<(), BrokerError> {
        let Self {
            ctx,
            kafka,
            native,
            http,
            mut tier,
        } = self;
        let token = CancellationToken::new();
        let timer_stop = CancellationToken::new();
        let timer = tokio::spawn(core::groups::run_timer(
            Arc::clone(&ctx.core.groups),
            timer_stop.clone(),
        ));
        let txn_sweeper = tokio::spawn(core::txn::run_sweeper(
            Arc::clone(&ctx.core),
            timer_stop.clone(),
        ));
        let mut listeners: JoinSet<&'static str> = JoinSet::new();
        let (kafka_ctx, native_ctx, http_ctx) =
            (Arc::clone(&ctx), Arc::clone(&ctx), Arc::clone(&ctx));
        let (kafka_token, native_token, http_token) = (token.clone(), token.clone(), token.clone());
        listeners.spawn(async move {
            kafka::serve(kafka, kafka_ctx, kafka_token).await;
            "kafka"
        });
        listeners.spawn(async move {
            native::serve(native, native_ctx, native_token).await;
            "native"
        });
        listeners.spawn(async move {
            http::serve(http, http_ctx, http_token).await;
            "http"
        });

        let stopped_early = tokio::select! {
            () = shutdown => None,
            stopped = listeners.join_next() => Some(stopped),
        };
        info!("shutting down: no new connections; draining open ones");
        token.cancel();
        wait_listeners(&mut listeners).await;
        // The timer writes the final group checkpoint once the connections are gone.
        timer_stop.cancel();
        if let Err(error) = timer.await {
            error!(%error, "group timer task failed");
        }
        if let Err(error) = txn_sweeper.await {
            error!(%error, "transaction sweeper task failed");
        }
        if let Some(tier) = tier.as_mut() {
            tier.stop();
        }
        let log = Arc::clone(&ctx.log);
        // Idempotent-producer state goes to disk while the log is still open, so the next
        // start scans only what follows the snapshot.
        let (producers, snapshot_log) = (Arc::clone(&ctx.producers), Arc::clone(&log));
        match tokio::task::spawn_blocking(move || producers.snapshot(&snapshot_log)).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => warn!(%error, "producer state snapshot at shutdown failed"),
            Err(error) => warn!(%error, "producer state snapshot task failed"),
        }
        drop(ctx);
        let shutdown_result = shutdown_log(log).await;
        if let Some(stopped) = stopped_early {
            let listener = match stopped {
                Some(Ok(name)) => name,
                _ => "unknown",
            };
            error!(listener, "listener stopped before shutdown was requested");
            return Err(BrokerError::ListenerStopped { listener });
        }
        shutdown_result?;
        info!("shutdown complete");
        Ok(())
    }
}

/// Starts the remote tier when the settings name a bucket; its counters go to the metrics.
fn start_tier(
    settings: &Settings,
    core: &Arc<Core>,
) -> Result<Option<whippet_tier::Tier>, BrokerError> {
    let Some(config) = settings.tier.clone() else {
        return Ok(None);
    };
    info!(bucket = %config.bucket, endpoint = ?config.endpoint, prefix = %config.prefix, "remote tier on");
    let tier = whippet_tier::Tier::start(config, Arc::clone(&core.log)).map_err(|source| {
        BrokerError::OpenLog {
            data_dir: settings.data_dir.clone(),
            source: whippet_log::LogError::io(&settings.data_dir, source),
        }
    })?;
    core.metrics.set_tier(tier.stats());
    Ok(Some(tier))
}

/// The one warning a broker that accepts unauthenticated clients logs at start.
fn warn_if_open(settings: &Settings) {
    if !settings.security.auth {
        warn!(
            kafka_security_protocol = %settings.security.kafka,
            "authentication is off (--auth false): Kafka clients without SASL and HTTP clients \
             are served unauthenticated, with every permission"
        );
    }
}

/// Everything the broker keeps besides the log, opened before any listener serves: the
/// metadata log (users, cluster id, native group definitions, ...), the consumer groups, the
/// Kafka settings and the native state, assembled into the core.
async fn open_state(
    settings: &Settings,
    log: &Arc<Log>,
    meta: Arc<core::meta::Meta>,
) -> Result<(Arc<Core>, kafka::KafkaSettings, Arc<native::NativeState>), BrokerError> {
    let users = open_users(settings, log, &meta).await?;
    let kafka_settings = prepare_kafka(settings, log, &meta).await?;
    let groups = load_groups(settings, log, &meta).await?;
    let (dir, native_meta, native_users) = (log.state_dir(), Arc::clone(&meta), Arc::clone(&users));
    let opened = tokio::task::spawn_blocking(move || {
        native::NativeState::open(&dir, native_users, native_meta)
    })
    .await
    .map_err(BrokerError::StorageTask)?;
    let mut native_state = opened.map_err(BrokerError::LoadNative)?;
    native_state.heartbeat_timeout = Duration::from_millis(settings.native_heartbeat_timeout_ms);
    let core = Core::new(
        Arc::clone(log),
        settings.kafka_stream.clone(),
        groups,
        meta,
        users,
    )
    .with_native_groups(Arc::clone(&native_state.groups))
    .with_metrics(settings.metrics);
    Ok((Arc::new(core), kafka_settings, Arc::new(native_state)))
}

/// Waits for the accept loops, each of which drains its own connections within the drain
/// deadline; the extra second only covers the aborts themselves.
async fn wait_listeners(listeners: &mut JoinSet<&'static str>) {
    let deadline = Duration::from_millis(limits::SHUTDOWN_DRAIN_MS_MAX + 1_000);
    let finished = tokio::time::timeout(deadline, async {
        while let Some(result) = listeners.join_next().await {
            if let Err(join_error) = result {
                error!(%join_error, "listener task failed");
            }
        }
    })
    .await;
    if finished.is_err() {
        warn!("listeners did not stop in time; aborting them");
        listeners.shutdown().await;
    }
}

/// Loads the consumer groups from the metadata log (migrating an older group store), off the
/// async workers. Loading finishes before any listener serves, so no request ever sees a
/// coordinator that is still loading.
async fn load_groups(
    settings: &Settings,
    log: &Arc<Log>,
    meta: &Arc<core::meta::Meta>,
) -> Result<Arc<GroupCoordinator>, BrokerError> {
    let dir = log.state_dir().join(core::groups::GROUPS_DIR);
    let config = settings.groups;
    let meta = Arc::clone(meta);
    let loaded = tokio::task::spawn_blocking(move || GroupCoordinator::load(config, dir, meta))
        .await
        .map_err(BrokerError::StorageTask)?;
    loaded.map(Arc::new).map_err(BrokerError::LoadGroups)
}

/// Opens the users on the metadata log (migrating an old users file, or creating the root
/// user), off the async workers, before any listener serves.
async fn open_users(
    settings: &Settings,
    log: &Arc<Log>,
    meta: &Arc<core::meta::Meta>,
) -> Result<Arc<core::users::Users>, BrokerError> {
    let dir = log.state_dir();
    let root = settings.root.clone();
    let meta = Arc::clone(meta);
    let refill = settings.login_failure_refill;
    let open = move || {
        use core::users::throttle::{LoginThrottle, USER_LOGIN_FAILURES_BURST};
        let users = core::users::Users::open(meta, &dir, &root)?;
        Ok(users.with_login_throttle(
            LoginThrottle::with_refill(refill),
            LoginThrottle::with_limits(USER_LOGIN_FAILURES_BURST, refill),
        ))
    };
    tokio::task::spawn_blocking(open)
        .await
        .map_err(BrokerError::StorageTask)?
        .map(Arc::new)
        .map_err(BrokerError::LoadMeta)
}

/// Opens the metadata log, then the log with its catalog on it.
async fn open_log(settings: &Settings) -> Result<(Arc<Log>, Arc<core::meta::Meta>), BrokerError> {
    let config = settings.log_config();
    let data_dir = config.data_dir.clone();
    // Recovery reads files; keep it off the async workers.
    let opened = tokio::task::spawn_blocking(move || core::meta::catalog::open_log(config))
        .await
        .map_err(BrokerError::StorageTask)?;
    let (log, report, meta) = opened.map_err(|source| BrokerError::OpenLog {
        data_dir: data_dir.clone(),
        source,
    })?;
    report_open(&data_dir, &report);
    Ok((log, meta))
}

/// One summary line of what recovery did; each event was already logged by the log itself.
fn report_open(data_dir: &std::path::Path, report: &OpenReport) {
    let events = report.events.len();
    let findings = report.findings.len();
    if events + findings == 0 {
        info!(data_dir = %data_dir.display(), "log opened cleanly");
    } else {
        warn!(data_dir = %data_dir.display(), events, findings, "log opened after recovery");
    }
}

/// What the Kafka listener needs before it serves: the cluster id, loaded (or created) from the
/// metadata log off the async workers, after the broker configs and producer-id block of an
/// older data dir are moved onto it; a failure is reported like a log-open failure. The
/// Kafka stream is not created here but with the first Kafka topic, so a broker that only ever
/// sees native clients starts as empty as the Iggy server (its first stream gets id 0).
async fn prepare_kafka(
    settings: &Settings,
    log: &Arc<Log>,
    meta: &Arc<core::meta::Meta>,
) -> Result<kafka::KafkaSettings, BrokerError> {
    let data_dir = settings.data_dir.clone();
    let dir = log.state_dir();
    let meta = Arc::clone(meta);
    let prepared = tokio::task::spawn_blocking(move || {
        kafka::configs::broker::migrate(&meta, &dir)?;
        kafka::producers::migrate_ids(&meta, &dir).map_err(|error| {
            whippet_log::LogError::io(
                dir.join(kafka::producers::persist::PRODUCERS_DIR_NAME),
                error,
            )
        })?;
        kafka::topics::load_or_create_cluster_id(&meta, &dir)
    })
    .await
    .map_err(BrokerError::StorageTask)?;
    let cluster_id = prepared.map_err(|source| BrokerError::OpenLog { data_dir, source })?;
    let advertised = settings
        .kafka_advertised_addr
        .as_deref()
        .and_then(|addr| crate::config::split_host_port(addr).ok());
    Ok(kafka::KafkaSettings {
        node_id: 0,
        cluster_id,
        advertised,
        auto_create_topics: settings.auto_create_topics,
        num_partitions: settings.num_partitions,
    })
}

async fn shutdown_log(log: Arc<Log>) -> Result<(), BrokerError> {
    tokio::task::spawn_blocking(move || log.shutdown())
        .await
        .map_err(BrokerError::StorageTask)?
        .map_err(BrokerError::ShutdownLog)
}

async fn bind_all(
    settings: &Settings,
) -> Result<(TcpListener, TcpListener, TcpListener, BoundAddrs), BrokerError> {
    let (kafka, kafka_addr) = bind("kafka", settings.kafka_addr).await?;
    let (native, native_addr) = bind("native", settings.native_addr).await?;
    let (http, http_addr) = bind("http", settings.http_addr).await?;
    let addrs = BoundAddrs {
        kafka: kafka_addr,
        native: native_addr,
        http: http_addr,
    };
    Ok((kafka, native, http, addrs))
}

async fn bind(
    listener: &'static str,
    addr: SocketAddr,
) -> Result<(TcpListener, SocketAddr), BrokerError> {
    let bound = TcpListener::bind(addr)
        .await
        .map_err(|source| BrokerError::Bind {
            listener,
            addr,
            source,
        })?;
    let local = bound
        .local_addr()
        .map_err(|source| BrokerError::LocalAddr { listener, source })?;
    info!(listener, addr = %local, "listening");
    Ok((bound, local))
}
