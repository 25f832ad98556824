//! The Apache Iggy native (TCP) protocol listener: protocol 0.11 here, and the classic framing
//! of SDKs up to 0.10 on the same port ([`classic`]), chosen per connection from its first four
//! bytes (zero: a 0.11 header's checksum; non-zero: a classic length). The accept loop, connection
//! cap and shutdown drain are shared ([`crate::server::accept_loop`]); this module owns what
//! happens on one native connection: read 256-byte-header frames into a bounded buffer, decode
//! and validate the header, check the session, dispatch to the command family, and write the
//! reply header (echoing what the SDK reads) with the body framed as the operation demands.
//!
//! Reactions to bad input: a frame whose header does not decode (size outside 256..=64 MiB,
//! command byte other than Request, zero client id, unknown operation, session rules broken)
//! closes the connection, as the reference server's framing layer does; a bad request checksum
//! gets status 4 InvalidFormat; an unknown command code gets 3 InvalidCommand; a command before
//! login gets 40 Unauthenticated; login failures get the documented eviction frame. Before
//! login a frame may be at most [`limits::NATIVE_UNAUTHENTICATED_FRAME_BYTES_MAX`] (only ping
//! and login are possible then); a larger one closes the connection before its body is read.
//!
//! Limits on the reads ([`ReadClock`]): a connection must log in within
//! `connection_setup_timeout_ms` of the connect (or of its logout), a started frame must arrive
//! within `frame_read_timeout_ms`, and a logged-in connection silent for
//! `connection_idle_timeout_ms` is closed (the SDK pings every 5 s). A frame above
//! [`limits::REQUEST_BUDGET_EXEMPT_BYTES`] reserves its size from the broker-wide request
//! budget before its body is read and holds it until answered.

pub(crate) mod call;
mod classic;
pub(crate) mod dispatch;
mod errors;
pub(crate) mod groups;
mod info;
mod login;
mod messages;
mod offsets;
mod options;
mod partitions;
pub mod state;
mod streams;
mod system;
mod topics;
pub(crate) mod users;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use whippet_wire::native::codec::{WireDecode, WireEncode};
use whippet_wire::native::eviction::Eviction;
use whippet_wire::native::header::{
    ReplyHeader, RequestHeader, peek_frame_size, verify_request_checksum,
};
use whippet_wire::native::limits::HEADER_BYTES;
use whippet_wire::native::result::ResultSection;
use whippet_wire::native::status::Status;

use self::call::{Conn, Payload};
pub use self::state::NativeState;
use crate::connections::{Listener, ReadClock, RequestBudget, Reservation};
use crate::context::BrokerContext;
use crate::reading::{detach_read_buffer, read_until};
use crate::server::Closed;
use crate::tls::Transport;
use crate::{limits, server};

/// Serves native connections on `listener` until `shutdown` is cancelled and open connections
/// have drained.
pub async fn serve(listener: TcpListener, ctx: Arc<BrokerContext>, shutdown: CancellationToken) {
    server::accept_loop(Listener::Native, listener, ctx, shutdown, handle_connection).await;
}

/// What the dispatcher decided for one request.
#[derive(Debug)]
pub(crate) enum Answer {
    /// A reply (payload or status).
    Reply(call::Outcome),
    /// An eviction frame; the session ends (the connection stays open for a new login).
    Evict(Eviction),
}

async fn handle_connection(
    stream: TcpStream,
    peer: SocketAddr,
    ctx: Arc<BrokerContext>,
    shutdown: CancellationToken,
) {
    let stream = match server::establish(Listener::Native, stream, peer, &ctx, &shutdown).await {
        Ok(stream) => stream,
        Err(closed) => return closed.log("native", peer),
    };
    let client = ctx.native.clients.register(peer);
    let mut connection = Connection {
        stream,
        peer,
        clock: ctx.connections.read_clock(),
        ctx: Arc::clone(&ctx),
        read: BytesMut::with_capacity(limits::NATIVE_READ_CHUNK_BYTES),
        write: BytesMut::with_capacity(limits::NATIVE_READ_CHUNK_BYTES),
        conn: Conn::new(Arc::clone(&client)),
    };
    let closed = match connection.detect_framing(&shutdown).await {
        Ok(Framing::Classic) => {
            connection.conn.classic = true;
            connection.run_classic(&shutdown).await
        }
        Ok(Framing::Current) => connection.run(&shutdown).await,
        Err(closed) => closed,
    };
    ctx.core.native_groups.on_disconnect(client.id);
    ctx.native.clients.remove(client.id);
    closed.log("native", peer);
}

