//! The catalog mutations of [`Log`]: create, rename, update, purge and delete of streams, topics
//! and partitions. Each one holds the single-writer lock for its whole length, works out the new
//! catalog from the current snapshot, and commits it (persist, then swap).
//!
//! Order on disk (see `store.rs`): creates make files before the catalog names them; deletes
//! drop the catalog entry before removing files. Either way a crash leaves at worst an orphan
//! directory, which the next open reports and keeps: creates skip the ids of orphans found at
//! open (a partition id cannot be skipped, so creating that partition is refused). Only a
//! directory left by this process's own failed cleanup is removed when its id is reused.

use std::collections::BTreeMap;
use std::fs;
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use crate::catalog::{self, lowest_free_id, validate_name};
use crate::catalog_meta::{CatalogSnapshot, StreamMeta, TopicMeta};
use crate::config::TopicSettings;
use crate::error::{LogError, Result};
use crate::maintenance::unix_now_us;
use crate::store::Log;
use crate::{PartitionLog, limits};

impl Log {
    /// Creates an empty stream under the lowest free id.
    pub fn create_stream(&self, name: &str) -> Result<Arc<StreamMeta>> {
        validate_name(name)?;
        let _writer = self.begin_mutation()?;
        let snapshot = self.snapshot();
        if snapshot.stream_by_name(name).is_some() {
            return Err(LogError::StreamExists(name.to_string()));
        }
        let streams_dir = catalog::streams_dir(&self.config().data_dir);
        let used = snapshot.stream_map().keys().copied();
        let id = lowest_free_id(
            used.chain(self.unlisted_ids(&streams_dir)),
            limits::STREAMS_MAX,
        )
        .ok_or_else(|| too_many("STREAMS_MAX", limits::STREAMS_MAX))?;
        let dir = catalog::stream_dir(&self.config().data_dir, id);
        self.clear_for_reuse(&dir)?;
        let topics_dir = dir.join(catalog::TOPICS_DIR_NAME);
        fs::create_dir_all(&topics_dir).map_err(|error| LogError::io(&topics_dir, error))?;
        let stream = Arc::new(StreamMeta {
            id,
            name: name.to_string(),
            created_at_us: unix_now_us(),
            topics: BTreeMap::new(),
        });
        let mut streams = snapshot.stream_map().clone();
        streams.insert(id, Arc::clone(&stream));
        if let Err(error) = self.commit(streams) {
            remove_deleted_dir(&dir);
            return Err(error);
        }
        Ok(stream)
    }

    /// Renames a stream. Renaming to its current name succeeds and changes nothing.
    pub fn rename_stream(&self, stream_id: u32, new_name: &str) -> Result<()> {
        validate_name(new_name)?;
        let _writer = self.begin_mutation()?;
        let snapshot = self.snapshot();
        let stream = find_stream(&snapshot, stream_id)?;
        if let Some(other) = snapshot.stream_by_name(new_name) {
            if other.id == stream_id {
                return Ok(());
            }
            return Err(LogError::StreamExists(new_name.to_string()));
        }
        let renamed = Arc::new(StreamMeta {
            id: stream.id,
            name: new_name.to_string(),
            created_at_us: stream.created_at_us,
            topics: stream.topics.clone(),
        });
        let mut streams = snapshot.stream_map().clone();
        streams.insert(stream_id, renamed);
        self.commit(streams)
    }

    /// Deletes a stream with all its topics and their files.
    pub fn delete_stream(&self, stream_id: u32) -> Result<()> {
        let _writer = self.begin_mutation()?;
        let snapshot = self.snapshot();
        let stream = find_stream(&snapshot, stream_id)?;
        let mut streams = snapshot.stream_map().clone();
        streams.remove(&stream_id);
        self.commit(streams)?;
        for topic in stream.topics.values() {
            remove_partitions(&topic.partitions);
        }
        remove_deleted_dir(&catalog::stream_dir(&self.config().data_dir, stream_id));
        Ok(())
    }

    /// Deletes every message of every topic of a stream; the catalog is unchanged and offsets
    /// restart at 0.
    pub fn purge_stream(&self, stream_id: u32) -> Result<()> {
        let _writer = self.begin_mutation()?;
        let snapshot = self.snapshot();
        let stream = find_stream(&snapshot, stream_id)?;
        for topic in stream.topics.values() {
            purge_partitions(&topic.partitions)?;
        }
        self.store_log_starts()
    }

