//! Bad input on the native listener, on raw TCP: frames are built by hand here from
//! `native-protocol.md` (not with whippet-wire, so a codec bug cannot hide itself). Checks the
//! documented answers — eviction reason 9 for wrong credentials, 40 before login, connection
//! closed on a malformed header, 4039 / 4027 for lying checksums with nothing written, 3 for an
//! unknown code — and that the broker keeps serving other clients throughout. The official SDK
//! is used only to set up and to read back what was stored.
#![allow(clippy::unwrap_used)]

mod native_sdk_common;

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use iggy::prelude::*;
use native_sdk_common::*;
use xxhash_rust::xxh3::xxh3_64;

const HEADER: usize = 256;
const COMMAND_REQUEST: u8 = 5;
const COMMAND_REPLY: u8 = 8;
const COMMAND_EVICTION: u8 = 13;
const OP_REGISTER: u8 = 1;
const OP_NON_REPLICATED: u8 = 2;
const OP_CREATE_STREAM: u8 = 128;
const OP_SEND_MESSAGES: u8 = 160;
const CODE_PING: u32 = 1;
const CODE_LEGACY_LOGIN: u32 = 38;
const CODE_GET_STREAMS: u32 = 201;
const PROTOCOL_0_11_0: u32 = 0x0000_2C00;
const MAX_FRAME: u32 = 64 * 1024 * 1024;
const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// The fields of a request header a test varies.
#[derive(Clone, Copy)]
struct Req {
    size: u32,
    command: u8,
    client: u128,
    operation: u8,
    code: u32,
    session: u64,
    request: u64,
    checksum: u128,
}

impl Req {
    /// A well-formed header for `operation` carrying `body`, request checksum stamped.
    fn new(operation: u8, code: u32, session: u64, request: u64, body: &[u8]) -> Self {
        Self {
            size: (HEADER + body.len()) as u32,
            command: COMMAND_REQUEST,
            client: 0x5eed_0000_0000_0000_0000_0000_0000_0001,
            operation,
            code,
            session,
            request,
            checksum: u128::from(xxh3_64(body)),
        }
    }

    fn encode(&self) -> [u8; HEADER] {
        let mut h = [0u8; HEADER];
        h[48..52].copy_from_slice(&self.size.to_le_bytes());
        h[60] = self.command;
        h[128..144].copy_from_slice(&self.client.to_le_bytes());
        h[144..160].copy_from_slice(&self.checksum.to_le_bytes());
        h[168..176].copy_from_slice(&self.request.to_le_bytes());
        h[176] = self.operation;
        h[184..192].copy_from_slice(&self.session.to_le_bytes());
        if self.operation == OP_NON_REPLICATED {
            h[196..200].copy_from_slice(&self.code.to_le_bytes());
        }
        h
    }
}

/// A reply: its header bytes and body.
struct Reply {
    header: [u8; HEADER],
    body: Vec<u8>,
}

impl Reply {
    fn command(&self) -> u8 {
        self.header[60]
    }
    fn status(&self) -> u32 {
        u32::from_le_bytes(self.header[216..220].try_into().unwrap())
    }
    fn eviction_reason(&self) -> u8 {
        self.header[255]
    }
}

fn open(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    stream.set_nodelay(true).unwrap();
    stream
}

fn call(stream: &mut TcpStream, req: Req, body: &[u8]) -> Reply {
    stream.write_all(&req.encode()).unwrap();
    stream.write_all(body).unwrap();
    read_reply(stream)
}

fn read_reply(stream: &mut TcpStream) -> Reply {
    let mut header = [0u8; HEADER];
    stream.read_exact(&mut header).unwrap();
    let size = u32::from_le_bytes(header[48..52].try_into().unwrap()) as usize;
    assert!(
        (HEADER..=MAX_FRAME as usize).contains(&size),
        "reply size {size}"
    );
    let mut body = vec![0u8; size - HEADER];
    stream.read_exact(&mut body).unwrap();
    Reply { header, body }
}

