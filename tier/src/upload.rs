//! The pass task: for every partition of a topic with `remote_storage`, attach its reader,
//! copy its closed segments (objects first, manifest after), drop remote segments below the
//! log start, and apply the total retention to the remote part. A failed store call ends the
//! pass; the next one waits with a doubling backoff (1 s up to 30 s) and starts over.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use whippet_log::{Log, PartitionLog, RemoteRange, StreamMeta, TopicMeta};

use crate::add;
use crate::manifest::{Manifest, RemoteSegment, segment_key};
use crate::reader::{PartitionReader, Shared};
use crate::s3::StoreError;

/// Largest manifest or catalog object read.
const MANIFEST_BYTES_MAX: u64 = 64 << 20;
const BACKOFF_MAX: Duration = Duration::from_secs(30);

/// Why one partition's step failed.
#[derive(Debug, thiserror::Error)]
enum StepError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Log(#[from] whippet_log::LogError),
    #[error("manifest {key} is unusable: {reason}")]
    BadManifest { key: String, reason: String },
}

/// A partition the task has attached.
struct Tracked {
    partition: Arc<PartitionLog>,
    path: String,
    reader: Arc<PartitionReader>,
    manifest: Manifest,
}

pub(crate) struct Uploader {
    shared: Arc<Shared>,
    log: Arc<Log>,
    tracked: HashMap<(u32, u32, u32), Tracked>,
    /// The catalog object last written.
    catalog: Option<Vec<u8>>,
}

