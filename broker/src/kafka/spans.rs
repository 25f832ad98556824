//! The messaging spans of Kafka Produce and Fetch ([`crate::telemetry::messaging`]): the
//! destination, partition and record count read from the request (Produce) or the answer
//! (Fetch), and the `traceparent` record headers of a Produce. Nothing here runs unless the
//! span is exported.

use kafka_protocol::messages::{FetchRequest, ProduceRequest};
use whippet_wire::transcode::{kafka_header_values, kafka_record_count};

use super::fetch::FetchAnswer;
use crate::telemetry::messaging::{MessagingSpan, Operation, RECORDS_SCANNED_MAX};

/// The W3C trace context header.
const TRACEPARENT: &[u8] = b"traceparent";
/// Most decompressed bytes of one batch looked at for trace contexts; a batch that inflates
/// beyond it is not looked into.
const SCAN_BYTES_MAX: usize = 4 << 20;

/// The span of one Produce request.
pub(crate) fn produce(request: &ProduceRequest) -> tracing::Span {
    let mut span = MessagingSpan::new(Operation::KafkaProduce);
    if !span.is_recording() {
        return span.into_span();
    }
    let partitions: Vec<(&str, i32, &[u8])> = request
        .topic_data
        .iter()
        .flat_map(|topic| {
            topic.partition_data.iter().map(|partition| {
                let records = partition.records.as_deref().unwrap_or_default();
                (topic.name.as_str(), partition.index, records)
            })
        })
        .collect();
    if let Some((topic, partition, _)) = partitions.first() {
        let single = (partitions.len() == 1).then(|| u32::try_from(*partition).ok());
        span.destination(Operation::KafkaProduce, topic, single.flatten());
    }
    let count = partitions
        .iter()
        .map(|(_, _, records)| kafka_record_count(records))
        .sum();
    span.message_count(count);
    let mut scanned = 0;
    for (_, _, records) in &partitions {
        let left = RECORDS_SCANNED_MAX.saturating_sub(scanned);
        let bounds = (left, SCAN_BYTES_MAX);
        kafka_header_values(records, TRACEPARENT, bounds, &mut |value| {
            span.traceparent(value);
        });
        scanned += usize::try_from(kafka_record_count(records)).unwrap_or(usize::MAX);
    }
    span.into_span()
}

/// The span of one Fetch request; its record count is set from the answer ([`fetched`]).
pub(crate) fn fetch(request: &FetchRequest) -> tracing::Span {
    let span = MessagingSpan::new(Operation::KafkaFetch);
    if !span.is_recording() {
        return span.into_span();
    }
    let partitions: Vec<(String, i32)> = request
        .topics
        .iter()
        .flat_map(|topic| {
            let name = if topic.topic.is_empty() {
                topic.topic_id.to_string()
            } else {
                topic.topic.to_string()
            };
            topic
                .partitions
                .iter()
                .map(move |p| (name.clone(), p.partition))
        })
        .collect();
    if let Some((topic, partition)) = partitions.first() {
        let single = (partitions.len() == 1).then(|| u32::try_from(*partition).ok());
        span.destination(Operation::KafkaFetch, topic, single.flatten());
    }
    span.into_span()
}

/// Records on `span` how many records `answer` carries (from its batch headers: the batches
/// the response holds and those written after them by reference).
pub(crate) fn fetched(span: &tracing::Span, answer: &FetchAnswer) {
    if span.is_disabled() {
        return;
    }
    let held: u64 = answer
        .response
        .responses
        .iter()
        .flat_map(|topic| &topic.partitions)
        .filter_map(|partition| partition.records.as_deref())
        .map(kafka_record_count)
        .sum();
    let tails: u64 = answer
        .tails
        .iter()
        .flat_map(|tail| &tail.rest)
        .map(|bytes| kafka_record_count(bytes))
        .sum();
    crate::telemetry::messaging::record_message_count(span, held + tails);
}
