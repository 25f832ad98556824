//! The server side of a SASL exchange against the users store, for any protocol that speaks
//! SASL (Kafka's SaslAuthenticate and its legacy unframed tokens): PLAIN checks the password
//! like a native login; SCRAM-SHA-256/512 answer the client-first message with the user's salt
//! and iteration count and check the client's proof against the stored keys. Both count a
//! failure against the client address and the username ([`super::throttle`]) and refuse a
//! throttled attempt before any check. An unknown user gets a decoy salt (the same for every
//! attempt with that name), so SCRAM does not reveal which names exist.

use std::net::IpAddr;

use whippet_wire::sasl::{self as messages, SaslError};

use super::scram::{self, Mechanism, ScramCredential};
use super::{Login, SessionCheck, UserError, Users};

/// The mechanisms offered, in the order SaslHandshake lists them.
pub const MECHANISMS: [&str; 3] = ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"];

/// A SASL mechanism the broker serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaslMechanism {
    /// PLAIN.
    Plain,
    /// SCRAM-SHA-256 or SCRAM-SHA-512.
    Scram(Mechanism),
}

impl SaslMechanism {
    /// The mechanism named `name` (exact, as Kafka matches it).
    pub fn from_name(name: &str) -> Option<Self> {
        if name == "PLAIN" {
            return Some(Self::Plain);
        }
        Mechanism::from_name(name).map(Self::Scram)
    }
}

/// One connection's exchange in progress.
#[derive(Debug)]
pub struct SaslExchange {
    mechanism: SaslMechanism,
    state: State,
}

#[derive(Debug)]
enum State {
    Start,
    /// The server-first message was sent.
    ScramSent(Box<ScramSent>),
    Done,
}

#[derive(Debug)]
struct ScramSent {
    username: String,
    /// The user and the password hash its credential belongs to (`None`: unknown user).
    user: Option<(u32, String)>,
    credential: ScramCredential,
    gs2_header: String,
    client_first_bare: String,
    server_first: String,
    nonce: String,
}

/// What to answer after one client message.
#[derive(Debug)]
pub enum SaslStep {
    /// Send this challenge and wait for the next client message.
    Continue(Vec<u8>),
    /// Authenticated: send this last message (empty for PLAIN).
    Done {
        /// The logged-in user.
        login: Login,
        /// The server's last message.
        reply: Vec<u8>,
    },
}

/// Why an exchange failed.
#[derive(Debug, thiserror::Error)]
pub enum SaslFailure {
    /// Unknown user, wrong password or proof, inactive user, or a throttled attempt.
    #[error("Authentication failed: invalid credentials")]
    Credentials,
    /// The client broke the mechanism's rules.
    #[error("Authentication failed: {0}")]
    Protocol(#[from] SaslError),
    /// A message arrived after the exchange ended, or out of order.
    #[error("Authentication failed: unexpected SASL message")]
    OutOfOrder,
    /// The store could not answer.
    #[error("Authentication failed: {0}")]
    Internal(String),
}

impl From<UserError> for SaslFailure {
    fn from(error: UserError) -> Self {
        match error {
            UserError::Internal(message) | UserError::NotSaved(message) => Self::Internal(message),
            _ => Self::Credentials,
        }
    }
}

impl SaslExchange {
    /// A new exchange of `mechanism`.
    pub fn new(mechanism: SaslMechanism) -> Self {
        Self {
            mechanism,
            state: State::Start,
        }
    }
}

impl Users {
    /// Feeds one client message of `exchange` from `address`; answers the server's reply.
    pub async fn sasl_step(
        &self,
        address: IpAddr,
        exchange: &mut SaslExchange,
        token: &[u8],
    ) -> Result<SaslStep, SaslFailure> {
        match (
            std::mem::replace(&mut exchange.state, State::Done),
            exchange.mechanism,
        ) {
            (State::Start, SaslMechanism::Plain) => {
                let plain = messages::parse_plain(token)?;
                let login = self
                    .verify_password(address, plain.username, plain.password)
                    .await?;
                Ok(SaslStep::Done {
                    login,
                    reply: Vec::new(),
                })
            }
            (State::Start, SaslMechanism::Scram(mechanism)) => {
                let sent = self.scram_first(address, mechanism, token)?;
                let reply = sent.server_first.clone().into_bytes();
                exchange.state = State::ScramSent(Box::new(sent));
                Ok(SaslStep::Continue(reply))
            }
            (State::ScramSent(sent), SaslMechanism::Scram(mechanism)) => {
                self.scram_final(address, mechanism, &sent, token)
            }
            _ => Err(SaslFailure::OutOfOrder),
        }
    }

    fn scram_first(
        &self,
        address: IpAddr,
        mechanism: Mechanism,
        token: &[u8],
    ) -> Result<ScramSent, SaslFailure> {
        let first = messages::parse_client_first(token)?;
        if !self.login_allowed(address, &first.username) {
            return Err(SaslFailure::Credentials);
        }
        let directory = self.directory();
        let stored = directory.by_name(&first.username).and_then(|user| {
            let credential = user.scram.as_ref()?.get(mechanism)?.clone();
            Some(((user.id, user.password_hash.clone()), credential))
        });
        let (user, credential) = match stored {
            Some((user, credential)) => (Some(user), credential),
            None => (
                None,
                scram::decoy(mechanism, &first.username, &self.decoy_key),
            ),
        };
        let nonce = format!("{}{}", first.nonce, scram::server_nonce());
        let server_first = messages::server_first(&nonce, &credential.salt, credential.iterations);
        Ok(ScramSent {
            username: first.username,
            user,
            credential,
            gs2_header: first.gs2_header,
            client_first_bare: first.bare,
            server_first,
            nonce,
        })
    }

    fn scram_final(
        &self,
        address: IpAddr,
        mechanism: Mechanism,
        sent: &ScramSent,
        token: &[u8],
    ) -> Result<SaslStep, SaslFailure> {
        let last = messages::parse_client_final(token)?;
        // The nonce must end with the one the server sent, as the Java broker checks it:
        // librdkafka before 2.x fixed it sends its own nonce again in front of the server's.
        if last.channel_binding != sent.gs2_header.as_bytes() || !last.nonce.ends_with(&sent.nonce)
        {
            self.login_failed(address, &sent.username);
            return Err(SaslError::Malformed("channel binding or nonce differs").into());
        }
        let auth_message = format!(
            "{},{},{}",
            sent.client_first_bare, sent.server_first, last.without_proof
        );
        let verified = scram::verify(
            mechanism,
            &sent.credential,
            auth_message.as_bytes(),
            &last.proof,
        );
        let (Some(signature), Some((user_id, hash))) = (verified, &sent.user) else {
            self.login_failed(address, &sent.username);
            return Err(SaslFailure::Credentials);
        };
        let state = self.meta.load();
        // The user must still be the one whose credential was checked: not deleted, not
        // deactivated, password not changed meanwhile.
        let current = state.users.get(*user_id);
        if current.is_none_or(|user| !user.active || &user.password_hash != hash) {
            return Err(SaslFailure::Credentials);
        }
        let check = SessionCheck {
            generation: state.users_version,
            password_hash: Some(hash.clone()),
            ..SessionCheck::default()
        };
        Ok(SaslStep::Done {
            login: Login {
                user_id: *user_id,
                check,
            },
            reply: messages::server_final(&signature).into_bytes(),
        })
    }
}
