//! A budget of open segment files. Every partition keeps two files (`.log`, `.index`) of its
//! active segment and those of the segments it reads, so 10 000 partitions would hold 20 000
//! descriptors and run into the process's `RLIMIT_NOFILE` before a single connection is
//! accepted. Files handed out here hold their descriptor only while the pool has room: past the
//! budget, the least recently used are closed, and reopened by path on their next use.
//!
//! Rules that keep this invisible to the log:
//! - A file in use keeps its descriptor until the call returns (each call holds an `Arc<File>`
//!   clone), so closing never races with I/O.
//! - A file about to be removed is pinned open first ([`FdPool::pin_for_removal`]): readers that
//!   still hold it keep reading what it held, as with any unlinked open file.
//! - Durability is per inode, not per descriptor: `fdatasync` on a reopened descriptor flushes
//!   writes made through the one that was closed, and reports a writeback error not yet seen.
//!
//! The budget is half the soft `RLIMIT_NOFILE` at first use (at least [`BUDGET_MIN`]), leaving
//! the other half to connections and everything else; the broker raises the soft limit to the
//! hard one before it opens the log.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock, Weak};

/// The smallest budget, whatever the limit says.
pub const BUDGET_MIN: usize = 64;

/// Open descriptors for segment files, shared by every partition (see the module docs).
#[derive(Debug)]
pub struct FdPool {
    budget: usize,
    open: AtomicUsize,
    clock: AtomicU64,
    files: Mutex<Vec<Weak<Slot>>>,
}

/// One file's path and, while it has one, its descriptor.
#[derive(Debug)]
pub(crate) struct Slot {
    path: PathBuf,
    pub(crate) file: RwLock<Option<Arc<File>>>,
    last_used: AtomicU64,
    pinned: AtomicBool,
}

impl FdPool {
    /// A pool that keeps at most about `budget` descriptors open.
    pub fn new(budget: usize) -> Self {
        Self {
            budget: budget.max(1),
            open: AtomicUsize::new(0),
            clock: AtomicU64::new(0),
            files: Mutex::new(Vec::new()),
        }
    }

    /// The process-wide pool [`crate::LocalStore`] uses.
    pub fn global() -> &'static FdPool {
        static POOL: OnceLock<FdPool> = OnceLock::new();
        POOL.get_or_init(|| FdPool::new(default_budget()))
    }

    /// How many descriptors this pool keeps at most.
    pub fn budget(&self) -> usize {
        self.budget
    }

    /// How many descriptors it holds now.
    pub fn open_count(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }

    /// Opens (or creates) `path` for reading and writing and registers it.
    pub(crate) fn open(&self, path: &Path, options: &OpenOptions) -> io::Result<Arc<Slot>> {
        let file = options.open(path)?;
        let slot = Arc::new(Slot {
            path: path.to_path_buf(),
            file: RwLock::new(Some(Arc::new(file))),
            last_used: AtomicU64::new(self.tick()),
            pinned: AtomicBool::new(false),
        });
        lock(&self.files).push(Arc::downgrade(&slot));
        self.opened();
        Ok(slot)
    }

    /// The descriptor of `slot`, reopened if it was closed.
    pub(crate) fn file(&self, slot: &Slot) -> io::Result<Arc<File>> {
        slot.last_used.store(self.tick(), Ordering::Relaxed);
        if let Some(file) = read(&slot.file).as_ref() {
            return Ok(Arc::clone(file));
        }
        let mut guard = write(&slot.file);
        if let Some(file) = guard.as_ref() {
            return Ok(Arc::clone(file));
        }
        let file = Arc::new(OpenOptions::new().read(true).write(true).open(&slot.path)?);
        *guard = Some(Arc::clone(&file));
        drop(guard);
        self.opened();
        Ok(file)
    }

    /// Keeps the file at `path` open from now on (if the pool has it), so handles to it work
    /// after it is unlinked.
    pub(crate) fn pin_for_removal(&self, path: &Path) -> io::Result<()> {
        let slots: Vec<Arc<Slot>> = lock(&self.files)
            .iter()
            .filter_map(Weak::upgrade)
            .filter(|slot| slot.path == path)
            .collect();
        for slot in slots {
            slot.pinned.store(true, Ordering::Relaxed);
            self.file(&slot)?;
        }
        Ok(())
        // (A file that is already gone fails here; its removal would fail the same way.)
    }

    /// Closes a slot whose file handle is dropped (taken under the lock, like eviction, so
    /// the two never both count it).
    pub(crate) fn dropped(&self, slot: &Slot) {
        if write(&slot.file).take().is_some() {
            self.open.fetch_sub(1, Ordering::Relaxed);
        }
    }

    fn tick(&self) -> u64 {
        self.clock.fetch_add(1, Ordering::Relaxed)
    }

    fn opened(&self) {
        if self.open.fetch_add(1, Ordering::Relaxed) + 1 > self.budget {
            self.evict();
        }
    }

    /// Closes the least recently used descriptors until a tenth of the budget is free again
    /// (so one scan serves many opens), skipping pinned files and files being reopened.
    fn evict(&self) {
        let mut files = lock(&self.files);
        files.retain(|weak| weak.strong_count() > 0);
        let mut open: Vec<(u64, Arc<Slot>)> = files
            .iter()
            .filter_map(Weak::upgrade)
            .filter(|slot| !slot.pinned.load(Ordering::Relaxed))
            .filter(|slot| read(&slot.file).is_some())
            .map(|slot| (slot.last_used.load(Ordering::Relaxed), slot))
            .collect();
        drop(files);
        let target = self.budget - self.budget / 10;
        let excess = self.open_count().saturating_sub(target);
        open.sort_unstable_by_key(|(used, _)| *used);
        for (_, slot) in open.into_iter().take(excess) {
            let Ok(mut guard) = slot.file.try_write() else {
                continue;
            };
            if guard.take().is_some() {
                self.open.fetch_sub(1, Ordering::Relaxed);
            }
        }
    }
}

impl Slot {
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

/// Half the soft `RLIMIT_NOFILE`, at least [`BUDGET_MIN`].
fn default_budget() -> usize {
    let soft = rustix::process::getrlimit(rustix::process::Resource::Nofile)
        .current
        .unwrap_or(u64::MAX);
    usize::try_from(soft / 2)
        .unwrap_or(usize::MAX)
        .clamp(BUDGET_MIN, 1 << 20)
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
#[path = "fd_pool_tests.rs"]
mod tests;
