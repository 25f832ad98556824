//! Shared parts of the tiered-storage tests: an S3 server (s3s-fs, in this process, on a port
//! of its own, stoppable and restartable on the same port), the broker launch with the remote
//! tier on, and the two protocols' clients that produce and read back.
#![allow(dead_code, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bytes::Bytes;
use iggy::prelude::*;
use rdkafka::admin::{
    AdminClient, AdminOptions, AlterConfig, NewTopic, ResourceSpecifier, TopicReplication,
};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{BaseRecord, Producer, ThreadedProducer};
use rdkafka::{Offset, TopicPartitionList};
use whippet_compat_tests::{Launch, WhippetProcess};

pub const BUCKET: &str = "whippet-tier";
pub const PREFIX: &str = "t";
pub const KEY: &str = "testing";
pub const TIMEOUT: Duration = Duration::from_secs(60);
/// The Kafka listener's stream: a Kafka topic `x` is native `kafka`/`x`.
pub const KAFKA_STREAM: &str = "kafka";

/// An S3 server over a directory, served on its own runtime (so the test can stop it).
pub struct S3Server {
    root: tempfile::TempDir,
    port: u16,
    runtime: Option<tokio::runtime::Runtime>,
}

impl S3Server {
    /// Starts a server with the bucket created, on a free port.
    pub fn start() -> Self {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join(BUCKET)).unwrap();
        let mut server = Self {
            root,
            port: 0,
            runtime: None,
        };
        server.serve();
        server
    }

    /// Serves again (after [`Self::stop`]) on the same port and directory.
    pub fn serve(&mut self) {
        assert!(self.runtime.is_none(), "already serving");
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let fs = s3s_fs::FileSystem::new(self.root.path()).unwrap();
        let mut builder = s3s::service::S3ServiceBuilder::new(fs);
        builder.set_auth(s3s::auth::SimpleAuth::from_single(KEY, KEY));
        let service = builder.build();
        let (bound_tx, bound_rx) = std::sync::mpsc::channel();
        let port = self.port;
        runtime.spawn(async move {
            let socket = tokio::net::TcpSocket::new_v4().unwrap();
            socket.set_reuseaddr(true).unwrap();
            socket
                .bind(std::net::SocketAddr::from(([127, 0, 0, 1], port)))
                .unwrap();
            let listener = socket.listen(128).unwrap();
            bound_tx
                .send(listener.local_addr().unwrap().port())
                .unwrap();
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let service = service.clone();
                tokio::spawn(async move {
                    let _ = hyper_util::server::conn::auto::Builder::new(
                        hyper_util::rt::TokioExecutor::new(),
                    )
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
                });
            }
        });
        self.port = bound_rx.recv_timeout(Duration::from_secs(10)).unwrap();
        self.runtime = Some(runtime);
    }

    /// Stops serving: the listener and every open connection go away.
    pub fn stop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
        // The workers drop the tasks (and close the sockets) right after.
        std::thread::sleep(Duration::from_millis(300));
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Where the bucket's objects are files.
    pub fn bucket_dir(&self) -> PathBuf {
        self.root.path().join(BUCKET)
    }

    /// Files under the bucket whose name ends with `suffix`.
    pub fn objects(&self, suffix: &str) -> Vec<PathBuf> {
        files(&self.bucket_dir(), &|name| name.ends_with(suffix))
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// Every file under `dir` (recursively) whose name passes `keep`.
pub fn files(dir: &Path, keep: &dyn Fn(&str) -> bool) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files(&path, keep));
        } else if path.file_name().and_then(|n| n.to_str()).is_some_and(keep) {
            out.push(path);
        }
    }
    out.sort();
    out
}

/// Segment files (`<20 digits>.log`) of the broker's partitions.
pub fn local_segments(broker: &WhippetProcess) -> Vec<PathBuf> {
    files(&broker.data_dir().join("streams"), &|name| {
        name.len() == 24 && name.ends_with(".log") && name[..20].bytes().all(|b| b.is_ascii_digit())
    })
}

/// A broker with the remote tier on `s3`'s bucket, uploading every 100 ms, with maintenance
/// (retention) every second (the default).
pub fn launch(s3: &S3Server) -> Launch {
    Launch::new()
        .args([
            "--s3-bucket",
            BUCKET,
            "--s3-endpoint",
            &s3.endpoint(),
            "--s3-region",
            "us-east-1",
            "--s3-prefix",
            PREFIX,
            "--s3-upload-interval-ms",
            "100",
        ])
        .env("AWS_ACCESS_KEY_ID", KEY)
        .env("AWS_SECRET_ACCESS_KEY", KEY)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/nonexistent/whippet-test-aws-config")
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent/whippet-test-aws-credentials",
        )
}

