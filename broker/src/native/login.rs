//! Login (Register, codes 40 and 45), logout (39) and the legacy login codes (38, 44). A login
//! checks the protocol version first (eviction 14 with the accepted window when it is outside),
//! then the credentials or token (eviction 9 or 10 when they are wrong), and hands out a fresh
//! non-zero session the SDK stamps on every later request.

use std::sync::Arc;

use whippet_wire::native::codec::WireDecode;
use whippet_wire::native::commands::system::{
    LoginReply, PROTOCOL_VERSION_0_11_0, Register, client_version_accepted,
};
use whippet_wire::native::eviction::{Eviction, EvictionReason, ProtocolWindow};
use whippet_wire::native::header::RequestHeader;
use whippet_wire::native::status::Status;

use super::Answer;
use super::call::{Conn, Outcome, Payload};
use super::users::{Login, SessionCheck};
use crate::context::BrokerContext;

/// Version text the login reply carries (the SDK only logs it).
const SERVER_VERSION: &str = env!("CARGO_PKG_VERSION");

fn evict(header: &RequestHeader, reason: EvictionReason) -> Answer {
    let window = (reason == EvictionReason::IncompatibleProtocol).then_some(ProtocolWindow {
        max: PROTOCOL_VERSION_0_11_0,
        min: PROTOCOL_VERSION_0_11_0,
    });
    Answer::Evict(Eviction {
        client: header.client,
        reason,
        window,
    })
}

/// Codes 40 and 45 (operation Register).
pub(crate) async fn register(
    ctx: &Arc<BrokerContext>,
    conn: &mut Conn,
    header: &RequestHeader,
    body: &[u8],
) -> Answer {
    let Ok(version) = Register::peek_protocol_version(body) else {
        return evict(header, EvictionReason::MalformedLogin);
    };
    if !client_version_accepted(version, PROTOCOL_VERSION_0_11_0) {
        return evict(header, EvictionReason::IncompatibleProtocol);
    }
    let Ok(register) = Register::decode_exact(body) else {
        return evict(header, EvictionReason::MalformedLogin);
    };
    let users = &ctx.native.users;
    let address = conn.client.addr.ip();
    let verified = match &register {
        Register::Credentials {
            username, password, ..
        } => users
            .verify_password(address, username, password)
            .await
            .map_err(|status| match status {
                Status::UserInactive => EvictionReason::UserInactive,
                _ => EvictionReason::InvalidCredentials,
            }),
        Register::Token { token, .. } => {
            users
                .verify_token(address, token)
                .map_err(|status| match status {
                    Status::UserInactive => EvictionReason::UserInactive,
                    _ => EvictionReason::InvalidToken,
                })
        }
    };
    let login = match verified {
        Ok(login) => login,
        Err(reason) => {
            ctx.core.metrics.login_failed("native");
            end_session(ctx, conn);
            return evict(header, reason);
        }
    };
    let user_id = start_session(ctx, conn, login);
    Answer::Reply(Ok(Payload::encode(&LoginReply {
        user_id,
        session: conn.session,
        server_protocol_version: PROTOCOL_VERSION_0_11_0,
        server_version: SERVER_VERSION.to_owned(),
    })))
}

/// Legacy login codes 38 and 44: never sent by a 0.11 SDK; the reference server evicts with
/// MalformedLogin.
pub(crate) fn legacy(header: &RequestHeader) -> Answer {
    evict(header, EvictionReason::MalformedLogin)
}

/// Code 39: ends the session; the connection stays open for a new login.
pub(crate) fn logout(ctx: &BrokerContext, conn: &mut Conn) -> Outcome {
    end_session(ctx, conn);
    Ok(Payload::Empty)
}

/// Records a successful login on the connection; returns the user id.
pub(super) fn start_session(ctx: &BrokerContext, conn: &mut Conn, login: Login) -> u32 {
    conn.user_id = Some(login.user_id);
    conn.session_check = login.check;
    conn.session = ctx.native.next_session();
    conn.client.set_user(Some(login.user_id));
    login.user_id
}

/// Answers Unauthenticated and ends the session when it was revoked since its last request
/// (user deactivated or deleted, token deleted or expired).
pub(super) fn check_session(ctx: &BrokerContext, conn: &mut Conn) -> Result<(), Status> {
    let Some(user_id) = conn.user_id else {
        return Ok(());
    };
    let checked = ctx
        .native
        .users
        .check_session(user_id, &mut conn.session_check);
    if checked.is_err() {
        tracing::info!(
            user_id,
            client = conn.client.id,
            "session revoked; logging it out"
        );
        end_session(ctx, conn);
    }
    checked
}

pub(super) fn end_session(ctx: &BrokerContext, conn: &mut Conn) {
    if conn.user_id.take().is_some() {
        ctx.native.groups.on_disconnect(conn.client.id);
    }
    conn.session = 0;
    conn.session_check = SessionCheck::default();
    conn.client.set_user(None);
}
