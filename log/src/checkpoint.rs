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

/// Persists `start` as the partition's log start offset.
pub(crate) fn write_log_start(dir: &Path, start: u64) -> Result<()> {
    let tmp = dir.join(LOG_START_TEMP_FILE_NAME);
    let path = dir.join(LOG_START_FILE_NAME);
    let mut f = File::create(&tmp).map_err(|e| LogError::io(&tmp, e))?;
    f.write_all(&encode(start))
        .and_then(|()| f.sync_all())
        .map_err(|e| LogError::io(&tmp, e))?;
    std::fs::rename(&tmp, &path).map_err(|e| LogError::io(&path, e))?;
    sync_dir(dir)
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
