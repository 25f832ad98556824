//! Seeded fault injection through the storage seam (`disk.rs`): short writes, ENOSPC, failed
//! fdatasyncs and torn tails at simulated crashes. For every seed a workload of appends (waited
//! on or not), explicit syncs and crash/reopen cycles runs over one `fsync = always` partition,
//! and after every step the model checks:
//!
//! - every acknowledged append (durable wait returned Ok) is read back byte-exact after reopen;
//! - every read returns exactly bytes that were appended, at the offsets they were given, in
//!   order, with no gap below the high watermark, and nothing visible before a crash is lost;
//!   after a reopen the only exception is a damaged range (bytes a failed sync lost, with
//!   frames written after them that reached the disk), which reads refuse and which may hold
//!   no acknowledged append;
//! - an append whose write hit a fault (on the partition's append owner, which writes every
//!   append; several queued at once may share one write) reports an error, and so does an
//!   explicit sync that hit one;
//! - after a failed sync round, nothing more is acknowledged until the partition is reopened.
//!
//! `WHIPPET_FAULT_SEEDS=n` runs n seeds (default 300); `WHIPPET_FAULT_SEED=s` replays one seed.
//! A failing seed is printed. Writes and sync rounds run on the log's own threads, so which
//! appends a write or a round covers depends on timing: a replay repeats the fault schedule,
//! not every interleaving.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod disk;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use disk::{FaultDisk, Plan, sync_faults_on_this_thread};
use rand::{Rng, SeedableRng, rngs::StdRng};
use whippet_log::{
    AppendBatch, Appended, Appending, BatchFormat, FsyncPolicy, LogConfig, PartitionLog,
    TopicSettings,
};

const SEEDS_DEFAULT: u64 = 300;
const CYCLES_PER_SEED: usize = 3;
const OPS_PER_CYCLE: usize = 30;

/// Panics anywhere in the process (a sync worker's included), counted by a hook.
static PANICS: AtomicU64 = AtomicU64::new(0);
/// Totals over all seeds, printed at the end to show the faults really happened.
static ACKED: AtomicU64 = AtomicU64::new(0);
static WRITE_FAULTS: AtomicU64 = AtomicU64::new(0);
static SYNC_FAULTS: AtomicU64 = AtomicU64::new(0);
static DAMAGE_SKIPPED: AtomicU64 = AtomicU64::new(0);

/// One append the workload attempted.
#[derive(Debug, Clone)]
struct Attempt {
    payload: Vec<u8>,
    records: u32,
    /// Offsets the log assigned, if the append itself succeeded.
    assigned: Option<(u64, u64)>,
    /// `append_durable_blocking` failed: the append may have been written (and may survive a
    /// crash) with the wait failing, so where it landed is unknown.
    outcome_unknown: bool,
    /// The durable wait returned Ok.
    acked: bool,
}

/// How one append ended.
struct Outcome {
    assigned: Option<(u64, u64)>,
    acked: bool,
    outcome_unknown: bool,
}

impl Outcome {
    fn new(assigned: Option<(u64, u64)>, acked: bool, outcome_unknown: bool) -> Self {
        Self {
            assigned,
            acked,
            outcome_unknown,
        }
    }
}

/// What the workload did, to check the log against.
#[derive(Default)]
struct Model {
    attempts: Vec<Attempt>,
    /// A sync round or explicit sync failed in this open: nothing more may be acknowledged.
    poisoned: bool,
    /// Last offset successfully appended in this open (quiescing waits on it).
    last_appended: Option<u64>,
}

