//! Classic login (codes 38 and 44). Authentication in the classic protocol belongs to the
//! connection: there are no sessions or request ids, so these bodies have no 0.11 equivalent
//! and the broker handles them itself.
//!
//! * 38 login_user: `[user_len:u8][user][pw_len:u8][pw][version_len:u32][version]`
//!   `[context_len:u32][context]`. The 0.10 SDK sends its crate version ("0.10.0") and an
//!   empty context; a zero length means "absent". The two trailing fields are accepted as
//!   missing altogether (older SDKs ended the body after the password).
//! * 44 login_with_personal_access_token: `[token_len:u8][token]`.
//! * Both reply `[user_id:u32]` (the 0.10 `IdentityResponse`; nothing else is decoded).

use bytes::{BufMut, BytesMut};

use super::{Result, expect_end};
use crate::native::codec::{Reader, put_bytes_u32, put_string_u8, utf8};
use crate::native::limits::{
    LOGIN_CONTEXT_BYTES_MAX, NAME_BYTES_MAX, PASSWORD_BYTES_MAX, PASSWORD_BYTES_MIN,
    TEXT_BYTES_MAX, USERNAME_BYTES_MAX, USERNAME_BYTES_MIN,
};
use crate::native::status::Status;

/// A decoded classic login_user (38) body. Lengths are checked against the wire bounds only
/// (1..=255 for the name); [`ClassicLogin::check_lengths`] applies the 3..=50 / 3..=100 rule the
/// 0.8 server answered with InvalidUsername / InvalidPassword.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassicLogin {
    /// Username.
    pub username: String,
    /// Password.
    pub password: String,
    /// SDK version the client reported, when non-empty.
    pub version: Option<String>,
    /// Opaque login context, when non-empty.
    pub context: Option<String>,
}

impl ClassicLogin {
    /// Decode a whole login_user body; leftover bytes are an error.
    pub fn decode(body: &[u8]) -> Result<Self> {
        let mut reader = Reader::new(body);
        let username = reader.string_u8("username", 1, NAME_BYTES_MAX)?;
        let password = reader.string_u8("password", 0, NAME_BYTES_MAX)?;
        let version = optional_text(&mut reader, "login_version", TEXT_BYTES_MAX)?;
        let context = optional_text(&mut reader, "login_context", LOGIN_CONTEXT_BYTES_MAX)?;
        expect_end(&reader, "classic_login")?;
        Ok(Self {
            username,
            password,
            version,
            context,
        })
    }

    /// Encode the body as the 0.10 SDK does (absent version/context as zero lengths).
    pub fn encode(&self, out: &mut BytesMut) {
        put_string_u8(out, &self.username);
        put_string_u8(out, &self.password);
        for field in [&self.version, &self.context] {
            let text = field.as_deref().unwrap_or_default();
            put_bytes_u32(out, text.as_bytes());
        }
    }

    /// The 0.8 server's length rule: username 3..=50 bytes (else InvalidUsername), password
    /// 3..=100 bytes (else InvalidPassword).
    pub fn check_lengths(&self) -> std::result::Result<(), Status> {
        if !(USERNAME_BYTES_MIN..=USERNAME_BYTES_MAX).contains(&self.username.len()) {
            return Err(Status::InvalidUsername);
        }
        if !(PASSWORD_BYTES_MIN..=PASSWORD_BYTES_MAX).contains(&self.password.len()) {
            return Err(Status::InvalidPassword);
        }
        Ok(())
    }
}

/// `[len:u32][utf8]` where 0 means absent, or nothing at all at the end of the body.
fn optional_text(
    reader: &mut Reader<'_>,
    field: &'static str,
    max: usize,
) -> Result<Option<String>> {
    if reader.remaining() == 0 {
        return Ok(None);
    }
    let length = reader.length_u32(field, 0, max)?;
    if length == 0 {
        return Ok(None);
    }
    Ok(Some(utf8(field, reader.take(field, length)?)?))
}

/// Decode a login_with_personal_access_token (44) body: `[len:u8][token]`, 1..=255 bytes,
/// nothing after it.
pub fn decode_token_login(body: &[u8]) -> Result<String> {
    let mut reader = Reader::new(body);
    let token = reader.string_u8("token", 1, NAME_BYTES_MAX)?;
    expect_end(&reader, "classic_token_login")?;
    Ok(token)
}

/// Append the payload of a successful classic login (38 or 44): `[user_id:u32]`.
pub fn encode_login_reply(out: &mut BytesMut, user_id: u32) {
    out.put_u32_le(user_id);
}

/// Read back a login reply payload (for clients and tests).
pub fn decode_login_reply(payload: &[u8]) -> Result<u32> {
    let mut reader = Reader::new(payload);
    let user_id = reader.u32("user_id")?;
    Ok(user_id)
}

/// Validate a classic login body of either code without keeping it (used by the translator,
/// which passes login bodies through to the broker's classic login handler).
pub(crate) fn validate(code: u32, body: &[u8]) -> Result<()> {
    match code {
        38 => ClassicLogin::decode(body).map(drop),
        _ => decode_token_login(body).map(drop),
    }
}

#[cfg(test)]
#[path = "login_tests.rs"]
mod tests;
