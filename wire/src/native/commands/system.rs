//! System and session commands: ping, stats, get_me / get_client(s), cluster metadata, login
//! (register with password or personal access token) and logout. Login bodies are decoded here;
//! the version gate is a pure function so the broker and tests agree on it.

use bytes::{BufMut, Bytes, BytesMut};

use crate::native::codec::{
    Reader, WireDecode, WireEncode, bounded_capacity, check_range, put_bytes_u32, put_string_u8,
    string_u8_size,
};
use crate::native::error::{NativeWireError, Result};
use crate::native::limits::{
    LIST_ENTRIES_MAX, LOGIN_CONTEXT_BYTES_MAX, NAME_BYTES_MAX, PASSWORD_BYTES_MAX,
    PASSWORD_BYTES_MIN, TEXT_BYTES_MAX, USERNAME_BYTES_MAX, USERNAME_BYTES_MIN,
};

pub use super::stats::Stats;

/// Packed protocol version spoken by `iggy` 0.11.0: `major<<20 | minor<<10 | patch`.
pub const PROTOCOL_VERSION_0_11_0: u32 = pack_version(0, 11, 0);

/// Pack a protocol version the way the login body carries it.
#[must_use]
pub const fn pack_version(major: u32, minor: u32, patch: u32) -> u32 {
    (major << 20) | ((minor & 0x3ff) << 10) | (patch & 0x3ff)
}

/// Unpack a protocol version into `(major, minor, patch)`.
#[must_use]
pub const fn unpack_version(packed: u32) -> (u32, u32, u32) {
    (packed >> 20, (packed >> 10) & 0x3ff, packed & 0x3ff)
}

/// The 0.11 server's version gate (§2.6): accept when the client is at least 0.11.0 and the
/// client's major.minor is not newer than the server's. Otherwise the broker evicts with reason
/// 14 and reports its window.
#[must_use]
pub fn client_version_accepted(client: u32, server: u32) -> bool {
    let (client_major, client_minor, _) = unpack_version(client);
    let (server_major, server_minor, _) = unpack_version(server);
    client >= PROTOCOL_VERSION_0_11_0
        && (client_major, client_minor) <= (server_major, server_minor)
}

/// A body that must be empty (ping, get_stats, get_me, get_clients, cluster metadata, logout and
/// the other argument-less list commands).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EmptyBody;

impl WireDecode for EmptyBody {
    fn decode(_bytes: &[u8]) -> Result<(Self, usize)> {
        Ok((Self, 0))
    }
}

impl WireEncode for EmptyBody {
    fn encoded_size(&self) -> usize {
        0
    }

    fn encode(&self, _out: &mut BytesMut) {}
}

/// get_client (21) request: the server's per-connection id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GetClient {
    /// Per-connection client id (not the u128 header client).
    pub client_id: u32,
}

impl WireDecode for GetClient {
    fn decode(bytes: &[u8]) -> Result<(Self, usize)> {
        let mut reader = Reader::new(bytes);
        let client_id = reader.u32("client_id")?;
        Ok((Self { client_id }, reader.position()))
    }
}

impl WireEncode for GetClient {
    fn encoded_size(&self) -> usize {
        4
    }

    fn encode(&self, out: &mut BytesMut) {
        out.put_u32_le(self.client_id);
    }
}

/// The prefix shared by both login shapes: protocol version and SDK identification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginPrefix {
    /// Packed client protocol version.
    pub protocol_version: u32,
    /// SDK name ("rust-sdk").
    pub sdk_name: String,
    /// SDK version ("0.11.0").
    pub sdk_version: String,
}

impl LoginPrefix {
    fn read(reader: &mut Reader<'_>) -> Result<Self> {
        Ok(Self {
            protocol_version: reader.u32("protocol_version")?,
            sdk_name: reader.string_u8("sdk_name", 0, NAME_BYTES_MAX)?,
            sdk_version: reader.string_u8("sdk_version", 0, NAME_BYTES_MAX)?,
        })
    }

    fn size(&self) -> usize {
        4 + string_u8_size(&self.sdk_name) + string_u8_size(&self.sdk_version)
    }

    fn write(&self, out: &mut BytesMut) {
        out.put_u32_le(self.protocol_version);
        put_string_u8(out, &self.sdk_name);
        put_string_u8(out, &self.sdk_version);
    }
}

