use super::*;
use crate::native::batch::{encode_batch, slice_batch, stamp_batch, validate_send_batch};
use crate::native::classic::ClassicError;
use crate::native::codec::WireEncode;
use crate::native::commands::messages::{
    Partitioning, PollReplyHeader, SendMessages, SendMetadata,
};
use crate::native::identifier::Identifier;
use crate::native::status::Status;

/// A message as a classic producer builds it.
#[derive(Debug, Clone)]
pub(crate) struct Produced {
    pub(crate) id: u128,
    pub(crate) origin_timestamp: u64,
    pub(crate) payload: Vec<u8>,
    pub(crate) user_headers: Vec<u8>,
}

impl Produced {
    pub(crate) fn new(id: u128, origin_timestamp: u64, payload: &[u8], headers: &[u8]) -> Self {
        Self {
            id,
            origin_timestamp,
            payload: payload.to_vec(),
            user_headers: headers.to_vec(),
        }
    }

    fn size(&self) -> usize {
        64 + self.payload.len() + self.user_headers.len()
    }

    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&0u64.to_le_bytes());
        out.extend_from_slice(&self.id.to_le_bytes());
        out.extend_from_slice(&[0; 16]);
        out.extend_from_slice(&self.origin_timestamp.to_le_bytes());
        out.extend_from_slice(&(self.user_headers.len() as u32).to_le_bytes());
        out.extend_from_slice(&(self.payload.len() as u32).to_le_bytes());
        out.extend_from_slice(&[0; 8]);
        out.extend_from_slice(&self.payload);
        out.extend_from_slice(&self.user_headers);
    }
}

fn metadata(count: u32) -> SendMetadata {
    SendMetadata {
        stream_id: Identifier::Numeric(1),
        topic_id: Identifier::name("orders").unwrap(),
        partitioning: Partitioning::PartitionId(2),
        message_count: count,
    }
}

/// A classic send body laid out as `SendMessagesEncoder` in `iggy_binary_protocol` 0.10 does.
pub(crate) fn classic_send(metadata: &SendMetadata, messages: &[Produced]) -> Vec<u8> {
    let mut out = Vec::new();
    let encoded = metadata.to_bytes();
    out.extend_from_slice(&(encoded.len() as u32).to_le_bytes());
    out.extend_from_slice(&encoded);
    let mut end = 0u32;
    for message in messages {
        end += message.size() as u32;
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&end.to_le_bytes());
        out.extend_from_slice(&0u64.to_le_bytes());
    }
    for message in messages {
        message.write(&mut out);
    }
    out
}

fn sample() -> Vec<Produced> {
    vec![
        Produced::new(
            0xabc,
            1_000,
            b"hello",
            &[2, 1, 0, 0, 0, b'k', 2, 1, 0, 0, 0, b'v'],
        ),
        Produced::new(0, 1_500, b"x", b""),
        Produced::new(7, 900, &[9; 300], b""),
    ]
}

fn translate(body: &[u8]) -> Result<BytesMut> {
    let mut next = 100u128;
    send_to_current(body, &mut || {
        next += 1;
        next
    })
}

fn index_of(metadata_len: usize, entry: usize) -> usize {
    4 + metadata_len + entry * CLASSIC_INDEX_BYTES
}

#[test]
fn send_becomes_one_valid_batch() {
    let messages = sample();
    let body = classic_send(&metadata(3), &messages);
    let current = translate(&body).unwrap();
    let send = SendMessages::parse(&current).unwrap();
    assert_eq!(send.metadata, metadata(3));
    let summary = send.validate().unwrap();
    assert_eq!(summary.message_count, 3);
    assert_eq!(summary.origin_timestamp, 900);
    assert_eq!(summary.payload_bytes, 306);
    let record = crate::native::batch::BatchRecord::read(send.batch).unwrap();
    let frames: Vec<_> = record.messages().map(|m| m.unwrap()).collect();
    assert_eq!(frames[0].frame.header.id, 0xabc);
    assert_eq!(
        frames[1].frame.header.id, 101,
        "id 0 took the next fresh id"
    );
    assert_eq!(frames[2].frame.header.id, 7);
    assert_eq!(frames[0].origin_timestamp, 1_000);
    assert_eq!(frames[1].origin_timestamp, 1_500);
    assert_eq!(frames[2].origin_timestamp, 900);
    assert_eq!(frames[0].frame.payload, b"hello");
    assert_eq!(frames[0].frame.user_headers, &messages[0].user_headers[..]);
    assert_eq!(frames[2].frame.payload, &[9; 300]);
    assert_eq!(
        current.len(),
        body.len() + BATCH_HEADER_BYTES - 3 * (CLASSIC_INDEX_BYTES + 16)
    );
}

