//! `whippet-compat-tests` owns the tests that start the real `whippet` binary and drive it with
//! real, unmodified clients. This library holds only the harness (start the binary on free
//! ports, read its ready line, stop it; [`programs`]: find and run the client programs); it must not mock a client or a protocol peer, and must
//! not link any Whippet crate — it sees the broker only from the outside.
//!
//! Every process gets its own temporary work directory, used as its current directory, so a
//! default relative `./data` never lands in the repository. The child's environment is scrubbed
//! of inherited `WHIPPET_*` and `OTEL_*` variables so a developer's shell cannot change what a
//! test sees.

use std::ffi::OsString;
use std::fmt;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

pub mod programs;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// How long the broker may take from exec to its ready line.
pub const READY_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the broker may take to exit after a signal (its drain limit is 5 s).
pub const EXIT_TIMEOUT: Duration = Duration::from_secs(15);
/// Environment variable that overrides where the `whippet` binary is found.
pub const ENV_BIN: &str = "WHIPPET_BIN";

/// Why the harness could not start, observe or stop the broker. Messages carry the broker's
/// stderr where it helps, so a failing test shows why the broker failed.
#[derive(Debug)]
pub enum HarnessError {
    /// The binary is not where `WHIPPET_BIN` or the target directory says.
    BinaryMissing(PathBuf),
    /// Creating the work directory or spawning the process failed.
    Io(&'static str, std::io::Error),
    /// The process exited, timed out or printed something else instead of the ready line.
    NotReady {
        /// What went wrong.
        reason: String,
        /// Everything the broker wrote to stderr.
        stderr: String,
    },
    /// The process did not exit within [`EXIT_TIMEOUT`] of a signal (it was then killed).
    NoExit {
        /// Everything the broker wrote to stderr.
        stderr: String,
    },
    /// `kill(2)` failed.
    Signal(nix::Error),
}

impl fmt::Display for HarnessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BinaryMissing(path) => write!(
                f,
                "whippet binary not found at {}; run `cargo build -p whippet-broker` first \
                 (or set {ENV_BIN})",
                path.display()
            ),
            Self::Io(what, error) => write!(f, "{what}: {error}"),
            Self::NotReady { reason, stderr } => {
                write!(
                    f,
                    "broker not ready: {reason}\n--- broker stderr ---\n{stderr}"
                )
            }
            Self::NoExit { stderr } => write!(
                f,
                "broker did not exit within {EXIT_TIMEOUT:?}\n--- broker stderr ---\n{stderr}"
            ),
            Self::Signal(error) => write!(f, "kill failed: {error}"),
        }
    }
}

impl std::error::Error for HarnessError {}

/// Finds the `whippet` binary: `WHIPPET_BIN`, else `<target>/<profile>/whippet` next to the
/// test executable's `deps/` directory.
pub fn whippet_binary() -> Result<PathBuf, HarnessError> {
    let path = match std::env::var_os(ENV_BIN) {
        Some(path) => PathBuf::from(path),
        None => {
            let exe = std::env::current_exe().map_err(|e| HarnessError::Io("current_exe", e))?;
            // target/<profile>/deps/<test>  →  target/<profile>/whippet
            let profile_dir = exe
                .parent()
                .and_then(Path::parent)
                .unwrap_or(Path::new("."));
            profile_dir.join("whippet")
        }
    };
    if path.is_file() {
        Ok(path)
    } else {
        Err(HarnessError::BinaryMissing(path))
    }
}

/// How to launch the broker: extra arguments, extra environment, and whether the harness passes
/// `--data-dir` (turn it off to let a config file or the environment choose).
#[derive(Debug, Clone, Default)]
pub struct Launch {
    args: Vec<OsString>,
    envs: Vec<(OsString, OsString)>,
    no_data_dir_flag: bool,
}

impl Launch {
    /// A launch with the harness defaults: temp data dir and port 0 for every listener.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds arguments after the harness's own (a later flag overrides an earlier one).
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Sets an environment variable for the broker.
    pub fn env(mut self, name: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.envs.push((name.into(), value.into()));
        self
    }

    /// Leaves `--data-dir` off the command line.
    pub fn without_data_dir_flag(mut self) -> Self {
        self.no_data_dir_flag = true;
        self
    }

    /// Starts the broker and waits for its ready line.
    pub fn start(self) -> Result<WhippetProcess, HarnessError> {
        let work_dir = tempfile::tempdir().map_err(|e| HarnessError::Io("create work dir", e))?;
        WhippetProcess::spawn(self, work_dir)
    }

    /// Runs the broker expecting it to exit by itself (a startup error), within
    /// [`READY_TIMEOUT`]. Returns its exit status, stdout and stderr; if it becomes ready
    /// instead, that is an error.
    pub fn run_to_exit(self) -> Result<Finished, HarnessError> {
        let work_dir = tempfile::tempdir().map_err(|e| HarnessError::Io("create work dir", e))?;
        let mut process = WhippetProcess::spawn_unready(self, work_dir, 0)?;
        let status = process.wait_exit(READY_TIMEOUT)?;
        let stdout: Vec<String> = process.stdout_lines.try_iter().collect();
        Ok(Finished {
            status,
            stdout,
            stderr: process.stderr(),
        })
    }