/// What a Register request (operation 1) carries: the code (40 or 45) is not on the wire, so
/// the body shape decides, credentials first (§2.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Register {
    /// login_register (40): username and password.
    Credentials {
        /// Version and SDK prefix.
        prefix: LoginPrefix,
        /// 3..=50 bytes.
        username: String,
        /// 3..=100 bytes.
        password: String,
        /// Opaque context; the SDK sends none.
        context: Bytes,
    },
    /// login_register_with_pat (45): a personal access token.
    Token {
        /// Version and SDK prefix.
        prefix: LoginPrefix,
        /// The raw token.
        token: String,
        /// Opaque context; the SDK sends none.
        context: Bytes,
    },
}

impl Register {
    /// The version and SDK prefix, whichever shape.
    #[must_use]
    pub fn prefix(&self) -> &LoginPrefix {
        match self {
            Self::Credentials { prefix, .. } | Self::Token { prefix, .. } => prefix,
        }
    }

    /// Decode the protocol version alone, so a body that fails both shapes can still be told
    /// apart: a readable version gets the version gate, an unreadable one eviction reason 15.
    pub fn peek_protocol_version(body: &[u8]) -> Result<u32> {
        Reader::new(body).u32("protocol_version")
    }

    fn decode_credentials(bytes: &[u8]) -> Result<(Self, usize)> {
        let mut reader = Reader::new(bytes);
        let prefix = LoginPrefix::read(&mut reader)?;
        let username = reader.string_u8("username", USERNAME_BYTES_MIN, USERNAME_BYTES_MAX)?;
        let password = reader.string_u8("password", PASSWORD_BYTES_MIN, PASSWORD_BYTES_MAX)?;
        let context = reader.bytes_u32("login_context", 0, LOGIN_CONTEXT_BYTES_MAX)?;
        let value = Self::Credentials {
            prefix,
            username,
            password,
            context,
        };
        Ok((value, reader.position()))
    }

    fn decode_token(bytes: &[u8]) -> Result<(Self, usize)> {
        let mut reader = Reader::new(bytes);
        let prefix = LoginPrefix::read(&mut reader)?;
        let token = reader.string_u8("token", 1, NAME_BYTES_MAX)?;
        let context = reader.bytes_u32("login_context", 0, LOGIN_CONTEXT_BYTES_MAX)?;
        Ok((
            Self::Token {
                prefix,
                token,
                context,
            },
            reader.position(),
        ))
    }
}

impl WireDecode for Register {
    fn decode(bytes: &[u8]) -> Result<(Self, usize)> {
        match Self::decode_credentials(bytes) {
            Ok((value, used)) if used == bytes.len() => Ok((value, used)),
            credentials => match Self::decode_token(bytes) {
                Ok((value, used)) if used == bytes.len() => Ok((value, used)),
                _ => credentials,
            },
        }
    }
}

impl WireEncode for Register {
    fn encoded_size(&self) -> usize {
        match self {
            Self::Credentials {
                prefix,
                username,
                password,
                context,
            } => {
                prefix.size()
                    + string_u8_size(username)
                    + string_u8_size(password)
                    + 4
                    + context.len()
            }
            Self::Token {
                prefix,
                token,
                context,
            } => prefix.size() + string_u8_size(token) + 4 + context.len(),
        }
    }

    fn encode(&self, out: &mut BytesMut) {
        self.prefix().write(out);
        match self {
            Self::Credentials {
                username,
                password,
                context,
                ..
            } => {
                put_string_u8(out, username);
                put_string_u8(out, password);
                put_bytes_u32(out, context);
            }
            Self::Token { token, context, .. } => {
                put_string_u8(out, token);
                put_bytes_u32(out, context);
            }
        }
    }
}

/// Payload of a successful Register reply, after the `count 0` result section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginReply {
    /// Authenticated user.
    pub user_id: u32,
    /// Session number, non-zero; the SDK stamps it on every later request.
    pub session: u64,
    /// Server's packed protocol version.
    pub server_protocol_version: u32,
    /// Server version text (logged by the SDK).
    pub server_version: String,
}

impl WireEncode for LoginReply {
    fn encoded_size(&self) -> usize {
        16 + string_u8_size(&self.server_version)
    }

    fn encode(&self, out: &mut BytesMut) {
        out.put_u32_le(self.user_id);
        out.put_u64_le(self.session);
        out.put_u32_le(self.server_protocol_version);
        put_string_u8(out, &self.server_version);
    }
}

