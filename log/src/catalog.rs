//! The persisted catalog: which streams, topics and partitions exist, with their names, creation
//! times and topic settings ([`CatalogFile`]), and its file form, `<data_dir>/catalog.json`,
//! replaced atomically (temp file, fsync, rename, fsync of the directory) so a crash leaves
//! either the old or the new catalog, never a mix. Where the catalog is kept is a seam
//! ([`crate::CatalogStore`]); the file is its default. Directories on disk are named by id only;
//! names never reach a path.
//!
//! This module is pure data plus file I/O: it knows nothing of open partitions. [`crate::Log`] is
//! the one owner that keeps the in-memory snapshot and the stored catalog in step.

use std::collections::BTreeSet;
use std::fs::{self, File};
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::config::TopicSettings;
use crate::error::{LogError, Result};
use crate::limits;

/// Name of the catalog file inside the data directory.
pub const CATALOG_FILE_NAME: &str = "catalog.json";
/// The one directory in the data directory that belongs to the log's callers (the broker's
/// cluster id, producer snapshots, committed offsets): the log creates it, never reports it as
/// unknown and never looks inside.
pub const STATE_DIR_NAME: &str = "state";
/// Name of the temporary file a new catalog is written to before the rename.
pub const CATALOG_TMP_FILE_NAME: &str = "catalog.json.tmp";
/// Version of the catalog file format; bumped on any change old code could misread.
pub const CATALOG_FORMAT_VERSION: u32 = 1;

/// Directory holding every stream's directory, relative to the data directory.
pub(crate) const STREAMS_DIR_NAME: &str = "streams";
/// Directory holding a stream's topic directories, relative to the stream directory.
pub(crate) const TOPICS_DIR_NAME: &str = "topics";
/// Directory holding a topic's partition directories, relative to the topic directory.
pub(crate) const PARTITIONS_DIR_NAME: &str = "partitions";

/// `<data_dir>/streams`: parent of all stream directories.
pub(crate) fn streams_dir(data_dir: &Path) -> PathBuf {
    data_dir.join(STREAMS_DIR_NAME)
}

/// `<data_dir>/streams/<stream_id>`: everything one stream stores.
pub(crate) fn stream_dir(data_dir: &Path, stream_id: u32) -> PathBuf {
    streams_dir(data_dir).join(stream_id.to_string())
}

/// `<data_dir>/streams/<stream_id>/topics/<topic_id>`: everything one topic stores.
pub(crate) fn topic_dir(data_dir: &Path, stream_id: u32, topic_id: u32) -> PathBuf {
    stream_dir(data_dir, stream_id)
        .join(TOPICS_DIR_NAME)
        .join(topic_id.to_string())
}

/// `<data_dir>/streams/<s>/topics/<t>/partitions/<p>`: the directory a partition log owns.
pub(crate) fn partition_dir(
    data_dir: &Path,
    stream_id: u32,
    topic_id: u32,
    partition_id: u32,
) -> PathBuf {
    topic_dir(data_dir, stream_id, topic_id)
        .join(PARTITIONS_DIR_NAME)
        .join(partition_id.to_string())
}

/// Checks a stream or topic name. Names are shown to operators and matched by clients, so they
/// must be non-empty, bounded, and free of control characters that would confuse a terminal.
/// The log only ever puts ids into paths, so any other character (`/` included, as the Iggy
/// server accepts) is allowed; Kafka's stricter topic-name rules apply at the Kafka boundary.
pub fn validate_name(name: &str) -> Result<()> {
    let refuse = |reason: &'static str| {
        Err(LogError::InvalidName {
            name: name.chars().take(limits::NAME_BYTES_MAX).collect(),
            reason,
        })
    };
    if name.is_empty() {
        return refuse("empty");
    }
    if name.len() > limits::NAME_BYTES_MAX {
        return refuse("longer than NAME_BYTES_MAX bytes");
    }
    if name == "." || name == ".." {
        return refuse("reserved path component");
    }
    if name.chars().any(char::is_control) {
        return refuse("contains a control character");
    }
    Ok(())
}

