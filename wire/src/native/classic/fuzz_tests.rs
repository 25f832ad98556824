//! Property tests: arbitrary bytes never panic any classic entry point, and structured classic
//! sends survive translation with every field intact.

use proptest::prelude::*;

use super::messages::tests::{Produced, classic_send, parse_classic_poll, stored_batch};
use super::*;
use crate::native::batch::BatchRecord;
use crate::native::commands::messages::{
    Partitioning, PollReply, PollReplyHeader, SendMessages, SendMetadata,
};
use crate::native::error::NativeWireError;
use crate::native::identifier::Identifier;
use crate::native::user_headers::validate_user_headers;

/// Every classic code, a few codes of 0.11 only, and a few of neither.
fn any_code() -> impl Strategy<Value = u32> {
    let classic: Vec<u32> = codes::COMMANDS.iter().map(|command| command.code).collect();
    prop_oneof![
        4 => proptest::sample::select(classic),
        1 => proptest::sample::select(codes::CURRENT_ONLY.to_vec()),
        1 => any::<u32>(),
    ]
}

/// A well-formed user-headers block of raw/string entries (a send's admission refuses others).
fn user_headers() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        (
            1u8..=2,
            prop::collection::vec(any::<u8>(), 1..8),
            1u8..=2,
            prop::collection::vec(any::<u8>(), 1..8),
        ),
        0..3,
    )
    .prop_map(|entries| {
        let mut block = Vec::new();
        for (key_kind, key, value_kind, value) in entries {
            for (kind, field) in [(key_kind, key), (value_kind, value)] {
                block.push(kind);
                block.extend_from_slice(&(field.len() as u32).to_le_bytes());
                block.extend_from_slice(&field);
            }
        }
        block
    })
}

fn produced() -> impl Strategy<Value = Produced> {
    (
        prop_oneof![Just(0u128), any::<u128>()],
        0u64..1_000_000,
        prop::collection::vec(any::<u8>(), 1..64),
        prop_oneof![user_headers(), prop::collection::vec(any::<u8>(), 0..32)],
    )
        .prop_map(|(id, origin, payload, headers)| Produced::new(id, origin, &payload, &headers))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_bytes_never_panic(code in any_code(), bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = peek_request(&bytes);
        let _ = peek_frame_len(&bytes);
        let _ = request_to_current(code, &bytes);
        let _ = reply_to_classic(code, &bytes);
        let _ = ClassicLogin::decode(&bytes);
        let _ = decode_token_login(&bytes);
    }

    #[test]
    fn mutated_sends_never_panic(
        messages in prop::collection::vec(produced(), 1..5),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        cut in any::<prop::sample::Index>(),
    ) {
        let metadata = SendMetadata {
            stream_id: Identifier::Numeric(0),
            topic_id: Identifier::Numeric(1),
            partitioning: Partitioning::Balanced,
            message_count: messages.len() as u32,
        };
        let mut body = classic_send(&metadata, &messages);
        for (at, value) in flips {
            let at = at.index(body.len());
            body[at] = value;
        }
        let _ = request_to_current(101, &body);
        let _ = request_to_current(101, &body[..cut.index(body.len())]);
    }

    #[test]
    fn mutated_poll_replies_never_panic(
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
    ) {
        let batch = stored_batch(5, 3);
        let header = PollReplyHeader { partition_id: 0, current_offset: 7, message_count: 3 };
        let mut reply = PollReply::encode(&header, &[&batch]).to_vec();
        for (at, value) in flips {
            let at = at.index(reply.len());
            reply[at] = value;
        }
        let _ = reply_to_classic(100, &reply);
    }

    #[test]
    fn sends_keep_every_field(messages in prop::collection::vec(produced(), 1..8)) {
        let metadata = SendMetadata {
            stream_id: Identifier::Numeric(2),
            topic_id: Identifier::Numeric(3),
            partitioning: Partitioning::PartitionId(1),
            message_count: messages.len() as u32,
        };
        let body = classic_send(&metadata, &messages);
        let Translated::Body(current) = request_to_current(101, &body).unwrap() else {
            panic!("send is always rebuilt");
        };
        let send = SendMessages::parse(&current).unwrap();
        prop_assert_eq!(&send.metadata, &metadata);
        // Header blocks are carried byte for byte; admission then refuses malformed ones.
        let headers_valid = messages
            .iter()
            .all(|m| validate_user_headers(&m.user_headers).is_ok());
        match send.validate() {
            Ok(_) => prop_assert!(headers_valid),
            Err(error) => {
                prop_assert!(!headers_valid, "refused: {}", error.to_string());
                let is_header_error = matches!(error, NativeWireError::InvalidUserHeader { .. });
                prop_assert!(is_header_error, "refused for another reason: {}", error.to_string());
            }
        }
        let record = BatchRecord::read(send.batch).unwrap();
        for (message, stored) in messages.iter().zip(record.messages()) {
            let stored = stored.unwrap();
            if message.id != 0 {
                prop_assert_eq!(stored.frame.header.id, message.id);
            }
            prop_assert_eq!(stored.origin_timestamp, message.origin_timestamp);
            prop_assert_eq!(stored.frame.payload, &message.payload[..]);
            prop_assert_eq!(stored.frame.user_headers, &message.user_headers[..]);
        }
    }

    #[test]
    fn polls_keep_every_message(count in 1u32..6, base in 0u64..1_000) {
        let batch = stored_batch(base, count);
        let header = PollReplyHeader {
            partition_id: 2,
            current_offset: base + u64::from(count),
            message_count: count,
        };
        let classic = reply_to_classic(100, &PollReply::encode(&header, &[&batch])).unwrap().unwrap();
        let (partition, _, polled, messages) = parse_classic_poll(&classic);
        prop_assert_eq!((partition, polled), (2, count));
        prop_assert_eq!(messages.len(), count as usize);
        for (index, message) in messages.iter().enumerate() {
            prop_assert_eq!(message.2, base + index as u64);
        }
    }
}