impl WireDecode for LoginReply {
    fn decode(bytes: &[u8]) -> Result<(Self, usize)> {
        let mut reader = Reader::new(bytes);
        let user_id = reader.u32("user_id")?;
        let session = reader.u64("session")?;
        if session == 0 {
            return Err(NativeWireError::InvalidValue {
                field: "session",
                value: 0,
            });
        }
        let value = Self {
            user_id,
            session,
            server_protocol_version: reader.u32("server_protocol_version")?,
            server_version: reader.string_u8("server_version", 0, NAME_BYTES_MAX)?,
        };
        Ok((value, reader.position()))
    }
}

/// Transport byte in a client header.
pub const TRANSPORT_TCP: u8 = 1;

/// One group membership in [`ClientDetails`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientGroup {
    /// Stream of the group.
    pub stream_id: u32,
    /// Topic of the group.
    pub topic_id: u32,
    /// Group id.
    pub group_id: u32,
}

/// ClientHeader (§7.2): one connected client. get_clients lists these; get_me and get_client
/// add the group memberships ([`ClientDetails`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientHeader {
    /// Server's per-connection id.
    pub client_id: u32,
    /// Logged-in user, or `u32::MAX` for none.
    pub user_id: u32,
    /// 1 TCP, 2 QUIC, 4 WebSocket.
    pub transport: u8,
    /// Peer address, "ip:port".
    pub address: String,
    /// Number of group memberships.
    pub groups_count: u32,
}

impl ClientHeader {
    fn size(&self) -> usize {
        13 + self.address.len() + 4
    }

    fn write(&self, out: &mut BytesMut) {
        out.put_u32_le(self.client_id);
        out.put_u32_le(self.user_id);
        out.put_u8(self.transport);
        put_bytes_u32(out, self.address.as_bytes());
        out.put_u32_le(self.groups_count);
    }

    fn read(reader: &mut Reader<'_>) -> Result<Self> {
        Ok(Self {
            client_id: reader.u32("client_id")?,
            user_id: reader.u32("user_id")?,
            transport: reader.u8("transport")?,
            address: reader.string_u32("address", 0, TEXT_BYTES_MAX)?,
            groups_count: reader.u32("groups_count")?,
        })
    }
}

/// get_me / get_client reply: the client header followed by its group memberships.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientDetails {
    /// Header fields; `groups_count` must equal `groups.len()`.
    pub header: ClientHeader,
    /// Memberships.
    pub groups: Vec<ClientGroup>,
}

impl WireEncode for ClientDetails {
    fn encoded_size(&self) -> usize {
        self.header.size() + 12 * self.groups.len()
    }

    fn encode(&self, out: &mut BytesMut) {
        let header = ClientHeader {
            groups_count: self.groups.len() as u32,
            ..self.header.clone()
        };
        header.write(out);
        for group in &self.groups {
            out.put_u32_le(group.stream_id);
            out.put_u32_le(group.topic_id);
            out.put_u32_le(group.group_id);
        }
    }
}

impl WireDecode for ClientDetails {
    fn decode(bytes: &[u8]) -> Result<(Self, usize)> {
        let mut reader = Reader::new(bytes);
        let header = ClientHeader::read(&mut reader)?;
        let count = header.groups_count as usize;
        check_range("groups_count", count as u64, 0, LIST_ENTRIES_MAX as u64)?;
        let mut groups = Vec::with_capacity(bounded_capacity(count, 12, reader.remaining()));
        for _ in 0..count {
            groups.push(ClientGroup {
                stream_id: reader.u32("stream_id")?,
                topic_id: reader.u32("topic_id")?,
                group_id: reader.u32("group_id")?,
            });
        }
        Ok((Self { header, groups }, reader.position()))
    }
}

/// get_clients reply: client headers back to back, no count prefix and no group entries.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ClientList {
    /// Connected clients.
    pub clients: Vec<ClientHeader>,
}

impl WireEncode for ClientList {
    fn encoded_size(&self) -> usize {
        self.clients.iter().map(ClientHeader::size).sum()
    }

    fn encode(&self, out: &mut BytesMut) {
        for client in &self.clients {
            client.write(out);
        }
    }
}

impl WireDecode for ClientList {
    fn decode(bytes: &[u8]) -> Result<(Self, usize)> {
        let mut reader = Reader::new(bytes);
        let mut clients = Vec::new();
        while reader.remaining() > 0 {
            check_range(
                "clients",
                clients.len() as u64,
                0,
                LIST_ENTRIES_MAX as u64 - 1,
            )?;
            clients.push(ClientHeader::read(&mut reader)?);
        }
        Ok((Self { clients }, reader.position()))
    }
}

pub use super::cluster::{ClusterMetadata, ClusterNode};

#[cfg(test)]
#[path = "system_tests.rs"]
mod tests;
