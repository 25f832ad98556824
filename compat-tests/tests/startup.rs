//! Starts the real `whippet` binary and checks its process contract: the ready line, the bound
//! ports, clean exit on SIGTERM/SIGINT, clear startup errors, and config precedence as seen
//! from outside. Build the binary first: `cargo build -p whippet-broker`.
#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::time::Duration;

use whippet_compat_tests::{Launch, WhippetProcess};

const IO_TIMEOUT: Duration = Duration::from_secs(5);

fn http_get(addr: SocketAddr, path: &str) -> String {
    let mut stream = TcpStream::connect_timeout(&addr, IO_TIMEOUT).unwrap();
    stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

/// The metadata log (which holds the catalog) exists in `dir`.
fn has_catalog(dir: &Path) -> bool {
    dir.join("state").join("meta").join("meta.log").is_file()
}

#[test]
fn ready_line_ports_accept_and_sigterm_exits_zero() {
    let mut broker = WhippetProcess::start(["--fsync", "always"]).unwrap();
    for addr in [
        broker.kafka_addr(),
        broker.native_addr(),
        broker.http_addr(),
    ] {
        assert_ne!(addr.port(), 0, "port 0 must be resolved in the ready line");
        TcpStream::connect_timeout(&addr, IO_TIMEOUT).unwrap();
    }
    let health = http_get(broker.http_addr(), "/health");
    assert!(health.starts_with("HTTP/1.1 200 "), "{health}");
    assert!(health.ends_with("{\"status\":\"ok\"}"), "{health}");
    let missing = http_get(broker.http_addr(), "/nope");
    assert!(missing.starts_with("HTTP/1.1 404 "), "{missing}");
    assert!(
        has_catalog(&broker.data_dir()),
        "the log was not opened in --data-dir"
    );

    let status = broker.terminate().unwrap();
    assert_eq!(status.code(), Some(0), "stderr:\n{}", broker.stderr());
    assert_eq!(
        broker.stdout_after_ready(),
        Vec::<String>::new(),
        "stdout holds only the ready line"
    );
    assert!(
        broker.stderr().contains("shutdown complete"),
        "{}",
        broker.stderr()
    );
}

#[test]
fn sigint_exits_zero_with_a_connection_open() {
    let mut broker = WhippetProcess::start(Vec::<String>::new()).unwrap();
    // An HTTP peer that never sends its request keeps a connection task alive.
    let _idle = TcpStream::connect_timeout(&broker.http_addr(), IO_TIMEOUT).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    let started = std::time::Instant::now();
    let status = broker.interrupt().unwrap();
    assert_eq!(status.code(), Some(0), "stderr:\n{}", broker.stderr());
    // Shutdown cancels the idle connection instead of waiting out its read timeout.
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn restart_reopens_the_same_data_dir() {
    let mut broker = WhippetProcess::start(Vec::<String>::new()).unwrap();
    let first_http = broker.http_addr();
    let previous = broker.restart().unwrap();
    assert_eq!(previous.code(), Some(0));
    assert!(has_catalog(&broker.data_dir()));
    let health = http_get(broker.http_addr(), "/health");
    assert!(
        health.starts_with("HTTP/1.1 200 "),
        "{health} (first run was on {first_http})"
    );
    assert_eq!(broker.terminate().unwrap().code(), Some(0));
}

#[test]
fn bad_flag_value_exits_2_naming_the_flag() {
    let finished = Launch::new()
        .args(["--fsync", "sometimes"])
        .run_to_exit()
        .unwrap();
    assert_eq!(finished.status.code(), Some(2));
    assert!(finished.stderr.contains("--fsync"), "{}", finished.stderr);
    assert!(finished.stdout.is_empty(), "{:?}", finished.stdout);

    let finished = Launch::new()
        .args(["--fsync-interval-ms", "0"])
        .run_to_exit()
        .unwrap();
    assert_eq!(finished.status.code(), Some(2));
    assert!(
        finished.stderr.contains("fsync_interval_ms"),
        "{}",
        finished.stderr
    );

    let finished = Launch::new()
        .env("WHIPPET_NATIVE_ADDR", "nowhere")
        .run_to_exit()
        .unwrap();
    assert_eq!(finished.status.code(), Some(2));
    assert!(
        finished.stderr.contains("WHIPPET_NATIVE_ADDR"),
        "{}",
        finished.stderr
    );
}

#[test]
fn help_names_each_variable_and_default_but_no_variable_value() {
    // Run directly rather than through `Launch::run_to_exit`, whose stdout lines come from a
    // reader thread that may not have caught up when a fast exit is seen.
    let output = std::process::Command::new(whippet_compat_tests::whippet_binary().unwrap())
        .arg("--help")
        .env("WHIPPET_ROOT_PASSWORD", "hunter2")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    // clap wraps help to the terminal's width (100 columns without one): compare words.
    let help = String::from_utf8(output.stdout).unwrap();
    let help = help.split_whitespace().collect::<Vec<_>>().join(" ");
    for shown in [
        "--root-password <PASSWORD>",
        "[env: WHIPPET_ROOT_PASSWORD]",
        "[env: WHIPPET_KAFKA_ADDR] [default: 127.0.0.1:9092]",
        "[env: WHIPPET_CONFIG]",
    ] {
        assert!(help.contains(shown), "help lacks {shown}:\n{help}");
    }
    assert!(!help.contains("hunter2"), "{help}");
}

#[test]
fn unknown_config_key_exits_2_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("whippet.toml");
    std::fs::write(
        &config,
        "fsync = \"never\"\nkafka_adress = \"127.0.0.1:1\"\n",
    )
    .unwrap();
    let finished = Launch::new()
        .args(["--config".as_ref(), config.as_os_str()])
        .run_to_exit()
        .unwrap();
    assert_eq!(finished.status.code(), Some(2));
    assert!(
        finished.stderr.contains("kafka_adress"),
        "{}",
        finished.stderr
    );
}

#[test]
fn port_in_use_fails_with_one_clear_line() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let finished = Launch::new()
        .args(["--native-addr", addr.as_str()])
        .run_to_exit()
        .unwrap();
    assert_eq!(finished.status.code(), Some(1));
    let errors: Vec<&str> = finished
        .stderr
        .lines()
        .filter(|l| l.starts_with("whippet: error:"))
        .collect();
    assert_eq!(errors.len(), 1, "{}", finished.stderr);
    assert!(
        errors[0].contains("native") && errors[0].contains(&addr),
        "{}",
        errors[0]
    );
    assert!(
        finished.stdout.is_empty(),
        "no ready line on failure: {:?}",
        finished.stdout
    );
}

