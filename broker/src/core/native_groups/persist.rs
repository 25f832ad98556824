//! Durability of native consumer group definitions (not memberships: those belong to live
//! connections and end with them). The definitions live on the metadata log
//! ([`crate::core::meta`]): each change queues the whole set as it now is, while the table
//! lock is held, so concurrent changes reach the log in the order they were made to the table;
//! create and delete answer once their command is durable.
//!
//! Data dirs from before the metadata log kept them in `native_groups.json` under the state
//! directory; [`migrate`] moves that file's groups onto the log once, then removes it.

use std::path::Path;
use std::sync::Arc;

use serde::Deserialize;
use tokio::sync::oneshot;
use whippet_coordinator::native_groups::StoredGroup;

use crate::core::meta::{Answer, Meta, MetaCommand};
use crate::limits::NATIVE_GROUPS_FILE_BYTES_MAX;

/// File name of the definitions under the state directory of older data dirs.
pub(crate) const GROUPS_FILE: &str = "native_groups.json";
/// The only format version that file had.
const FORMAT_VERSION: u32 = 1;

#[derive(Debug, Deserialize)]
struct GroupsFile {
    version: u32,
    groups: Vec<StoredGroup>,
}

/// Where definitions are written.
#[derive(Debug, Default)]
pub(crate) struct Persister {
    /// `None`: nothing is persisted (in-memory state for tests and embedding).
    meta: Option<Arc<Meta>>,
}

impl Persister {
    /// A persister writing to the metadata log.
    pub fn new(meta: Arc<Meta>) -> Self {
        Self { meta: Some(meta) }
    }

    /// Where the definitions are kept, for error reports.
    pub fn path(&self) -> std::path::PathBuf {
        self.meta.as_ref().map_or_else(
            || std::path::PathBuf::from("<memory>"),
            |meta| meta.dir().to_path_buf(),
        )
    }

    /// The definitions stored on the metadata log (none in memory).
    pub fn stored(&self) -> Vec<StoredGroup> {
        self.meta
            .as_ref()
            .map(|meta| meta.load().native_groups.to_vec())
            .unwrap_or_default()
    }

    /// Queues `groups` as the new set of definitions; `None` when nothing is persisted. Call
    /// it under the table lock, so sets are queued in the order the table changed.
    pub fn queue(&self, groups: Vec<StoredGroup>) -> Option<oneshot::Receiver<Answer>> {
        self.meta
            .as_ref()
            .map(|meta| meta.enqueue(MetaCommand::NativeGroups(groups)))
    }
}

/// Moves the definitions of an older data dir's file onto the metadata log (when the log
/// holds none yet), then removes the file. A file that cannot be read is an error naming it;
/// a leftover temporary file from a crash mid-write is ignored (its rename never happened).
/// Blocking: run at startup.
pub(crate) fn migrate(meta: &Meta, dir: &Path) -> Result<(), String> {
    let path = dir.join(GROUPS_FILE);
    let Some(groups) = load_legacy(&path)? else {
        return Ok(());
    };
    if meta.load().native_groups.is_empty() {
        meta.submit_blocking(MetaCommand::NativeGroups(groups))
            .map_err(|error| format!("{}: cannot migrate: {error}", path.display()))?;
    }
    std::fs::remove_file(&path).map_err(|error| format!("{}: {error}", path.display()))
}

fn load_legacy(path: &Path) -> Result<Option<Vec<StoredGroup>>, String> {
    let Some(bytes) = whippet_meta::read_bounded_file(path, NATIVE_GROUPS_FILE_BYTES_MAX)
        .map_err(|error| format!("{}: {error}", path.display()))?
    else {
        return Ok(None);
    };
    let parsed: GroupsFile = serde_json::from_slice(&bytes)
        .map_err(|error| format!("{}: not a consumer group file: {error}", path.display()))?;
    if parsed.version != FORMAT_VERSION {
        return Err(format!(
            "{}: format version {} (expected {FORMAT_VERSION})",
            path.display(),
            parsed.version
        ));
    }
    Ok(Some(parsed.groups))
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
    fn the_groups_file_of_an_older_data_dir_is_migrated_then_removed() {
        let dir = tempfile::tempdir().unwrap();
        let old = dir.path().join(GROUPS_FILE);
        fs::write(
            &old,
            br#"{"version":1,"groups":[{"stream":1,"topic":2,"id":0,"name":"a"},
                {"stream":1,"topic":2,"id":1,"name":"b"}]}"#,
        )
        .unwrap();
        fs::write(dir.path().join("native_groups.json.tmp"), b"garbage").unwrap();
        let (meta, _) = Meta::open(dir.path()).unwrap();
        migrate(&meta, dir.path()).unwrap();
        assert!(!old.exists());
        drop(meta);
        let (meta, _) = Meta::open(dir.path()).unwrap();
        assert_eq!(
            *meta.load().native_groups,
            vec![group(0, "a"), group(1, "b")]
        );
    }

    #[test]
    fn bad_files_are_refused_not_misread() {
        let dir = tempfile::tempdir().unwrap();
        let (meta, _) = Meta::open(dir.path()).unwrap();
        fs::write(dir.path().join(GROUPS_FILE), b"{not json").unwrap();
        assert!(migrate(&meta, dir.path()).is_err());
        fs::write(
            dir.path().join(GROUPS_FILE),
            br#"{"version":9,"groups":[]}"#,
        )
        .unwrap();
        assert!(migrate(&meta, dir.path()).unwrap_err().contains("version"));
        assert!(
            dir.path().join(GROUPS_FILE).exists(),
            "kept for the operator"
        );
    }

    #[test]
    fn in_memory_writes_nothing() {
        assert!(Persister::default().queue(vec![group(0, "a")]).is_none());
    }
}