    /// Creates a topic with `partitions` empty partitions under the lowest free id of its stream.
    pub fn create_topic(
        &self,
        stream_id: u32,
        name: &str,
        partitions: u32,
        settings: TopicSettings,
    ) -> Result<Arc<TopicMeta>> {
        validate_name(name)?;
        settings.validate()?;
        check_partition_total(u64::from(partitions))?;
        let _writer = self.begin_mutation()?;
        let snapshot = self.snapshot();
        let stream = find_stream(&snapshot, stream_id)?;
        if snapshot.topic_by_name(stream_id, name).is_some() {
            return Err(LogError::TopicExists(name.to_string()));
        }
        let topics_dir =
            catalog::stream_dir(&self.config().data_dir, stream_id).join(catalog::TOPICS_DIR_NAME);
        let used = stream.topics.keys().copied();
        let id = lowest_free_id(
            used.chain(self.unlisted_ids(&topics_dir)),
            limits::TOPICS_PER_STREAM_MAX,
        )
        .ok_or_else(|| too_many("TOPICS_PER_STREAM_MAX", limits::TOPICS_PER_STREAM_MAX))?;
        let dir = catalog::topic_dir(&self.config().data_dir, stream_id, id);
        self.clear_for_reuse(&dir)?;
        let logs = self.create_partition_logs(stream_id, id, 0..partitions, &settings)?;
        let partitions_dir = dir.join(catalog::PARTITIONS_DIR_NAME);
        if let Err(error) = fs::create_dir_all(&partitions_dir) {
            remove_partitions(&logs);
            return Err(LogError::io(partitions_dir, error));
        }
        let topic = Arc::new(TopicMeta {
            id,
            stream_id,
            name: name.to_string(),
            created_at_us: unix_now_us(),
            settings,
            partitions: logs,
        });
        if let Err(error) = self.commit(put_topic(&snapshot, stream, Arc::clone(&topic))) {
            remove_partitions(&topic.partitions);
            remove_deleted_dir(&dir);
            return Err(error);
        }
        Ok(topic)
    }

    /// Renames a topic (when `new_name` is given) and replaces its settings, then pushes the new
    /// settings to its open partitions.
    pub fn update_topic(
        &self,
        stream_id: u32,
        topic_id: u32,
        new_name: Option<&str>,
        settings: TopicSettings,
    ) -> Result<()> {
        if let Some(name) = new_name {
            validate_name(name)?;
        }
        settings.validate()?;
        let _writer = self.begin_mutation()?;
        let snapshot = self.snapshot();
        let stream = find_stream(&snapshot, stream_id)?;
        let topic = find_topic(&snapshot, stream_id, topic_id)?;
        let name = new_name.unwrap_or(&topic.name);
        if let Some(other) = snapshot.topic_by_name(stream_id, name)
            && other.id != topic_id
        {
            return Err(LogError::TopicExists(name.to_string()));
        }
        let updated = topic_with(
            topic,
            name.to_string(),
            settings.clone(),
            topic.partitions.clone(),
        );
        self.commit(put_topic(&snapshot, stream, updated))?;
        for partition in &topic.partitions {
            partition.update_settings(settings.clone());
        }
        Ok(())
    }

    /// Deletes a topic and its files.
    pub fn delete_topic(&self, stream_id: u32, topic_id: u32) -> Result<()> {
        let _writer = self.begin_mutation()?;
        let snapshot = self.snapshot();
        let stream = find_stream(&snapshot, stream_id)?;
        let topic = find_topic(&snapshot, stream_id, topic_id)?;
        let mut topics = stream.topics.clone();
        topics.remove(&topic_id);
        let mut streams = snapshot.stream_map().clone();
        streams.insert(stream_id, with_topics(stream, topics));
        self.commit(streams)?;
        remove_partitions(&topic.partitions);
        remove_deleted_dir(&catalog::topic_dir(
            &self.config().data_dir,
            stream_id,
            topic_id,
        ));
        Ok(())
    }

    /// Deletes every message of a topic; the catalog is unchanged and offsets restart at 0.
    pub fn purge_topic(&self, stream_id: u32, topic_id: u32) -> Result<()> {
        let _writer = self.begin_mutation()?;
        let snapshot = self.snapshot();
        purge_partitions(&find_topic(&snapshot, stream_id, topic_id)?.partitions)?;
        self.store_log_starts()
    }

    /// Deletes every record of a partition below `before` (Kafka DeleteRecords) and answers the
    /// new log start. Where the catalog store keeps log starts, the new start is a catalog
    /// change, durable before anything is removed; otherwise the partition persists it in its
    /// own `log_start.offset`.
    pub fn delete_records(
        &self,
        stream_id: u32,
        topic_id: u32,
        partition_id: u32,
        before: u64,
    ) -> Result<u64> {
        let partition = self
            .partition(stream_id, topic_id, partition_id)
            .ok_or(LogError::PartitionNotFound(partition_id))?;
        if !self.catalog_store().keeps_log_starts() {
            return partition.delete_records(before);
        }
        let _writer = self.begin_mutation()?;
        partition.delete_records_persisted_by(before, |start| {
            let mut file = self.snapshot().to_file(true);
            set_log_start(&mut file, stream_id, topic_id, partition_id, start);
            self.catalog_store().store(&file)
        })
    }

