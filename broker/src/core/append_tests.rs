#![allow(clippy::unwrap_used)]

use super::*;

#[test]
fn cap_reads_canonical_text_and_treats_zero_and_max_as_unlimited() {
    let mut settings = TopicSettings::default();
    assert_eq!(max_topic_size(&settings), None);
    for (text, cap) in [
        ("1024", Some(1024)),
        ("0", None),
        ("18446744073709551615", None),
        ("x", None),
    ] {
        settings
            .extra_configs
            .insert(MAX_TOPIC_SIZE_KEY.into(), text.into());
        assert_eq!(max_topic_size(&settings), cap, "{text}");
    }
}

fn capped(cap: &str) -> TopicSettings {
    let mut settings = TopicSettings::default();
    settings
        .extra_configs
        .insert(MAX_TOPIC_SIZE_KEY.into(), cap.into());
    settings
}

#[test]
fn cached_cap_follows_each_version_of_the_topic() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = whippet_log::Log::open(whippet_log::LogConfig::new(dir.path())).unwrap();
    let stream = log.create_stream("s").unwrap();
    let first = log.create_topic(stream.id, "t", 1, capped("1024")).unwrap();
    let caps = TopicCaps::default();
    assert_eq!(caps.cap(&first), Some(1024));
    assert_eq!(caps.cap(&first), Some(1024));
    // Re-set (another catalog version of the same ids): parsed again, not served stale.
    log.update_topic(stream.id, first.id, None, capped("2048"))
        .unwrap();
    let second = log.snapshot().topic(stream.id, first.id).unwrap().clone();
    assert_eq!(caps.cap(&second), Some(2048));
    // Deleted and created again under the same ids without a cap.
    drop(first);
    log.delete_topic(stream.id, second.id).unwrap();
    drop(second);
    let third = log
        .create_topic(stream.id, "t", 1, TopicSettings::default())
        .unwrap();
    assert_eq!(caps.cap(&third), None);
    assert_eq!(caps.caps.load().len(), 1);
}
