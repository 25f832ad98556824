use super::*;
use crate::native::batch::{encode_batch, stamp_batch};
use crate::native::codec::testing::roundtrip_strict;
use crate::native::message::NewMessage;

fn hex(text: &str) -> Vec<u8> {
    let digits: String = text.chars().filter(char::is_ascii_hexdigit).collect();
    (0..digits.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&digits[i..i + 2], 16).unwrap())
        .collect()
}

/// Poll body captured from the Python SDK (§4.5).
const POLL_CAPTURE: &str = "01 01 04 01000000 | 01 04 00000000 | 01 04 00000000 | 01 01000000 | \
                            01 0000000000000000 | 0a000000 | 00";

/// Send metadata captured for stream 0, topic 0, partition 1, two messages (§4.1).
const SEND_METADATA_CAPTURE: &str = "01 04 00000000 | 01 04 00000000 | 02 04 01000000 | 02000000";

fn two_message_batch() -> BytesMut {
    encode_batch(
        5,
        &[
            NewMessage {
                id: 1,
                offset_delta: 0,
                timestamp_delta: 0,
                payload: b"a",
                user_headers: b"",
            },
            NewMessage {
                id: 2,
                offset_delta: 1,
                timestamp_delta: 1,
                payload: b"bb",
                user_headers: b"",
            },
        ],
    )
}

#[test]
fn poll_capture_decodes_and_reencodes() {
    let bytes = hex(POLL_CAPTURE);
    let poll = PollMessages::decode_exact(&bytes).unwrap();
    let expected = PollMessages {
        consumer: Consumer::Single(Identifier::Numeric(1)),
        stream_id: Identifier::Numeric(0),
        topic_id: Identifier::Numeric(0),
        partition_id: Some(1),
        strategy: PollingStrategy::Offset(0),
        count: 10,
        auto_commit: false,
    };
    assert_eq!(poll, expected);
    assert_eq!(roundtrip_strict(&expected), bytes);
}

#[test]
fn every_strategy_and_consumer_kind_round_trips() {
    for strategy in [
        PollingStrategy::Offset(7),
        PollingStrategy::Timestamp(1_700_000_000_000_000),
        PollingStrategy::First,
        PollingStrategy::Last,
        PollingStrategy::Next,
    ] {
        roundtrip_strict(&PollMessages {
            consumer: Consumer::Group(Identifier::name("g").unwrap()),
            stream_id: Identifier::Numeric(0),
            topic_id: Identifier::name("t").unwrap(),
            partition_id: None,
            strategy,
            count: 1,
            auto_commit: true,
        });
    }
    let mut bad = hex(POLL_CAPTURE);
    bad[0] = 3;
    assert!(PollMessages::decode_exact(&bad).is_err());
    let mut bad_strategy = hex(POLL_CAPTURE);
    bad_strategy[24] = 6;
    assert!(PollMessages::decode_exact(&bad_strategy).is_err());
}

#[test]
fn send_capture_metadata_and_batch() {
    let metadata_bytes = hex(SEND_METADATA_CAPTURE);
    assert_eq!(metadata_bytes.len(), 22);
    let metadata = SendMetadata::decode_exact(&metadata_bytes).unwrap();
    assert_eq!(metadata.partitioning, Partitioning::PartitionId(1));
    assert_eq!(roundtrip_strict(&metadata), metadata_bytes);

    let batch = two_message_batch();
    let send = SendMessages {
        metadata,
        batch: &batch,
    };
    let mut body = BytesMut::new();
    send.encode(&mut body);
    assert_eq!(body.len(), send.encoded_size());
    assert_eq!(&body[..4], &22u32.to_le_bytes());
    let parsed = SendMessages::parse(&body).unwrap();
    assert_eq!(parsed, send);
    assert_eq!(parsed.validate().unwrap().message_count, 2);
    for cut in 0..body.len() {
        let outcome = SendMessages::parse(&body[..cut]).and_then(|send| send.validate());
        assert!(outcome.is_err(), "cut {cut}");
    }
}