/// A name as one key path element: letters, digits, `.`, `_`, `-` as they are, every other
/// byte as `%XX`.
fn key_part(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl Uploader {
    pub(crate) fn new(shared: Arc<Shared>, log: Arc<Log>) -> Self {
        Self {
            shared,
            log,
            tracked: HashMap::new(),
            catalog: None,
        }
    }

    pub(crate) async fn run(
        mut self,
        interval: Duration,
        stop: Arc<tokio::sync::Notify>,
        first_pass: tokio::sync::oneshot::Sender<()>,
    ) {
        if let Err(error) = self.attach_all().await {
            tracing::warn!(%error, "remote tier: partitions not attached yet");
        }
        let _ = first_pass.send(());
        let mut backoff = Duration::from_secs(1);
        loop {
            let wait = match self.pass().await {
                Ok(()) => {
                    if self.shared.stats.store_up.swap(1, Ordering::Relaxed) == 0 {
                        tracing::info!("remote tier reachable: uploads run");
                    }
                    backoff = Duration::from_secs(1);
                    interval
                }
                Err(error) => {
                    add(&self.shared.stats.upload_failures, 1);
                    if self.shared.stats.store_up.swap(0, Ordering::Relaxed) == 1 {
                        tracing::warn!(
                            %error,
                            "remote tier unreachable: uploads paused, closed segments stay on \
                             the local disk until they are copied"
                        );
                    }
                    let wait = backoff;
                    backoff = (backoff * 2).min(BACKOFF_MAX);
                    wait
                }
            };
            tokio::select! {
                () = stop.notified() => return,
                () = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// Attaches every remote-storage partition (reads its manifest), uploading nothing.
    async fn attach_all(&mut self) -> Result<(), StepError> {
        let snapshot = self.log.snapshot();
        for stream in snapshot.streams() {
            for topic in stream.topics.values() {
                if !topic.settings.remote_storage {
                    continue;
                }
                for partition in &topic.partitions {
                    let key = (stream.id, topic.id, partition.id());
                    let path = partition_path(stream, topic, partition);
                    let tracked = self.attach(path, partition).await?;
                    self.tracked.insert(key, tracked);
                }
            }
        }
        Ok(())
    }

    /// One pass over the catalog.
    async fn pass(&mut self) -> Result<(), StepError> {
        let snapshot = self.log.snapshot();
        let mut seen = Vec::new();
        let mut pending = (0u64, 0u64);
        let mut catalog = Vec::new();
        for stream in snapshot.streams() {
            for topic in stream.topics.values() {
                if !topic.settings.remote_storage {
                    continue;
                }
                catalog.push(catalog_entry(stream, topic));
                for partition in &topic.partitions {
                    let key = (stream.id, topic.id, partition.id());
                    seen.push(key);
                    let path = partition_path(stream, topic, partition);
                    let result = self.step(key, path, stream, topic, partition).await;
                    for seg in partition.closed_segments() {
                        if seg.next_offset > partition.remote_end() {
                            pending.0 += 1;
                            pending.1 += seg.size;
                        }
                    }
                    if let Err(error) = result {
                        self.count_pending(pending);
                        return Err(error);
                    }
                }
            }
        }
        self.count_pending(pending);
        self.forget_deleted(&seen).await?;
        self.store_catalog(catalog).await
    }

    /// Publishes what the pass found not yet copied (only what it saw before a failure: a
    /// lower bound then).
    fn count_pending(&self, (segments, bytes): (u64, u64)) {
        let stats = &self.shared.stats;
        stats.pending_segments.store(segments, Ordering::Relaxed);
        stats.pending_bytes.store(bytes, Ordering::Relaxed);
    }

    async fn step(
        &mut self,
        key: (u32, u32, u32),
        path: String,
        stream: &StreamMeta,
        topic: &TopicMeta,
        partition: &Arc<PartitionLog>,
    ) -> Result<(), StepError> {
        let full_path = self.shared.bucket.key(&path);
        let same = self
            .tracked
            .get(&key)
            .is_some_and(|t| Arc::ptr_eq(&t.partition, partition) && t.path == full_path);
        if !same {
            let tracked = self.attach(path, partition).await?;
            self.tracked.insert(key, tracked);
        }
        let Some(tracked) = self.tracked.get_mut(&key) else {
            return Ok(());
        };
        upload_closed(&self.shared, tracked).await?;
        drop_below_start(&self.shared, tracked).await?;
        apply_total_retention(&self.log, (stream.id, topic.id), topic, tracked)?;
        Ok(())
    }

    /// Reads the partition's manifest (none yet: empty) and attaches its reader.
    async fn attach(
        &self,
        path: String,
        partition: &Arc<PartitionLog>,
    ) -> Result<Tracked, StepError> {
        let key = self.shared.bucket.key(&format!("{path}/manifest.json"));
        let manifest = match self.shared.bucket.get(&key, MANIFEST_BYTES_MAX).await {
            Ok(bytes) => {
                Manifest::parse(&bytes).map_err(|reason| StepError::BadManifest { key, reason })?
            }
            Err(StoreError::Missing { .. }) => Manifest::new(),
            Err(error) => return Err(error.into()),
        };
        let full_path = self.shared.bucket.key(&path);
        let reader = Arc::new(PartitionReader::new(
            Arc::clone(&self.shared),
            full_path.clone(),
            manifest.clone(),
        ));
        let range = (!manifest.segments.is_empty()).then(|| RemoteRange {
            start: manifest.start(),
            end: manifest.end(),
        });
        partition.attach_remote(Arc::clone(&reader) as _, range)?;
        tracing::info!(path = %full_path, ?range, "remote tier attached to partition");
        Ok(Tracked {
            partition: Arc::clone(partition),
            path: full_path,
            reader,
            manifest,
        })
    }

    /// Partitions no longer in the catalog (their topic deleted): the manifest goes first,
    /// then the objects it named.
    async fn forget_deleted(&mut self, seen: &[(u32, u32, u32)]) -> Result<(), StepError> {
        let gone: Vec<_> = (self.tracked.keys())
            .filter(|k| !seen.contains(k))
            .copied()
            .collect();
        for key in gone {
            let Some(tracked) = self.tracked.get(&key) else {
                continue;
            };
            if self.log.snapshot().topic(key.0, key.1).is_some() {
                // Remote storage switched off: the copy stays, nothing more is added.
                self.tracked.remove(&key);
                continue;
            }
            let bucket = &self.shared.bucket;
            bucket
                .delete(&format!("{}/manifest.json", tracked.path))
                .await?;
            for segment in &tracked.manifest.segments {
                delete_segment(&self.shared, &tracked.path, segment).await?;
            }
            self.tracked.remove(&key);
        }
        Ok(())
    }

    /// Keeps `catalog.json` (the remote topics: names, partition counts, settings) in the
    /// bucket, for a broker restored from it.
    async fn store_catalog(&mut self, topics: Vec<serde_json::Value>) -> Result<(), StepError> {
        let body =
            serde_json::to_vec_pretty(&serde_json::json!({ "version": 1, "topics": topics }))
                .unwrap_or_default();
        if self.catalog.as_ref() == Some(&body) {
            return Ok(());
        }
        let key = self.shared.bucket.key("catalog.json");
        self.shared.bucket.put_bytes(&key, body.clone()).await?;
        self.catalog = Some(body);
        Ok(())
    }
}

/// Key path of a partition's objects under the prefix: `<stream>/<topic>/<partition>`.
fn partition_path(stream: &StreamMeta, topic: &TopicMeta, partition: &PartitionLog) -> String {
    format!(
        "{}/{}/{}",
        key_part(&stream.name),
        key_part(&topic.name),
        partition.id()
    )
}

fn catalog_entry(stream: &StreamMeta, topic: &TopicMeta) -> serde_json::Value {
    serde_json::json!({
        "stream": stream.name,
        "topic": topic.name,
        "partitions": topic.partitions.len(),
        "settings": topic.settings,
    })
}

async fn write_manifest(shared: &Shared, tracked: &Tracked) -> Result<(), StoreError> {
    let body = serde_json::to_vec(&tracked.manifest).unwrap_or_default();
    let key = format!("{}/manifest.json", tracked.path);
    shared.bucket.put_bytes(&key, body).await?;
    tracked.reader.set_manifest(tracked.manifest.clone());
    Ok(())
}

async fn delete_segment(
    shared: &Shared,
    path: &str,
    segment: &RemoteSegment,
) -> Result<(), StoreError> {
    for extension in ["log", "index"] {
        let key = segment_key(path, segment.base_offset, extension);
        shared.bucket.delete(&key).await?;
    }
    Ok(())
}

/// Copies the closed segments past the manifest's end: both files, then the manifest.
async fn upload_closed(shared: &Shared, tracked: &mut Tracked) -> Result<(), StepError> {
    for segment in tracked.partition.closed_segments() {
        let end = tracked.manifest.end();
        if segment.next_offset <= end {
            continue;
        }
        if !segment.log_path.exists() {
            // Removed by the total retention since it was listed: nothing to copy.
            continue;
        }
        let mut dropped = Vec::new();
        if segment.base_offset != end && !tracked.manifest.segments.is_empty() {
            // The local log lost offsets before they were copied (total retention or
            // delete-records): the remote part starts again here.
            dropped = std::mem::take(&mut tracked.manifest.segments);
        }
        let remote = RemoteSegment {
            base_offset: segment.base_offset,
            next_offset: segment.next_offset,
            max_timestamp_us: segment.max_timestamp_us,
            size: segment.size,
        };
        let bucket = &shared.bucket;
        let log_key = segment_key(&tracked.path, remote.base_offset, "log");
        let index_key = segment_key(&tracked.path, remote.base_offset, "index");
        bucket.put_file(&index_key, &segment.index_path).await?;
        bucket.put_file(&log_key, &segment.log_path).await?;
        tracked.manifest.segments.push(remote);
        tracked.manifest.log_start = tracked.partition.log_start_offset();
        write_manifest(shared, tracked).await?;
        tracked.partition.set_remote_end(segment.next_offset);
        add(&shared.stats.uploaded_segments, 1);
        add(&shared.stats.uploaded_bytes, segment.size);
        tracing::debug!(key = %log_key, "segment copied to the remote tier");
        for old in &dropped {
            delete_segment(shared, &tracked.path, old).await?;
        }
    }
    Ok(())
}

/// Remote segments wholly below the log start leave the manifest, then the bucket.
async fn drop_below_start(shared: &Shared, tracked: &mut Tracked) -> Result<(), StepError> {
    let start = tracked.partition.log_start_offset();
    if tracked.manifest.log_start >= start {
        return Ok(());
    }
    let keep_from = tracked
        .manifest
        .segments
        .partition_point(|s| s.next_offset <= start);
    let dropped: Vec<_> = tracked.manifest.segments.drain(..keep_from).collect();
    tracked.manifest.log_start = start;
    write_manifest(shared, tracked).await?;
    for segment in &dropped {
        delete_segment(shared, &tracked.path, segment).await?;
    }
    Ok(())
}

/// `retention.ms` / `retention.bytes` over the remote segments below the local ones: the log
/// start moves past those due (the next pass deletes them).
fn apply_total_retention(
    log: &Log,
    (stream_id, topic_id): (u32, u32),
    topic: &TopicMeta,
    tracked: &Tracked,
) -> Result<(), StepError> {
    let partition = &tracked.partition;
    let local_start = partition.local_start_offset();
    let start = partition.log_start_offset();
    let remote_only: Vec<&RemoteSegment> = (tracked.manifest.segments.iter())
        .filter(|s| s.next_offset <= local_start && s.next_offset > start)
        .collect();
    let now_us = whippet_now_us();
    let mut before = start;
    if let Some(ms) = topic.settings.retention_ms {
        let limit_us = i64::try_from(ms.saturating_mul(1000)).unwrap_or(i64::MAX);
        for s in &remote_only {
            if now_us.saturating_sub(s.max_timestamp_us) > limit_us {
                before = before.max(s.next_offset);
            }
        }
    }
    if let Some(limit) = topic.settings.retention_bytes {
        let local = partition.stats().size_bytes;
        let mut total: u64 = local + remote_only.iter().map(|s| s.size).sum::<u64>();
        for s in &remote_only {
            if total <= limit {
                break;
            }
            total -= s.size;
            before = before.max(s.next_offset);
        }
    }
    if before > start {
        log.delete_records(stream_id, topic_id, partition.id(), before)?;
    }
    Ok(())
}

fn whippet_now_us() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::key_part;

    #[test]
    fn names_become_safe_key_parts() {
        assert_eq!(key_part("orders-eu_1.v2"), "orders-eu_1.v2");
        assert_eq!(key_part("a/b c%"), "a%2Fb%20c%25");
        assert_eq!(key_part("é"), "%C3%A9");
    }
}
