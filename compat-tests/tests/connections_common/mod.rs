//! Shared helpers of `connection_limits.rs` and `request_budget.rs`: raw sockets that watch for
//! the broker closing them, hand-built Kafka and native frames (built here from the protocol
//! documents, not with whippet-wire), `/health` over raw HTTP, the broker's resident memory, and
//! a real Kafka client's produce-and-consume round trip.
//!
//! The limits under test are set through `WHIPPET_*` variables, not flags: a broker that does
//! not know a variable ignores it, so the same tests run against a build without the limits and
//! show what fails there.
#![allow(dead_code, clippy::unwrap_used)]

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Message, Offset, TopicPartitionList};

/// How long a connect may take before the test gives up on it.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a real client may take for its whole round trip.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(30);

/// Bytes of a native 0.11 request header.
pub const NATIVE_HEADER: usize = 256;
/// Native operation byte of login (Register).
pub const OP_REGISTER: u8 = 1;
/// Native operation byte of a non-replicated command (the code sits in the header).
pub const OP_NON_REPLICATED: u8 = 2;
/// Native operation byte of send_messages.
pub const OP_SEND_MESSAGES: u8 = 160;
/// Native command code of get_streams.
pub const CODE_GET_STREAMS: u32 = 201;
/// Native command byte of an eviction frame.
pub const COMMAND_EVICTION: u8 = 13;
/// Native command byte of a reply.
pub const COMMAND_REPLY: u8 = 8;

/// A TCP connection to `addr`, or `None` if the connect did not finish in time.
pub fn try_open(addr: SocketAddr) -> Option<TcpStream> {
    let stream = TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT).ok()?;
    stream.set_nodelay(true).unwrap();
    Some(stream)
}

/// A TCP connection to `addr`.
pub fn open(addr: SocketAddr) -> TcpStream {
    try_open(addr).unwrap_or_else(|| panic!("connect to {addr} failed"))
}

/// Whether the broker has closed `stream`, without waiting. Bytes the broker sent are an error.
pub fn is_closed(stream: &TcpStream) -> bool {
    stream.set_nonblocking(true).unwrap();
    let mut byte = [0u8; 1];
    let closed = match (&*stream).read(&mut byte) {
        Ok(0) => true,
        Ok(_) => panic!("the broker sent bytes on a connection that asked nothing"),
        Err(e) if e.kind() == ErrorKind::WouldBlock => false,
        Err(e) if e.kind() == ErrorKind::ConnectionReset => true,
        Err(e) => panic!("read failed: {e}"),
    };
    stream.set_nonblocking(false).unwrap();
    closed
}

/// Waits up to `limit` for the broker to close `stream`; returns when it did (time since
/// `since`), or `None` if it stayed open.
pub fn closed_within(stream: &TcpStream, since: Instant, limit: Duration) -> Option<Duration> {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if is_closed(stream) {
            return Some(since.elapsed());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

/// `GET /health` on a fresh connection; the whole answer, or why there was none in 5 s.
pub fn health(addr: SocketAddr) -> Result<String, String> {
    let mut stream = try_open(addr).ok_or("connect failed")?;
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream
        .write_all(b"GET /health HTTP/1.1\r\nHost: whippet\r\n\r\n")
        .map_err(|e| e.to_string())?;
    let mut answer = Vec::new();
    stream
        .read_to_end(&mut answer)
        .map_err(|e| format!("no answer: {e}"))?;
    Ok(String::from_utf8_lossy(&answer).into_owned())
}

/// Asserts `/health` answers 200.
#[track_caller]
pub fn assert_health(addr: SocketAddr) {
    let answer = health(addr).unwrap_or_else(|e| panic!("/health did not answer: {e}"));
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
}

/// A Kafka ApiVersions v0 request frame (size prefix, key 18, version 0, correlation, no
/// client id, empty body).
pub fn kafka_api_versions_frame(correlation: i32) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&18i16.to_be_bytes());
    body.extend_from_slice(&0i16.to_be_bytes());
    body.extend_from_slice(&correlation.to_be_bytes());
    body.extend_from_slice(&(-1i16).to_be_bytes());
    let mut frame = i32::try_from(body.len()).unwrap().to_be_bytes().to_vec();
    frame.extend_from_slice(&body);
    frame
}

