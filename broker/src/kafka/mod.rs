//! The Kafka wire protocol listener. The accept loop, connection cap and shutdown drain are
//! shared ([`crate::server::accept_loop`]); this module owns only what happens on one Kafka
//! connection. Until the protocol is implemented a connection is accepted and closed at once,
//! so clients fail fast instead of hanging.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tracing::debug;

use crate::context::BrokerContext;
use crate::server;

/// Serves Kafka connections on `listener` until `shutdown` is cancelled and open connections
/// have drained.
pub async fn serve(listener: TcpListener, ctx: Arc<BrokerContext>, shutdown: CancellationToken) {
    server::accept_loop("kafka", listener, ctx, shutdown, handle_connection).await;
}

/// One Kafka connection: the place the protocol issue fills in (read frames, dispatch, write
/// responses, end when `_shutdown` is cancelled).
async fn handle_connection(
    stream: TcpStream,
    peer: SocketAddr,
    _ctx: Arc<BrokerContext>,
    _shutdown: CancellationToken,
) {
    debug!(%peer, "kafka protocol not served yet; closing connection");
    drop(stream);
}
