//! The HTTP admin listener: an axum [`Router`] served by hyper's HTTP/1.1 connection, one
//! request per connection (`Connection: close`).
//!
//! Connections come from the shared accept loop ([`server::accept_loop`]) like the Kafka and
//! native ones, so each holds a slot of this listener's own cap (and counts against its client
//! address) for its whole life, a flood of the other ports never takes those slots, and
//! shutdown drains them within the same deadline. Each accepted socket is then served by hyper's
//! `http1` builder, which is what `axum::serve` does inside; `axum::serve` itself is not used
//! because it runs its own accept loop and hides that builder, and with it the protections
//! kept here:
//! - the request head is read into a buffer capped at [`limits::HTTP_REQUEST_BYTES_MAX`]; a
//!   longer head gets `431` and the connection closes;
//! - the head must arrive within [`limits::HTTP_READ_MS_MAX`], or the connection closes, so a
//!   silent or slow peer cannot hold a slot;
//! - with one request per connection an unread body is never buffered: the connection closes
//!   after the answer;
//! - on shutdown an idle connection closes at once, one mid-answer gets a short grace to
//!   finish it, and one whose head is still arriving is closed.
//!
//! Routes (see [`openapi.json`](self::OPENAPI), served at `GET /openapi.json`):
//! - `GET /health`, `GET /metrics` (no login);
//! - the Apache Iggy HTTP API ([`users`], [`resources`], [`messages`], [`system`]): login with a JWT access token ([`auth`]), then streams, topics, partitions,
//!   consumer groups, messages, consumer offsets, users and personal access tokens, with the
//!   JSON bodies of the `iggy` crate's HTTP transport. Each route runs the native command of the
//!   same name ([`exec`]): the same permission checks and core calls, no second copy of a rule;
//! - read-only Kafka views under `/kafka/` ([`kafka_views`]) plus resetting a group's offsets
//!   and deleting an empty group; `GET /cluster/info` for `whippet cluster info`;
//! - the web console at `/` ([`console`]), static files that call the routes above.
//!
//! A poll answers at most [`limits::HTTP_POLL_MESSAGES_MAX`] messages and
//! [`limits::HTTP_POLL_BYTES_MAX`] payload bytes (the JSON carries them base64-encoded).
//! Request bodies are read only by the API routes, at most [`limits::HTTP_BODY_BYTES_MAX`] bytes
//! (`413` beyond) within [`limits::HTTP_BODY_MS_MAX`] (`408`); errors answer Iggy's JSON error
//! shape with a 4xx (or 500 for the broker's own failures). Every API route but the logins
//! needs an access token when the broker runs with `--auth true`; with `--auth false` a
//! request without one acts as the root user.

mod auth;
mod console;
mod exec;
mod json;
mod kafka_views;
mod messages;
mod request;
mod resources;
mod system;
mod users;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tracing::debug;

use self::auth::{Caller, Sessions};
use self::request::{ApiError, Peer};
use crate::connections::Listener;
use crate::context::BrokerContext;
use crate::limits;
use crate::server;

/// hyper refuses a read buffer smaller than 8 KiB (it panics on a smaller `max_buf_size`).
const _: () = assert!(limits::HTTP_REQUEST_BYTES_MAX >= 8 * 1024);

/// How long, once shutdown starts, a connection may take to finish an answer it is writing
/// (answers are a few hundred bytes, written at once). Kept here, not in `limits.rs`, as it
/// only bounds this module's part of the drain.
const SHUTDOWN_ANSWER_MS_MAX: u64 = 100;

/// The OpenAPI 3 description of the routes, kept by hand next to them.
pub const OPENAPI: &str = include_str!("openapi.json");

/// What the API routes share: the broker and the HTTP sessions.
#[derive(Debug)]
pub(crate) struct Api {
    ctx: Arc<BrokerContext>,
    sessions: Sessions,
}

/// The caller and peer address of an API request (`401` without a valid session when one is
/// needed).
pub(crate) fn begin(api: &Api, request: &Request) -> Result<(Caller, SocketAddr), ApiError> {
    let caller = auth::caller(&api.ctx, &api.sessions, request)?;
    Ok((caller, request::peer(request)))
}

/// Serves the admin HTTP endpoint on `listener` until `shutdown` is cancelled.
pub async fn serve(listener: TcpListener, ctx: Arc<BrokerContext>, shutdown: CancellationToken) {
    let routes = routes(Arc::clone(&ctx));
    server::accept_loop(
        Listener::Http,
        listener,
        ctx,
        shutdown,
        move |stream, peer, ctx, token| serve_connection(stream, peer, ctx, routes.clone(), token),
    )
    .await;
}

/// Every route of the listener over the broker `ctx`.
pub fn routes(ctx: Arc<BrokerContext>) -> Router {
    let ctx_for_metrics = Arc::clone(&ctx);
    let api = Arc::new(Api {
        ctx,
        sessions: Sessions::default(),
    });
    let iggy = Router::new()
        .merge(system::routes())
        .merge(users::routes())
        .merge(resources::routes())
        .merge(messages::routes())
        .merge(kafka_views::routes())
        .merge(console::routes())
        .with_state(api);
    router()
        .merge(iggy)
        .route("/openapi.json", get(openapi))
        .route(
            "/metrics",
            any(move |method| metrics(method, Arc::clone(&ctx_for_metrics))),
        )
        .method_not_allowed_fallback(method_not_allowed)
}

