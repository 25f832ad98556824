//! What of the idempotent-producer state reaches the disk, and how. The reserved block of
//! producer ids is metadata and lives on the metadata log (`ProducerStates::allocate_id`); an
//! older data dir's `ids.json` is read here once, for migration. A snapshot of every
//! partition's producer state with the log offset it covers (so a restart rebuilds state by
//! scanning only the frames after that offset, Kafka's approach) is partition data derived from
//! the log, like Kafka's `.snapshot` files, and stays a file of its own (`state.json`, written
//! atomically: temp file, fsync, rename, fsync of the directory).
//!
//! Files live in `<state_dir>/kafka_producers/`. A snapshot that is missing, unreadable or too
//! large is not an error: the log itself is the source of truth and state is rebuilt by
//! scanning it. An unreadable old ids file is an error, because guessing could reuse an id.

use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::sequence::ProducerEntry;
use crate::limits::PRODUCER_SNAPSHOT_FILE_BYTES_MAX;

/// Directory under the data directory holding the producer files.
pub(crate) const PRODUCERS_DIR_NAME: &str = "kafka_producers";
const IDS_FILE_NAME: &str = "ids.json";
const STATE_FILE_NAME: &str = "state.json";
/// Bumped when the layout of either file changes; other versions are not read.
const FORMAT_VERSION: u32 = 1;
/// The ids file is a few dozen bytes; more means it is not ours.
const IDS_FILE_BYTES_MAX: u64 = 4096;

/// Which partition a piece of producer state belongs to. The topic's creation time is part of
/// the key so a topic deleted and re-created under the same id starts with no state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub(crate) struct PartitionKey {
    /// Log stream id.
    pub stream_id: u32,
    /// Log topic id.
    pub topic_id: u32,
    /// The topic's creation time (µs), distinguishing re-creations of one id.
    pub topic_created_at_us: i64,
    /// Partition id.
    pub partition_id: u32,
}

/// One partition's producers as persisted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PartitionSnapshot {
    /// The partition.
    pub key: PartitionKey,
    /// Every idempotent batch below this offset is reflected in `producers`.
    pub covered_offset: u64,
    /// State by producer id.
    pub producers: Vec<(i64, ProducerEntry)>,
}

#[derive(Debug, Serialize, Deserialize)]
struct StateFile {
    version: u32,
    partitions: Vec<PartitionSnapshot>,
}

#[derive(Debug, Deserialize)]
struct IdsFile {
    version: u32,
    /// No id below this was ever handed out by a later block; the next block starts here.
    next_block_start: i64,
}

/// Paths of the producer files under one data directory.
#[derive(Debug, Clone)]
pub(crate) struct ProducerFiles {
    dir: PathBuf,
}

impl ProducerFiles {
    /// The files for `data_dir`; nothing is touched until a read or write.
    pub(crate) fn new(data_dir: &Path) -> Self {
        Self {
            dir: data_dir.join(PRODUCERS_DIR_NAME),
        }
    }

    /// Where the next block of ids starts by the ids file of an older data dir; `None` when
    /// there is no such file.
    pub(crate) fn load_legacy_next_block_start(&self) -> std::io::Result<Option<i64>> {
        let Some(bytes) =
            whippet_meta::read_bounded_file(&self.dir.join(IDS_FILE_NAME), IDS_FILE_BYTES_MAX)?
        else {
            return Ok(None);
        };
        let file: IdsFile = serde_json::from_slice(&bytes).map_err(std::io::Error::other)?;
        if file.version != FORMAT_VERSION || file.next_block_start < 0 {
            return Err(std::io::Error::other(format!(
                "{IDS_FILE_NAME}: unsupported version {} or negative start",
                file.version
            )));
        }
        Ok(Some(file.next_block_start))
    }

    /// Removes the old ids file once its block is on the metadata log.
    pub(crate) fn remove_legacy_ids(&self) -> std::io::Result<()> {
        match fs::remove_file(self.dir.join(IDS_FILE_NAME)) {
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => Err(error),
            _ => Ok(()),
        }
    }

