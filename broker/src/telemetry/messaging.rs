//! The one span each produce, fetch, send and poll request gets, with the OpenTelemetry
//! messaging semantic-convention attributes, and the W3C trace context of the records it
//! carries: every distinct `traceparent` (a Kafka record header or a native user header, the
//! same rule for both protocols) becomes a link of the span, and the first one its parent, so
//! the broker's span joins the producer's trace.
//!
//! The spans are INFO spans of [`TARGET`], which only the OTLP layer enables: without an
//! endpoint they are disabled callsites, and an adapter skips the header walk
//! ([`MessagingSpan::is_recording`]).

use std::collections::HashMap;

use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{SpanContext, TraceContextExt};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing::field::Empty;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The target of the messaging spans.
pub const TARGET: &str = "whippet::messaging";
/// Most links one span carries (distinct trace contexts of its records).
pub const LINKS_MAX: usize = 32;
/// Most records of one request whose headers are looked at for a trace context.
pub const RECORDS_SCANNED_MAX: usize = 1_024;

/// What a request does, in the semantic conventions' terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// Kafka Produce.
    KafkaProduce,
    /// Kafka Fetch.
    KafkaFetch,
    /// Native send_messages.
    NativeSend,
    /// Native poll_messages.
    NativePoll,
}

impl Operation {
    /// `messaging.system`.
    fn system(self) -> &'static str {
        match self {
            Self::KafkaProduce | Self::KafkaFetch => "kafka",
            Self::NativeSend | Self::NativePoll => "iggy",
        }
    }

    /// `messaging.operation.name`.
    fn name(self) -> &'static str {
        match self {
            Self::KafkaProduce => "produce",
            Self::KafkaFetch => "fetch",
            Self::NativeSend => "send",
            Self::NativePoll => "poll",
        }
    }

    /// `messaging.operation.type`.
    fn kind(self) -> &'static str {
        match self {
            Self::KafkaProduce | Self::NativeSend => "send",
            Self::KafkaFetch | Self::NativePoll => "receive",
        }
    }
}

/// A request's messaging span and the trace contexts gathered for it.
#[derive(Debug)]
pub struct MessagingSpan {
    span: tracing::Span,
    links: Vec<SpanContext>,
}

impl MessagingSpan {
    /// The span of one `operation` request; disabled (and free) unless traces are exported.
    pub fn new(operation: Operation) -> Self {
        let span = tracing::info_span!(
            target: TARGET,
            "messaging",
            otel.name = operation.name(),
            otel.kind = "server",
            messaging.system = operation.system(),
            messaging.operation.name = operation.name(),
            messaging.operation.type = operation.kind(),
            messaging.destination.name = Empty,
            messaging.destination.partition.id = Empty,
            messaging.batch.message_count = Empty,
        );
        Self {
            span,
            links: Vec::new(),
        }
    }

    /// Whether the span is exported, so its attributes and trace contexts are worth finding.
    pub fn is_recording(&self) -> bool {
        !self.span.is_disabled()
    }

    /// Names the destination (a Kafka topic, or a native `stream/topic`) and, when the request
    /// touches one partition, that partition; the span is then named `{operation}
    /// {destination}`.
    pub fn destination(&self, operation: Operation, name: &str, partition: Option<u32>) {
        if !self.is_recording() {
            return;
        }
        self.span
            .record("otel.name", format!("{} {name}", operation.name()).as_str());
        self.span.record("messaging.destination.name", name);
        if let Some(partition) = partition {
            self.span.record(
                "messaging.destination.partition.id",
                partition.to_string().as_str(),
            );
        }
    }

    /// Records how many messages the request carried.
    pub fn message_count(&self, count: u64) {
        self.span.record("messaging.batch.message_count", count);
    }

    /// Adds the trace context of one record's `traceparent` value; an invalid one, one
    /// already seen, or one past [`LINKS_MAX`] is ignored.
    pub fn traceparent(&mut self, value: &[u8]) {
        if self.links.len() >= LINKS_MAX {
            return;
        }
        let Some(context) = parse_traceparent(value) else {
            return;
        };
        if !self.links.iter().any(|seen| seen == &context) {
            self.links.push(context);
        }
    }

    /// The span, parented to the first record's trace context and linked to every one; what
    /// the adapter instruments the request with.
    pub fn into_span(self) -> tracing::Span {
        if let Some(first) = self.links.first() {
            let parent = opentelemetry::Context::new().with_remote_span_context(first.clone());
            // Only fails when the span is not exported, which `links` being filled rules out.
            let _ = self.span.set_parent(parent);
        }
        for link in self.links {
            self.span.add_link(link);
        }
        self.span
    }
}

/// Records on an exported `span` how many messages its request carried, once that is known
/// (a fetch or a poll knows it from its answer).
pub fn record_message_count(span: &tracing::Span, count: u64) {
    span.record("messaging.batch.message_count", count);
}

/// A `traceparent` header value as a remote span context (the W3C format, parsed by the
/// OpenTelemetry SDK's propagator); `None` when it is not valid.
pub fn parse_traceparent(value: &[u8]) -> Option<SpanContext> {
    let value = std::str::from_utf8(value).ok()?;
    let carrier = HashMap::from([(String::from("traceparent"), value.to_string())]);
    let context = TraceContextPropagator::new().extract(&carrier);
    let span_context = context.span().span_context().clone();
    span_context.is_valid().then_some(span_context)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traceparent_values_parse_or_are_refused() {
        let good = b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let context = parse_traceparent(good).unwrap_or_else(|| panic!("valid"));
        assert_eq!(
            context.trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert!(context.is_remote());
        for bad in [
            &b"00-00000000000000000000000000000000-00f067aa0ba902b7-01"[..],
            b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            b"not a traceparent",
            b"\xff",
        ] {
            assert!(parse_traceparent(bad).is_none());
        }
    }

    #[test]
    fn a_disabled_span_gathers_nothing_but_dedups_when_recording() {
        let mut span = MessagingSpan::new(Operation::KafkaProduce);
        let value = b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        span.traceparent(value);
        span.traceparent(value);
        assert_eq!(span.links.len(), 1);
    }
}
