//! Native server-information commands: get_stats (10) with real figures from the catalog and
//! the operating system, get_snapshot_file (11, not offered: FeatureUnavailable) and
//! describe_options (13, the option keys each resource accepts).
//!
//! Process and machine figures come from `/proc` (Linux): resident memory from
//! `/proc/self/statm`, memory totals from `/proc/meminfo`, disk I/O from `/proc/self/io`, start
//! time and CPU time from `/proc/self/stat` and `/proc/stat`. CPU figures are averages since
//! the process (or the machine) started, which costs two file reads instead of a sampler
//! thread. A figure that cannot be read is reported as 0, never as an error: stats are
//! advisory and the SDK only decodes the layout.

use std::io::Read;
use std::path::Path;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use whippet_wire::native::codes;
use whippet_wire::native::commands::describe_options::{
    DescribeOptions, OptionDescription, OptionDescriptions, OptionScope,
};
use whippet_wire::native::commands::stats::Stats;
use whippet_wire::native::status::Status;

use super::call::{Access, Call, Conn, Outcome, Payload};
use super::options::described_topic_keys;
use crate::context::BrokerContext;
use crate::limits;

/// Routes codes 10, 11 and 13.
pub(crate) async fn handle(ctx: &Arc<BrokerContext>, conn: &mut Conn, call: Call<'_>) -> Outcome {
    match call.code {
        codes::GET_STATS => {
            conn.require(ctx, Access::ReadServers)?;
            Ok(Payload::encode(&stats(ctx).await))
        }
        // An archive of logs, configs and process listings is not worth its cost here; the
        // reference SDK surfaces this as an ordinary error.
        codes::GET_SNAPSHOT_FILE => Err(Status::FeatureUnavailable),
        codes::DESCRIBE_OPTIONS => {
            let request: DescribeOptions = call.decode()?;
            Ok(Payload::encode(&describe(request.scope)))
        }
        _ => Err(Status::InvalidCommand),
    }
}

/// The option catalog of one scope. Streams and users accept no keys yet.
fn describe(scope: OptionScope) -> OptionDescriptions {
    let options = match scope {
        OptionScope::Topic => described_topic_keys()
            .map(|(key, kind, default, description)| OptionDescription {
                key: key.to_string(),
                kind,
                default,
                description: description.to_string(),
            })
            .collect(),
        OptionScope::Stream | OptionScope::User => Vec::new(),
    };
    OptionDescriptions { options }
}

/// Counts over the whole catalog.
#[derive(Debug, Default, PartialEq, Eq)]
struct CatalogCounts {
    streams: u32,
    topics: u32,
    partitions: u32,
    segments: u32,
    messages: u64,
    size_bytes: u64,
}

fn catalog_counts(ctx: &BrokerContext) -> CatalogCounts {
    let snapshot = ctx.log.snapshot();
    let mut counts = CatalogCounts::default();
    for stream in snapshot.streams() {
        counts.streams += 1;
        counts.topics += u32::try_from(stream.topics.len()).unwrap_or(u32::MAX);
    }
    for partition in snapshot.all_partitions() {
        let stats = partition.stats();
        counts.partitions += 1;
        counts.segments = counts.segments.saturating_add(stats.segment_count);
        counts.messages += stats.messages;
        counts.size_bytes += stats.data_bytes;
    }
    counts
}

/// Builds the stats reply: catalog and client counts here, OS figures on the blocking pool.
async fn stats(ctx: &BrokerContext) -> Stats {
    let counts = catalog_counts(ctx);
    let data_dir = ctx.log.config().data_dir.clone();
    let os = tokio::task::spawn_blocking(move || os_stats(&data_dir))
        .await
        .unwrap_or_default();
    Stats {
        messages_size_bytes: counts.size_bytes,
        streams_count: counts.streams,
        topics_count: counts.topics,
        partitions_count: counts.partitions,
        segments_count: counts.segments,
        messages_count: counts.messages,
        clients_count: u32::try_from(ctx.native.clients.count()).unwrap_or(u32::MAX),
        consumer_groups_count: u32::try_from(ctx.core.native_groups.count()).unwrap_or(u32::MAX),
        server_version: env!("CARGO_PKG_VERSION").to_string(),
        server_semver: semver(env!("CARGO_PKG_VERSION")),
        ..os
    }
}

