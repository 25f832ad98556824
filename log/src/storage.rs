//! The storage seam: how a partition reaches its segment files (`.log` and `.index`). Every
//! read, write, `fdatasync`, truncation, creation and removal of a segment file, and the
//! directory sync that makes a new segment's name durable, goes through [`SegmentStore`] and
//! [`SegmentFile`]. [`LocalStore`] (plain files, positional I/O) is what the log uses unless a
//! caller opens a partition with [`crate::PartitionLog::open_with_store`]; the seam exists so a
//! segment can later live elsewhere (object storage) and so tests can inject faults.
//!
//! Deliberately narrow: checkpoints (`log_start.offset`, `clean.shutdown`), directory listing,
//! quarantine renames and partition directory removal stay on `std::fs`; they are not on a hot
//! path and a remote segment would keep its small files local anyway.
//!
//! Cost: one dynamic call per file operation, next to a system call; the local read keeps the
//! uninitialised-buffer `pread` (no memset of payloads read from disk). Local descriptors are
//! kept under a process-wide budget ([`crate::fd_pool`]); a closed one costs an `open` on its
//! next use.

use std::fmt::Debug;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;

use crate::fd_pool::{FdPool, Slot};

/// One open segment file. Positional I/O only: the writer appends at the end it tracks itself,
/// readers read below the size the writer published, all through `&self` from many threads.
pub trait SegmentFile: Send + Sync + Debug {
    /// Reads exactly `buf.len()` bytes at `pos`; `UnexpectedEof` if the file ends first.
    fn read_exact_at(&self, buf: &mut [u8], pos: u64) -> io::Result<()>;
    /// Reads exactly `len` bytes at `pos` into a new buffer; `UnexpectedEof` if the file ends
    /// first.
    fn read_vec_at(&self, len: usize, pos: u64) -> io::Result<Vec<u8>>;
    /// Writes all of `buf` at `pos`. After an error any prefix of `buf` may have been written;
    /// the caller treats those bytes as garbage past the end of its data.
    fn write_all_at(&self, buf: &[u8], pos: u64) -> io::Result<()>;
    /// Writes `bufs` back to back starting at `pos` (the append owner's group write: several
    /// frames in one call). Same failure contract as [`Self::write_all_at`] for the whole
    /// range. The default writes the buffers one by one.
    fn write_all_vectored_at(&self, bufs: &[&[u8]], pos: u64) -> io::Result<()> {
        let mut at = pos;
        for buf in bufs {
            self.write_all_at(buf, at)?;
            at += buf.len() as u64;
        }
        Ok(())
    }
    /// `fdatasync`: once it returns `Ok`, everything written before the call is durable. After
    /// an error, nothing written since the last successful call may be relied on.
    fn sync_data(&self) -> io::Result<()>;
    /// Current length of the file in bytes.
    fn size(&self) -> io::Result<u64>;
    /// Cuts (or extends with zeros) the file to `len` bytes; durable after [`Self::sync_data`].
    fn set_len(&self, len: u64) -> io::Result<()>;
}

/// Where segment files live: creates, opens and removes them, and syncs a directory so the
/// files created in it survive a crash.
pub trait SegmentStore: Send + Sync + Debug {
    /// Creates a new, empty file for reading and writing; fails if `path` exists.
    fn create_new(&self, path: &Path) -> io::Result<Box<dyn SegmentFile>>;
    /// Opens an existing file for reading and writing; with `create`, makes it (empty) when it
    /// does not exist.
    fn open(&self, path: &Path, create: bool) -> io::Result<Box<dyn SegmentFile>>;
    /// Deletes a file. Handles already open keep working until dropped.
    fn remove(&self, path: &Path) -> io::Result<()>;
    /// Makes the creation and removal of files in `dir` durable.
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;
    /// Renames `from` over `to` (compaction's swap). Handles already open on the file that
    /// was at `to` keep reading what it held. Stores without it cannot compact.
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let _ = (from, to);
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "this segment store cannot rename files",
        ))
    }
}

/// Segment files as plain local files, their descriptors under the process's budget of open
/// segment files ([`FdPool::global`]).
#[derive(Debug, Default, Clone, Copy)]
pub struct LocalStore;

/// A local segment file: its path, and its descriptor while the pool keeps it open.
#[derive(Debug)]
pub struct LocalFile {
    pool: &'static FdPool,
    pub(crate) slot: Arc<Slot>,
}

