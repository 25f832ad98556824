//! A fault-injecting [`SegmentStore`] over real files in a temporary directory. It never calls
//! the real `fdatasync`: it keeps, per file, the bytes a crash would leave ("durable") and
//! decides at each write and sync, from seeded random streams, whether to fail:
//!
//! - a write fails with ENOSPC, either before writing anything or after a random prefix (a
//!   short write);
//! - a file or directory sync fails with EIO. Like Linux after a failed writeback, the data
//!   written since the last good sync is then lost for good even though reads still see it:
//!   a later sync that succeeds does not make it durable (it becomes zeros on disk);
//! - at a simulated crash each file keeps its durable bytes plus a random prefix of what was
//!   written after them, with a torn (zeroed or garbage) stretch now and then; a file whose
//!   directory entry was never synced may vanish.
//!
//! Faults are drawn from three independent streams (writes, syncs, crashes) so that the order
//! in which the sync workers and the test thread interleave does not shift the others.

use std::cell::Cell;
use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use rand::{Rng, SeedableRng, rngs::StdRng};
use whippet_log::{SegmentFile, SegmentStore};

thread_local! {
    /// Sync faults injected on the current thread (the test thread's explicit syncs; writes
    /// and group-commit rounds run on the log's own threads).
    static SYNC_FAULTS_HERE: Cell<u64> = const { Cell::new(0) };
}

/// Sync faults injected on the calling thread so far.
pub fn sync_faults_on_this_thread() -> u64 {
    SYNC_FAULTS_HERE.with(Cell::get)
}

fn count_sync_fault_here() {
    SYNC_FAULTS_HERE.with(|c| c.set(c.get() + 1));
}

/// Probabilities of each fault, per operation.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    pub write_fails: f64,
    pub sync_fails: f64,
}

/// What the simulated disk holds for one file.
#[derive(Debug, Default)]
struct Shadow {
    /// The bytes a crash would leave (before tearing the unsynced tail on top).
    durable: Vec<u8>,
    /// Whether the file's directory entry survives a crash.
    name_durable: bool,
    /// Ranges whose writeback failed: never durable, whatever later syncs say.
    lost: Vec<(u64, u64)>,
}

#[derive(Debug)]
struct State {
    armed: bool,
    plan: Plan,
    writes: StdRng,
    syncs: StdRng,
    crashes: StdRng,
    files: HashMap<PathBuf, Shadow>,
    /// Sync faults injected on any thread.
    sync_faults: u64,
    write_faults: u64,
}

/// The fault-injecting store; clones share one simulated disk.
#[derive(Debug, Clone)]
pub struct FaultDisk {
    state: Arc<Mutex<State>>,
}

/// A file of the simulated disk.
#[derive(Debug)]
pub struct FaultFile {
    path: PathBuf,
    file: File,
    state: Arc<Mutex<State>>,
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn read_all(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_default()
}

/// `bytes` with every lost range zeroed (what the device really holds).
fn on_device(mut bytes: Vec<u8>, lost: &[(u64, u64)]) -> Vec<u8> {
    for &(from, to) in lost {
        let len = bytes.len() as u64;
        let (from, to) = (from.min(len) as usize, to.min(len) as usize);
        bytes[from..to].fill(0);
    }
    bytes
}

impl FaultDisk {
    /// A disk whose faults are drawn from `seed`; disarmed until [`Self::arm`].
    pub fn new(seed: u64, plan: Plan) -> Self {
        let state = State {
            armed: false,
            plan,
            writes: StdRng::seed_from_u64(seed ^ 0x5752_4954),
            syncs: StdRng::seed_from_u64(seed ^ 0x5359_4e43),
            crashes: StdRng::seed_from_u64(seed ^ 0x4352_5348),
            files: HashMap::new(),
            sync_faults: 0,
            write_faults: 0,
        };
        Self {
            state: Arc::new(Mutex::new(state)),
        }
    }

    /// Turns fault injection on or off.
    pub fn arm(&self, armed: bool) {
        lock(&self.state).armed = armed;
    }

    /// Sync faults injected so far, on any thread.
    pub fn sync_faults(&self) -> u64 {
        lock(&self.state).sync_faults
    }

    /// Write faults injected so far.
    pub fn write_faults(&self) -> u64 {
        lock(&self.state).write_faults
    }

    /// Simulates a power cut: rewrites every file to what the device would hold afterwards.
    /// Call only when no sync round is running and with the partition about to be dropped.
    pub fn crash(&self) {
        let mut s = lock(&self.state);
        let files = std::mem::take(&mut s.files);
        for (path, shadow) in files {
            if !path.exists() {
                continue;
            }
            if !shadow.name_durable && s.crashes.gen_bool(0.5) {
                std::fs::remove_file(&path).unwrap();
                continue;
            }
            let current = on_device(read_all(&path), &shadow.lost);
            let after = torn(&mut s.crashes, shadow.durable, &current);
            std::fs::write(&path, after).unwrap();
        }
    }

