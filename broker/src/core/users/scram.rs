//! SCRAM credentials (RFC 5802, mechanisms SCRAM-SHA-256 and SCRAM-SHA-512 of RFC 7677) and
//! the server side of the exchange. A user's credentials are derived from its password when
//! the password is set (or, for users stored before SCRAM existed, at its next password
//! login) and stored beside the argon2 hash: per mechanism a random salt, the iteration count,
//! `StoredKey = H(HMAC(SaltedPassword, "Client Key"))` and
//! `ServerKey = HMAC(SaltedPassword, "Server Key")`; never the password or the salted password.
//!
//! The message grammar is `whippet_wire::sasl`'s; this module holds the crypto and the rules.
//! The password is used as its UTF-8 bytes, without SASLprep, as the Java and librdkafka
//! clients do.

use hmac::digest::core_api::BlockSizeUser;
use hmac::digest::{Digest, FixedOutputReset};
use hmac::{Mac, SimpleHmac};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Sha256, Sha512};

/// PBKDF2 iterations of new credentials (Kafka's minimum and default for SCRAM).
pub const SCRAM_ITERATIONS: u32 = 4096;
/// Bytes of a new salt.
const SALT_BYTES: usize = 24;

/// The SCRAM mechanisms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Mechanism {
    /// SCRAM-SHA-256.
    Sha256,
    /// SCRAM-SHA-512.
    Sha512,
}

impl Mechanism {
    /// Both mechanisms, weakest first.
    pub const ALL: [Self; 2] = [Self::Sha256, Self::Sha512];

    /// Kafka's `ScramMechanism` code (AlterUserScramCredentials, DescribeUserScramCredentials).
    pub fn kafka_code(self) -> i8 {
        match self {
            Self::Sha256 => 1,
            Self::Sha512 => 2,
        }
    }

    /// The mechanism of a Kafka `ScramMechanism` code.
    pub fn from_kafka_code(code: i8) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|mechanism| mechanism.kafka_code() == code)
    }

    /// The SASL name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Sha256 => "SCRAM-SHA-256",
            Self::Sha512 => "SCRAM-SHA-512",
        }
    }

    /// The mechanism a SASL name stands for.
    pub fn from_name(name: &str) -> Option<Self> {
        [Self::Sha256, Self::Sha512]
            .into_iter()
            .find(|mechanism| mechanism.name() == name)
    }
}

/// One mechanism's stored credential.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScramCredential {
    /// The salt.
    pub salt: Vec<u8>,
    /// PBKDF2 iterations.
    pub iterations: u32,
    /// `H(ClientKey)`.
    pub stored_key: Vec<u8>,
    /// `HMAC(SaltedPassword, "Server Key")`.
    pub server_key: Vec<u8>,
}

/// A user's credentials per mechanism: both when derived from a password; those a Kafka
/// client set with AlterUserScramCredentials otherwise (Kafka sets one mechanism at a time).
/// `Default` holds none.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScramSecrets {
    /// SCRAM-SHA-256 (boxed, like the other: user commands stay small).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<Box<ScramCredential>>,
    /// SCRAM-SHA-512.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha512: Option<Box<ScramCredential>>,
}

impl std::fmt::Debug for ScramCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScramCredential")
            .field("iterations", &self.iterations)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for ScramSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ScramSecrets(<redacted>)")
    }
}

impl ScramSecrets {
    /// Credentials for `password` with fresh salts. Slow on purpose (PBKDF2): call it off the
    /// async workers.
    pub fn derive(password: &str) -> Self {
        Self {
            sha256: Some(Box::new(credential::<Sha256>(
                password,
                &salt(),
                SCRAM_ITERATIONS,
            ))),
            sha512: Some(Box::new(credential::<Sha512>(
                password,
                &salt(),
                SCRAM_ITERATIONS,
            ))),
        }
    }

    /// The credential of `mechanism`, if the user has one.
    pub fn get(&self, mechanism: Mechanism) -> Option<&ScramCredential> {
        self.slot(mechanism).as_deref()
    }

    /// Sets (`Some`) or removes (`None`) the credential of `mechanism`.
    pub fn set(&mut self, mechanism: Mechanism, credential: Option<ScramCredential>) {
        let slot = match mechanism {
            Mechanism::Sha256 => &mut self.sha256,
            Mechanism::Sha512 => &mut self.sha512,
        };
        *slot = credential.map(Box::new);
    }

