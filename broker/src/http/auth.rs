//! Who an API request acts as. `POST /users/login` (username and password) and
//! `POST /personal-access-tokens/login` (a personal access token) check credentials with the
//! core's users service — the same checks, throttling and session rules as a native login — and
//! hand out an access token: a JWT (HS256) signed with a key drawn at random when the broker
//! starts, naming the user and a session id. Every other route takes it as
//! `Authorization: Bearer <token>`.
//!
//! The signature alone does not keep a session valid: each session is also kept here with
//! what its login was proved with ([`SessionCheck`]), and every request checks it again, so
//! deactivating or deleting the user, deleting the token it logged in with, or changing the
//! password (from another session) ends it at once, as for a native connection. Logout drops
//! it. Sessions are per process: a restart signs out every HTTP client.
//!
//! With `--auth false` a request without a token acts as the root user (every permission),
//! as the broker's start-up warning says; a token that is sent must still be valid.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::Request;
use axum::http::header;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use whippet_wire::native::status::Status;

use super::request::{ApiError, user_error};
use crate::context::BrokerContext;
use crate::core::users::{Login, ROOT_ID, SessionCheck};
use crate::limits;

type HmacSha256 = Hmac<Sha256>;

/// The header every token carries.
const JWT_HEADER: &str = r#"{"alg":"HS256","typ":"JWT"}"#;

/// The caller of one request.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    /// The user the request acts as.
    pub user_id: u32,
    /// The session it came with (`None`: no token, `--auth false`).
    pub session: Option<String>,
}

/// A token handed out at login.
#[derive(Debug, Serialize)]
pub(crate) struct IssuedToken {
    /// The JWT.
    pub token: String,
    /// When it expires, seconds since the epoch.
    pub expiry: u64,
}

/// The claims of an access token.
#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    /// The user id.
    sub: u32,
    /// Session id.
    jti: String,
    /// Issued at, seconds since the epoch.
    iat: u64,
    /// Expires at, seconds since the epoch.
    exp: u64,
}

/// One live HTTP session.
#[derive(Debug)]
struct Session {
    user_id: u32,
    check: SessionCheck,
    expires_at: u64,
}

/// The signing key and the live sessions.
#[derive(Debug)]
pub(crate) struct Sessions {
    key: [u8; 32],
    live: Mutex<HashMap<String, Session>>,
}

