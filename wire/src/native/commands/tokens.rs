//! Personal access token commands (§2.6): list (41), create (42), delete (43). Login with a
//! token is a Register body and lives in `system`.

use bytes::{BufMut, BytesMut};

use crate::native::codec::{
    Reader, WireDecode, WireEncode, check_range, put_string_u8, string_u8_size, wire_struct,
};
use crate::native::error::Result;
use crate::native::limits::{LIST_ENTRIES_MAX, NAME_BYTES_MAX};

/// Token expiry meaning "use the server default".
pub const EXPIRY_SERVER_DEFAULT: u64 = 0;
/// Token expiry meaning "never expires".
pub const EXPIRY_NEVER: u64 = u64::MAX;

wire_struct! {
    /// create_personal_access_token (42).
    pub struct CreateToken {
        /// Token name, unique per user.
        pub name: String,
        /// Lifetime in µs; see [`EXPIRY_SERVER_DEFAULT`] and [`EXPIRY_NEVER`].
        pub expiry: u64,
    }
}

wire_struct! {
    /// delete_personal_access_token (43).
    pub struct DeleteToken {
        /// Token name.
        pub name: String,
    }
}

wire_struct! {
    /// create reply payload (after the result section): the raw token, which exists only here.
    pub struct CreatedToken {
        /// The secret token.
        pub token: String,
    }
}

/// One entry of the token list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenEntry {
    /// Token name.
    pub name: String,
    /// Expiry instant, µs since the epoch; 0 = never (the SDK maps 0 to "no expiry").
    pub expiry_at: u64,
}

/// get_personal_access_tokens reply: entries back to back.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TokenList {
    /// The caller's tokens.
    pub tokens: Vec<TokenEntry>,
}

impl WireEncode for TokenList {
    fn encoded_size(&self) -> usize {
        self.tokens
            .iter()
            .map(|token| string_u8_size(&token.name) + 8)
            .sum()
    }

    fn encode(&self, out: &mut BytesMut) {
        for token in &self.tokens {
            put_string_u8(out, &token.name);
            out.put_u64_le(token.expiry_at);
        }
    }
}

impl WireDecode for TokenList {
    fn decode(bytes: &[u8]) -> Result<(Self, usize)> {
        let mut reader = Reader::new(bytes);
        let mut tokens = Vec::new();
        while reader.remaining() > 0 {
            check_range(
                "tokens",
                tokens.len() as u64,
                0,
                LIST_ENTRIES_MAX as u64 - 1,
            )?;
            tokens.push(TokenEntry {
                name: reader.string_u8("token_name", 1, NAME_BYTES_MAX)?,
                expiry_at: reader.u64("expiry_at")?,
            });
        }
        Ok((Self { tokens }, reader.position()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::native::codec::testing::roundtrip_strict;

    #[test]
    fn layouts() {
        let create = roundtrip_strict(&CreateToken {
            name: "ci".into(),
            expiry: EXPIRY_NEVER,
        });
        assert_eq!(create, [&[2, b'c', b'i'][..], &[0xff; 8]].concat());
        assert_eq!(
            roundtrip_strict(&DeleteToken { name: "ci".into() }),
            vec![2, b'c', b'i']
        );
        roundtrip_strict(&CreatedToken {
            token: "x".repeat(200),
        });
        let list = TokenList {
            tokens: vec![
                TokenEntry {
                    name: "a".into(),
                    expiry_at: 1,
                },
                TokenEntry {
                    name: "b".into(),
                    expiry_at: EXPIRY_NEVER,
                },
            ],
        };
        let bytes = list.to_bytes();
        assert_eq!(bytes.len(), list.encoded_size());
        assert_eq!(TokenList::decode_exact(&bytes).unwrap(), list);
        for cut in 1..bytes.len() {
            if cut != 10 {
                assert!(TokenList::decode_exact(&bytes[..cut]).is_err(), "cut {cut}");
            }
        }
    }
}
