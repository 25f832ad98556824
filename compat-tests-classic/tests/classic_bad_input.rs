//! Bad input in the classic framing on the native port, on raw TCP. Frames are built by hand here
//! from `native-protocol.md` Appendix A and the `iggy` 0.10.0 / `iggy_binary_protocol` 0.10.0
//! sources (not with whippet-wire, so a codec bug cannot hide itself): request
//! `[length = 4 + payload][code][payload]`, reply `[status][length][payload]`. Checks: commands
//! before login get 40 Unauthenticated, wrong credentials 42, an unknown code and an undecodable
//! body a non-zero status on a connection that stays usable, lengths that lie close the connection
//! (or get an error status) while the broker keeps serving others, a send whose count or index
//! block does not match its messages is refused with nothing written, and a raw classic send
//! comes back from a raw classic poll with the fields the producer set. The SDK (0.10.0) is used
//! only to set up and to read back what was stored.
#![allow(clippy::unwrap_used)]

mod classic_common;

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::Duration;

use classic_common::*;
use iggy::prelude::*;

const CODE_PING: u32 = 1;
const CODE_LOGIN: u32 = 38;
const CODE_POLL: u32 = 100;
const CODE_SEND: u32 = 101;
const CODE_GET_STREAMS: u32 = 201;
const CODE_CREATE_STREAM: u32 = 202;
/// The 0.11 login code (Register); not a classic command.
const CODE_REGISTER_0_11: u32 = 40;
const MESSAGE_HEADER: usize = 64;
const INDEX_ENTRY: usize = 16;
const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// A classic reply: status and payload.
#[derive(Debug)]
struct Reply {
    status: u32,
    payload: Vec<u8>,
}

fn open(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    stream.set_nodelay(true).unwrap();
    stream
}

/// `[length = 4 + payload][code][payload]`.
fn frame(code: u32, payload: &[u8]) -> Vec<u8> {
    let mut bytes = ((4 + payload.len()) as u32).to_le_bytes().to_vec();
    bytes.extend_from_slice(&code.to_le_bytes());
    bytes.extend_from_slice(payload);
    bytes
}

fn read_reply(stream: &mut TcpStream) -> Reply {
    let mut prefix = [0u8; 8];
    stream.read_exact(&mut prefix).unwrap();
    let status = u32::from_le_bytes(prefix[0..4].try_into().unwrap());
    let length = u32::from_le_bytes(prefix[4..8].try_into().unwrap()) as usize;
    assert!(length <= 64 * 1024 * 1024, "reply length {length}");
    let mut payload = vec![0u8; length];
    stream.read_exact(&mut payload).unwrap();
    Reply { status, payload }
}

fn call(stream: &mut TcpStream, code: u32, payload: &[u8]) -> Reply {
    stream.write_all(&frame(code, payload)).unwrap();
    read_reply(stream)
}

/// Login 38: `[u8 len][user][u8 len][password][u32 len][version][u32 len][context]`.
fn login_body(user: &str, password: &str) -> Vec<u8> {
    let mut body = vec![user.len() as u8];
    body.extend_from_slice(user.as_bytes());
    body.push(password.len() as u8);
    body.extend_from_slice(password.as_bytes());
    for field in ["0.10.0", ""] {
        body.extend_from_slice(&(field.len() as u32).to_le_bytes());
        body.extend_from_slice(field.as_bytes());
    }
    body
}

/// Logs in as root on a raw connection and checks the `[user_id:u32]` reply.
fn raw_login(stream: &mut TcpStream) {
    let reply = call(stream, CODE_LOGIN, &login_body("iggy", "iggy"));
    assert_eq!(reply.status, 0, "root login");
    assert_eq!(reply.payload, 0u32.to_le_bytes(), "user id 0");
}

/// Asserts the peer closes the connection (EOF or reset) without sending a reply.
#[track_caller]
fn assert_closed(stream: &mut TcpStream, what: &str) {
    let mut buf = [0u8; 8];
    match stream.read(&mut buf) {
        Ok(0) => {}
        Ok(n) => panic!("{what}: expected the connection closed, got {n} bytes {buf:?}"),
        Err(e) if e.kind() == ErrorKind::ConnectionReset => {}
        Err(e) => panic!("{what}: expected the connection closed, got {e}"),
    }
}

