//! The accept loop every listener shares: admit each peer under its listener's caps (a
//! connection semaphore per listener, a count per client address; see [`crate::connections`]),
//! run one task per connection in a `JoinSet`, and on shutdown stop accepting, then drain the
//! tasks for at most [`limits::SHUTDOWN_DRAIN_MS_MAX`] before aborting the rest. Protocol
//! modules only supply the per-connection handler, so connection accounting and shutdown live
//! in one place.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info, warn};

use crate::connections::{Admission, Listener, TimedOut};
use crate::context::BrokerContext;
use crate::limits;

/// Accepts connections on `listener` until `shutdown` is cancelled, running `handler` for each
/// in its own task, then drains those tasks. `handler` gets the stream, the peer address, the
/// shared context and a token it should watch to end its connection early on shutdown.
pub async fn accept_loop<H, F>(
    kind: Listener,
    listener: TcpListener,
    ctx: Arc<BrokerContext>,
    shutdown: CancellationToken,
    handler: H,
) where
    H: Fn(TcpStream, SocketAddr, Arc<BrokerContext>, CancellationToken) -> F,
    F: Future<Output = ()> + Send + 'static,
{
    let protocol = kind.name();
    let mut connections = JoinSet::new();
    while let Some((admission, stream, peer)) =
        next_connection(kind, &listener, &ctx, &shutdown).await
    {
        reap_finished(protocol, &mut connections);
        debug!(protocol, %peer, "connection accepted");
        let task = handler(stream, peer, Arc::clone(&ctx), shutdown.child_token());
        connections.spawn(async move {
            task.await;
            // The slots are freed only when the handler is done with the socket.
            drop(admission);
        });
    }
    // Stop accepting before draining so no new peer lands in a dying broker.
    drop(listener);
    drain(protocol, connections).await;
}

/// Waits for the next peer its caps admit. Returns `None` once shutdown starts. A peer whose
/// address holds its cap is closed at once and the loop goes on. At the listener's cap the
/// loop holds the one accepted socket while it waits for a slot and stops calling `accept`,
/// so further peers wait in the kernel backlog rather than costing memory here; free slots
/// always equal the cap minus open connections.
async fn next_connection(
    kind: Listener,
    listener: &TcpListener,
    ctx: &BrokerContext,
    shutdown: &CancellationToken,
) -> Option<(Admission, TcpStream, SocketAddr)> {
    let slots = ctx.connections.slots(kind);
    loop {
        let (stream, peer) = accept(kind.name(), listener, shutdown).await?;
        let admitted = tokio::select! {
            () = shutdown.cancelled() => return None,
            admitted = slots.admit(peer) => admitted,
        };
        match admitted {
            Some(admission) => return Some((admission, stream, peer)),
            None => drop(stream),
        }
    }
}

/// The next accepted peer, or `None` once shutdown starts. Accept errors are logged and
/// retried after a pause.
async fn accept(
    protocol: &'static str,
    listener: &TcpListener,
    shutdown: &CancellationToken,
) -> Option<(TcpStream, SocketAddr)> {
    loop {
        let accepted = tokio::select! {
            () = shutdown.cancelled() => return None,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok(accepted) => return Some(accepted),
            Err(error) => {
                // Per-connection failures (reset before accept) and resource exhaustion
                // (EMFILE) both land here; neither should end the listener.
                warn!(protocol, %error, "accept failed");
                let backoff = Duration::from_millis(limits::ACCEPT_ERROR_BACKOFF_MS);
                tokio::select! {
                    () = shutdown.cancelled() => return None,
                    () = tokio::time::sleep(backoff) => {}
                }
            }
        }
    }
}

/// Collects tasks that already finished so the set does not grow with every past connection.
fn reap_finished(protocol: &'static str, connections: &mut JoinSet<()>) {
    while let Some(result) = connections.try_join_next() {
        report_join(protocol, result);
    }
}

fn report_join(protocol: &'static str, result: Result<(), tokio::task::JoinError>) {
    if let Err(join_error) = result
        && join_error.is_panic()
    {
        error!(protocol, %join_error, "connection task panicked");
    }
}

/// Waits for open connections to finish, up to the drain deadline, then aborts the rest.
async fn drain(protocol: &'static str, mut connections: JoinSet<()>) {
    reap_finished(protocol, &mut connections);
    if connections.is_empty() {
        return;
    }
    info!(protocol, open = connections.len(), "draining connections");
    let deadline = Duration::from_millis(limits::SHUTDOWN_DRAIN_MS_MAX);
    let drained = tokio::time::timeout(deadline, async {
        while let Some(result) = connections.join_next().await {
            report_join(protocol, result);
        }
    })
    .await;
    if drained.is_err() {
        warn!(
            protocol,
            open = connections.len(),
            "drain deadline passed; aborting connections"
        );
        connections.shutdown().await;
    }
}

