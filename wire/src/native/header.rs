//! The fixed 256-byte request and reply headers (§2.1, §2.2), the operation byte that says how a
//! command travels, and request-checksum verification. Every native frame starts with one of
//! these headers; its `size` field (offset 48) is the whole frame length including the header.

use bytes::{BufMut, BytesMut};

use crate::native::codec::{Reader, WireDecode, WireEncode, check_range};
use crate::native::error::{NativeWireError, Result};
use crate::native::limits::{FRAME_BYTES_MAX, HEADER_BYTES};

/// `command` byte of a client request.
pub const COMMAND_REQUEST: u8 = 5;
/// `command` byte of a broker reply.
pub const COMMAND_REPLY: u8 = 8;
/// `command` byte of an eviction frame (§2.4).
pub const COMMAND_EVICTION: u8 = 13;

/// Offset of the `size` field, the only field a transport reads before the header is complete.
const SIZE_OFFSET: usize = 48;

/// How a command is carried (request byte 176, echoed at reply byte 208).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    /// 1: login (codes 40 and 45; the code itself is not on the wire).
    Register,
    /// 2: reads and non-replicated commands; the code sits at bytes 196..200.
    NonReplicated,
    /// 3: logout (code 39).
    Logout,
    /// 128..=149 metadata ops and 160..=162 partition ops; the byte names the command.
    Replicated(u8),
}

impl Operation {
    /// Parse the operation byte. 0 is rejected (the server requires a set operation) and so are
    /// the server-internal values 64..=68 and anything else protocol 0.11 does not define.
    pub fn from_byte(byte: u8) -> Result<Self> {
        match byte {
            1 => Ok(Self::Register),
            2 => Ok(Self::NonReplicated),
            3 => Ok(Self::Logout),
            128..=149 | 160..=162 => Ok(Self::Replicated(byte)),
            other => Err(NativeWireError::InvalidValue {
                field: "operation",
                value: u64::from(other),
            }),
        }
    }

    /// The byte written on the wire.
    #[must_use]
    pub fn byte(self) -> u8 {
        match self {
            Self::Register => 1,
            Self::NonReplicated => 2,
            Self::Logout => 3,
            Self::Replicated(byte) => byte,
        }
    }

    /// Whether the reply body starts with a result section (§2.3): every metadata op except
    /// 138 DeleteSegments, plus StoreConsumerOffset and DeleteConsumerOffset, plus a non-empty
    /// Register reply. The SDK decides this from the echoed operation byte, so the broker must
    /// agree exactly.
    #[must_use]
    pub fn is_result_framed(self) -> bool {
        match self {
            Self::Register => true,
            Self::NonReplicated | Self::Logout => false,
            Self::Replicated(138) => false,
            Self::Replicated(byte) => (128..=149).contains(&byte) || byte == 161 || byte == 162,
        }
    }
}

/// A decoded and validated request header (§2.1). Fields the broker never reads are still kept
/// so the header can be re-encoded byte for byte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHeader {
    /// Header checksum; the 0.11 SDK leaves it 0.
    pub checksum: u128,
    /// Body checksum; the 0.11 SDK leaves it 0.
    pub checksum_body: u128,
    /// Cluster id; echoed in the reply.
    pub cluster: u128,
    /// Whole frame length, header included.
    pub size: u32,
    /// View number; echoed.
    pub view: u32,
    /// Release; echoed.
    pub release: u32,
    /// Replica index.
    pub replica: u8,
    /// Random non-zero id of the SDK client instance.
    pub client: u128,
    /// XXH3-64 of the body, zero-extended, or 0 when the SDK does not stamp it.
    pub request_checksum: u128,
    /// Client timestamp; echoed.
    pub timestamp: u64,
    /// Request number; the dedup key together with `client`.
    pub request: u64,
    /// How the command travels.
    pub operation: Operation,
    /// Session from login; 0 before login.
    pub session: u64,
    /// User id as sent (the server ignores it).
    pub user_id: u32,
    /// Legacy command code at bytes 196..200 (meaningful for NonReplicated only).
    pub legacy_code: u32,
}

impl RequestHeader {
    /// Length of the body that follows this header.
    #[must_use]
    pub fn body_len(&self) -> usize {
        (self.size as usize).saturating_sub(HEADER_BYTES)
    }

    /// The command code this request carries: the legacy code for NonReplicated, the mapped code
    /// for replicated and logout ops. `None` for Register (40 or 45, told apart by body shape)
    /// and for a replicated byte the registry does not know.
    #[must_use]
    pub fn command_code(&self) -> Option<u32> {
        match self.operation {
            Operation::NonReplicated => Some(self.legacy_code),
            Operation::Logout => Some(crate::native::codes::LOGOUT_USER),
            Operation::Register => None,
            Operation::Replicated(byte) => {
                crate::native::codes::by_replicated_operation(byte).map(|spec| spec.code)
            }
        }
    }