    /// After a purge: where the catalog store keeps log starts, the purged partitions' starts
    /// (0 again) are stored.
    fn store_log_starts(&self) -> Result<()> {
        if !self.catalog_store().keeps_log_starts() {
            return Ok(());
        }
        self.catalog_store().store(&self.snapshot().to_file(true))
    }

    /// Adds `count` empty partitions after the existing ones; returns the new total.
    pub fn create_partitions(&self, stream_id: u32, topic_id: u32, count: u32) -> Result<u32> {
        let _writer = self.begin_mutation()?;
        let snapshot = self.snapshot();
        let stream = find_stream(&snapshot, stream_id)?;
        let topic = find_topic(&snapshot, stream_id, topic_id)?;
        let existing = topic.partition_count();
        let total = check_partition_total(u64::from(existing) + u64::from(count))?;
        if count == 0 {
            return Ok(existing);
        }
        let added =
            self.create_partition_logs(stream_id, topic_id, existing..total, &topic.settings)?;
        let mut partitions = topic.partitions.clone();
        partitions.extend(added.iter().cloned());
        let updated = topic_with(
            topic,
            topic.name.clone(),
            topic.settings.clone(),
            partitions,
        );
        if let Err(error) = self.commit(put_topic(&snapshot, stream, updated)) {
            remove_partitions(&added);
            return Err(error);
        }
        Ok(total)
    }

    /// Removes the `count` highest-numbered partitions with their files; returns the new total.
    /// Asking for more than the topic has is [`LogError::LimitExceeded`] and removes nothing.
    pub fn delete_partitions(&self, stream_id: u32, topic_id: u32, count: u32) -> Result<u32> {
        let _writer = self.begin_mutation()?;
        let snapshot = self.snapshot();
        let stream = find_stream(&snapshot, stream_id)?;
        let topic = find_topic(&snapshot, stream_id, topic_id)?;
        let existing = topic.partition_count();
        let Some(total) = existing.checked_sub(count) else {
            return Err(LogError::LimitExceeded {
                name: "partitions to delete",
                value: u64::from(count),
                max: u64::from(existing),
            });
        };
        if count == 0 {
            return Ok(existing);
        }
        let mut kept = topic.partitions.clone();
        let removed = kept.split_off(usize::try_from(total).unwrap_or(kept.len()));
        let updated = topic_with(topic, topic.name.clone(), topic.settings.clone(), kept);
        self.commit(put_topic(&snapshot, stream, updated))?;
        remove_partitions(&removed);
        Ok(total)
    }

    /// Opens `ids` of a topic as new, empty partitions, clearing the way first (see
    /// [`Self::clear_for_reuse`]). On failure the partitions opened so far are removed again.
    fn create_partition_logs(
        &self,
        stream_id: u32,
        topic_id: u32,
        ids: Range<u32>,
        settings: &TopicSettings,
    ) -> Result<Vec<Arc<PartitionLog>>> {
        let data_dir = &self.config().data_dir;
        let mut opened = Vec::new();
        for partition_id in ids {
            let dir = catalog::partition_dir(data_dir, stream_id, topic_id, partition_id);
            let result = self.clear_for_reuse(&dir).and_then(|()| {
                let store = Arc::clone(self.segment_store());
                PartitionLog::open_with_store(
                    dir,
                    partition_id,
                    settings.clone(),
                    self.config(),
                    store,
                )
            });
            match result {
                Ok((partition, _events)) => opened.push(partition),
                Err(error) => {
                    remove_partitions(&opened);
                    return Err(error);
                }
            }
        }
        Ok(opened)
    }

    /// Makes way for a new stream, topic or partition at `path`. A directory found there at open
    /// holds data the catalog does not list and is never removed ([`LogError::UnlistedData`]);
    /// one left since by this process's own failed cleanup is removed, so a new stream, topic or
    /// partition never starts with stale data.
    fn clear_for_reuse(&self, path: &Path) -> Result<()> {
        if self.is_unlisted(path) {
            return Err(LogError::UnlistedData {
                path: path.to_path_buf(),
            });
        }
        if fs::symlink_metadata(path).is_err() {
            return Ok(());
        }
        tracing::warn!(path = %path.display(), "removing a leftover directory before reusing its id");
        fs::remove_dir_all(path).map_err(|error| LogError::io(path, error))
    }
}