/// Which generation of the protocol a connection speaks, told from its first four bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    /// Protocol 0.11: a 256-byte header whose first checksum bytes are zero.
    Current,
    /// The classic framing (SDKs up to 0.10): a non-zero length first.
    Classic,
}

/// One connection's socket, reused buffers and session.
struct Connection {
    stream: Transport,
    peer: SocketAddr,
    /// Setup, idle and frame read deadlines; established while a user is logged in.
    clock: ReadClock,
    ctx: Arc<BrokerContext>,
    read: BytesMut,
    write: BytesMut,
    conn: Conn,
}

impl Connection {
    /// Reads until the first four bytes are in (they stay buffered for the chosen loop).
    async fn detect_framing(&mut self, shutdown: &CancellationToken) -> Result<Framing, Closed> {
        let mut started = None;
        while self.read.len() < 4 {
            let deadline = self.clock.next_read(!self.read.is_empty(), &mut started);
            let read = tokio::select! {
                () = shutdown.cancelled() => return Err(Closed::Shutdown),
                read = read_until(&mut self.stream, &mut self.read, deadline) => read?,
            };
            if read == 0 {
                return Err(self.closed_at_end());
            }
        }
        let mut first = [0_u8; 4];
        first.copy_from_slice(&self.read[..4]);
        Ok(if whippet_wire::native::classic::is_classic(first) {
            Framing::Classic
        } else {
            Framing::Current
        })
    }

    async fn run(&mut self, shutdown: &CancellationToken) -> Closed {
        loop {
            let frame = tokio::select! {
                () = shutdown.cancelled() => return Closed::Shutdown,
                frame = self.next_frame() => frame,
            };
            let (frame, reservation) = match frame {
                Ok(frame) => frame,
                Err(closed) => return closed,
            };
            self.conn.client.touch();
            let (header, answer) = match self.answer(frame).await {
                Ok(answered) => answered,
                Err(closed) => return closed,
            };
            if let Err(error) = self.write_answer(&header, answer).await {
                return Closed::Io(error);
            }
            // The request is answered: its bytes go back to the budget.
            drop(reservation);
            if self.read.capacity() > limits::NATIVE_READ_CHUNK_BYTES * 4 && self.read.is_empty() {
                self.read = BytesMut::with_capacity(limits::NATIVE_READ_CHUNK_BYTES);
            }
        }
    }

    /// Reads one whole frame (header and body), with its reservation of the request budget
    /// when it is large. Before login a frame may be at most
    /// [`limits::NATIVE_UNAUTHENTICATED_FRAME_BYTES_MAX`]; a larger one closes the connection.
    async fn next_frame(&mut self) -> Result<(Bytes, Option<Reservation>), Closed> {
        self.clock.set_established(self.conn.user_id.is_some());
        let mut reservation = None;
        let mut started = None;
        loop {
            match peek_frame_size(&self.read) {
                Ok(Some(size)) => {
                    self.check_frame_size(size)?;
                    if self.read.len() >= size {
                        return Ok((self.take_frame(size, reservation.is_some()), reservation));
                    }
                    if reservation.is_none() {
                        reservation = self.reserve_budget(size, &mut started).await;
                    }
                    self.read.reserve(size - self.read.len());
                }
                Ok(None) => self.read.reserve(HEADER_BYTES),
                Err(error) => return Err(Closed::Rejected(error.to_string())),
            }
            self.read_more(&mut started).await?;
        }
    }

    /// Splits the frame of `size` bytes off the read buffer; after a `large` one (read under a
    /// budget reservation) the rest moves to a fresh buffer, so the frame's allocation goes
    /// away with the frame.
    fn take_frame(&mut self, size: usize, large: bool) -> Bytes {
        let frame = self.read.split_to(size).freeze();
        if large {
            detach_read_buffer(&mut self.read, limits::NATIVE_READ_CHUNK_BYTES);
        }
        frame
    }