    /// The mechanisms with a credential, with their iteration counts.
    pub fn mechanisms(&self) -> impl Iterator<Item = (Mechanism, u32)> + '_ {
        Mechanism::ALL
            .into_iter()
            .filter_map(|mechanism| Some((mechanism, self.get(mechanism)?.iterations)))
    }

    /// Whether `password` is the one these credentials were made from: checked against the
    /// strongest mechanism present (PBKDF2 with its salt and iterations; slow on purpose, call
    /// it off the async workers). No credential at all matches nothing.
    pub fn matches_password(&self, password: &str) -> bool {
        if let Some(stored) = self.get(Mechanism::Sha512) {
            let derived = credential::<Sha512>(password, &stored.salt, stored.iterations);
            return same_bytes(&derived.stored_key, &stored.stored_key);
        }
        self.get(Mechanism::Sha256).is_some_and(|stored| {
            let derived = credential::<Sha256>(password, &stored.salt, stored.iterations);
            same_bytes(&derived.stored_key, &stored.stored_key)
        })
    }

    fn slot(&self, mechanism: Mechanism) -> &Option<Box<ScramCredential>> {
        match mechanism {
            Mechanism::Sha256 => &self.sha256,
            Mechanism::Sha512 => &self.sha512,
        }
    }
}

/// Equal contents, compared in the same time wherever they differ.
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The credential a Kafka client sends with AlterUserScramCredentials: it salts the password
/// itself (`SaltedPassword = PBKDF2(password, salt, iterations)`) and sends that, never the
/// password; the keys are derived from it here. `None` when `salted_password` is not one
/// digest long.
pub fn from_salted_password(
    mechanism: Mechanism,
    salt: &[u8],
    iterations: u32,
    salted_password: &[u8],
) -> Option<ScramCredential> {
    fn keys<D>(salted: &[u8]) -> Option<(Vec<u8>, Vec<u8>)>
    where
        D: Digest + BlockSizeUser + FixedOutputReset + Clone,
    {
        if salted.len() != <D as Digest>::output_size() {
            return None;
        }
        let client_key = hmac::<D>(salted, b"Client Key");
        Some((
            D::digest(&client_key).to_vec(),
            hmac::<D>(salted, b"Server Key"),
        ))
    }
    let (stored_key, server_key) = match mechanism {
        Mechanism::Sha256 => keys::<Sha256>(salted_password)?,
        Mechanism::Sha512 => keys::<Sha512>(salted_password)?,
    };
    Some(ScramCredential {
        salt: salt.to_vec(),
        iterations,
        stored_key,
        server_key,
    })
}

fn salt() -> Vec<u8> {
    let mut salt = vec![0u8; SALT_BYTES];
    rand::thread_rng().fill_bytes(&mut salt);
    salt
}

