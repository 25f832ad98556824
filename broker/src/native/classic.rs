//! The classic Iggy framing (SDKs up to `iggy` 0.10, `apache-iggy` 0.8, server 0.8) on the
//! native port. A connection whose first four bytes are a non-zero length speaks it:
//! `[length][code][payload]` requests, `[status][length][payload]` replies, no sessions, one
//! login per connection (38 with a password, 44 with a personal access token).
//!
//! Only framing, login and body layouts differ between the generations, so this loop handles
//! login itself and, for every other code, translates the classic body into the 0.11 body
//! (`whippet_wire::native::classic::request_to_current`), runs the same dispatcher and handlers
//! as a 0.11 request (with a synthesised NonReplicated header), and translates the 0.11 reply
//! back (`reply_to_classic`). Classic sends therefore land in the log as 0.11 batches, readable
//! by either generation and by Kafka.
//!
//! Reactions to bad input: a length below 4 or above the frame limit closes the connection; a
//! body that does not decode gets InvalidCommand (or the status its check names, such as a
//! message count that does not match the index block); an unknown code gets InvalidCommand;
//! anything but ping and login before login gets Unauthenticated. Nothing rejected is written.

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::AsyncWriteExt;
use tokio_util::sync::CancellationToken;
use tracing::warn;
use whippet_wire::native::classic::{
    self, ClassicLogin, Translated, decode_token_login, encode_login_reply, encode_reply_prefix,
    request_to_current_with,
};
use whippet_wire::native::codes;
use whippet_wire::native::header::{Operation, RequestHeader};
use whippet_wire::native::limits::HEADER_BYTES;
use whippet_wire::native::status::Status;

use super::call::Payload;
use super::users::Login;
use super::{Answer, Connection, dispatch, login};
use crate::connections::Reservation;
use crate::limits;
use crate::server::Closed;

/// Bytes of the classic request prefix (`length`, `code`).
const PREFIX_BYTES: usize = 8;

/// What one classic request gets back: a reply payload or a status.
type ClassicReply = Result<Bytes, Status>;

impl Connection {
    /// Serves classic requests until the peer leaves, a frame is rejected or shutdown.
    pub(super) async fn run_classic(&mut self, shutdown: &CancellationToken) -> Closed {
        loop {
            let frame = tokio::select! {
                () = shutdown.cancelled() => return Closed::Shutdown,
                frame = self.next_classic_frame() => frame,
            };
            let (code, frame, reservation) = match frame {
                Ok(frame) => frame,
                Err(closed) => return closed,
            };
            self.conn.client.touch();
            let reply = self.answer_classic(code, frame.slice(PREFIX_BYTES..)).await;
            if let Err(error) = self.write_classic(reply).await {
                return Closed::Io(error);
            }
            // The request is answered: its bytes go back to the budget.
            drop(reservation);
            if self.read.capacity() > limits::NATIVE_READ_CHUNK_BYTES * 4 && self.read.is_empty() {
                self.read = BytesMut::with_capacity(limits::NATIVE_READ_CHUNK_BYTES);
            }
        }
    }

    /// Reads one whole classic frame; returns its code, the frame (prefix included) and its
    /// reservation of the request budget when it is large. Before login a frame may be at
    /// most [`limits::NATIVE_UNAUTHENTICATED_FRAME_BYTES_MAX`].
    async fn next_classic_frame(&mut self) -> Result<(u32, Bytes, Option<Reservation>), Closed> {
        self.clock.set_established(self.conn.user_id.is_some());
        let mut reservation = None;
        let mut started = None;
        loop {
            // The length is checked against the frame cap before anything is reserved.
            let frame_len = classic::peek_frame_len(&self.read)
                .map_err(|error| Closed::Rejected(error.to_string()))?;
            if let Some(frame_len) = frame_len {
                self.check_frame_size(frame_len)?;
            }
            match classic::peek_request(&self.read) {
                Ok(Some(frame)) => {
                    let bytes = self.take_frame(frame.frame_len, reservation.is_some());
                    return Ok((frame.code, bytes, reservation));
                }
                Ok(None) => {}
                Err(error) => return Err(Closed::Rejected(error.to_string())),
            }
            if let Some(frame_len) = frame_len
                && reservation.is_none()
            {
                reservation = self.reserve_budget(frame_len, &mut started).await;
            }
            let wanted = frame_len.unwrap_or(PREFIX_BYTES);
            self.read.reserve(wanted.saturating_sub(self.read.len()));
            self.read_more(&mut started).await?;
        }
    }

