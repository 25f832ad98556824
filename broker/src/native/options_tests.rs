//! Unit tests of native option parsing: text durations and sizes, kinds, unknown keys,
//! duplicates, persistence in the topic settings and the describe catalog.

#![allow(clippy::unwrap_used)]
use super::*;

fn block(entries: Vec<HeaderEntry>) -> Options {
    Options { entries }
}

fn u64_entry(key: &str, value: u64) -> HeaderEntry {
    OptionValue::U64(value).entry(key)
}

#[test]
fn durations_and_sizes_in_text() {
    assert_eq!(parse_duration_us("7 days"), Some(7 * 86_400_000_000));
    assert_eq!(parse_duration_us("1h 30m"), Some(5_400_000_000));
    assert_eq!(parse_duration_us("500ms"), Some(500_000));
    assert_eq!(parse_duration_us("2 weeks"), Some(1_209_600_000_000));
    assert_eq!(parse_duration_us("days"), None);
    assert_eq!(parse_duration_us("5 fortnights"), None);
    assert_eq!(parse_duration_us(""), None);
    assert_eq!(parse_duration_us("99999999999999999 years"), None);
    assert_eq!(parse_size("1 GiB"), Some(1 << 30));
    assert_eq!(parse_size("512KB"), Some(512_000));
    assert_eq!(parse_size("128 mib"), Some(128 << 20));
    assert_eq!(parse_size("100 B"), Some(100));
    assert_eq!(parse_size("1 GiB 2 MiB"), None);
    assert_eq!(parse_size("1 XB"), None);
    assert_eq!(parse_size("20000000 PiB"), None);
}

#[test]
fn values_of_every_kind_are_canonicalised() {
    let parsed = TopicOptions::parse(&block(vec![
        HeaderEntry::string(keys::MESSAGE_EXPIRY, "7 days"),
        HeaderEntry::string(keys::SEGMENT_SIZE, "128 MiB"),
        HeaderEntry::string(keys::DURABILITY, "Replicated"),
        HeaderEntry::string(keys::PREALLOCATE_SEGMENTS, "true"),
        OptionValue::U32(10).entry(keys::MESSAGES_REQUIRED_TO_SAVE),
        u64_entry(keys::MAX_TOPIC_SIZE, 1 << 30),
    ]))
    .unwrap();
    let options = TopicOptions::created(parsed);
    assert_eq!(options.message_expiry_us(), 7 * 86_400_000_000);
    assert_eq!(options.max_topic_size(), 1 << 30);
    let explicit = options.explicit_block();
    assert_eq!(explicit.entries.len(), 6);
    let segment = explicit.get(keys::SEGMENT_SIZE).unwrap();
    assert_eq!(segment.value_kind, kind::UINT64);
    assert_eq!(segment.value.as_ref(), &(128u64 << 20).to_le_bytes());
    assert_eq!(
        explicit.get(keys::DURABILITY).unwrap().value.as_ref(),
        b"replicated"
    );
    // The derived block holds exactly the other three keys, with defaults.
    let derived = options.derived_block();
    assert_eq!(derived.entries.len(), 3);
    assert_eq!(
        derived
            .get(keys::COMPRESSION_ALGORITHM)
            .unwrap()
            .value
            .as_ref(),
        b"none"
    );
}

#[test]
fn unknown_keys_bad_values_and_duplicates_are_refused() {
    let unknown = block(vec![HeaderEntry::string("retention", "1")]);
    assert_eq!(
        TopicOptions::parse(&unknown).unwrap_err(),
        Status::UnsupportedOptionKey
    );
    for bad in [
        HeaderEntry::string(keys::COMPRESSION_ALGORITHM, "lz4"),
        HeaderEntry::string(keys::DURABILITY, "sometimes"),
        HeaderEntry::string(keys::MESSAGE_EXPIRY, "soon"),
        HeaderEntry::string(keys::SEGMENT_SIZE, "1 KiB"),
        u64_entry(keys::MESSAGES_REQUIRED_TO_SAVE, 0),
        HeaderEntry::string(keys::PREALLOCATE_SEGMENTS, "maybe"),
        OptionValue::Bool(true).entry(keys::MAX_TOPIC_SIZE),
        HeaderEntry {
            value_kind: kind::INT64,
            ..u64_entry(keys::MAX_TOPIC_SIZE, u64::MAX)
        },
    ] {
        assert_eq!(
            TopicOptions::parse(&block(vec![bad.clone()])).unwrap_err(),
            Status::InvalidOptionValue,
            "{bad:?}"
        );
    }
    let twice = block(vec![
        HeaderEntry::string(keys::DURABILITY, "replicated"),
        HeaderEntry::string(keys::DURABILITY, "persisted"),
    ]);
    assert_eq!(
        TopicOptions::parse(&twice).unwrap_err(),
        Status::InvalidOptionValue
    );
    assert_eq!(
        check_stream_options(&block(vec![HeaderEntry::string("k", "v")])),
        Err(Status::UnsupportedOptionKey)
    );
    assert_eq!(check_stream_options(&Options::default()), Ok(()));
}

