//! KIP-467 on a compacted topic: a batch with a record without a key is INVALID_RECORD with
//! that record's index in `record_errors` (Produce v8+), and nothing of it is written.
#![allow(clippy::unwrap_used)]

use bytes::{Bytes, BytesMut};
use kafka_protocol::ResponseError;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::produce_response::PartitionProduceResponse;
use kafka_protocol::messages::{ApiKey, ProduceRequest, TopicName};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};
use whippet_log::{CompactionSettings, TopicSettings};

use crate::context::test_support::{context, kafka_topic};
use crate::core::RequestContext;
use crate::kafka::produce;
use crate::kafka::test_support::header;

fn batch(keys: &[Option<&'static str>]) -> Bytes {
    let records: Vec<Record> = keys
        .iter()
        .enumerate()
        .map(|(i, key)| Record {
            transactional: false,
            control: false,
            partition_leader_epoch: 0,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            // Consecutive, so the encoder writes one batch.
            sequence: i32::try_from(i).unwrap(),
            timestamp: 1_700_000_000_000,
            key: key.map(|k| Bytes::from_static(k.as_bytes())),
            value: Some(Bytes::from_static(b"v")),
            headers: Default::default(),
            delete_horizon: false,
        })
        .collect();
    let mut buf = BytesMut::new();
    let options = RecordEncodeOptions {
        version: 2,
        compression: Compression::Lz4,
    };
    RecordBatchEncoder::encode(&mut buf, &records, &options).unwrap();
    buf.freeze()
}

async fn produce(
    ctx: &std::sync::Arc<crate::context::BrokerContext>,
    version: i16,
    records: Bytes,
) -> PartitionProduceResponse {
    let request = ProduceRequest::default()
        .with_acks(-1)
        .with_timeout_ms(5_000)
        .with_topic_data(vec![
            TopicProduceData::default()
                .with_name(TopicName(StrBytes::from_static_str("compacted")))
                .with_partition_data(vec![
                    PartitionProduceData::default()
                        .with_index(0)
                        .with_records(Some(records)),
                ]),
        ]);
    let response = produce::handle(
        ctx,
        &RequestContext::internal(),
        &header(ApiKey::Produce, version),
        request,
    )
    .await;
    response.responses[0].partition_responses[0].clone()
}

#[tokio::test]
async fn a_keyless_record_is_refused_with_its_index_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = context(dir.path());
    let settings = TopicSettings {
        compaction: Some(CompactionSettings::default()),
        ..TopicSettings::default()
    };
    kafka_topic(&ctx, "compacted", 1, settings).await;
    let invalid = ResponseError::InvalidRecord.code();

    let refused = produce(&ctx, 9, batch(&[Some("a"), None, Some("b"), None])).await;
    assert_eq!(refused.error_code, invalid);
    let indexes: Vec<i32> = refused
        .record_errors
        .iter()
        .map(|e| e.batch_index)
        .collect();
    assert_eq!(indexes, vec![1, 3]);
    // Before v8 the field does not exist.
    let old = produce(&ctx, 7, batch(&[None])).await;
    assert_eq!((old.error_code, old.record_errors.len()), (invalid, 0));

    let accepted = produce(&ctx, 9, batch(&[Some("a"), Some("b")])).await;
    assert_eq!((accepted.error_code, accepted.base_offset), (0, 0));
}
