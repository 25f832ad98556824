//! The `whippet` operator CLI as a subprocess against the real broker: create a Kafka topic,
//! produce lines from stdin, consume them, describe with the right high watermarks; reset a
//! Kafka group's offsets and see a real Kafka consumer (rdkafka) restart from there; readable
//! errors with non-zero exit codes (unknown topic, stopped broker, wrong password).
#![allow(clippy::unwrap_used)]

#[path = "security_common/mod.rs"]
mod security;

use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::message::Message;
use serde_json::Value;
use whippet_compat_tests::{Launch, WhippetProcess, whippet_binary};

/// Runs `whippet ARGS` against `server` with `stdin`; returns its output.
fn cli_at(server: &str, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(whippet_binary().unwrap())
        .args(args)
        .env("WHIPPET_SERVER", server)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// Runs `whippet ARGS` against `broker`; asserts success and returns stdout.
fn cli(broker: &WhippetProcess, args: &[&str], stdin: &str) -> String {
    let output = cli_at(&broker.http_addr().to_string(), args, stdin);
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "whippet {args:?}: {stderr}{stdout}"
    );
    stdout
}

fn cli_json(broker: &WhippetProcess, args: &[&str]) -> Value {
    let mut all = vec!["--output", "json"];
    all.extend_from_slice(args);
    serde_json::from_str(&cli(broker, &all, "")).unwrap()
}

#[test]
fn create_produce_consume_describe() {
    let broker = Launch::new().start().unwrap();
    cli(&broker, &["topic", "create", "t", "--partitions", "2"], "");
    let produced = cli(
        &broker,
        &["produce", "t", "--partition", "0"],
        "one\ntwo\nthree\n",
    );
    assert!(produced.contains("produced 3"), "{produced}");
    cli(
        &broker,
        &["produce", "t", "--partition", "1"],
        "four\nfive\n",
    );
    let keyed = cli(&broker, &["produce", "t", "--key-separator", ":"], "k:v\n");
    assert!(keyed.contains("produced 1"), "{keyed}");

    let consumed = cli(
        &broker,
        &["consume", "t", "--from-beginning", "--partition", "0"],
        "",
    );
    let lines: Vec<&str> = consumed.lines().collect();
    assert!(lines.starts_with(&["one", "two", "three"]), "{consumed}");
    let all = cli(
        &broker,
        &[
            "consume",
            "t",
            "--from-beginning",
            "--count",
            "6",
            "--format",
            "kv",
        ],
        "",
    );
    assert_eq!(all.lines().count(), 6, "{all}");
    assert!(all.lines().any(|line| line == "k\tv"), "{all}");

    let described = cli_json(&broker, &["topic", "describe", "t"]);
    let partitions = described["partitions"].as_array().unwrap();
    let high: u64 = partitions
        .iter()
        .map(|p| p["high_watermark"].as_u64().unwrap())
        .sum();
    assert_eq!(high, 6, "{described}");
    assert!(partitions[0]["high_watermark"].as_u64().unwrap() >= 3);
    assert!(partitions[1]["high_watermark"].as_u64().unwrap() >= 2);
    let table = cli(&broker, &["topic", "describe", "t"], "");
    assert!(
        table.contains("HIGH-WATERMARK") && table.contains("SEGMENTS"),
        "{table}"
    );
    let listed = cli(&broker, &["topic", "list"], "");
    assert!(
        listed.lines().any(|line| line.starts_with("t ")),
        "{listed}"
    );

    cli(&broker, &["topic", "create", "native-s/nt"], "");
    let listed = cli(&broker, &["topic", "list"], "");
    assert!(listed.contains("native-s/nt"), "{listed}");
    cli(&broker, &["topic", "delete", "native-s/nt"], "");
    let info = cli_json(&broker, &["cluster", "info"]);
    assert_eq!(info["kafka_stream"], "kafka");
    assert_eq!(info["messages"], 6);
    let completions = cli(&broker, &["completions", "bash"], "");
    assert!(completions.contains("whippet"), "{completions}");
}

