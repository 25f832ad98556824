//! Durability of native consumer group definitions (not memberships: those belong to live
//! connections and end with them). One small JSON file under the broker's state directory,
//! replaced atomically: written to a temporary file, fsynced, renamed over the old one, and the
//! directory fsynced, so after a crash the file holds either the old or the new set, never a mix.
//!
//! Writers may race (two creates on two connections); each save carries a sequence number
//! taken under the table lock, and a save older than the last one written is skipped, so the
//! file never goes back to an older set.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::limits::NATIVE_GROUPS_FILE_BYTES_MAX;
use whippet_coordinator::native_groups::StoredGroup;

/// File name of the definitions under the state directory.
pub(crate) const GROUPS_FILE: &str = "native_groups.json";
/// The temporary file a save writes before its rename.
#[cfg(test)]
const TMP_FILE: &str = "native_groups.json.tmp";
/// Format version written in the file; a file with another version is refused at startup
/// rather than misread.
const FORMAT_VERSION: u32 = 1;

#[derive(Debug, Serialize, Deserialize)]
struct GroupsFile {
    version: u32,
    groups: Vec<StoredGroup>,
}

/// Where definitions are written, and which save was written last.
#[derive(Debug)]
pub(crate) struct Persister {
    /// `None`: nothing is persisted (in-memory state for tests and embedding).
    dir: Option<PathBuf>,
    /// Sequence number of the last save written.
    written: Mutex<u64>,
}

impl Persister {
    /// A persister writing into `dir`.
    pub fn new(dir: &Path) -> Self {
        Self {
            dir: Some(dir.to_path_buf()),
            written: Mutex::new(0),
        }
    }

    /// The file written (a placeholder name when nothing is persisted), for error reports.
    pub fn path(&self) -> std::path::PathBuf {
        self.dir
            .as_deref()
            .map_or_else(|| PathBuf::from(GROUPS_FILE), |dir| dir.join(GROUPS_FILE))
    }

    /// A persister that writes nothing.
    pub fn in_memory() -> Self {
        Self {
            dir: None,
            written: Mutex::new(0),
        }
    }

    /// Writes `groups` unless a newer save (higher `seq`) was already written. Blocking: call
    /// it off the async path.
    pub fn save(&self, seq: u64, groups: Vec<StoredGroup>) -> std::io::Result<()> {
        let Some(dir) = &self.dir else {
            return Ok(());
        };
        // Held across the write so two saves never interleave; a poisoned lock only means an
        // earlier save panicked, and the number it guards is still meaningful.
        let mut written = self
            .written
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if seq <= *written {
            return Ok(());
        }
        write_atomically(
            dir,
            &GroupsFile {
                version: FORMAT_VERSION,
                groups,
            },
        )?;
        *written = seq;
        Ok(())
    }
}

fn write_atomically(dir: &Path, contents: &GroupsFile) -> std::io::Result<()> {
    let json = serde_json::to_vec(contents).map_err(std::io::Error::other)?;
    whippet_meta::replace_file(&dir.join(GROUPS_FILE), &json)
}

/// Reads the definitions saved in `dir`; none when no file exists yet. A leftover temporary
/// file from a crash mid-write is ignored (the rename never happened).
pub(crate) fn load(dir: &Path) -> Result<Vec<StoredGroup>, String> {
    let path = dir.join(GROUPS_FILE);
    let file = match File::open(&path) {
        Ok(file) => file,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(format!("{}: {error}", path.display())),
    };
    let mut bytes = Vec::new();
    file.take(NATIVE_GROUPS_FILE_BYTES_MAX + 1)
        .read_to_end(&mut bytes)
        .map_err(|error| format!("{}: {error}", path.display()))?;
    if bytes.len() as u64 > NATIVE_GROUPS_FILE_BYTES_MAX {
        return Err(format!(
            "{}: larger than {NATIVE_GROUPS_FILE_BYTES_MAX} bytes",
            path.display()
        ));
    }
    let parsed: GroupsFile = serde_json::from_slice(&bytes)
        .map_err(|error| format!("{}: not a consumer group file: {error}", path.display()))?;
    if parsed.version != FORMAT_VERSION {
        return Err(format!(
            "{}: format version {} (expected {FORMAT_VERSION})",
            path.display(),
            parsed.version
        ));
    }
    Ok(parsed.groups)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::fs;

    use super::*;

    fn group(id: u32, name: &str) -> StoredGroup {
        StoredGroup {
            stream: 1,
            topic: 2,
            id,
            name: name.into(),
        }
    }

    #[test]
    fn saves_replace_and_older_saves_are_skipped() {
        let dir = tempfile::tempdir().unwrap();
        assert!(load(dir.path()).unwrap().is_empty());
        let persister = Persister::new(dir.path());
        persister.save(1, vec![group(0, "a")]).unwrap();
        persister
            .save(3, vec![group(0, "a"), group(1, "b")])
            .unwrap();
        persister.save(2, vec![]).unwrap();
        assert_eq!(
            load(dir.path()).unwrap(),
            vec![group(0, "a"), group(1, "b")]
        );
        assert!(!dir.path().join(TMP_FILE).exists());
    }

    #[test]
    fn bad_files_are_refused_not_misread() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(GROUPS_FILE), b"{not json").unwrap();
        assert!(load(dir.path()).is_err());
        fs::write(
            dir.path().join(GROUPS_FILE),
            br#"{"version":9,"groups":[]}"#,
        )
        .unwrap();
        assert!(load(dir.path()).unwrap_err().contains("version"));
        // A leftover temporary file does not matter.
        fs::write(
            dir.path().join(GROUPS_FILE),
            br#"{"version":1,"groups":[]}"#,
        )
        .unwrap();
        fs::write(dir.path().join(TMP_FILE), b"garbage").unwrap();
        assert!(load(dir.path()).unwrap().is_empty());
    }

    #[test]
    fn in_memory_writes_nothing() {
        Persister::in_memory().save(1, vec![group(0, "a")]).unwrap();
    }
}