    /// Check the session rules the reference server enforces: Register needs session 0 and
    /// request 0; every other op except NonReplicated needs both non-zero.
    fn validate_session(&self) -> Result<()> {
        match self.operation {
            Operation::Register => {
                non_zero_rejected("session", self.session)?;
                non_zero_rejected("request", self.request)
            }
            Operation::NonReplicated => Ok(()),
            Operation::Logout | Operation::Replicated(_) => {
                zero_rejected("session", self.session)?;
                zero_rejected("request", self.request)
            }
        }
    }
}

fn non_zero_rejected(field: &'static str, value: u64) -> Result<()> {
    if value != 0 {
        return Err(NativeWireError::InvalidValue { field, value });
    }
    Ok(())
}

fn zero_rejected(field: &'static str, value: u64) -> Result<()> {
    if value == 0 {
        return Err(NativeWireError::InvalidValue { field, value });
    }
    Ok(())
}

/// Read the frame length from the first bytes of a frame, so a transport knows how much to
/// buffer. Returns `Ok(None)` until the `size` field has arrived; rejects sizes below one header
/// or above [`FRAME_BYTES_MAX`] before the body is read.
pub fn peek_frame_size(prefix: &[u8]) -> Result<Option<usize>> {
    let Some(field) = prefix.get(SIZE_OFFSET..SIZE_OFFSET + 4) else {
        return Ok(None);
    };
    let mut reader = Reader::new(field);
    let size = reader.u32("size")?;
    check_range(
        "size",
        u64::from(size),
        HEADER_BYTES as u64,
        FRAME_BYTES_MAX as u64,
    )?;
    Ok(Some(size as usize))
}

/// XXH3-64 (seed 0) of a body, as stamped in `request_checksum` (zero-extended to 128 bits).
#[must_use]
pub fn body_checksum(body: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(body)
}

/// Verify a request's checksum stamp against its body. A zero stamp means "not stamped" and is
/// accepted (the SDK leaves partition and read ops unstamped); a non-zero stamp must match, or
/// the server answers 4 InvalidFormat.
pub fn verify_request_checksum(header: &RequestHeader, body: &[u8]) -> Result<()> {
    if header.request_checksum == 0 {
        return Ok(());
    }
    let computed = body_checksum(body);
    if header.request_checksum != u128::from(computed) {
        return Err(NativeWireError::ChecksumMismatch {
            field: "request",
            stored: header.request_checksum as u64,
            computed,
        });
    }
    Ok(())
}

impl WireDecode for RequestHeader {
    fn decode(bytes: &[u8]) -> Result<(Self, usize)> {
        let mut reader = Reader::new(bytes);
        let checksum = reader.u128("checksum")?;
        let checksum_body = reader.u128("checksum_body")?;
        let cluster = reader.u128("cluster")?;
        let size = reader.u32("size")?;
        check_range(
            "size",
            u64::from(size),
            HEADER_BYTES as u64,
            FRAME_BYTES_MAX as u64,
        )?;
        let view = reader.u32("view")?;
        let release = reader.u32("release")?;
        let command = reader.u8("command")?;
        if command != COMMAND_REQUEST {
            return Err(NativeWireError::InvalidValue {
                field: "command",
                value: u64::from(command),
            });
        }
        let replica = reader.u8("replica")?;
        reader.take("reserved_frame", 66)?;
        let client = reader.u128("client")?;
        if client == 0 {
            return Err(NativeWireError::InvalidValue {
                field: "client",
                value: 0,
            });
        }
        let request_checksum = reader.u128("request_checksum")?;
        let timestamp = reader.u64("timestamp")?;
        let request = reader.u64("request")?;
        let operation_byte = reader.u8("operation")?;
        reader.take("padding", 7)?;
        let session = reader.u64("session")?;
        let user_id = reader.u32("user_id")?;
        let legacy_code = reader.u32("legacy_code")?;
        reader.take("reserved", 56)?;
        let header = Self {
            checksum,
            checksum_body,
            cluster,
            size,
            view,
            release,
            replica,
            client,
            request_checksum,
            timestamp,
            request,
            operation: Operation::from_byte(operation_byte)?,
            session,
            user_id,
            legacy_code,
        };
        header.validate_session()?;
        Ok((header, HEADER_BYTES))
    }
}

impl WireEncode for RequestHeader {
    fn encoded_size(&self) -> usize {
        HEADER_BYTES
    }

