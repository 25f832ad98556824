//! Reads of remote segments: a bounded in-memory cache of parsed segments (least recently used
//! out first), whole-segment downloads checked frame by frame (`whippet_log::parse_segment`),
//! and read-ahead of the next segment, so a consumer replaying from the start finds it cached.

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use whippet_log::{FrameHeader, LogError, RemoteSegments, StoredFrame, parse_segment};

use crate::TierStats;
use crate::manifest::{Manifest, RemoteSegment, segment_key};
use crate::s3::Bucket;

/// How long a read waits for a segment download before it fails.
const READ_WAIT: Duration = Duration::from_secs(120);

/// A remote segment as parsed frames.
type Frames = Arc<Vec<StoredFrame>>;

/// One download in flight: its outcome once known, and the readers waiting for it.
type Slot = Arc<(Mutex<Option<Result<Frames, String>>>, Condvar)>;

/// Segments fetched ahead of a sequential reader, at most (and within half the cache).
const READ_AHEAD_SEGMENTS: usize = 3;

/// What every partition's reader shares: the bucket, the runtime the downloads run on, the
/// cache.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) bucket: Bucket,
    pub(crate) runtime: tokio::runtime::Handle,
    pub(crate) stats: Arc<TierStats>,
    cache: Mutex<Cache>,
    /// Downloads under way by object key, so a read of a segment being fetched ahead waits for
    /// that download instead of starting another.
    inflight: Mutex<HashMap<String, Slot>>,
    /// Largest segment object read (the log's largest segment plus slack).
    max_object_bytes: u64,
}

/// Parsed segments by object key, bounded by payload bytes.
#[derive(Debug, Default)]
struct Cache {
    entries: HashMap<String, (Frames, u64)>,
    order: VecDeque<String>,
    bytes: u64,
    capacity: u64,
}

impl Cache {
    fn get(&mut self, key: &str) -> Option<Frames> {
        let frames = Arc::clone(&self.entries.get(key)?.0);
        if let Some(i) = self.order.iter().position(|k| k == key) {
            self.order.remove(i);
        }
        self.order.push_back(key.to_string());
        Some(frames)
    }

    fn insert(&mut self, key: String, frames: Frames, size: u64) {
        if self.entries.contains_key(&key) {
            return;
        }
        while self.bytes + size > self.capacity {
            let Some(old) = self.order.pop_front() else {
                break;
            };
            if let Some((_, old_size)) = self.entries.remove(&old) {
                self.bytes -= old_size;
            }
        }
        self.bytes += size;
        self.order.push_back(key.clone());
        self.entries.insert(key, (frames, size));
    }
}

fn remote_error(key: &str, reason: impl std::fmt::Display) -> LogError {
    LogError::io(
        PathBuf::from(key),
        std::io::Error::other(reason.to_string()),
    )
}

impl Shared {
    pub(crate) fn new(
        bucket: Bucket,
        runtime: tokio::runtime::Handle,
        stats: Arc<TierStats>,
        cache_bytes: u64,
    ) -> Self {
        Self {
            bucket,
            runtime,
            stats,
            cache: Mutex::new(Cache {
                capacity: cache_bytes,
                ..Cache::default()
            }),
            inflight: Mutex::new(HashMap::new()),
            max_object_bytes: whippet_log::limits::SEGMENT_BYTES_MAX + (1 << 20),
        }
    }

    fn cached(&self, key: &str) -> Option<Frames> {
        self.cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(key)
    }

    /// Downloads and checks one segment, and caches it.
    async fn download(&self, key: String, segment: RemoteSegment) -> Result<Frames, LogError> {
        let image: Bytes = self
            .bucket
            .get(&key, self.max_object_bytes)
            .await
            .map_err(|e| remote_error(&key, e))?;
        let frames = parse_segment(&image, segment.base_offset)
            .map_err(|e| remote_error(&key, format!("remote segment refused: {e}")))?;
        let ends_right = frames.last().map(|f| f.header.next_offset()) == Some(segment.next_offset);
        if !ends_right {
            return Err(remote_error(
                &key,
                "remote segment does not end where its manifest says",
            ));
        }
        let frames = Arc::new(frames);
        self.cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key, Arc::clone(&frames), image.len() as u64);
        Ok(frames)
    }

    /// The download of `key`: the one under way, or a new one (`None` when it is cached).
    fn start(self: &Arc<Self>, key: String, segment: RemoteSegment) -> Option<Slot> {
        let mut inflight = self.inflight.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(slot) = inflight.get(&key) {
            return Some(Arc::clone(slot));
        }
        if self.cached(&key).is_some() {
            return None;
        }
        let slot: Slot = Arc::new((Mutex::new(None), Condvar::new()));
        inflight.insert(key.clone(), Arc::clone(&slot));
        let (shared, done) = (Arc::clone(self), Arc::clone(&slot));
        self.runtime.spawn(async move {
            let outcome = shared.download(key.clone(), segment).await;
            let outcome = outcome.map_err(|error| error.to_string());
            *done.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(outcome);
            done.1.notify_all();
            shared
                .inflight
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(&key);
        });
        Some(slot)
    }

    /// The segment's frames, from the cache or downloaded (or being downloaded ahead) while
    /// the calling (blocking) thread waits.
    fn segment_blocking(
        self: &Arc<Self>,
        key: String,
        segment: RemoteSegment,
    ) -> Result<Frames, LogError> {
        if let Some(hit) = self.cached(&key) {
            return Ok(hit);
        }
        let answer = match self.start(key.clone(), segment) {
            None => self
                .cached(&key)
                .ok_or_else(|| remote_error(&key, "remote segment left the cache")),
            Some(slot) => wait(&slot, &key),
        };
        if let Err(error) = &answer {
            self.stats.read_failures.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(%error, "remote segment read failed");
        }
        answer
    }

    /// Starts downloading the segment into the cache unless it is there or on its way.
    fn prefetch(self: &Arc<Self>, key: String, segment: RemoteSegment) {
        let _ = self.start(key, segment);
    }

    /// How many bytes of segments may be fetched ahead.
    fn read_ahead_bytes(&self) -> u64 {
        self.cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .capacity
            / 2
    }
}