/// Asserts the peer either closes the connection or answers with a non-zero status.
#[track_caller]
fn assert_closed_or_refused(stream: &mut TcpStream, what: &str) {
    let mut prefix = [0u8; 8];
    match stream.read(&mut prefix) {
        Ok(0) => {}
        Ok(_) => {
            let status = u32::from_le_bytes(prefix[0..4].try_into().unwrap());
            assert_ne!(status, 0, "{what}: accepted");
        }
        Err(e) if e.kind() == ErrorKind::ConnectionReset => {}
        Err(e) => panic!("{what}: neither closed nor refused: {e}"),
    }
}

/// Asserts a fresh classic connection still gets a PING answered.
#[track_caller]
fn assert_serving(addr: SocketAddr) {
    let reply = call(&mut open(addr), CODE_PING, &[]);
    assert_eq!((reply.status, reply.payload.len()), (0, 0), "ping");
}

#[test]
fn commands_before_login_are_unauthenticated() {
    let broker = start_broker();
    let mut stream = open(broker.native_addr());
    let reply = call(&mut stream, CODE_PING, &[]);
    assert_eq!(
        (reply.status, reply.payload.len()),
        (0, 0),
        "ping before login"
    );
    let reply = call(&mut stream, CODE_GET_STREAMS, &[]);
    assert_eq!(
        reply.status,
        code::UNAUTHENTICATED,
        "get_streams: {reply:?}"
    );
    assert!(
        reply.payload.is_empty(),
        "error replies have empty payloads"
    );
    let reply = call(&mut stream, CODE_CREATE_STREAM, &[3, b'a', b'b', b'c']);
    assert_eq!(
        reply.status,
        code::UNAUTHENTICATED,
        "create_stream: {reply:?}"
    );
    let reply = call(&mut stream, CODE_LOGIN, &login_body("iggy", "wrong"));
    assert_eq!(reply.status, code::INVALID_CREDENTIALS, "wrong password");
    let reply = call(&mut stream, CODE_GET_STREAMS, &[]);
    assert_eq!(reply.status, code::UNAUTHENTICATED, "still not logged in");
    // The same connection can log in afterwards, and nothing was created before.
    raw_login(&mut stream);
    let reply = call(&mut stream, CODE_GET_STREAMS, &[]);
    assert_eq!(reply.status, 0);
    assert!(
        !reply.payload.windows(3).any(|w| w == b"abc"),
        "an unauthenticated create_stream was applied"
    );
}

#[test]
fn unknown_code_and_undecodable_body_keep_the_connection() {
    let broker = start_broker();
    let mut stream = open(broker.native_addr());
    raw_login(&mut stream);
    let reply = call(&mut stream, 60_000, &[]);
    assert_eq!(
        reply.status,
        code::INVALID_COMMAND,
        "unknown code: {reply:?}"
    );
    assert!(reply.payload.is_empty());
    let reply = call(&mut stream, CODE_REGISTER_0_11, &login_body("iggy", "iggy"));
    assert_ne!(
        reply.status, 0,
        "0.11's Register code is not classic: {reply:?}"
    );
    // create_stream whose name length runs past the payload.
    let reply = call(&mut stream, CODE_CREATE_STREAM, &[200, b'x', b'y']);
    assert_ne!(reply.status, 0, "name length past the payload: {reply:?}");
    let reply = call(&mut stream, CODE_CREATE_STREAM, &[0]);
    assert_ne!(reply.status, 0, "empty stream name: {reply:?}");
    // The connection still works.
    let reply = call(&mut stream, CODE_CREATE_STREAM, &[3, b'o', b'k', b'1']);
    assert_eq!(reply.status, 0, "create_stream after the errors: {reply:?}");
    let reply = call(&mut stream, CODE_GET_STREAMS, &[]);
    assert_eq!(reply.status, 0);
    assert!(reply.payload.windows(3).any(|w| w == b"ok1"));
    assert!(
        !reply.payload.windows(2).any(|w| w == b"xy"),
        "bad create applied"
    );
}

