//! Memory held by unfinished requests in the real `whippet` binary (issue 22 item 4): large
//! Kafka and native frames announced and mostly sent but never finished must not add up past
//! the in-flight request budget (`request_bytes_in_flight_max`), a real client must still
//! produce and consume once they are gone, and a native frame over 64 KiB before login closes
//! the connection instead of being buffered. Build the binary first:
//! `cargo build -p whippet-broker`.
#![allow(clippy::unwrap_used)]

mod connections_common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use connections_common::*;
use whippet_compat_tests::Launch;

const MIB: usize = 1024 * 1024;
/// Size each unfinished request announces.
const FRAME_BYTES: usize = 24 * MIB;
/// How much of it each connection sends before it stops.
const SENT_BYTES: usize = 23 * MIB;
/// Connections per protocol.
const CONNECTIONS: usize = 8;
/// The budget the broker runs with.
const BUDGET_BYTES: usize = 32 * MIB;

/// Sends `head` then zeros up to `total` bytes; stops early once a write blocks for 3 s (the
/// broker is not reading: the budget is used up). Returns the stream, still open.
fn send_most(mut stream: TcpStream, head: Vec<u8>, total: usize) -> JoinHandle<TcpStream> {
    std::thread::spawn(move || {
        stream
            .set_write_timeout(Some(Duration::from_secs(3)))
            .unwrap();
        stream.write_all(&head).unwrap();
        let chunk = vec![0u8; 256 * 1024];
        let mut sent = head.len();
        while sent < total {
            let n = chunk.len().min(total - sent);
            match stream.write(&chunk[..n]) {
                Ok(written) => sent += written,
                Err(_) => break,
            }
        }
        stream
    })
}

#[test]
fn unfinished_large_requests_hold_at_most_the_budget() {
    let broker = Launch::new()
        .env(
            "WHIPPET_REQUEST_BYTES_IN_FLIGHT_MAX",
            BUDGET_BYTES.to_string(),
        )
        .env("WHIPPET_CONNECTION_SETUP_TIMEOUT_MS", "120000")
        .env("WHIPPET_FRAME_READ_TIMEOUT_MS", "120000")
        .start()
        .unwrap();
    let before = resident_bytes(broker.pid());
    let mut senders = Vec::new();
    for _ in 0..CONNECTIONS {
        let head = kafka_produce_head(FRAME_BYTES - 4);
        senders.push(send_most(open(broker.kafka_addr()), head, SENT_BYTES));
        let mut native = open(broker.native_addr());
        let session = native_login(&mut native);
        let head = native_header(FRAME_BYTES, OP_SEND_MESSAGES, 101, session).to_vec();
        senders.push(send_most(native, head, SENT_BYTES));
    }
    let streams: Vec<TcpStream> = senders.into_iter().map(|s| s.join().unwrap()).collect();
    // Let the broker read whatever it is going to read.
    std::thread::sleep(Duration::from_secs(1));
    let grown = resident_bytes(broker.pid()).saturating_sub(before);
    let unbounded = 2 * CONNECTIONS * SENT_BYTES;
    eprintln!(
        "resident memory grew by {} MiB with {} MiB of unfinished requests",
        grown / MIB as u64,
        unbounded / MIB
    );
    assert!(
        grown < (BUDGET_BYTES + 64 * MIB) as u64,
        "resident memory grew by {} MiB with {} MiB of unfinished requests \
         (budget {} MiB)",
        grown / MIB as u64,
        unbounded / MIB,
        BUDGET_BYTES / MIB
    );
    drop(streams);
    assert_health(broker.http_addr());
    kafka_round_trip(broker.kafka_addr(), "after-unfinished-requests");
}

#[test]
fn native_frames_over_64_kib_before_login_close_the_connection() {
    let broker = Launch::new().start().unwrap();
    let addr = broker.native_addr();
    // Protocol 0.11: a login header announcing 100 KiB of body.
    let mut current = open(addr);
    let size = NATIVE_HEADER + 100 * 1024;
    current
        .write_all(&native_header(size, OP_REGISTER, 40, 0))
        .unwrap();
    // The broker may close as soon as it has read the header: a broken pipe here is that.
    let _ = current.write_all(&[0u8; 1024]);
    let closed = closed_within(&current, Instant::now(), Duration::from_secs(3));
    assert!(
        closed.is_some(),
        "0.11 frame over 64 KiB before login kept open"
    );
    // The classic framing: `[length][code 38]` of 100 KiB.
    let mut classic = open(addr);
    classic
        .write_all(&u32::try_from(100 * 1024).unwrap().to_le_bytes())
        .unwrap();
    // As above: the broker may already have closed after the length and the code.
    let _ = classic.write_all(&38u32.to_le_bytes());
    let _ = classic.write_all(&[1u8; 1024]);
    let closed = closed_within(&classic, Instant::now(), Duration::from_secs(3));
    assert!(
        closed.is_some(),
        "classic frame over 64 KiB before login kept open"
    );
    // A 64 KiB frame is still read: a bogus login gets its eviction frame.
    let mut at_limit = open(addr);
    let body = vec![0u8; 64 * 1024 - NATIVE_HEADER];
    at_limit
        .write_all(&native_header(64 * 1024, OP_REGISTER, 40, 0))
        .unwrap();
    at_limit.write_all(&body).unwrap();
    assert_eq!(native_reply(&mut at_limit).command(), COMMAND_EVICTION);
    // After login the cap is the protocol's own: a 100 KiB request gets an answer.
    let mut logged_in = open(addr);
    let session = native_login(&mut logged_in);
    let header = native_header(size, OP_NON_REPLICATED, CODE_GET_STREAMS, session);
    logged_in.write_all(&header).unwrap();
    logged_in.write_all(&vec![0u8; 100 * 1024]).unwrap();
    let reply = native_reply(&mut logged_in);
    assert_eq!(reply.command(), COMMAND_REPLY);
    // The connection stays usable.
    let mut byte = [0u8; 1];
    logged_in.set_nonblocking(true).unwrap();
    assert!(logged_in.read(&mut byte).is_err(), "no stray bytes");
}