/// Waits (at most [`READ_WAIT`]) for the download in `slot`.
fn wait(slot: &Slot, key: &str) -> Result<Frames, LogError> {
    let (outcome, ready) = &**slot;
    let guard = outcome.lock().unwrap_or_else(PoisonError::into_inner);
    let (guard, _) = ready
        .wait_timeout_while(guard, READ_WAIT, |o| o.is_none())
        .unwrap_or_else(PoisonError::into_inner);
    match guard.as_ref() {
        Some(Ok(frames)) => Ok(Arc::clone(frames)),
        Some(Err(reason)) => Err(remote_error(key, reason)),
        None => Err(remote_error(key, "remote read timed out")),
    }
}

/// The remote segments of one partition, as the log's [`RemoteSegments`].
#[derive(Debug)]
pub(crate) struct PartitionReader {
    shared: Arc<Shared>,
    /// Key path of the partition's objects.
    path: String,
    manifest: Mutex<Arc<Manifest>>,
}

impl PartitionReader {
    pub(crate) fn new(shared: Arc<Shared>, path: String, manifest: Manifest) -> Self {
        Self {
            shared,
            path,
            manifest: Mutex::new(Arc::new(manifest)),
        }
    }

    pub(crate) fn set_manifest(&self, manifest: Manifest) {
        *self.manifest.lock().unwrap_or_else(PoisonError::into_inner) = Arc::new(manifest);
    }

    fn manifest(&self) -> Arc<Manifest> {
        Arc::clone(&self.manifest.lock().unwrap_or_else(PoisonError::into_inner))
    }

    fn frames(&self, segment: &RemoteSegment) -> Result<Frames, LogError> {
        let key = self.log_key(segment);
        self.shared.segment_blocking(key, segment.clone())
    }

    fn log_key(&self, segment: &RemoteSegment) -> String {
        segment_key(&self.path, segment.base_offset, "log")
    }
}

impl RemoteSegments for PartitionReader {
    fn read(&self, from: u64, max_bytes: usize) -> Result<Vec<StoredFrame>, LogError> {
        let manifest = self.manifest();
        let Some((i, segment)) = manifest.segment_for(from) else {
            return Err(remote_error(
                &self.path,
                format!("no remote segment holds offset {from}"),
            ));
        };
        let frames = self.frames(segment)?;
        let mut ahead = 0u64;
        let budget = self.shared.read_ahead_bytes();
        for next in manifest
            .segments
            .iter()
            .skip(i + 1)
            .take(READ_AHEAD_SEGMENTS)
        {
            ahead += next.size;
            if ahead > budget {
                break;
            }
            self.shared.prefetch(self.log_key(next), next.clone());
        }
        self.shared.stats.reads.fetch_add(1, Ordering::Relaxed);
        let mut out = Vec::new();
        let mut bytes = 0usize;
        for frame in frames.iter().filter(|f| f.header.next_offset() > from) {
            let len = frame.payload.len();
            if !out.is_empty() && bytes + len > max_bytes {
                break;
            }
            bytes += len;
            out.push(frame.clone());
            if bytes >= max_bytes {
                break;
            }
        }
        Ok(out)
    }

    fn find_by_timestamp(&self, ts_us: i64) -> Result<Option<FrameHeader>, LogError> {
        let manifest = self.manifest();
        for segment in manifest
            .segments
            .iter()
            .filter(|s| s.max_timestamp_us >= ts_us)
        {
            let frames = self.frames(segment)?;
            if let Some(frame) = frames.iter().find(|f| f.header.max_timestamp_us >= ts_us) {
                return Ok(Some(frame.header));
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn frames() -> Frames {
        Arc::new(Vec::new())
    }

    #[test]
    fn the_cache_keeps_its_byte_bound_and_drops_the_least_recently_used() {
        let mut cache = Cache {
            capacity: 100,
            ..Cache::default()
        };
        cache.insert("a".into(), frames(), 40);
        cache.insert("b".into(), frames(), 40);
        assert!(cache.get("a").is_some());
        cache.insert("c".into(), frames(), 40);
        assert!(cache.get("b").is_none(), "b was the least recently used");
        assert!(cache.get("a").is_some() && cache.get("c").is_some());
        assert_eq!(cache.bytes, 80);
        // An object larger than the whole cache empties it and is still kept for its reader.
        cache.insert("big".into(), frames(), 500);
        assert!(cache.get("a").is_none() && cache.get("c").is_none());
        assert_eq!(cache.bytes, 500);
        cache.insert("d".into(), frames(), 10);
        assert!(cache.get("big").is_none());
        assert_eq!(cache.bytes, 10);
    }
}
