//! The classic Iggy framing (SDK `iggy` ≤ 0.10, `apache-iggy` ≤ 0.8, server 0.8), served on
//! the same port as protocol 0.11 by translating each classic request into the 0.11 body the
//! existing handlers decode, and each 0.11 reply payload back into the classic layout. Pure
//! byte-in, byte-out functions: no session state, no I/O.
//!
//! Framing (all little-endian):
//! * request `[length:u32 = 4 + payload][code:u32][payload]`;
//! * reply `[status:u32][length:u32][payload]`; an error is a non-zero status with length 0
//!   (the 0.10 SDK never reads a payload after an error status, and treats a length of 0 or 1
//!   as an empty payload).
//!
//! A connection is told apart by its first four bytes ([`is_classic`]): a classic request starts
//! with its non-zero length, a 0.11 request with the zero checksum of its 256-byte header.
//!
//! The modules:
//! * [`codes`]: the classic command table (which codes exist, which bodies differ);
//! * [`login`]: the two classic login bodies (38, 44) and their `[user_id]` reply;
//! * [`translate`]: classic request body → 0.11 request body ([`translate::request_to_current`]);
//! * [`reply`]: 0.11 reply payload → classic reply payload ([`reply::reply_to_classic`]).
//!
//! Every length read from the peer is bounded before anything is allocated; nothing here panics
//! on peer input.

use bytes::{BufMut, BytesMut};

use crate::native::NativeWireError;
use crate::native::codec::check_range;
use crate::native::limits::FRAME_BYTES_MAX;
use crate::native::status::Status;

pub mod codes;
pub mod login;
mod messages;
pub mod reply;
pub mod translate;

pub use login::{ClassicLogin, decode_token_login, encode_login_reply};
pub use reply::{poll_parts_to_classic, reply_to_classic};
pub use translate::{Translated, request_to_current, request_to_current_with};

/// Bytes before a classic request payload: `[length:u32][code:u32]`.
pub const REQUEST_PREFIX_BYTES: usize = 8;

/// Bytes before a classic reply payload: `[status:u32][length:u32]`.
pub const REPLY_PREFIX_BYTES: usize = 8;

/// Largest whole classic request frame (`4 + length`). The same cap as a 0.11 frame, so one
/// classic connection can make the broker buffer no more than a 0.11 one.
pub const CLASSIC_FRAME_BYTES_MAX: usize = FRAME_BYTES_MAX;

/// Errors of the classic translation: a wire error in a body, or a command code the classic
/// protocol does not have.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClassicError {
    /// A body or frame that does not decode, or breaks a bound.
    #[error(transparent)]
    Wire(#[from] NativeWireError),
    /// A code that exists only in protocol 0.11 (13, 14, 40, 45, 103, 104, 123, 606) or in
    /// neither protocol.
    #[error("command code {code} does not exist in the classic protocol")]
    UnknownCommand {
        /// The code the client sent.
        code: u32,
    },
    /// The origin timestamps of one classic send are further apart than a 0.11 batch can carry
    /// (`timestamp_delta` is a u32 of µs, about 71 minutes).
    #[error("origin timestamps of one send span {span_us} µs, more than a batch can carry")]
    TimestampSpan {
        /// Largest minus smallest origin timestamp of the send, µs.
        span_us: u64,
    },
}

impl ClassicError {
    /// The status a classic reply carries for this error (what an Iggy 0.8 server would send,
    /// or the nearest code Whippet has).
    #[must_use]
    pub fn status(&self) -> Status {
        match self {
            Self::Wire(error) => error.status(),
            Self::UnknownCommand { .. } => Status::InvalidCommand,
            Self::TimestampSpan { .. } => Status::InvalidMessageTimestampDelta,
        }
    }
}

/// Result alias of the classic translation.
pub type Result<T> = std::result::Result<T, ClassicError>;