    /// The last snapshot, or nothing if there is none or it cannot be used (logged).
    pub(crate) fn load_snapshot(&self) -> Vec<PartitionSnapshot> {
        let path = self.dir.join(STATE_FILE_NAME);
        let bytes = match whippet_meta::read_bounded_file(&path, PRODUCER_SNAPSHOT_FILE_BYTES_MAX) {
            Ok(Some(bytes)) => bytes,
            Ok(None) => return Vec::new(),
            Err(error) => {
                tracing::warn!(path = %path.display(), %error, "producer snapshot unreadable; rebuilding from the log");
                return Vec::new();
            }
        };
        match serde_json::from_slice::<StateFile>(&bytes) {
            Ok(file) if file.version == FORMAT_VERSION => file.partitions,
            Ok(file) => {
                tracing::warn!(
                    version = file.version,
                    "producer snapshot of another version ignored"
                );
                Vec::new()
            }
            Err(error) => {
                tracing::warn!(%error, "producer snapshot corrupt; rebuilding from the log");
                Vec::new()
            }
        }
    }

    /// Replaces the snapshot with `partitions`.
    pub(crate) fn store_snapshot(&self, partitions: Vec<PartitionSnapshot>) -> std::io::Result<()> {
        let file = StateFile {
            version: FORMAT_VERSION,
            partitions,
        };
        let bytes = serde_json::to_vec(&file).map_err(std::io::Error::other)?;
        write_atomically(&self.dir, STATE_FILE_NAME, &bytes)
    }
}

/// Replaces `dir/name` atomically ([`whippet_meta::replace_file`]; `dir` is created if missing).
fn write_atomically(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    whippet_meta::replace_file(&dir.join(name), bytes)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::collections::VecDeque;

    use crate::kafka::producers::sequence::BatchRecord;

    #[test]
    fn old_ids_and_snapshot_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let files = ProducerFiles::new(dir.path());
        assert_eq!(files.load_legacy_next_block_start().unwrap(), None);
        assert!(files.load_snapshot().is_empty());
        write_atomically(
            &dir.path().join(PRODUCERS_DIR_NAME),
            IDS_FILE_NAME,
            br#"{"version":1,"next_block_start":3000}"#,
        )
        .unwrap();
        assert_eq!(files.load_legacy_next_block_start().unwrap(), Some(3000));
        files.remove_legacy_ids().unwrap();
        assert_eq!(files.load_legacy_next_block_start().unwrap(), None);
        let key = PartitionKey {
            stream_id: 1,
            topic_id: 2,
            topic_created_at_us: 3,
            partition_id: 4,
        };
        let entry = ProducerEntry {
            epoch: 2,
            batches: VecDeque::from([BatchRecord {
                first_seq: 0,
                last_seq: 9,
                base_offset: 100,
                last_offset: 109,
            }]),
            last_append_us: 5,
        };
        let snapshot = vec![PartitionSnapshot {
            key,
            covered_offset: 110,
            producers: vec![(77, entry)],
        }];
        files.store_snapshot(snapshot.clone()).unwrap();
        assert_eq!(files.load_snapshot(), snapshot);
    }

    #[test]
    fn corrupt_files_are_handled() {
        let dir = tempfile::tempdir().unwrap();
        let files = ProducerFiles::new(dir.path());
        fs::create_dir_all(dir.path().join(PRODUCERS_DIR_NAME)).unwrap();
        fs::write(
            dir.path().join(PRODUCERS_DIR_NAME).join(STATE_FILE_NAME),
            b"{not json",
        )
        .unwrap();
        assert!(files.load_snapshot().is_empty(), "corrupt snapshot ignored");
        fs::write(
            dir.path().join(PRODUCERS_DIR_NAME).join(IDS_FILE_NAME),
            b"garbage",
        )
        .unwrap();
        assert!(
            files.load_legacy_next_block_start().is_err(),
            "corrupt ids refused"
        );
    }
}