fn payload(seed: u64, attempt: u64, rng: &mut StdRng) -> Vec<u8> {
    let len = rng.gen_range(8..4000);
    let mut bytes = StdRng::seed_from_u64(seed ^ attempt.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let mut p: Vec<u8> = (0..len).map(|_| bytes.r#gen()).collect();
    p[..8].copy_from_slice(&attempt.to_le_bytes());
    p
}

fn config(dir: &Path) -> LogConfig {
    let mut c = LogConfig::new(dir);
    c.fsync = FsyncPolicy::Always;
    c.index_interval_bytes = 512;
    c
}

fn settings() -> TopicSettings {
    TopicSettings {
        segment_bytes: 64 * 1024,
        ..TopicSettings::default()
    }
}

fn open(dir: &Path, disk: &FaultDisk) -> Arc<PartitionLog> {
    let store = Arc::new(disk.clone());
    PartitionLog::open_with_store(dir.to_path_buf(), 0, settings(), &config(dir), store)
        .expect("reopen with faults disarmed")
        .0
}

struct Run<'a> {
    seed: u64,
    rng: StdRng,
    disk: FaultDisk,
    dir: &'a Path,
    runtime: tokio::runtime::Runtime,
    model: Model,
    /// This thread's sync fault count when the seed started (the counter is per thread).
    sync_faults_here_at_start: u64,
    /// Round faults before the current open.
    round_faults_at_open: u64,
}

impl Run<'_> {
    /// One append, or a burst of appends queued at once (which the partition's owner may write
    /// together), waited on (blocking or async) or not, with the fault checks.
    fn append(&mut self, log: &PartitionLog) {
        let how = self.rng.gen_range(0..10);
        let burst = if how == 6 {
            self.rng.gen_range(2..=4)
        } else {
            1
        };
        let first_id = self.model.attempts.len();
        let mut batches = Vec::new();
        for k in 0..burst {
            let id = (first_id + k) as u64;
            let records = self.rng.gen_range(1..=4);
            let payload = payload(self.seed, id, &mut self.rng);
            batches.push(AppendBatch {
                format: BatchFormat::Native,
                payload: payload.clone().into(),
                record_count: records,
                last_offset_delta: records - 1,
                first_timestamp_us: 1,
                max_timestamp_us: 1,
            });
            self.model.attempts.push(Attempt {
                payload,
                records,
                assigned: None,
                outcome_unknown: false,
                acked: false,
            });
        }
        let poisoned_before = self.model.poisoned || self.round_faults() > 0;
        let write_faults_before = self.disk.write_faults();
        let outcomes = self.run_appends(log, how, batches);
        let seed = self.seed;
        // Writes happen only for appends, and this thread waits for them before the next, so
        // a write fault meanwhile (on the partition's owner thread) was one of these appends'.
        if self.disk.write_faults() != write_faults_before {
            assert!(
                outcomes.iter().any(|o| o.assigned.is_none()),
                "seed {seed}: appends {first_id}.. hit a write fault but all succeeded"
            );
        }
        for (k, outcome) in outcomes.into_iter().enumerate() {
            let id = first_id + k;
            if poisoned_before {
                assert!(
                    !outcome.acked,
                    "seed {seed}: append {id} acknowledged after a failed sync"
                );
            }
            if let Some((_, last)) = outcome.assigned {
                self.model.last_appended = Some(last);
            }
            let attempt = &mut self.model.attempts[id];
            attempt.assigned = outcome.assigned;
            attempt.outcome_unknown = outcome.outcome_unknown;
            attempt.acked = outcome.acked;
        }
    }

    /// Appends `batches` the way `how` says: durable and blocking; queued at once through the
    /// async entry point, then each awaited and waited durable; or blocking and not waited on.
    fn run_appends(&self, log: &PartitionLog, how: u32, batches: Vec<AppendBatch>) -> Vec<Outcome> {
        let assigned = |a: &Appended| Some((a.base_offset, a.last_offset));
        match how {
            0..=3 => batches
                .into_iter()
                .map(|batch| match log.append_durable_blocking(batch, |_| {}) {
                    Ok(a) => Outcome::new(assigned(&a), true, false),
                    Err(_) => Outcome::new(None, false, true),
                })
                .collect(),
            4..=6 => {
                let queued: Vec<Appending> = batches
                    .into_iter()
                    .map(|batch| log.append(batch, |_| {}))
                    .collect();
                self.runtime.block_on(async {
                    let mut outcomes = Vec::new();
                    for appending in queued {
                        outcomes.push(match appending.await {
                            Ok(a) => {
                                let waited = log.wait_durable(a.last_offset).await;
                                Outcome::new(assigned(&a), waited.is_ok(), false)
                            }
                            Err(_) => Outcome::new(None, false, false),
                        });
                    }
                    outcomes
                })
            }
            _ => batches
                .into_iter()
                .map(|batch| {
                    let a = log.append_blocking(batch, |_| {}).ok();
                    Outcome::new(a.as_ref().and_then(assigned), false, false)
                })
                .collect(),
        }
    }

    /// Sync faults injected in this open on other threads than this one: the group-commit
    /// rounds (run by the append owner or the sync threads).
    fn round_faults(&self) -> u64 {
        self.round_faults_total() - self.round_faults_at_open
    }

    fn round_faults_total(&self) -> u64 {
        // Explicit syncs run on this thread; every other sync fault was a round's.
        let own_syncs = sync_faults_on_this_thread() - self.sync_faults_here_at_start;
        self.disk.sync_faults() - own_syncs
    }

    fn explicit_sync(&mut self, log: &PartitionLog) {
        let poisoned_before = self.model.poisoned || self.round_faults() > 0;
        let faults_before = self.disk.sync_faults();
        let synced = log.sync();
        let seed = self.seed;
        if self.disk.sync_faults() != faults_before || poisoned_before {
            assert!(
                synced.is_err(),
                "seed {seed}: a failed sync reported success"
            );
        }
        if synced.is_err() {
            self.model.poisoned = true;
        }
    }

    /// Waits until no sync round is running, then checks what readers see now.
    fn quiesce_and_check(&mut self, log: &PartitionLog) -> u64 {
        if let Some(last) = self.model.last_appended {
            let _ = self.runtime.block_on(log.wait_durable(last));
        }
        if self.round_faults() > 0 {
            self.model.poisoned = true;
            assert!(
                log.sync().is_err(),
                "seed {}: sync after a failed round",
                self.seed
            );
        }
        check_reads(self, log, false)
    }

    fn cycle(&mut self, log: Arc<PartitionLog>) -> Arc<PartitionLog> {
        self.disk.arm(true);
        for _ in 0..OPS_PER_CYCLE {
            if self.rng.gen_range(0..10) == 0 {
                self.explicit_sync(&log);
            } else {
                self.append(&log);
            }
        }
        let visible = self.quiesce_and_check(&log);
        self.disk.arm(false);
        self.disk.crash();
        drop(log);
        let log = open(self.dir, &self.disk);
        self.model.poisoned = false;
        self.model.last_appended = None;
        self.round_faults_at_open = self.round_faults_total();
        let recovered = check_reads(self, &log, true);
        assert!(
            recovered >= visible,
            "seed {}: readers saw offsets up to {visible}, only {recovered} survived",
            self.seed
        );
        log
    }
}

