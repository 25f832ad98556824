//! Runs an API request as the native command it corresponds to. The HTTP API keeps no rules of
//! its own: a handler turns its JSON into the native command's wire body, and this module runs
//! it through the native command router ([`crate::native::dispatch::run_for`]) as the caller's
//! user — the same permission checks, name rules and core calls as a native client gets — then
//! hands back the reply for the handler to render as JSON.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use whippet_wire::native::codec::{WireDecode, WireEncode};

use super::auth::Caller;
use super::request::ApiError;
use crate::context::BrokerContext;
use crate::native::call::{Conn, Payload};

/// Runs command `code` with `body` (already encoded) for `caller`.
pub(crate) async fn run_raw(
    ctx: &Arc<BrokerContext>,
    caller: &Caller,
    peer: SocketAddr,
    code: u32,
    body: &[u8],
) -> Result<Payload, ApiError> {
    let client = ctx.native.clients.detached(peer, Some(caller.user_id));
    let mut conn = Conn::new(client);
    conn.user_id = Some(caller.user_id);
    conn.session = 1;
    crate::native::dispatch::run_for(ctx, &mut conn, "http", code, body)
        .await
        .map_err(ApiError::status)
}

/// Runs command `code` with `request` for `caller`.
pub(crate) async fn run(
    ctx: &Arc<BrokerContext>,
    caller: &Caller,
    peer: SocketAddr,
    code: u32,
    request: &impl WireEncode,
) -> Result<Payload, ApiError> {
    let mut body = BytesMut::with_capacity(request.encoded_size());
    request.encode(&mut body);
    run_raw(ctx, caller, peer, code, &body).await
}

/// The reply as one buffer.
pub(crate) fn bytes(payload: Payload) -> Bytes {
    match payload {
        Payload::Empty => Bytes::new(),
        Payload::Bytes(bytes) => bytes.freeze(),
        Payload::Parts(parts) if parts.len() == 1 => parts.into_iter().next().unwrap_or_default(),
        Payload::Parts(parts) => {
            let mut out = BytesMut::with_capacity(parts.iter().map(Bytes::len).sum());
            for part in parts {
                out.extend_from_slice(&part);
            }
            out.freeze()
        }
    }
}

/// The reply decoded as `T`; an empty reply (how a single-object read says "not found") is
/// `None`.
pub(crate) fn decode<T: WireDecode>(payload: Payload) -> Result<Option<T>, ApiError> {
    let bytes = bytes(payload);
    if bytes.is_empty() {
        return Ok(None);
    }
    T::decode_exact(&bytes).map(Some).map_err(|error| {
        ApiError::new(
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            1,
            "error",
            format!("reply did not decode: {error}"),
        )
    })
}

/// The reply decoded as `T`, or `404` naming `what` when it is empty.
pub(crate) fn decode_found<T: WireDecode>(payload: Payload, what: &str) -> Result<T, ApiError> {
    decode(payload)?.ok_or_else(|| ApiError::not_found(format!("{what} not found")))
}
