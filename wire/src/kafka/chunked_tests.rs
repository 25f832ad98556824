#![allow(clippy::unwrap_used)]

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::ResponseKind;
use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
use kafka_protocol::messages::{FetchResponse, TopicName};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::protocol::buf::ByteBufMut;
use proptest::prelude::*;

use super::{ChunkedBuf, Chunks, KEEP_BYTES_MIN, RecordTail, encode_fetch_response};
use crate::kafka::encode_response;

fn fetch(partitions: &[(i32, Option<Bytes>)]) -> FetchResponse {
    let partitions = partitions
        .iter()
        .map(|(index, records)| {
            PartitionData::default()
                .with_partition_index(*index)
                .with_high_watermark(1_000 + i64::from(*index))
                .with_last_stable_offset(1_000)
                .with_log_start_offset(3)
                .with_records(records.clone())
        })
        .collect();
    let topic = FetchableTopicResponse::default()
        .with_topic(TopicName(StrBytes::from_static_str("stream.topic")))
        .with_partitions(partitions);
    FetchResponse::default()
        .with_throttle_time_ms(0)
        .with_session_id(0)
        .with_responses(vec![topic])
}

fn copied(correlation_id: i32, version: i16, response: &FetchResponse) -> Bytes {
    let mut out = BytesMut::new();
    let body = ResponseKind::Fetch(response.clone());
    encode_response(&mut out, correlation_id, version, &body).unwrap();
    out.freeze()
}

#[test]
fn large_record_sections_are_referenced_not_copied() {
    let big = Bytes::from(vec![7u8; 64 * 1024]);
    let small = Bytes::from(vec![9u8; KEEP_BYTES_MIN - 1]);
    let response = fetch(&[(0, Some(big.clone())), (1, Some(small)), (2, None)]);
    for version in 4..=12 {
        let chunks = encode_fetch_response(5, version, &response, Vec::new()).unwrap();
        assert_eq!(
            chunks.to_bytes(),
            copied(5, version, &response),
            "v{version}"
        );
        // Size prefix, head, the big section itself, then the rest (small section copied in).
        assert_eq!(chunks.part_count(), 4, "v{version}");
        assert_eq!(chunks.parts[2].as_ptr(), big.as_ptr(), "v{version}");
    }
}

#[test]
fn a_tail_continues_its_first_section_under_one_length_prefix() {
    let first = Bytes::from(vec![1u8; 100]);
    let rest = vec![Bytes::from(vec![2u8; 300_000]), Bytes::from(vec![3u8; 5])];
    let all: Bytes = [first.clone(), rest[0].clone(), rest[1].clone()]
        .concat()
        .into();
    for version in [4, 11, 12] {
        let tail = RecordTail {
            first: first.clone(),
            rest: rest.clone(),
        };
        let chunks =
            encode_fetch_response(1, version, &fetch(&[(0, Some(first.clone()))]), vec![tail])
                .unwrap();
        assert_eq!(
            chunks.to_bytes(),
            copied(1, version, &fetch(&[(0, Some(all.clone()))])),
            "v{version}"
        );
        assert!(chunks.parts.iter().any(|p| p.as_ptr() == rest[0].as_ptr()));
    }
}

#[test]
fn a_section_equal_in_content_but_not_in_address_is_copied() {
    let big = Bytes::from(vec![1u8; 8 * 1024]);
    let twin = Bytes::from(vec![1u8; 8 * 1024]);
    let mut buf = ChunkedBuf::keep(vec![big.clone()]);
    buf.put_slice(&twin);
    buf.put_slice(&big);
    let chunks = buf.into_parts();
    assert_eq!(chunks.part_count(), 2);
    assert_ne!(chunks.parts[0].as_ptr(), twin.as_ptr());
    assert_eq!(chunks.parts[1].as_ptr(), big.as_ptr());
}

#[test]
fn seeking_back_over_a_kept_section_rewrites_a_copy() {
    let big = Bytes::from(vec![2u8; KEEP_BYTES_MIN]);
    let mut buf = ChunkedBuf::keep(vec![big.clone()]);
    buf.put_u32(0);
    buf.put_slice(&big);
    buf.put_u8(3);
    let end = buf.offset();
    buf.range(0..4).copy_from_slice(&[1, 2, 3, 4]);
    buf.seek(end + 2);
    let all = buf.into_parts().to_bytes();
    assert_eq!(all.len(), 4 + KEEP_BYTES_MIN + 3);
    assert_eq!(&all[..4], &[1, 2, 3, 4]);
    assert_eq!(&all[4 + KEEP_BYTES_MIN..], &[3, 0, 0]);
    // The original is untouched.
    assert!(big.iter().all(|b| *b == 2));
}

#[test]
fn chunks_advance_across_parts_and_fill_io_slices() {
    let mut chunks = Chunks {
        parts: vec![
            Bytes::from_static(b"abc"),
            Bytes::new(),
            Bytes::from_static(b"defgh"),
        ]
        .into(),
    };
    assert_eq!(chunks.remaining(), 8);
    let mut slices = [std::io::IoSlice::new(&[]); 4];
    assert_eq!(chunks.chunks_vectored(&mut slices), 2);
    chunks.advance(4);
    assert_eq!(chunks.chunk(), b"efgh");
    assert_eq!(chunks.remaining(), 4);
    chunks.advance(4);
    assert!(!chunks.has_remaining());
    assert_eq!(chunks.chunk(), b"");
}

proptest! {
    #[test]
    fn chunked_equals_copied(
        sections in proptest::collection::vec(
            proptest::option::of(proptest::collection::vec(1usize..20_000, 1..4)),
            0..6,
        ),
        version in 4i16..=12,
        correlation_id: i32,
    ) {
        // Each partition's sections: the response holds the first, a tail the rest; the copied
        // encoding holds their concatenation.
        let mut held = Vec::new();
        let mut whole = Vec::new();
        let mut tails = Vec::new();
        for (i, sizes) in sections.iter().enumerate() {
            let index = i32::try_from(i).unwrap();
            let Some(sizes) = sizes else {
                held.push((index, None));
                whole.push((index, None));
                continue;
            };
            let parts: Vec<Bytes> = sizes
                .iter()
                .enumerate()
                .map(|(j, n)| Bytes::from(vec![u8::try_from(i * 4 + j).unwrap(); *n]))
                .collect();
            whole.push((index, Some(parts.concat().into())));
            held.push((index, Some(parts[0].clone())));
            tails.push(RecordTail { first: parts[0].clone(), rest: parts[1..].to_vec() });
        }
        let chunks =
            encode_fetch_response(correlation_id, version, &fetch(&held), tails).unwrap();
        prop_assert_eq!(chunks.to_bytes(), copied(correlation_id, version, &fetch(&whole)));
    }
}