/// The smallest id not in `used`, or `None` when every id below `max` is taken. Ids are handed
/// out lowest-free-first so that deleted ids are reused, as Iggy does, and ids stay small.
pub(crate) fn lowest_free_id(used: impl IntoIterator<Item = u32>, max: u32) -> Option<u32> {
    let used: BTreeSet<u32> = used.into_iter().collect();
    let mut candidate = 0u32;
    for id in used {
        if id != candidate {
            break;
        }
        candidate = candidate.checked_add(1)?;
    }
    (candidate < max).then_some(candidate)
}

/// On-disk shape of the whole catalog. Field names are part of the file format.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogFile {
    /// Always [`CATALOG_FORMAT_VERSION`] when written; anything else is refused on read.
    pub format_version: u32,
    /// Every stream, in id order.
    pub streams: Vec<StreamRecord>,
}

/// On-disk shape of one stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamRecord {
    /// Names the stream's directory.
    pub id: u32,
    /// Unique among streams.
    pub name: String,
    /// Microseconds since the Unix epoch.
    pub created_at_us: i64,
    /// The stream's topics, in id order.
    pub topics: Vec<TopicRecord>,
}

/// On-disk shape of one topic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopicRecord {
    /// Names the topic's directory; unique within the stream.
    pub id: u32,
    /// Unique within the stream.
    pub name: String,
    /// Microseconds since the Unix epoch.
    pub created_at_us: i64,
    /// Partitions are `0..partition_count`.
    pub partition_count: u32,
    /// The topic's settings, pushed to each partition when it is opened.
    pub settings: TopicSettings,
    /// Each partition's log start by partition id (moved forward by delete-records and
    /// retention), kept here only when the catalog store keeps log starts
    /// ([`crate::CatalogStore::keeps_log_starts`]); empty otherwise (the partitions keep their
    /// own `log_start.offset`), when every start is 0, and in catalogs of earlier versions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub log_starts: Vec<u64>,
}

impl CatalogFile {
    /// A catalog with no streams, as written the first time a data directory is opened.
    pub fn empty() -> Self {
        Self {
            format_version: CATALOG_FORMAT_VERSION,
            streams: Vec::new(),
        }
    }

    /// Checks everything a hand-edited or damaged file could get wrong that serde does not:
    /// version, id ranges, unique ids and names, valid names, partition counts and settings.
    pub fn check(&self) -> std::result::Result<(), String> {
        if self.format_version != CATALOG_FORMAT_VERSION {
            return Err(format!(
                "unsupported format_version {} (this build reads {CATALOG_FORMAT_VERSION})",
                self.format_version
            ));
        }
        let mut ids = BTreeSet::new();
        let mut names = BTreeSet::new();
        for stream in &self.streams {
            if stream.id >= limits::STREAMS_MAX {
                return Err(format!("stream id {} not below STREAMS_MAX", stream.id));
            }
            if !ids.insert(stream.id) {
                return Err(format!("stream id {} appears twice", stream.id));
            }
            if !names.insert(stream.name.as_str()) {
                return Err(format!("stream name {:?} appears twice", stream.name));
            }
            validate_name(&stream.name)
                .map_err(|error| format!("stream {}: {error}", stream.id))?;
            check_topics(stream)?;
        }
        Ok(())
    }
}

/// The per-stream half of [`CatalogFile::check`].
fn check_topics(stream: &StreamRecord) -> std::result::Result<(), String> {
    let mut ids = BTreeSet::new();
    let mut names = BTreeSet::new();
    for topic in &stream.topics {
        let at = format!("stream {} topic {}", stream.id, topic.id);
        if topic.id >= limits::TOPICS_PER_STREAM_MAX {
            return Err(format!("{at}: id not below TOPICS_PER_STREAM_MAX"));
        }
        if !ids.insert(topic.id) {
            return Err(format!("{at}: id appears twice"));
        }
        if !names.insert(topic.name.as_str()) {
            return Err(format!("{at}: name {:?} appears twice", topic.name));
        }
        validate_name(&topic.name).map_err(|error| format!("{at}: {error}"))?;
        if topic.partition_count > limits::PARTITIONS_PER_TOPIC_MAX {
            return Err(format!(
                "{at}: partition_count {} above PARTITIONS_PER_TOPIC_MAX",
                topic.partition_count
            ));
        }
        topic
            .settings
            .validate()
            .map_err(|error| format!("{at}: {error}"))?;
        if topic.log_starts.len() as u64 > u64::from(topic.partition_count) {
            return Err(format!("{at}: more log starts than partitions"));
        }
    }
    Ok(())
}

