//! Apache Iggy's Python SDK (`apache-iggy` 0.9.0, which wraps the Rust `iggy` 0.11.0) against
//! the real `whippet` binary's native listener. The program `clients/python/iggy_client.py`
//! checks everything itself (1 000 messages with typed headers polled back by offset, consumer
//! offsets, a two-member consumer group) and exits non-zero with `FAIL: ...` on a mismatch.
//!
//! The venv is built by `scripts/install-test-deps` (the pin lives in
//! `clients/python/requirements.txt`); a missing venv fails with that hint, not a skip.
#![allow(clippy::unwrap_used)]

use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use whippet_compat_tests::WhippetProcess;

/// How long the Python program may run before it is killed and the test fails.
const PROGRAM_TIMEOUT: Duration = Duration::from_secs(180);
/// How much of the broker's stderr a failure message shows (its tail).
const BROKER_STDERR_TAIL_BYTES: usize = 8_000;

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn venv_python() -> PathBuf {
    let path = crate_dir().join(".work/venv/bin/python");
    assert!(
        path.exists(),
        "{} is missing: run `scripts/install-test-deps` (as root) first",
        path.display()
    );
    path
}

/// Runs `command` with a deadline; returns (success, combined stdout+stderr, elapsed).
fn run_with_timeout(mut command: Command) -> (bool, String, Duration) {
    let output_file = tempfile::NamedTempFile::new().unwrap();
    let started = Instant::now();
    let stdout = output_file.reopen().unwrap();
    let stderr = stdout.try_clone().unwrap();
    let mut child = command
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {command:?}: {e}"));
    let success = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.success();
        }
        if started.elapsed() > PROGRAM_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            break false;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut output = String::new();
    output_file
        .reopen()
        .unwrap()
        .read_to_string(&mut output)
        .unwrap();
    (success, output, started.elapsed())
}

fn tail(text: &str, bytes: usize) -> &str {
    let mut start = text.len().saturating_sub(bytes);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}

#[test]
fn apache_iggy_python_basic_flow() {
    let broker = WhippetProcess::start::<&str>([]).unwrap();
    let mut command = Command::new(venv_python());
    command
        .arg(crate_dir().join("clients/python/iggy_client.py"))
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
