//! Property tests for the native codec: uneven random shapes round-trip, and arbitrary bytes fed
//! to every decoder return an error or a value, never a panic.
#![allow(clippy::unwrap_used)]

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;
use whippet_wire::native::batch::{
    BatchRecord, encode_batch, slice_batch, stamp_batch, validate_send_batch, verify_batch_checksum,
};
use whippet_wire::native::codec::{WireDecode, WireEncode};
use whippet_wire::native::commands::{
    groups, messages, offsets, partitions, permissions, stats, streams, system, tokens, topics,
    users,
};
use whippet_wire::native::eviction::Eviction;
use whippet_wire::native::header::{ReplyHeader, RequestHeader};
use whippet_wire::native::identifier::Identifier;
use whippet_wire::native::message::NewMessage;
use whippet_wire::native::result::ResultSection;
use whippet_wire::native::user_headers::{Options, decode_user_headers};

fn identifier() -> impl Strategy<Value = Identifier> {
    prop_oneof![
        any::<u32>().prop_map(Identifier::Numeric),
        "[a-z0-9.-]{1,40}".prop_map(|name| Identifier::name(&name).unwrap()),
    ]
}

fn strategy() -> impl Strategy<Value = messages::PollingStrategy> {
    use messages::PollingStrategy as S;
    prop_oneof![
        any::<u64>().prop_map(S::Offset),
        any::<u64>().prop_map(S::Timestamp),
        Just(S::First),
        Just(S::Last),
        Just(S::Next),
    ]
}

fn poll() -> impl Strategy<Value = messages::PollMessages> {
    (
        identifier(),
        any::<bool>(),
        identifier(),
        identifier(),
        proptest::option::of(any::<u32>()),
        strategy(),
        any::<u32>(),
        any::<bool>(),
    )
        .prop_map(
            |(id, group, stream_id, topic_id, partition_id, strategy, count, auto_commit)| {
                messages::PollMessages {
                    consumer: if group {
                        messages::Consumer::Group(id)
                    } else {
                        messages::Consumer::Single(id)
                    },
                    stream_id,
                    topic_id,
                    partition_id,
                    strategy,
                    count,
                    auto_commit,
                }
            },
        )
}

type RawMessage = (u128, u32, Vec<u8>, Vec<u8>);

/// A well-formed user-headers block: raw or string keys and values of 1..8 bytes.
fn user_headers_block() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(
        (
            1u8..=2,
            proptest::collection::vec(any::<u8>(), 1..8),
            1u8..=2,
            proptest::collection::vec(any::<u8>(), 1..8),
        ),
        0..3,
    )
    .prop_map(|entries| {
        let mut block = Vec::new();
        for (key_kind, key, value_kind, value) in entries {
            for (kind, field) in [(key_kind, key), (value_kind, value)] {
                block.push(kind);
                block.extend_from_slice(&u32::try_from(field.len()).unwrap().to_le_bytes());
                block.extend_from_slice(&field);
            }
        }
        block
    })
}

fn raw_messages() -> impl Strategy<Value = Vec<RawMessage>> {
    proptest::collection::vec(
        (
            any::<u128>(),
            0u32..1_000_000,
            proptest::collection::vec(any::<u8>(), 1..64),
            user_headers_block(),
        ),
        1..12,
    )
}

fn build(raw: &[RawMessage]) -> BytesMut {
    let messages: Vec<NewMessage<'_>> = raw
        .iter()
        .enumerate()
        .map(|(index, (id, delta, payload, headers))| NewMessage {
            id: *id,
            offset_delta: index as u32,
            timestamp_delta: *delta,
            payload,
            user_headers: headers,
        })
        .collect();
    encode_batch(1_700_000_000_000_000, &messages)
}

