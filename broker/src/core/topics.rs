//! Catalog operations of both protocols: create, rename, delete and purge streams and topics.
//! Names are checked here under the core's names lock ([`super::names`]), and a deletion or
//! purge takes everything keyed by the topic with it, in one place for every adapter: the
//! committed offsets of every group (Kafka and native alike, made durable before the answer),
//! the native group definitions of a deleted topic, then the adapters' own per-topic state through their [`super::CatalogObserver`]s. Stream and
//! topic ids are reused lowest-free, as the Iggy server does, so nothing keyed by an id may
//! outlive what it named.

use std::sync::Arc;

use whippet_log::{Log, LogError, StreamMeta, TopicMeta, TopicSettings};

use super::{Core, CoreError, RequestContext, blocking, names};

/// Finds the Kafka stream, creating it when missing, and returns its id. Called by the Kafka
/// topic creation paths: the stream appears with the first Kafka topic (not at startup, so a
/// native-only broker starts empty), and again if an operator deleted it natively meanwhile.
/// Blocking (it may write the catalog).
pub fn ensure_kafka_stream(log: &Log, name: &str) -> Result<u32, LogError> {
    if let Some(stream) = log.snapshot().stream_by_name(name) {
        return Ok(stream.id);
    }
    match log.create_stream(name) {
        Ok(stream) => Ok(stream.id),
        // Another creator won the race; use theirs.
        Err(LogError::StreamExists(_)) => log
            .snapshot()
            .stream_by_name(name)
            .map(|stream| stream.id)
            .ok_or_else(|| LogError::StreamNotFound(name.to_string())),
        Err(error) => Err(error),
    }
}

/// Creates topic `name` in the Kafka stream. A name that already resolves to a topic, in the
/// Kafka stream or as a native `<stream>.<topic>`, is `TopicExists`. The name must already
/// have passed [`names::validate_topic_name`].
pub async fn create_kafka_topic(
    core: &Arc<Core>,
    _rc: &RequestContext,
    name: &str,
    partitions: u32,
    settings: TopicSettings,
) -> Result<Arc<TopicMeta>, CoreError> {
    let core = Arc::clone(core);
    let name = name.to_string();
    let created = blocking(move || {
        core.with_names_locked(|| {
            let stream_id = ensure_kafka_stream(&core.log, &core.kafka_stream)?;
            let snapshot = core.log.snapshot();
            if !names::matches(&snapshot, &core.kafka_stream, &name).is_empty() {
                return Err(LogError::TopicExists(name.clone()));
            }
            core.log
                .create_topic(stream_id, &name, partitions, settings)
        })
    })
    .await?;
    Ok(created)
}

/// Creates an empty stream. Streams never collide on Kafka names (only topics claim them).
pub async fn create_stream(
    core: &Arc<Core>,
    _rc: &RequestContext,
    name: String,
) -> Result<Arc<StreamMeta>, CoreError> {
    let log = Arc::clone(&core.log);
    Ok(blocking(move || log.create_stream(&name)).await?)
}

/// Creates topic `name` in stream `stream_id`, refused with `TopicExists` when its Kafka name
/// (`<stream>.<name>`) already names another topic.
pub async fn create_topic(
    core: &Arc<Core>,
    _rc: &RequestContext,
    stream_id: u32,
    name: String,
    partitions: u32,
    settings: TopicSettings,
) -> Result<Arc<TopicMeta>, CoreError> {
    let core = Arc::clone(core);
    let created = blocking(move || {
        core.with_names_locked(|| {
            check_topic_name(&core, stream_id, &name, None)?;
            core.log
                .create_topic(stream_id, &name, partitions, settings)
        })
    })
    .await?;
    Ok(created)
}

/// Renames (when `name` differs) and re-sets a topic, with the same collision rule as
/// creation.
pub async fn update_topic(
    core: &Arc<Core>,
    _rc: &RequestContext,
    stream_id: u32,
    topic_id: u32,
    name: String,
    settings: TopicSettings,
) -> Result<(), CoreError> {
    let core = Arc::clone(core);
    blocking(move || {
        core.with_names_locked(|| {
            check_topic_name(&core, stream_id, &name, Some(topic_id))?;
            let renamed = (core.log.snapshot().topic(stream_id, topic_id))
                .is_some_and(|topic| topic.name != name);
            if renamed {
                refuse_if_remote(&core, stream_id, Some(topic_id), "renamed")?;
            }
            core.log
                .update_topic(stream_id, topic_id, Some(&name), settings)
        })
    })
    .await?;
    Ok(())
}

