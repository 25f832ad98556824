//! The Kafka wire protocol listener. The accept loop, connection cap and shutdown drain are
//! shared ([`crate::server::accept_loop`]); this module owns what happens on one Kafka
//! connection: read size-prefixed frames into a bounded buffer, decode, dispatch, and write the
//! answers back strictly in request order.
//!
//! Reactions to bad input follow the Java broker: a negative or oversized size prefix, an
//! unknown API key, an undecodable body, or a version we do not advertise closes the connection
//! (ApiVersions being the exception: a too-new ApiVersions gets the v0-format
//! UNSUPPORTED_VERSION answer so the client can retry with a version we speak).
//!
//! Size caps: a Produce request may be as large as [`REQUEST_BYTES_MAX`]; every other request is
//! capped at [`limits::KAFKA_NON_PRODUCE_REQUEST_BYTES_MAX`], because `kafka-protocol` turns
//! each few-byte array element into a struct several times larger, and only Produce carries
//! bulk data. The cap is applied from the first six bytes (prefix and key), before the body is
//! buffered. The read buffer grows only to the frame being read and is shrunk back after an
//! unusually large frame, so an idle connection holds [`limits::KAFKA_READ_CHUNK_BYTES`].
//! A frame above [`limits::REQUEST_BUDGET_EXEMPT_BYTES`] first reserves its size from the
//! broker-wide request budget (`request_bytes_in_flight_max`) and holds it until answered.
//!
//! Deadlines ([`ReadClock`]): the first whole request must arrive within
//! `connection_setup_timeout_ms` of the connect, a started request within
//! `frame_read_timeout_ms`, and an established connection silent for
//! `connection_idle_timeout_ms` is closed (Kafka's `connections.max.idle.ms`).

pub mod admin;
pub(crate) mod api_versions;
pub(crate) mod authorized_ops;
pub(crate) mod compaction;
pub(crate) mod configs;
pub(crate) mod dispatch;
pub(crate) mod error_code;
pub(crate) mod fetch;
pub mod groups;
pub(crate) mod init_producer_id;
pub(crate) mod list_offsets;
pub(crate) mod metadata;
pub(crate) mod produce;
pub mod producers;
mod response_errors;
pub(crate) mod sasl;
pub(crate) mod spans;
pub mod topics;
pub(crate) mod txn;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::{
    ApiKey, RequestHeader, RequestKind, SaslAuthenticateRequest, SaslHandshakeRequest,
};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tracing::warn;
use whippet_wire::kafka::chunked::encode_fetch_response;
use whippet_wire::kafka::limits::{FRAME_PREFIX_BYTES, REQUEST_BYTES_MAX};
use whippet_wire::kafka::registry::{self, api_version_entries};
use whippet_wire::kafka::{
    KafkaWireError, decode_request, encode_api_versions_unsupported, encode_response, frame_length,
    split_frame,
};

use self::dispatch::Outcome;
use self::fetch::FetchAnswer;
use self::sasl::SaslAnswer;
use crate::connections::{Listener, ReadClock, RequestBudget, Reservation};
use crate::context::BrokerContext;
use crate::core::{Principal, RequestContext};
use crate::reading::{detach_read_buffer, read_until};
use crate::server::Closed;
use crate::tls::Transport;
use crate::{limits, server};

/// The broker's Kafka identity and topic-creation policy, fixed at startup. Metadata,
/// DescribeCluster and the admin APIs all read it, so every API tells clients the same thing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KafkaSettings {
    /// This broker's node id: leader of every partition and the controller.
    pub node_id: i32,
    /// Cluster id, stable per data directory (on the metadata log, see
    /// [`topics::load_or_create_cluster_id`]).
    pub cluster_id: String,
    /// Host and port clients are told to connect to; `None` derives them from the bound address.
    pub advertised: Option<(String, u16)>,
    /// Whether Metadata may create unknown topics (Kafka's `auto.create.topics.enable`).
    pub auto_create_topics: bool,
    /// Partitions of topics created without a count (Kafka's `num.partitions`).
    pub num_partitions: u32,
}

