//! DeleteRecords: moves partitions' log start offset forward (Kafka's "low watermark"), making
//! the records before it unreadable and letting the log drop whole segments below it. Offset
//! −1 means the high watermark (delete everything); beyond it is OFFSET_OUT_OF_RANGE.

use std::sync::Arc;

use kafka_protocol::ResponseError;
use kafka_protocol::messages::delete_records_request::DeleteRecordsPartition;
use kafka_protocol::messages::delete_records_response::{
    DeleteRecordsPartitionResult, DeleteRecordsTopicResult,
};
use kafka_protocol::messages::{DeleteRecordsRequest, DeleteRecordsResponse, RequestHeader};
use whippet_log::TopicMeta;

use crate::context::BrokerContext;
use crate::kafka::error_code::log_error_code;
use crate::kafka::topics;

/// Kafka's "up to the high watermark" offset.
const HIGH_WATERMARK: i64 = -1;

/// Deletes records before the requested offset in each named partition.
pub(crate) async fn handle(
    ctx: &Arc<BrokerContext>,
    _header: &RequestHeader,
    req: DeleteRecordsRequest,
) -> DeleteRecordsResponse {
    let mut results = Vec::with_capacity(req.topics.len());
    for topic in req.topics {
        let meta = topics::find_topic(ctx, topic.name.as_str());
        let mut partitions = Vec::with_capacity(topic.partitions.len());
        for partition in &topic.partitions {
            partitions.push(delete_partition(ctx, meta.as_deref(), partition).await);
        }
        results.push(
            DeleteRecordsTopicResult::default()
                .with_name(topic.name)
                .with_partitions(partitions),
        );
    }
    DeleteRecordsResponse::default().with_topics(results)
}

async fn delete_partition(
    ctx: &Arc<BrokerContext>,
    topic: Option<&TopicMeta>,
    req: &DeleteRecordsPartition,
) -> DeleteRecordsPartitionResult {
    let result = DeleteRecordsPartitionResult::default()
        .with_partition_index(req.partition_index)
        .with_low_watermark(-1);
    let topic_ids = topic.map_or((0, 0), |t| (t.stream_id, t.id));
    let log = topic.and_then(|t| t.partition(u32::try_from(req.partition_index).ok()?));
    let Some(log) = log.cloned() else {
        return result.with_error_code(ResponseError::UnknownTopicOrPartition.code());
    };
    let before = match req.offset {
        HIGH_WATERMARK => log.high_watermark(),
        offset => match u64::try_from(offset) {
            Ok(offset) => offset,
            Err(_) => return result.with_error_code(ResponseError::OffsetOutOfRange.code()),
        },
    };
    // Through the log, which keeps the new start in its catalog (the metadata log).
    let (stream_id, topic_id, partition_id) = (topic_ids.0, topic_ids.1, log.id());
    let catalog = Arc::clone(&ctx.log);
    let deleted = move || catalog.delete_records(stream_id, topic_id, partition_id, before);
    match topics::blocking(deleted).await {
        Ok(low) => result.with_low_watermark(i64::try_from(low).unwrap_or(i64::MAX)),
        Err(error) => result.with_error_code(log_error_code(&error)),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use kafka_protocol::messages::ApiKey;
    use kafka_protocol::messages::delete_records_request::DeleteRecordsTopic;
    use whippet_log::{AppendBatch, BatchFormat, TopicSettings};

    use super::*;
    use crate::kafka::test_support;

    fn partition(index: i32, offset: i64) -> DeleteRecordsPartition {
        DeleteRecordsPartition::default()
            .with_partition_index(index)
            .with_offset(offset)
    }

    #[tokio::test]
    async fn moves_the_low_watermark() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = test_support::context(dir.path());
        let topic = test_support::kafka_topic(&ctx, "t", 1, TopicSettings::default()).await;
        let log = topic.partition(0).unwrap();
        for _ in 0..4 {
            let batch = AppendBatch {
                format: BatchFormat::Kafka,
                payload: vec![0u8; 16].into(),
                record_count: 1,
                last_offset_delta: 0,
                first_timestamp_us: 1,
                max_timestamp_us: 1,
            };
            let appended = log.append(batch, |_| {}).await.unwrap();
            log.wait_durable(appended.last_offset).await.unwrap();
        }
        let header = test_support::header(ApiKey::DeleteRecords, 2);
        let request = |parts| {
            DeleteRecordsRequest::default().with_topics(vec![
                DeleteRecordsTopic::default()
                    .with_name(topics::topic_name("t"))
                    .with_partitions(parts),
            ])
        };
        let resp = handle(
            &ctx,
            &header,
            request(vec![partition(0, 2), partition(7, 1)]),
        )
        .await;
        let parts = &resp.topics[0].partitions;
        assert_eq!((parts[0].error_code, parts[0].low_watermark), (0, 2));
        assert_eq!(parts[1].error_code, 3);
        let resp = handle(&ctx, &header, request(vec![partition(0, 99)])).await;
        assert_eq!(resp.topics[0].partitions[0].error_code, 1);
        let resp = handle(&ctx, &header, request(vec![partition(0, -1)])).await;
        assert_eq!(resp.topics[0].partitions[0].low_watermark, 4);
        assert_eq!(log.log_start_offset(), 4);
        ctx.log.shutdown().unwrap();
    }
}