/// What loading the catalog found besides the catalog itself.
#[derive(Debug, Default)]
pub(crate) struct LoadOutcome {
    /// The catalog, or `None` when the data directory has never had one.
    pub catalog: Option<CatalogFile>,
    /// A leftover temp file from an interrupted write, which was removed.
    pub removed_tmp: Option<PathBuf>,
}

/// Reads `<data_dir>/catalog.json`. A leftover `catalog.json.tmp` is an unfinished write whose
/// operation was never acknowledged, so it is removed (and reported). A file that cannot be
/// parsed or fails [`CatalogFile::check`] is [`LogError::CorruptCatalog`] naming the file. A
/// missing file means a fresh data directory only when `streams/` holds nothing; otherwise the
/// catalog was lost or moved, and the data it described must not be taken for orphans, so the
/// answer is [`LogError::MissingCatalog`] (with nothing touched, the temp file included).
pub(crate) fn load(data_dir: &Path) -> Result<LoadOutcome> {
    let path = data_dir.join(CATALOG_FILE_NAME);
    let file = match File::open(&path) {
        Ok(file) => Some(file),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
        Err(error) => return Err(LogError::io(path, error)),
    };
    if file.is_none() {
        refuse_if_streams_remain(data_dir, &path)?;
    }
    let tmp_path = data_dir.join(CATALOG_TMP_FILE_NAME);
    let removed_tmp = match fs::remove_file(&tmp_path) {
        Ok(()) => Some(tmp_path),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
        Err(error) => return Err(LogError::io(tmp_path, error)),
    };
    let Some(file) = file else {
        return Ok(LoadOutcome {
            catalog: None,
            removed_tmp,
        });
    };
    let bytes = read_bounded(file, &path)?;
    let corrupt = |reason: String| LogError::CorruptCatalog {
        path: path.clone(),
        reason,
    };
    let catalog: CatalogFile =
        serde_json::from_slice(&bytes).map_err(|error| corrupt(error.to_string()))?;
    catalog.check().map_err(corrupt)?;
    Ok(LoadOutcome {
        catalog: Some(catalog),
        removed_tmp,
    })
}

/// With no catalog (at `catalog_path`), `<data_dir>/streams` must be absent or empty: anything
/// in it was written under a catalog that is now missing ([`LogError::MissingCatalog`]).
pub fn refuse_if_streams_remain(data_dir: &Path, catalog_path: &Path) -> Result<()> {
    let streams_dir = streams_dir(data_dir);
    let mut entries = match fs::read_dir(&streams_dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(error) => return Err(LogError::io(streams_dir, error)),
    };
    match entries.next() {
        None => Ok(()),
        Some(Err(error)) => Err(LogError::io(streams_dir, error)),
        Some(Ok(_)) => Err(LogError::MissingCatalog {
            path: catalog_path.to_path_buf(),
            streams_dir,
        }),
    }
}