/// Reads everything below the high watermark and checks it against the model; after a reopen
/// also that every acknowledged append is there. Returns the high watermark.
/// Reads go through the async entry point (cache on this thread, files on the log's read
/// threads), as the broker's do.
fn check_reads(run: &Run<'_>, log: &PartitionLog, reopened: bool) -> u64 {
    let (seed, model) = (run.seed, &run.model);
    let hw = log.high_watermark();
    let mut found = BTreeMap::new();
    let mut next = log.log_start_offset();
    while next < hw {
        let read = match run.runtime.block_on(log.read(next, 1 << 20)) {
            Ok(read) => read,
            Err(e @ whippet_log::LogError::CorruptFrame { .. }) if reopened => {
                next = past_unacked_damage(seed, log, model, next, &e);
                continue;
            }
            Err(e) => panic!("seed {seed}: read at {next} below hw {hw}: {e}"),
        };
        assert!(
            !read.frames.is_empty(),
            "seed {seed}: nothing at {next} < hw {hw}"
        );
        for f in read.frames {
            let h = f.header;
            assert_eq!(
                h.base_offset, next,
                "seed {seed}: gap or disorder at {next}"
            );
            let id = u64::from_le_bytes(f.payload[..8].try_into().unwrap());
            let attempt = usize::try_from(id).ok().and_then(|i| model.attempts.get(i));
            let attempt = attempt.unwrap_or_else(|| panic!("seed {seed}: unknown batch {id}"));
            assert_eq!(
                &f.payload[..],
                &attempt.payload[..],
                "seed {seed}: bytes of {id}"
            );
            assert_eq!(
                h.record_count, attempt.records,
                "seed {seed}: records of {id}"
            );
            let landed = Some((h.base_offset, h.last_offset()));
            assert!(
                attempt.assigned == landed || attempt.outcome_unknown,
                "seed {seed}: batch {id} served at {landed:?}, given {:?} (reopened {reopened})",
                attempt.assigned
            );
            found.insert(id, ());
            next = h.next_offset();
        }
    }
    if reopened {
        assert_eq!(
            hw,
            log.next_offset(),
            "seed {seed}: recovered data not all visible"
        );
        for (id, a) in model.attempts.iter().enumerate() {
            if a.acked {
                assert!(
                    found.contains_key(&(id as u64)),
                    "seed {seed}: acked {id} lost"
                );
            }
        }
    }
    hw
}

