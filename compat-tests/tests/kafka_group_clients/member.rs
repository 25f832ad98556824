//! Member processes of the group scenario and what they report: each member program prints
//! one JSON event per line on stdout (see `clients/README.md`); a reader thread per member folds
//! them into a [`MemberState`] the scenario polls.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::Value;

/// How much of a member's or the broker's stderr a failure message shows (its tail).
pub const STDERR_TAIL_BYTES: usize = 4_000;

/// What one member has reported so far.
#[derive(Debug, Default)]
pub struct MemberState {
    /// Its current assignment (None until the first `assigned` event).
    pub assignment: Option<Vec<i32>>,
    /// Every offset it was handed, per partition.
    pub seen: BTreeMap<i32, BTreeSet<i64>>,
    /// The last offset it was handed per partition since it was (re)assigned that partition.
    pub last: BTreeMap<i32, i64>,
    /// Offsets it jumped over while owning a partition (a skipped record).
    pub skips: Vec<String>,
    /// The highest offset per partition the broker acknowledged a commit of.
    pub committed: BTreeMap<i32, i64>,
    /// It printed `closed` (graceful close finished).
    pub closed: bool,
    /// Lines that were not events (tool chatter), kept for failure messages.
    pub other: Vec<String>,
}

impl MemberState {
    /// Folds one stdout line in; a line that is not an event is kept for failure messages.
    pub fn apply(&mut self, line: &str) {
        let Ok(event) = serde_json::from_str::<Value>(line) else {
            self.other.push(line.to_string());
            return;
        };
        match event["ev"].as_str() {
            Some("assigned") => {
                let now: Vec<i32> = event["partitions"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|p| p.as_i64())
                            .map(|p| p as i32)
                            .collect()
                    })
                    .unwrap_or_default();
                let before: BTreeSet<i32> = self.assignment.iter().flatten().copied().collect();
                // A newly gained partition starts from its committed offset, not our last one.
                self.last
                    .retain(|p, _| before.contains(p) && now.contains(p));
                self.assignment = Some(now);
            }
            Some("record") => {
                let (Some(p), Some(o)) = (event["p"].as_i64(), event["o"].as_i64()) else {
                    self.other.push(line.to_string());
                    return;
                };
                let p = p as i32;
                if let Some(last) = self.last.get(&p)
                    && o > last + 1
                {
                    self.skips.push(format!("partition {p}: {last} then {o}"));
                }
                self.last.insert(p, o);
                self.seen.entry(p).or_default().insert(o);
            }
            Some("committed") => {
                let offsets = event["offsets"].as_object().into_iter().flatten();
                for (p, o) in offsets {
                    if let (Ok(p), Some(o)) = (p.parse::<i32>(), o.as_i64()) {
                        let at = self.committed.entry(p).or_insert(o);
                        *at = (*at).max(o);
                    }
                }
            }
            Some("closed") => self.closed = true,
            Some(_) => {}
            None => self.other.push(line.to_string()),
        }
    }
}

/// One running member program.
pub struct Member {
    pub name: String,
    pub child: Child,
    pub state: Arc<Mutex<MemberState>>,
    stderr_path: PathBuf,
    reader: Option<JoinHandle<()>>,
}

impl Member {
    /// Starts the program with stderr into `<log_dir>/<name>.stderr` and a thread reading its
    /// events, so the scenario can poll the state while the member runs.
    pub fn spawn(name: &str, mut command: Command, log_dir: &Path) -> Self {
        let stderr_path = log_dir.join(format!("{name}.stderr"));
        let mut child = command
            .env_remove("LD_LIBRARY_PATH")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(File::create(&stderr_path).unwrap())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start member {name} ({command:?}): {e}"));
        let state = Arc::new(Mutex::new(MemberState::default()));
        let stdout = child.stdout.take().unwrap();
        let shared = Arc::clone(&state);
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                shared.lock().unwrap().apply(&line);
            }
        });
        Self {
            name: name.to_string(),
            child,
            state,
            stderr_path,
            reader: Some(reader),
        }
    }

    /// The member's latest reported assignment (None before its first).
    pub fn assignment(&self) -> Option<Vec<i32>> {
        self.state.lock().unwrap().assignment.clone()
    }

    /// Sends `signal` (SIGKILL to vanish without leaving, SIGTERM to close gracefully).
    pub fn signal(&self, signal: Signal) {
        kill(Pid::from_raw(self.child.id() as i32), signal).unwrap();
    }

    /// Waits for the process to exit and its stdout to be fully read.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                if let Some(reader) = self.reader.take() {
                    reader.join().unwrap();
                }
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The member's state and stderr tail, for a failure message.
    pub fn describe(&self) -> String {
        let state = self.state.lock().unwrap();
        let mut stderr = String::new();
        if let Ok(mut file) = File::open(&self.stderr_path) {
            let _ = file.read_to_string(&mut stderr);
        }
        format!(
            "--- member {} (assignment {:?}, closed {}, other lines {:?}) stderr tail ---\n{}",
            self.name,
            state.assignment,
            state.closed,
            state.other.iter().rev().take(10).collect::<Vec<_>>(),
            tail(&stderr, STDERR_TAIL_BYTES)
        )
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

pub use whippet_compat_tests::programs::tail;

#[cfg(test)]
mod tests {
    use super::*;

    fn state(lines: &[&str]) -> MemberState {
        let mut state = MemberState::default();
        for line in lines {
            state.apply(line);
        }
        state
    }

    #[test]
    fn a_jump_over_an_owned_offset_is_a_skip() {
        let s = state(&[
            r#"{"ev":"assigned","partitions":[0,1]}"#,
            r#"{"ev":"record","p":0,"o":0}"#,
            r#"{"ev":"record","p":0,"o":1}"#,
            r#"{"ev":"record","p":0,"o":3}"#,
        ]);
        assert_eq!(s.skips, vec!["partition 0: 1 then 3".to_string()]);
        assert_eq!(s.seen[&0], BTreeSet::from([0, 1, 3]));
    }

    #[test]
    fn a_regained_partition_may_restart_elsewhere() {
        // Lost partition 0 after offset 5, regained it: another member committed up to 9.
        let s = state(&[
            r#"{"ev":"assigned","partitions":[0]}"#,
            r#"{"ev":"record","p":0,"o":5}"#,
            r#"{"ev":"assigned","partitions":[1]}"#,
            r#"{"ev":"assigned","partitions":[0,1]}"#,
            r#"{"ev":"record","p":0,"o":9}"#,
            r#"{"ev":"record","p":0,"o":9}"#,
            "not an event",
            r#"{"ev":"closed"}"#,
        ]);
        assert!(s.skips.is_empty(), "{:?}", s.skips);
        assert_eq!(s.assignment, Some(vec![0, 1]));
        assert_eq!(s.other, vec!["not an event".to_string()]);
        assert!(s.closed);
    }
}