/// Everything that comes from the operating system.
fn os_stats(data_dir: &Path) -> Stats {
    let now_us = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| {
            u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX)
        });
    let ticks = rustix::param::clock_ticks_per_second().max(1);
    let process = read_small("/proc/self/stat")
        .and_then(|text| parse_self_stat(&text))
        .unwrap_or_default();
    let system = read_small("/proc/stat")
        .and_then(|text| parse_proc_stat(&text))
        .unwrap_or_default();
    let start_time = system
        .boot_time_s
        .saturating_mul(1_000_000)
        .saturating_add(process.start_ticks.saturating_mul(1_000_000) / ticks);
    let run_time = now_us.saturating_sub(start_time);
    let cpu_us = process.cpu_ticks.saturating_mul(1_000_000) / ticks;
    let meminfo = read_small("/proc/meminfo").unwrap_or_default();
    let io = read_small("/proc/self/io").unwrap_or_default();
    let status = read_small("/proc/self/status").unwrap_or_default();
    let kernel = read_trimmed("/proc/sys/kernel/osrelease");
    let os_release = read_small("/etc/os-release").unwrap_or_default();
    let (free_disk_space, total_disk_space) = disk_space(data_dir);
    Stats {
        process_id: std::process::id(),
        cpu_usage: percent(cpu_us, run_time),
        total_cpu_usage: percent(system.busy_ticks, system.total_ticks),
        memory_usage: resident_bytes(&read_small("/proc/self/statm").unwrap_or_default()),
        total_memory: field_value(&meminfo, "MemTotal:").saturating_mul(1024),
        available_memory: field_value(&meminfo, "MemAvailable:").saturating_mul(1024),
        run_time,
        start_time,
        read_bytes: field_value(&io, "read_bytes:"),
        written_bytes: field_value(&io, "write_bytes:"),
        hostname: read_trimmed("/proc/sys/kernel/hostname"),
        os_name: os_release_value(&os_release, "NAME").unwrap_or_else(|| "Linux".to_string()),
        os_version: os_release_value(&os_release, "VERSION_ID").unwrap_or_else(|| kernel.clone()),
        kernel_version: kernel,
        threads_count: u32::try_from(field_value(&status, "Threads:")).unwrap_or(0),
        free_disk_space,
        total_disk_space,
        ..Stats::default()
    }
}

/// Reads a small system file whole (bounded by [`limits::NATIVE_STATS_FILE_BYTES_MAX`]).
fn read_small(path: &str) -> Option<String> {
    let file = std::fs::File::open(path).ok()?;
    let mut text = String::new();
    file.take(limits::NATIVE_STATS_FILE_BYTES_MAX)
        .read_to_string(&mut text)
        .ok()?;
    Some(text)
}

fn read_trimmed(path: &str) -> String {
    read_small(path).map_or_else(String::new, |text| text.trim().to_string())
}

/// Free (available to unprivileged users) and total bytes of the filesystem holding `dir`.
fn disk_space(dir: &Path) -> (u64, u64) {
    match rustix::fs::statvfs(dir) {
        Ok(vfs) => (
            vfs.f_bavail.saturating_mul(vfs.f_frsize),
            vfs.f_blocks.saturating_mul(vfs.f_frsize),
        ),
        Err(_) => (0, 0),
    }
}

/// `part` as a percentage of `whole` (0 when `whole` is 0).
fn percent(part: u64, whole: u64) -> f32 {
    if whole == 0 {
        return 0.0;
    }
    // Precision loss is irrelevant for a percentage shown to people.
    #[allow(clippy::cast_precision_loss)]
    let ratio = part as f64 / whole as f64;
    #[allow(clippy::cast_possible_truncation)]
    let percent = (ratio * 100.0) as f32;
    percent
}

/// Resident set size in bytes from `/proc/self/statm` (second field, in pages).
fn resident_bytes(statm: &str) -> u64 {
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|field| field.parse().ok())
        .unwrap_or(0);
    pages.saturating_mul(u64::try_from(rustix::param::page_size()).unwrap_or(4096))
}

/// The first number after `label` on the line starting with it (`/proc/meminfo`,
/// `/proc/self/io`, `/proc/self/status` all have this shape).
fn field_value(text: &str, label: &str) -> u64 {
    text.lines()
        .find_map(|line| line.strip_prefix(label))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|value| value.parse().ok())
        .unwrap_or(0)
}

/// A value of `/etc/os-release` (`KEY=value` or `KEY="value"`).
fn os_release_value(text: &str, key: &str) -> Option<String> {
    text.lines()
        .find_map(|line| line.strip_prefix(key)?.strip_prefix('='))
        .map(|value| value.trim().trim_matches('"').to_string())
}

/// What `/proc/self/stat` tells: CPU time used and when the process started, in clock ticks.
#[derive(Debug, Default, PartialEq, Eq)]
struct ProcessTimes {
    cpu_ticks: u64,
    start_ticks: u64,
}

/// Parses `/proc/self/stat`. The command name (field 2) may contain spaces and parentheses,
/// so fields are counted from after its last `)`: utime and stime are fields 14 and 15,
/// starttime field 22.
fn parse_self_stat(text: &str) -> Option<ProcessTimes> {
    let after_name = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // After the name, field 3 (state) is index 0, so field n is index n − 3.
    let field = |n: usize| -> Option<u64> { fields.get(n - 3)?.parse().ok() };
    Some(ProcessTimes {
        cpu_ticks: field(14)?.saturating_add(field(15)?),
        start_ticks: field(22)?,
    })
}

