//! The Apache Iggy native (TCP) protocol listener. The accept loop, connection cap and
//! shutdown drain are shared ([`crate::server::accept_loop`]); this module owns only what
//! happens on one native connection. Until the protocol is implemented a connection is accepted and closed at once,
//! so clients fail fast instead of hanging.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tracing::debug;

use crate::context::BrokerContext;
use crate::server;

/// Serves native connections on `listener` until `shutdown` is cancelled and open connections
/// have drained.
pub async fn serve(listener: TcpListener, ctx: Arc<BrokerContext>, shutdown: CancellationToken) {
    server::accept_loop("native", listener, ctx, shutdown, handle_connection).await;
}

/// One native connection: the place the protocol issue fills in (read frames, dispatch, write
/// responses, end when `_shutdown` is cancelled).
async fn handle_connection(
    stream: TcpStream,
    peer: SocketAddr,
    _ctx: Arc<BrokerContext>,
    _shutdown: CancellationToken,
) {
    debug!(%peer, "native protocol not served yet; closing connection");
    drop(stream);
}