    fn command(&self, binary: &Path, work_dir: &Path) -> Command {
        let mut command = Command::new(binary);
        if !self.no_data_dir_flag {
            command.arg("--data-dir").arg(work_dir.join("data"));
        }
        command.args([
            "--kafka-addr",
            "127.0.0.1:0",
            "--native-addr",
            "127.0.0.1:0",
        ]);
        command
            .args(["--http-addr", "127.0.0.1:0"])
            .args(&self.args);
        for (name, _) in std::env::vars_os() {
            let name_text = name.to_string_lossy();
            if name_text.starts_with("WHIPPET_") || name_text.starts_with("OTEL_") {
                command.env_remove(name);
            }
        }
        command.envs(self.envs.iter().map(|(k, v)| (k, v)));
        command
            .current_dir(work_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped());
        command
    }
}

/// What a broker that exited on its own left behind.
#[derive(Debug)]
pub struct Finished {
    /// Its exit status.
    pub status: ExitStatus,
    /// Lines it printed on stdout.
    pub stdout: Vec<String>,
    /// Everything it printed on stderr.
    pub stderr: String,
}

/// A running `whippet` process, killed on drop if still alive.
pub struct WhippetProcess {
    child: Child,
    launch: Launch,
    work_dir: tempfile::TempDir,
    starts: u32,
    stdout_lines: Receiver<String>,
    addrs: [SocketAddr; 3],
}

impl WhippetProcess {
    /// Starts the broker with the harness defaults plus `args`.
    pub fn start<S: Into<OsString>>(
        args: impl IntoIterator<Item = S>,
    ) -> Result<Self, HarnessError> {
        Launch::new().args(args).start()
    }

    fn spawn(launch: Launch, work_dir: tempfile::TempDir) -> Result<Self, HarnessError> {
        let mut process = Self::spawn_unready(launch, work_dir, 0)?;
        process.await_ready()?;
        Ok(process)
    }

    fn spawn_unready(
        launch: Launch,
        work_dir: tempfile::TempDir,
        starts: u32,
    ) -> Result<Self, HarnessError> {
        let binary = whippet_binary()?;
        let (child, stdout_lines) = spawn_child(&launch, &binary, work_dir.path(), starts)?;
        let unbound = SocketAddr::from(([0, 0, 0, 0], 0));
        Ok(Self {
            child,
            launch,
            work_dir,
            starts,
            stdout_lines,
            addrs: [unbound; 3],
        })
    }

    fn await_ready(&mut self) -> Result<(), HarnessError> {
        let line = match self.stdout_lines.recv_timeout(READY_TIMEOUT) {
            Ok(line) => line,
            Err(RecvTimeoutError::Timeout) => {
                return Err(self.not_ready("no ready line within the ready timeout"));
            }
            Err(RecvTimeoutError::Disconnected) => {
                let status = self.wait_exit(Duration::from_secs(1)).ok();
                let reason = format!("stdout closed before the ready line (exit: {status:?})");
                return Err(self.not_ready(&reason));
            }
        };
        self.addrs = parse_ready_line(&line).map_err(|reason| self.not_ready(&reason))?;
        Ok(())
    }

    fn not_ready(&self, reason: &str) -> HarnessError {
        HarnessError::NotReady {
            reason: reason.to_string(),
            stderr: self.stderr(),
        }
    }

    /// The Kafka listener's bound address.
    pub fn kafka_addr(&self) -> SocketAddr {
        self.addrs[0]
    }

    /// The native listener's bound address.
    pub fn native_addr(&self) -> SocketAddr {
        self.addrs[1]
    }

    /// The HTTP listener's bound address.
    pub fn http_addr(&self) -> SocketAddr {
        self.addrs[2]
    }

    /// The broker's current directory (a temp dir removed when this is dropped).
    pub fn work_dir(&self) -> &Path {
        self.work_dir.path()
    }

    /// The data directory passed with `--data-dir` (`<work dir>/data`, which is also where the
    /// default `./data` resolves when the flag is left off).
    pub fn data_dir(&self) -> PathBuf {
        self.work_dir.path().join("data")
    }