impl Default for KafkaSettings {
    fn default() -> Self {
        Self {
            node_id: 0,
            cluster_id: String::from("whippet"),
            advertised: None,
            auto_create_topics: true,
            num_partitions: 1,
        }
    }
}

/// Serves Kafka connections on `listener` until `shutdown` is cancelled and open connections
/// have drained.
pub async fn serve(listener: TcpListener, ctx: Arc<BrokerContext>, shutdown: CancellationToken) {
    server::accept_loop(Listener::Kafka, listener, ctx, shutdown, handle_connection).await;
}

async fn handle_connection(
    stream: TcpStream,
    peer: SocketAddr,
    ctx: Arc<BrokerContext>,
    shutdown: CancellationToken,
) {
    let stream = match server::establish(Listener::Kafka, stream, peer, &ctx, &shutdown).await {
        Ok(stream) => stream,
        Err(closed) => return closed.log("kafka", peer),
    };
    let rc = RequestContext::new(Principal::Anonymous, "kafka", ctx.core.next_connection_id());
    let mut connection = Connection {
        stream,
        peer,
        rc,
        auth: sasl::Auth::start(ctx.security.kafka.sasl()),
        clock: ctx.connections.read_clock(),
        ctx,
        read: BytesMut::with_capacity(limits::KAFKA_READ_CHUNK_BYTES),
        write: BytesMut::with_capacity(limits::KAFKA_READ_CHUNK_BYTES),
    };
    connection.run(&shutdown).await.log("kafka", peer);
}

/// One connection's socket and its reused buffers.
struct Connection {
    stream: Transport,
    peer: SocketAddr,
    /// Who this connection's requests come from (anonymous until SASL), for the core.
    rc: RequestContext,
    /// Where the connection stands with SASL.
    auth: sasl::Auth,
    ctx: Arc<BrokerContext>,
    /// Setup, idle and frame read deadlines; established by the first whole request.
    clock: ReadClock,
    read: BytesMut,
    write: BytesMut,
}