fn hmac<D>(key: &[u8], data: &[u8]) -> Vec<u8>
where
    D: Digest + BlockSizeUser + FixedOutputReset + Clone,
{
    // HMAC takes keys of any length, so this never fails; an empty MAC would only fail the
    // comparison it feeds.
    let Ok(mut mac) = <SimpleHmac<D> as Mac>::new_from_slice(key) else {
        return Vec::new();
    };
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// The credential of `password` with `salt` and `iterations` under digest `D`.
pub fn credential<D>(password: &str, salt: &[u8], iterations: u32) -> ScramCredential
where
    D: Digest + BlockSizeUser + FixedOutputReset + Clone + Sync,
{
    let mut salted = vec![0u8; <D as Digest>::output_size()];
    pbkdf2::pbkdf2::<SimpleHmac<D>>(password.as_bytes(), salt, iterations, &mut salted)
        .unwrap_or_default();
    let client_key = hmac::<D>(&salted, b"Client Key");
    ScramCredential {
        salt: salt.to_vec(),
        iterations,
        stored_key: D::digest(&client_key).to_vec(),
        server_key: hmac::<D>(&salted, b"Server Key"),
    }
}

/// Checks a client proof against `credential` for `auth_message`; answers the server
/// signature when it is right. The comparison takes the same time wherever the bytes differ.
pub fn verify(
    mechanism: Mechanism,
    credential: &ScramCredential,
    auth_message: &[u8],
    proof: &[u8],
) -> Option<Vec<u8>> {
    match mechanism {
        Mechanism::Sha256 => verify_with::<Sha256>(credential, auth_message, proof),
        Mechanism::Sha512 => verify_with::<Sha512>(credential, auth_message, proof),
    }
}

fn verify_with<D>(
    credential: &ScramCredential,
    auth_message: &[u8],
    proof: &[u8],
) -> Option<Vec<u8>>
where
    D: Digest + BlockSizeUser + FixedOutputReset + Clone,
{
    let signature = hmac::<D>(&credential.stored_key, auth_message);
    if proof.len() != signature.len() {
        return None;
    }
    let client_key: Vec<u8> = proof.iter().zip(&signature).map(|(p, s)| p ^ s).collect();
    let stored = D::digest(&client_key);
    if !same_bytes(&stored, &credential.stored_key) {
        return None;
    }
    Some(hmac::<D>(&credential.server_key, auth_message))
}

/// A credential for a user that does not exist, the same for every attempt with one name (so
/// an unknown name cannot be told from a known one by its salt), which no proof matches.
pub fn decoy(mechanism: Mechanism, username: &str, secret: &[u8]) -> ScramCredential {
    let salt = hmac::<Sha256>(secret, username.as_bytes());
    let len = match mechanism {
        Mechanism::Sha256 => 32,
        Mechanism::Sha512 => 64,
    };
    ScramCredential {
        salt: salt[..SALT_BYTES].to_vec(),
        iterations: SCRAM_ITERATIONS,
        // A random key: no proof hashes to it.
        stored_key: {
            let mut key = vec![0u8; len];
            rand::thread_rng().fill_bytes(&mut key);
            key
        },
        server_key: vec![0u8; len],
    }
}

/// A fresh server nonce (printable, no comma).
pub fn server_nonce() -> String {
    let mut bytes = [0u8; 18];
    rand::thread_rng().fill_bytes(&mut bytes);
    whippet_wire::sasl::encode_base64(&bytes)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// RFC 7677's SCRAM-SHA-256 example, end to end.
    #[test]
    fn rfc_7677_example_verifies() {
        let salt = whippet_wire_b64("W22ZaJ0SNY7soEsUEjb6gQ==");
        let credential = credential::<Sha256>("pencil", &salt, 4096);
        let client_first_bare = "n=user,r=rOprNGfwEbeRWgbNEkqO";
        let server_first = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,\
                            s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
        let without_proof = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
        let auth = format!("{client_first_bare},{server_first},{without_proof}");
        let proof = whippet_wire_b64("dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=");
        let signature = verify(Mechanism::Sha256, &credential, auth.as_bytes(), &proof).unwrap();
        assert_eq!(
            whippet_wire::sasl::server_final(&signature),
            "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
        );
        let mut wrong = proof.clone();
        wrong[0] ^= 1;
        assert!(verify(Mechanism::Sha256, &credential, auth.as_bytes(), &wrong).is_none());
        assert!(verify(Mechanism::Sha256, &credential, auth.as_bytes(), &proof[1..]).is_none());
    }

    #[test]
    fn derived_secrets_hold_no_password_and_differ_per_mechanism() {
        let secrets = ScramSecrets::derive("pencil");
        let sha256 = secrets.get(Mechanism::Sha256).unwrap();
        let sha512 = secrets.get(Mechanism::Sha512).unwrap();
        assert_eq!(sha256.stored_key.len(), 32);
        assert_eq!(sha512.stored_key.len(), 64);
        assert_ne!(sha256.salt, sha512.salt);
        let again = ScramSecrets::derive("pencil");
        assert_ne!(
            sha256.salt,
            again.get(Mechanism::Sha256).unwrap().salt,
            "fresh salt each time"
        );
        let json = serde_json::to_string(&secrets).unwrap();
        assert!(!json.contains("pencil"));
        let decoy_a = decoy(Mechanism::Sha512, "ghost", b"k");
        assert_eq!(decoy_a.salt, decoy(Mechanism::Sha512, "ghost", b"k").salt);
        assert_ne!(decoy_a.salt, decoy(Mechanism::Sha512, "other", b"k").salt);
    }

    /// A credential set from a client-salted password (as AlterUserScramCredentials sends it)
    /// equals the one derived from the password, and the password checks against it.
    #[test]
    fn salted_password_credentials_match_the_password() {
        let salt = b"0123456789abcdef".to_vec();
        let mut salted = vec![0u8; 64];
        pbkdf2::pbkdf2::<SimpleHmac<Sha512>>(b"pencil", &salt, 4096, &mut salted).unwrap();
        let set = from_salted_password(Mechanism::Sha512, &salt, 4096, &salted).unwrap();
        assert!(set == credential::<Sha512>("pencil", &salt, 4096));
        assert!(from_salted_password(Mechanism::Sha256, &salt, 4096, &salted).is_none());
        let mut secrets = ScramSecrets::default();
        assert!(!secrets.matches_password("pencil"), "no credential");
        secrets.set(Mechanism::Sha512, Some(set));
        assert!(secrets.matches_password("pencil"));
        assert!(!secrets.matches_password("pencil!"));
        assert_eq!(
            secrets.mechanisms().collect::<Vec<_>>(),
            vec![(Mechanism::Sha512, 4096)]
        );
        assert_eq!(Mechanism::from_kafka_code(2), Some(Mechanism::Sha512));
        assert_eq!(Mechanism::from_kafka_code(0), None);
    }

    fn whippet_wire_b64(text: &str) -> Vec<u8> {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .unwrap()
    }
}
