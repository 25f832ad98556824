//! What every native command handler receives and returns. Handlers are plain async functions
//! `(ctx, conn, call) -> Outcome`; the connection loop owns framing (result sections, reply
//! headers, evictions), so a handler only decides the payload or the status.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use whippet_wire::native::codec::{WireDecode, WireEncode};
use whippet_wire::native::header::RequestHeader;
use whippet_wire::native::status::Status;

use super::state::ClientEntry;
use super::users::SessionCheck;
use crate::context::BrokerContext;
use crate::core::{Principal, RequestContext};

/// One decoded request as handlers see it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Call<'a> {
    /// Command code (for replicated ops, mapped back from the operation byte).
    pub code: u32,
    /// The request header (client id, request number, operation).
    pub header: &'a RequestHeader,
    /// The body after the 256-byte header, already checked against `request_checksum`.
    pub body: &'a [u8],
}

impl Call<'_> {
    /// Decodes the whole body as `T`; leftovers or a short body are InvalidCommand (what the
    /// reference server answers for an undecodable body).
    pub fn decode<T: WireDecode>(&self) -> Result<T, Status> {
        T::decode_exact(self.body).map_err(|error| {
            let status = error.status();
            if status == Status::InvalidFormat {
                Status::InvalidCommand
            } else {
                status
            }
        })
    }
}

/// A successful reply payload. For result-framed operations the connection loop writes the
/// `count 0` result section in front of it.
#[derive(Debug)]
pub(crate) enum Payload {
    /// Nothing (also how a single-object read says "not found").
    Empty,
    /// One contiguous buffer.
    Bytes(BytesMut),
    /// Several buffers written back to back (poll replies: a small head plus stored batches
    /// served as they are, without copying them into one buffer).
    Parts(Vec<Bytes>),
}

impl Payload {
    /// Encodes one wire value into a fresh buffer.
    pub fn encode(value: &impl WireEncode) -> Self {
        let mut out = BytesMut::with_capacity(value.encoded_size());
        value.encode(&mut out);
        Self::Bytes(out)
    }

    /// Total length in bytes.
    pub fn len(&self) -> usize {
        match self {
            Self::Empty => 0,
            Self::Bytes(bytes) => bytes.len(),
            Self::Parts(parts) => parts.iter().map(Bytes::len).sum(),
        }
    }
}

/// What a handler returns: a payload, or the status the SDK turns into an `IggyError`.
pub(crate) type Outcome = Result<Payload, Status>;

/// What a command needs to be allowed, checked against the logged-in user's permissions by
/// [`super::users::UserStore::authorize`]: the core's access vocabulary.
pub(crate) use crate::core::users::Access;

/// Per-connection state the handlers may read and change.
#[derive(Debug)]
pub(crate) struct Conn {
    /// The registry entry of this connection (server-side client id, user, last activity).
    pub client: Arc<ClientEntry>,
    /// Logged-in user, if any.
    pub user_id: Option<u32>,
    /// Session number handed out at login (0 before login).
    pub session: u64,
    /// Whether the connection speaks the classic framing (SDKs up to 0.10), whose semantics
    /// differ in a few places (a group member may name any partition).
    pub classic: bool,
    /// What the session was proved with, checked again after user changes.
    pub session_check: SessionCheck,
}

impl Conn {
    /// A connection not logged in yet.
    pub fn new(client: Arc<ClientEntry>) -> Self {
        Self {
            client,
            user_id: None,
            session: 0,
            classic: false,
            session_check: SessionCheck::default(),
        }
    }

    /// The logged-in user, or Unauthenticated.
    pub fn user(&self) -> Result<u32, Status> {
        self.user_id.ok_or(Status::Unauthenticated)
    }

    /// The core's view of this connection: its user (if logged in) and client id.
    pub fn rc(&self) -> RequestContext {
        let principal = self
            .user_id
            .map_or(Principal::Anonymous, |id| Principal::User { id });
        RequestContext::new(principal, "native", u64::from(self.client.id))
    }

    /// Checks that the logged-in user may do `access`.
    pub fn require(&self, ctx: &BrokerContext, access: Access) -> Result<(), Status> {
        let user = self.user()?;
        ctx.native.users.authorize(user, access)
    }
}