#[test]
fn errors_are_readable_and_exit_non_zero() {
    let broker = Launch::new().start().unwrap();
    let server = broker.http_addr().to_string();
    let unknown = cli_at(&server, &["topic", "describe", "nope"], "");
    assert!(!unknown.status.success());
    let stderr = String::from_utf8_lossy(&unknown.stderr);
    assert!(stderr.contains("unknown topic \"nope\""), "{stderr}");
    let wrong = cli_at(&server, &["--password", "wrong", "topic", "list"], "");
    assert!(!wrong.status.success());
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("401"));

    // A port nothing listens on: take a free one and close it.
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let stopped = free.local_addr().unwrap().to_string();
    drop(free);
    let refused = cli_at(&stopped, &["topic", "list"], "");
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains(&stopped), "{stderr}");
}

fn kafka_consumer(broker: &WhippetProcess, group: &str) -> BaseConsumer {
    ClientConfig::new()
        .set("bootstrap.servers", broker.kafka_addr().to_string())
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "latest")
        .set("session.timeout.ms", "6000")
        .create()
        .unwrap()
}

/// Reads until `want` messages arrived (or 30 s passed); returns their values.
fn read(consumer: &BaseConsumer, want: usize) -> Vec<String> {
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while seen.len() < want && Instant::now() < deadline {
        if let Some(message) = consumer.poll(Duration::from_millis(200)) {
            let message = message.unwrap();
            seen.push(String::from_utf8_lossy(message.payload().unwrap_or_default()).into_owned());
        }
    }
    seen
}

