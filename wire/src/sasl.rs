//! The SASL messages Kafka clients send inside SaslAuthenticate (or, after a v0 handshake, as
//! bare size-prefixed tokens): PLAIN (RFC 4616) and the SCRAM exchange (RFC 5802, with the
//! SHA-256/512 mechanisms of RFC 7677). Parsing and formatting only; the proofs are checked by
//! the broker's users core, which owns the credentials.
//!
//! What is refused: channel binding (`p=` in the GS2 header; Kafka clients never ask for it),
//! an authorization identity other than the user itself, SCRAM extensions other than Kafka's
//! own `tokenauth` marker (which is refused too: there are no delegation tokens), and any
//! field over [`SASL_FIELD_BYTES_MAX`] bytes.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// Longest username, password, nonce or other field accepted in a SASL message.
pub const SASL_FIELD_BYTES_MAX: usize = 1024;
/// Longest SASL token accepted at all.
pub const SASL_TOKEN_BYTES_MAX: usize = 8 * 1024;

/// Why a SASL message was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SaslError {
    /// The message does not follow the mechanism's grammar.
    #[error("malformed SASL message: {0}")]
    Malformed(&'static str),
    /// A field or the whole token is longer than allowed.
    #[error("SASL message too long")]
    TooLong,
    /// Something the broker does not support (channel binding, extensions).
    #[error("unsupported SASL feature: {0}")]
    Unsupported(&'static str),
}

/// A PLAIN message: `[authzid] NUL authcid NUL passwd`.
#[derive(Debug, PartialEq, Eq)]
pub struct Plain<'a> {
    /// The user to log in as.
    pub username: &'a str,
    /// Its password.
    pub password: &'a str,
}

/// Parses a PLAIN message. An authorization identity, when given, must equal the username.
pub fn parse_plain(token: &[u8]) -> Result<Plain<'_>, SaslError> {
    check_len(token, SASL_TOKEN_BYTES_MAX)?;
    let text = std::str::from_utf8(token).map_err(|_| SaslError::Malformed("not UTF-8"))?;
    let mut parts = text.split('\0');
    let (Some(authzid), Some(username), Some(password), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(SaslError::Malformed(
            "PLAIN needs three NUL-separated fields",
        ));
    };
    if username.is_empty() || password.is_empty() {
        return Err(SaslError::Malformed("empty username or password"));
    }
    if !authzid.is_empty() && authzid != username {
        return Err(SaslError::Unsupported(
            "authorization identity of another user",
        ));
    }
    check_len(username.as_bytes(), SASL_FIELD_BYTES_MAX)?;
    check_len(password.as_bytes(), SASL_FIELD_BYTES_MAX)?;
    Ok(Plain { username, password })
}

/// The SCRAM client-first message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientFirst {
    /// The GS2 header as sent (`n,,` or `y,,`, or with `a=<user>`); echoed base64-encoded in
    /// the client-final message.
    pub gs2_header: String,
    /// The username, with `=2C` and `=3D` decoded.
    pub username: String,
    /// The client's nonce.
    pub nonce: String,
    /// The message without the GS2 header (part of the AuthMessage).
    pub bare: String,
}

/// Parses a SCRAM client-first message: `gs2-header n=user,r=nonce[,ext...]`.
pub fn parse_client_first(token: &[u8]) -> Result<ClientFirst, SaslError> {
    check_len(token, SASL_TOKEN_BYTES_MAX)?;
    let text = std::str::from_utf8(token).map_err(|_| SaslError::Malformed("not UTF-8"))?;
    let (flag, rest) = text
        .split_once(',')
        .ok_or(SaslError::Malformed("no GS2 header"))?;
    match flag {
        "n" | "y" => {}
        _ if flag.starts_with("p=") => return Err(SaslError::Unsupported("channel binding")),
        _ => return Err(SaslError::Malformed("bad GS2 flag")),
    }
    let (authzid, bare) = rest
        .split_once(',')
        .ok_or(SaslError::Malformed("no GS2 header"))?;
    let gs2_header = text[..flag.len() + authzid.len() + 2].to_string();
    let mut attributes = bare.split(',');
    let username = attribute(attributes.next(), 'n')?;
    let username = decode_saslname(username)?;
    let nonce = attribute(attributes.next(), 'r')?;
    check_nonce(nonce)?;
    if attributes.next().is_some() {
        return Err(SaslError::Unsupported("SCRAM extensions"));
    }
    if let Some(authzid) = authzid.strip_prefix("a=") {
        if decode_saslname(authzid)? != username {
            return Err(SaslError::Unsupported(
                "authorization identity of another user",
            ));
        }
    } else if !authzid.is_empty() {
        return Err(SaslError::Malformed("bad authorization identity"));
    }
    Ok(ClientFirst {
        gs2_header,
        username,
        nonce: nonce.to_string(),
        bare: bare.to_string(),
    })
}