    fn shadow_for(&self, path: &Path, created: bool) {
        let mut s = lock(&self.state);
        s.files.entry(path.to_path_buf()).or_insert_with(|| Shadow {
            // A file found on disk (after a crash) is durable as it is.
            durable: if created { Vec::new() } else { read_all(path) },
            name_durable: !created,
            lost: Vec::new(),
        });
    }

    fn file(&self, path: &Path, file: File) -> Box<dyn SegmentFile> {
        Box::new(FaultFile {
            path: path.to_path_buf(),
            file,
            state: Arc::clone(&self.state),
        })
    }
}

/// The durable bytes, then a random prefix of what was written past them, sometimes torn.
fn torn(rng: &mut StdRng, durable: Vec<u8>, current: &[u8]) -> Vec<u8> {
    if current.len() < durable.len() {
        // An unsynced truncation: kept or undone.
        return if rng.gen_bool(0.5) {
            current.to_vec()
        } else {
            durable
        };
    }
    let mut out = durable;
    let extra = &current[out.len()..];
    let keep = rng.gen_range(0..=extra.len());
    let kept_from = out.len();
    out.extend_from_slice(&extra[..keep]);
    if keep > 0 && rng.gen_bool(0.3) {
        let from = kept_from + rng.gen_range(0..keep);
        let to = (from + rng.gen_range(1..=512)).min(out.len());
        if rng.gen_bool(0.5) {
            out[from..to].fill(0);
        } else {
            rng.fill(&mut out[from..to]);
        }
    }
    out
}

impl SegmentStore for FaultDisk {
    fn create_new(&self, path: &Path) -> io::Result<Box<dyn SegmentFile>> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(path)?;
        // A file left by an earlier failed create is replaced, not merged.
        lock(&self.state).files.remove(path);
        self.shadow_for(path, true);
        Ok(self.file(path, file))
    }

    fn open(&self, path: &Path, create: bool) -> io::Result<Box<dyn SegmentFile>> {
        let existed = path.exists();
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(create)
            .truncate(false)
            .open(path)?;
        self.shadow_for(path, !existed);
        Ok(self.file(path, file))
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        std::fs::remove_file(path)?;
        lock(&self.state).files.remove(path);
        Ok(())
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        let mut guard = lock(&self.state);
        let s = &mut *guard;
        if s.armed && s.syncs.gen_bool(s.plan.sync_fails) {
            s.sync_faults += 1;
            count_sync_fault_here();
            return Err(io::Error::other("injected: directory fsync failed"));
        }
        for (path, shadow) in &mut s.files {
            if path.parent() == Some(dir) {
                shadow.name_durable = true;
            }
        }
        Ok(())
    }
}

impl SegmentFile for FaultFile {
    fn read_exact_at(&self, buf: &mut [u8], pos: u64) -> io::Result<()> {
        self.file.read_exact_at(buf, pos)
    }

    fn read_vec_at(&self, len: usize, pos: u64) -> io::Result<Vec<u8>> {
        let mut buf = vec![0; len];
        self.file.read_exact_at(&mut buf, pos)?;
        Ok(buf)
    }

    fn write_all_at(&self, buf: &[u8], pos: u64) -> io::Result<()> {
        let mut guard = lock(&self.state);
        let s = &mut *guard;
        if s.armed && s.writes.gen_bool(s.plan.write_fails) {
            s.write_faults += 1;
            if !buf.is_empty() && s.writes.gen_bool(0.5) {
                let short = s.writes.gen_range(0..buf.len());
                self.file.write_all_at(&buf[..short], pos)?;
            }
            return Err(io::Error::from_raw_os_error(28)); // ENOSPC
        }
        drop(guard);
        self.file.write_all_at(buf, pos)
    }

    fn sync_data(&self) -> io::Result<()> {
        let mut guard = lock(&self.state);
        let s = &mut *guard;
        let current = read_all(&self.path);
        let armed = s.armed;
        let fail = armed && s.syncs.gen_bool(s.plan.sync_fails);
        let Some(shadow) = s.files.get_mut(&self.path) else {
            return Ok(()); // removed meanwhile
        };
        if fail {
            let from = shadow.durable.len() as u64;
            shadow.lost.push((from, current.len() as u64));
            s.sync_faults += 1;
            count_sync_fault_here();
            return Err(io::Error::from_raw_os_error(5)); // EIO
        }
        shadow.durable = on_device(current, &shadow.lost);
        Ok(())
    }

    fn size(&self) -> io::Result<u64> {
        Ok(self.file.metadata()?.len())
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        self.file.set_len(len)
    }
}