/// Renames stream `stream_id`, refused with `StreamExists` when one of its topics would get a
/// Kafka name (`<name>.<topic>`) that already names a topic of another stream.
pub async fn rename_stream(
    core: &Arc<Core>,
    _rc: &RequestContext,
    stream_id: u32,
    name: String,
) -> Result<(), CoreError> {
    let core = Arc::clone(core);
    blocking(move || {
        core.with_names_locked(|| {
            let snapshot = core.log.snapshot();
            if names::stream_rename_collides(&snapshot, &core.kafka_stream, stream_id, &name) {
                return Err(LogError::StreamExists(name.clone()));
            }
            refuse_if_remote(&core, stream_id, None, "renamed")?;
            core.log.rename_stream(stream_id, &name)
        })
    })
    .await?;
    Ok(())
}

/// `TopicExists` when naming a topic `name` in stream `stream_id` would give it a Kafka name
/// that already names another topic; `renaming` is the topic being renamed. Call under the
/// names lock, right before the catalog write.
fn check_topic_name(
    core: &Core,
    stream_id: u32,
    name: &str,
    renaming: Option<u32>,
) -> Result<(), LogError> {
    let snapshot = core.log.snapshot();
    let Some(stream) = snapshot.stream(stream_id) else {
        return Err(LogError::StreamNotFound(stream_id.to_string()));
    };
    let except = renaming.map(|topic| (stream_id, topic));
    if names::topic_collides(&snapshot, &core.kafka_stream, &stream.name, name, except) {
        return Err(LogError::TopicExists(names::kafka_name(
            &core.kafka_stream,
            &stream.name,
            name,
        )));
    }
    Ok(())
}

/// Topics with remote storage keep their names and offsets: their remote segments are keyed by
/// stream and topic name and by offset (so that an empty data directory can serve them again),
/// so a rename or a purge of such a topic (of any topic of the stream when `topic_id` is
/// `None`) is refused for every protocol.
fn refuse_if_remote(
    core: &Core,
    stream_id: u32,
    topic_id: Option<u32>,
    what: &str,
) -> Result<(), LogError> {
    let snapshot = core.log.snapshot();
    let Some(stream) = snapshot.stream(stream_id) else {
        return Ok(());
    };
    let remote = (stream.topics.values())
        .filter(|topic| topic_id.is_none_or(|id| id == topic.id))
        .find(|topic| topic.settings.remote_storage);
    match remote {
        Some(topic) => Err(LogError::InvalidSetting {
            name: "remote_storage",
            reason: format!(
                "topic {:?} has remote storage (remote.storage.enable): it cannot be {what}",
                topic.name
            ),
        }),
        None => Ok(()),
    }
}

/// What a removal did, for the observers.
#[derive(Clone, Copy)]
enum Removal {
    TopicDeleted(u32, u32),
    StreamDeleted(u32),
    TopicPurged(u32, u32),
}

impl Removal {
    fn notify(self, observer: &dyn super::CatalogObserver) {
        match self {
            Self::TopicDeleted(stream, topic) => observer.topic_deleted(stream, topic),
            Self::StreamDeleted(stream) => observer.stream_deleted(stream),
            Self::TopicPurged(stream, topic) => observer.topic_purged(stream, topic),
        }
    }
}

/// Runs the log side of a deletion or purge on the blocking pool, then the cascade: the
/// committed offsets on `topic_id` (every topic of the stream when `None`) are dropped durably,
/// a deleted topic's native group definitions go, and every observer is told each of
/// `removals`.
async fn remove_then_cascade(
    core: &Arc<Core>,
    log_op: impl FnOnce(&Log) -> Result<(), LogError> + Send + 'static,
    (stream_id, topic_id): (u32, Option<u32>),
    removals: &[Removal],
) -> Result<(), CoreError> {
    let log = Arc::clone(&core.log);
    blocking(move || log_op(&log)).await?;
    drop_offsets(core, stream_id, topic_id).await?;
    for removal in removals {
        match *removal {
            Removal::TopicDeleted(stream, topic) => {
                core.native_groups.on_topic_deleted(stream, topic);
            }
            Removal::StreamDeleted(stream) => core.native_groups.on_stream_deleted(stream),
            // A purge keeps the topic's native groups, as the Iggy server does.
            Removal::TopicPurged(..) => {}
        }
    }
    for observer in core.observers() {
        for removal in removals {
            removal.notify(observer.as_ref());
        }
    }
    Ok(())
}

