//! `GET /metrics` scraped by a real Prometheus server (issue 17): Debian's `prometheus`
//! (installed by `scripts/install-test-deps`) is started on a free port with a scrape config
//! pointing at the broker's HTTP listener, every second. rdkafka produces records to a Kafka
//! topic and the `iggy` 0.11.0 SDK sends messages to a native topic and polls the Kafka one;
//! PromQL queries over Prometheus' HTTP API must then return exactly those counts per protocol,
//! and the request, lag, size and connection series must be there, with the error code of a
//! refused admin request (DeleteTopics of a missing topic) counted.
#![allow(clippy::unwrap_used)]

mod native_sdk_common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::str::FromStr;
use std::time::{Duration, Instant};

use iggy::prelude::*;
use native_sdk_common::{KAFKA_STREAM, name, root, start_broker, stream_and_topic};
use rdkafka::admin::{AdminClient, AdminOptions};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::producer::{FutureProducer, FutureRecord};
use whippet_compat_tests::programs::require;

const KAFKA_RECORDS: usize = 25;
const NATIVE_MESSAGES: usize = 7;
/// Prometheus needs a few scrapes (1 s apart) and its own start-up.
const QUERY_TIMEOUT: Duration = Duration::from_secs(60);

/// A Prometheus server scraping one target; stopped (and its data removed) on drop.
struct Prometheus {
    child: Child,
    addr: SocketAddr,
    dir: tempfile::TempDir,
}

impl Prometheus {
    fn start(target: SocketAddr) -> Self {
        let binary = require(Path::new("/usr/bin/prometheus"));
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
                 scrape_configs:\n  - job_name: whippet\n    metrics_path: /metrics\n    \
                 static_configs:\n      - targets: ['{target}']\n"
            ),
        )
        .unwrap();
        let addr = free_addr();
        let log = std::fs::File::create(dir.path().join("prometheus.log")).unwrap();
        let child = Command::new(binary)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        Self { child, addr, dir }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("prometheus.log")).unwrap_or_default()
    }

    /// The value of an instant PromQL query returning one sample, `None` while it has none.
    fn query(&self, promql: &str) -> Option<f64> {
        let path = format!("/api/v1/query?query={}", percent_encode(promql));
        let body = http_get(self.addr, &path)?;
        let answer: serde_json::Value = serde_json::from_str(&body).ok()?;
        let result = answer["data"]["result"].as_array()?;
        let [sample] = result.as_slice() else {
            return None;
        };
        sample["value"][1].as_str()?.parse().ok()
    }

    /// The `status` of an instant query (`success`, or `error` for a query that does not
    /// parse or evaluate).
    fn query_status(&self, promql: &str) -> String {
        let path = format!("/api/v1/query?query={}", percent_encode(promql));
        let mut stream = TcpStream::connect(self.addr).unwrap();
        write!(stream, "GET {path} HTTP/1.0\r\nHost: {}\r\n\r\n", self.addr).unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        let body = answer.split_once("\r\n\r\n").unwrap().1;
        let answer: serde_json::Value = serde_json::from_str(body).unwrap();
        format!("{} {}", answer["status"], answer["error"])
    }

    /// Waits until `promql` returns `want`.
    fn wait_for(&self, promql: &str, want: f64) {
        let started = Instant::now();
        let mut last = None;
        while started.elapsed() < QUERY_TIMEOUT {
            last = self.query(promql);
            if last == Some(want) {
                return;
            }
            std::thread::sleep(Duration::from_millis(500));
        }
        panic!(
            "{promql}: wanted {want}, last {last:?}\nprometheus log:\n{}",
            self.log()
        );
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_addr() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap()
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|byte| {
            if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
                char::from(byte).to_string()
            } else {
                format!("%{byte:02X}")
            }
        })
        .collect()
}

/// The body of a `200` answer to `GET path`, `None` on any failure (not up yet).
fn http_get(addr: SocketAddr, path: &str) -> Option<String> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    let (head, body) = answer.split_once("\r\n\r\n")?;
    head.starts_with("HTTP/1.1 200")
        .then(|| body.to_string())
        .or_else(|| head.starts_with("HTTP/1.0 200").then(|| body.to_string()))
}

async fn produce_with_rdkafka(addr: &str, topic: &str) {
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", addr)
        .create()
        .unwrap();
    for i in 0..KAFKA_RECORDS {
        let payload = format!("kafka-{i}");
        let record = FutureRecord::to(topic).key("k").payload(&payload);
        producer
            .send(record, Duration::from_secs(15))
            .await
            .unwrap();
    }
}

/// Deletes a topic that does not exist: the broker answers UNKNOWN_TOPIC_OR_PARTITION in the
/// DeleteTopics answer, which the request error counter must show.
async fn delete_missing_topic_with_rdkafka(addr: &str) {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", addr)
        .create()
        .unwrap();
    let results = admin
        .delete_topics(&["obs_never_created"], &AdminOptions::new())
        .await
        .unwrap();
    assert!(
        matches!(
            results.as_slice(),
            [Err((_, RDKafkaErrorCode::UnknownTopicOrPartition))]
        ),
        "{results:?}"
    );
}