fn ping(stream: &mut TcpStream) -> Reply {
    call(
        stream,
        Req::new(OP_NON_REPLICATED, CODE_PING, 0, 0, &[]),
        &[],
    )
}

/// Asserts a fresh connection still gets a PING answered.
#[track_caller]
fn assert_serving(addr: SocketAddr) {
    let reply = ping(&mut open(addr));
    assert_eq!((reply.command(), reply.status()), (COMMAND_REPLY, 0));
}

fn login_body(user: &str, password: &str) -> Vec<u8> {
    let mut body = PROTOCOL_0_11_0.to_le_bytes().to_vec();
    for field in ["rust-sdk", "0.11.0", user, password] {
        body.push(field.len() as u8);
        body.extend_from_slice(field.as_bytes());
    }
    body.extend_from_slice(&0u32.to_le_bytes());
    body
}

/// Logs in as root on a raw connection; returns the session.
fn raw_login(stream: &mut TcpStream) -> u64 {
    let body = login_body("iggy", "iggy");
    let reply = call(stream, Req::new(OP_REGISTER, 40, 0, 0, &body), &body);
    assert_eq!((reply.command(), reply.status()), (COMMAND_REPLY, 0));
    assert_eq!(&reply.body[0..4], &[0, 0, 0, 0], "result section count 0");
    let session = u64::from_le_bytes(reply.body[8..16].try_into().unwrap());
    assert_ne!(session, 0);
    session
}

/// Asserts the peer closes the connection (EOF or reset) without sending a reply frame.
#[track_caller]
fn assert_closed(stream: &mut TcpStream, what: &str) {
    let mut buf = [0u8; HEADER];
    match stream.read(&mut buf) {
        Ok(0) => {}
        Ok(n) => panic!("{what}: expected the connection closed, got {n} bytes"),
        Err(e) if e.kind() == ErrorKind::ConnectionReset => {}
        Err(e) => panic!("{what}: expected the connection closed, got {e}"),
    }
}

#[test]
fn wrong_credentials_get_eviction_reason_9() {
    let broker = start_broker();
    let mut stream = open(broker.native_addr());
    let body = login_body("iggy", "not-the-password");
    let req = Req::new(OP_REGISTER, 40, 0, 0, &body);
    let reply = call(&mut stream, req, &body);
    assert_eq!(reply.command(), COMMAND_EVICTION);
    assert_eq!(reply.eviction_reason(), 9);
    assert!(reply.body.is_empty(), "eviction is header-only");
    assert_eq!(
        u32::from_le_bytes(reply.header[48..52].try_into().unwrap()),
        256
    );
    assert_eq!(
        u128::from_le_bytes(reply.header[128..144].try_into().unwrap()),
        req.client,
        "eviction names the request's client (EvictionHeader.client, byte 128)"
    );
    assert_eq!(
        &reply.header[144..152],
        &[0u8; 8],
        "no protocol window for reason 9"
    );
    let unknown_user = login_body("nobody", "whatever");
    let reply = call(
        &mut open(broker.native_addr()),
        Req::new(OP_REGISTER, 40, 0, 0, &unknown_user),
        &unknown_user,
    );
    assert_eq!(
        (reply.command(), reply.eviction_reason()),
        (COMMAND_EVICTION, 9)
    );
    assert_serving(broker.native_addr());
}

#[test]
fn commands_before_login_are_unauthenticated() {
    let broker = start_broker();
    let mut stream = open(broker.native_addr());
    let reply = ping(&mut stream);
    assert_eq!((reply.command(), reply.status()), (COMMAND_REPLY, 0));
    assert!(reply.body.is_empty());
    let req = Req::new(OP_NON_REPLICATED, CODE_GET_STREAMS, 0, 0, &[]);
    let reply = call(&mut stream, req, &[]);
    assert_eq!((reply.command(), reply.status()), (COMMAND_REPLY, 40));
    assert!(reply.body.is_empty(), "error replies have empty bodies");
    // The same connection can still log in afterwards.
    raw_login(&mut stream);
}

