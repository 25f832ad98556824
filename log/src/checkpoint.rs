//! The persisted log start offset of a partition (moved forward by Kafka DeleteRecords). A tiny
//! file, `log_start.offset`, written atomically: temp file, fsync, rename, fsync of the directory.
//! Layout: `magic "WPLS", version, 3 reserved, start offset u64 LE, CRC-32C of the first 16 bytes`.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{LogError, Result};

/// File name of the checkpoint inside a partition directory.
pub(crate) const LOG_START_FILE_NAME: &str = "log_start.offset";
/// Name of the temporary file the checkpoint is written to before the rename.
pub(crate) const LOG_START_TEMP_FILE_NAME: &str = "log_start.offset.tmp";
const MAGIC: [u8; 4] = *b"WPLS";
const VERSION: u8 = 1;
const FILE_BYTES: usize = 20;

fn encode(start: u64) -> [u8; FILE_BYTES] {
    let mut b = [0u8; FILE_BYTES];
    b[0..4].copy_from_slice(&MAGIC);
    b[4] = VERSION;
    b[8..16].copy_from_slice(&start.to_le_bytes());
    let crc = crc32c::crc32c(&b[0..16]);
    b[16..20].copy_from_slice(&crc.to_le_bytes());
    b
}

fn decode(b: &[u8]) -> Result<u64, &'static str> {
    let b: &[u8; FILE_BYTES] = b.try_into().map_err(|_| "wrong length")?;
    if b[0..4] != MAGIC || b[4] != VERSION {
        return Err("bad magic or version");
    }
    if crc32c::crc32c(&b[0..16]) != u32::from_le_bytes([b[16], b[17], b[18], b[19]]) {
        return Err("checksum mismatch");
    }
    let mut v = [0u8; 8];
    v.copy_from_slice(&b[8..16]);
    Ok(u64::from_le_bytes(v))
}

/// fsyncs a directory so renames and file creations in it survive a crash.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| LogError::io(dir, e))
}

/// The log's one atomic replace: writes `bytes` to `tmp`, fsyncs it, renames it over `path` and
/// fsyncs the directory, so after a crash `path` holds the old or the new contents, never a mix.
pub(crate) fn replace_file(tmp: &Path, path: &Path, bytes: &[u8]) -> Result<()> {
    let mut f = File::create(tmp).map_err(|e| LogError::io(tmp, e))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(|e| LogError::io(tmp, e))?;
    drop(f);
    std::fs::rename(tmp, path).map_err(|e| LogError::io(path, e))?;
    sync_dir(path.parent().unwrap_or_else(|| Path::new(".")))
}

/// Persists `start` as the partition's log start offset.
pub(crate) fn write_log_start(dir: &Path, start: u64) -> Result<()> {
    let tmp = dir.join(LOG_START_TEMP_FILE_NAME);
    replace_file(&tmp, &dir.join(LOG_START_FILE_NAME), &encode(start))
}

/// Forgets the persisted start offset (purge).
pub(crate) fn remove_log_start(dir: &Path) -> Result<()> {
    let path = dir.join(LOG_START_FILE_NAME);
    match std::fs::remove_file(&path) {
        Ok(()) => sync_dir(dir),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(LogError::io(path, e)),
    }
}

/// Reads the persisted start offset: `Ok(None)` when there is none, `Err((path, reason))` when
/// the file is unreadable or damaged (recovery reports it and falls back to the segments).
pub(crate) fn read_log_start(dir: &Path) -> Result<Option<u64>, (PathBuf, String)> {
    let path = dir.join(LOG_START_FILE_NAME);
    match std::fs::metadata(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err((path, e.to_string())),
        Ok(m) if m.len() != FILE_BYTES as u64 => return Err((path, "wrong length".to_string())),
        Ok(_) => {}
    }
    let bytes = std::fs::read(&path).map_err(|e| (path.clone(), e.to_string()))?;
    decode(&bytes)
        .map(Some)
        .map_err(|why| (path, why.to_string()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn round_trips_and_rejects_damage() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read_log_start(dir.path()).unwrap(), None);
        write_log_start(dir.path(), 77).unwrap();
        assert_eq!(read_log_start(dir.path()).unwrap(), Some(77));
        let path = dir.path().join(LOG_START_FILE_NAME);
        let mut b = std::fs::read(&path).unwrap();
        b[9] ^= 1;
        std::fs::write(&path, b).unwrap();
        assert!(read_log_start(dir.path()).is_err());
        remove_log_start(dir.path()).unwrap();
        assert_eq!(read_log_start(dir.path()).unwrap(), None);
    }
}