proptest! {
    #[test]
    fn poll_round_trips(value in poll()) {
        let bytes = value.to_bytes();
        prop_assert_eq!(bytes.len(), value.encoded_size());
        prop_assert_eq!(messages::PollMessages::decode_exact(&bytes).unwrap(), value);
    }

    #[test]
    fn batches_validate_stamp_and_slice(raw in raw_messages(), base in 0u64..u64::MAX / 2,
                                        from in 0usize..12, span in 0usize..12) {
        let mut batch = build(&raw);
        let summary = validate_send_batch(&batch).unwrap();
        prop_assert_eq!(summary.message_count as usize, raw.len());
        stamp_batch(&mut batch, 3, base, 42).unwrap();
        validate_send_batch(&batch).unwrap();
        let first = base + from as u64;
        let last = first + span as u64;
        match slice_batch(&batch, first, last).unwrap() {
            None => prop_assert!(from >= raw.len()),
            Some(slice) => {
                let record = BatchRecord::read(&slice).unwrap();
                verify_batch_checksum(&record).unwrap();
                let offsets: Vec<u64> =
                    record.messages().map(|message| message.unwrap().offset).collect();
                let expected_last = last.min(base + raw.len() as u64 - 1);
                let expected: Vec<u64> = (first..=expected_last).collect();
                prop_assert_eq!(offsets, expected);
            }
        }
    }

    #[test]
    fn flipping_any_batch_byte_is_caught(raw in raw_messages(), position in any::<prop::sample::Index>(),
                                         bit in 0u8..8) {
        let mut batch = build(&raw);
        let index = position.index(batch.len());
        batch[index] ^= 1 << bit;
        prop_assert!(validate_send_batch(&batch).is_err());
    }

    #[test]
    fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        decode_everything(&bytes);
    }
}

/// Feed the same bytes to every decoder; only the absence of a panic is being tested here.
fn decode_everything(bytes: &[u8]) {
    let _ = RequestHeader::decode(bytes);
    let _ = ReplyHeader::decode(bytes);
    let _ = Eviction::decode(bytes);
    let _ = ResultSection::decode(bytes);
    let _ = Identifier::decode(bytes);
    let _ = decode_user_headers(bytes);
    let _ = Options::decode_block(bytes);
    let _ = validate_send_batch(bytes);
    let _ = whippet_wire::native::batch::records(bytes).count();
    let _ = slice_batch(bytes, 0, u64::MAX);
    let _ = system::Register::decode(bytes);
    let _ = system::LoginReply::decode(bytes);
    let _ = system::ClientDetails::decode(bytes);
    let _ = system::ClientList::decode(bytes);
    let _ = system::ClusterMetadata::decode(bytes);
    let _ = stats::Stats::decode(bytes);
    let _ = streams::CreateStream::decode(bytes);
    let _ = streams::StreamDetails::decode(bytes);
    let _ = streams::StreamList::decode(bytes);
    let _ = topics::CreateTopic::decode(bytes);
    let _ = topics::TopicDetails::decode(bytes);
    let _ = topics::TopicList::decode(bytes);
    let _ = partitions::PartitionsChange::decode_checked(bytes);
    let _ = messages::SendMessages::parse(bytes).map(|send| send.validate());
    let _ = messages::PollMessages::decode(bytes);
    let _ = messages::PollReply::parse(bytes);
    let _ = messages::SendReply::decode(bytes);
    let _ = offsets::StoreConsumerOffset::decode(bytes);
    let _ = groups::GroupDetails::decode(bytes);
    let _ = groups::GroupList::decode(bytes);
    let _ = groups::SyncReply::decode(bytes);
    let _ = users::CreateUser::decode(bytes);
    let _ = users::UpdateUser::decode(bytes);
    let _ = users::UserDetails::decode(bytes);
    let _ = users::UserList::decode(bytes);
    let _ = permissions::Permissions::decode(bytes);
    let _ = tokens::TokenList::decode(bytes);
}

#[test]
fn structured_garbage_around_valid_prefixes_never_panics() {
    let batch = build(&[(1, 0, b"payload".to_vec(), Vec::new())]);
    for cut in 0..batch.len() {
        decode_everything(&batch[..cut]);
    }
}

#[test]
fn over_long_keys_are_encoded_decodably() {
    let metadata = messages::SendMetadata {
        stream_id: Identifier::Numeric(0),
        topic_id: Identifier::Numeric(0),
        partitioning: messages::Partitioning::MessagesKey(Bytes::from(vec![b'k'; 300])),
        message_count: 1,
    };
    let bytes = metadata.to_bytes();
    assert_eq!(bytes.len(), metadata.encoded_size());
    let decoded = messages::SendMetadata::decode_exact(&bytes).unwrap();
    assert_eq!(
        decoded.partitioning,
        messages::Partitioning::MessagesKey(Bytes::from(vec![b'k'; 255]))
    );
}