#[test]
fn legacy_login_code_gets_eviction_reason_15() {
    let broker = start_broker();
    let mut stream = open(broker.native_addr());
    let body = login_body("iggy", "iggy");
    let req = Req::new(OP_NON_REPLICATED, CODE_LEGACY_LOGIN, 0, 0, &body);
    let reply = call(&mut stream, req, &body);
    assert_eq!(
        (reply.command(), reply.eviction_reason()),
        (COMMAND_EVICTION, 15)
    );
}

#[test]
fn malformed_headers_close_the_connection() {
    let broker = start_broker();
    let addr = broker.native_addr();
    // Another client, connected before and after every bad frame.
    let mut bystander = open(addr);
    raw_login(&mut bystander);
    let good = Req::new(OP_NON_REPLICATED, CODE_PING, 0, 0, &[]);
    let cases = [
        ("size below the header", Req { size: 100, ..good }),
        (
            "size above 64 MiB",
            Req {
                size: MAX_FRAME + 1,
                ..good
            },
        ),
        ("zero client id", Req { client: 0, ..good }),
        ("wrong command byte", Req { command: 7, ..good }),
        (
            "zero operation",
            Req {
                operation: 0,
                ..good
            },
        ),
    ];
    for (what, req) in cases {
        let mut stream = open(addr);
        stream.write_all(&req.encode()).unwrap();
        assert_closed(&mut stream, what);
        let reply = ping(&mut bystander);
        assert_eq!(reply.status(), 0, "bystander after {what}");
        assert_serving(addr);
    }
}

