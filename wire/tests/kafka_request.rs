//! Request decoding never panics: random frames, random bodies for the array-free APIs, and
//! every truncation of real requests. (Random bodies for APIs with arrays are not fed here:
//! `kafka-protocol` 0.18 preallocates from unbounded array counts and the process aborts;
//! see the module doc of `whippet_wire::kafka::request`.)
#![allow(clippy::unwrap_used)]

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{
    ApiKey, ApiVersionsRequest, FetchRequest, JoinGroupRequest, MetadataRequest, ProduceRequest,
    RequestHeader, RequestKind, TopicName,
};
use kafka_protocol::protocol::{Encodable, StrBytes};
use proptest::prelude::*;
use whippet_wire::kafka::KafkaWireError;
use whippet_wire::kafka::request::decode_request;

fn encode(key: ApiKey, version: i16, body: &RequestKind) -> Bytes {
    let mut buf = BytesMut::new();
    RequestHeader::default()
        .with_request_api_key(key as i16)
        .with_request_api_version(version)
        .with_correlation_id(1234)
        .with_client_id(Some(StrBytes::from_static_str("rdkafka")))
        .encode(&mut buf, key.request_header_version(version))
        .unwrap();
    body.encode(&mut buf, version).unwrap();
    buf.freeze()
}

fn samples() -> Vec<(ApiKey, i16, RequestKind)> {
    let topic = TopicName(StrBytes::from_static_str("orders"));
    let produce = ProduceRequest::default()
        .with_acks(-1)
        .with_timeout_ms(30_000)
        .with_topic_data(vec![
            TopicProduceData::default()
                .with_name(topic.clone())
                .with_partition_data(vec![
                    PartitionProduceData::default()
                        .with_index(0)
                        .with_records(Some(Bytes::from_static(b"0123456789abcdef"))),
                ]),
        ]);
    let fetch = FetchRequest::default()
        .with_max_wait_ms(500)
        .with_topics(vec![
            FetchTopic::default()
                .with_topic(topic.clone())
                .with_partitions(vec![FetchPartition::default().with_partition(2)]),
        ]);
    let metadata = MetadataRequest::default().with_topics(Some(vec![
        kafka_protocol::messages::metadata_request::MetadataRequestTopic::default()
            .with_name(Some(topic)),
    ]));
    let join = JoinGroupRequest::default()
        .with_group_id(StrBytes::from_static_str("g").into())
        .with_protocol_type(StrBytes::from_static_str("consumer"));
    let api_versions = ApiVersionsRequest::default()
        .with_client_software_name(StrBytes::from_static_str("librdkafka"))
        .with_client_software_version(StrBytes::from_static_str("2.0.2"));
    vec![
        (ApiKey::Produce, 3, RequestKind::Produce(produce.clone())),
        (ApiKey::Produce, 9, RequestKind::Produce(produce)),
        (ApiKey::Fetch, 11, RequestKind::Fetch(fetch.clone())),
        (ApiKey::Fetch, 12, RequestKind::Fetch(fetch)),
        (ApiKey::Metadata, 0, RequestKind::Metadata(metadata.clone())),
        (ApiKey::Metadata, 12, RequestKind::Metadata(metadata)),
        (ApiKey::JoinGroup, 5, RequestKind::JoinGroup(join.clone())),
        (ApiKey::JoinGroup, 7, RequestKind::JoinGroup(join)),
        (
            ApiKey::ApiVersions,
            0,
            RequestKind::ApiVersions(ApiVersionsRequest::default()),
        ),
        (
            ApiKey::ApiVersions,
            3,
            RequestKind::ApiVersions(api_versions),
        ),
    ]
}

#[test]
fn samples_round_trip() {
    for (key, version, body) in samples() {
        let (header, decoded) = decode_request(encode(key, version, &body)).unwrap();
        assert_eq!(
            (header.request_api_version, header.correlation_id),
            (version, 1234)
        );
        assert_eq!(decoded, body, "{key:?} v{version}");
    }
}

#[test]
fn every_cut_of_real_requests_is_an_error() {
    for (key, version, body) in samples() {
        let frame = encode(key, version, &body);
        for cut in 0..frame.len() {
            let err = decode_request(frame.slice(..cut)).map(|_| ());
            // v0 ApiVersions has an empty body: any cut past the header still decodes.
            if key == ApiKey::ApiVersions && version == 0 && cut == frame.len() {
                continue;
            }
            let err = err.unwrap_err();
            match cut {
                0..=3 => assert!(matches!(err, KafkaWireError::RequestTooShort { .. })),
                _ => assert!(
                    matches!(
                        err,
                        KafkaWireError::RequestTooShort { .. }
                            | KafkaWireError::HeaderDecode { .. }
                            | KafkaWireError::BodyDecode { .. }
                    ),
                    "{key:?} v{version} cut {cut}: {err:?}"
                ),
            }
        }
    }
}

proptest! {
    #[test]
    fn random_frames_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = decode_request(Bytes::from(bytes));
    }

    /// Array-free APIs (the ones reachable before SASL completes) with any version and body.
    #[test]
    fn random_bodies_of_array_free_apis_never_panic(
        key in prop::sample::select(vec![ApiKey::ApiVersions, ApiKey::SaslHandshake, ApiKey::SaslAuthenticate]),
        version in -1i16..8,
        tail in proptest::collection::vec(any::<u8>(), 0..120),
    ) {
        let mut frame = BytesMut::new();
        frame.extend_from_slice(&(key as i16).to_be_bytes());
        frame.extend_from_slice(&version.to_be_bytes());
        frame.extend_from_slice(&tail);
        let result = decode_request(frame.freeze());
        if let Err(KafkaWireError::UnsupportedVersion { header, .. }) = &result {
            prop_assert_eq!(header.request_api_version, version);
        }
    }
}