#[test]
fn lying_lengths_close_the_connection_and_the_broker_keeps_serving() {
    let broker = start_broker();
    let addr = broker.native_addr();
    // Another client, logged in before and checked after every bad frame.
    let mut bystander = open(addr);
    raw_login(&mut bystander);

    // A length larger than what is sent, then the client closes its side.
    let mut stream = open(addr);
    let mut short = 1_000u32.to_le_bytes().to_vec();
    short.extend_from_slice(&CODE_PING.to_le_bytes());
    short.extend_from_slice(&[0u8; 10]);
    stream.write_all(&short).unwrap();
    stream.shutdown(Shutdown::Write).unwrap();
    assert_closed(&mut stream, "length larger than the data");

    // A length below the code's own four bytes.
    let mut stream = open(addr);
    stream.write_all(&[2, 0, 0, 0, 1, 0]).unwrap();
    assert_closed(&mut stream, "length 2");

    // An absurd length, as the first frame and after a login.
    for logged_in in [false, true] {
        let mut stream = open(addr);
        if logged_in {
            raw_login(&mut stream);
        }
        let mut huge = 0xFFFF_FFF0u32.to_le_bytes().to_vec();
        huge.extend_from_slice(&CODE_SEND.to_le_bytes());
        huge.extend_from_slice(&[0u8; 4096]);
        // The broker may close before reading it all; a failed write is a close too.
        if stream.write_all(&huge).is_ok() {
            assert_closed_or_refused(&mut stream, "length 0xFFFFFFF0");
        }
    }

    let reply = call(&mut bystander, CODE_GET_STREAMS, &[]);
    assert_eq!(reply.status, 0, "bystander after the bad frames");
    assert_serving(addr);
}

/// `[kind 1 numeric][len 4][u32]`.
fn numeric_id(value: u32) -> Vec<u8> {
    let mut bytes = vec![1, 4];
    bytes.extend_from_slice(&value.to_le_bytes());
    bytes
}

/// One classic message: the 64-byte header (checksum, offset and timestamp left 0 for the
/// server), then the payload; no user headers.
fn message(id: u128, origin_timestamp: u64, payload: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(MESSAGE_HEADER + payload.len());
    m.extend_from_slice(&0u64.to_le_bytes());
    m.extend_from_slice(&id.to_le_bytes());
    m.extend_from_slice(&0u64.to_le_bytes());
    m.extend_from_slice(&0u64.to_le_bytes());
    m.extend_from_slice(&origin_timestamp.to_le_bytes());
    m.extend_from_slice(&0u32.to_le_bytes());
    m.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    m.extend_from_slice(&0u64.to_le_bytes());
    m.extend_from_slice(payload);
    m
}

/// The 16-byte index entry per message: `[0:u32][cumulative end:u32][0:u64]`.
fn index(messages: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut end = 0u32;
    for m in messages {
        end += m.len() as u32;
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&end.to_le_bytes());
        out.extend_from_slice(&0u64.to_le_bytes());
    }
    out
}

/// send_messages 101 to stream 0 / topic 0 / partition 0:
/// `[metadata_len][stream][topic][partitioning][count]` + `index` + the messages.
fn send_body(count: u32, index: &[u8], messages: &[Vec<u8>]) -> Vec<u8> {
    let mut metadata = numeric_id(0);
    metadata.extend(numeric_id(0));
    metadata.extend_from_slice(&[2, 4, 0, 0, 0, 0]);
    metadata.extend_from_slice(&count.to_le_bytes());
    let mut body = (metadata.len() as u32).to_le_bytes().to_vec();
    body.extend(metadata);
    body.extend_from_slice(index);
    for m in messages {
        body.extend_from_slice(m);
    }
    body
}

/// Poll 100 of stream 0 / topic 0 / partition 0, consumer 1, from offset 0, no auto-commit.
fn poll_body(count: u32) -> Vec<u8> {
    let mut body = vec![1];
    body.extend(numeric_id(1));
    body.extend(numeric_id(0));
    body.extend(numeric_id(0));
    body.push(1);
    body.extend_from_slice(&0u32.to_le_bytes());
    body.push(1);
    body.extend_from_slice(&0u64.to_le_bytes());
    body.extend_from_slice(&count.to_le_bytes());
    body.push(0);
    body
}