/// Retries `whippet ARGS` until it succeeds (a group needs a moment to empty after its last
/// member leaves).
fn cli_eventually(broker: &WhippetProcess, args: &[&str]) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let output = cli_at(&broker.http_addr().to_string(), args, "");
        if output.status.success() {
            return String::from_utf8_lossy(&output.stdout).into_owned();
        }
        assert!(
            Instant::now() < deadline,
            "{args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

#[test]
fn group_reset_makes_a_kafka_consumer_restart_there() {
    let broker = Launch::new().start().unwrap();
    cli(&broker, &["topic", "create", "g-topic"], "");
    cli(
        &broker,
        &["produce", "g-topic", "--partition", "0"],
        "m0\nm1\nm2\nm3\n",
    );

    // The group has no offsets yet and its consumers start at `latest`: only the reset makes
    // them read the messages already there.
    cli_eventually(
        &broker,
        &[
            "group",
            "reset-offsets",
            "g1",
            "--topic",
            "g-topic",
            "--to",
            "earliest",
        ],
    );
    let consumer = kafka_consumer(&broker, "g1");
    consumer.subscribe(&["g-topic"]).unwrap();
    assert_eq!(read(&consumer, 4), ["m0", "m1", "m2", "m3"]);
    consumer.commit_consumer_state(CommitMode::Sync).unwrap();
    let group = cli_json(&broker, &["group", "describe", "g1"]);
    assert_eq!(group["offsets"][0]["committed_offset"], 4, "{group}");
    assert_eq!(group["offsets"][0]["lag"], 0, "{group}");
    drop(consumer);

    let dry = cli_eventually(
        &broker,
        &[
            "group",
            "reset-offsets",
            "g1",
            "--topic",
            "g-topic",
            "--to",
            "offset:2",
            "--dry-run",
        ],
    );
    assert!(dry.contains("would move"), "{dry}");
    let group = cli_json(&broker, &["group", "describe", "g1"]);
    assert_eq!(
        group["offsets"][0]["committed_offset"], 4,
        "a dry run changes nothing"
    );
    cli_eventually(
        &broker,
        &[
            "group",
            "reset-offsets",
            "g1",
            "--topic",
            "g-topic",
            "--to",
            "offset:2",
        ],
    );
    let group = cli_json(&broker, &["group", "describe", "g1"]);
    assert_eq!(group["offsets"][0]["lag"], 2, "{group}");
    let table = cli(&broker, &["group", "describe", "g1"], "");
    assert!(table.contains("LAG"), "{table}");

    let consumer = kafka_consumer(&broker, "g1");
    consumer.subscribe(&["g-topic"]).unwrap();
    assert_eq!(
        read(&consumer, 2),
        ["m2", "m3"],
        "the consumer restarts at the reset offset"
    );
    drop(consumer);
    cli_eventually(&broker, &["group", "delete", "g1"]);
    let groups = cli(&broker, &["group", "list"], "");
    assert!(!groups.contains("g1"), "{groups}");
}

#[test]
fn users_tokens_and_permissions() {
    let broker = Launch::new().start().unwrap();
    let server = broker.http_addr().to_string();
    cli(&broker, &["topic", "create", "shared"], "");
    let grants = r#"{"global":{"read_streams":true,"read_topics":true}}"#;
    cli(
        &broker,
        &[
            "user",
            "create",
            "reader",
            "--user-password",
            "reader-pw",
            "--permissions",
            grants,
        ],
        "",
    );
    let users = cli_json(&broker, &["user", "list"]);
    assert!(
        users
            .as_array()
            .unwrap()
            .iter()
            .any(|u| u["username"] == "reader")
    );
    let shown = cli(&broker, &["user", "permissions", "reader"], "");
    assert!(shown.contains("read_topics"), "{shown}");

    let as_reader = |args: &[&str]| {
        let mut all = vec!["--username", "reader", "--password", "reader-pw"];
        all.extend_from_slice(args);
        cli_at(&server, &all, "")
    };
    assert!(as_reader(&["topic", "list"]).status.success());
    let refused = as_reader(&["topic", "delete", "shared"]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("403"));

    let token = cli(&broker, &["token", "create", "ci"], "");
    assert!(!token.trim().is_empty());
    let tokens = cli_json(&broker, &["token", "list"]);
    assert_eq!(tokens[0]["name"], "ci");
    cli(&broker, &["token", "delete", "ci"], "");
    cli(
        &broker,
        &[
            "user",
            "passwd",
            "reader",
            "--current",
            "reader-pw",
            "--new",
            "reader-pw2",
        ],
        "",
    );
    assert!(
        !as_reader(&["topic", "list"]).status.success(),
        "old password refused"
    );
    cli(&broker, &["user", "delete", "reader"], "");
    cli(&broker, &["topic", "delete", "shared"], "");
    let gone = cli_at(&server, &["topic", "describe", "shared"], "");
    assert!(String::from_utf8_lossy(&gone.stderr).contains("unknown topic"));
}

/// Against `--http-tls true`: `--tls` with the CA works (by IP, and by name with
/// `--tls-domain`), plain HTTP and a missing CA fail with a readable error.
#[test]
fn the_cli_speaks_https_to_a_tls_listener() {
    let pki = security::Pki::new();
    let broker = security::start(&pki, &["--http-tls", "true"]);
    let server = broker.http_addr().to_string();
    let ca = pki.ca.display().to_string();
    let over_tls = cli_at(
        &server,
        &["--tls", "--tls-ca-cert", &ca, "topic", "create", "secure"],
        "",
    );
    assert!(
        over_tls.status.success(),
        "{}",
        String::from_utf8_lossy(&over_tls.stderr)
    );
    let by_name = cli_at(
        &server,
        &[
            "--tls",
            "--tls-ca-cert",
            &ca,
            "--tls-domain",
            "localhost",
            "topic",
            "list",
        ],
        "",
    );
    assert!(
        by_name.status.success(),
        "{}",
        String::from_utf8_lossy(&by_name.stderr)
    );
    assert!(String::from_utf8_lossy(&by_name.stdout).contains("secure"));
    let plain = cli_at(&server, &["topic", "list"], "");
    assert!(!plain.status.success());
    assert!(String::from_utf8_lossy(&plain.stderr).contains(&server));
    let no_ca = cli_at(&server, &["--tls", "topic", "list"], "");
    assert!(String::from_utf8_lossy(&no_ca.stderr).contains("--tls-ca-cert"));
}
