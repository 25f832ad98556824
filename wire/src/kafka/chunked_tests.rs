#![allow(clippy::unwrap_used)]

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::ResponseKind;
use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
use kafka_protocol::messages::{FetchResponse, TopicName};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::protocol::buf::ByteBufMut;
use proptest::prelude::*;

use super::{ChunkedBuf, Chunks, KEEP_BYTES_MIN, encode_fetch_response};
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
        let chunks = encode_fetch_response(5, version, &response).unwrap();
        assert_eq!(
            chunks.to_bytes(),
            copied(5, version, &response),
            "v{version}"
        );
        // Head, the big section itself, then the rest (small section copied in).
        assert_eq!(chunks.part_count(), 3, "v{version}");
        assert_eq!(chunks.parts[1].as_ptr(), big.as_ptr(), "v{version}");
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
        sizes in proptest::collection::vec(proptest::option::of(0usize..20_000), 0..6),
        version in 4i16..=12,
        correlation_id: i32,
    ) {
        let partitions: Vec<(i32, Option<Bytes>)> = sizes
            .iter()
            .enumerate()
            .map(|(i, size)| {
                let index = i32::try_from(i).unwrap();
                (index, size.map(|n| Bytes::from(vec![u8::try_from(i).unwrap(); n])))
            })
            .collect();
        let response = fetch(&partitions);
        let chunks = encode_fetch_response(correlation_id, version, &response).unwrap();
        prop_assert_eq!(chunks.to_bytes(), copied(correlation_id, version, &response));
    }
}
