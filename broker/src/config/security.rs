//! The security settings as the broker reads them: which listeners speak TLS with which
//! certificate, whether Kafka clients authenticate with SASL, and whether authentication is
//! required everywhere (`--auth`). The files are only named here; `crate::tls` loads them.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use serde::Deserialize;

use super::{ConfigError, invalid};

/// Kafka's `security.protocol` of the Kafka listener, with Kafka's own names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SecurityProtocol {
    /// No TLS, no SASL.
    #[default]
    Plaintext,
    /// TLS, no SASL.
    Ssl,
    /// SASL without TLS.
    SaslPlaintext,
    /// SASL inside TLS.
    SaslSsl,
}

impl SecurityProtocol {
    /// Whether connections are encrypted.
    pub fn tls(self) -> bool {
        matches!(self, Self::Ssl | Self::SaslSsl)
    }

    /// Whether clients must authenticate with SASL before anything else is served.
    pub fn sasl(self) -> bool {
        matches!(self, Self::SaslPlaintext | Self::SaslSsl)
    }

    fn name(self) -> &'static str {
        match self {
            Self::Plaintext => "PLAINTEXT",
            Self::Ssl => "SSL",
            Self::SaslPlaintext => "SASL_PLAINTEXT",
            Self::SaslSsl => "SASL_SSL",
        }
    }
}

impl fmt::Display for SecurityProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for SecurityProtocol {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        [
            Self::Plaintext,
            Self::Ssl,
            Self::SaslPlaintext,
            Self::SaslSsl,
        ]
        .into_iter()
        .find(|protocol| protocol.name().eq_ignore_ascii_case(text))
        .ok_or_else(|| "must be one of PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL".to_string())
    }
}

impl<'de> Deserialize<'de> for SecurityProtocol {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// The PEM files of the TLS listeners.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// Certificate chain, leaf first.
    pub cert: PathBuf,
    /// The leaf's private key.
    pub key: PathBuf,
    /// CAs client certificates must chain to; `None`: no client certificates asked for.
    pub client_ca: Option<PathBuf>,
}

/// Validated security settings.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SecuritySettings {
    /// Certificate and key, when any listener speaks TLS.
    pub tls: Option<TlsFiles>,
    /// The Kafka listener's protocol.
    pub kafka: SecurityProtocol,
    /// Whether the native listener speaks TLS.
    pub native_tls: bool,
    /// Whether the HTTP listener speaks TLS.
    pub http_tls: bool,
    /// Whether every protocol requires authentication.
    pub auth: bool,
}

impl SecuritySettings {
    /// Builds and checks the settings: a TLS listener needs a certificate and a key, a client
    /// CA needs TLS, and `auth` needs SASL on the Kafka listener (it has no other login).
    pub(super) fn resolve(
        cert: Option<PathBuf>,
        key: Option<PathBuf>,
        client_ca: Option<PathBuf>,
        kafka: SecurityProtocol,
        native_tls: bool,
        http_tls: bool,
        auth: bool,
    ) -> Result<Self, ConfigError> {
        let any_tls = kafka.tls() || native_tls || http_tls;
        let tls = match (cert, key) {
            (Some(cert), Some(key)) => Some(TlsFiles {
                cert,
                key,
                client_ca,
            }),
            (None, None) if client_ca.is_some() => {
                return Err(invalid(
                    "tls_client_ca",
                    "",
                    "needs --tls-cert and --tls-key".into(),
                ));
            }
            (None, None) if any_tls => {
                let reason = "a TLS listener (kafka_security_protocol SSL/SASL_SSL, native_tls, \
                              http_tls) needs --tls-cert and --tls-key"
                    .to_string();
                return Err(invalid("tls_cert", "", reason));
            }
            (None, None) => None,
            (Some(_), None) => return Err(invalid("tls_key", "", "needed with --tls-cert".into())),
            (None, Some(_)) => return Err(invalid("tls_cert", "", "needed with --tls-key".into())),
        };
        if auth && !kafka.sasl() {
            let reason = "--auth true needs SASL_PLAINTEXT or SASL_SSL (Kafka clients must log in)";
            return Err(invalid(
                "kafka_security_protocol",
                kafka.name(),
                reason.to_string(),
            ));
        }
        Ok(Self {
            tls,
            kafka,
            native_tls,
            http_tls,
            auth,
        })
    }
}