/// File name of the clean-shutdown marker inside a partition directory.
pub(crate) const CLEAN_SHUTDOWN_FILE_NAME: &str = "clean.shutdown";
const CLEAN_MAGIC: [u8; 4] = *b"WPCS";
const PAIR_FILE_BYTES: usize = 28;

/// Where the active segment ended when the partition was closed cleanly: recovery may then trust
/// that segment like a rolled one (checked from its last index entry, not frame by frame from
/// the start), which keeps opening a large partition in the millisecond range. The marker is
/// only believed when the segment's base offset and file size still match it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CleanShutdown {
    pub(crate) segment_base: u64,
    pub(crate) segment_size: u64,
}

impl CleanShutdown {
    fn encode(&self) -> [u8; PAIR_FILE_BYTES] {
        encode_pair(CLEAN_MAGIC, self.segment_base, self.segment_size)
    }

    fn decode(b: &[u8]) -> Option<Self> {
        let (segment_base, segment_size) = decode_pair(CLEAN_MAGIC, b)?;
        Some(Self {
            segment_base,
            segment_size,
        })
    }
}

/// A file of two values: `magic, version, 3 reserved, a u64 LE, b u64 LE, CRC-32C of the
/// first 24 bytes`.
fn encode_pair(magic: [u8; 4], a: u64, b: u64) -> [u8; PAIR_FILE_BYTES] {
    let mut out = [0u8; PAIR_FILE_BYTES];
    out[0..4].copy_from_slice(&magic);
    out[4] = VERSION;
    out[8..16].copy_from_slice(&a.to_le_bytes());
    out[16..24].copy_from_slice(&b.to_le_bytes());
    let crc = crc32c::crc32c(&out[0..24]);
    out[24..28].copy_from_slice(&crc.to_le_bytes());
    out
}

fn decode_pair(magic: [u8; 4], b: &[u8]) -> Option<(u64, u64)> {
    let b: &[u8; PAIR_FILE_BYTES] = b.try_into().ok()?;
    let crc = u32::from_le_bytes([b[24], b[25], b[26], b[27]]);
    if b[0..4] != magic || b[4] != VERSION || crc32c::crc32c(&b[0..24]) != crc {
        return None;
    }
    let u64_at = |i: usize| {
        let mut v = [0u8; 8];
        v.copy_from_slice(&b[i..i + 8]);
        u64::from_le_bytes(v)
    };
    Some((u64_at(8), u64_at(16)))
}

/// File name of the remote-range checkpoint inside a partition directory: which offsets below
/// its local segments the remote tier holds, written before local retention removes a segment
/// so a restart keeps the log start there even before the tier's reader is back.
pub(crate) const REMOTE_RANGE_FILE_NAME: &str = "remote.range";
/// Name of the temporary file the remote range is written to before the rename.
pub(crate) const REMOTE_RANGE_TEMP_FILE_NAME: &str = "remote.range.tmp";
const REMOTE_MAGIC: [u8; 4] = *b"WPRR";

/// Persists that the remote tier holds offsets `start..end`.
pub(crate) fn write_remote_range(dir: &Path, start: u64, end: u64) -> Result<()> {
    let tmp = dir.join(REMOTE_RANGE_TEMP_FILE_NAME);
    let path = dir.join(REMOTE_RANGE_FILE_NAME);
    replace_file(&tmp, &path, &encode_pair(REMOTE_MAGIC, start, end))
}

