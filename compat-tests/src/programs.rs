//! Running real client programs from the tests: where they and their runtimes live
//! (`clients/`, and `.work/` where `scripts/install-test-deps` puts the venv and node modules),
//! a missing runtime failing with the install hint rather than a skip, and one runner with a
//! deadline that captures what the program printed.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// `compat-tests/clients/`: the client programs.
pub fn clients_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("clients")
}

/// `compat-tests/.work/`: the venv, node modules and built Go programs (git-ignored).
pub fn work_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".work")
}

/// Fails the test with the install hint when `path` (a client runtime) is missing.
pub fn require(path: &Path) -> PathBuf {
    assert!(
        path.exists(),
        "{} is missing: run `scripts/install-test-deps` (as root) first",
        path.display()
    );
    path.to_path_buf()
}

/// The venv's Python (PyPI clients).
pub fn venv_python() -> PathBuf {
    require(&work_dir().join("venv/bin/python"))
}

/// Where a program's stderr goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Streams {
    /// stderr into the same file as stdout, interleaved as written.
    Merged,
    /// stdout and stderr kept apart (stdout is a report to parse).
    Separate,
}

/// What a finished (or killed) program printed.
#[derive(Debug)]
pub struct ProgramOutput {
    /// Exit status 0 within the deadline.
    pub success: bool,
    /// Its stdout (with [`Streams::Merged`], its stderr too).
    pub stdout: Vec<u8>,
    /// Its stderr with [`Streams::Separate`]; ends with a note when the deadline killed it.
    pub stderr: String,
    /// How long it ran.
    pub elapsed: Duration,
}

/// Runs `command` (stdin closed) until it exits or `timeout` passes, when it is killed.
///
/// # Panics
/// If the program cannot be started or its output files cannot be read (a test failure).
pub fn run_program(mut command: Command, timeout: Duration, streams: Streams) -> ProgramOutput {
    let temp = |what| tempfile::NamedTempFile::new().unwrap_or_else(|e| panic!("{what}: {e}"));
    let reopen = |file: &tempfile::NamedTempFile| {
        file.reopen()
            .unwrap_or_else(|e| panic!("reopen output file: {e}"))
    };
    let stdout_file = temp("stdout file");
    let stderr_file = temp("stderr file");
    let stdout = reopen(&stdout_file);
    // A cloned handle shares the file offset, so merged output interleaves instead of
    // overwriting.
    let stderr = match streams {
        Streams::Merged => stdout
            .try_clone()
            .unwrap_or_else(|e| panic!("clone output file: {e}")),
        Streams::Separate => reopen(&stderr_file),
    };
    let started = Instant::now();
    let mut child = command
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {command:?}: {e}"));
    let success = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status.success(),
            Ok(None) => {}
            Err(e) => panic!("waiting for {command:?}: {e}"),
        }
        if started.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            break false;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let elapsed = started.elapsed();
    let mut stdout = Vec::new();
    let mut stderr = String::new();
    let read = reopen(&stdout_file).read_to_end(&mut stdout);
    read.unwrap_or_else(|e| panic!("read stdout: {e}"));
    let read = reopen(&stderr_file).read_to_string(&mut stderr);
    read.unwrap_or_else(|e| panic!("read stderr: {e}"));
    if elapsed > timeout {
        stderr.push_str(&format!("\n[killed after {timeout:?}]"));
    }
    ProgramOutput {
        success,
        stdout,
        stderr,
        elapsed,
    }
}

/// The last `bytes` of `text`, on a char boundary (for failure messages).
pub fn tail(text: &str, bytes: usize) -> &str {
    let mut start = text.len().saturating_sub(bytes);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}
