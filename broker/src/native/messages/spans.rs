//! The messaging spans of native send and poll ([`crate::telemetry::messaging`]): the
//! destination (`stream/topic`), partition and message count, and for a send the
//! `traceparent` user headers of its messages. Nothing here runs unless the span is exported.
//! The span lasts as long as the handler holds it.

use whippet_log::TopicMeta;
use whippet_wire::native::batch::BatchRecord;
use whippet_wire::native::user_headers::decode_user_headers;

use crate::context::BrokerContext;
use crate::telemetry::messaging::{MessagingSpan, Operation, RECORDS_SCANNED_MAX};

/// The W3C trace context header.
const TRACEPARENT: &[u8] = b"traceparent";

/// `stream/topic`, the destination name of a native topic.
fn destination(ctx: &BrokerContext, topic: &TopicMeta) -> String {
    let snapshot = ctx.log.snapshot();
    let stream = snapshot
        .stream(topic.stream_id)
        .map_or_else(|| topic.stream_id.to_string(), |s| s.name.clone());
    format!("{stream}/{}", topic.name)
}

/// The span of one send of `messages` messages in `batch` (validated) to `partition`.
pub(super) fn send(
    ctx: &BrokerContext,
    topic: &TopicMeta,
    partition: u32,
    batch: &[u8],
    messages: u32,
) -> tracing::Span {
    let mut span = MessagingSpan::new(Operation::NativeSend);
    if !span.is_recording() {
        return span.into_span();
    }
    let name = destination(ctx, topic);
    span.destination(Operation::NativeSend, &name, Some(partition));
    span.message_count(u64::from(messages));
    if let Ok(record) = BatchRecord::read(batch) {
        for frame in record.frames().take(RECORDS_SCANNED_MAX).flatten() {
            if frame.user_headers.is_empty() {
                continue;
            }
            let Ok(headers) = decode_user_headers(frame.user_headers) else {
                continue;
            };
            for header in headers.iter().filter(|h| h.key.as_ref() == TRACEPARENT) {
                span.traceparent(&header.value);
            }
        }
    }
    span.into_span()
}

/// The span of one poll of `partition`; its message count is recorded once known.
pub(super) fn poll(ctx: &BrokerContext, topic: &TopicMeta, partition: u32) -> tracing::Span {
    let span = MessagingSpan::new(Operation::NativePoll);
    if span.is_recording() {
        let name = destination(ctx, topic);
        span.destination(Operation::NativePoll, &name, Some(partition));
    }
    span.into_span()
}