#[test]
fn derived_ids_are_distinct_and_stable() {
    let body = classic_send(
        &metadata(2),
        &[
            Produced::new(0, 1, b"a", b""),
            Produced::new(0, 1, b"a", b""),
        ],
    );
    let mut first = derived_ids(&body);
    let (a, b) = (first(), first());
    assert_ne!(a, b);
    assert_ne!(a, 0);
    let mut again = derived_ids(&body);
    assert_eq!(again(), a);
}

fn expect_status(body: &[u8], status: Status) {
    let error = translate(body).unwrap_err();
    assert_eq!(error.status(), status, "{error}");
}

#[test]
fn count_and_index_block_must_agree() {
    let messages = sample();
    let metadata_len = metadata(3).encoded_size();
    expect_status(
        &classic_send(&metadata(0), &[]),
        Status::InvalidMessagesCount,
    );
    // Count larger than the index block that fits in the body.
    let mut body = classic_send(&metadata(3), &messages[..1]);
    body.truncate(4 + metadata_len + 16 + 10);
    expect_status(&body, Status::InvalidMessagesCount);
    // Count smaller than the messages sent: the last position does not end the body.
    let mut fewer = classic_send(&metadata(3), &messages);
    let count_at = 4 + metadata_len - 4;
    fewer[count_at..count_at + 4].copy_from_slice(&2u32.to_le_bytes());
    assert!(translate(&fewer).is_err());
    // Index block and count agree, but more message bytes follow the last position.
    let mut extra = classic_send(&metadata(2), &messages[..2]);
    let mut third = Vec::new();
    messages[2].write(&mut third);
    extra.extend_from_slice(&third);
    assert!(matches!(
        translate(&extra),
        Err(ClassicError::Wire(NativeWireError::Mismatch {
            field: "messages_size",
            ..
        }))
    ));
    expect_status(
        &classic_send(&metadata(2_000_000), &[]),
        Status::InvalidMessagesCount,
    );
}

#[test]
fn lying_positions_and_lengths_fail() {
    let messages = sample();
    let metadata_len = metadata(3).encoded_size();
    let body = classic_send(&metadata(3), &messages);
    let mut cases = Vec::new();
    for (entry, position) in [(0usize, 0u32), (0, u32::MAX), (1, 10), (2, 1 << 20)] {
        let mut bad = body.clone();
        let at = index_of(metadata_len, entry) + 4;
        bad[at..at + 4].copy_from_slice(&position.to_le_bytes());
        cases.push(bad);
    }
    for word in [0usize, 8] {
        let mut bad = body.clone();
        bad[index_of(metadata_len, 1) + word] = 1;
        cases.push(bad);
    }
    let area = 4 + metadata_len + 3 * CLASSIC_INDEX_BYTES;
    for (field_at, value) in [(52usize, 6u32), (52, 4), (48, 1), (52, 0)] {
        let mut bad = body.clone();
        bad[area + field_at..area + field_at + 4].copy_from_slice(&value.to_le_bytes());
        cases.push(bad);
    }
    let mut reserved = body.clone();
    reserved[area + 60] = 1;
    cases.push(reserved);
    let mut metadata_lie = body.clone();
    metadata_lie[..4].copy_from_slice(&u32::MAX.to_le_bytes());
    cases.push(metadata_lie);
    for (number, case) in cases.iter().enumerate() {
        assert!(translate(case).is_err(), "case {number}");
    }
    let mut empty_payload = body.clone();
    empty_payload[area + 52..area + 56].copy_from_slice(&0u32.to_le_bytes());
    assert!(translate(&empty_payload).is_err());
}

