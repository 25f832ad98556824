//! Apache Iggy's Python SDK (`apache-iggy` 0.9.0, which wraps the Rust `iggy` 0.11.0) against
//! the real `whippet` binary's native listener. The program `clients/python/iggy_client.py`
//! checks everything itself (1 000 messages with typed headers polled back by offset, consumer
//! offsets, a two-member consumer group) and exits non-zero with `FAIL: ...` on a mismatch.
//!
//! The venv is built by `scripts/install-test-deps` (the pin lives in
//! `clients/python/requirements.txt`); a missing venv fails with that hint, not a skip.
#![allow(clippy::unwrap_used)]

use std::process::Command;
use std::time::Duration;

use whippet_compat_tests::WhippetProcess;
use whippet_compat_tests::programs::{Streams, clients_dir, run_program, tail, venv_python};

/// How long the Python program may run before it is killed and the test fails.
const PROGRAM_TIMEOUT: Duration = Duration::from_secs(180);
/// How much of the broker's stderr a failure message shows (its tail).
const BROKER_STDERR_TAIL_BYTES: usize = 8_000;

/// Runs `command` with [`PROGRAM_TIMEOUT`]; returns (success, combined stdout+stderr, elapsed).
fn run_with_timeout(command: Command) -> (bool, String, Duration) {
    let output = run_program(command, PROGRAM_TIMEOUT, Streams::Merged);
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.push_str(&output.stderr);
    (output.success, text, output.elapsed)
}

#[test]
fn apache_iggy_python_basic_flow() {
    let broker = WhippetProcess::start::<&str>([]).unwrap();
    let mut command = Command::new(venv_python());
    command
        .arg(clients_dir().join("python/iggy_client.py"))
        .arg(broker.native_addr().to_string())
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("PYTHONUNBUFFERED", "1");
    let (success, output, elapsed) = run_with_timeout(command);
    assert!(
        success,
        "apache-iggy client failed after {elapsed:?}\n--- client output ---\n{output}\n\
         --- broker stderr (tail) ---\n{}",
        tail(&broker.stderr(), BROKER_STDERR_TAIL_BYTES)
    );
    assert!(output.contains("OK"), "client did not finish: {output}");
}