async fn send_and_poll_with_sdk(client: &IggyClient, kafka_topic: &str) {
    let (stream, topic) = stream_and_topic(client, "obs", "t", 1).await;
    let mut messages: Vec<IggyMessage> = (0..NATIVE_MESSAGES)
        .map(|i| IggyMessage::from_str(&format!("native-{i}")).unwrap())
        .collect();
    client
        .send_messages(
            &stream,
            &topic,
            &Partitioning::partition_id(0),
            &mut messages,
        )
        .await
        .unwrap();
    // The Kafka topic read through the native protocol: counted as consumed by iggy.
    let consumer = Consumer::new(name("obs-reader"));
    let polled = client
        .poll_messages(
            &name(KAFKA_STREAM),
            &name(kafka_topic),
            Some(0),
            &consumer,
            &PollingStrategy::offset(0),
            100,
            false,
        )
        .await
        .unwrap();
    assert_eq!(polled.messages.len(), KAFKA_RECORDS);
    // A stored offset gives the native consumer a lag: 25 records, 10 consumed.
    client
        .store_consumer_offset(
            &consumer,
            &name(KAFKA_STREAM),
            &name(kafka_topic),
            Some(0),
            9,
        )
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_scrapes_what_kafka_and_native_clients_did() {
    let broker = start_broker();
    let prometheus = Prometheus::start(broker.http_addr());
    let kafka_addr = broker.kafka_addr().to_string();
    produce_with_rdkafka(&kafka_addr, "obs_kafka").await;
    delete_missing_topic_with_rdkafka(&kafka_addr).await;
    let client = root(&broker).await;
    send_and_poll_with_sdk(&client, "obs_kafka").await;

    let records = |protocol: &str, stream: &str, topic: &str, direction: &str| {
        format!(
            "sum(whippet_{direction}_records_total{{protocol=\"{protocol}\",stream=\"{stream}\",topic=\"{topic}\"}})"
        )
    };
    #[allow(clippy::cast_precision_loss)]
    let (kafka_records, native_messages) = (KAFKA_RECORDS as f64, NATIVE_MESSAGES as f64);
    prometheus.wait_for(
        &records("kafka", KAFKA_STREAM, "obs_kafka", "produced"),
        kafka_records,
    );
    prometheus.wait_for(&records("iggy", "obs", "t", "produced"), native_messages);
    prometheus.wait_for(
        &records("iggy", KAFKA_STREAM, "obs_kafka", "consumed"),
        kafka_records,
    );
    prometheus.wait_for(
        "sum(whippet_partition_high_watermark{stream=\"obs\",topic=\"t\"})",
        native_messages,
    );
    prometheus.wait_for(
        "whippet_consumer_group_lag{group=~\".*obs-reader\",topic=\"obs_kafka\",partition=\"0\"}",
        kafka_records - 10.0,
    );
    prometheus.wait_for("whippet_open_connections{listener=\"native\"}", 1.0);
    prometheus.wait_for(
        "whippet_request_errors_total{protocol=\"kafka\",api=\"DeleteTopics\",code=\"UnknownTopicOrPartition\"}",
        1.0,
    );
    let produce_requests = prometheus
        .query("sum(whippet_request_duration_seconds_count{protocol=\"kafka\",api=\"Produce\"})")
        .unwrap();
    assert!(produce_requests >= 1.0, "{produce_requests}");
    let sends = prometheus
        .query("whippet_requests_total{protocol=\"iggy\",api=\"message.send\"}")
        .unwrap();
    assert!((sends - 1.0).abs() < f64::EPSILON, "{sends}");
    let size = prometheus
        .query("sum(whippet_partition_size_bytes{topic=\"obs_kafka\"})")
        .unwrap();
    assert!(size > 0.0, "{size}");
    let fsyncs = prometheus
        .query("whippet_fsync_duration_seconds_count")
        .unwrap();
    assert!(fsyncs >= 0.0, "{fsyncs}");
    dashboard_queries_evaluate(&prometheus);
    drop(client);
}

/// Every query of the Grafana dashboard in `docker/` parses and evaluates on this Prometheus
/// against the broker's series, and `docker/prometheus.yml` passes `promtool check config`.
fn dashboard_queries_evaluate(prometheus: &Prometheus) {
    let docker = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docker");
    let text = std::fs::read_to_string(docker.join("grafana/dashboards/whippet.json")).unwrap();
    let dashboard: serde_json::Value = serde_json::from_str(&text).unwrap();
    let exprs: Vec<&str> = dashboard["panels"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|panel| panel["targets"].as_array())
        .flatten()
        .map(|target| target["expr"].as_str().unwrap())
        .collect();
    assert!(exprs.len() >= 10, "{exprs:?}");
    for expr in exprs {
        assert_eq!(prometheus.query_status(expr), "\"success\" null", "{expr}");
    }
    let promtool = require(Path::new("/usr/bin/promtool"));
    let checked = Command::new(promtool)
        .args(["check", "config"])
        .arg(docker.join("prometheus.yml"))
        .output()
        .unwrap();
    assert!(
        checked.status.success(),
        "{}",
        String::from_utf8_lossy(&checked.stdout)
    );
}