/// What `/proc/stat` tells: boot time and the machine's busy and total CPU ticks since boot.
#[derive(Debug, Default, PartialEq, Eq)]
struct SystemTimes {
    boot_time_s: u64,
    busy_ticks: u64,
    total_ticks: u64,
}

fn parse_proc_stat(text: &str) -> Option<SystemTimes> {
    let boot_time_s = field_value(text, "btime ");
    let cpu: Vec<u64> = text
        .lines()
        .find_map(|line| line.strip_prefix("cpu "))?
        .split_whitespace()
        .filter_map(|value| value.parse().ok())
        .collect();
    let total_ticks: u64 = cpu.iter().sum();
    // Fields: user nice system idle iowait irq softirq steal …; idle and iowait are not busy.
    let idle = cpu.get(3).copied().unwrap_or(0) + cpu.get(4).copied().unwrap_or(0);
    Some(SystemTimes {
        boot_time_s,
        busy_ticks: total_ticks.saturating_sub(idle),
        total_ticks,
    })
}

/// `major·10⁶ + minor·10³ + patch` of a version string (0 when it does not parse).
fn semver(version: &str) -> u32 {
    let mut parts = version
        .split(['.', '-', '+'])
        .map(|part| part.parse::<u32>().ok());
    match (parts.next(), parts.next(), parts.next()) {
        (Some(Some(major)), Some(Some(minor)), Some(Some(patch))) => major
            .saturating_mul(1_000_000)
            .saturating_add(minor.saturating_mul(1_000))
            .saturating_add(patch),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use bytes::Bytes;

    use super::*;

    /// The describe_options default bytes for a key.
    fn default_of(scope: OptionScope, key: &str) -> Option<Bytes> {
        describe(scope)
            .options
            .into_iter()
            .find(|option| option.key == key)
            .map(|option| option.default)
    }

    #[test]
    fn proc_files_parse() {
        let stat = "1234 (whip pet) (x) S 1 1 1 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 7 0 \
                    9000 1000000 500 18446744073709551615";
        assert_eq!(
            parse_self_stat(stat),
            Some(ProcessTimes {
                cpu_ticks: 300,
                start_ticks: 9000
            })
        );
        assert_eq!(parse_self_stat("garbage"), None);
        let proc_stat = "cpu  100 0 100 700 100 0 0 0 0 0\ncpu0 1 2 3\nbtime 1700000000\n";
        assert_eq!(
            parse_proc_stat(proc_stat),
            Some(SystemTimes {
                boot_time_s: 1_700_000_000,
                busy_ticks: 200,
                total_ticks: 1000
            })
        );
        let meminfo = "MemTotal:       16314284 kB\nMemFree:  1 kB\nMemAvailable:   8000000 kB\n";
        assert_eq!(field_value(meminfo, "MemTotal:"), 16_314_284);
        assert_eq!(field_value(meminfo, "MemAvailable:"), 8_000_000);
        assert_eq!(field_value(meminfo, "Missing:"), 0);
        assert_eq!(resident_bytes("100 25 3 1 0 5 0") % 25, 0);
        assert!(resident_bytes("100 25 3 1 0 5 0") >= 25 * 4096);
        let os = "NAME=\"Ubuntu\"\nVERSION_ID=\"24.04\"\n";
        assert_eq!(os_release_value(os, "NAME").unwrap(), "Ubuntu");
        assert_eq!(os_release_value(os, "VERSION_ID").unwrap(), "24.04");
        assert_eq!(os_release_value(os, "ID"), None);
    }

    #[test]
    fn figures_are_derived_correctly() {
        assert_eq!(percent(1, 4), 25.0);
        assert_eq!(percent(5, 0), 0.0);
        assert_eq!(semver("1.2.3"), 1_002_003);
        assert_eq!(semver("0.11.0-edge.1"), 11_000);
        assert_eq!(semver("dev"), 0);
    }

    #[test]
    fn os_figures_are_real_on_linux() {
        let dir = tempfile::tempdir().unwrap();
        let stats = os_stats(dir.path());
        assert_eq!(stats.process_id, std::process::id());
        assert!(stats.memory_usage > 0);
        assert!(stats.total_memory >= stats.available_memory);
        assert!(stats.total_disk_space >= stats.free_disk_space);
        assert!(stats.total_disk_space > 0);
        assert!(stats.threads_count >= 1);
        assert!(stats.start_time > 1_600_000_000_000_000);
        assert!(!stats.kernel_version.is_empty());
    }

    #[test]
    fn describe_lists_topic_keys_only() {
        assert_eq!(describe(OptionScope::Topic).options.len(), 9);
        assert!(describe(OptionScope::Stream).options.is_empty());
        assert!(describe(OptionScope::User).options.is_empty());
        assert_eq!(
            default_of(OptionScope::Topic, "durability")
                .unwrap()
                .as_ref(),
            b"replicated"
        );
        assert_eq!(
            default_of(OptionScope::Topic, "segment_size")
                .unwrap()
                .as_ref(),
            &(1u64 << 30).to_le_bytes()
        );
    }
}
