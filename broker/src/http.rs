//! The HTTP admin listener: a deliberately tiny HTTP/1.1 responder, enough for health checks
//! without a web framework in the binary. One request per connection (`Connection: close`);
//! the request head is read into a buffer capped at [`limits::HTTP_REQUEST_BYTES_MAX`] within
//! [`limits::HTTP_READ_MS_MAX`], and anything else about the request is ignored.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tracing::debug;

use crate::context::BrokerContext;
use crate::limits;
use crate::server;

/// Serves the admin HTTP endpoint on `listener` until `shutdown` is cancelled.
pub async fn serve(listener: TcpListener, ctx: Arc<BrokerContext>, shutdown: CancellationToken) {
    server::accept_loop("http", listener, ctx, shutdown, handle_connection).await;
}

/// What the responder sends back: a status and a small JSON body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Response {
    /// HTTP status code.
    pub status: u16,
    /// Reason phrase for the status line.
    pub reason: &'static str,
    /// JSON body.
    pub body: &'static str,
}

impl Response {
    const fn new(status: u16, reason: &'static str, body: &'static str) -> Self {
        Self {
            status,
            reason,
            body,
        }
    }

    /// The full response bytes, head and body.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut head = format!(
            "HTTP/1.1 {} {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
            self.status,
            self.reason,
            self.body.len()
        );
        if self.status == 405 {
            head.push_str("Allow: GET\r\n");
        }
        head.push_str("Connection: close\r\n\r\n");
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(self.body.as_bytes());
        bytes
    }
}

const HEALTHY: Response = Response::new(200, "OK", "{\"status\":\"ok\"}");
const NOT_FOUND: Response = Response::new(404, "Not Found", "{\"error\":\"not found\"}");
const NOT_ALLOWED: Response = Response::new(
    405,
    "Method Not Allowed",
    "{\"error\":\"method not allowed\"}",
);
const BAD_REQUEST: Response = Response::new(400, "Bad Request", "{\"error\":\"bad request\"}");
const TOO_LARGE: Response = Response::new(
    431,
    "Request Header Fields Too Large",
    "{\"error\":\"request head too large\"}",
);

/// Chooses the response to a complete request head (everything up to the blank line).
pub fn respond(head: &[u8]) -> Response {
    let Some((method, path)) = parse_request_line(head) else {
        return BAD_REQUEST;
    };
    // The query string does not select a resource here.
    let path = path.split_once('?').map_or(path, |(path, _)| path);
    match (method, path) {
        ("GET", "/health") => HEALTHY,
        (_, "/health") => NOT_ALLOWED,
        _ => NOT_FOUND,
    }
}

/// Splits `METHOD SP TARGET SP HTTP/1.x` off the first line; `None` if it is not that shape.
fn parse_request_line(head: &[u8]) -> Option<(&str, &str)> {
    let line_end = head.windows(2).position(|pair| pair == b"\r\n")?;
    let line = std::str::from_utf8(head.get(..line_end)?).ok()?;
    let mut parts = line.split(' ');
    let method = parts
        .next()
        .filter(|m| !m.is_empty() && m.bytes().all(|b| b.is_ascii_uppercase()))?;
    let target = parts.next().filter(|t| t.starts_with('/'))?;
    let version = parts.next()?;
    if parts.next().is_some() || !version.starts_with("HTTP/1.") {
        return None;
    }
    Some((method, target))
}

/// Why reading a request head stopped without a complete head.
#[derive(Debug, PartialEq, Eq)]
enum HeadError {
    /// The head did not end within [`limits::HTTP_REQUEST_BYTES_MAX`].
    TooLarge,
    /// The peer closed, timed out, errored or shutdown began: nothing worth answering.
    Gone,
}

async fn handle_connection(
    mut stream: TcpStream,
    peer: SocketAddr,
    _ctx: Arc<BrokerContext>,
    shutdown: CancellationToken,
) {
    let response = match read_head(&mut stream, &shutdown).await {
        Ok(head) => respond(&head),
        Err(HeadError::TooLarge) => TOO_LARGE,
        Err(HeadError::Gone) => return,
    };
    debug!(%peer, status = response.status, "http request");
    // A peer that leaves before reading its answer is not an error worth reporting.
    if stream.write_all(&response.to_bytes()).await.is_ok() {
        let _ = stream.shutdown().await;
    }
}

/// Reads until the blank line ending the head, bounded in size and time.
async fn read_head(
    stream: &mut TcpStream,
    shutdown: &CancellationToken,
) -> Result<Vec<u8>, HeadError> {
    let deadline = Duration::from_millis(limits::HTTP_READ_MS_MAX);
    tokio::select! {
        () = shutdown.cancelled() => Err(HeadError::Gone),
        read = tokio::time::timeout(deadline, read_head_unbounded_in_time(stream)) => {
            read.unwrap_or(Err(HeadError::Gone))
        }
    }
}

async fn read_head_unbounded_in_time(stream: &mut TcpStream) -> Result<Vec<u8>, HeadError> {
    let mut head = Vec::with_capacity(512);
    let mut chunk = [0u8; 1024];
    loop {
        let read = stream.read(&mut chunk).await.map_err(|_| HeadError::Gone)?;
        if read == 0 {
            return Err(HeadError::Gone);
        }
        let scan_from = head.len().saturating_sub(3);
        head.extend_from_slice(chunk.get(..read).ok_or(HeadError::Gone)?);
        if head
            .get(scan_from..)
            .is_some_and(|tail| tail.windows(4).any(|w| w == b"\r\n\r\n"))
        {
            return Ok(head);
        }
        if head.len() >= limits::HTTP_REQUEST_BYTES_MAX {
            return Err(HeadError::TooLarge);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_is_ok_and_query_is_ignored() {
        assert_eq!(
            respond(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n").status,
            200
        );
        assert_eq!(
            respond(b"GET /health?verbose=1 HTTP/1.0\r\n\r\n").status,
            200
        );
    }

    #[test]
    fn other_paths_and_methods() {
        assert_eq!(respond(b"GET / HTTP/1.1\r\n\r\n").status, 404);
        assert_eq!(respond(b"GET /healthz HTTP/1.1\r\n\r\n").status, 404);
        assert_eq!(respond(b"POST /health HTTP/1.1\r\n\r\n").status, 405);
        assert_eq!(respond(b"HEAD /health HTTP/1.1\r\n\r\n").status, 405);
    }

    #[test]
    fn malformed_request_lines_are_bad_requests() {
        for head in [
            &b"\r\n\r\n"[..],
            b"GET /health\r\n\r\n",
            b"GET health HTTP/1.1\r\n\r\n",
            b"GET /health HTTP/2\r\n\r\n",
            b"GET  /health HTTP/1.1\r\n\r\n",
            b"get /health HTTP/1.1\r\n\r\n",
            b"GET /health HTTP/1.1 extra\r\n\r\n",
            b"GET /\xff HTTP/1.1\r\n\r\n",
            b"no line end at all",
        ] {
            assert_eq!(
                respond(head).status,
                400,
                "{:?}",
                String::from_utf8_lossy(head)
            );
        }
    }

    #[test]
    fn response_bytes_have_length_and_close() {
        let bytes = HEALTHY.to_bytes();
        let text = String::from_utf8_lossy(&bytes);
        assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
        assert!(text.contains("Content-Length: 15\r\n"), "{text}");
        assert!(
            text.contains("Connection: close\r\n\r\n{\"status\":\"ok\"}"),
            "{text}"
        );
        assert!(String::from_utf8_lossy(&NOT_ALLOWED.to_bytes()).contains("Allow: GET"));
    }
}