impl LocalFile {
    /// Opens `path` with `options` under `pool`'s budget.
    pub fn open_in(pool: &'static FdPool, path: &Path, options: &OpenOptions) -> io::Result<Self> {
        Ok(Self {
            pool,
            slot: pool.open(path, options)?,
        })
    }

    /// The descriptor, reopened by path if the pool had closed it.
    fn file(&self) -> io::Result<Arc<File>> {
        self.pool.file(&self.slot)
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        self.slot.path()
    }
}

impl Drop for LocalFile {
    fn drop(&mut self) {
        self.pool.dropped(&self.slot);
    }
}

impl SegmentStore for LocalStore {
    fn create_new(&self, path: &Path) -> io::Result<Box<dyn SegmentFile>> {
        let mut options = OpenOptions::new();
        options.read(true).write(true).create_new(true);
        Ok(Box::new(LocalFile::open_in(
            FdPool::global(),
            path,
            &options,
        )?))
    }

    fn open(&self, path: &Path, create: bool) -> io::Result<Box<dyn SegmentFile>> {
        let mut options = OpenOptions::new();
        options
            .read(true)
            .write(true)
            .create(create)
            .truncate(false);
        Ok(Box::new(LocalFile::open_in(
            FdPool::global(),
            path,
            &options,
        )?))
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        // Handles still reading it must keep working once it is unlinked.
        FdPool::global().pin_for_removal(path)?;
        std::fs::remove_file(path)
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        // Keep the replaced file open for the handles that still read it.
        FdPool::global().pin_for_removal(to)?;
        std::fs::rename(from, to)
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        File::open(dir)?.sync_all()
    }
}

impl SegmentFile for LocalFile {
    fn read_exact_at(&self, buf: &mut [u8], pos: u64) -> io::Result<()> {
        self.file()?.read_exact_at(buf, pos)
    }

    fn read_vec_at(&self, len: usize, pos: u64) -> io::Result<Vec<u8>> {
        let file = self.file()?;
        read_uninit_at(&file, len, pos)
    }

    fn write_all_at(&self, buf: &[u8], pos: u64) -> io::Result<()> {
        self.file()?.write_all_at(buf, pos)
    }

    fn write_all_vectored_at(&self, bufs: &[&[u8]], pos: u64) -> io::Result<()> {
        let file = self.file()?;
        write_vectored_at(&file, bufs, pos)
    }

    fn sync_data(&self) -> io::Result<()> {
        self.file()?.sync_data()
    }

    fn size(&self) -> io::Result<u64> {
        Ok(self.file()?.metadata()?.len())
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        self.file()?.set_len(len)
    }
}

/// Most buffers one `pwritev` takes on Linux.
const IOV_MAX: usize = 1024;

/// `pwritev` until every buffer is written (a short write goes on where it stopped).
fn write_vectored_at(file: &File, bufs: &[&[u8]], pos: u64) -> io::Result<()> {
    let mut slices: Vec<io::IoSlice<'_>> = bufs.iter().map(|b| io::IoSlice::new(b)).collect();
    let mut rest = &mut slices[..];
    let mut at = pos;
    // Empty buffers would make a zero-byte write look like "nothing more to write".
    io::IoSlice::advance_slices(&mut rest, 0);
    while !rest.is_empty() {
        let batch = rest.len().min(IOV_MAX);
        let written = match rustix::io::pwritev(file, &rest[..batch], at) {
            Ok(written) => written,
            Err(rustix::io::Errno::INTR) => continue,
            Err(errno) => return Err(errno.into()),
        };
        if written == 0 {
            return Err(io::Error::new(
                io::ErrorKind::WriteZero,
                "segment write wrote nothing",
            ));
        }
        at += written as u64;
        io::IoSlice::advance_slices(&mut rest, written);
    }
    Ok(())
}

/// Reads exactly `len` bytes at `pos` into a fresh buffer without zero-filling it first (the
/// read path's hottest memset otherwise: every payload read from disk was zeroed, then
/// overwritten). The bytes past what `pread` returned are never exposed: `spare_capacity`
/// only extends the length by what the kernel wrote.
fn read_uninit_at(file: &File, len: usize, pos: u64) -> io::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        let at = pos + out.len() as u64;
        let read = rustix::io::pread(file, rustix::buffer::spare_capacity(&mut out), at)?;
        if read == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "segment ends before the frame's payload",
            ));
        }
    }
    // `with_capacity` may round up; bytes past the frame are not part of it.
    out.truncate(len);
    Ok(out)
}
