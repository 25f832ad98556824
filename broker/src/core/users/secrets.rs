//! Secrets at rest: passwords become argon2id PHC strings (salted, deliberately slow, so a
//! leaked users file does not give passwords away cheaply), personal access tokens become
//! SHA-256 digests (a token is 50 random characters, so a fast hash is enough and a token
//! login can look its digest up directly). Neither a password nor a raw token is ever stored.

use argon2::password_hash::SaltString;
use argon2::{Argon2, PasswordHash, PasswordHasher, PasswordVerifier};
use rand::Rng;
use rand::RngCore;
use rand::distributions::Alphanumeric;
use rand::rngs::OsRng;
use sha2::{Digest, Sha256};

/// Random characters in a raw token: ~297 bits of entropy, and short enough for the protocol's
/// one-byte length prefix.
const TOKEN_CHARS: usize = 50;

/// Salt bytes per password hash (the PHC recommendation).
const SALT_BYTES: usize = 16;

/// Hashes `password` with argon2id and a fresh random salt. CPU-heavy: call it from
/// `spawn_blocking`.
pub(crate) fn hash_password(password: &str) -> Result<String, String> {
    let mut salt = [0u8; SALT_BYTES];
    OsRng.fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|error| error.to_string())?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|error| error.to_string())
}

/// Whether `password` matches a PHC string made by [`hash_password`]. A malformed stored hash
/// matches nothing. CPU-heavy: call it from `spawn_blocking`.
pub(crate) fn verify_password(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

/// A fresh raw token (returned to the client once) and the digest that is stored.
pub(crate) fn new_token() -> (String, String) {
    let raw: String = OsRng
        .sample_iter(&Alphanumeric)
        .take(TOKEN_CHARS)
        .map(char::from)
        .collect();
    let digest = token_digest(&raw);
    (raw, digest)
}

/// The stored form of a raw token: lowercase hex SHA-256.
pub(crate) fn token_digest(raw: &str) -> String {
    let digest = Sha256::digest(raw.as_bytes());
    let mut hex = String::with_capacity(digest.len() * 2);
    for byte in digest {
        hex.push(char::from(HEX[usize::from(byte >> 4)]));
        hex.push(char::from(HEX[usize::from(byte & 0x0f)]));
    }
    hex
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Microseconds since the Unix epoch, the unit of every native timestamp.
pub(crate) fn now_micros() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| {
            u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_hash_round_trip() {
        let stored = hash_password("s3cret").unwrap();
        assert!(stored.starts_with("$argon2id$"), "{stored}");
        assert!(!stored.contains("s3cret"));
        assert!(verify_password("s3cret", &stored));
        assert!(!verify_password("s3cret!", &stored));
        assert!(!verify_password("", &stored));
        assert!(!verify_password("s3cret", "not a phc string"));
        let again = hash_password("s3cret").unwrap();
        assert_ne!(stored, again, "salts differ");
    }

    #[test]
    fn tokens_are_random_and_digested() {
        let (raw, digest) = new_token();
        assert_eq!(raw.len(), TOKEN_CHARS);
        assert!(raw.bytes().all(|byte| byte.is_ascii_alphanumeric()));
        assert_eq!(digest, token_digest(&raw));
        assert_eq!(digest.len(), 64);
        assert_ne!(digest, raw);
        let (other, other_digest) = new_token();
        assert_ne!(raw, other);
        assert_ne!(digest, other_digest);
        assert_eq!(
            token_digest("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
