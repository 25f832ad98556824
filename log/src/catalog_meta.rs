//! The in-memory, immutable view of the catalog that readers use. A [`CatalogSnapshot`] is never
//! changed after it is built: [`crate::Log`] builds a new one for every mutation and swaps it in
//! atomically, so request handlers resolve names and partitions without taking any lock.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use crate::catalog::{CATALOG_FORMAT_VERSION, CatalogFile, StreamRecord, TopicRecord};
use crate::config::TopicSettings;
use crate::partition::PartitionLog;

/// One stream as the catalog knows it. Shared as `Arc<StreamMeta>`: a snapshot taken before a
/// change keeps seeing the stream as it was.
#[derive(Debug)]
pub struct StreamMeta {
    /// 0-based id, unique among streams; names the stream's directory.
    pub id: u32,
    /// Unique among streams; what clients usually address the stream by.
    pub name: String,
    /// Creation time, microseconds since the Unix epoch (reported to native clients).
    pub created_at_us: i64,
    /// The stream's topics by id.
    pub topics: BTreeMap<u32, Arc<TopicMeta>>,
}

/// One topic as the catalog knows it, with handles to its open partition logs.
#[derive(Debug)]
pub struct TopicMeta {
    /// 0-based id, unique within the stream; names the topic's directory.
    pub id: u32,
    /// The stream this topic belongs to.
    pub stream_id: u32,
    /// Unique within the stream.
    pub name: String,
    /// Creation time, microseconds since the Unix epoch.
    pub created_at_us: i64,
    /// Retention, segment size and the other per-topic settings, as persisted.
    pub settings: TopicSettings,
    /// Partition `p` is at index `p`; ids are always `0..partitions.len()`.
    pub partitions: Vec<Arc<PartitionLog>>,
}

impl TopicMeta {
    /// Number of partitions, as a `u32` the way both protocols report it.
    pub fn partition_count(&self) -> u32 {
        // The catalog never holds more than PARTITIONS_PER_TOPIC_MAX partitions.
        u32::try_from(self.partitions.len()).unwrap_or(u32::MAX)
    }

    /// The partition with this id, if the topic has it.
    pub fn partition(&self, partition_id: u32) -> Option<&Arc<PartitionLog>> {
        self.partitions.get(usize::try_from(partition_id).ok()?)
    }
}

/// An immutable view of every stream, topic and partition, plus name indexes so that lookups by
/// name (the common case for Kafka requests) do not scan.
#[derive(Debug, Default)]
pub struct CatalogSnapshot {
    streams: BTreeMap<u32, Arc<StreamMeta>>,
    stream_ids_by_name: HashMap<String, u32>,
    topic_ids_by_name: HashMap<u32, HashMap<String, u32>>,
}

impl CatalogSnapshot {
    /// Builds a snapshot and its name indexes from the streams it will hold.
    pub(crate) fn new(streams: BTreeMap<u32, Arc<StreamMeta>>) -> Self {
        let stream_ids_by_name = streams
            .values()
            .map(|stream| (stream.name.clone(), stream.id))
            .collect();
        let topic_ids_by_name = streams
            .values()
            .map(|stream| {
                let topics = stream
                    .topics
                    .values()
                    .map(|t| (t.name.clone(), t.id))
                    .collect();
                (stream.id, topics)
            })
            .collect();
        Self {
            streams,
            stream_ids_by_name,
            topic_ids_by_name,
        }
    }

    /// Every stream, in id order.
    pub fn streams(&self) -> impl Iterator<Item = &Arc<StreamMeta>> {
        self.streams.values()
    }

    /// The stream with this id.
    pub fn stream(&self, id: u32) -> Option<&Arc<StreamMeta>> {
        self.streams.get(&id)
    }

    /// The stream with this exact name.
    pub fn stream_by_name(&self, name: &str) -> Option<&Arc<StreamMeta>> {
        self.streams.get(self.stream_ids_by_name.get(name)?)
    }

    /// The topic with this id in the stream with this id.
    pub fn topic(&self, stream_id: u32, topic_id: u32) -> Option<&Arc<TopicMeta>> {
        self.stream(stream_id)?.topics.get(&topic_id)
    }

    /// The topic with this exact name in the stream with this id.
    pub fn topic_by_name(&self, stream_id: u32, name: &str) -> Option<&Arc<TopicMeta>> {
        let topic_id = self.topic_ids_by_name.get(&stream_id)?.get(name)?;
        self.topic(stream_id, *topic_id)
    }

    /// Every partition of every topic, for work that touches all of them (sync, retention).
    pub fn all_partitions(&self) -> impl Iterator<Item = &Arc<PartitionLog>> {
        self.streams
            .values()
            .flat_map(|stream| stream.topics.values())
            .flat_map(|topic| topic.partitions.iter())
    }

    /// The streams map, for building the next snapshot.
    pub(crate) fn stream_map(&self) -> &BTreeMap<u32, Arc<StreamMeta>> {
        &self.streams
    }

    /// The persisted form of this snapshot; with `log_starts`, each topic's record carries its
    /// partitions' current log starts.
    pub(crate) fn to_file(&self, log_starts: bool) -> CatalogFile {
        let streams = self
            .streams
            .values()
            .map(|stream| stream_record(stream, log_starts))
            .collect();
        CatalogFile {
            format_version: CATALOG_FORMAT_VERSION,
            streams,
        }
    }
}

/// The persisted form of one stream.
fn stream_record(stream: &StreamMeta, log_starts: bool) -> StreamRecord {
    StreamRecord {
        id: stream.id,
        name: stream.name.clone(),
        created_at_us: stream.created_at_us,
        topics: stream
            .topics
            .values()
            .map(|topic| topic_record(topic, log_starts))
            .collect(),
    }
}

/// The persisted form of one topic.
fn topic_record(topic: &TopicMeta, log_starts: bool) -> TopicRecord {
    let starts: Vec<u64> = topic
        .partitions
        .iter()
        .map(|partition| partition.log_start_offset())
        .collect();
    let log_starts = if log_starts && starts.iter().any(|start| *start > 0) {
        starts
    } else {
        Vec::new()
    };
    TopicRecord {
        id: topic.id,
        name: topic.name.clone(),
        created_at_us: topic.created_at_us,
        partition_count: topic.partition_count(),
        settings: topic.settings.clone(),
        log_starts,
    }
}
