//! Labels of the counted series and their encoding through `prometheus-client`'s encoder.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, NoLabelSet};
use prometheus_client::metrics::MetricType;

use super::histogram::HistogramSnapshot;
use super::{PartitionSeries, RequestSeries};

/// Labels of one partition's traffic by one protocol.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, EncodeLabelSet)]
pub(super) struct PartitionLabels {
    pub(super) protocol: &'static str,
    pub(super) stream: String,
    pub(super) topic: String,
    /// The partition id, or `all` for the partitions past the series cap.
    pub(super) partition: String,
}

#[derive(Debug, Clone, EncodeLabelSet)]
struct RequestLabels {
    protocol: &'static str,
    api: String,
}

#[derive(Debug, Clone, EncodeLabelSet)]
struct ErrorLabels {
    protocol: &'static str,
    api: String,
    code: String,
}

/// The protocol label for index `index` of [`super::protocol_index`].
pub(super) fn protocol_name(index: u8, fallback: &str) -> &'static str {
    match index {
        0 => "kafka",
        1 => "iggy",
        2 => "http",
        _ if fallback == "kafka" => "kafka",
        _ => "internal",
    }
}

/// One counter family over `series`, its value read by `value`.
pub(super) fn encode_counter_family<S: EncodeLabelSet, T>(
    encoder: &mut DescriptorEncoder,
    (name, help): (&str, &str),
    series: &[T],
    labels_and_value: impl Fn(&T) -> (S, u64),
) -> Result<(), std::fmt::Error> {
    if series.is_empty() {
        return Ok(());
    }
    let mut family = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
    for one in series {
        let (labels, value) = labels_and_value(one);
        family
            .encode_family(&labels)?
            .encode_counter::<NoLabelSet, _, u64>(&value, None)?;
    }
    Ok(())
}

/// One gauge family over `series`.
pub(super) fn encode_gauge_family<S: EncodeLabelSet, T>(
    encoder: &mut DescriptorEncoder,
    (name, help): (&str, &str),
    series: &[T],
    labels_and_value: impl Fn(&T) -> (S, i64),
) -> Result<(), std::fmt::Error> {
    if series.is_empty() {
        return Ok(());
    }
    let mut family = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
    for one in series {
        let (labels, value) = labels_and_value(one);
        family.encode_family(&labels)?.encode_gauge(&value)?;
    }
    Ok(())
}

/// One histogram family over `series`.
pub(super) fn encode_histogram_family<S: EncodeLabelSet, T>(
    encoder: &mut DescriptorEncoder,
    (name, help): (&str, &str),
    series: &[T],
    labels_and_value: impl Fn(&T) -> (S, HistogramSnapshot),
) -> Result<(), std::fmt::Error> {
    if series.is_empty() {
        return Ok(());
    }
    let mut family = encoder.encode_descriptor(name, help, None, MetricType::Histogram)?;
    for one in series {
        let (labels, histogram) = labels_and_value(one);
        family
            .encode_family(&labels)?
            .encode_histogram::<NoLabelSet>(
                histogram.seconds,
                histogram.count,
                &histogram.buckets,
                None,
            )?;
    }
    Ok(())
}

/// A counter family of partition traffic: name, help, and the value it reads.
type TrafficFamily = (&'static str, &'static str, fn(&PartitionSeries) -> u64);

/// Records and bytes appended and read, per protocol and partition.
pub(super) fn encode_partitions(
    encoder: &mut DescriptorEncoder,
    series: &[Arc<PartitionSeries>],
) -> Result<(), std::fmt::Error> {
    let families: [TrafficFamily; 4] = [
        (
            "whippet_produced_records",
            "Records appended, by the protocol that sent them",
            |s| s.records_in.load(Ordering::Relaxed),
        ),
        (
            "whippet_produced_bytes",
            "Batch bytes appended, by the protocol that sent them",
            |s| s.bytes_in.load(Ordering::Relaxed),
        ),
        (
            "whippet_consumed_records",
            "Records read for clients, by the protocol that read them",
            |s| s.records_out.load(Ordering::Relaxed),
        ),
        (
            "whippet_consumed_bytes",
            "Stored batch bytes read for clients, by the protocol that read them",
            |s| s.bytes_out.load(Ordering::Relaxed),
        ),
    ];
    for (name, help, value) in families {
        encode_counter_family(encoder, (name, help), series, |s| {
            (s.labels.clone(), value(s))
        })?;
    }
    Ok(())
}

/// Requests, their latency and their errors, per protocol and API key or command.
pub(super) fn encode_requests(
    encoder: &mut DescriptorEncoder,
    series: &[Arc<RequestSeries>],
) -> Result<(), std::fmt::Error> {
    let snapshots: Vec<(RequestLabels, HistogramSnapshot)> = series
        .iter()
        .map(|s| {
            let labels = RequestLabels {
                protocol: s.protocol,
                api: s.api.clone(),
            };
            (labels, s.latency.snapshot())
        })
        .collect();
    encode_counter_family(
        encoder,
        (
            "whippet_requests",
            "Requests answered, per Kafka API or native command",
        ),
        &snapshots,
        |(labels, histogram)| (labels.clone(), histogram.count),
    )?;
    encode_histogram_family(
        encoder,
        (
            "whippet_request_duration_seconds",
            "Time from a decoded request to its answer, per Kafka API or native command",
        ),
        &snapshots,
        |(labels, histogram)| (labels.clone(), histogram.clone()),
    )?;
    let counted: Vec<(&Arc<RequestSeries>, String, u64)> = series
        .iter()
        .flat_map(|s| {
            let errors = s
                .errors
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clone();
            errors
                .into_iter()
                .map(move |(code, count)| (s, code, count))
        })
        .collect();
    let errors: Vec<(ErrorLabels, u64)> = counted
        .iter()
        .map(|(s, code, count)| {
            let labels = ErrorLabels {
                protocol: s.protocol,
                api: s.api.clone(),
                code: code.clone(),
            };
            (labels, *count)
        })
        .collect();
    encode_counter_family(
        encoder,
        (
            "whippet_request_errors",
            "Errors answered, per Kafka API or native command and error code",
        ),
        &errors,
        |(labels, count)| (labels.clone(), *count),
    )
}

/// Refused logins per protocol.
pub(super) fn encode_login_failures(
    encoder: &mut DescriptorEncoder,
    failures: &[(&'static str, u64)],
) -> Result<(), std::fmt::Error> {
    encode_counter_family(
        encoder,
        (
            "whippet_login_failures",
            "Refused logins and authentications, per protocol",
        ),
        failures,
        |(protocol, count)| ([("protocol", *protocol)], *count),
    )
}