/// The transport of a connection `kind` accepted: TCP_NODELAY set (responses are small and
/// latency matters more than packet count), then the TLS handshake when the listener speaks
/// TLS, bounded by the connection setup deadline and cut short by shutdown. A failed handshake
/// (a plaintext client on a TLS port, an untrusted client certificate) is `Closed::Io`.
pub(crate) async fn establish(
    kind: Listener,
    stream: TcpStream,
    peer: SocketAddr,
    ctx: &BrokerContext,
    shutdown: &CancellationToken,
) -> Result<crate::tls::Transport, Closed> {
    if let Err(error) = stream.set_nodelay(true) {
        debug!(%peer, %error, "could not set TCP_NODELAY");
    }
    let setup = ctx.connections.settings().setup_timeout;
    tokio::select! {
        () = shutdown.cancelled() => Err(Closed::Shutdown),
        established = ctx.tls.establish(kind, stream, setup) => established.map_err(Closed::Io),
    }
}

/// Why a protocol connection ended; logged at debug level, since all of these are the peer's
/// doing. Shared by the Kafka and native listeners.
#[derive(Debug)]
pub(crate) enum Closed {
    /// The peer closed its side cleanly between requests.
    PeerLeft,
    /// Shutdown was requested.
    Shutdown,
    /// A read or write failed.
    Io(std::io::Error),
    /// The request could not be accepted (bad frame, unknown key, undecodable body...).
    Rejected(String),
    /// A read deadline passed (setup, idle or frame read).
    TimedOut(TimedOut),
}

