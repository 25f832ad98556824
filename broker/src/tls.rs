//! TLS on the listeners: the server configuration built once at startup from the PEM files of
//! the settings (rustls with the `ring` provider, TLS 1.2 and 1.3, client certificates checked
//! against a CA file when one is given), and [`Transport`], the stream a connection is served
//! over: the accepted socket itself, or the socket inside a TLS session. Each listener decides
//! per connection, after accept, in its connection task ([`TlsListeners::establish`]), so the
//! handshake never holds up the accept loop and counts against the connection's setup
//! deadline.
//!
//! Why an enum rather than `Box<dyn AsyncRead + AsyncWrite>`: a plaintext connection keeps
//! reading the `TcpStream` directly, with one predictable branch per poll and no allocation or
//! dynamic call, so the plaintext hot path costs what it did before TLS existed.

use std::io;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use rustls::RootCertStore;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use tokio::io::{AsyncRead, AsyncWrite, BufReader, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use crate::config::{SecuritySettings, TlsFiles};
use crate::connections::Listener;
use crate::limits;

/// Which listeners speak TLS, and the acceptor they share.
#[derive(Clone, Default)]
pub struct TlsListeners {
    acceptor: Option<TlsAcceptor>,
    kafka: bool,
    native: bool,
    http: bool,
}

impl std::fmt::Debug for TlsListeners {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsListeners")
            .field("kafka", &self.kafka)
            .field("native", &self.native)
            .field("http", &self.http)
            .finish()
    }
}

impl TlsListeners {
    /// Loads the certificate, key and client CAs `settings` name. An unreadable file, a file
    /// without the PEM block expected, or a key that does not fit the certificate is an error
    /// naming the file, so the broker refuses to start rather than serve without TLS.
    pub fn load(settings: &SecuritySettings) -> Result<Self, String> {
        let acceptor = match &settings.tls {
            Some(files) => Some(TlsAcceptor::from(Arc::new(server_config(files)?))),
            None => None,
        };
        Ok(Self {
            acceptor,
            kafka: settings.kafka.tls(),
            native: settings.native_tls,
            http: settings.http_tls,
        })
    }

    /// Whether connections to `listener` are TLS.
    pub fn enabled(&self, listener: Listener) -> bool {
        self.acceptor.is_some()
            && match listener {
                Listener::Kafka => self.kafka,
                Listener::Native => self.native,
                Listener::Http => self.http,
            }
    }

    /// The transport of a connection accepted on `listener`: the socket itself, or, for a TLS
    /// listener, the socket after a TLS handshake that must finish within `deadline`. A
    /// handshake that fails (a plaintext client, an untrusted client certificate) or times out
    /// is an error; the caller closes the socket.
    pub async fn establish(
        &self,
        listener: Listener,
        stream: TcpStream,
        deadline: Duration,
    ) -> io::Result<Transport> {
        let Some(acceptor) = self.acceptor.as_ref().filter(|_| self.enabled(listener)) else {
            return Ok(Transport::Plain(stream));
        };
        // rustls reads the socket 4 KiB at a time; a buffer under it makes those reads memory
        // copies and the socket reads large (a quarter as many syscalls per GB as 4 KiB reads
        // would need even at 16 KiB, and far fewer at this size).
        let buffered = BufReader::with_capacity(limits::TLS_SOCKET_READ_BYTES, stream);
        match tokio::time::timeout(deadline, acceptor.accept(buffered).into_fallible()).await {
            Ok(Ok(tls)) => Ok(Transport::Tls(Box::new(tls))),
            Ok(Err((error, socket))) => {
                close_after_alert(socket.into_inner()).await;
                Err(error)
            }
            Err(_) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "TLS handshake timed out",
            )),
        }
    }
}

/// Closes the socket of a failed handshake so the client reads the alert rustls wrote (an
/// untrusted certificate, say) instead of a reset: with TLS 1.3 a client sends its first request
/// right after its certificate, and closing a socket with unread bytes makes the kernel send a
/// reset that can overtake the alert (librdkafka then reports a transport failure, not the
/// TLS error). So: end the write side after the alert, then read and drop what the client
/// still sends, for at most [`limits::TLS_FAILED_CLOSE_MS`] and 64 KiB.
async fn close_after_alert(mut socket: TcpStream) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let drain = async {
        let _ = socket.shutdown().await;
        let mut buf = [0u8; 4096];
        let mut left = 64 * 1024usize;
        while left > 0 {
            match socket.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => left = left.saturating_sub(n),
            }
        }
    };
    let linger = Duration::from_millis(limits::TLS_FAILED_CLOSE_MS);
    let _ = tokio::time::timeout(linger, drain).await;
}

/// The rustls server configuration for `files`.
fn server_config(files: &TlsFiles) -> Result<rustls::ServerConfig, String> {
    let certs = load_certs(&files.cert)?;
    let key = PrivateKeyDer::from_pem_file(&files.key).map_err(|error| {
        format!(
            "cannot read a private key from {}: {error}",
            files.key.display()
        )
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|error| format!("TLS setup: {error}"))?;
    let builder = match &files.client_ca {
        None => builder.with_no_client_auth(),
        Some(path) => {
            let mut roots = RootCertStore::empty();
            for cert in load_certs(path)? {
                roots.add(cert).map_err(|error| {
                    format!("bad CA certificate in {}: {error}", path.display())
                })?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|error| format!("client CAs in {}: {error}", path.display()))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder.with_single_cert(certs, key).map_err(|error| {
        format!(
            "certificate {} and key {} do not make a TLS identity: {error}",
            files.cert.display(),
            files.key.display()
        )
    })?;
    // HTTP/1.1 is all the HTTP listener speaks; the binary protocols negotiate nothing.
    config.alpn_protocols = Vec::new();
    Ok(config)
}

/// Every certificate in the PEM file at `path`; none is an error.
fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(Iterator::collect::<Result<Vec<_>, _>>)
        .map_err(|error| format!("cannot read certificates from {}: {error}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("no certificate in {}", path.display()));
    }
    Ok(certs)
}

/// The stream one connection is served over.
#[derive(Debug)]
pub enum Transport {
    /// The accepted socket.
    Plain(TcpStream),
    /// The accepted socket, read through a buffer, inside a TLS session (boxed: the session
    /// state is large).
    Tls(Box<TlsStream<BufReader<TcpStream>>>),
}

impl Transport {
    /// Whether the connection is encrypted.
    pub fn is_tls(&self) -> bool {
        matches!(self, Self::Tls(_))
    }
}

impl AsyncRead for Transport {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(stream) => Pin::new(stream).poll_read(cx, buf),
            Self::Tls(stream) => Pin::new(stream.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Transport {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Plain(stream) => Pin::new(stream).poll_write(cx, buf),
            Self::Tls(stream) => Pin::new(stream.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Plain(stream) => Pin::new(stream).poll_write_vectored(cx, bufs),
            Self::Tls(stream) => Pin::new(stream.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Self::Plain(stream) => stream.is_write_vectored(),
            Self::Tls(stream) => stream.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(stream) => Pin::new(stream).poll_flush(cx),
            Self::Tls(stream) => Pin::new(stream.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(stream) => Pin::new(stream).poll_shutdown(cx),
            Self::Tls(stream) => Pin::new(stream.as_mut()).poll_shutdown(cx),
        }
    }
}