/// The SCRAM server-first message: `r=<client nonce><server nonce>,s=<salt>,i=<iterations>`.
pub fn server_first(nonce: &str, salt: &[u8], iterations: u32) -> String {
    format!("r={nonce},s={},i={iterations}", STANDARD.encode(salt))
}

/// The SCRAM client-final message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientFinal {
    /// The decoded channel-binding attribute (the GS2 header again, as nothing is bound).
    pub channel_binding: Vec<u8>,
    /// The combined nonce.
    pub nonce: String,
    /// The client proof.
    pub proof: Vec<u8>,
    /// The message up to (without) `,p=...` (part of the AuthMessage).
    pub without_proof: String,
}

/// Parses a SCRAM client-final message: `c=<binding>,r=<nonce>,p=<proof>`.
pub fn parse_client_final(token: &[u8]) -> Result<ClientFinal, SaslError> {
    check_len(token, SASL_TOKEN_BYTES_MAX)?;
    let text = std::str::from_utf8(token).map_err(|_| SaslError::Malformed("not UTF-8"))?;
    let (without_proof, proof) = text
        .rsplit_once(",p=")
        .ok_or(SaslError::Malformed("no proof"))?;
    let mut attributes = without_proof.split(',');
    let binding = attribute(attributes.next(), 'c')?;
    let nonce = attribute(attributes.next(), 'r')?;
    check_nonce(nonce)?;
    if attributes.next().is_some() {
        return Err(SaslError::Unsupported("SCRAM extensions"));
    }
    Ok(ClientFinal {
        channel_binding: decode_b64(binding)?,
        nonce: nonce.to_string(),
        proof: decode_b64(proof)?,
        without_proof: without_proof.to_string(),
    })
}

/// The SCRAM server-final message of a verified client: `v=<server signature>`.
pub fn server_final(signature: &[u8]) -> String {
    format!("v={}", STANDARD.encode(signature))
}

/// Base64 as SCRAM writes it (standard alphabet, padded).
pub fn encode_base64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

fn attribute(part: Option<&str>, name: char) -> Result<&str, SaslError> {
    let part = part.ok_or(SaslError::Malformed("missing attribute"))?;
    let mut chars = part.chars();
    if chars.next() != Some(name) || chars.next() != Some('=') {
        return Err(SaslError::Malformed("unexpected attribute"));
    }
    let value = &part[2..];
    check_len(value.as_bytes(), SASL_FIELD_BYTES_MAX)?;
    Ok(value)
}

/// A SCRAM `saslname`: `=2C` is a comma, `=3D` an equals sign, any other `=` is an error.
fn decode_saslname(name: &str) -> Result<String, SaslError> {
    if name.is_empty() {
        return Err(SaslError::Malformed("empty username"));
    }
    let mut out = String::with_capacity(name.len());
    let mut rest = name;
    while let Some(at) = rest.find('=') {
        out.push_str(&rest[..at]);
        let escape = rest.get(at..at + 3);
        match escape {
            Some("=2C") => out.push(','),
            Some("=3D") => out.push('='),
            _ => return Err(SaslError::Malformed("bad escape in username")),
        }
        rest = &rest[at + 3..];
    }
    out.push_str(rest);
    Ok(out)
}

