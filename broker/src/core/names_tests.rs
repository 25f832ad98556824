#![allow(clippy::unwrap_used)]
use whippet_log::{Log, LogConfig, TopicSettings};

use super::*;

/// A log with the Kafka stream and the given (stream, topic) pairs created.
fn catalog(dir: &std::path::Path, topics: &[(&str, &str)]) -> Arc<Log> {
    let (log, _) = Log::open(LogConfig::new(dir)).unwrap();
    crate::core::topics::ensure_kafka_stream(&log, "kafka").unwrap();
    for (stream, topic) in topics {
        let id = match log.snapshot().stream_by_name(stream) {
            Some(s) => s.id,
            None => log.create_stream(stream).unwrap().id,
        };
        log.create_topic(id, topic, 2, TopicSettings::default())
            .unwrap();
    }
    log
}

#[test]
fn kafka_names_of_topics() {
    assert_eq!(kafka_name("kafka", "kafka", "orders"), "orders");
    assert_eq!(kafka_name("kafka", "s", "t"), "s.t");
    assert_eq!(kafka_name("k2", "kafka", "t"), "kafka.t");
    assert_eq!(
        visible_kafka_name("kafka", "s", "t").as_deref(),
        Some("s.t")
    );
    // Illegal for Kafka: a space, non-ASCII, over 249 characters.
    assert_eq!(visible_kafka_name("kafka", "my stream", "t"), None);
    assert_eq!(visible_kafka_name("kafka", "s", "é"), None);
    let long = "x".repeat(124);
    assert!(visible_kafka_name("kafka", &long, &long).is_some()); // 249
    assert!(visible_kafka_name("kafka", &long, &"x".repeat(125)).is_none()); // 250
}

#[test]
fn every_dotted_reading_in_order() {
    let all = |name| readings("kafka", name).collect::<Vec<_>>();
    assert_eq!(all("t"), vec![("kafka", "t")]);
    assert_eq!(
        all("a.b.c"),
        vec![("kafka", "a.b.c"), ("a", "b.c"), ("a.b", "c")]
    );
    // A prefix naming the Kafka stream is not a reading; empty halves are not either.
    assert_eq!(all("kafka.t"), vec![("kafka", "kafka.t")]);
    assert_eq!(all(".a."), vec![("kafka", ".a.")]);
}

#[test]
fn resolves_kafka_and_native_topics() {
    let dir = tempfile::tempdir().unwrap();
    let log = catalog(
        dir.path(),
        &[("kafka", "k"), ("s", "t"), ("a.b", "c"), ("my stream", "x")],
    );
    let snap = log.snapshot();
    let found = |name: &str| resolve(&snap, "kafka", name).map(|t| (t.stream_id, t.name.clone()));
    let s = snap.stream_by_name("s").unwrap().id;
    let ab = snap.stream_by_name("a.b").unwrap().id;
    let kafka = snap.stream_by_name("kafka").unwrap().id;
    assert_eq!(found("k"), Some((kafka, "k".into())));
    assert_eq!(found("s.t"), Some((s, "t".into())));
    assert_eq!(found("a.b.c"), Some((ab, "c".into())));
    assert_eq!(found("kafka.k"), None);
    assert_eq!(found("s"), None);
    assert_eq!(found("my stream.x"), None);

    let listed: Vec<String> = kafka_topics(&snap, "kafka")
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    assert_eq!(listed, ["k", "s.t", "a.b.c"]);
    let t = resolve(&snap, "kafka", "s.t").unwrap();
    assert_eq!(name_of(&snap, "kafka", &t).as_deref(), Some("s.t"));
    log.shutdown().unwrap();
}

#[test]
fn collisions_are_detected_both_ways() {
    let dir = tempfile::tempdir().unwrap();
    let log = catalog(dir.path(), &[("kafka", "s.t"), ("a", "b.c"), ("x", "y")]);
    let snap = log.snapshot();
    // Native t in s would be Kafka "s.t": taken by the Kafka topic.
    assert!(topic_collides(&snap, "kafka", "s", "t", None));
    assert!(!topic_collides(&snap, "kafka", "s", "u", None));
    // Kafka "a.b.c" reads as stream a, topic b.c.
    assert!(topic_collides(&snap, "kafka", "kafka", "a.b.c", None));
    // Dotted stream names: stream "a.b", topic "c" is also "a.b.c".
    assert!(topic_collides(&snap, "kafka", "a.b", "c", None));
    // Renaming a topic to its own name is not a collision with itself.
    let y = resolve(&snap, "kafka", "x.y").unwrap();
    assert!(!topic_collides(
        &snap,
        "kafka",
        "x",
        "y",
        Some((y.stream_id, y.id))
    ));
    // Renaming stream x to "s" makes x's topic y into "s.y": free; once x also has a topic
    // "t", the rename would make it "s.t", which the Kafka topic holds.
    let x = snap.stream_by_name("x").unwrap().id;
    assert!(!stream_rename_collides(&snap, "kafka", x, "s"));
    let log2 = {
        let id = log.snapshot().stream_by_name("x").unwrap().id;
        log.create_topic(id, "t", 1, TopicSettings::default())
            .unwrap();
        log.snapshot()
    };
    assert!(stream_rename_collides(&log2, "kafka", x, "s"));
    // Renaming stream a (topic "b.c") to "a2" makes "a2.b.c": free.
    let a = log2.stream_by_name("a").unwrap().id;
    assert!(!stream_rename_collides(&log2, "kafka", a, "a2"));
    log.shutdown().unwrap();
}