#[test]
fn unknown_and_cluster_only_codes() {
    let broker = start_broker();
    let mut stream = open(broker.native_addr());
    let session = raw_login(&mut stream);
    let req = Req::new(OP_NON_REPLICATED, 60_000, session, 0, &[]);
    let reply = call(&mut stream, req, &[]);
    assert_eq!((reply.command(), reply.status()), (COMMAND_REPLY, 3));
    for code in [14, 103, 104, 123] {
        let req = Req::new(OP_NON_REPLICATED, code, session, 0, &[]);
        let reply = call(&mut stream, req, &[]);
        assert_eq!(reply.status(), 5, "cluster-only code {code}");
    }
    // The session survives both.
    let req = Req::new(OP_NON_REPLICATED, CODE_GET_STREAMS, session, 0, &[]);
    assert_eq!(call(&mut stream, req, &[]).status(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_checksum_that_lies_is_invalid_format() {
    let broker = start_broker();
    let admin = root(&broker).await;
    let mut stream = open(broker.native_addr());
    let session = raw_login(&mut stream);
    let body = [4u8, b'r', b'a', b'w', b'1'];
    let lying = Req {
        checksum: u128::from(xxh3_64(&body) ^ 1),
        ..Req::new(OP_CREATE_STREAM, 202, session, 1, &body)
    };
    let before = admin.get_streams().await.unwrap().len();
    assert_eq!(call(&mut stream, lying, &body).status(), 4);
    assert_eq!(
        admin.get_streams().await.unwrap().len(),
        before,
        "nothing created"
    );
    // The honest request, same request number, creates it.
    let honest = Req::new(OP_CREATE_STREAM, 202, session, 1, &body);
    let reply = call(&mut stream, honest, &body);
    assert_eq!(
        (reply.status(), &reply.body[0..4]),
        (0, &[0u8, 0, 0, 0][..])
    );
    let streams = admin.get_streams().await.unwrap();
    assert_eq!(streams.len(), before + 1);
    assert!(streams.iter().any(|s| s.name == "raw1"), "{streams:?}");
}

/// One message frame: checksum, id, offset delta, no headers.
fn frame(id: u128, delta: u32, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![0u8; 48];
    f[8..24].copy_from_slice(&id.to_le_bytes());
    f[24..28].copy_from_slice(&delta.to_le_bytes());
    f[36..40].copy_from_slice(&(payload.len() as u32).to_le_bytes());
    f.extend_from_slice(payload);
    let checksum = xxh3_64(&f[8..]);
    f[0..8].copy_from_slice(&checksum.to_le_bytes());
    f
}

/// A batch of `frames` with the header fields a producer sets; the batch checksum is computed
/// over what the frames carry (so a lying frame checksum yields a consistent batch).
fn batch(frames: &[Vec<u8>]) -> Vec<u8> {
    let length: usize = HEADER + frames.iter().map(Vec::len).sum::<usize>();
    let origin = IggyTimestamp::now().as_micros();
    let mut b = vec![0u8; HEADER];
    b[24..32].copy_from_slice(&origin.to_le_bytes());
    b[32..40].copy_from_slice(&(length as u64).to_le_bytes());
    b[48..52].copy_from_slice(&(frames.len() as u32).to_le_bytes());
    let mut summed = b[0..40].to_vec();
    summed.extend_from_slice(&b[48..52]);
    for f in frames {
        summed.extend_from_slice(&f[0..8]);
    }
    b[40..48].copy_from_slice(&xxh3_64(&summed).to_le_bytes());
    for f in frames {
        b.extend_from_slice(f);
    }
    b
}

/// Where a raw send goes: numeric stream and topic ids, partition 0.
#[derive(Clone, Copy)]
struct Target {
    stream: u32,
    topic: u32,
}

/// Partitioning `[kind][len][value]` for partition id 0 (kind 2).
const PARTITION_0: &[u8] = &[2, 4, 0, 0, 0, 0];

/// send_messages body to `target` with `partitioning` (`[kind][len][value]`).
fn send_body(target: Target, partitioning: &[u8], batch: &[u8], count: u32) -> Vec<u8> {
    let mut meta = Vec::new();
    for value in [target.stream, target.topic] {
        meta.extend_from_slice(&[1, 4]);
        meta.extend_from_slice(&value.to_le_bytes());
    }
    meta.extend_from_slice(partitioning);
    meta.extend_from_slice(&count.to_le_bytes());
    let mut body = (meta.len() as u32).to_le_bytes().to_vec();
    body.extend_from_slice(&meta);
    body.extend_from_slice(batch);
    body
}

/// Sends `batch` as request number `request`; returns the reply status.
fn raw_send(stream: &mut TcpStream, to: (Target, u64), request: u64, batch: &[u8]) -> u32 {
    raw_send_with(stream, to, PARTITION_0, request, batch)
}

/// Sends `batch` with an explicit partitioning field; returns the reply status.
fn raw_send_with(
    stream: &mut TcpStream,
    to: (Target, u64),
    partitioning: &[u8],
    request: u64,
    batch: &[u8],
) -> u32 {
    let (target, session) = to;
    let count = u32::from_le_bytes(batch[48..52].try_into().unwrap());
    let body = send_body(target, partitioning, batch, count);
    let req = Req {
        checksum: 0,
        ..Req::new(OP_SEND_MESSAGES, 101, session, request, &body)
    };
    call(stream, req, &body).status()
}

async fn stored(admin: &IggyClient, target: Target) -> Vec<String> {
    let (stream, topic) = (id(target.stream), id(target.topic));
    payloads(&poll(admin, &stream, &topic, 0, PollingStrategy::first(), 100).await)
}

/// Creates stream `s` / topic `t` (one partition) and returns their ids.
async fn target(admin: &IggyClient) -> Target {
    let (stream, topic) = stream_and_topic(admin, "s", "t", 1).await;
    Target {
        stream: stream.get_u32_value().unwrap(),
        topic: topic.get_u32_value().unwrap(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lying_batches_are_refused_and_nothing_is_written() {
    let broker = start_broker();
    let admin = root(&broker).await;
    let target = target(&admin).await;
    let mut stream = open(broker.native_addr());
    let to = (target, raw_login(&mut stream));
    let good = || batch(&[frame(1, 0, b"first"), frame(2, 1, b"second")]);
    assert_eq!(raw_send(&mut stream, to, 1, &good()), 0, "control send");
    assert_eq!(stored(&admin, target).await, vec!["first", "second"]);

    let mut lying_batch = good();
    lying_batch[40] ^= 0xff;
    assert_eq!(raw_send(&mut stream, to, 2, &lying_batch), 4039);

    let mut bad_frame = frame(3, 0, b"tampered");
    bad_frame[48] ^= 0x01; // payload changed after the frame checksum
    let lying_frame = batch(&[bad_frame, frame(4, 1, b"fine")]);
    assert_eq!(raw_send(&mut stream, to, 3, &lying_frame), 4027);

    let mut long = good();
    let claimed = u64::from_le_bytes(long[32..40].try_into().unwrap()) + 48;
    long[32..40].copy_from_slice(&claimed.to_le_bytes());
    let status = raw_send(&mut stream, to, 4, &long);
    assert_ne!(status, 0, "batch_length longer than the batch");

    let mut miscounted = good();
    miscounted[48..52].copy_from_slice(&3u32.to_le_bytes());
    let status = raw_send(&mut stream, to, 5, &miscounted);
    assert_ne!(status, 0, "message_count above the frames present");

    let mut reserved = good();
    reserved[100] = 1;
    let status = raw_send(&mut stream, to, 6, &reserved);
    assert_ne!(status, 0, "non-zero reserved bytes in the batch header");

    assert_eq!(
        stored(&admin, target).await,
        vec!["first", "second"],
        "nothing rejected written"
    );
    assert_eq!(
        raw_send(&mut stream, to, 7, &good()),
        0,
        "connection still usable"
    );
    assert_eq!(stored(&admin, target).await.len(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_frame_is_refused_without_reading_it() {
    let broker = start_broker();
    let admin = root(&broker).await;
    let target = target(&admin).await;
    let mut stream = open(broker.native_addr());
    let session = raw_login(&mut stream);
    // A header announcing a frame above the 64 MiB limit: the broker must not wait for (or
    // buffer) 64 MiB; it closes the connection.
    let req = Req {
        size: MAX_FRAME + 4096,
        checksum: 0,
        ..Req::new(OP_SEND_MESSAGES, 101, session, 1, &[])
    };
    stream.write_all(&req.encode()).unwrap();
    stream.write_all(&[0u8; 4096]).unwrap();
    assert_closed(&mut stream, "oversized frame");
    assert!(stored(&admin, target).await.is_empty());
    admin.ping().await.unwrap();
}

/// The 0.11 Rust SDK resolves balanced and key partitioning itself and always sends kind 2;
/// other SDKs send kinds 1 and 3, which the broker must accept (native-protocol.md §4.7).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn balanced_and_key_partitioning_kinds_on_the_wire() {
    let broker = start_broker();
    let admin = root(&broker).await;
    let (sid, tid) = stream_and_topic(&admin, "s", "t", 3).await;
    let target = Target {
        stream: sid.get_u32_value().unwrap(),
        topic: tid.get_u32_value().unwrap(),
    };
    let mut stream = open(broker.native_addr());
    let to = (target, raw_login(&mut stream));
    let mut request = 0;
    for i in 0..6u128 {
        request += 1;
        let one = batch(&[frame(100 + i, 0, format!("bal-{i}").as_bytes())]);
        assert_eq!(raw_send_with(&mut stream, to, &[1, 0], request, &one), 0);
    }
    let mut key = vec![3, 9];
    key.extend_from_slice(b"tenant-07");
    for i in 0..4u128 {
        request += 1;
        let one = batch(&[frame(200 + i, 0, format!("key-{i}").as_bytes())]);
        assert_eq!(raw_send_with(&mut stream, to, &key, request, &one), 0);
    }
    let mut balanced = Vec::new();
    let mut keyed = Vec::new();
    for partition in 0..3 {
        let got =
            payloads(&poll(&admin, &sid, &tid, partition, PollingStrategy::first(), 50).await);
        balanced.push(got.iter().filter(|p| p.starts_with("bal")).count());
        keyed.push(got.iter().filter(|p| p.starts_with("key")).count());
    }
    assert_eq!(balanced.iter().sum::<usize>(), 6, "{balanced:?}");
    assert!(
        balanced.iter().all(|&n| n > 0),
        "balanced spreads: {balanced:?}"
    );
    assert_eq!(keyed.iter().sum::<usize>(), 4, "{keyed:?}");
    assert_eq!(
        keyed.iter().filter(|&&n| n > 0).count(),
        1,
        "one key, one partition: {keyed:?}"
    );
}

/// Poll body: single consumer 1, `target`, partition 0, offset strategy from 0, no auto-commit.
fn poll_body(target: Target, count: u32) -> Vec<u8> {
    let mut body = vec![1, 1, 4, 1, 0, 0, 0];
    for value in [target.stream, target.topic] {
        body.extend_from_slice(&[1, 4]);
        body.extend_from_slice(&value.to_le_bytes());
    }
    body.extend_from_slice(&[1, 0, 0, 0, 0]);
    body.push(1);
    body.extend_from_slice(&0u64.to_le_bytes());
    body.extend_from_slice(&count.to_le_bytes());
    body.push(0);
    body
}

/// Item 2 of the issue, seen from outside: the frames a producer sent come back from a native
/// poll byte for byte; only the batch header's server fields are stamped, and its checksum is
/// recomputed over them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stored_batch_is_served_back_byte_for_byte() {
    let broker = start_broker();
    let admin = root(&broker).await;
    let target = target(&admin).await;
    let mut stream = open(broker.native_addr());
    let session = raw_login(&mut stream);
    let frames = vec![frame(11, 0, b"alpha"), frame(12, 1, b"beta-beta")];
    let sent = batch(&frames);
    assert_eq!(raw_send(&mut stream, (target, session), 1, &sent), 0);

    let body = poll_body(target, 10);
    let req = Req {
        checksum: 0,
        ..Req::new(OP_NON_REPLICATED, 100, session, 1, &body)
    };
    let reply = call(&mut stream, req, &body);
    assert_eq!(reply.status(), 0);
    let b = &reply.body;
    assert_eq!(
        u32::from_le_bytes(b[0..4].try_into().unwrap()),
        0,
        "partition"
    );
    assert_eq!(
        u64::from_le_bytes(b[4..12].try_into().unwrap()),
        1,
        "current offset"
    );
    assert_eq!(
        u32::from_le_bytes(b[12..16].try_into().unwrap()),
        2,
        "count"
    );
    let record = &b[16..];
    assert_eq!(
        record.len(),
        sent.len(),
        "one record, the size of the sent batch"
    );
    assert_eq!(&record[HEADER..], &sent[HEADER..], "frames served as sent");
    assert_eq!(
        &record[24..40],
        &sent[24..40],
        "origin timestamp and length kept"
    );
    assert_eq!(
        &record[48..HEADER],
        &sent[48..HEADER],
        "count and reserved kept"
    );
    assert_eq!(
        u64::from_le_bytes(record[8..16].try_into().unwrap()),
        0,
        "base offset"
    );
    let stamped = u64::from_le_bytes(record[16..24].try_into().unwrap());
    let now = IggyTimestamp::now().as_micros();
    assert!(
        stamped > 0 && stamped <= now,
        "base timestamp stamped: {stamped}"
    );
    let mut summed = record[0..40].to_vec();
    summed.extend_from_slice(&record[48..52]);
    for f in &frames {
        summed.extend_from_slice(&f[0..8]);
    }
    assert_eq!(
        u64::from_le_bytes(record[40..48].try_into().unwrap()),
        xxh3_64(&summed),
        "batch checksum recomputed after stamping"
    );
}
