//! Kafka over raw TCP for the tests that build (and mangle) requests with `kafka-protocol`
//! themselves: one connection speaking whole size-prefixed frames, and the frame builders.
#![allow(dead_code, clippy::unwrap_used)]

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::{RequestHeader, ResponseHeader};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, Request, StrBytes};

/// A Kafka connection speaking whole frames.
pub struct Conn {
    pub stream: TcpStream,
    next_correlation: i32,
}

impl Conn {
    /// Connects with `timeout` for the connect and every read.
    pub fn open(addr: SocketAddr, timeout: Duration) -> Self {
        let stream = TcpStream::connect_timeout(&addr, timeout).unwrap();
        stream.set_read_timeout(Some(timeout)).unwrap();
        stream.set_nodelay(true).unwrap();
        Self {
            stream,
            next_correlation: 1,
        }
    }

    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap();
    }

    /// Sends `body` at `version` and decodes the answer, checking its correlation id.
    pub fn call<R: Request>(&mut self, version: i16, body: &R) -> R::Response {
        let correlation = self.next_correlation;
        self.next_correlation += 1;
        self.send_raw(&request_frame(version, correlation, body));
        let mut answer = self.read_frame().unwrap_or_else(|e| {
            panic!("no answer to API {} v{version}: {e}", R::KEY);
        });
        let header =
            ResponseHeader::decode(&mut answer, R::Response::header_version(version)).unwrap();
        assert_eq!(header.correlation_id, correlation, "answer out of order");
        R::Response::decode(&mut answer, version).unwrap()
    }

    /// One whole answer frame (without its size prefix).
    pub fn read_frame(&mut self) -> std::io::Result<Bytes> {
        let mut prefix = [0u8; 4];
        self.stream.read_exact(&mut prefix)?;
        let len = usize::try_from(i32::from_be_bytes(prefix)).unwrap();
        let mut body = vec![0u8; len];
        self.stream.read_exact(&mut body)?;
        Ok(Bytes::from(body))
    }

    /// Asserts the broker closed the connection without answering.
    pub fn assert_closed(mut self, case: &str) {
        let mut buf = [0u8; 64];
        match self.stream.read(&mut buf) {
            Ok(0) => {}
            Ok(n) => panic!("{case}: expected a closed connection, got {n} bytes"),
            Err(e) if matches!(e.kind(), ErrorKind::ConnectionReset | ErrorKind::BrokenPipe) => {}
            Err(e) => panic!("{case}: expected a closed connection, got {e}"),
        }
    }
}

/// One size-prefixed request frame.
pub fn request_frame<R: Request>(version: i16, correlation: i32, body: &R) -> Vec<u8> {
    let mut buf = BytesMut::new();
    RequestHeader::default()
        .with_request_api_key(R::KEY)
        .with_request_api_version(version)
        .with_correlation_id(correlation)
        .with_client_id(Some(StrBytes::from_static_str("raw-test")))
        .encode(&mut buf, R::header_version(version))
        .unwrap();
    body.encode(&mut buf, version).unwrap();
    framed(&buf)
}

/// `body` behind its i32 size prefix.
pub fn framed(body: &[u8]) -> Vec<u8> {
    let mut out = i32::try_from(body.len()).unwrap().to_be_bytes().to_vec();
    out.extend_from_slice(body);
    out
}

impl Conn {
    /// Wraps an already connected `stream`, with `timeout` for every read.
    pub fn open_stream(stream: TcpStream, timeout: Duration) -> Self {
        stream.set_read_timeout(Some(timeout)).unwrap();
        stream.set_nodelay(true).unwrap();
        Self {
            stream,
            next_correlation: 1,
        }
    }
}
