//! The open-time walk of the data directory that finds what the catalog does not account for:
//! directories of streams, topics or partitions it does not list (orphans, e.g. left by a crash
//! between removing a topic from the catalog and removing its files) and files the log never
//! writes. Nothing found here is deleted, then or later: the log cannot tell a leftover of a
//! deletion from data whose catalog entry was lost, so orphans are reported and kept. Creates
//! skip their stream and topic ids and refuse their partition ids (see `store.rs`), so stale
//! data is never served either.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use crate::catalog::{
    CATALOG_FILE_NAME, CatalogFile, PARTITIONS_DIR_NAME, STATE_DIR_NAME, STREAMS_DIR_NAME,
    TOPICS_DIR_NAME,
};
use crate::error::{LogError, Result};

/// Something in the data directory that did not match the catalog, and what was done about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataDirFinding {
    /// The file or directory concerned.
    pub path: PathBuf,
    /// What it is and what the log did.
    pub kind: FindingKind,
}

/// The kinds of [`DataDirFinding`], each with the action the log took.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FindingKind {
    /// A file or directory the log never creates at that place. Left alone.
    UnknownEntry,
    /// A stream, topic or partition directory whose id the catalog does not list. Left alone
    /// and never removed by the log: creates skip its id (a stream or topic) or are refused
    /// with [`crate::LogError::UnlistedData`] (a partition) until the operator moves it away.
    OrphanDirectory,
    /// A partition the catalog lists had no directory (data lost outside the log). An empty
    /// partition was created in its place.
    MissingPartitionDirectory,
    /// A `catalog.json.tmp` left by an interrupted catalog write; that change was never
    /// acknowledged, so the file was removed and the previous catalog kept.
    RemovedCatalogTmp,
}

/// One directory entry, with the facts the scan needs.
struct Entry {
    path: PathBuf,
    name: String,
    is_dir: bool,
}

/// Lists a directory; names that are not UTF-8 keep a lossy form (they are unknown anyway).
fn list(dir: &Path) -> Result<Vec<Entry>> {
    let reader = fs::read_dir(dir).map_err(|error| LogError::io(dir, error))?;
    let mut entries = Vec::new();
    for entry in reader {
        let entry = entry.map_err(|error| LogError::io(dir, error))?;
        let path = entry.path();
        let file_type = entry
            .file_type()
            .map_err(|error| LogError::io(&path, error))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        entries.push(Entry {
            path,
            name,
            is_dir: file_type.is_dir(),
        });
    }
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(entries)
}

/// An id directory name is the canonical decimal form of a `u32` ("7", never "07" or "+7").
fn parse_id(name: &str) -> Option<u32> {
    let id: u32 = name.parse().ok()?;
    (id.to_string() == name).then_some(id)
}

/// Reports every entry of `dir` except the one subdirectory `allowed`, and returns that
/// subdirectory if it exists.
fn scan_fixed(
    dir: &Path,
    allowed: &str,
    found: &mut Vec<DataDirFinding>,
) -> Result<Option<PathBuf>> {
    let mut result = None;
    for entry in list(dir)? {
        if entry.is_dir && entry.name == allowed {
            result = Some(entry.path);
        } else {
            found.push(DataDirFinding {
                path: entry.path,
                kind: FindingKind::UnknownEntry,
            });
        }
    }
    Ok(result)
}

/// Splits the entries of a directory of id-named directories: those whose id is in `known` are
/// returned; other id directories are orphans, anything else is unknown.
fn scan_ids<T>(
    dir: &Path,
    known: &BTreeMap<u32, T>,
    found: &mut Vec<DataDirFinding>,
) -> Result<Vec<(u32, PathBuf)>> {
    let mut listed = Vec::new();
    for entry in list(dir)? {
        let id = parse_id(&entry.name).filter(|_| entry.is_dir);
        match id {
            Some(id) if known.contains_key(&id) => listed.push((id, entry.path)),
            Some(_) => found.push(DataDirFinding {
                path: entry.path,
                kind: FindingKind::OrphanDirectory,
            }),
            None => found.push(DataDirFinding {
                path: entry.path,
                kind: FindingKind::UnknownEntry,
            }),
        }
    }
    Ok(listed)
}

/// Walks `<data_dir>` down to the partition directories and reports everything the catalog does
/// not list. The inside of a listed partition directory belongs to the partition's recovery.
pub(crate) fn scan(data_dir: &Path, catalog: &CatalogFile) -> Result<Vec<DataDirFinding>> {
    let mut found = Vec::new();
    for entry in list(data_dir)? {
        let expected = if entry.is_dir {
            entry.name == STREAMS_DIR_NAME || entry.name == STATE_DIR_NAME
        } else {
            entry.name == CATALOG_FILE_NAME
        };
        if !expected {
            found.push(DataDirFinding {
                path: entry.path,
                kind: FindingKind::UnknownEntry,
            });
        }
    }
    let streams_path = data_dir.join(STREAMS_DIR_NAME);
    if !streams_path.is_dir() {
        return Ok(found);
    }
    let streams: BTreeMap<u32, _> = catalog.streams.iter().map(|s| (s.id, s)).collect();
    for (stream_id, stream_path) in scan_ids(&streams_path, &streams, &mut found)? {
        let Some(topics_path) = scan_fixed(&stream_path, TOPICS_DIR_NAME, &mut found)? else {
            continue;
        };
        let Some(stream) = streams.get(&stream_id) else {
            continue;
        };
        let topics: BTreeMap<u32, _> = stream.topics.iter().map(|t| (t.id, t)).collect();
        for (topic_id, topic_path) in scan_ids(&topics_path, &topics, &mut found)? {
            let Some(partitions_path) = scan_fixed(&topic_path, PARTITIONS_DIR_NAME, &mut found)?
            else {
                continue;
            };
            let count = topics
                .get(&topic_id)
                .map_or(0, |topic| topic.partition_count);
            let partitions: BTreeMap<u32, ()> = (0..count).map(|p| (p, ())).collect();
            scan_ids(&partitions_path, &partitions, &mut found)?;
        }
    }
    Ok(found)
}
