//! Apache Iggy's Python SDK at its last classic-framing release (`apache-iggy` 0.8.0, which wraps
//! the Rust `iggy` 0.10.0) against the real `whippet` binary's native port. The program
//! `compat-tests/clients/python-classic/iggy_classic_client.py` checks everything itself (1 000
//! messages polled back by offset, first, last and timestamp, consumer offsets through `Next`, a
//! two-member consumer group) and exits non-zero with `FAIL: ...` on a mismatch.
//!
//! The venv (`compat-tests/.work/venv-classic`, separate from the 0.9.0 one: same package name)
//! is built by `scripts/install-test-deps`; a missing venv fails with that hint, not a skip.
#![allow(clippy::unwrap_used)]

use std::process::Command;
use std::time::Duration;

use whippet_compat_tests::WhippetProcess;
use whippet_compat_tests::programs::{Streams, run_program, tail};
use whippet_compat_tests_classic::{classic_clients_dir, venv_classic_python};

/// How long the Python program may run before it is killed and the test fails.
const PROGRAM_TIMEOUT: Duration = Duration::from_secs(180);
/// How much of the broker's stderr a failure message shows (its tail).
const BROKER_STDERR_TAIL_BYTES: usize = 8_000;

#[test]
fn apache_iggy_0_8_python_classic_flow() {
    let broker = WhippetProcess::start::<&str>([]).unwrap();
    let mut command = Command::new(venv_classic_python());
    command
        .arg(classic_clients_dir().join("iggy_classic_client.py"))
        .arg(broker.native_addr().to_string())
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("PYTHONUNBUFFERED", "1");
    let output = run_program(command, PROGRAM_TIMEOUT, Streams::Merged);
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.push_str(&output.stderr);
    assert!(
        output.success,
        "apache-iggy 0.8.0 client failed after {:?}\n--- client output ---\n{text}\n\
         --- broker stderr (tail) ---\n{}",
        output.elapsed,
        tail(&broker.stderr(), BROKER_STDERR_TAIL_BYTES)
    );
    assert!(
        text.lines().any(|line| line == "OK"),
        "client did not finish: {text}"
    );
}