/// Waits until `probe` holds, failing with `what` after [`TIMEOUT`].
pub fn wait_until(what: &str, mut probe: impl FnMut() -> bool) {
    let started = Instant::now();
    while !probe() {
        assert!(started.elapsed() < TIMEOUT, "timed out waiting: {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn kafka_config(broker: &WhippetProcess) -> ClientConfig {
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", broker.kafka_addr().to_string());
    config
}

/// Creates Kafka topic `name` (1 partition) with 64 KiB segments, remote storage on and no
/// local retention beyond what is not yet copied.
pub async fn create_tiered_topic(broker: &WhippetProcess, name: &str) {
    create_tiered_topic_with(broker, name, &[]).await;
}

/// [`create_tiered_topic`] with more topic configs.
pub async fn create_tiered_topic_with(
    broker: &WhippetProcess,
    name: &str,
    configs: &[(&str, &str)],
) {
    let admin: AdminClient<DefaultClientContext> = kafka_config(broker).create().unwrap();
    let mut topic = NewTopic::new(name, 1, TopicReplication::Fixed(1))
        .set("segment.bytes", "65536")
        .set("remote.storage.enable", "true")
        .set("local.retention.bytes", "0");
    for (key, value) in configs {
        topic = topic.set(key, value);
    }
    let results = admin
        .create_topics([&topic], &AdminOptions::new())
        .await
        .unwrap();
    for result in results {
        result.unwrap();
    }
}

/// The value of the `i`-th Kafka record of a test.
pub fn kafka_value(tag: &str, i: usize) -> Vec<u8> {
    let mut value = format!("kafka-{tag}-{i:05}-").into_bytes();
    value.extend(
        b"0123456789abcdef"
            .iter()
            .cycle()
            .take(200 + (i * 13) % 150),
    );
    value
}

/// The payload of the `i`-th native message of a test.
pub fn native_payload(tag: &str, i: usize) -> Vec<u8> {
    let mut payload = format!("native-{tag}-{i:05}-").into_bytes();
    payload.extend(b"ZYXWVUTSRQPONMLK".iter().cycle().take(180 + (i * 7) % 170));
    payload
}

/// Counts failed deliveries and keeps the first error.
#[derive(Default)]
pub struct Deliveries {
    failed: std::sync::Mutex<Vec<String>>,
}

impl rdkafka::ClientContext for Deliveries {}

impl rdkafka::producer::ProducerContext for Deliveries {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &rdkafka::producer::DeliveryResult<'_>, _: ()) {
        if let Err((error, _)) = result {
            self.failed.lock().unwrap().push(error.to_string());
        }
    }
}

/// Produces `values` to partition 0 of `topic` with rdkafka, in order, and waits for every
/// acknowledgement (a failed delivery fails the test).
pub fn kafka_produce(broker: &WhippetProcess, topic: &str, values: &[Vec<u8>]) {
    kafka_produce_with(broker, topic, values, true, None);
}

/// [`kafka_produce`], idempotent or not.
pub fn kafka_produce_with(
    broker: &WhippetProcess,
    topic: &str,
    values: &[Vec<u8>],
    idempotent: bool,
    base_timestamp_ms: Option<i64>,
) {
    let producer: ThreadedProducer<Deliveries> = kafka_config(broker)
        .set("acks", "all")
        .set("enable.idempotence", idempotent.to_string())
        .set("linger.ms", "5")
        // Batches well below the 64 KiB segments, so segments roll as the data arrives.
        .set("batch.size", "8192")
        .create_with_context(Deliveries::default())
        .unwrap();
    for (i, value) in values.iter().enumerate() {
        let mut record: BaseRecord<'_, (), [u8]> =
            BaseRecord::to(topic).partition(0).payload(value);
        if let Some(base) = base_timestamp_ms {
            record = record.timestamp(base + i64::try_from(i).unwrap());
        }
        producer.send(record).map_err(|(e, _)| e).unwrap();
    }
    producer.flush(TIMEOUT).unwrap();
    let failed = producer.context().failed.lock().unwrap().clone();
    assert!(
        failed.is_empty(),
        "{} deliveries failed: {:?}",
        failed.len(),
        failed.first()
    );
}

/// Reads partition 0 of `topic` from the earliest offset (ListOffsets) with rdkafka until
/// `count` records arrived: `(offset, value)` in order.
pub fn kafka_read_all(broker: &WhippetProcess, topic: &str, count: usize) -> Vec<(i64, Vec<u8>)> {
    let consumer: BaseConsumer = kafka_config(broker)
        .set("group.id", "tiered-reader")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let mut assignment = TopicPartitionList::new();
    assignment
        .add_partition_offset(topic, 0, Offset::Beginning)
        .unwrap();
    consumer.assign(&assignment).unwrap();
    let mut out = Vec::with_capacity(count);
    let started = Instant::now();
    while out.len() < count {
        assert!(
            started.elapsed() < TIMEOUT,
            "Kafka read only {} of {count} records",
            out.len()
        );
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(message)) => {
                out.push((message.offset(), message.payload().unwrap_or(&[]).to_vec()));
            }
            Some(Err(error)) => panic!("Kafka consume failed: {error}"),
            None => {}
        }
    }
    out
}

