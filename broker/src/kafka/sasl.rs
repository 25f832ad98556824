//! SASL on the Kafka listener (`SASL_PLAINTEXT`, `SASL_SSL`): what a connection may do before
//! it authenticates, SaslHandshake (v0–1) and SaslAuthenticate (v0–2) over the users core's
//! exchange ([`crate::core::users::sasl`]), and the legacy unframed exchange of clients that
//! sent a v0 handshake (bare size-prefixed tokens instead of SaslAuthenticate).
//!
//! The rules, as the Java broker has them: before authentication only ApiVersions,
//! SaslHandshake and SaslAuthenticate are served and anything else closes the connection; a
//! failed authentication is answered with SASL_AUTHENTICATION_FAILED (58) and a message, and
//! the connection is closed; a legacy exchange that fails is closed without an answer. An
//! authenticated connection's session is checked again before each request, so a deleted or
//! deactivated user, or a changed password, ends it at its next request.

use std::net::IpAddr;

use bytes::Bytes;
use kafka_protocol::messages::{
    ApiKey, ResponseKind, SaslAuthenticateRequest, SaslAuthenticateResponse, SaslHandshakeRequest,
    SaslHandshakeResponse,
};
use kafka_protocol::protocol::StrBytes;

use crate::context::BrokerContext;
use crate::core::Principal;
use crate::core::users::SessionCheck;
use crate::core::users::sasl::{MECHANISMS, SaslExchange, SaslFailure, SaslMechanism, SaslStep};

/// SASL_AUTHENTICATION_FAILED.
const SASL_AUTHENTICATION_FAILED: i16 = 58;
/// UNSUPPORTED_SASL_MECHANISM.
const UNSUPPORTED_SASL_MECHANISM: i16 = 33;
/// ILLEGAL_SASL_STATE.
const ILLEGAL_SASL_STATE: i16 = 34;

/// Where a connection stands with authentication.
#[derive(Debug)]
pub(crate) enum Auth {
    /// The listener does not authenticate: every request is served as anonymous.
    Open,
    /// SASL is required and has not succeeded yet.
    Pending(Option<Handshaken>),
    /// Authenticated as this user.
    User {
        /// The user.
        id: u32,
        /// What is checked again before each request.
        check: SessionCheck,
    },
}

/// A mechanism chosen by SaslHandshake, with its exchange.
#[derive(Debug)]
pub(crate) struct Handshaken {
    exchange: SaslExchange,
    /// A v0 handshake: the tokens follow unframed.
    legacy: bool,
}

/// What the connection does after a SASL request.
pub(crate) enum SaslAnswer {
    /// Send this response and go on.
    Respond(ResponseKind),
    /// Send this response, then close (a failed authentication).
    RespondAndClose(ResponseKind),
}

impl Auth {
    /// The state a new connection on a listener that does (or does not) require SASL starts in.
    pub(crate) fn start(sasl: bool) -> Self {
        if sasl {
            Self::Pending(None)
        } else {
            Self::Open
        }
    }

    /// Whether the connection has yet to authenticate.
    pub(crate) fn pending(&self) -> bool {
        matches!(self, Self::Pending(_))
    }

    /// Whether the next frame is a bare legacy token rather than a request.
    pub(crate) fn expects_legacy_token(&self) -> bool {
        matches!(self, Self::Pending(Some(Handshaken { legacy: true, .. })))
    }

    /// Whether `key` may be served in this state.
    pub(crate) fn allows(&self, key: i16) -> bool {
        !self.pending()
            || [
                ApiKey::ApiVersions,
                ApiKey::SaslHandshake,
                ApiKey::SaslAuthenticate,
            ]
            .iter()
            .any(|allowed| *allowed as i16 == key)
    }

    /// Checks an authenticated session before a request; `false`: it was revoked (user
    /// deleted or deactivated, password changed) and the connection must close.
    pub(crate) fn still_valid(&mut self, ctx: &BrokerContext) -> bool {
        match self {
            Self::User { id, check } => ctx.core.users.check_session(*id, check).is_ok(),
            _ => true,
        }
    }