/// Error for a stream id the catalog does not have.
fn find_stream(snapshot: &CatalogSnapshot, stream_id: u32) -> Result<&Arc<StreamMeta>> {
    snapshot
        .stream(stream_id)
        .ok_or_else(|| LogError::StreamNotFound(stream_id.to_string()))
}

/// The topic, or the error naming what is missing.
fn find_topic(
    snapshot: &CatalogSnapshot,
    stream_id: u32,
    topic_id: u32,
) -> Result<&Arc<TopicMeta>> {
    let stream = find_stream(snapshot, stream_id)?;
    stream
        .topics
        .get(&topic_id)
        .ok_or_else(|| LogError::TopicNotFound(format!("{topic_id} in stream {stream_id}")))
}

/// Error for a level of the catalog with every id taken.
fn too_many(name: &'static str, max: u32) -> LogError {
    LogError::LimitExceeded {
        name,
        value: u64::from(max) + 1,
        max: u64::from(max),
    }
}

/// Checks that a partition total stays within [`limits::PARTITIONS_PER_TOPIC_MAX`].
fn check_partition_total(total: u64) -> Result<u32> {
    let max = limits::PARTITIONS_PER_TOPIC_MAX;
    match u32::try_from(total) {
        Ok(total) if total <= max => Ok(total),
        _ => Err(LogError::LimitExceeded {
            name: "PARTITIONS_PER_TOPIC_MAX",
            value: total,
            max: u64::from(max),
        }),
    }
}

/// A copy of `stream` with a different topic map.
fn with_topics(stream: &StreamMeta, topics: BTreeMap<u32, Arc<TopicMeta>>) -> Arc<StreamMeta> {
    Arc::new(StreamMeta {
        id: stream.id,
        name: stream.name.clone(),
        created_at_us: stream.created_at_us,
        topics,
    })
}

/// The snapshot's streams with one topic replaced (or added) in its stream.
fn put_topic(
    snapshot: &CatalogSnapshot,
    stream: &StreamMeta,
    topic: Arc<TopicMeta>,
) -> BTreeMap<u32, Arc<StreamMeta>> {
    let mut topics = stream.topics.clone();
    topics.insert(topic.id, topic);
    let mut streams = snapshot.stream_map().clone();
    streams.insert(stream.id, with_topics(stream, topics));
    streams
}

/// A copy of `topic` with another name, settings or partitions.
fn topic_with(
    topic: &TopicMeta,
    name: String,
    settings: TopicSettings,
    partitions: Vec<Arc<PartitionLog>>,
) -> Arc<TopicMeta> {
    Arc::new(TopicMeta {
        id: topic.id,
        stream_id: topic.stream_id,
        name,
        created_at_us: topic.created_at_us,
        settings,
        partitions,
    })
}

/// Purges every partition, stopping at the first error.
fn purge_partitions(partitions: &[Arc<PartitionLog>]) -> Result<()> {
    partitions
        .iter()
        .try_for_each(|partition| partition.purge())
}

/// Removes partitions whose catalog entry is gone (or was never committed). Failures are
/// logged, not returned: the catalog no longer names them, so a leftover directory is only an
/// orphan (removed if this process reuses its id, reported and kept by the next open).
fn remove_partitions(partitions: &[Arc<PartitionLog>]) {
    for partition in partitions {
        if let Err(error) = partition.remove() {
            tracing::warn!(partition = partition.id(), %error, "cannot remove partition");
        }
    }
}

/// Removes a directory whose catalog entry is gone (or never committed). Failure is logged:
/// the leftover is an orphan (removed if this process reuses its id, kept by the next open).
fn remove_deleted_dir(path: &Path) {
    match fs::remove_dir_all(path) {
        Ok(()) => {}
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => tracing::warn!(path = %path.display(), %error, "cannot remove deleted data"),
    }
}

/// Sets the log start of one partition in `file` (the record is missing only when the topic
/// was deleted meanwhile, which the single-writer lock rules out).
fn set_log_start(
    file: &mut catalog::CatalogFile,
    stream: u32,
    topic: u32,
    partition: u32,
    start: u64,
) {
    let record = file
        .streams
        .iter_mut()
        .filter(|s| s.id == stream)
        .flat_map(|s| s.topics.iter_mut())
        .find(|t| t.id == topic);
    if let Some(record) = record {
        let count = usize::try_from(record.partition_count).unwrap_or(0);
        record.log_starts.resize(count, 0);
        if let Some(slot) = usize::try_from(partition)
            .ok()
            .and_then(|p| record.log_starts.get_mut(p))
        {
            *slot = start;
        }
    }
}