/// The topic's configs as DescribeConfigs answers them.
pub async fn describe_topic(broker: &WhippetProcess, topic: &str) -> BTreeMap<String, String> {
    let admin: AdminClient<DefaultClientContext> = kafka_config(broker).create().unwrap();
    let results = admin
        .describe_configs([&ResourceSpecifier::Topic(topic)], &AdminOptions::new())
        .await
        .unwrap();
    let resource = results.into_iter().next().unwrap().unwrap();
    resource
        .entries
        .into_iter()
        .filter_map(|entry| entry.value.map(|value| (entry.name, value)))
        .collect()
}

/// Deletes a topic through Kafka's DeleteTopics.
pub async fn delete_topic(broker: &WhippetProcess, topic: &str) {
    let admin: AdminClient<DefaultClientContext> = kafka_config(broker).create().unwrap();
    let results = admin
        .delete_topics(&[topic], &AdminOptions::new())
        .await
        .unwrap();
    assert!(results.iter().all(Result::is_ok), "delete: {results:?}");
}

/// AlterConfigs (the whole set) on a topic.
pub async fn alter_topic(broker: &WhippetProcess, topic: &str, configs: &[(&str, &str)]) {
    let admin: AdminClient<DefaultClientContext> = kafka_config(broker).create().unwrap();
    let mut alter = AlterConfig::new(ResourceSpecifier::Topic(topic));
    for (key, value) in configs {
        alter = alter.set(key, value);
    }
    let results = admin
        .alter_configs([&alter], &AdminOptions::new())
        .await
        .unwrap();
    assert!(results.iter().all(Result::is_ok), "alter: {results:?}");
}

/// Earliest and latest offsets of partition 0 (ListOffsets).
pub fn kafka_watermarks(broker: &WhippetProcess, topic: &str) -> (i64, i64) {
    let consumer: BaseConsumer = kafka_config(broker)
        .set("group.id", "tiered-marks")
        .create()
        .unwrap();
    consumer.fetch_watermarks(topic, 0, TIMEOUT).unwrap()
}

/// Reads partition 0 of `topic` from `offset` with rdkafka until `count` records arrived.
pub fn kafka_read_from(
    broker: &WhippetProcess,
    topic: &str,
    offset: i64,
    count: usize,
) -> Vec<(i64, Vec<u8>)> {
    kafka_read(&kafka_consumer_at(broker, topic, offset), count)
}

/// An rdkafka consumer assigned partition 0 of `topic` at `offset`.
pub fn kafka_consumer_at(broker: &WhippetProcess, topic: &str, offset: i64) -> BaseConsumer {
    let consumer: BaseConsumer = kafka_config(broker)
        .set("group.id", "tiered-reader-from")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let mut assignment = TopicPartitionList::new();
    assignment
        .add_partition_offset(topic, 0, Offset::Offset(offset))
        .unwrap();
    consumer.assign(&assignment).unwrap();
    consumer
}

/// Polls `consumer` until `count` records arrived.
pub fn kafka_read(consumer: &BaseConsumer, count: usize) -> Vec<(i64, Vec<u8>)> {
    let mut out = Vec::with_capacity(count);
    let started = Instant::now();
    while out.len() < count {
        assert!(started.elapsed() < TIMEOUT, "read {} of {count}", out.len());
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(message)) => {
                out.push((message.offset(), message.payload().unwrap_or(&[]).to_vec()));
            }
            Some(Err(error)) => panic!("Kafka consume failed: {error}"),
            None => {}
        }
    }
    out
}