    /// The process id, for tests that inspect `/proc`.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything the broker has written to stderr so far (from its current start).
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(stderr_path(self.work_dir.path(), self.starts)).unwrap_or_default()
    }

    /// Lines printed on stdout after the ready line so far (the contract says: none).
    pub fn stdout_after_ready(&self) -> Vec<String> {
        self.stdout_lines.try_iter().collect()
    }

    /// Sends SIGTERM and waits for the exit status.
    pub fn terminate(&mut self) -> Result<ExitStatus, HarnessError> {
        self.signal(Signal::SIGTERM)?;
        self.wait_exit(EXIT_TIMEOUT)
    }

    /// Sends SIGINT (Ctrl-C) and waits for the exit status.
    pub fn interrupt(&mut self) -> Result<ExitStatus, HarnessError> {
        self.signal(Signal::SIGINT)?;
        self.wait_exit(EXIT_TIMEOUT)
    }

    /// Sends SIGKILL (a crash, no shutdown) and reaps the process.
    pub fn kill(&mut self) -> Result<ExitStatus, HarnessError> {
        self.child.kill().map_err(|e| HarnessError::Io("kill", e))?;
        self.child.wait().map_err(|e| HarnessError::Io("wait", e))
    }

    /// Stops the broker with SIGTERM (if still running) and starts it again with the same
    /// arguments on the same data directory; the listeners get new ports. Returns how the
    /// previous run exited.
    pub fn restart(&mut self) -> Result<ExitStatus, HarnessError> {
        let previous = match self
            .child
            .try_wait()
            .map_err(|e| HarnessError::Io("wait", e))?
        {
            Some(status) => status,
            None => self.terminate()?,
        };
        self.starts += 1;
        let (child, stdout_lines) = spawn_child(
            &self.launch,
            &whippet_binary()?,
            self.work_dir.path(),
            self.starts,
        )?;
        self.child = child;
        self.stdout_lines = stdout_lines;
        self.await_ready()?;
        Ok(previous)
    }

    fn signal(&self, signal: Signal) -> Result<(), HarnessError> {
        let pid =
            i32::try_from(self.child.id()).map_err(|_| HarnessError::Signal(nix::Error::EINVAL))?;
        kill(Pid::from_raw(pid), signal).map_err(HarnessError::Signal)
    }

    fn wait_exit(&mut self, timeout: Duration) -> Result<ExitStatus, HarnessError> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self
                .child
                .try_wait()
                .map_err(|e| HarnessError::Io("wait", e))?
            {
                return Ok(status);
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                return Err(HarnessError::NoExit {
                    stderr: self.stderr(),
                });
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for WhippetProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn stderr_path(work_dir: &Path, starts: u32) -> PathBuf {
    work_dir.join(format!("stderr-{starts}.log"))
}

/// Spawns the broker with stderr into a file and a thread forwarding stdout lines.
fn spawn_child(
    launch: &Launch,
    binary: &Path,
    work_dir: &Path,
    starts: u32,
) -> Result<(Child, Receiver<String>), HarnessError> {
    let stderr = File::create(stderr_path(work_dir, starts))
        .map_err(|e| HarnessError::Io("create stderr file", e))?;
    let mut command = launch.command(binary, work_dir);
    let mut child = command
        .stderr(stderr)
        .spawn()
        .map_err(|e| HarnessError::Io("spawn whippet", e))?;
    let (sender, receiver) = mpsc::channel();
    if let Some(stdout) = child.stdout.take() {
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
    }
    Ok((child, receiver))
}

/// Parses `{"event":"ready","kafka":..,"native":..,"http":..}` into the three addresses.
pub fn parse_ready_line(line: &str) -> Result<[SocketAddr; 3], String> {
    let value: serde_json::Value =
        serde_json::from_str(line).map_err(|e| format!("ready line {line:?} is not JSON: {e}"))?;
    if value.get("event").and_then(|v| v.as_str()) != Some("ready") {
        return Err(format!("first stdout line is not a ready event: {line:?}"));
    }
    let addr = |key: &str| -> Result<SocketAddr, String> {
        value
            .get(key)
            .and_then(|v| v.as_str())
            .and_then(|text| text.parse().ok())
            .ok_or_else(|| format!("ready line lacks a valid {key:?} address: {line:?}"))
    };
    Ok([addr("kafka")?, addr("native")?, addr("http")?])
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn parses_a_ready_line() {
        let line =
            r#"{"event":"ready","kafka":"127.0.0.1:1","native":"127.0.0.1:2","http":"[::1]:3"}"#;
        let [kafka, native, http] = parse_ready_line(line).unwrap();
        assert_eq!((kafka.port(), native.port(), http.port()), (1, 2, 3));
        assert!(http.is_ipv6());
    }

    #[test]
    fn rejects_other_lines() {
        assert!(parse_ready_line("starting up").is_err());
        assert!(parse_ready_line(r#"{"event":"other"}"#).is_err());
        let missing_http = r#"{"event":"ready","kafka":"127.0.0.1:1","native":"127.0.0.1:2"}"#;
        assert!(parse_ready_line(missing_http).unwrap_err().contains("http"));
        let bad = r#"{"event":"ready","kafka":"x","native":"127.0.0.1:2","http":"127.0.0.1:3"}"#;
        assert!(parse_ready_line(bad).unwrap_err().contains("kafka"));
    }
}