#[test]
fn unusable_data_dir_fails_with_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, b"x").unwrap();
    let finished = Launch::new()
        .args(["--data-dir".as_ref(), file.as_os_str()])
        .run_to_exit()
        .unwrap();
    assert_eq!(finished.status.code(), Some(1));
    let errors: Vec<&str> = finished
        .stderr
        .lines()
        .filter(|l| l.starts_with("whippet: error:"))
        .collect();
    assert_eq!(errors.len(), 1, "{}", finished.stderr);
    assert!(errors[0].contains("not-a-dir"), "{}", errors[0]);
}

#[test]
fn config_precedence_file_then_env_then_flag() {
    let dirs = tempfile::tempdir().unwrap();
    let (from_file, from_env, from_flag) = (
        dirs.path().join("a"),
        dirs.path().join("b"),
        dirs.path().join("c"),
    );
    let config = dirs.path().join("whippet.toml");
    std::fs::write(
        &config,
        format!("data_dir = {:?}\n", from_file.to_str().unwrap()),
    )
    .unwrap();
    let with_file = || {
        Launch::new()
            .without_data_dir_flag()
            .env("WHIPPET_CONFIG", &config)
    };

    let mut broker = with_file().start().unwrap();
    assert_eq!(broker.terminate().unwrap().code(), Some(0));
    assert!(has_catalog(&from_file), "file layer ignored");

    let mut broker = with_file()
        .env("WHIPPET_DATA_DIR", &from_env)
        .start()
        .unwrap();
    assert_eq!(broker.terminate().unwrap().code(), Some(0));
    assert!(has_catalog(&from_env), "env did not override the file");

    let launch = with_file().env("WHIPPET_DATA_DIR", &from_env);
    let mut broker = launch
        .args(["--data-dir".as_ref(), from_flag.as_os_str()])
        .start()
        .unwrap();
    assert_eq!(broker.terminate().unwrap().code(), Some(0));
    assert!(
        has_catalog(&from_flag),
        "flag did not override env and file"
    );
    // The default ./data (in the work dir) was never used.
    assert!(!has_catalog(&broker.data_dir()));
}

