//! File helpers: atomic replacement (temp file, fsync, rename, directory fsync) and bounded
//! reads.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::Path;

use crate::MetaError;

/// Makes the directory entry changes in `dir` (creations, renames) durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), MetaError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(MetaError::io(dir, "fsync directory"))
}

/// Replaces `path` with `bytes` so that after a crash it holds either the old or the new
/// contents, never a mix: write `<path>.tmp`, fsync it, rename it over `path`, fsync the
/// directory (created first if missing, and then its parent fsynced too). The one
/// atomic-replace helper of the broker's state files; a leftover `.tmp` from a crash is
/// harmless (the rename never happened) and is overwritten by the next replace.
pub fn replace_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    let created = !dir.is_dir();
    fs::create_dir_all(dir)?;
    let mut tmp_name = path.as_os_str().to_owned();
    tmp_name.push(".tmp");
    let tmp = Path::new(&tmp_name);
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    fs::rename(tmp, path)?;
    File::open(dir)?.sync_all()?;
    if created && let Some(parent) = dir.parent() {
        File::open(parent)?.sync_all()?;
    }
    Ok(())
}

/// [`replace_file`] with the metadata log's error.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), MetaError> {
    replace_file(path, bytes).map_err(MetaError::io(path, "replace"))
}

/// The whole file at `path`, or `None` when it does not exist. A file over `max` bytes is an
/// error naming it (`InvalidData`), detected by reading one byte past the bound, so a huge or
/// growing file is never read whole nor silently cut. The one bounded read of a state file for
/// every crate above this one, as [`replace_file`] is the one atomic write.
pub fn read_bounded_file(path: &Path, max: u64) -> std::io::Result<Option<Vec<u8>>> {
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut bytes = Vec::new();
    file.take(max.saturating_add(1)).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("{} is larger than {max} bytes", path.display()),
        ));
    }
    Ok(Some(bytes))
}

/// [`read_bounded_file`] with the metadata log's error: a file over `max` bytes is corrupt.
pub(crate) fn read_bounded(path: &Path, max: u64) -> Result<Option<Vec<u8>>, MetaError> {
    read_bounded_file(path, max).map_err(|e| {
        if e.kind() == std::io::ErrorKind::InvalidData {
            MetaError::Corrupt {
                path: path.to_path_buf(),
                reason: format!("more than the {max} byte limit"),
            }
        } else {
            MetaError::io(path, "read")(e)
        }
    })
}