    fn encode(&self, out: &mut BytesMut) {
        out.put_u128_le(self.checksum);
        out.put_u128_le(self.checksum_body);
        out.put_u128_le(self.cluster);
        out.put_u32_le(self.size);
        out.put_u32_le(self.view);
        out.put_u32_le(self.release);
        out.put_u8(COMMAND_REQUEST);
        out.put_u8(self.replica);
        out.put_bytes(0, 66);
        out.put_u128_le(self.client);
        out.put_u128_le(self.request_checksum);
        out.put_u64_le(self.timestamp);
        out.put_u64_le(self.request);
        out.put_u8(self.operation.byte());
        out.put_bytes(0, 7);
        out.put_u64_le(self.session);
        out.put_u32_le(self.user_id);
        out.put_u32_le(self.legacy_code);
        out.put_bytes(0, 56);
    }
}

/// A reply header (§2.2). The SDK reads `size`, `command`, `operation` and `status`; the rest are
/// echoes of the request or counters the SDK keeps as watermarks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyHeader {
    /// Echo of the request's cluster.
    pub cluster: u128,
    /// Whole frame length, header included.
    pub size: u32,
    /// Echo of the request's view.
    pub view: u32,
    /// Echo of the request's release.
    pub release: u32,
    /// Replica index of the answering node.
    pub replica: u8,
    /// Echo of the request checksum.
    pub request_checksum: u128,
    /// Reserved context, 0.
    pub context: u128,
    /// Echo of the request's client.
    pub client: u128,
    /// The session number (what the reference server writes here).
    pub op: u64,
    /// Metadata commit number; must never decrease across replies.
    pub commit: u64,
    /// Echo of the request's timestamp.
    pub timestamp: u64,
    /// Echo of the request number.
    pub request: u64,
    /// Echo of the request's operation byte; the SDK uses it to decide result framing.
    pub operation: u8,
    /// 0 = ok, else an Iggy error code with an empty body.
    pub status: u32,
}

impl ReplyHeader {
    /// Build the reply header for `request` with a body of `body_len` bytes. The body length is
    /// bounded by the caller (replies are built by the broker, not read from a peer); a body too
    /// large for the `size` field saturates, which the SDK will reject rather than misframe.
    #[must_use]
    pub fn for_request(request: &RequestHeader, body_len: usize, status: u32, commit: u64) -> Self {
        let size = u32::try_from(HEADER_BYTES + body_len).unwrap_or(u32::MAX);
        Self {
            cluster: request.cluster,
            size,
            view: request.view,
            release: request.release,
            replica: 0,
            request_checksum: request.request_checksum,
            context: 0,
            client: request.client,
            op: request.session,
            commit,
            timestamp: request.timestamp,
            request: request.request,
            operation: request.operation.byte(),
            status,
        }
    }
}

impl WireEncode for ReplyHeader {
    fn encoded_size(&self) -> usize {
        HEADER_BYTES
    }

    fn encode(&self, out: &mut BytesMut) {
        out.put_bytes(0, 32);
        out.put_u128_le(self.cluster);
        out.put_u32_le(self.size);
        out.put_u32_le(self.view);
        out.put_u32_le(self.release);
        out.put_u8(COMMAND_REPLY);
        out.put_u8(self.replica);
        out.put_bytes(0, 66);
        out.put_u128_le(self.request_checksum);
        out.put_u128_le(self.context);
        out.put_u128_le(self.client);
        out.put_u64_le(self.op);
        out.put_u64_le(self.commit);
        out.put_u64_le(self.timestamp);
        out.put_u64_le(self.request);
        out.put_u8(self.operation);
        out.put_bytes(0, 7);
        out.put_u32_le(self.status);
        out.put_bytes(0, 36);
    }
}

impl WireDecode for ReplyHeader {
    fn decode(bytes: &[u8]) -> Result<(Self, usize)> {
        let mut reader = Reader::new(bytes);
        reader.take("checksums", 32)?;
        let cluster = reader.u128("cluster")?;
        let size = reader.u32("size")?;
        check_range(
            "size",
            u64::from(size),
            HEADER_BYTES as u64,
            FRAME_BYTES_MAX as u64,
        )?;
        let view = reader.u32("view")?;
        let release = reader.u32("release")?;
        let command = reader.u8("command")?;
        if command != COMMAND_REPLY {
            return Err(NativeWireError::InvalidValue {
                field: "command",
                value: u64::from(command),
            });
        }
        let replica = reader.u8("replica")?;
        reader.take("reserved_frame", 66)?;
        let header = Self {
            cluster,
            size,
            view,
            release,
            replica,
            request_checksum: reader.u128("request_checksum")?,
            context: reader.u128("context")?,
            client: reader.u128("client")?,
            op: reader.u64("op")?,
            commit: reader.u64("commit")?,
            timestamp: reader.u64("timestamp")?,
            request: reader.u64("request")?,
            operation: reader.u8("operation")?,
            status: {
                reader.take("padding", 7)?;
                reader.u32("status")?
            },
        };
        reader.take("reserved", 36)?;
        Ok((header, HEADER_BYTES))
    }
}

#[cfg(test)]
#[path = "header_tests.rs"]
mod tests;