/// Deletes a topic and its data, then everything keyed by it.
pub async fn delete_topic(
    core: &Arc<Core>,
    _rc: &RequestContext,
    stream_id: u32,
    topic_id: u32,
) -> Result<(), CoreError> {
    let op = move |log: &Log| log.delete_topic(stream_id, topic_id);
    let removal = Removal::TopicDeleted(stream_id, topic_id);
    remove_then_cascade(core, op, (stream_id, Some(topic_id)), &[removal]).await
}

/// Deletes a stream with all its topics and their data, then everything keyed by them.
pub async fn delete_stream(
    core: &Arc<Core>,
    _rc: &RequestContext,
    stream_id: u32,
) -> Result<(), CoreError> {
    let op = move |log: &Log| log.delete_stream(stream_id);
    let removal = Removal::StreamDeleted(stream_id);
    remove_then_cascade(core, op, (stream_id, None), &[removal]).await
}

/// Empties a topic; its offsets start again at 0, so every committed offset on it goes too
/// (a stored offset would otherwise skip the new messages), as the Iggy server does.
pub async fn purge_topic(
    core: &Arc<Core>,
    _rc: &RequestContext,
    stream_id: u32,
    topic_id: u32,
) -> Result<(), CoreError> {
    refuse_if_remote(core, stream_id, Some(topic_id), "purged")?;
    let op = move |log: &Log| log.purge_topic(stream_id, topic_id);
    let removal = Removal::TopicPurged(stream_id, topic_id);
    remove_then_cascade(core, op, (stream_id, Some(topic_id)), &[removal]).await
}

/// Empties every topic of a stream, with the same cascade as [`purge_topic`].
pub async fn purge_stream(
    core: &Arc<Core>,
    _rc: &RequestContext,
    stream_id: u32,
) -> Result<(), CoreError> {
    let removals: Vec<Removal> = core
        .log
        .snapshot()
        .stream(stream_id)
        .map(|stream| {
            stream
                .topics
                .keys()
                .map(|&topic| Removal::TopicPurged(stream_id, topic))
                .collect()
        })
        .unwrap_or_default();
    refuse_if_remote(core, stream_id, None, "purged")?;
    let op = move |log: &Log| log.purge_stream(stream_id);
    remove_then_cascade(core, op, (stream_id, None), &removals).await
}

/// Removes the committed offsets of every group on a topic (or a whole stream) and waits until
/// the removal is on disk.
async fn drop_offsets(core: &Core, stream_id: u32, topic_id: Option<u32>) -> Result<(), CoreError> {
    let (_, durable) = core
        .groups
        .change_durably(|c| c.drop_offsets(stream_id, topic_id))
        .await;
    Ok(durable?)
}

/// At startup: drops committed offsets whose topic no longer exists in the catalog, so a crash
/// between a topic's deletion and the checkpoint that removes its offsets cannot hand them to
/// the next topic that gets its ids. Returns how many topics' offsets were dropped.
pub async fn drop_orphaned_offsets(core: &Core) -> Result<usize, CoreError> {
    let snapshot = core.log.snapshot();
    let exists = |stream: u32, topic: u32| {
        snapshot
            .stream(stream)
            .is_some_and(|s| s.topics.contains_key(&topic))
    };
    let orphans: std::collections::BTreeSet<(u32, u32)> = {
        let coordinator = core.groups.lock();
        coordinator
            .offset_keys()
            .filter(|key| !exists(key.stream, key.topic))
            .map(|key| (key.stream, key.topic))
            .collect()
    };
    for &(stream, topic) in &orphans {
        drop_offsets(core, stream, Some(topic)).await?;
    }
    Ok(orphans.len())
}
