//! The one place where Kafka's flat topic names meet the native stream → topic hierarchy
//! (design brief §2 "Names"). Every Kafka handler resolves names through here, and every
//! catalog change that can create or change a Kafka-visible name checks here first, so a name
//! never resolves two ways.
//!
//! # The mapping
//!
//! - Topic `t` of the **Kafka stream** (`ctx.kafka_stream`, default `kafka`) is Kafka topic `t`.
//! - Topic `t` of any other stream `s` is Kafka topic `s.t`.
//! - Partition `p` is partition `p` on both sides.
//!
//! # Resolving a Kafka name
//!
//! Both stream and topic names may contain dots, so `a.b.c` has several readings: topic
//! `a.b.c` of the Kafka stream, topic `b.c` of stream `a`, topic `c` of stream `a.b`. The
//! readings are tried in that order (Kafka stream first, then the shortest stream prefix); a
//! stream prefix equal to the Kafka stream's own name is not a reading, because topic `x` of the
//! Kafka stream is Kafka topic `x`, never `kafka.x`. Because of the creation rule below, at
//! most one reading names an existing topic, so the order only matters to a catalog written by
//! an older broker that never checked.
//!
//! # Creation and renames: one name, one topic
//!
//! Any catalog change that gives a topic a Kafka name is refused when that name already
//! resolves to a *different* topic, with the protocol's "already exists" error:
//!
//! - Kafka CreateTopics (and auto-create) `s.t` when stream `s` has topic `t`:
//!   TOPIC_ALREADY_EXISTS.
//! - native create_topic / update_topic (rename) of `t` in `s` when Kafka topic `s.t` exists
//!   (or another dotted reading, e.g. stream `s.x` topic `y` against stream `s` topic `x.y`):
//!   TopicNameAlreadyExists.
//! - native update_stream renaming `s` to `s2` when any of its topics `t` would become a Kafka
//!   name `s2.t` that already names another topic: StreamNameAlreadyExists.
//!
//! Creating a stream is always allowed: an empty stream gives no topic a Kafka name, so it
//! cannot make one resolve two ways (its first colliding topic is what gets refused). A Kafka
//! name is claimed only by a topic, never by a stream prefix, so Kafka topics such as
//! `orders.eu` and a native stream `orders` can coexist as long as that stream has no topic
//! `eu`.
//!
//! The check and the catalog write happen under the core's one names lock
//! ([`crate::core::Core::with_names_locked`]), so a Kafka CreateTopics and a native
//! create_topic racing for the same name cannot both win.
//!
//! # Names legal on one side only
//!
//! Kafka allows only `[a-zA-Z0-9._-]`, at most 249 characters, and not `.` or `..`; native
//! names are any UTF-8 up to 255 bytes. A native topic whose Kafka name breaks Kafka's rule
//! (a stream or topic name with a space, a non-ASCII character, or `s.t` longer than 249) is
//! **not visible to Kafka clients**: it is missing from Metadata, and any request naming it
//! is refused as Kafka refuses an invalid name. Native clients still see every topic,
//! including all Kafka topics as topics of the Kafka stream.
//!
//! # Auto-create
//!
//! A Kafka auto-create of `s.t` first resolves the name; only when nothing resolves is `s.t`
//! created, and always as topic `s.t` of the Kafka stream, even when a stream `s` exists
//! (Kafka clients cannot say which stream they mean, and the Kafka stream is where Kafka-made
//! topics live). From then on native stream `s` cannot create a topic `t`.

use std::sync::Arc;

use whippet_log::{CatalogSnapshot, StreamMeta, TopicMeta};

/// The separator between stream and topic in the Kafka name of a native topic.
pub const SEPARATOR: char = '.';

/// Longest Kafka topic name (Kafka's own `Topic.MAX_NAME_LENGTH`).
pub const TOPIC_NAME_BYTES_MAX: usize = 249;

/// Checks a topic name against Kafka's rule (`[a-zA-Z0-9._-]{1,249}`, not `.` or `..`), so
/// names a Java broker would refuse are refused here with INVALID_TOPIC_EXCEPTION too.
pub fn validate_topic_name(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        return Err("topic name is empty");
    }
    if name.len() > TOPIC_NAME_BYTES_MAX {
        return Err("topic name is longer than 249 characters");
    }
    if name == "." || name == ".." {
        return Err("topic name cannot be '.' or '..'");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        return Err("topic name may contain only ASCII alphanumerics, '.', '_' and '-'");
    }
    Ok(())
}

/// The Kafka name of topic `topic` of stream `stream`, whether or not Kafka allows it.
pub fn kafka_name(kafka_stream: &str, stream: &str, topic: &str) -> String {
    if stream == kafka_stream {
        topic.to_string()
    } else {
        format!("{stream}{SEPARATOR}{topic}")
    }
}