#[test]
fn send_count_mismatch_and_bad_partitioning_are_rejected() {
    let batch = two_message_batch();
    let mut metadata = SendMetadata::decode_exact(&hex(SEND_METADATA_CAPTURE)).unwrap();
    metadata.message_count = 3;
    let mut body = BytesMut::new();
    SendMessages {
        metadata,
        batch: &batch,
    }
    .encode(&mut body);
    assert!(SendMessages::parse(&body).is_err());

    for partitioning in [
        Partitioning::Balanced,
        Partitioning::MessagesKey(Bytes::from_static(b"user-1")),
    ] {
        let metadata = SendMetadata {
            stream_id: Identifier::Numeric(0),
            topic_id: Identifier::Numeric(0),
            partitioning,
            message_count: 2,
        };
        roundtrip_strict(&metadata);
    }
    let bad_kinds = [[1u8, 4, 0, 0, 0, 0], [4, 0, 0, 0, 0, 0], [2, 3, 0, 0, 0, 0]];
    for bad in bad_kinds {
        let mut bytes = hex("01 04 00000000 01 04 00000000");
        bytes.extend_from_slice(&bad);
        bytes.extend_from_slice(&[2, 0, 0, 0]);
        assert!(SendMetadata::decode_exact(&bytes).is_err());
    }
}

#[test]
fn poll_reply_round_trip_and_count_check() {
    let mut first = two_message_batch();
    stamp_batch(&mut first, 1, 0, 9).unwrap();
    let mut second = two_message_batch();
    stamp_batch(&mut second, 1, 2, 9).unwrap();
    let header = PollReplyHeader {
        partition_id: 1,
        current_offset: 3,
        message_count: 4,
    };
    let body = PollReply::encode(&header, &[&first, &second]);
    assert_eq!(&body[..4], &1u32.to_le_bytes());
    assert_eq!(&body[4..12], &3u64.to_le_bytes());
    let reply = PollReply::parse(&body).unwrap();
    assert_eq!(reply.header, header);
    assert_eq!(reply.records.len(), first.len() + second.len());
    let wrong = PollReplyHeader {
        message_count: 3,
        ..header
    };
    assert!(PollReply::parse(&PollReply::encode(&wrong, &[&first, &second])).is_err());
    for cut in 0..body.len() {
        assert!(PollReply::parse(&body[..cut]).is_err(), "cut {cut}");
    }
    let empty = PollReplyHeader {
        partition_id: PARTITION_STALE,
        current_offset: 0,
        message_count: 0,
    };
    assert!(PollReply::parse(&PollReply::encode(&empty, &[])).is_ok());
}

#[test]
fn send_reply_and_flush() {
    let reply = SendReply {
        acks: vec![SendAck {
            stream_id: 0,
            topic_id: 1,
            partition_id: 2,
            base_offset: 3,
        }],
    };
    let bytes = roundtrip_strict(&reply);
    assert_eq!(bytes.len(), 24);
    assert!(SendReply::decode(&[0xff, 0xff, 0xff, 0xff]).is_err());
    let flush = roundtrip_strict(&FlushUnsavedBuffer {
        stream_id: Identifier::Numeric(0),
        topic_id: Identifier::Numeric(0),
        partition_id: 1,
        fsync: true,
    });
    assert_eq!(&flush[12..], &[1, 0, 0, 0, 1]);
}

#[test]
fn key_partition_matches_xxh32_seed_0() {
    // Published XXH32 test vectors, seed 0: "" → 0x02CC5D05, "abc" → 0x32D153FF.
    assert_eq!(
        Partitioning::key_partition(b"", u32::MAX),
        Some(0x02CC_5D05)
    );
    assert_eq!(
        Partitioning::key_partition(b"abc", u32::MAX),
        Some(0x32D1_53FF)
    );
    assert_eq!(
        Partitioning::key_partition(b"abc", 7),
        Some(0x32D1_53FF % 7)
    );
    assert_eq!(Partitioning::key_partition(b"abc", 0), None);
}