impl Connection {
    /// Serves requests one at a time until the peer leaves, errs, or shutdown starts.
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
            // Until SASL succeeds the connection is still in setup, under its deadline.
            self.clock.set_established(!self.auth.pending());
            let answered = tokio::select! {
                () = shutdown.cancelled() => return Closed::Shutdown,
                answered = self.answer(frame) => answered,
            };
            // The request is answered: its bytes go back to the budget.
            drop(reservation);
            if let Err(closed) = answered {
                return closed;
            }
            self.shrink_buffers();
        }
    }

    /// Reads until one whole frame is buffered and returns its body, with its reservation of
    /// the request budget when it is large. The size prefix is checked as soon as it arrives,
    /// and the smaller non-Produce cap once the key is known; a large frame's size is reserved
    /// once its key is known, before more than one read chunk of its body is buffered, and its
    /// buffer is then reserved whole. The
    /// first byte is awaited until the setup or idle deadline, the rest until the frame read
    /// deadline (counted from when the budget was granted, if it had to be waited for).
    async fn next_frame(&mut self) -> Result<(Bytes, Option<Reservation>), Closed> {
        let mut reservation = None;
        let mut started = None;
        loop {
            if let Some(frame) = split_frame(&mut self.read).map_err(rejected)? {
                if reservation.is_some() {
                    detach_read_buffer(&mut self.read, limits::KAFKA_READ_CHUNK_BYTES);
                }
                return Ok((frame, reservation));
            }
            let wanted = self.bytes_still_needed()?;
            if reservation.is_none()
                && let Some(len) = self.frame_length_with_key()?
                && RequestBudget::applies(len)
            {
                let budget = &self.ctx.connections.budget;
                reservation = Some(budget.reserve(len, self.peer).await);
                started = Some(Instant::now());
            }
            // A large frame's whole size is budgeted, so its buffer is reserved at once: grown a
            // read chunk at a time, it would be reallocated and copied over and over.
            let chunk = if reservation.is_some() {
                wanted
            } else {
                wanted.min(limits::KAFKA_READ_CHUNK_BYTES)
            };
            self.read.reserve(chunk);
            let deadline = self.clock.next_read(!self.read.is_empty(), &mut started);
            let read = read_until(&mut self.stream, &mut self.read, deadline).await?;
            if read == 0 {
                return Err(if self.read.is_empty() {
                    Closed::PeerLeft
                } else {
                    Closed::Rejected(String::from("peer closed mid-frame"))
                });
            }
        }
    }

    /// The length of the frame at the front of the read buffer once its API key has arrived
    /// too (so its size cap has been checked), else `None`.
    fn frame_length_with_key(&self) -> Result<Option<usize>, Closed> {
        if self.read.len() < FRAME_PREFIX_BYTES + 2 {
            return Ok(None);
        }
        frame_length(&self.read).map_err(rejected)
    }

    /// How many more bytes the frame at the front of the read buffer needs, after checking its
    /// size against the cap for its API key.
    fn bytes_still_needed(&self) -> Result<usize, Closed> {
        let Some(len) = frame_length(&self.read).map_err(rejected)? else {
            return Ok(FRAME_PREFIX_BYTES);
        };
        // Before SASL succeeds only the small handshake requests are possible.
        let unauthenticated_max = limits::NATIVE_UNAUTHENTICATED_FRAME_BYTES_MAX;
        if self.auth.pending() && len > unauthenticated_max {
            return Err(Closed::Rejected(format!(
                "request of {len} bytes before SASL authentication exceeds {unauthenticated_max}"
            )));
        }
        if len > limits::KAFKA_NON_PRODUCE_REQUEST_BYTES_MAX
            && let Some(key) = self.read.get(FRAME_PREFIX_BYTES..FRAME_PREFIX_BYTES + 2)
            && i16::from_be_bytes([key[0], key[1]]) != ApiKey::Produce as i16
        {
            return Err(Closed::Rejected(format!(
                "non-produce request of {len} bytes exceeds {}",
                limits::KAFKA_NON_PRODUCE_REQUEST_BYTES_MAX
            )));
        }
        Ok(len + FRAME_PREFIX_BYTES - self.read.len())
    }

    /// Decodes and serves one request, writing its answer (if any) before returning.
    async fn answer(&mut self, frame: Bytes) -> Result<(), Closed> {
        if self.auth.expects_legacy_token() {
            return self.answer_legacy_token(&frame).await;
        }
        let (header, request) = match decode_request(frame) {
            Ok(decoded) => decoded,
            Err(error) => return self.answer_undecodable(error).await,
        };
        if header.request_api_key == ApiKey::ApiVersions as i16
            && !dispatch::is_served(ApiKey::ApiVersions, header.request_api_version)
        {
            return self.answer_api_versions_unsupported(&header).await;
        }
        if !self.auth.allows(header.request_api_key) {
            return Err(Closed::Rejected(format!(
                "API key {} before SASL authentication",
                header.request_api_key
            )));
        }
        if !self.auth.still_valid(&self.ctx) {
            return Err(Closed::Rejected(String::from(
                "session revoked (user deleted or deactivated, or password changed)",
            )));
        }
        let request = match request {
            RequestKind::SaslHandshake(req) if !matches!(self.auth, sasl::Auth::Open) => {
                return self.answer_handshake(&header, &req).await;
            }
            RequestKind::SaslAuthenticate(req) if !matches!(self.auth, sasl::Auth::Open) => {
                return self.answer_authenticate(&header, req).await;
            }
            other => other,
        };
        // One span per request (disabled, and so free, unless DEBUG is wanted for it); the core
        // records its operations inside it.
        let span = tracing::debug_span!(
            "kafka_request",
            api_key = header.request_api_key,
            api_version = header.request_api_version,
            correlation_id = header.correlation_id,
            connection = self.rc.connection_id,
        );
        let rc = self.rc.request(span, dispatch::deadline(&request));
        let started = std::time::Instant::now();
        let dispatched = dispatch::dispatch(&self.ctx, &rc, &header, request);
        let outcome = tracing::Instrument::instrument(dispatched, rc.span.clone()).await;
        count_request(&self.ctx, &header, started, &outcome);
        match outcome {
            Outcome::Fetch(answer) => {
                self.write_fetch(header.correlation_id, header.request_api_version, answer)
                    .await
            }
            Outcome::Respond(response) => {
                encode_response(
                    &mut self.write,
                    header.correlation_id,
                    header.request_api_version,
                    &response,
                )
                .map_err(|error| {
                    warn!(%error, api_key = header.request_api_key, "response encoding failed");
                    rejected(error)
                })?;
                self.flush().await
            }
            Outcome::NoResponse => Ok(()),
            Outcome::Close => Err(Closed::Rejected(format!(
                "API key {} v{} is not served",
                header.request_api_key, header.request_api_version
            ))),
        }
    }

    /// SaslHandshake on a SASL listener.
    async fn answer_handshake(
        &mut self,
        header: &RequestHeader,
        request: &SaslHandshakeRequest,
    ) -> Result<(), Closed> {
        self.check_sasl_version(header)?;
        let answer = self.auth.handshake(request, header.request_api_version);
        self.send_sasl(header, answer).await
    }

    /// SaslAuthenticate on a SASL listener.
    async fn answer_authenticate(
        &mut self,
        header: &RequestHeader,
        request: SaslAuthenticateRequest,
    ) -> Result<(), Closed> {
        self.check_sasl_version(header)?;
        let (answer, principal) = self
            .auth
            .authenticate(&self.ctx, self.peer.ip(), request)
            .await;
        if let Some(principal) = principal {
            self.rc.principal = principal;
        }
        self.send_sasl(header, answer).await
    }

    fn check_sasl_version(&self, header: &RequestHeader) -> Result<(), Closed> {
        let key = ApiKey::try_from(header.request_api_key)
            .map_err(|()| Closed::Rejected(String::from("unknown API key")))?;
        if dispatch::is_served(key, header.request_api_version) {
            Ok(())
        } else {
            Err(Closed::Rejected(format!(
                "API key {} v{} is not served",
                header.request_api_key, header.request_api_version
            )))
        }
    }

    async fn send_sasl(
        &mut self,
        header: &RequestHeader,
        answer: SaslAnswer,
    ) -> Result<(), Closed> {
        let (response, close) = match answer {
            SaslAnswer::Respond(response) => (response, false),
            SaslAnswer::RespondAndClose(response) => (response, true),
        };
        encode_response(
            &mut self.write,
            header.correlation_id,
            header.request_api_version,
            &response,
        )
        .map_err(rejected)?;
        self.flush().await?;
        if close {
            return Err(Closed::Rejected(String::from("SASL authentication failed")));
        }
        Ok(())
    }

    /// One bare token of the legacy SASL exchange (after SaslHandshake v0): the reply goes back
    /// size-prefixed, a failure closes the connection without an answer.
    async fn answer_legacy_token(&mut self, token: &[u8]) -> Result<(), Closed> {
        let Some((reply, principal)) = self
            .auth
            .legacy_token(&self.ctx, self.peer.ip(), token)
            .await
        else {
            return Err(Closed::Rejected(String::from("SASL authentication failed")));
        };
        if let Some(principal) = principal {
            self.rc.principal = principal;
        }
        let len = u32::try_from(reply.len()).map_err(|_| Closed::Rejected("reply".into()))?;
        self.write.extend_from_slice(&len.to_be_bytes());
        self.write.extend_from_slice(&reply);
        self.flush().await
    }

    /// A request that did not decode: a too-new ApiVersions is answered, anything else closes.
    async fn answer_undecodable(&mut self, error: KafkaWireError) -> Result<(), Closed> {
        if let KafkaWireError::UnsupportedVersion { header, .. } = &error
            && header.request_api_key == ApiKey::ApiVersions as i16
        {
            return self.answer_api_versions_unsupported(header).await;
        }
        Err(rejected(error))
    }

    /// The v0-format UNSUPPORTED_VERSION answer (kafka-compat.md §4): ApiVersions' own range is
    /// what the client needs to retry; the full list costs nothing extra and helps old clients.
    async fn answer_api_versions_unsupported(
        &mut self,
        header: &RequestHeader,
    ) -> Result<(), Closed> {
        let supported = api_version_entries(dispatch::HANDLED_KEYS);
        debug_assert!(registry::lookup(ApiKey::ApiVersions).is_some());
        encode_api_versions_unsupported(&mut self.write, header.correlation_id, supported)
            .map_err(rejected)?;
        self.flush().await
    }

    /// Writes a Fetch answer with its record sections as the stored buffers themselves, in
    /// vectored writes, instead of copying megabytes into the write buffer first.
    async fn write_fetch(
        &mut self,
        correlation_id: i32,
        version: i16,
        answer: FetchAnswer,
    ) -> Result<(), Closed> {
        let encoded =
            encode_fetch_response(correlation_id, version, &answer.response, answer.tails);
        let mut chunks = encoded.map_err(|error| {
            warn!(%error, "fetch response encoding failed");
            rejected(error)
        })?;
        self.stream
            .write_all_buf(&mut chunks)
            .await
            .map_err(Closed::Io)
    }

    async fn flush(&mut self) -> Result<(), Closed> {
        self.stream
            .write_all(&self.write)
            .await
            .map_err(Closed::Io)?;
        // A TLS session may hold the last records until flushed; a plain socket's flush is free.
        self.stream.flush().await.map_err(Closed::Io)?;
        self.write.clear();
        Ok(())
    }

    /// Drops buffers that grew for one large request, so a connection that once sent a big
    /// Produce (or received a big Fetch) does not keep that memory while idle.
    fn shrink_buffers(&mut self) {
        let keep = limits::KAFKA_BUFFER_KEEP_BYTES;
        if self.read.is_empty() && self.read.capacity() > keep {
            self.read = BytesMut::with_capacity(limits::KAFKA_READ_CHUNK_BYTES);
        }
        if self.write.capacity() > keep {
            self.write = BytesMut::with_capacity(limits::KAFKA_READ_CHUNK_BYTES);
        }
    }
}