/// A method a route does not serve: `405` with a JSON body (axum adds `Allow`).
async fn method_not_allowed() -> Response {
    (
        StatusCode::METHOD_NOT_ALLOWED,
        json("{\"error\":\"method not allowed\"}"),
    )
        .into_response()
}

async fn openapi() -> Response {
    (StatusCode::OK, json(OPENAPI)).into_response()
}

/// The routes without state (the listener adds `GET /metrics`, which reads the broker):
/// `GET /health` answers `{"status":"ok"}`; any other method on it gets `405`
/// with `Allow: GET`, any other path `404`, all with a small JSON body. The query string does
/// not select a resource.
pub fn router() -> Router {
    Router::new()
        .route("/health", any(health))
        .fallback(not_found)
}

async fn health(method: Method) -> Response {
    // Only GET: HEAD (which axum's `get` would also route here) is refused as before.
    if method != Method::GET {
        return get_only();
    }
    (StatusCode::OK, json("{\"status\":\"ok\"}")).into_response()
}

/// The `405` answer of a GET-only route.
fn get_only() -> Response {
    (
        StatusCode::METHOD_NOT_ALLOWED,
        [(header::ALLOW, "GET")],
        json("{\"error\":\"method not allowed\"}"),
    )
        .into_response()
}

/// `GET /metrics`: the Prometheus text exposition of [`crate::metrics`]; other methods `405`.
async fn metrics(method: Method, ctx: Arc<BrokerContext>) -> Response {
    if method != Method::GET {
        return get_only();
    }
    // The scrape reads every partition's stats and the group offsets: off the async workers.
    let rendered = tokio::task::spawn_blocking(move || crate::metrics::scrape::render(&ctx)).await;
    match rendered {
        Ok(text) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, crate::metrics::scrape::CONTENT_TYPE)],
            text,
        )
            .into_response(),
        Err(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            json("{\"error\":\"metrics failed\"}"),
        )
            .into_response(),
    }
}

async fn not_found() -> Response {
    (StatusCode::NOT_FOUND, json("{\"error\":\"not found\"}")).into_response()
}

fn json(body: &'static str) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], body)
}

/// Serves one connection: at most one request, a bounded head read in bounded time, over TLS
/// when the listener speaks it (the handshake bounded by the setup deadline).
async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    ctx: Arc<BrokerContext>,
    routes: Router,
    shutdown: CancellationToken,
) {
    let stream = match server::establish(Listener::Http, stream, peer, &ctx, &shutdown).await {
        Ok(stream) => stream,
        Err(error) => return debug!(%peer, ?error, "http connection not established"),
    };
    drop(ctx);
    let with_peer = tower::util::MapRequest::new(
        routes,
        move |mut request: hyper::Request<hyper::body::Incoming>| {
            request.extensions_mut().insert(Peer(peer));
            request
        },
    );
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_millis(limits::HTTP_READ_MS_MAX))
        .max_buf_size(limits::HTTP_REQUEST_BYTES_MAX)
        .keep_alive(false)
        .serve_connection(TokioIo::new(stream), TowerToHyperService::new(with_peer));
    let mut connection = std::pin::pin!(connection);
    let finished = tokio::select! {
        finished = connection.as_mut() => finished,
        () = shutdown.cancelled() => {
            // Closes an idle connection now and lets an answer being written finish; a head
            // still arriving is not waited for (it could take the whole read timeout).
            connection.as_mut().graceful_shutdown();
            let grace = Duration::from_millis(SHUTDOWN_ANSWER_MS_MAX);
            let Ok(finished) = tokio::time::timeout(grace, connection).await else {
                debug!(%peer, "http connection closed for shutdown");
                return;
            };
            finished
        }
    };
    // Timeouts, oversized heads and peers that leave early are the peer's doing: debug only.
    match finished {
        Ok(()) => debug!(%peer, "http connection done"),
        Err(error) => debug!(%peer, %error, "http connection ended early"),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    use super::*;

    async fn call(method: &str, uri: &str) -> (StatusCode, Option<String>, String) {
        let request = Request::builder()
            .method(method)
            .uri(uri)
            .body(Body::empty())
            .unwrap();
        let response = router().oneshot(request).await.unwrap();
        let status = response.status();
        let content_type = response.headers().get(header::CONTENT_TYPE).cloned();
        let allow = response.headers().get(header::ALLOW).cloned();
        assert_eq!(content_type.unwrap(), "application/json");
        let body = axum::body::to_bytes(response.into_body(), 1024)
            .await
            .unwrap();
        let allow = allow.map(|v| v.to_str().unwrap().to_string());
        (status, allow, String::from_utf8(body.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn health_is_ok_and_query_is_ignored() {
        for uri in ["/health", "/health?verbose=1"] {
            let (status, _, body) = call("GET", uri).await;
            assert_eq!(status, StatusCode::OK);
            assert_eq!(body, "{\"status\":\"ok\"}");
        }
    }

    #[tokio::test]
    async fn other_paths_and_methods() {
        for uri in ["/", "/healthz", "/health/x"] {
            let (status, _, body) = call("GET", uri).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{uri}");
            assert_eq!(body, "{\"error\":\"not found\"}");
        }
        for method in ["POST", "HEAD", "DELETE"] {
            let (status, allow, body) = call(method, "/health").await;
            assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{method}");
            assert_eq!(allow.as_deref(), Some("GET"));
            // A HEAD answer never carries a body (axum drops it, as HTTP requires).
            let expected = if method == "HEAD" {
                ""
            } else {
                "{\"error\":\"method not allowed\"}"
            };
            assert_eq!(body, expected);
        }
    }
}