impl Closed {
    /// Logs why the `protocol` connection from `peer` ended.
    pub(crate) fn log(self, protocol: &'static str, peer: SocketAddr) {
        match self {
            Self::PeerLeft => tracing::debug!(%peer, protocol, "connection closed by peer"),
            Self::Shutdown => tracing::debug!(%peer, protocol, "connection closed for shutdown"),
            Self::Io(error) => tracing::debug!(%peer, protocol, %error, "connection failed"),
            Self::Rejected(reason) => {
                tracing::debug!(%peer, protocol, %reason, "connection closed: bad request");
            }
            Self::TimedOut(missed) => {
                tracing::debug!(%peer, protocol, %missed, "connection closed: timed out");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::atomic::{AtomicUsize, Ordering};

    use tokio::io::AsyncReadExt;

    use super::*;
    use crate::config::Credentials;
    use crate::connections::{ConnectionLimits, ConnectionSettings};
    use crate::context::BoundAddrs;

    /// A context whose listeners each admit `slots` connections and `per_address` from one
    /// address, over a real log in `dir`.
    fn context(
        dir: &std::path::Path,
        slots: usize,
        per_address: usize,
        addr: SocketAddr,
    ) -> Arc<BrokerContext> {
        let (log, _) = whippet_log::Log::open(whippet_log::LogConfig::new(dir)).unwrap();
        let root = Credentials {
            username: "u".into(),
            password: "p".into(),
        };
        let addrs = BoundAddrs {
            kafka: addr,
            native: addr,
            http: addr,
        };
        let core = crate::core::Core::with_empty_groups(log, "kafka".into(), &root).unwrap();
        let native = Arc::new(crate::native::NativeState::empty(Arc::clone(&core.users)));
        let core = Arc::new(core.with_native_groups(Arc::clone(&native.groups)));
        let mut ctx = BrokerContext::new(core, addrs, root, native);
        ctx.connections = ConnectionLimits::new(ConnectionSettings {
            per_listener_max: slots,
            per_address_max: per_address,
            ..ConnectionSettings::default()
        });
        Arc::new(ctx)
    }

    async fn eventually(what: &str, check: impl Fn() -> bool) {
        for _ in 0..300 {
            if check() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("timed out waiting for {what}");
    }

    /// Serves `kind` on a fresh port with a handler that counts starts and holds each
    /// connection until its peer closes or shutdown starts.
    async fn serve_counting(
        kind: Listener,
        ctx: &Arc<BrokerContext>,
        shutdown: &CancellationToken,
    ) -> (SocketAddr, Arc<AtomicUsize>, tokio::task::JoinHandle<()>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let started = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&started);
        let handler = move |mut stream: TcpStream, _, _, token: CancellationToken| {
            counter.fetch_add(1, Ordering::SeqCst);
            async move {
                let mut byte = [0u8; 1];
                tokio::select! {
                    _ = stream.read(&mut byte) => {}
                    () = token.cancelled() => {}
                }
            }
        };
        let serving = tokio::spawn(accept_loop(
            kind,
            listener,
            Arc::clone(ctx),
            shutdown.clone(),
            handler,
        ));
        (addr, started, serving)
    }

    #[tokio::test]
    async fn cap_holds_back_new_peers_until_a_slot_frees() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = context(dir.path(), 2, 10, "127.0.0.1:1".parse().unwrap());
        let shutdown = CancellationToken::new();
        let (addr, started, serving) = serve_counting(Listener::Kafka, &ctx, &shutdown).await;

        let first = TcpStream::connect(addr).await.unwrap();
        let _second = TcpStream::connect(addr).await.unwrap();
        eventually("two handlers", || started.load(Ordering::SeqCst) == 2).await;
        assert_eq!(ctx.connection_slots_free(Listener::Kafka), 0);
        // The third peer completes the TCP handshake in the backlog but gets no handler.
        let _third = TcpStream::connect(addr).await.unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(started.load(Ordering::SeqCst), 2, "cap exceeded");

        drop(first);
        eventually("third handler", || started.load(Ordering::SeqCst) == 3).await;
        assert_eq!(ctx.connection_slots_free(Listener::Kafka), 0);

        shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(2), serving)
            .await
            .unwrap()
            .unwrap();
        let free = ctx.connection_slots_free(Listener::Kafka);
        assert_eq!(free, 2, "every slot returned after drain");
        ctx.log.shutdown().unwrap();
    }

    #[tokio::test]
    async fn a_full_listener_leaves_the_others_free() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = context(dir.path(), 2, 10, "127.0.0.1:1".parse().unwrap());
        let shutdown = CancellationToken::new();
        let (kafka, kafka_started, kafka_serving) =
            serve_counting(Listener::Kafka, &ctx, &shutdown).await;
        let (http, http_started, http_serving) =
            serve_counting(Listener::Http, &ctx, &shutdown).await;
        let _flood: Vec<TcpStream> = connect_many(kafka, 3).await;
        eventually("kafka full", || kafka_started.load(Ordering::SeqCst) == 2).await;
        let _http = TcpStream::connect(http).await.unwrap();
        eventually("http served", || http_started.load(Ordering::SeqCst) == 1).await;
        assert_eq!(ctx.connection_slots_free(Listener::Http), 1);
        shutdown.cancel();
        kafka_serving.await.unwrap();
        http_serving.await.unwrap();
        ctx.log.shutdown().unwrap();
    }

    #[tokio::test]
    async fn an_address_over_its_cap_is_closed_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = context(dir.path(), 10, 2, "127.0.0.1:1".parse().unwrap());
        let shutdown = CancellationToken::new();
        let (addr, started, serving) = serve_counting(Listener::Native, &ctx, &shutdown).await;
        let first = TcpStream::connect(addr).await.unwrap();
        let _second = TcpStream::connect(addr).await.unwrap();
        eventually("two handlers", || started.load(Ordering::SeqCst) == 2).await;
        let mut third = TcpStream::connect(addr).await.unwrap();
        let mut byte = [0u8; 1];
        let read = tokio::time::timeout(Duration::from_secs(2), third.read(&mut byte)).await;
        assert!(matches!(read, Ok(Ok(0)) | Ok(Err(_))), "{read:?}");
        assert_eq!(started.load(Ordering::SeqCst), 2);
        assert_eq!(ctx.connection_slots_free(Listener::Native), 8);
        // A connection that closes gives its address room again.
        drop(first);
        eventually("slot back", || {
            ctx.connection_slots_free(Listener::Native) == 9
        })
        .await;
        let _fourth = TcpStream::connect(addr).await.unwrap();
        eventually("fourth handler", || started.load(Ordering::SeqCst) == 3).await;
        shutdown.cancel();
        serving.await.unwrap();
        ctx.log.shutdown().unwrap();
    }

    async fn connect_many(addr: SocketAddr, count: usize) -> Vec<TcpStream> {
        let mut streams = Vec::with_capacity(count);
        for _ in 0..count {
            streams.push(TcpStream::connect(addr).await.unwrap());
        }
        streams
    }
}