/// Reads a whole catalog file, refusing one above [`limits::CATALOG_BYTES_MAX`] before
/// allocating for it.
fn read_bounded(file: File, path: &Path) -> Result<Vec<u8>> {
    let len = file
        .metadata()
        .map_err(|error| LogError::io(path, error))?
        .len();
    if len > limits::CATALOG_BYTES_MAX {
        return Err(LogError::CorruptCatalog {
            path: path.to_path_buf(),
            reason: format!("{len} bytes, above CATALOG_BYTES_MAX"),
        });
    }
    let capacity = usize::try_from(len).unwrap_or(0);
    let mut bytes = Vec::with_capacity(capacity);
    // `take` guards against the file growing between the metadata call and the read.
    file.take(limits::CATALOG_BYTES_MAX + 1)
        .read_to_end(&mut bytes)
        .map_err(|error| LogError::io(path, error))?;
    if bytes.len() as u64 > limits::CATALOG_BYTES_MAX {
        return Err(LogError::CorruptCatalog {
            path: path.to_path_buf(),
            reason: "grew above CATALOG_BYTES_MAX while being read".to_string(),
        });
    }
    Ok(bytes)
}

/// Replaces `<data_dir>/catalog.json` atomically and durably: write the temp file, fsync it,
/// rename it over the old catalog, fsync the directory so the rename itself survives a crash.
pub(crate) fn store(data_dir: &Path, catalog: &CatalogFile) -> Result<()> {
    let bytes = serde_json::to_vec_pretty(catalog).map_err(|error| LogError::CorruptCatalog {
        path: data_dir.join(CATALOG_FILE_NAME),
        reason: format!("cannot serialise: {error}"),
    })?;
    crate::checkpoint::replace_file(
        &data_dir.join(CATALOG_TMP_FILE_NAME),
        &data_dir.join(CATALOG_FILE_NAME),
        &bytes,
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn lowest_free_id_fills_gaps_first() {
        assert_eq!(lowest_free_id([], 10), Some(0));
        assert_eq!(lowest_free_id([0, 1, 2], 10), Some(3));
        assert_eq!(lowest_free_id([0, 2], 10), Some(1));
        assert_eq!(lowest_free_id([1, 2], 10), Some(0));
        assert_eq!(lowest_free_id([2, 0, 1, 4], 10), Some(3));
        assert_eq!(lowest_free_id([0, 1], 2), None);
        assert_eq!(lowest_free_id([], 0), None);
    }

    #[test]
    fn names_are_checked() {
        for good in [
            "a",
            "orders.v2",
            "with space",
            "ünïcode",
            "a/b",
            "/",
            &"x".repeat(limits::NAME_BYTES_MAX),
        ] {
            assert!(validate_name(good).is_ok(), "{good:?}");
        }
        let too_long = "x".repeat(limits::NAME_BYTES_MAX + 1);
        for bad in [
            "",
            ".",
            "..",
            "tab\there",
            "nl\n",
            "\u{7f}",
            too_long.as_str(),
        ] {
            assert!(
                matches!(validate_name(bad), Err(LogError::InvalidName { .. })),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn check_refuses_duplicates_and_bad_versions() {
        let topic = TopicRecord {
            id: 0,
            name: "t".into(),
            created_at_us: 1,
            partition_count: 1,
            settings: TopicSettings::default(),
            log_starts: Vec::new(),
        };
        let stream = StreamRecord {
            id: 0,
            name: "s".into(),
            created_at_us: 1,
            topics: vec![],
        };
        let mut file = CatalogFile::empty();
        file.streams.push(StreamRecord {
            topics: vec![topic.clone()],
            ..stream.clone()
        });
        assert!(file.check().is_ok());

        let mut twice = file.clone();
        twice.streams.push(StreamRecord {
            id: 1,
            ..file.streams[0].clone()
        });
        assert!(twice.check().unwrap_err().contains("name"));

        let mut topic_twice = file.clone();
        topic_twice.streams[0].topics.push(TopicRecord {
            name: "u".into(),
            ..topic.clone()
        });
        assert!(
            topic_twice
                .check()
                .unwrap_err()
                .contains("id appears twice")
        );

        let mut version = file.clone();
        version.format_version = CATALOG_FORMAT_VERSION + 1;
        assert!(version.check().unwrap_err().contains("format_version"));

        let mut partitions = file;
        partitions.streams[0].topics[0].partition_count = limits::PARTITIONS_PER_TOPIC_MAX + 1;
        assert!(partitions.check().unwrap_err().contains("partition_count"));
    }
}