    /// Answers one classic request.
    async fn answer_classic(&mut self, code: u32, body: Bytes) -> ClassicReply {
        match code {
            codes::LOGIN_USER_LEGACY => return self.classic_login(&body).await,
            codes::LOGIN_WITH_TOKEN_LEGACY => return self.classic_token_login(&body),
            codes::PING => {}
            _ if self.conn.user_id.is_none() => return Err(Status::Unauthenticated),
            _ => {}
        }
        // Like the 0.8 server, a message sent with id 0 gets a random UUID v4. From the
        // thread's buffered CSPRNG: `Uuid::new_v4` makes one `getrandom` system call per id,
        // which was a fifth of the broker's CPU on batched classic sends.
        // (`ThreadRng` is not `Send`, so it lives only in this block, never across an await.)
        let translated = {
            let mut rng = rand::thread_rng();
            let mut fresh_id = || {
                let mut bytes = [0u8; 16];
                rand::RngCore::fill_bytes(&mut rng, &mut bytes);
                uuid::Builder::from_random_bytes(bytes)
                    .into_uuid()
                    .as_u128()
            };
            request_to_current_with(code, &body, &mut fresh_id).map_err(|error| error.status())?
        };
        // Either body is handed on whole, so a send's batch is appended uncopied.
        let body = match translated {
            Translated::Same => body,
            Translated::Body(current) => current.freeze(),
        };
        let header = synthesised_header(code, body.len());
        let payload = match dispatch::dispatch(&self.ctx, &mut self.conn, &header, body).await {
            Answer::Reply(Ok(payload)) => payload,
            Answer::Reply(Err(status)) => return Err(status),
            Answer::Evict(eviction) => {
                warn!(code, reason = ?eviction.reason, "classic request ended in an eviction");
                return Err(Status::Error);
            }
        };
        let translated = match payload {
            // Polls: the stored batches go straight into the classic reply, not joined first.
            Payload::Parts(parts) if code == codes::POLL_MESSAGES => {
                let parts: Vec<&[u8]> = parts.iter().map(|part| &part[..]).collect();
                classic::poll_parts_to_classic(&parts).map(BytesMut::freeze)
            }
            payload => {
                let current = contiguous(payload);
                match classic::reply_to_classic(code, &current) {
                    Ok(reply) => Ok(reply.map_or(current, BytesMut::freeze)),
                    Err(error) => Err(error),
                }
            }
        };
        translated.map_err(|error| {
            warn!(code, %error, "a 0.11 reply did not translate to the classic layout");
            Status::Error
        })
    }

    /// Login 38: username and password; the reply carries the user id.
    async fn classic_login(&mut self, body: &[u8]) -> ClassicReply {
        let login = ClassicLogin::decode(body).map_err(|_| Status::InvalidCommand)?;
        let verified = self
            .ctx
            .native
            .users
            .verify_password(self.conn.client.addr.ip(), &login.username, &login.password)
            .await;
        self.finish_login(verified)
    }

    /// Login 44: a personal access token.
    fn classic_token_login(&mut self, body: &[u8]) -> ClassicReply {
        let token = decode_token_login(body).map_err(|_| Status::InvalidCommand)?;
        let address = self.conn.client.addr.ip();
        let verified = self.ctx.native.users.verify_token(address, &token);
        self.finish_login(verified)
    }

    fn finish_login(&mut self, verified: Result<Login, Status>) -> ClassicReply {
        let login = match verified {
            Ok(login) => login,
            Err(status) => {
                login::end_session(&self.ctx, &mut self.conn);
                return Err(status);
            }
        };
        let user_id = login::start_session(&self.ctx, &mut self.conn, login);
        let mut out = BytesMut::with_capacity(16);
        encode_login_reply(&mut out, user_id);
        Ok(out.freeze())
    }

    /// Writes `[status][length][payload]` and flushes it (see `write_answer`).
    async fn write_classic(&mut self, reply: ClassicReply) -> std::io::Result<()> {
        self.write_classic_unflushed(reply).await?;
        self.stream.flush().await
    }

    /// Writes `[status][length][payload]`; large payloads go straight from their buffer.
    async fn write_classic_unflushed(&mut self, reply: ClassicReply) -> std::io::Result<()> {
        self.write.clear();
        let mut payload = match reply {
            Ok(payload) => payload,
            Err(status) => {
                encode_reply_prefix(&mut self.write, status.code(), 0);
                return self.stream.write_all(&self.write).await;
            }
        };
        let Ok(length) = u32::try_from(payload.len()) else {
            encode_reply_prefix(&mut self.write, Status::Error.code(), 0);
            return self.stream.write_all(&self.write).await;
        };
        encode_reply_prefix(&mut self.write, Status::Ok.code(), length);
        if payload.len() <= limits::NATIVE_READ_CHUNK_BYTES {
            self.write.extend_from_slice(&payload);
            return self.stream.write_all(&self.write).await;
        }
        self.stream.write_all(&self.write).await?;
        while payload.has_remaining() {
            self.stream.write_buf(&mut payload).await?;
        }
        Ok(())
    }
}

/// The 0.11 header a classic request is dispatched with: NonReplicated, the classic code as the
/// legacy code, no session (the dispatcher only checks sessions of replicated ops).
fn synthesised_header(code: u32, body_len: usize) -> RequestHeader {
    RequestHeader {
        checksum: 0,
        checksum_body: 0,
        cluster: 0,
        size: u32::try_from(HEADER_BYTES + body_len).unwrap_or(u32::MAX),
        view: 0,
        release: 0,
        replica: 0,
        client: 0,
        request_checksum: 0,
        timestamp: 0,
        request: 0,
        operation: Operation::NonReplicated,
        session: 0,
        user_id: 0,
        legacy_code: code,
    }
}

/// One buffer holding the whole 0.11 reply payload (the classic translation reads it whole).
fn contiguous(payload: Payload) -> Bytes {
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