#[test]
fn payload_and_header_bounds() {
    let empty = classic_send(&metadata(1), &[Produced::new(1, 1, b"", b"")]);
    expect_status(&empty, Status::EmptyMessagePayload);
    let headers = vec![1u8; USER_HEADERS_BYTES_MAX as usize + 1];
    let big_headers = classic_send(&metadata(1), &[Produced::new(1, 1, b"p", &headers)]);
    expect_status(&big_headers, Status::TooBigUserHeaders);
}

#[test]
fn origin_timestamps_must_fit_a_batch() {
    let spread = u64::from(u32::MAX) + 1;
    let body = classic_send(
        &metadata(2),
        &[
            Produced::new(1, 10, b"a", b""),
            Produced::new(2, 10 + spread, b"b", b""),
        ],
    );
    assert_eq!(
        translate(&body).unwrap_err(),
        ClassicError::TimestampSpan { span_us: spread }
    );
    let fits = classic_send(
        &metadata(2),
        &[
            Produced::new(1, 10, b"a", b""),
            Produced::new(2, 9 + spread, b"b", b""),
        ],
    );
    let current = translate(&fits).unwrap();
    validate_send_batch(SendMessages::parse(&current).unwrap().batch).unwrap();
}

#[test]
fn every_cut_fails_without_panic() {
    let body = classic_send(&metadata(3), &sample());
    for cut in 0..body.len() {
        assert!(translate(&body[..cut]).is_err(), "cut {cut}");
    }
}

/// A 0.11 stored batch of `count` messages at `base_offset`, stamped as the log does.
pub(crate) fn stored_batch(base_offset: u64, count: u32) -> BytesMut {
    let payloads: Vec<Vec<u8>> = (0..count)
        .map(|i| vec![i as u8 + 1; i as usize + 1])
        .collect();
    let headers = [2, 1, 0, 0, 0, b'k', 2, 1, 0, 0, 0, b'v'];
    let messages: Vec<NewMessage<'_>> = payloads
        .iter()
        .enumerate()
        .map(|(index, payload)| NewMessage {
            id: 1000 + index as u128,
            offset_delta: index as u32,
            timestamp_delta: 10 * index as u32,
            payload,
            user_headers: if index % 2 == 0 { &headers } else { b"" },
        })
        .collect();
    let mut batch = encode_batch(5_000, &messages);
    stamp_batch(&mut batch, 3, base_offset, 9_000).unwrap();
    batch
}

/// Decode a classic poll reply the way the 0.10 SDK does, returning
/// `(partition, current_offset, count, [(checksum, id, offset, timestamp, origin, payload, headers)])`.
#[allow(clippy::type_complexity)]
pub(crate) fn parse_classic_poll(
    bytes: &[u8],
) -> (
    u32,
    u64,
    u32,
    Vec<(u64, u128, u64, u64, u64, Vec<u8>, Vec<u8>)>,
) {
    let mut reader = Reader::new(bytes);
    let partition = reader.u32("p").unwrap();
    let current = reader.u64("c").unwrap();
    let count = reader.u32("n").unwrap();
    let mut messages = Vec::new();
    while reader.remaining() > 0 {
        let start = reader.position();
        let checksum = reader.u64("checksum").unwrap();
        let id = reader.u128("id").unwrap();
        let offset = reader.u64("offset").unwrap();
        let timestamp = reader.u64("timestamp").unwrap();
        let origin = reader.u64("origin").unwrap();
        let headers_len = reader.u32("hl").unwrap() as usize;
        let payload_len = reader.u32("pl").unwrap() as usize;
        assert_eq!(reader.u64("reserved").unwrap(), 0);
        let payload = reader.take("payload", payload_len).unwrap().to_vec();
        let headers = reader.take("headers", headers_len).unwrap().to_vec();
        let computed = xxhash_rust::xxh3::xxh3_64(&bytes[start + 8..reader.position()]);
        assert_eq!(
            checksum, computed,
            "stored checksum is XXH3 of the message after it"
        );
        messages.push((checksum, id, offset, timestamp, origin, payload, headers));
    }
    (partition, current, count, messages)
}