/// ListOffsets by timestamp: the first offset of partition 0 whose timestamp is at or after
/// `timestamp_ms`.
pub fn kafka_offset_for_time(broker: &WhippetProcess, topic: &str, timestamp_ms: i64) -> i64 {
    let consumer: BaseConsumer = kafka_config(broker)
        .set("group.id", "tiered-times")
        .create()
        .unwrap();
    let mut query = TopicPartitionList::new();
    query
        .add_partition_offset(topic, 0, Offset::Offset(timestamp_ms))
        .unwrap();
    let answer = consumer.offsets_for_times(query, TIMEOUT).unwrap();
    match answer.find_partition(topic, 0).unwrap().offset() {
        Offset::Offset(offset) => offset,
        other => panic!("offsets_for_times({timestamp_ms}) answered {other:?}"),
    }
}

pub async fn native_client(broker: &WhippetProcess) -> IggyClient {
    let client = IggyClient::builder()
        .with_tcp()
        .with_server_address(broker.native_addr().to_string())
        .build()
        .unwrap();
    client.connect().await.unwrap();
    client
        .login_user(DEFAULT_ROOT_USERNAME, DEFAULT_ROOT_PASSWORD)
        .await
        .unwrap();
    client
}

/// Sends `payloads` to partition 0 of Kafka topic `topic` through the native protocol, in
/// batches of 50.
pub async fn native_send(client: &IggyClient, topic: &str, payloads: &[Vec<u8>]) {
    let stream = Identifier::named(KAFKA_STREAM).unwrap();
    let topic = Identifier::named(topic).unwrap();
    for chunk in payloads.chunks(50) {
        let mut batch: Vec<IggyMessage> = chunk
            .iter()
            .map(|p| {
                IggyMessage::builder()
                    .payload(Bytes::from(p.clone()))
                    .build()
                    .unwrap()
            })
            .collect();
        client
            .send_messages(&stream, &topic, &Partitioning::partition_id(0), &mut batch)
            .await
            .unwrap();
    }
}

/// One native poll of partition 0 from `offset`.
pub async fn native_poll(
    client: &IggyClient,
    topic: &str,
    offset: u64,
    count: u32,
) -> Result<PolledMessages, IggyError> {
    client
        .poll_messages(
            &Identifier::named(KAFKA_STREAM).unwrap(),
            &Identifier::named(topic).unwrap(),
            Some(0),
            &iggy::prelude::Consumer::new(Identifier::numeric(1).unwrap()),
            &PollingStrategy::offset(offset),
            count,
            false,
        )
        .await
}

/// Polls partition 0 from offset 0 until `count` messages arrived: offset → payload.
pub async fn native_read_all(
    client: &IggyClient,
    topic: &str,
    count: usize,
) -> BTreeMap<u64, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut next = 0u64;
    let started = Instant::now();
    while out.len() < count {
        assert!(
            started.elapsed() < TIMEOUT,
            "native poll read only {} of {count} messages",
            out.len()
        );
        let polled = native_poll(client, topic, next, 500)
            .await
            .unwrap_or_else(|e| panic!("native poll from {next}: {e} (code {})", e.as_code()));
        for message in polled.messages {
            next = message.header.offset + 1;
            out.insert(message.header.offset, message.payload.to_vec());
        }
    }
    out
}

/// Checks that both protocols read `expected` (offset = index) back from offset 0, byte for
/// byte.
pub async fn check_read_back(broker: &WhippetProcess, topic: &str, expected: &[Vec<u8>]) {
    let kafka = kafka_read_all(broker, topic, expected.len());
    for (i, (offset, value)) in kafka.iter().enumerate() {
        assert_eq!(
            *offset,
            i64::try_from(i).unwrap(),
            "Kafka offset of record {i}"
        );
        assert!(value == &expected[i], "Kafka value at offset {i} differs");
    }
    let client = native_client(broker).await;
    let native = native_read_all(&client, topic, expected.len()).await;
    for (i, want) in expected.iter().enumerate() {
        let got = native.get(&(i as u64));
        assert!(
            got == Some(want),
            "native payload at offset {i} differs or is missing"
        );
    }
}
