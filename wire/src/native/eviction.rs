//! The eviction frame (§2.4): a header-only, session-terminal answer. The broker sends it for
//! bad credentials, a missing or stale session, a malformed login or an incompatible protocol
//! version; the SDK turns the reason into an error and drops the session.

use bytes::{BufMut, BytesMut};

use crate::native::codec::{Reader, WireDecode, WireEncode};
use crate::native::error::{NativeWireError, Result};
use crate::native::header::COMMAND_EVICTION;
use crate::native::limits::HEADER_BYTES;

/// Why a session is evicted (byte 255). Values 2..=6 exist upstream but carry no distinct
/// meaning for a 0.11 SDK (all map to InvalidCommand), so the broker never sends them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum EvictionReason {
    /// No session for a request that needs one (SDK error 40).
    NoSession = 1,
    /// Session number lower than the current one (40).
    SessionTooLow = 7,
    /// Session belongs to another release (40).
    SessionReleaseMismatch = 8,
    /// Wrong username or password (42).
    InvalidCredentials = 9,
    /// Unknown or expired personal access token (53).
    InvalidToken = 10,
    /// The user is inactive (40).
    UserInactive = 11,
    /// Any other session failure (40).
    SessionError = 12,
    /// The client id was replaced by a newer login (30).
    StaleClient = 13,
    /// Protocol version outside the accepted window; carries the window (14003).
    IncompatibleProtocol = 14,
    /// Login body without a decodable version prefix, or a legacy login code (4).
    MalformedLogin = 15,
}

impl EvictionReason {
    fn from_byte(byte: u8) -> Result<Self> {
        Ok(match byte {
            1 => Self::NoSession,
            7 => Self::SessionTooLow,
            8 => Self::SessionReleaseMismatch,
            9 => Self::InvalidCredentials,
            10 => Self::InvalidToken,
            11 => Self::UserInactive,
            12 => Self::SessionError,
            13 => Self::StaleClient,
            14 => Self::IncompatibleProtocol,
            15 => Self::MalformedLogin,
            other => {
                return Err(NativeWireError::InvalidValue {
                    field: "eviction_reason",
                    value: u64::from(other),
                });
            }
        })
    }
}

/// The protocol window reported with [`EvictionReason::IncompatibleProtocol`], as packed
/// versions (`major<<20 | minor<<10 | patch`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProtocolWindow {
    /// Highest accepted version (byte 144).
    pub max: u32,
    /// Lowest accepted version (byte 148).
    pub min: u32,
}

/// An eviction frame. `client` must be the request's non-zero client id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Eviction {
    /// The request's client id.
    pub client: u128,
    /// Why the session ends.
    pub reason: EvictionReason,
    /// Present only for [`EvictionReason::IncompatibleProtocol`].
    pub window: Option<ProtocolWindow>,
}

impl WireEncode for Eviction {
    fn encoded_size(&self) -> usize {
        HEADER_BYTES
    }

    fn encode(&self, out: &mut BytesMut) {
        out.put_bytes(0, 48);
        out.put_u32_le(HEADER_BYTES as u32);
        out.put_bytes(0, 8);
        out.put_u8(COMMAND_EVICTION);
        out.put_bytes(0, 67);
        out.put_u128_le(self.client);
        let window = self.window.unwrap_or(ProtocolWindow { max: 0, min: 0 });
        out.put_u32_le(window.max);
        out.put_u32_le(window.min);
        out.put_bytes(0, 255 - 152);
        out.put_u8(self.reason as u8);
    }
}

impl WireDecode for Eviction {
    fn decode(bytes: &[u8]) -> Result<(Self, usize)> {
        let mut reader = Reader::new(bytes);
        reader.take("checksums", 48)?;
        let size = reader.u32("size")?;
        if size as usize != HEADER_BYTES {
            return Err(NativeWireError::InvalidValue {
                field: "size",
                value: u64::from(size),
            });
        }
        reader.take("view_release", 8)?;
        let command = reader.u8("command")?;
        if command != COMMAND_EVICTION {
            return Err(NativeWireError::InvalidValue {
                field: "command",
                value: u64::from(command),
            });
        }
        reader.take("reserved_frame", 67)?;
        let client = reader.u128("client")?;
        if client == 0 {
            return Err(NativeWireError::InvalidValue {
                field: "client",
                value: 0,
            });
        }
        let max = reader.u32("window_max")?;
        let min = reader.u32("window_min")?;
        reader.take("reserved", 255 - 152)?;
        let reason = EvictionReason::from_byte(reader.u8("eviction_reason")?)?;
        let window =
            (reason == EvictionReason::IncompatibleProtocol).then_some(ProtocolWindow { max, min });
        Ok((
            Self {
                client,
                reason,
                window,
            },
            HEADER_BYTES,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::native::codec::testing::roundtrip_strict;

    #[test]
    fn incompatible_protocol_layout() {
        let eviction = Eviction {
            client: 42,
            reason: EvictionReason::IncompatibleProtocol,
            window: Some(ProtocolWindow {
                max: 0x2C00,
                min: 0x2C00,
            }),
        };
        let bytes = roundtrip_strict(&eviction);
        assert_eq!(&bytes[48..52], &256u32.to_le_bytes());
        assert_eq!(bytes[60], 13);
        assert_eq!(&bytes[128..144], &42u128.to_le_bytes());
        assert_eq!(&bytes[144..148], &0x2C00u32.to_le_bytes());
        assert_eq!(&bytes[148..152], &0x2C00u32.to_le_bytes());
        assert_eq!(bytes[255], 14);
        let zero_elsewhere = bytes
            .iter()
            .enumerate()
            .filter(|(offset, _)| !matches!(offset, 48..52 | 60 | 128..152 | 255))
            .all(|(_, byte)| *byte == 0);
        assert!(zero_elsewhere);
    }

    #[test]
    fn credentials_eviction_has_no_window() {
        let eviction = Eviction {
            client: 7,
            reason: EvictionReason::InvalidCredentials,
            window: None,
        };
        let bytes = roundtrip_strict(&eviction);
        assert_eq!(bytes[255], 9);
        let mut unknown = bytes.clone();
        unknown[255] = 99;
        assert!(Eviction::decode(&unknown).is_err());
    }
}