/// The persisted remote range: `Ok(None)` when there is none, `Err` (path, reason) when the
/// file is damaged (recovery reports it and starts at the local segments).
pub(crate) fn read_remote_range(dir: &Path) -> Result<Option<(u64, u64)>, (PathBuf, String)> {
    let path = dir.join(REMOTE_RANGE_FILE_NAME);
    match std::fs::read(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err((path, e.to_string())),
        Ok(bytes) => decode_pair(REMOTE_MAGIC, &bytes)
            .map(Some)
            .ok_or((path, "damaged remote range checkpoint".to_string())),
    }
}

/// Forgets the remote range (purge).
pub(crate) fn remove_remote_range(dir: &Path) -> Result<()> {
    let path = dir.join(REMOTE_RANGE_FILE_NAME);
    match std::fs::remove_file(&path) {
        Ok(()) => sync_dir(dir),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(LogError::io(path, e)),
    }
}

/// Writes the clean-shutdown marker. Call only after everything it describes was synced. It
/// is not synced here: the log syncs the whole file system once after writing every
/// partition's marker ([`sync_file_system`]), instead of two syncs per partition. A marker lost
/// to a crash before that only makes the next open scan, and one that survives describes
/// synced data (a torn one fails its decode and counts as missing).
pub(crate) fn write_clean_shutdown(dir: &Path, marker: CleanShutdown) -> Result<()> {
    let path = dir.join(CLEAN_SHUTDOWN_FILE_NAME);
    let mut f = File::create(&path).map_err(|e| LogError::io(&path, e))?;
    f.write_all(&marker.encode())
        .map_err(|e| LogError::io(&path, e))
}

/// `syncfs` of the file system holding `dir`: every file and directory written on it so far is
/// durable once it returns.
pub(crate) fn sync_file_system(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| rustix::fs::syncfs(&d).map_err(std::io::Error::from))
        .map_err(|e| LogError::io(dir, e))
}

/// Reads and removes the clean-shutdown marker, so that a crash after this open is never taken
/// for a clean shutdown. A missing, unreadable or damaged marker means "not clean".
pub(crate) fn take_clean_shutdown(dir: &Path) -> Option<CleanShutdown> {
    let path = dir.join(CLEAN_SHUTDOWN_FILE_NAME);
    let bytes = std::fs::read(&path).ok()?;
    if let Err(e) = std::fs::remove_file(&path) {
        tracing::warn!(path = %path.display(), error = %e, "could not remove the clean-shutdown marker; scanning fully");
        return None;
    }
    CleanShutdown::decode(&bytes)
}

#[cfg(test)]
mod clean_shutdown_tests {
    use super::*;

    #[test]
    fn remote_range_round_trips_and_rejects_damage() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read_remote_range(dir.path()).unwrap(), None);
        write_remote_range(dir.path(), 5, 900).unwrap();
        assert_eq!(read_remote_range(dir.path()).unwrap(), Some((5, 900)));
        let path = dir.path().join(REMOTE_RANGE_FILE_NAME);
        let mut b = std::fs::read(&path).unwrap();
        b[17] ^= 1;
        std::fs::write(&path, b).unwrap();
        assert!(read_remote_range(dir.path()).is_err());
        remove_remote_range(dir.path()).unwrap();
        assert_eq!(read_remote_range(dir.path()).unwrap(), None);
    }

    #[test]
    fn marker_round_trips_and_is_consumed() {
        let dir = tempfile::tempdir().unwrap();
        let m = CleanShutdown {
            segment_base: 42,
            segment_size: 4096,
        };
        write_clean_shutdown(dir.path(), m).unwrap();
        assert_eq!(take_clean_shutdown(dir.path()), Some(m));
        assert_eq!(
            take_clean_shutdown(dir.path()),
            None,
            "a marker is used once"
        );
    }

    #[test]
    fn damaged_marker_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let m = CleanShutdown {
            segment_base: 1,
            segment_size: 2,
        };
        let mut bytes = m.encode();
        bytes[10] ^= 1;
        std::fs::write(dir.path().join(CLEAN_SHUTDOWN_FILE_NAME), bytes).unwrap();
        assert_eq!(take_clean_shutdown(dir.path()), None);
        assert!(!dir.path().join(CLEAN_SHUTDOWN_FILE_NAME).exists());
    }
}