/// Writes `request` and reads until the broker closes (or resets: a broker that closes with
/// unread bytes in its socket may reset after its answer), returning what arrived.
fn http_exchange(addr: SocketAddr, request: &[u8]) -> String {
    let mut stream = TcpStream::connect_timeout(&addr, IO_TIMEOUT).unwrap();
    stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    stream.write_all(request).unwrap();
    read_until_closed(&mut stream)
}

fn read_until_closed(stream: &mut TcpStream) -> String {
    let mut response = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(read) => response.extend_from_slice(&chunk[..read]),
            Err(error) if error.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(error) => panic!("read failed after {response:?}: {error}"),
        }
    }
    String::from_utf8_lossy(&response).into_owned()
}

#[test]
fn http_answers_one_request_per_connection_with_json() {
    let mut broker = WhippetProcess::start(Vec::<String>::new()).unwrap();
    let addr = broker.http_addr();
    let health = http_exchange(addr, b"GET /health?x=1 HTTP/1.1\r\nHost: x\r\n\r\n");
    let lower = health.to_ascii_lowercase();
    assert!(health.starts_with("HTTP/1.1 200 OK\r\n"), "{health}");
    assert!(
        lower.contains("content-type: application/json\r\n"),
        "{health}"
    );
    assert!(lower.contains("connection: close\r\n"), "{health}");
    let refused = http_exchange(addr, b"HEAD /health HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(refused.starts_with("HTTP/1.1 405 "), "{refused}");
    assert!(
        refused.to_ascii_lowercase().contains("allow: get\r\n"),
        "{refused}"
    );
    let bad = http_exchange(addr, b"GET /health HTTP/9.9\r\n\r\n");
    assert!(bad.starts_with("HTTP/1.1 400 "), "{bad}");
    assert_eq!(broker.terminate().unwrap().code(), Some(0));
}

#[test]
fn http_head_is_bounded_and_a_body_is_never_read() {
    let mut broker = WhippetProcess::start(Vec::<String>::new()).unwrap();
    let addr = broker.http_addr();
    // The head cap is 8 KiB: a longer head is answered 431 without reading the rest.
    let filler = "a".repeat(16 * 1024);
    let long = format!("GET /health HTTP/1.1\r\nX-Filler: {filler}\r\n\r\n");
    let response = http_exchange(addr, long.as_bytes());
    assert!(response.starts_with("HTTP/1.1 431 "), "{response:?}");

    // A request announcing a 1 GiB body is answered at once; the body is not waited for.
    let started = std::time::Instant::now();
    let response = http_exchange(
        addr,
        b"POST /health HTTP/1.1\r\nHost: x\r\nContent-Length: 1073741824\r\n\r\npartial",
    );
    assert!(response.starts_with("HTTP/1.1 405 "), "{response}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    let health = http_get(addr, "/health");
    assert!(health.starts_with("HTTP/1.1 200 "), "{health}");
    assert_eq!(broker.terminate().unwrap().code(), Some(0));
}

#[test]
fn http_peers_that_never_finish_their_head_are_cut_off() {
    let mut broker = WhippetProcess::start(Vec::<String>::new()).unwrap();
    let addr = broker.http_addr();
    let started = std::time::Instant::now();
    let mut silent = TcpStream::connect_timeout(&addr, IO_TIMEOUT).unwrap();
    let mut slow = TcpStream::connect_timeout(&addr, IO_TIMEOUT).unwrap();
    slow.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    // The read timeout is 5 s; the broker must close both well before this 10 s guard.
    for stream in [&mut silent, &mut slow] {
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let answer = read_until_closed(stream);
        assert!(!answer.contains(" 200 "), "{answer}");
    }
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(4) && waited < Duration::from_secs(9),
        "closed after {waited:?}"
    );
    // The broker still serves after cutting them off.
    let health = http_get(addr, "/health");
    assert!(health.starts_with("HTTP/1.1 200 "), "{health}");
    assert_eq!(broker.terminate().unwrap().code(), Some(0));
}

#[test]
fn sigterm_does_not_wait_for_an_http_head_still_arriving() {
    let mut broker = WhippetProcess::start(Vec::<String>::new()).unwrap();
    let mut partial = TcpStream::connect_timeout(&broker.http_addr(), IO_TIMEOUT).unwrap();
    partial
        .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let started = std::time::Instant::now();
    let status = broker.terminate().unwrap();
    assert_eq!(status.code(), Some(0), "stderr:\n{}", broker.stderr());
    // The head read timeout is 5 s; shutdown closes the connection instead of waiting it out.
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
}