/// The Kafka name of topic `topic` of stream `stream` when Kafka clients may see it (the name
/// passes Kafka's rule), else `None`: such topics are native-only.
pub fn visible_kafka_name(kafka_stream: &str, stream: &str, topic: &str) -> Option<String> {
    let name = kafka_name(kafka_stream, stream, topic);
    validate_topic_name(&name).is_ok().then_some(name)
}

/// Every (stream name, topic name) reading of the Kafka name `name`, in resolution order: the
/// Kafka stream first, then each split at a dot from the left, skipping a prefix equal to the
/// Kafka stream's name. Lazy, so the common case (a Kafka-stream topic) splits nothing.
pub fn readings<'a>(
    kafka_stream: &'a str,
    name: &'a str,
) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
    let splits = name.match_indices(SEPARATOR).filter_map(move |(at, _)| {
        let (stream, topic) = (&name[..at], &name[at + SEPARATOR.len_utf8()..]);
        (!stream.is_empty() && !topic.is_empty() && stream != kafka_stream)
            .then_some((stream, topic))
    });
    std::iter::once((kafka_stream, name)).chain(splits)
}

/// The existing topic one reading names, if any.
fn lookup(snapshot: &CatalogSnapshot, (stream, topic): (&str, &str)) -> Option<Arc<TopicMeta>> {
    let stream = snapshot.stream_by_name(stream)?;
    snapshot.topic_by_name(stream.id, topic).cloned()
}

/// Every existing topic the Kafka name `name` reads as, in resolution order. More than one
/// means the catalog already holds a collision (only possible in data from before the rule).
pub fn matches(snapshot: &CatalogSnapshot, kafka_stream: &str, name: &str) -> Vec<Arc<TopicMeta>> {
    readings(kafka_stream, name)
        .filter_map(|reading| lookup(snapshot, reading))
        .collect()
}

/// The topic a Kafka client means by `name`, or `None` when the name is not a legal Kafka name
/// or names no topic.
pub fn resolve(
    snapshot: &CatalogSnapshot,
    kafka_stream: &str,
    name: &str,
) -> Option<Arc<TopicMeta>> {
    validate_topic_name(name).ok()?;
    readings(kafka_stream, name).find_map(|reading| lookup(snapshot, reading))
}

/// Every topic Kafka clients can see with its Kafka name: the Kafka stream's topics first,
/// then other streams' in stream-id order; topics whose Kafka name is illegal are left out.
pub fn kafka_topics(
    snapshot: &CatalogSnapshot,
    kafka_stream: &str,
) -> Vec<(String, Arc<TopicMeta>)> {
    let mut streams: Vec<&Arc<StreamMeta>> = snapshot.streams().collect();
    // Stable sort: the Kafka stream first, the rest keep their id order.
    streams.sort_by_key(|s| (s.name != kafka_stream, s.id));
    streams
        .into_iter()
        .flat_map(|stream| {
            stream.topics.values().filter_map(move |topic| {
                let name = visible_kafka_name(kafka_stream, &stream.name, &topic.name)?;
                Some((name, Arc::clone(topic)))
            })
        })
        .collect()
}

/// The Kafka name of an existing topic, looked up by its stream id (`None` when its stream is
/// gone from `snapshot` or the name is not legal for Kafka).
pub fn name_of(
    snapshot: &CatalogSnapshot,
    kafka_stream: &str,
    topic: &TopicMeta,
) -> Option<String> {
    let stream = snapshot.stream(topic.stream_id)?;
    visible_kafka_name(kafka_stream, &stream.name, &topic.name)
}

/// Whether naming topic `topic` of stream `stream` (by creation or rename) would make its
/// Kafka name resolve to a topic other than `except` (the topic being renamed, if any).
pub fn topic_collides(
    snapshot: &CatalogSnapshot,
    kafka_stream: &str,
    stream: &str,
    topic: &str,
    except: Option<(u32, u32)>,
) -> bool {
    let name = kafka_name(kafka_stream, stream, topic);
    matches(snapshot, kafka_stream, &name)
        .iter()
        .any(|found| Some((found.stream_id, found.id)) != except)
}

/// Whether renaming stream `stream_id` to `new_name` would give one of its topics a Kafka name
/// that already resolves to a topic of another stream.
pub fn stream_rename_collides(
    snapshot: &CatalogSnapshot,
    kafka_stream: &str,
    stream_id: u32,
    new_name: &str,
) -> bool {
    let Some(stream) = snapshot.stream(stream_id) else {
        return false;
    };
    stream.topics.values().any(|topic| {
        let name = kafka_name(kafka_stream, new_name, &topic.name);
        matches(snapshot, kafka_stream, &name)
            .iter()
            .any(|found| found.stream_id != stream_id)
    })
}

#[cfg(test)]
#[path = "names_tests.rs"]
mod tests;