    /// Refuses a frame of `size` bytes before login if it exceeds what login needs.
    fn check_frame_size(&self, size: usize) -> Result<(), Closed> {
        let max = limits::NATIVE_UNAUTHENTICATED_FRAME_BYTES_MAX;
        if self.conn.user_id.is_none() && size > max {
            return Err(Closed::Rejected(format!(
                "frame of {size} bytes before login exceeds {max}"
            )));
        }
        Ok(())
    }

    /// Reserves a large frame's size from the request budget (waiting while it is used up);
    /// the frame read deadline then counts from now, since the wait was the broker's doing.
    async fn reserve_budget(
        &self,
        size: usize,
        started: &mut Option<Instant>,
    ) -> Option<Reservation> {
        if !RequestBudget::applies(size) {
            return None;
        }
        let reservation = self.ctx.connections.budget.reserve(size, self.peer).await;
        *started = Some(Instant::now());
        Some(reservation)
    }

    /// One read into the buffer under the connection's deadline; end of stream is an error.
    async fn read_more(&mut self, started: &mut Option<Instant>) -> Result<(), Closed> {
        let deadline = self.clock.next_read(!self.read.is_empty(), started);
        if read_until(&mut self.stream, &mut self.read, deadline).await? == 0 {
            return Err(self.closed_at_end());
        }
        Ok(())
    }

    /// Why the connection ended when the peer closed: cleanly between frames, or mid-frame.
    fn closed_at_end(&self) -> Closed {
        if self.read.is_empty() {
            Closed::PeerLeft
        } else {
            Closed::Rejected("peer closed mid-frame".into())
        }
    }

    /// Decodes the header and dispatches. A header that does not decode closes the connection.
    async fn answer(&mut self, frame: Bytes) -> Result<(RequestHeader, Answer), Closed> {
        let header = RequestHeader::decode_exact(&frame[..HEADER_BYTES.min(frame.len())])
            .map_err(|error| Closed::Rejected(error.to_string()))?;
        // The body is handed on as the only handle to its bytes (the frame's goes here), so a
        // send's batch can go into the log without a copy.
        let body = frame.slice(HEADER_BYTES.min(frame.len())..);
        drop(frame);
        if verify_request_checksum(&header, &body).is_err() {
            return Ok((header, Answer::Reply(Err(Status::InvalidFormat))));
        }
        let answer = dispatch::dispatch(&self.ctx, &mut self.conn, &header, body).await;
        Ok((header, answer))
    }

    /// Writes the reply header and body (or the eviction frame), then flushes (a TLS session
    /// may hold the last records until then; a plain socket's flush is free).
    async fn write_answer(
        &mut self,
        request: &RequestHeader,
        answer: Answer,
    ) -> std::io::Result<()> {
        self.write_answer_unflushed(request, answer).await?;
        self.stream.flush().await
    }

    async fn write_answer_unflushed(
        &mut self,
        request: &RequestHeader,
        answer: Answer,
    ) -> std::io::Result<()> {
        self.write.clear();
        let payload = match answer {
            Answer::Evict(eviction) => {
                eviction.encode(&mut self.write);
                return self.flush_write().await;
            }
            Answer::Reply(Err(status)) => {
                ReplyHeader::for_request(request, 0, status.code(), 0).encode(&mut self.write);
                return self.flush_write().await;
            }
            Answer::Reply(Ok(payload)) => payload,
        };
        let framed = request.operation.is_result_framed();
        let prefix = if framed { 4 } else { 0 };
        let body_len = prefix + payload.len();
        ReplyHeader::for_request(request, body_len, Status::Ok.code(), 0).encode(&mut self.write);
        if framed {
            ResultSection::ok().encode(&mut self.write);
        }
        match payload {
            Payload::Empty => self.flush_write().await,
            Payload::Bytes(bytes) => {
                if bytes.len() <= limits::NATIVE_READ_CHUNK_BYTES {
                    self.write.extend_from_slice(&bytes);
                    self.flush_write().await
                } else {
                    self.flush_write().await?;
                    self.stream.write_all(&bytes).await
                }
            }
            Payload::Parts(parts) => {
                self.flush_write().await?;
                for mut part in parts {
                    while part.has_remaining() {
                        self.stream.write_buf(&mut part).await?;
                    }
                }
                Ok(())
            }
        }
    }

    async fn flush_write(&mut self) -> std::io::Result<()> {
        self.stream.write_all(&self.write).await
    }
}