#[test]
fn poll_reply_in_parts_translates_like_the_joined_reply() {
    let first = stored_batch(10, 3);
    let second = slice_batch(&stored_batch(13, 4), 14, 15).unwrap().unwrap();
    let header = PollReplyHeader {
        partition_id: 3,
        current_offset: 16,
        message_count: 5,
    };
    let joined = poll_to_classic(&PollReply::encode(&header, &[&first, &second])).unwrap();
    let head = header.to_bytes();
    let parts = poll_parts_to_classic(&[&head[..], &first[..], &second[..]]).unwrap();
    assert_eq!(parts, joined);
    assert_eq!(
        poll_parts_to_classic(&[]).unwrap(),
        poll_to_classic(&[]).unwrap()
    );
    assert!(
        poll_parts_to_classic(&[&head[..3]]).is_err(),
        "short header"
    );
    assert!(
        poll_parts_to_classic(&[&head[..], &first[..first.len() - 1]]).is_err(),
        "cut record"
    );
}

#[test]
fn poll_reply_becomes_classic_messages() {
    let first = stored_batch(10, 3);
    let second = slice_batch(&stored_batch(13, 4), 14, 15).unwrap().unwrap();
    let header = PollReplyHeader {
        partition_id: 3,
        current_offset: 16,
        message_count: 5,
    };
    let current = PollReply::encode(&header, &[&first, &second]);
    let classic = poll_to_classic(&current).unwrap();
    let (partition, current_offset, count, messages) = parse_classic_poll(&classic);
    assert_eq!((partition, current_offset, count), (3, 16, 5));
    let offsets: Vec<u64> = messages.iter().map(|m| m.2).collect();
    assert_eq!(offsets, vec![10, 11, 12, 14, 15]);
    assert!(
        messages.iter().all(|m| m.3 == 9_000),
        "timestamp = base_timestamp"
    );
    let origins: Vec<u64> = messages.iter().map(|m| m.4).collect();
    assert_eq!(origins, vec![5_000, 5_010, 5_020, 5_010, 5_020]);
    let ids: Vec<u128> = messages.iter().map(|m| m.1).collect();
    assert_eq!(ids, vec![1000, 1001, 1002, 1001, 1002]);
    assert_eq!(messages[1].5, vec![2, 2]);
    assert_eq!(messages[0].6.len(), 12);
    assert!(messages[1].6.is_empty());
}

#[test]
fn empty_and_stale_polls() {
    let empty = poll_to_classic(&[]).unwrap();
    assert_eq!(&empty[..], &[0; 16]);
    let header = PollReplyHeader {
        partition_id: PARTITION_STALE,
        current_offset: 0,
        message_count: 0,
    };
    let stale = poll_to_classic(&PollReply::encode(&header, &[])).unwrap();
    assert_eq!(&stale[..], &[0; 16]);
    let header = PollReplyHeader {
        partition_id: 1,
        current_offset: 41,
        message_count: 0,
    };
    let none = poll_to_classic(&PollReply::encode(&header, &[])).unwrap();
    assert_eq!(parse_classic_poll(&none), (1, 41, 0, vec![]));
}

#[test]
fn broken_poll_replies_fail() {
    let batch = stored_batch(0, 2);
    let header = PollReplyHeader {
        partition_id: 0,
        current_offset: 1,
        message_count: 3,
    };
    assert!(poll_to_classic(&PollReply::encode(&header, &[&batch])).is_err());
    let good = PollReply::encode(
        &PollReplyHeader {
            message_count: 2,
            ..header
        },
        &[&batch],
    );
    for cut in 1..good.len() {
        assert!(poll_to_classic(&good[..cut]).is_err(), "cut {cut}");
    }
}
