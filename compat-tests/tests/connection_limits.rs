//! Connection caps and read deadlines of the real `whippet` binary (issue 22 item 3): idle
//! sockets flooding one listener must not lock out the others (`/health` and a real Kafka
//! client keep working), one address cannot take more than its cap, and silent, slow-loris
//! and (after the idle timeout) idle connections are closed — while established connections
//! survive the setup timeout; and at the default settings, 5 000 idle connections plus
//! slow-loris senders from one host on every listener at once leave a client on another
//! address served everywhere, capped with a rate-limited WARN per listener (issue 21 item 3).
//! Build the binary first: `cargo build -p whippet-broker`.
#![allow(clippy::unwrap_used)]

mod connections_common;
mod native_sdk_common;

use std::io::{ErrorKind, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use connections_common::*;
use whippet_compat_tests::{Launch, WhippetProcess};

/// More idle sockets than the broker's old single cap (1024) held over all listeners.
const FLOOD: usize = 1100;

/// Opens up to `count` connections to `addr`, stopping at the first that does not connect
/// (a full kernel backlog).
fn flood(addr: SocketAddr, count: usize) -> Vec<TcpStream> {
    (0..count).map_while(|_| try_open(addr)).collect()
}

/// Lines of the broker's log that contain `needle`.
fn log_lines(broker: &WhippetProcess, needle: &str) -> usize {
    broker
        .stderr()
        .lines()
        .filter(|line| line.contains(needle))
        .count()
}

#[test]
fn a_flooded_listener_leaves_health_and_kafka_serving() {
    let broker = Launch::new()
        .env("WHIPPET_CONNECTIONS_PER_LISTENER_MAX", "100")
        .env("WHIPPET_CONNECTION_SETUP_TIMEOUT_MS", "120000")
        .start()
        .unwrap();
    // Stops when the kernel's backlog is full too: past 100 accepted, about 130 more.
    let flood = flood(broker.native_addr(), FLOOD);
    assert!(flood.len() > 200, "only {} connections opened", flood.len());
    // The flooded listener itself is full: a new native peer gets no answer to a ping (a
    // reply would make `closed_within` fail), if it connects at all.
    if let Some(mut late) = try_open(broker.native_addr()) {
        let ping = native_header(NATIVE_HEADER, OP_NON_REPLICATED, 1, 0);
        late.write_all(&ping).unwrap();
        let closed = closed_within(&late, Instant::now(), Duration::from_millis(500));
        assert_eq!(closed, None);
    }
    assert_health(broker.http_addr());
    kafka_round_trip(broker.kafka_addr(), "during-native-flood");
    // Kafka flooded too: /health still answers.
    let kafka_flood = self::flood(broker.kafka_addr(), 300);
    assert!(kafka_flood.len() > 100, "{}", kafka_flood.len());
    assert_health(broker.http_addr());
    let warned = log_lines(&broker, "connections_per_listener_max");
    assert_eq!(
        warned,
        2,
        "one WARN per flooded listener:\n{}",
        broker.stderr()
    );
    drop(flood);
    drop(kafka_flood);
    kafka_round_trip(broker.kafka_addr(), "after-flood");
}

#[test]
fn one_address_cannot_hold_more_than_its_cap() {
    let broker = Launch::new()
        .env("WHIPPET_CONNECTIONS_PER_ADDRESS_MAX", "20")
        .env("WHIPPET_CONNECTION_SETUP_TIMEOUT_MS", "120000")
        .start()
        .unwrap();
    let streams: Vec<TcpStream> = (0..30).map(|_| open(broker.kafka_addr())).collect();
    std::thread::sleep(Duration::from_millis(500));
    let closed: Vec<bool> = streams.iter().map(is_closed).collect();
    assert_eq!(
        closed.iter().filter(|closed| !**closed).count(),
        20,
        "open after 500 ms: {closed:?}"
    );
    assert!(closed[20..].iter().all(|closed| *closed), "{closed:?}");
    // Other listeners count the address on their own.
    assert_health(broker.http_addr());
    let mut native = open(broker.native_addr());
    native_login(&mut native);
    let warned = log_lines(&broker, "connections_per_address_max");
    assert_eq!(warned, 1, "ten refusals, one rate-limited WARN");
    drop(streams);
    kafka_round_trip(broker.kafka_addr(), "after-address-cap");
}

/// Writes `bytes` one at a time, `every` apart, until the broker closes the connection.
fn trickle(stream: &TcpStream, bytes: Vec<u8>, every: Duration) -> JoinHandle<()> {
    let mut stream = stream.try_clone().unwrap();
    std::thread::spawn(move || {
        for byte in bytes {
            if stream.write_all(&[byte]).is_err() {
                return;
            }
            std::thread::sleep(every);
        }
    })
}

#[test]
fn silent_slow_and_idle_connections_are_closed() {
    let broker = Launch::new()
        .env("WHIPPET_CONNECTION_SETUP_TIMEOUT_MS", "1000")
        .env("WHIPPET_FRAME_READ_TIMEOUT_MS", "1500")
        .env("WHIPPET_CONNECTION_IDLE_TIMEOUT_MS", "4000")
        .start()
        .unwrap();
    let (kafka, native) = (broker.kafka_addr(), broker.native_addr());
    let start = Instant::now();
    let silent: Vec<TcpStream> = (0..5).flat_map(|_| [open(kafka), open(native)]).collect();
    // Established: answered requests (Kafka) or a login (native), then silence.
    let mut kafka_idle = open(kafka);
    kafka_handshake(&mut kafka_idle);
    let mut native_idle = open(native);
    native_login(&mut native_idle);
    // Slow loris after the handshake: a 100-byte frame sent a byte every 100 ms (10 s).
    let mut kafka_slow = open(kafka);
    kafka_handshake(&mut kafka_slow);
    let mut frame = kafka_api_versions_frame(2);
    frame.resize(104, 0);
    frame[..4].copy_from_slice(&100i32.to_be_bytes());
    let slow_started = Instant::now();
    let kafka_trickle = trickle(&kafka_slow, frame, Duration::from_millis(100));
    // Slow loris before login: a native header a byte every 100 ms.
    let native_slow = open(native);
    let header = native_header(NATIVE_HEADER, OP_NON_REPLICATED, 1, 0).to_vec();
    let native_trickle = trickle(&native_slow, header, Duration::from_millis(100));

    for stream in &silent {
        let closed = closed_within(stream, start, Duration::from_secs(5));
        let closed = closed.expect("a silent connection was never closed");
        assert!(
            closed >= Duration::from_millis(800),
            "closed early: {closed:?}"
        );
    }
    let closed = closed_within(&kafka_slow, slow_started, Duration::from_secs(5));
    let closed = closed.expect("a Kafka slow-loris connection was never closed");
    assert!(closed >= Duration::from_millis(1300), "{closed:?}");
    let closed = closed_within(&native_slow, start, Duration::from_secs(5));
    closed.expect("a native slow-loris connection before login was never closed");
    // Past the setup and frame deadlines, established connections are still open...
    std::thread::sleep(Duration::from_millis(2500).saturating_sub(start.elapsed()));
    assert!(!is_closed(&kafka_idle) && !is_closed(&native_idle));
    // ...until the idle timeout.
    for stream in [&kafka_idle, &native_idle] {
        let closed = closed_within(stream, start, Duration::from_secs(8));
        let closed = closed.expect("an idle established connection was never closed");
        assert!(closed >= Duration::from_millis(3500), "{closed:?}");
    }
    kafka_trickle.join().unwrap();
    native_trickle.join().unwrap();
    assert_health(broker.http_addr());
}

/// Idle connections per listener in the large flood (issue 21 item 3).
const LARGE_FLOOD: usize = 5_000;
/// Slow-loris senders per listener in the large flood.
const SLOW_LORIS: usize = 20;
/// Where the flood comes from: a loopback alias, so the normal client (127.0.0.1) is another
/// address, as a real client is another host than the one flooding.
const FLOOD_FROM: std::net::Ipv4Addr = std::net::Ipv4Addr::new(127, 0, 0, 2);

/// The broker's default `connections_per_address_max`.
const PER_ADDRESS_DEFAULT: usize = 256;

/// How many of `streams` the broker has not closed.
fn open_count(streams: &[tokio::net::TcpStream]) -> usize {
    let mut byte = [0u8; 1];
    streams
        .iter()
        .filter(|s| matches!(s.try_read(&mut byte), Err(e) if e.kind() == ErrorKind::WouldBlock))
        .count()
}

/// Raises this process's soft descriptor limit to what three floods need, or fails saying why.
fn allow_descriptors(needed: u64) {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
    assert!(
        hard >= needed,
        "the flood needs {needed} descriptors; the hard RLIMIT_NOFILE is {hard}"
    );
    if soft < needed {
        setrlimit(Resource::RLIMIT_NOFILE, needed, hard).unwrap();
    }
}

/// Opens `count` connections to `addr` from [`FLOOD_FROM`]; each attempt gets a short connect
/// deadline. Returns those that connected (the broker may have closed some since).
async fn flood_from_alias(addr: SocketAddr, count: usize) -> Vec<tokio::net::TcpStream> {
    let mut streams = Vec::with_capacity(count);
    for _ in 0..count {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind(SocketAddr::from((FLOOD_FROM, 0))).unwrap();
        let connect = tokio::time::timeout(Duration::from_millis(500), socket.connect(addr));
        if let Ok(Ok(stream)) = connect.await {
            streams.push(stream);
        }
    }
    streams
}

/// A request that is never finished: the first bytes of a frame each listener would accept.
fn slow_loris_bytes(listener: &str) -> Vec<u8> {
    match listener {
        "kafka" => {
            let mut frame = kafka_api_versions_frame(1);
            frame.resize(1_000, 0);
            frame[..4].copy_from_slice(&996i32.to_be_bytes());
            frame
        }
        "native" => native_header(NATIVE_HEADER, OP_NON_REPLICATED, 1, 0).to_vec(),
        _ => b"GET /health HTTP/1.1\r\nHost: whippet\r\nX-Slow: ".repeat(20),
    }
}

/// Sends one more byte of each sender's bytes every 200 ms until `stop` is set.
fn slow_loris(
    senders: Vec<(tokio::net::TcpStream, Vec<u8>)>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> JoinHandle<()> {
    use std::sync::atomic::Ordering;
    let mut senders: Vec<(std::net::TcpStream, Vec<u8>)> = senders
        .into_iter()
        .map(|(stream, bytes)| (stream.into_std().unwrap(), bytes))
        .collect();
    std::thread::spawn(move || {
        let mut sent = 0;
        while !stop.load(Ordering::SeqCst) {
            for (stream, bytes) in &mut senders {
                if let Some(byte) = bytes.get(sent) {
                    stream.set_nonblocking(false).unwrap();
                    let _ = stream.write_all(&[*byte]);
                }
            }
            sent += 1;
            std::thread::sleep(Duration::from_millis(200));
        }
    })
}

#[test]
fn five_thousand_idle_and_slow_loris_peers_per_listener_leave_a_normal_client_served() {
    allow_descriptors(3 * (LARGE_FLOOD + SLOW_LORIS) as u64 + 1_000);
    // The broker's default caps and deadlines.
    let broker = WhippetProcess::start::<&str>([]).unwrap();
    let listeners = [
        ("kafka", broker.kafka_addr()),
        ("native", broker.native_addr()),
        ("http", broker.http_addr()),
    ];
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let started = Instant::now();
    let (senders, idle) = runtime.block_on(async {
        let mut senders = Vec::new();
        let mut idle = Vec::new();
        for (name, addr) in listeners {
            for stream in flood_from_alias(addr, SLOW_LORIS).await {
                senders.push((stream, slow_loris_bytes(name)));
            }
            idle.push(flood_from_alias(addr, LARGE_FLOOD).await);
        }
        (senders, idle)
    });
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let trickle = slow_loris(senders, std::sync::Arc::clone(&stop));
    let connected: Vec<usize> = idle.iter().map(Vec::len).collect();
    eprintln!(
        "{connected:?} of {LARGE_FLOOD} idle connections per listener connected in {:?}",
        started.elapsed()
    );

    // A normal client from another address is served on every listener.
    let served = Instant::now();
    assert_health(broker.http_addr());
    kafka_round_trip(broker.kafka_addr(), "during-large-flood");
    runtime.block_on(async {
        let native = native_sdk_common::root(&broker).await;
        native_sdk_common::stream_and_topic(&native, "flooded", "t", 1).await;
    });
    eprintln!("normal clients served in {:?}", served.elapsed());
    eprintln!(
        "flood connections held open per listener: {:?}",
        idle.iter().map(|s| open_count(s)).collect::<Vec<_>>()
    );

    // Capped: the broker holds no more of the flood than the per-address cap (the rest it
    // closed; the slow-loris senders may have been cut off by now and their slots reused),
    // with a clear, rate-limited line per listener.
    let held: Vec<usize> = idle.iter().map(|streams| open_count(streams)).collect();
    assert!(
        held.iter().all(|&n| n <= PER_ADDRESS_DEFAULT),
        "flood connections still open per listener: {held:?}"
    );
    let stderr = broker.stderr();
    for (name, _) in listeners {
        let lines = stderr
            .lines()
            .filter(|l| l.contains("connections_per_address_max"))
            .filter(|l| l.contains(&format!("listener=\"{name}\"")))
            .count();
        assert!(
            (1..=20).contains(&lines),
            "{lines} per-address cap lines for {name}:\n{stderr}"
        );
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    trickle.join().unwrap();
    drop(idle);
    kafka_round_trip(broker.kafka_addr(), "after-large-flood");
}
