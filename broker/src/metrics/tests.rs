#![allow(clippy::unwrap_used)]

use prometheus_client::registry::Registry;
use whippet_log::{LogConfig, TopicSettings};

use super::*;

fn encode(metrics: &Arc<Metrics>) -> String {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(Counters(Arc::clone(metrics))));
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
    text
}

#[test]
fn partition_series_are_capped_and_the_rest_aggregate_per_topic() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = Log::open(LogConfig::new(dir.path())).unwrap();
    let stream = log.create_stream("s").unwrap();
    let topic = log
        .create_topic(stream.id, "t", 3, TopicSettings::default())
        .unwrap();
    let metrics = Arc::new(Metrics::new(MetricsSettings {
        partition_series_max: 1,
    }));
    for partition in &topic.partitions {
        let series = metrics.partition("kafka", &log, partition).unwrap();
        series.appended(2, 100);
        // The second lookup is the cached handle: the same atomics.
        let again = metrics.partition("kafka", &log, partition).unwrap();
        assert!(Arc::ptr_eq(&series, &again));
    }
    metrics
        .partition("native", &log, &topic.partitions[2])
        .unwrap()
        .read(5, 50);
    let text = encode(&metrics);
    let kafka = |partition: &str| {
        format!(
            "whippet_produced_records_total{{protocol=\"kafka\",stream=\"s\",topic=\"t\",partition=\"{partition}\"}}"
        )
    };
    assert!(text.contains(&format!("{} 2\n", kafka("0"))), "{text}");
    // Partitions 1 and 2 are past the cap of one: they count together.
    assert!(text.contains(&format!("{} 4\n", kafka("all"))), "{text}");
    assert!(!text.contains(&kafka("1")), "{text}");
    // The cap is per protocol: the first native partition has its own series.
    assert!(text.contains(
        "whippet_consumed_bytes_total{protocol=\"iggy\",stream=\"s\",topic=\"t\",partition=\"2\"} 50\n"
    ));
}

#[test]
fn a_deleted_partition_is_not_served_from_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = Log::open(LogConfig::new(dir.path())).unwrap();
    let stream = log.create_stream("s").unwrap();
    let topic = log
        .create_topic(stream.id, "old", 1, TopicSettings::default())
        .unwrap();
    let metrics = Metrics::default();
    let first = metrics
        .partition("kafka", &log, &topic.partitions[0])
        .unwrap();
    log.delete_topic(stream.id, topic.id).unwrap();
    drop(topic);
    let topic = log
        .create_topic(stream.id, "new", 1, TopicSettings::default())
        .unwrap();
    let second = metrics
        .partition("kafka", &log, &topic.partitions[0])
        .unwrap();
    assert!(!Arc::ptr_eq(&first, &second));
    assert_eq!(second.labels.topic, "new");
    assert_eq!(metrics.partitions.load().len(), 1);
}

#[test]
fn requests_count_latency_and_errors_by_code() {
    let metrics = Arc::new(Metrics::default());
    let produce = metrics.request("kafka", 0, || "Produce".into());
    produce.observe(Duration::from_micros(300));
    produce.observe(Duration::from_secs(20));
    produce.error("NotLeaderOrFollower");
    // Seen again: the name is not asked for a second time.
    metrics
        .request("kafka", 0, || unreachable!())
        .error("NotLeaderOrFollower");
    metrics.login_failed("native");
    let text = encode(&metrics);
    for line in [
        "whippet_requests_total{protocol=\"kafka\",api=\"Produce\"} 2\n",
        "whippet_request_duration_seconds_bucket{le=\"0.0005\",protocol=\"kafka\",api=\"Produce\"} 1\n",
        "whippet_request_duration_seconds_bucket{le=\"+Inf\",protocol=\"kafka\",api=\"Produce\"} 2\n",
        "whippet_request_errors_total{protocol=\"kafka\",api=\"Produce\",code=\"NotLeaderOrFollower\"} 2\n",
        "whippet_login_failures_total{protocol=\"iggy\"} 1\n",
    ] {
        assert!(text.contains(line), "{line} missing from\n{text}");
    }
}
