//! Where a phase's CPU went: the bench's own CPU time (its client threads) and, when `compare`
//! started the server under test, the CPU time and resident memory of that server's process
//! group, read from `/proc` at the phase's start and end. With client and server on one machine
//! every CPU-second either side spends comes out of the same cores, so these figures say which
//! side a throughput limit sits on (and let two servers be compared per gigabyte, not only per
//! second). Linux only; elsewhere, or when `/proc` cannot be read, the figures are absent.

use std::sync::atomic::{AtomicI32, Ordering};

use serde::Serialize;

/// Process group of the server `compare` started for the current round (0: none).
static SERVER_GROUP: AtomicI32 = AtomicI32::new(0);

/// Says which process group holds the server under test from now on (`None`: no server known).
pub fn watch_server_group(group: Option<u32>) {
    let group = group.and_then(|g| i32::try_from(g).ok()).unwrap_or(0);
    SERVER_GROUP.store(group, Ordering::Relaxed);
}

/// CPU clock ticks at one moment.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sample {
    client_ticks: Option<u64>,
    server_ticks: Option<u64>,
}

impl Sample {
    /// The bench's and the watched server's CPU time so far.
    #[must_use]
    pub fn now() -> Self {
        let group = SERVER_GROUP.load(Ordering::Relaxed);
        Self {
            client_ticks: read_stat("/proc/self/stat").map(|stat| stat.cpu_ticks),
            server_ticks: (group > 0).then(|| group_ticks(group)).flatten(),
        }
    }
}

/// CPU and memory of one phase.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CpuUse {
    /// CPU seconds (user + system) the bench process spent in the phase.
    pub client_cpu_s: Option<f64>,
    /// CPU seconds the server's process group spent in the phase.
    pub server_cpu_s: Option<f64>,
    /// The server's resident memory at the phase's end (MB, 10^6 bytes; its largest process).
    pub server_rss_mb: Option<f64>,
    /// The server's peak resident memory so far (MB, `VmHWM`).
    pub server_peak_rss_mb: Option<f64>,
}

impl CpuUse {
    /// What was spent since `start`.
    #[must_use]
    pub fn since(start: &Sample) -> Self {
        let end = Sample::now();
        let seconds = |from: Option<u64>, to: Option<u64>| {
            Some(to?.saturating_sub(from?) as f64 / ticks_per_second())
        };
        let group = SERVER_GROUP.load(Ordering::Relaxed);
        let memory = (group > 0).then(|| group_memory(group)).flatten();
        Self {
            client_cpu_s: seconds(start.client_ticks, end.client_ticks),
            server_cpu_s: seconds(start.server_ticks, end.server_ticks),
            server_rss_mb: memory.map(|(rss, _)| rss),
            server_peak_rss_mb: memory.map(|(_, peak)| peak),
        }
    }
}

/// CPU seconds per gigabyte (10^9 bytes) of payload.
#[must_use]
pub fn per_gigabyte(cpu_s: Option<f64>, bytes: u64) -> Option<f64> {
    (bytes > 0).then(|| cpu_s.map(|s| s * 1e9 / bytes as f64))?
}

fn ticks_per_second() -> f64 {
    rustix::param::clock_ticks_per_second() as f64
}

struct Stat {
    group: i32,
    cpu_ticks: u64,
}

/// Process group and utime + stime (all threads, live and exited) of one `/proc/PID/stat`.
fn read_stat(path: &str) -> Option<Stat> {
    let text = std::fs::read_to_string(path).ok()?;
    parse_stat(&text)
}

/// Parses a `stat` line: the command name is in parentheses and may hold spaces, so fields are
/// counted from the last `)` (field 3 is the first after it).
fn parse_stat(text: &str) -> Option<Stat> {
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |n: usize| fields.get(n - 3)?.parse::<u64>().ok();
    Some(Stat {
        group: i32::try_from(field(5)?).ok()?,
        cpu_ticks: field(14)? + field(15)?,
    })
}

/// The processes of `group` (numeric `/proc` entries whose stat names that group).
pub(crate) fn group_members(group: i32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| read_stat(&format!("/proc/{pid}/stat")).is_some_and(|s| s.group == group))
        .collect()
}

fn group_ticks(group: i32) -> Option<u64> {
    let members = group_members(group);
    if members.is_empty() {
        return None;
    }
    let ticks = members
        .iter()
        .filter_map(|pid| read_stat(&format!("/proc/{pid}/stat")))
        .map(|stat| stat.cpu_ticks)
        .sum();
    Some(ticks)
}

/// Resident and peak resident MB of the group's largest process.
fn group_memory(group: i32) -> Option<(f64, f64)> {
    group_members(group)
        .iter()
        .filter_map(|pid| std::fs::read_to_string(format!("/proc/{pid}/status")).ok())
        .filter_map(|status| Some((status_kb(&status, "VmRSS:")?, status_kb(&status, "VmHWM:")?)))
        .max_by_key(|(rss, _)| *rss)
        .map(|(rss, peak)| (rss as f64 * 1024.0 / 1e6, peak as f64 * 1024.0 / 1e6))
}

/// A `kB` line of `/proc/PID/status`.
fn status_kb(status: &str, key: &str) -> Option<u64> {
    let line = status.lines().find(|line| line.starts_with(key))?;
    line[key.len()..].split_whitespace().next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_count_from_the_last_parenthesis() {
        let line = "4242 (whippet (x) y) S 1 4200 4200 0 -1 4194560 10 0 0 0 250 75 0 0 20 0 9";
        let stat = parse_stat(line).expect("parsed");
        assert_eq!(stat.group, 4200);
        assert_eq!(stat.cpu_ticks, 325);
        assert!(parse_stat("4242 no parenthesis").is_none());
    }

    #[test]
    fn status_lines_give_kilobytes() {
        let status = "Name:\twhippet\nVmHWM:\t   46512 kB\nVmRSS:\t    7100 kB\n";
        assert_eq!(status_kb(status, "VmRSS:"), Some(7100));
        assert_eq!(status_kb(status, "VmHWM:"), Some(46512));
        assert_eq!(status_kb(status, "VmSwap:"), None);
    }

    #[test]
    fn the_bench_sees_its_own_cpu_time() {
        watch_server_group(None);
        let start = Sample::now();
        let mut x = 0u64;
        for i in 0..20_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        std::hint::black_box(x);
        let used = CpuUse::since(&start);
        assert!(used.client_cpu_s.is_some_and(|s| s >= 0.0));
        assert_eq!(used.server_cpu_s, None);
        assert_eq!(per_gigabyte(Some(0.5), 500_000_000), Some(1.0));
        assert_eq!(per_gigabyte(Some(0.5), 0), None);
    }
}