/// Sends ApiVersions and reads its answer, so the connection is established.
pub fn kafka_handshake(stream: &mut TcpStream) {
    stream.write_all(&kafka_api_versions_frame(1)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut prefix = [0u8; 4];
    stream.read_exact(&mut prefix).unwrap();
    let mut answer = vec![0u8; usize::try_from(i32::from_be_bytes(prefix)).unwrap()];
    stream.read_exact(&mut answer).unwrap();
    assert_eq!(&answer[..4], &1i32.to_be_bytes(), "correlation id");
    stream.set_read_timeout(None).unwrap();
}

/// The first bytes of a Kafka Produce v7 request of `frame_bytes` (after the size prefix): the
/// prefix, the request header with no client id. The body is left to the caller.
pub fn kafka_produce_head(frame_bytes: usize) -> Vec<u8> {
    let mut head = i32::try_from(frame_bytes).unwrap().to_be_bytes().to_vec();
    head.extend_from_slice(&0i16.to_be_bytes());
    head.extend_from_slice(&7i16.to_be_bytes());
    head.extend_from_slice(&1i32.to_be_bytes());
    head.extend_from_slice(&(-1i16).to_be_bytes());
    head
}

/// A native 0.11 request header for a frame of `size` bytes (`native-protocol.md` §2.1); the
/// request checksum is left 0 ("not stamped").
pub fn native_header(size: usize, operation: u8, code: u32, session: u64) -> [u8; NATIVE_HEADER] {
    let mut h = [0u8; NATIVE_HEADER];
    h[48..52].copy_from_slice(&u32::try_from(size).unwrap().to_le_bytes());
    h[60] = 5;
    h[128..144].copy_from_slice(&0x5eed_u128.to_le_bytes());
    // Login must carry request number 0, every other op a non-zero one.
    let request = u64::from(operation != OP_REGISTER);
    h[168..176].copy_from_slice(&request.to_le_bytes());
    h[176] = operation;
    h[184..192].copy_from_slice(&session.to_le_bytes());
    if operation == OP_NON_REPLICATED {
        h[196..200].copy_from_slice(&code.to_le_bytes());
    }
    h
}

/// A native reply: its header and body.
pub struct NativeReply {
    /// The 256-byte reply (or eviction) header.
    pub header: [u8; NATIVE_HEADER],
    /// The body the header announces.
    pub body: Vec<u8>,
}

impl NativeReply {
    /// The header's command byte (8 reply, 13 eviction).
    pub fn command(&self) -> u8 {
        self.header[60]
    }
}

/// Reads one native reply (10 s at most).
pub fn native_reply(stream: &mut TcpStream) -> NativeReply {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut header = [0u8; NATIVE_HEADER];
    stream.read_exact(&mut header).unwrap();
    let size = u32::from_le_bytes(header[48..52].try_into().unwrap()) as usize;
    let mut body = vec![0u8; size - NATIVE_HEADER];
    stream.read_exact(&mut body).unwrap();
    stream.set_read_timeout(None).unwrap();
    NativeReply { header, body }
}

/// Logs in as the default root user (`iggy`/`iggy`) on a raw native connection; returns the
/// session.
pub fn native_login(stream: &mut TcpStream) -> u64 {
    let mut body = 0x0000_2C00u32.to_le_bytes().to_vec();
    for field in ["rust-sdk", "0.11.0", "iggy", "iggy"] {
        body.push(u8::try_from(field.len()).unwrap());
        body.extend_from_slice(field.as_bytes());
    }
    body.extend_from_slice(&0u32.to_le_bytes());
    let header = native_header(NATIVE_HEADER + body.len(), OP_REGISTER, 40, 0);
    stream.write_all(&header).unwrap();
    stream.write_all(&body).unwrap();
    let reply = native_reply(stream);
    assert_eq!(reply.command(), COMMAND_REPLY, "login refused");
    u64::from_le_bytes(reply.body[8..16].try_into().unwrap())
}

/// The broker's resident memory, in bytes (`VmRSS` of `/proc/<pid>/status`).
pub fn resident_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status
        .lines()
        .find(|line| line.starts_with("VmRSS:"))
        .unwrap();
    let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib * 1024
}

/// Produces five records to `topic` with rdkafka (auto-created) and reads them back from the
/// beginning with a second rdkafka client; panics if either does not finish in time.
pub fn kafka_round_trip(addr: SocketAddr, topic: &str) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let producer: FutureProducer = ClientConfig::new()
            .set("bootstrap.servers", addr.to_string())
            .set("message.timeout.ms", CLIENT_TIMEOUT.as_millis().to_string())
            .create()
            .unwrap();
        for i in 0..5 {
            let value = format!("value-{i}");
            let record = FutureRecord::to(topic).key("k").payload(&value);
            producer
                .send(record, CLIENT_TIMEOUT)
                .await
                .unwrap_or_else(|(e, _)| panic!("produce {i} to {topic}: {e}"));
        }
    });
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", addr.to_string())
        .set("group.id", "connections-round-trip")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let mut assignment = TopicPartitionList::new();
    assignment
        .add_partition_offset(topic, 0, Offset::Beginning)
        .unwrap();
    consumer.assign(&assignment).unwrap();
    let deadline = Instant::now() + CLIENT_TIMEOUT;
    let mut values = Vec::new();
    while values.len() < 5 && Instant::now() < deadline {
        if let Some(message) = consumer.poll(Duration::from_millis(200)) {
            let message = message.unwrap();
            values.push(String::from_utf8(message.payload().unwrap().to_vec()).unwrap());
        }
    }
    let want: Vec<String> = (0..5).map(|i| format!("value-{i}")).collect();
    assert_eq!(values, want, "consumed from {topic}");
}