    /// SaslHandshake: picks the mechanism.
    pub(crate) fn handshake(&mut self, request: &SaslHandshakeRequest, version: i16) -> SaslAnswer {
        let mechanisms = MECHANISMS
            .iter()
            .map(|m| StrBytes::from_static_str(m))
            .collect();
        let response = |error_code| {
            ResponseKind::SaslHandshake(
                SaslHandshakeResponse::default()
                    .with_error_code(error_code)
                    .with_mechanisms(mechanisms),
            )
        };
        if !matches!(self, Self::Pending(None)) {
            return SaslAnswer::RespondAndClose(response(ILLEGAL_SASL_STATE));
        }
        match SaslMechanism::from_name(request.mechanism.as_str()) {
            Some(mechanism) => {
                *self = Self::Pending(Some(Handshaken {
                    exchange: SaslExchange::new(mechanism),
                    legacy: version == 0,
                }));
                SaslAnswer::Respond(response(0))
            }
            None => SaslAnswer::RespondAndClose(response(UNSUPPORTED_SASL_MECHANISM)),
        }
    }

    /// SaslAuthenticate: one step of the exchange.
    pub(crate) async fn authenticate(
        &mut self,
        ctx: &BrokerContext,
        address: IpAddr,
        request: SaslAuthenticateRequest,
    ) -> (SaslAnswer, Option<Principal>) {
        let Self::Pending(Some(handshaken)) = self else {
            let refused = SaslAuthenticateResponse::default()
                .with_error_code(ILLEGAL_SASL_STATE)
                .with_error_message(Some(StrBytes::from_static_str(
                    "SaslAuthenticate without a SaslHandshake first",
                )));
            return (
                SaslAnswer::RespondAndClose(ResponseKind::SaslAuthenticate(refused)),
                None,
            );
        };
        let step = ctx
            .core
            .users
            .sasl_step(address, &mut handshaken.exchange, &request.auth_bytes)
            .await;
        let (bytes, principal) = match self.after_step(step) {
            Ok(answered) => answered,
            Err(failure) => {
                tracing::info!(%address, %failure, "Kafka SASL authentication failed");
                ctx.core.metrics.login_failed("kafka");
                let refused = SaslAuthenticateResponse::default()
                    .with_error_code(SASL_AUTHENTICATION_FAILED)
                    .with_error_message(Some(StrBytes::from_string(failure.to_string())));
                return (
                    SaslAnswer::RespondAndClose(ResponseKind::SaslAuthenticate(refused)),
                    None,
                );
            }
        };
        let response = SaslAuthenticateResponse::default().with_auth_bytes(Bytes::from(bytes));
        (
            SaslAnswer::Respond(ResponseKind::SaslAuthenticate(response)),
            principal,
        )
    }

    /// One bare token of the legacy exchange; answers the bare reply token, or `None` when the
    /// connection must close.
    pub(crate) async fn legacy_token(
        &mut self,
        ctx: &BrokerContext,
        address: IpAddr,
        token: &[u8],
    ) -> Option<(Vec<u8>, Option<Principal>)> {
        let Self::Pending(Some(handshaken)) = self else {
            return None;
        };
        let step = ctx
            .core
            .users
            .sasl_step(address, &mut handshaken.exchange, token)
            .await;
        match self.after_step(step) {
            Ok(answered) => Some(answered),
            Err(failure) => {
                tracing::info!(%address, %failure, "Kafka SASL authentication failed (legacy)");
                ctx.core.metrics.login_failed("kafka");
                None
            }
        }
    }

    /// Moves to the authenticated state when the exchange is done; answers the reply bytes and
    /// the new principal, if any.
    fn after_step(
        &mut self,
        step: Result<SaslStep, SaslFailure>,
    ) -> Result<(Vec<u8>, Option<Principal>), SaslFailure> {
        match step? {
            SaslStep::Continue(challenge) => Ok((challenge, None)),
            SaslStep::Done { login, reply } => {
                let id = login.user_id;
                *self = Self::User {
                    id,
                    check: login.check,
                };
                Ok((reply, Some(Principal::User { id })))
            }
        }
    }
}

/// The answer to SaslHandshake or SaslAuthenticate on a listener without SASL.
pub(crate) fn not_enabled(key: i16) -> ResponseKind {
    if key == ApiKey::SaslHandshake as i16 {
        ResponseKind::SaslHandshake(
            SaslHandshakeResponse::default().with_error_code(UNSUPPORTED_SASL_MECHANISM),
        )
    } else {
        ResponseKind::SaslAuthenticate(
            SaslAuthenticateResponse::default()
                .with_error_code(ILLEGAL_SASL_STATE)
                .with_error_message(Some(StrBytes::from_static_str(
                    "this listener does not use SASL",
                ))),
        )
    }
}
