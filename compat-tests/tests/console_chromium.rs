//! The web console in a real headless Chromium (Debian's `chromium`, driven by Playwright's
//! Python package from `clients/console/`): kcat produces JSON messages with keys (creating the
//! topic), the `whippet` CLI moves a Kafka group's offset, and the console must list the topic,
//! show a message pretty-printed with its key, show the group's lag and draw the throughput
//! chart. Needs `scripts/install-test-deps` (chromium, kcat, the console venv).
#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use whippet_compat_tests::programs::{Streams, clients_dir, require, run_program, work_dir};
use whippet_compat_tests::{Launch, whippet_binary};

/// How long the browser check may take.
const CHECK_TIMEOUT: Duration = Duration::from_secs(120);

/// Produces `lines` (`key:value`) to `topic` with kcat.
fn kcat_produce(kafka: &str, topic: &str, lines: &str) {
    let mut child = Command::new(require(Path::new("/usr/bin/kcat")))
        .args(["-P", "-b", kafka, "-t", topic, "-K", ":"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(lines.as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success(), "kcat -P failed");
}

#[test]
fn console_shows_topics_messages_and_group_lag() {
    require(Path::new("/usr/bin/chromium"));
    let python = require(&work_dir().join("venv-console/bin/python"));
    let broker = Launch::new().start().unwrap();
    let kafka = broker.kafka_addr().to_string();
    kcat_produce(
        &kafka,
        "console-t",
        "k1:{\"greeting\":\"hello-console\"}\nk2:{\"greeting\":\"again\"}\n",
    );
    let reset = Command::new(whippet_binary().unwrap())
        .args([
            "group",
            "reset-offsets",
            "console-g",
            "--topic",
            "console-t",
        ])
        .args(["--to", "offset:1"])
        .env("WHIPPET_SERVER", broker.http_addr().to_string())
        .output()
        .unwrap();
    assert!(
        reset.status.success(),
        "{}",
        String::from_utf8_lossy(&reset.stderr)
    );

    let mut check = Command::new(python);
    check
        .arg(clients_dir().join("console/console_check.py"))
        .arg(format!("http://{}/", broker.http_addr()))
        .args([
            "console-t",
            "k1",
            "greeting",
            "hello-console",
            "console-g",
            "1",
        ])
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("PYTHONUNBUFFERED", "1");
    let output = run_program(check, CHECK_TIMEOUT, Streams::Merged);
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.success,
        "console check failed:\n{printed}\n{}",
        output.stderr
    );
    assert!(printed.contains("OK"), "{printed}");
}