impl Default for Sessions {
    fn default() -> Self {
        Self {
            key: rand::random(),
            live: Mutex::new(HashMap::new()),
        }
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

impl Sessions {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        // Inserts and removes are single map operations: a poisoned map is still consistent.
        self.live
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Opens a session for a successful login and signs its token.
    pub fn issue(&self, login: Login) -> IssuedToken {
        let now = now_secs();
        let expiry = now + limits::HTTP_TOKEN_SECS;
        let jti = format!("{:032x}", rand::random::<u128>());
        let claims = Claims {
            sub: login.user_id,
            jti: jti.clone(),
            iat: now,
            exp: expiry,
        };
        let mut live = self.lock();
        live.retain(|_, session| session.expires_at > now);
        if live.len() >= limits::HTTP_SESSIONS_MAX {
            let oldest = live
                .iter()
                .min_by_key(|(_, session)| session.expires_at)
                .map(|(id, _)| id.clone());
            if let Some(oldest) = oldest {
                live.remove(&oldest);
            }
        }
        live.insert(
            jti,
            Session {
                user_id: login.user_id,
                check: login.check,
                expires_at: expiry,
            },
        );
        IssuedToken {
            token: self.sign(&claims),
            expiry,
        }
    }

    fn sign(&self, claims: &Claims) -> String {
        let payload = serde_json::to_vec(claims).unwrap_or_default();
        let unsigned = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(JWT_HEADER),
            URL_SAFE_NO_PAD.encode(payload)
        );
        let signature = self.mac(unsigned.as_bytes()).finalize().into_bytes();
        format!("{unsigned}.{}", URL_SAFE_NO_PAD.encode(signature))
    }

    fn mac(&self, data: &[u8]) -> HmacSha256 {
        // HMAC takes a key of any length: `new_from_slice` cannot fail.
        let mut mac = <HmacSha256 as Mac>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
        mac.update(data);
        mac
    }

    /// The claims of a token whose signature is ours and that has not expired.
    fn claims(&self, token: &str) -> Result<Claims, ApiError> {
        let invalid = || ApiError::status(Status::Unauthenticated);
        let mut parts = token.splitn(3, '.');
        let (Some(head), Some(payload), Some(signature)) =
            (parts.next(), parts.next(), parts.next())
        else {
            return Err(invalid());
        };
        let signature = URL_SAFE_NO_PAD.decode(signature).map_err(|_| invalid())?;
        let signed = &token[..head.len() + 1 + payload.len()];
        self.mac(signed.as_bytes())
            .verify_slice(&signature)
            .map_err(|_| invalid())?;
        let payload = URL_SAFE_NO_PAD.decode(payload).map_err(|_| invalid())?;
        let claims: Claims = serde_json::from_slice(&payload).map_err(|_| invalid())?;
        if claims.exp <= now_secs() {
            return Err(invalid());
        }
        Ok(claims)
    }

    /// The caller a valid token names, after checking its session again against the users
    /// service (a revoked session is dropped and refused).
    pub fn verify(&self, ctx: &BrokerContext, token: &str) -> Result<Caller, ApiError> {
        let claims = self.claims(token)?;
        let mut live = self.lock();
        let Some(session) = live.get_mut(&claims.jti) else {
            return Err(ApiError::status(Status::Unauthenticated));
        };
        let checked = ctx
            .core
            .users
            .check_session(session.user_id, &mut session.check);
        if let Err(error) = checked {
            live.remove(&claims.jti);
            return Err(user_error(&error));
        }
        Ok(Caller {
            user_id: session.user_id,
            session: Some(claims.jti),
        })
    }

    /// A new token for the caller's session (the old one stays valid until it expires).
    pub fn refresh(&self, caller: &Caller) -> Result<IssuedToken, ApiError> {
        let check = {
            let live = self.lock();
            let session = caller
                .session
                .as_ref()
                .and_then(|id| live.get(id))
                .ok_or_else(|| ApiError::status(Status::Unauthenticated))?;
            session.check.clone()
        };
        Ok(self.issue(Login {
            user_id: caller.user_id,
            check,
        }))
    }

    /// Ends the caller's session.
    pub fn revoke(&self, caller: &Caller) {
        if let Some(id) = &caller.session {
            self.lock().remove(id);
        }
    }

    /// Keeps the caller's session valid across the password change it just made.
    pub fn renew_password(&self, ctx: &BrokerContext, caller: &Caller) {
        let Some(id) = &caller.session else { return };
        if let Some(session) = self.lock().get_mut(id) {
            ctx.core
                .users
                .renew_password_session(session.user_id, &mut session.check);
        }
    }
}

/// The bearer token of `request`, if it sends one.
pub(crate) fn bearer(request: &Request) -> Option<&str> {
    let value = request
        .headers()
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))?
        .trim();
    (!token.is_empty()).then_some(token)
}

/// Who `request` acts as: the user of its valid token; without a token, root when the broker
/// runs with `--auth false`, else `401`.
pub(crate) fn caller(
    ctx: &BrokerContext,
    sessions: &Sessions,
    request: &Request,
) -> Result<Caller, ApiError> {
    match bearer(request) {
        Some(token) => sessions.verify(ctx, token),
        None if !ctx.security.auth => Ok(Caller {
            user_id: ROOT_ID,
            session: None,
        }),
        None => Err(ApiError::status(Status::Unauthenticated)),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn tokens_are_signed_and_checked() {
        let sessions = Sessions::default();
        let issued = sessions.issue(Login {
            user_id: 7,
            check: SessionCheck::default(),
        });
        let claims = sessions.claims(&issued.token).unwrap();
        assert_eq!(claims.sub, 7);
        assert!(issued.expiry > now_secs());
        // Another key (another broker process) does not accept it.
        assert!(Sessions::default().claims(&issued.token).is_err());
        // A changed payload breaks the signature.
        let mut parts: Vec<&str> = issued.token.split('.').collect();
        let forged = URL_SAFE_NO_PAD.encode(br#"{"sub":0,"jti":"x","iat":0,"exp":99999999999}"#);
        parts[1] = &forged;
        assert!(sessions.claims(&parts.join(".")).is_err());
        for garbage in ["", "a.b", "a.b.c", "...."] {
            assert!(sessions.claims(garbage).is_err(), "{garbage}");
        }
    }
}