fn rejected(error: KafkaWireError) -> Closed {
    Closed::Rejected(error.to_string())
}

const _: () = assert!(limits::KAFKA_NON_PRODUCE_REQUEST_BYTES_MAX <= REQUEST_BYTES_MAX);

/// Counts one answered request in the metrics: its latency per API key, and per error code
/// every error it answered, top-level or per topic, partition, group or resource (a request
/// that closed the connection counts as `connection_closed`).
fn count_request(ctx: &BrokerContext, header: &RequestHeader, started: Instant, outcome: &Outcome) {
    let key = header.request_api_key;
    let series = ctx
        .core
        .metrics
        .request("kafka", u32::from(key.cast_unsigned()), || {
            ApiKey::try_from(key).map_or_else(|()| key.to_string(), |api| format!("{api:?}"))
        });
    series.observe(started.elapsed());
    let count = |code: i16| {
        if code == 0 {
            return;
        }
        match kafka_protocol::ResponseError::try_from_code(code) {
            Some(error) => series.error(&format!("{error:?}")),
            None => series.error(&code.to_string()),
        }
    };
    // Walked in place: no allocation for the (usual) answer without errors.
    match outcome {
        Outcome::Close => series.error("connection_closed"),
        Outcome::Respond(response) => response_errors::for_each_code(response, count),
        Outcome::Fetch(answer) => {
            count(answer.response.error_code);
            answer
                .response
                .responses
                .iter()
                .flat_map(|t| &t.partitions)
                .for_each(|p| count(p.error_code));
        }
        Outcome::NoResponse => {}
    }
}

#[cfg(test)]
pub(crate) mod test_support {
    //! A context over a real log in a temporary directory, for handler tests.
    #![allow(clippy::unwrap_used)]

    use kafka_protocol::messages::RequestHeader;

    pub(crate) use crate::context::test_support::{context, context_with_groups, kafka_topic};

    /// A request header of `version` for handler calls.
    pub(crate) fn header(key: kafka_protocol::messages::ApiKey, version: i16) -> RequestHeader {
        RequestHeader::default()
            .with_request_api_key(key as i16)
            .with_request_api_version(version)
            .with_correlation_id(1)
    }
}