async fn stored(admin: &IggyClient) -> Vec<String> {
    payloads(&poll(admin, &id(0), &id(0), 0, PollingStrategy::first(), 100).await)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sends_that_do_not_match_their_index_are_refused() {
    let broker = start_broker();
    let admin = root(&broker).await;
    let (sid, tid) = stream_and_topic(&admin, "s", "t", 1).await;
    assert_eq!((sid, tid), (id(0), id(0)), "ids the raw frames use");
    let mut stream = open(broker.native_addr());
    raw_login(&mut stream);
    let now = IggyTimestamp::now().as_micros();
    let two = vec![message(1, now, b"first"), message(2, now, b"second")];
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("count 3, two messages", send_body(3, &index(&two), &two)),
        ("count 1, two messages", send_body(1, &index(&two), &two)),
        (
            "index of one, count 2",
            send_body(2, &index(&two[..1]), &two),
        ),
        {
            let mut lying = index(&two);
            lying[INDEX_ENTRY + 4..INDEX_ENTRY + 8].copy_from_slice(&10_000u32.to_le_bytes());
            ("index end past the data", send_body(2, &lying, &two))
        },
        {
            let mut long = two.clone();
            long[1][52..56].copy_from_slice(&500u32.to_le_bytes());
            (
                "payload length past the data",
                send_body(2, &index(&two), &long),
            )
        },
        {
            let mut body = send_body(2, &index(&two), &two);
            body[0..4].copy_from_slice(&9_000u32.to_le_bytes());
            ("metadata length past the body", body)
        },
    ];
    for (what, body) in cases {
        let reply = call(&mut stream, CODE_SEND, &body);
        assert_ne!(reply.status, 0, "{what}: accepted");
        assert!(
            stored(&admin).await.is_empty(),
            "{what}: something was written"
        );
    }
    let reply = call(&mut stream, CODE_SEND, &send_body(2, &index(&two), &two));
    assert_eq!(reply.status, 0, "the honest send on the same connection");
    assert_eq!(stored(&admin).await, vec!["first", "second"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_send_comes_back_from_a_raw_poll() {
    let broker = start_broker();
    let admin = root(&broker).await;
    stream_and_topic(&admin, "s", "t", 1).await;
    let mut stream = open(broker.native_addr());
    raw_login(&mut stream);
    let origin = IggyTimestamp::now().as_micros() - 5_000_000;
    let sent = vec![
        message(11, origin, b"alpha"),
        message(12, origin + 1, b"beta-beta"),
    ];
    let reply = call(&mut stream, CODE_SEND, &send_body(2, &index(&sent), &sent));
    assert_eq!(reply.status, 0, "send: {reply:?}");

    let reply = call(&mut stream, CODE_POLL, &poll_body(10));
    assert_eq!(reply.status, 0, "poll: {reply:?}");
    let p = &reply.payload;
    assert_eq!(
        u32::from_le_bytes(p[0..4].try_into().unwrap()),
        0,
        "partition"
    );
    assert_eq!(
        u64::from_le_bytes(p[4..12].try_into().unwrap()),
        1,
        "current offset"
    );
    assert_eq!(
        u32::from_le_bytes(p[12..16].try_into().unwrap()),
        2,
        "count"
    );
    let mut rest = &p[16..];
    let now = IggyTimestamp::now().as_micros();
    for (offset, original) in sent.iter().enumerate() {
        assert!(rest.len() >= MESSAGE_HEADER, "message {offset} truncated");
        let field = |range: std::ops::Range<usize>| rest[range].to_vec();
        let u64_at = |at: usize| u64::from_le_bytes(rest[at..at + 8].try_into().unwrap());
        assert_eq!(field(8..24), original[8..24], "id @{offset}");
        assert_eq!(u64_at(24), offset as u64, "offset @{offset}");
        let timestamp = u64_at(32);
        assert!(
            timestamp > 0 && timestamp <= now,
            "server timestamp {timestamp}"
        );
        assert_eq!(
            field(40..48),
            original[40..48],
            "origin timestamp @{offset}"
        );
        assert_eq!(field(48..52), [0, 0, 0, 0], "no user headers @{offset}");
        let payload_len = u32::from_le_bytes(rest[52..56].try_into().unwrap()) as usize;
        assert_eq!(payload_len, original.len() - MESSAGE_HEADER);
        assert_eq!(
            &rest[MESSAGE_HEADER..MESSAGE_HEADER + payload_len],
            &original[MESSAGE_HEADER..],
            "payload @{offset}"
        );
        rest = &rest[MESSAGE_HEADER + payload_len..];
    }
    assert!(rest.is_empty(), "{} bytes after the messages", rest.len());
}