/// Fail with [`NativeWireError::TrailingBytes`] unless `reader` is at the end of its input.
pub(crate) fn expect_end(
    reader: &crate::native::codec::Reader<'_>,
    field: &'static str,
) -> Result<()> {
    if reader.remaining() > 0 {
        return Err(NativeWireError::TrailingBytes {
            field,
            extra: reader.remaining(),
        }
        .into());
    }
    Ok(())
}

/// Whether the first four bytes of a connection start a classic request: a classic request
/// starts with its non-zero `u32` length, a 0.11 request with 16 zero checksum bytes.
#[must_use]
pub fn is_classic(first4: [u8; 4]) -> bool {
    u32::from_le_bytes(first4) != 0
}

/// A complete classic request at the front of a buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClassicFrame {
    /// Command code.
    pub code: u32,
    /// Whole frame length, `4 + length`; the payload is `buf[8..frame_len]`.
    pub frame_len: usize,
}

impl ClassicFrame {
    /// The payload of this frame inside `buf` (the buffer [`peek_request`] accepted).
    #[must_use]
    pub fn payload<'a>(&self, buf: &'a [u8]) -> &'a [u8] {
        buf.get(REQUEST_PREFIX_BYTES..self.frame_len)
            .unwrap_or_default()
    }
}

/// The whole frame length announced by the length prefix at the front of `buf`, once its four
/// bytes are there: `Ok(None)` before that, an error if the length is below 4 (no room for the
/// code) or the frame would exceed [`CLASSIC_FRAME_BYTES_MAX`]. Lets a reader size its next
/// read before the frame is complete.
pub fn peek_frame_len(buf: &[u8]) -> Result<Option<usize>> {
    let Some(prefix) = buf.first_chunk::<4>() else {
        return Ok(None);
    };
    let length = u64::from(u32::from_le_bytes(*prefix));
    check_range(
        "classic_length",
        length,
        4,
        (CLASSIC_FRAME_BYTES_MAX - 4) as u64,
    )?;
    Ok(Some(4 + length as usize))
}

/// A complete classic request at the front of `buf`: `Ok(None)` while more bytes are needed,
/// an error if the length prefix lies (see [`peek_frame_len`]).
pub fn peek_request(buf: &[u8]) -> Result<Option<ClassicFrame>> {
    let Some(frame_len) = peek_frame_len(buf)? else {
        return Ok(None);
    };
    if buf.len() < frame_len {
        return Ok(None);
    }
    let Some(code) = buf.get(4..8).and_then(|bytes| bytes.first_chunk::<4>()) else {
        return Ok(None);
    };
    Ok(Some(ClassicFrame {
        code: u32::from_le_bytes(*code),
        frame_len,
    }))
}

/// Append a classic request frame (what a 0.10 SDK sends): `[4 + payload len][code][payload]`.
/// For tests and load generators; the payload must fit the frame cap to be accepted.
pub fn encode_request(out: &mut BytesMut, code: u32, payload: &[u8]) {
    out.reserve(REQUEST_PREFIX_BYTES + payload.len());
    out.put_u32_le((4 + payload.len()) as u32);
    out.put_u32_le(code);
    out.put_slice(payload);
}

/// Append the reply prefix `[status][length]`. A non-zero status must come with length 0.
pub fn encode_reply_prefix(out: &mut BytesMut, status: u32, payload_len: u32) {
    out.put_u32_le(status);
    out.put_u32_le(payload_len);
}

/// Append a whole success reply: `[0][len][payload]`.
pub fn encode_ok_reply(out: &mut BytesMut, payload: &[u8]) {
    out.reserve(REPLY_PREFIX_BYTES + payload.len());
    encode_reply_prefix(out, Status::Ok.code(), payload.len() as u32);
    out.put_slice(payload);
}

/// Append a whole error reply: `[status][0]`.
pub fn encode_error_reply(out: &mut BytesMut, status: Status) {
    encode_reply_prefix(out, status.code(), 0);
}

#[cfg(test)]
#[path = "mod_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "fuzz_tests.rs"]
mod fuzz_tests;
