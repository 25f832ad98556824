//! Crash test: a writer process appends with `fsync = always` from several threads and prints
//! every acknowledged append; the test SIGKILLs it at random moments, reopens the log and checks
//! that every acknowledged append is present, every frame's checksum is valid (reads verify
//! them), and the log is a clean, contiguous prefix of what was written.
//!
//! The writer is this same test binary re-executed with `WHIPPET_CRASH_WRITER_DIR` set: the
//! `writer_acknowledges_only_durable_appends` test then runs the endless writer loop instead of
//! its own short check.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng, rngs::StdRng};
use whippet_log::{AppendBatch, BatchFormat, FsyncPolicy, LogConfig, PartitionLog, TopicSettings};

const WRITER_ENV: &str = "WHIPPET_CRASH_WRITER_DIR";
const WRITER_THREADS: usize = 3;

fn settings() -> TopicSettings {
    TopicSettings {
        segment_bytes: 64 * 1024,
        ..TopicSettings::default()
    }
}

fn config(dir: &Path) -> LogConfig {
    let mut c = LogConfig::new(dir);
    c.fsync = FsyncPolicy::Always;
    c
}

/// Fills a payload from the base offset the log assigned, so the checker can tell a written
/// frame from garbage without any record of the writer's.
fn fill_payload(base_offset: u64, buf: &mut [u8]) {
    let mut rng = StdRng::seed_from_u64(base_offset ^ 0x5eed_cafe);
    rng.fill(buf);
}

/// One append of a random size and record count whose payload is filled in from the offset the
/// log assigns (through the patch callback, as the protocol handlers do).
fn append_one(log: &PartitionLog, rng: &mut StdRng) -> (u64, u64) {
    let now_us = 1_700_000_000_000_000;
    let records: u32 = rng.gen_range(1..=5);
    let batch = AppendBatch {
        format: BatchFormat::Native,
        payload: vec![0u8; rng.gen_range(1..6000)].into(),
        record_count: records,
        last_offset_delta: records - 1,
        first_timestamp_us: now_us,
        max_timestamp_us: now_us,
    };
    let appended = log
        .append_durable_blocking(batch, |ctx| fill_payload(ctx.base_offset, ctx.payload))
        .expect("append");
    (appended.base_offset, appended.last_offset)
}

fn run_writer(dir: &Path) -> ! {
    let (log, _events) =
        PartitionLog::open(dir.to_path_buf(), 0, settings(), &config(dir)).expect("writer open");
    let stdout = Arc::new(std::sync::Mutex::new(std::io::stdout()));
    let mut handles = Vec::new();
    for _ in 0..WRITER_THREADS {
        let log = log.clone();
        let stdout = stdout.clone();
        handles.push(std::thread::spawn(move || {
            let mut rng = StdRng::from_entropy();
            loop {
                let (base, last) = append_one(&log, &mut rng);
                let mut out = stdout.lock().unwrap();
                writeln!(out, "ack {base} {last}").unwrap();
                out.flush().unwrap();
            }
        }));
    }
    for h in handles {
        let _ = h.join();
    }
    std::process::exit(0)
}

/// Reads the whole partition and checks it: contiguous offsets, each payload the one its base
/// offset implies (the writer always writes the full expected payload). Returns base → last.
fn check_log(dir: &Path) -> BTreeMap<u64, u64> {
    let (log, _events) =
        PartitionLog::open(dir.to_path_buf(), 0, settings(), &config(dir)).expect("reopen");
    let mut frames = BTreeMap::new();
    let mut next = log.log_start_offset();
    let hw = log.high_watermark();
    while next < hw {
        let read = log
            .read_blocking(next, 1 << 20)
            .expect("read after recovery");
        assert!(!read.frames.is_empty(), "no frame at {next} below hw {hw}");
        for f in read.frames {
            assert_eq!(f.header.base_offset, next, "offsets must be contiguous");
            let mut want = vec![0u8; f.payload.len()];
            fill_payload(f.header.base_offset, &mut want);
            assert!(
                f.payload[..] == want[..],
                "frame at {next} holds bytes nobody wrote"
            );
            frames.insert(f.header.base_offset, f.header.last_offset());
            next = f.header.next_offset();
        }
    }
    assert_eq!(next, log.next_offset(), "everything recovered is visible");
    frames
}

#[test]
fn writer_acknowledges_only_durable_appends() {
    if let Ok(dir) = std::env::var(WRITER_ENV) {
        run_writer(Path::new(&dir));
    }
    // In-process: acknowledged appends are readable, in order, with the payload they were given.
    let dir = tempfile::tempdir().unwrap();
    let (log, _) =
        PartitionLog::open(dir.path().to_path_buf(), 0, settings(), &config(dir.path())).unwrap();
    let mut rng = StdRng::seed_from_u64(7);
    let acked: Vec<_> = (0..50).map(|_| append_one(&log, &mut rng)).collect();
    drop(log);
    let frames = check_log(dir.path());
    for (base, last) in acked {
        assert_eq!(frames.get(&base), Some(&last));
    }
}

#[test]
fn sigkill_loses_no_acknowledged_append() {
    let cycles: usize = std::env::var("WHIPPET_CRASH_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    let seed: u64 = std::env::var("WHIPPET_CRASH_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(rand::random);
    eprintln!("crash test seed {seed} (replay with WHIPPET_CRASH_SEED={seed})");
    let mut rng = StdRng::seed_from_u64(seed);
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut acked: BTreeMap<u64, u64> = BTreeMap::new();
    let mut total_frames = 0;
    for cycle in 0..cycles {
        let mut child = Command::new(&exe)
            .args([
                "--exact",
                "writer_acknowledges_only_durable_appends",
                "--nocapture",
            ])
            .env(WRITER_ENV, dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            let mut acks = Vec::new();
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let mut it = line.split_whitespace();
                if it.next() == Some("ack") {
                    let base: u64 = it.next().unwrap().parse().unwrap();
                    let last: u64 = it.next().unwrap().parse().unwrap();
                    acks.push((base, last));
                }
            }
            acks
        });
        let started = Instant::now();
        std::thread::sleep(Duration::from_millis(rng.gen_range(20..200)));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let acks = reader.join().unwrap();
        assert!(started.elapsed() < Duration::from_secs(30));
        acked.extend(acks);
        let frames = check_log(dir.path());
        for (base, last) in &acked {
            assert_eq!(
                frames.get(base),
                Some(last),
                "cycle {cycle} seed {seed}: acknowledged append at {base} lost"
            );
        }
        total_frames = frames.len();
    }
    assert!(!acked.is_empty(), "the writer never acknowledged anything");
    eprintln!(
        "{cycles} kill/reopen cycles, {} acknowledged appends, {total_frames} frames",
        acked.len()
    );
}