/// A nonce is printable ASCII other than a comma, and not empty.
fn check_nonce(nonce: &str) -> Result<(), SaslError> {
    if nonce.is_empty()
        || !nonce
            .bytes()
            .all(|b| (0x21..=0x7e).contains(&b) && b != b',')
    {
        return Err(SaslError::Malformed("bad nonce"));
    }
    Ok(())
}

fn decode_b64(text: &str) -> Result<Vec<u8>, SaslError> {
    STANDARD
        .decode(text)
        .map_err(|_| SaslError::Malformed("bad base64"))
}

fn check_len(bytes: &[u8], max: usize) -> Result<(), SaslError> {
    if bytes.len() > max {
        Err(SaslError::TooLong)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn plain_with_and_without_authzid() {
        let plain = parse_plain(b"\0alice\0secret").unwrap();
        assert_eq!((plain.username, plain.password), ("alice", "secret"));
        assert!(parse_plain(b"alice\0alice\0secret").is_ok());
        assert!(matches!(
            parse_plain(b"bob\0alice\0secret"),
            Err(SaslError::Unsupported(_))
        ));
        for bad in [
            &b"alice\0secret"[..],
            b"\0\0x",
            b"\0a\0",
            b"\0a\0b\0c",
            b"\xff\0a\0b",
        ] {
            assert!(parse_plain(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            parse_plain(&vec![b'a'; SASL_TOKEN_BYTES_MAX + 1]),
            Err(SaslError::TooLong)
        );
    }

    #[test]
    fn client_first_as_clients_send_it() {
        // RFC 7677's example.
        let first = parse_client_first(b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO").unwrap();
        assert_eq!(first.gs2_header, "n,,");
        assert_eq!(first.username, "user");
        assert_eq!(first.nonce, "rOprNGfwEbeRWgbNEkqO");
        assert_eq!(first.bare, "n=user,r=rOprNGfwEbeRWgbNEkqO");
        let escaped = parse_client_first(b"y,a=a=2Cb,n=a=2Cb,r=abc").unwrap();
        assert_eq!(
            (escaped.username.as_str(), escaped.gs2_header.as_str()),
            ("a,b", "y,a=a=2Cb,")
        );
        assert_eq!(
            parse_client_first(b"n,,n=x=3Dy,r=1").unwrap().username,
            "x=y"
        );
    }

    #[test]
    fn client_first_refusals() {
        let unsupported = [
            &b"p=tls-unique,,n=u,r=abc"[..],
            b"n,a=other,n=u,r=abc",
            b"n,,n=u,r=abc,tokenauth=true",
        ];
        for bad in unsupported {
            assert!(
                matches!(parse_client_first(bad), Err(SaslError::Unsupported(_))),
                "{bad:?}"
            );
        }
        let malformed = [
            &b""[..],
            b"n",
            b"x,,n=u,r=abc",
            b"n,,r=abc,n=u",
            b"n,,n=,r=abc",
            b"n,,n=u=,r=abc",
            b"n,,n=u,r=",
            b"n,,n=u,r=a b",
            b"n,,n=u",
        ];
        for bad in malformed {
            assert!(
                matches!(parse_client_first(bad), Err(SaslError::Malformed(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn client_final_and_server_messages() {
        let token = b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,\
                      p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
        let last = parse_client_final(token).unwrap();
        assert_eq!(last.channel_binding, b"n,,");
        assert_eq!(
            last.nonce,
            "rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
        );
        assert_eq!(last.proof.len(), 32);
        assert!(last.without_proof.ends_with("hNlF$k0"));
        for bad in [
            &b"c=biws,r=abc"[..],
            b"c=biws,r=abc,p=!!",
            b"r=abc,c=biws,p=AAAA",
            b"c=biws,r=a,x=1,p=AAAA",
        ] {
            assert!(parse_client_final(bad).is_err(), "{bad:?}");
        }
        assert_eq!(server_first("ab", b"salt", 4096), "r=ab,s=c2FsdA==,i=4096");
        assert_eq!(server_final(b"sig"), "v=c2ln");
    }
}