#[test]
fn settings_round_trip_and_updates_patch() {
    let parsed = TopicOptions::parse(&block(vec![
        u64_entry(keys::MESSAGE_EXPIRY, 2_500),
        u64_entry(keys::SEGMENT_SIZE, 1 << 20),
        HeaderEntry::string(keys::COMPRESSION_ALGORITHM, "gzip"),
        u64_entry(keys::MAX_TOPIC_SIZE, 0),
    ]))
    .unwrap();
    let options = TopicOptions::created(parsed);
    let mut settings = TopicSettings::default();
    options.apply(&mut settings, |_| true);
    assert_eq!(settings.retention_ms, Some(3));
    assert_eq!(settings.segment_bytes, 1 << 20);
    assert_eq!(settings.compression, Compression::Gzip);
    assert_eq!(options.compression_code(), 2);
    assert_eq!(options.max_topic_size(), u64::MAX);
    let stored = TopicOptions::stored(&settings);
    assert_eq!(stored.explicit_block(), options.explicit_block());
    assert_eq!(stored.derived_block(), options.derived_block());
    assert!(!settings.extra_configs.contains_key(keys::MAX_TOPIC_SIZE));
    assert_eq!(crate::core::append::max_topic_size(&settings), None);
    let update = TopicOptions::parse(&block(vec![
        u64_entry(keys::MESSAGE_EXPIRY, 0),
        HeaderEntry::string(keys::MAX_TOPIC_SIZE, "1 GB"),
    ]))
    .unwrap();
    let updated = options.updated(update.clone());
    updated.apply(&mut settings, |key| update.touches(key));
    assert_eq!(settings.retention_ms, None);
    assert_eq!(updated.message_expiry_us(), u64::MAX);
    assert_eq!(updated.max_topic_size(), 1_000_000_000);
    assert_eq!(settings.segment_bytes, 1 << 20);
    assert_eq!(
        TopicOptions::stored(&settings).explicit_block(),
        updated.explicit_block()
    );
    assert_eq!(settings.extra_configs[keys::MAX_TOPIC_SIZE], "1000000000");
    assert_eq!(
        crate::core::append::max_topic_size(&settings),
        Some(1_000_000_000)
    );
    assert!(!settings.extra_configs.contains_key(keys::MESSAGE_EXPIRY));
}

#[test]
fn derived_block_reports_the_log_settings_of_a_kafka_topic() {
    let settings = TopicSettings {
        segment_bytes: 1 << 20,
        retention_ms: Some(60_000),
        ..TopicSettings::default()
    };
    let options = TopicOptions::stored(&settings);
    assert!(options.explicit_block().entries.is_empty());
    let derived = options.derived_block();
    assert_eq!(derived.entries.len(), 9);
    assert_eq!(
        derived.get(keys::SEGMENT_SIZE).unwrap().value.as_ref(),
        &(1u64 << 20).to_le_bytes()
    );
    assert_eq!(options.message_expiry_us(), 60_000_000);
    // A native update naming only the name leaves the Kafka-set values alone.
    let mut kept = settings.clone();
    options
        .updated(ParsedOptions::default())
        .apply(&mut kept, |_| false);
    assert_eq!(kept, settings);
}

#[test]
fn integer_kinds_are_read_by_width() {
    assert_eq!(integer_of(kind::UINT8, &[7]), Ok(7));
    assert_eq!(integer_of(kind::INT32, &5i32.to_le_bytes()), Ok(5));
    assert!(integer_of(kind::INT32, &(-5i32).to_le_bytes()).is_err());
    assert!(integer_of(kind::UINT32, &[1, 0]).is_err());
    assert!(integer_of(kind::UINT128, &u128::MAX.to_le_bytes()).is_err());
    assert_eq!(integer_of(kind::UINT128, &9u128.to_le_bytes()), Ok(9));
    assert!(integer_of(1, &[1]).is_err());
}

#[test]
fn described_keys_cover_the_catalog() {
    let described: Vec<_> = described_topic_keys().collect();
    assert_eq!(described.len(), 9);
    let expiry = described
        .iter()
        .find(|(key, ..)| *key == keys::MESSAGE_EXPIRY)
        .unwrap();
    assert_eq!(expiry.1, kind::UINT64);
    assert_eq!(expiry.2.as_ref(), &u64::MAX.to_le_bytes());
    let mut sorted: Vec<_> = described.iter().map(|d| d.0).collect();
    sorted.sort_unstable();
    assert_eq!(sorted, described.iter().map(|d| d.0).collect::<Vec<_>>());
}