/// A reopened log may hold a damaged range below its high watermark: bytes a failed sync
/// lost (zeros after the crash) with frames written after them that did reach the disk, which
/// recovery keeps behind the damage. That is allowed only for data nobody was told is durable:
/// no acknowledged append may have offsets in the range. Returns the offset to read on from.
fn past_unacked_damage(
    seed: u64,
    log: &PartitionLog,
    model: &Model,
    next: u64,
    error: &whippet_log::LogError,
) -> u64 {
    let range = log
        .damaged_ranges()
        .into_iter()
        .find(|r| r.first_offset <= next && next < r.next_offset)
        .unwrap_or_else(|| panic!("seed {seed}: read at {next} failed outside damage: {error}"));
    for (id, a) in model.attempts.iter().enumerate() {
        if let (true, Some((first, last))) = (a.acked, a.assigned) {
            assert!(
                last < range.first_offset || first >= range.next_offset,
                "seed {seed}: acked {id} ({first}..={last}) lies in damaged {range:?}"
            );
        }
    }
    DAMAGE_SKIPPED.fetch_add(1, Ordering::Relaxed);
    range.next_offset
}

fn plan_for(rng: &mut StdRng) -> Plan {
    let write_fails = [0.0, 0.005, 0.02][rng.gen_range(0..3)];
    let sync_fails = [0.0, 0.01, 0.05][rng.gen_range(0..3)];
    Plan {
        write_fails,
        sync_fails,
    }
}

/// Prints the seed if the run panics.
struct SeedReport(u64);

impl Drop for SeedReport {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "fault test failed with seed {0}; replay with WHIPPET_FAULT_SEED={0}",
                self.0
            );
        }
    }
}

fn run_seed(seed: u64) {
    let _report = SeedReport(seed);
    let panics_before = PANICS.load(Ordering::SeqCst);
    let mut rng = StdRng::seed_from_u64(seed);
    let plan = plan_for(&mut rng);
    let dir = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let disk = FaultDisk::new(seed, plan);
    let mut run = Run {
        seed,
        rng,
        disk: disk.clone(),
        dir: dir.path(),
        runtime,
        model: Model::default(),
        sync_faults_here_at_start: sync_faults_on_this_thread(),
        round_faults_at_open: 0,
    };
    let mut log = open(dir.path(), &disk);
    for _ in 0..CYCLES_PER_SEED {
        log = run.cycle(log);
    }
    drop(log);
    let acked = run.model.attempts.iter().filter(|a| a.acked).count() as u64;
    ACKED.fetch_add(acked, Ordering::Relaxed);
    WRITE_FAULTS.fetch_add(disk.write_faults(), Ordering::Relaxed);
    SYNC_FAULTS.fetch_add(disk.sync_faults(), Ordering::Relaxed);
    assert_eq!(
        PANICS.load(Ordering::SeqCst),
        panics_before,
        "seed {seed}: something panicked (see above)"
    );
}

#[test]
fn seeded_faults_never_lose_acknowledged_data_nor_serve_garbage() {
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        PANICS.fetch_add(1, Ordering::SeqCst);
        default_hook(info);
    }));
    if let Some(seed) = std::env::var("WHIPPET_FAULT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        run_seed(seed);
        return;
    }
    let seeds = std::env::var("WHIPPET_FAULT_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(SEEDS_DEFAULT);
    for seed in 0..seeds {
        run_seed(seed);
    }
    eprintln!(
        "{seeds} seeds passed: {} acknowledged appends, {} write faults, {} sync faults, {} \
         unacknowledged damaged ranges after reopen",
        ACKED.load(Ordering::Relaxed),
        WRITE_FAULTS.load(Ordering::Relaxed),
        SYNC_FAULTS.load(Ordering::Relaxed),
        DAMAGE_SKIPPED.load(Ordering::Relaxed)
    );
}
