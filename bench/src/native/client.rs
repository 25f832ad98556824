//! The one seam between the native workload and the SDKs: [`NativeClient`] is a connection over
//! either generation of the Iggy protocol, and the senders and pollers drive it without knowing
//! which. Each SDK's calls live in its own module ([`super::current`], [`super::classic`]); the
//! two SDKs have distinct types throughout (identifiers, messages, errors), so the workload only
//! hands names, payloads and offsets across this seam.

use bytes::Bytes;

use super::{Partition, classic, current};
use crate::cli::{NativeCommand, Protocol};
use crate::error::BenchError;
use crate::limits;

/// A logged-in connection, over the SDK of the protocol the run asked for.
pub enum NativeClient {
    /// Protocol 0.11, `iggy` 0.11.0.
    Current(iggy::prelude::IggyClient),
    /// Classic framing, `iggy` 0.10.0.
    Classic(iggy_010::prelude::IggyClient),
}

/// Who polls: a single consumer by numeric id, or a member of a named group.
#[derive(Debug, Clone, Copy)]
pub enum PollConsumer<'a> {
    /// A standalone consumer.
    Single(u32),
    /// A consumer group member (the server assigns the partition).
    Group(&'a str),
}

/// One poll request, in the workload's terms.
#[derive(Debug, Clone, Copy)]
pub struct PollRequest<'a> {
    /// Stream name.
    pub stream: &'a str,
    /// Topic name.
    pub topic: &'a str,
    /// Partition id; `None` lets the server pick (consumer groups).
    pub partition: Option<u32>,
    /// Who polls.
    pub consumer: PollConsumer<'a>,
    /// Read from this offset; `None` polls `next` after the consumer's stored offset.
    pub offset: Option<u64>,
    /// Most messages to return.
    pub count: u32,
    /// Have the server store the last returned offset.
    pub auto_commit: bool,
}

/// Messages one poll returned, as the SDK handed them over (no copy).
pub enum Polled {
    /// From the 0.11 SDK.
    Current(iggy::prelude::PolledMessages),
    /// From the 0.10 SDK.
    Classic(iggy_010::prelude::PolledMessages),
}

impl Polled {
    /// How many messages came back.
    pub fn len(&self) -> usize {
        match self {
            Self::Current(polled) => polled.messages.len(),
            Self::Classic(polled) => polled.messages.len(),
        }
    }

    /// Whether none came back.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Calls `visit` with each message's offset and payload, in order.
    pub fn for_each(&self, mut visit: impl FnMut(u64, &[u8])) {
        match self {
            Self::Current(polled) => polled
                .messages
                .iter()
                .for_each(|m| visit(m.header.offset, &m.payload)),
            Self::Classic(polled) => polled
                .messages
                .iter()
                .for_each(|m| visit(m.header.offset, &m.payload)),
        }
    }
}

impl NativeClient {
    /// Connects and logs in (the connection string carries the credentials) with the SDK of
    /// `cmd.protocol`.
    pub async fn connect(cmd: &NativeCommand) -> Result<Self, BenchError> {
        let url = connection_string(cmd);
        let connecting = async {
            Ok::<_, BenchError>(match cmd.protocol {
                Protocol::Current => Self::Current(current::connect(&url).await?),
                Protocol::Classic => Self::Classic(classic::connect(&url).await?),
            })
        };
        // The 0.10 SDK has no request timeout: a server that reads a classic login and never
        // answers (one that expects another protocol) would otherwise hang the run.
        tokio::time::timeout(limits::NATIVE_CONNECT_TIMEOUT, connecting)
            .await
            .map_err(|_| {
                BenchError::Run(format!(
                    "no login reply from {} within {:?} over the {} protocol",
                    cmd.server,
                    limits::NATIVE_CONNECT_TIMEOUT,
                    cmd.protocol.name()
                ))
            })?
    }

    /// Creates the stream and its topics (each with `partitions` partitions) where missing.
    pub async fn ensure_layout(
        &self,
        stream: &str,
        topics: &[String],
        partitions: u32,
    ) -> Result<(), BenchError> {
        match self {
            Self::Current(client) => {
                current::ensure_layout(client, stream, topics, partitions).await
            }
            Self::Classic(client) => {
                classic::ensure_layout(client, stream, topics, partitions).await
            }
        }
    }

    /// Deletes a stream with everything in it.
    pub async fn delete_stream(&self, stream: &str) -> Result<(), BenchError> {
        match self {
            Self::Current(client) => current::delete_stream(client, stream).await,
            Self::Classic(client) => classic::delete_stream(client, stream).await,
        }
    }

    /// Sends one batch to one partition and waits for its acknowledgement.
    pub async fn send(&self, target: &Partition, payloads: Vec<Bytes>) -> Result<(), BenchError> {
        match self {
            Self::Current(client) => current::send(client, target, payloads).await,
            Self::Classic(client) => classic::send(client, target, payloads).await,
        }
    }

    /// Creates the consumer group if missing (another member may race us) and joins it.
    pub async fn join_group(
        &self,
        stream: &str,
        topic: &str,
        group: &str,
    ) -> Result<(), BenchError> {
        match self {
            Self::Current(client) => current::join_group(client, stream, topic, group).await,
            Self::Classic(client) => classic::join_group(client, stream, topic, group).await,
        }
    }

    /// One poll request and its reply.
    pub async fn poll(&self, request: &PollRequest<'_>) -> Result<Polled, BenchError> {
        Ok(match self {
            Self::Current(client) => Polled::Current(current::poll(client, request).await?),
            Self::Classic(client) => Polled::Classic(classic::poll(client, request).await?),
        })
    }
}

/// `iggy://USER:PASSWORD@HOST:PORT?nodelay=BOOL&reconnection_retries=N` (plus the TLS options
/// with `--tls-ca`), which both SDKs parse alike. Both SDKs retry a failed connection forever by default, so a server that refuses or
/// closes the connection (one that does not speak the chosen protocol) would hang the run.
pub fn connection_string(cmd: &NativeCommand) -> String {
    let mut url = format!(
        "iggy://{}:{}@{}?nodelay={}&reconnection_retries={}",
        cmd.username,
        cmd.password,
        cmd.server,
        cmd.nodelay,
        limits::NATIVE_RECONNECT_RETRIES
    );
    if let Some(ca) = &cmd.tls_ca {
        url.push_str(&format!(
            "&tls=true&tls_domain={}&tls_ca_file={ca}",
            cmd.tls_domain
        ));
    }
    url
}
