//! Issue 22, item 2: batches that readers of one protocol or the other cannot read must be
//! refused at produce, never stored as poison pills. Against the real `whippet` binary, over raw
//! frames built here (the Kafka ones with `kafka-protocol` where they are valid, by hand where
//! they lie; the native ones by hand from `native-protocol.md`):
//!
//! - a Kafka batch with a garbage zstd section (CRC valid) gets CORRUPT_MESSAGE, one whose
//!   record length is the varint 2^40 or whose record count lies gets INVALID_RECORD, a gzip
//!   batch of 2.2 M records (more than a native batch holds) gets MESSAGE_TOO_LARGE, and the
//!   other partition of the same request is stored normally; an rdkafka consumer and a native
//!   poll then read exactly the valid records around them, without an error;
//! - a native send whose user headers are malformed (checksums valid) gets Iggy's
//!   InvalidHeaderKey (4018) / InvalidHeaderValue (4019), and an rdkafka consumer of the topic
//!   reads the valid messages around them.
//!
//! Build the binary first: `cargo build -p whippet-broker`.
#![allow(clippy::unwrap_used)]

mod kafka_raw;
mod native_sdk_common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use iggy::prelude::{IggyClient, PollingStrategy};
use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{CreateTopicsRequest, ProduceRequest, ProduceResponse, TopicName};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::{
    Compression, NO_PARTITION_LEADER_EPOCH, NO_PRODUCER_EPOCH, NO_PRODUCER_ID, NO_SEQUENCE, Record,
    RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};
use kafka_raw::Conn;
use native_sdk_common::{KAFKA_STREAM, name, payloads, poll, root, start_broker, stream_and_topic};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use xxhash_rust::xxh3::xxh3_64;

const IO_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the consumer may take to read the valid records.
const CONSUME_TIMEOUT: Duration = Duration::from_secs(20);

const CORRUPT_MESSAGE: i16 = 2;
const MESSAGE_TOO_LARGE: i16 = 10;
const INVALID_RECORD: i16 = 87;
const INVALID_HEADER_KEY: u32 = 4018;
const INVALID_HEADER_VALUE: u32 = 4019;

const PRODUCE_V: i16 = 7;
const CREATE_TOPICS_V: i16 = 5;

// ---- Kafka over raw TCP --------------------------------------------------------------------

fn create_topic(conn: &mut Conn, topic: &str, partitions: i32, configs: &[(&str, &str)]) {
    let configs = configs
        .iter()
        .map(|(key, value)| {
            CreatableTopicConfig::default()
                .with_name(StrBytes::from_string((*key).to_owned()))
                .with_value(Some(StrBytes::from_string((*value).to_owned())))
        })
        .collect();
    let request = CreateTopicsRequest::default()
        .with_timeout_ms(10_000)
        .with_topics(vec![
            CreatableTopic::default()
                .with_name(topic_name(topic))
                .with_num_partitions(partitions)
                .with_replication_factor(1)
                .with_configs(configs),
        ]);
    let response = conn.call(CREATE_TOPICS_V, &request);
    assert_eq!(response.topics[0].error_code, 0, "create topic {topic}");
}

/// Produces `batches[p]` to partition `p` of `topic` in one request; (error, base offset) per
/// partition.
fn produce(conn: &mut Conn, topic: &str, batches: Vec<Vec<u8>>) -> Vec<(i16, i64)> {
    let partitions = batches
        .into_iter()
        .enumerate()
        .map(|(index, records)| {
            PartitionProduceData::default()
                .with_index(i32::try_from(index).unwrap())
                .with_records(Some(Bytes::from(records)))
        })
        .collect();
    let request = ProduceRequest::default()
        .with_acks(1)
        .with_timeout_ms(10_000)
        .with_topic_data(vec![
            TopicProduceData::default()
                .with_name(topic_name(topic))
                .with_partition_data(partitions),
        ]);
    let response: ProduceResponse = conn.call(PRODUCE_V, &request);
    let mut answers: Vec<_> = response.responses[0]
        .partition_responses
        .iter()
        .map(|p| (p.index, p.error_code, p.base_offset))
        .collect();
    answers.sort_unstable();
    answers.into_iter().map(|(_, e, b)| (e, b)).collect()
}

fn topic_name(topic: &str) -> TopicName {
    TopicName(StrBytes::from_string(topic.to_owned()))
}

/// A valid uncompressed batch of `values`, as a producer sends it.
fn valid_batch(values: &[&str]) -> Vec<u8> {
    let records: Vec<Record> = values
        .iter()
        .enumerate()
        .map(|(i, value)| Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: NO_PARTITION_LEADER_EPOCH,
            producer_id: NO_PRODUCER_ID,
            producer_epoch: NO_PRODUCER_EPOCH,
            timestamp_type: TimestampType::Creation,
            offset: i64::try_from(i).unwrap(),
            // One batch: kafka-protocol starts a new one unless offset − sequence is constant.
            sequence: NO_SEQUENCE + i32::try_from(i).unwrap(),
            timestamp: 1_700_000_000_000,
            key: None,
            value: Some(Bytes::copy_from_slice(value.as_bytes())),
            headers: Default::default(),
        })
        .collect();
    let mut buf = BytesMut::new();
    let options = RecordEncodeOptions {
        version: 2,
        compression: Compression::None,
    };
    RecordBatchEncoder::encode(&mut buf, &records, &options).unwrap();
    buf.to_vec()
}

/// CRC-32C (Castagnoli), reflected, table-driven.
fn crc32c(bytes: &[u8]) -> u32 {
    let mut table = [0u32; 256];
    for (n, slot) in table.iter_mut().enumerate() {
        let mut crc = u32::try_from(n).unwrap();
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0x82F6_3B78
            } else {
                crc >> 1
            };
        }
        *slot = crc;
    }
    let mut crc = !0u32;
    for byte in bytes {
        crc = table[((crc ^ u32::from(*byte)) & 0xff) as usize] ^ (crc >> 8);
    }
    !crc
}

/// A magic-2 batch around a records `section` (already compressed with codec id `codec`),
/// declaring `count` records; the CRC is correct, so only what the test planted is wrong.
fn batch_around(section: &[u8], codec: i16, count: i32) -> Vec<u8> {
    let mut out = Vec::with_capacity(61 + section.len());
    out.extend_from_slice(&0i64.to_be_bytes());
    out.extend_from_slice(&i32::try_from(49 + section.len()).unwrap().to_be_bytes());
    out.extend_from_slice(&(-1i32).to_be_bytes());
    out.push(2);
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&codec.to_be_bytes());
    out.extend_from_slice(&(count - 1).to_be_bytes());
    out.extend_from_slice(&1_700_000_000_000i64.to_be_bytes());
    out.extend_from_slice(&1_700_000_000_000i64.to_be_bytes());
    out.extend_from_slice(&(-1i64).to_be_bytes());
    out.extend_from_slice(&(-1i16).to_be_bytes());
    out.extend_from_slice(&(-1i32).to_be_bytes());
    out.extend_from_slice(&count.to_be_bytes());
    out.extend_from_slice(section);
    let crc = crc32c(&out[21..]);
    out[17..21].copy_from_slice(&crc.to_be_bytes());
    out
}

fn put_varint(out: &mut Vec<u8>, value: i64) {
    let mut raw = ((value << 1) ^ (value >> 63)) as u64;
    while raw >= 0x80 {
        out.push((raw as u8) | 0x80);
        raw >>= 7;
    }
    out.push(raw as u8);
}

/// A zstd frame magic followed by bytes that are not a zstd frame: the probe's first case.
fn garbage_zstd_batch() -> Vec<u8> {
    let mut section = vec![0x28, 0xb5, 0x2f, 0xfd];
    section.extend((0..300u32).map(|i| (i.wrapping_mul(151) >> 3) as u8));
    batch_around(&section, 4, 3)
}

/// One uncompressed record whose length varint is 2^40: the probe's second case.
fn huge_varint_batch() -> Vec<u8> {
    let mut section = Vec::new();
    put_varint(&mut section, 1 << 40);
    section.extend_from_slice(&[0; 32]);
    batch_around(&section, 0, 1)
}

/// A valid batch of two records whose header claims three (lastOffsetDelta agrees).
fn lying_count_batch() -> Vec<u8> {
    let good = valid_batch(&["lie-0", "lie-1"]);
    batch_around(&good[61..], 0, 3)
}

/// A valid gzip batch of 2.2 M empty-valued records: more than one native batch may hold.
fn huge_gzip_batch() -> Vec<u8> {
    const COUNT: i32 = 2_200_000;
    let mut plain = Vec::with_capacity(12 * 2_200_000);
    for index in 0..COUNT {
        let mut body = vec![0u8, 0];
        put_varint(&mut body, i64::from(index));
        body.extend_from_slice(&[0x01, 0x00, 0x00]); // key null, value empty, no headers
        put_varint(&mut plain, i64::try_from(body.len()).unwrap());
        plain.extend_from_slice(&body);
    }
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(&plain).unwrap();
    batch_around(&encoder.finish().unwrap(), 1, COUNT)
}

// ---- native over raw TCP -------------------------------------------------------------------

const HEADER: usize = 256;

/// A 0.11 request header for `operation`/`code` carrying `body`.
fn native_request(operation: u8, code: u32, session: u64, request: u64, body: &[u8]) -> Vec<u8> {
    let mut h = vec![0u8; HEADER];
    h[48..52].copy_from_slice(&u32::try_from(HEADER + body.len()).unwrap().to_le_bytes());
    h[60] = 5;
    h[128..144].copy_from_slice(&0x5eed_u128.to_le_bytes());
    h[144..160].copy_from_slice(&u128::from(xxh3_64(body)).to_le_bytes());
    h[168..176].copy_from_slice(&request.to_le_bytes());
    h[176] = operation;
    h[184..192].copy_from_slice(&session.to_le_bytes());
    if operation == 2 {
        h[196..200].copy_from_slice(&code.to_le_bytes());
    }
    h.extend_from_slice(body);
    h
}

/// Sends one request; returns the reply status and body.
fn native_call(stream: &mut TcpStream, frame: &[u8]) -> (u32, Vec<u8>) {
    stream.write_all(frame).unwrap();
    let mut header = [0u8; HEADER];
    stream.read_exact(&mut header).unwrap();
    let size = u32::from_le_bytes(header[48..52].try_into().unwrap()) as usize;
    let mut body = vec![0u8; size - HEADER];
    stream.read_exact(&mut body).unwrap();
    (
        u32::from_le_bytes(header[216..220].try_into().unwrap()),
        body,
    )
}

/// Logs in as root on a raw connection; returns the session.
fn native_login(stream: &mut TcpStream) -> u64 {
    let mut body = 0x0000_2C00u32.to_le_bytes().to_vec();
    for field in ["rust-sdk", "0.11.0", "iggy", "iggy"] {
        body.push(u8::try_from(field.len()).unwrap());
        body.extend_from_slice(field.as_bytes());
    }
    body.extend_from_slice(&0u32.to_le_bytes());
    let (status, reply) = native_call(stream, &native_request(1, 40, 0, 0, &body));
    assert_eq!(status, 0, "login");
    u64::from_le_bytes(reply[8..16].try_into().unwrap())
}

/// One message frame with `headers` as its user-headers block, checksum correct.
fn native_frame(id: u128, delta: u32, payload: &[u8], headers: &[u8]) -> Vec<u8> {
    let mut f = vec![0u8; 48];
    f[8..24].copy_from_slice(&id.to_le_bytes());
    f[24..28].copy_from_slice(&delta.to_le_bytes());
    f[32..36].copy_from_slice(&u32::try_from(headers.len()).unwrap().to_le_bytes());
    f[36..40].copy_from_slice(&u32::try_from(payload.len()).unwrap().to_le_bytes());
    f.extend_from_slice(payload);
    f.extend_from_slice(headers);
    let checksum = xxh3_64(&f[8..]);
    f[0..8].copy_from_slice(&checksum.to_le_bytes());
    f
}

/// A batch of `frames`, batch checksum correct.
fn native_batch(frames: &[Vec<u8>]) -> Vec<u8> {
    let length = HEADER + frames.iter().map(Vec::len).sum::<usize>();
    let mut b = vec![0u8; HEADER];
    b[24..32].copy_from_slice(&1_700_000_000_000_000u64.to_le_bytes());
    b[32..40].copy_from_slice(&u64::try_from(length).unwrap().to_le_bytes());
    b[48..52].copy_from_slice(&u32::try_from(frames.len()).unwrap().to_le_bytes());
    let mut summed = b[0..40].to_vec();
    summed.extend_from_slice(&b[48..52]);
    for f in frames {
        summed.extend_from_slice(&f[0..8]);
    }
    b[40..48].copy_from_slice(&xxh3_64(&summed).to_le_bytes());
    for f in frames {
        b.extend_from_slice(f);
    }
    b
}

/// A raw native connection after login: its session and the next request number (replicated
/// operations need one above zero).
struct NativeConn {
    stream: TcpStream,
    session: u64,
    request: u64,
}

impl NativeConn {
    fn login(addr: SocketAddr) -> Self {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        let session = native_login(&mut stream);
        Self {
            stream,
            session,
            request: 0,
        }
    }

    /// Sends `batch` to partition 0 of stream/topic `ids`; returns the status.
    fn send(&mut self, ids: (u32, u32), batch: &[u8]) -> u32 {
        self.request += 1;
        native_send(&mut self.stream, (self.session, self.request), ids, batch)
    }
}

/// Sends `batch` to partition 0 of stream/topic `ids` as (session, request number) `at`;
/// returns the status.
fn native_send(stream: &mut TcpStream, at: (u64, u64), ids: (u32, u32), batch: &[u8]) -> u32 {
    let mut meta = Vec::new();
    for value in [ids.0, ids.1] {
        meta.extend_from_slice(&[1, 4]);
        meta.extend_from_slice(&value.to_le_bytes());
    }
    meta.extend_from_slice(&[2, 4, 0, 0, 0, 0]);
    meta.extend_from_slice(&batch[48..52]);
    let mut body = u32::try_from(meta.len()).unwrap().to_le_bytes().to_vec();
    body.extend_from_slice(&meta);
    body.extend_from_slice(batch);
    native_call(stream, &native_request(160, 101, at.0, at.1, &body)).0
}

/// A user-header field `[kind][len:u32][bytes]`.
fn field(kind: u8, bytes: &[u8]) -> Vec<u8> {
    let mut out = vec![kind];
    out.extend_from_slice(&u32::try_from(bytes.len()).unwrap().to_le_bytes());
    out.extend_from_slice(bytes);
    out
}

// ---- readers -------------------------------------------------------------------------------

/// Reads partition `partition` of `topic` from the beginning with rdkafka until `want` records
/// arrived; panics on any consumer error (librdkafka's `_BAD_COMPRESSION` loop, a storage
/// error) or when they do not arrive in time. Returns (offset, value) of each.
fn rdkafka_read(addr: SocketAddr, topic: &str, partition: i32, want: usize) -> Vec<(i64, String)> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", addr.to_string())
        .set("group.id", "poison-unused")
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "error")
        .create()
        .unwrap();
    let mut assignment = TopicPartitionList::new();
    assignment
        .add_partition_offset(topic, partition, Offset::Beginning)
        .unwrap();
    consumer.assign(&assignment).unwrap();
    let mut got = Vec::new();
    let deadline = Instant::now() + CONSUME_TIMEOUT;
    while got.len() < want {
        assert!(
            Instant::now() < deadline,
            "{topic}[{partition}]: read only {got:?} of {want} records"
        );
        match consumer.poll(Duration::from_millis(200)) {
            None => {}
            Some(Ok(message)) => got.push((
                message.offset(),
                String::from_utf8(message.payload().unwrap_or_default().to_vec()).unwrap(),
            )),
            Some(Err(error)) => panic!("{topic}[{partition}]: consumer error {error}"),
        }
    }
    // Nothing more, and no error, right behind them.
    if let Some(extra) = consumer.poll(Duration::from_millis(500)) {
        panic!(
            "{topic}[{partition}]: unexpected {:?}",
            extra.map(|m| m.offset())
        );
    }
    got
}

async fn native_payloads(admin: &IggyClient, stream: &str, topic: &str) -> Vec<String> {
    let polled = poll(
        admin,
        &name(stream),
        &name(topic),
        0,
        PollingStrategy::offset(0),
        1000,
    )
    .await;
    payloads(&polled)
}

fn indexed(values: &[&str]) -> Vec<(i64, String)> {
    values
        .iter()
        .zip(0..)
        .map(|(value, offset)| (offset, (*value).to_owned()))
        .collect()
}

// ---- tests ---------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_kafka_batches_are_refused_and_readers_read_around_them() {
    let broker = start_broker();
    let addr = broker.kafka_addr();
    let mut conn = Conn::open(addr, IO_TIMEOUT);
    create_topic(&mut conn, "poison", 2, &[]);
    assert_eq!(
        produce(&mut conn, "poison", vec![valid_batch(&["a", "b"])]),
        [(0, 0)]
    );
    let cases = [
        (
            "garbage zstd section",
            garbage_zstd_batch(),
            CORRUPT_MESSAGE,
        ),
        (
            "record length varint 2^40",
            huge_varint_batch(),
            INVALID_RECORD,
        ),
        (
            "record count above the records",
            lying_count_batch(),
            INVALID_RECORD,
        ),
    ];
    for (case, bad, code) in cases {
        // The other partition of the same request is stored all the same.
        let answers = produce(&mut conn, "poison", vec![bad, valid_batch(&[case])]);
        assert_eq!(answers[0], (code, -1), "{case}\n{}", broker.stderr());
        assert_eq!(answers[1].0, 0, "{case}: the other partition");
    }
    assert_eq!(
        produce(&mut conn, "poison", vec![valid_batch(&["c", "d"])]),
        [(0, 2)]
    );

    let read = tokio::task::spawn_blocking(move || rdkafka_read(addr, "poison", 0, 4));
    assert_eq!(read.await.unwrap(), indexed(&["a", "b", "c", "d"]));
    let read = tokio::task::spawn_blocking(move || rdkafka_read(addr, "poison", 1, 3));
    let others = read.await.unwrap();
    assert_eq!(others.len(), 3, "{others:?}");
    let admin = root(&broker).await;
    assert_eq!(
        native_payloads(&admin, KAFKA_STREAM, "poison").await,
        ["a", "b", "c", "d"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_of_more_records_than_a_native_batch_holds_is_message_too_large() {
    let broker = start_broker();
    let addr = broker.kafka_addr();
    let mut conn = Conn::open(addr, IO_TIMEOUT);
    create_topic(&mut conn, "wide", 1, &[("max.message.bytes", "33554432")]);
    assert_eq!(
        produce(&mut conn, "wide", vec![valid_batch(&["a"])]),
        [(0, 0)]
    );
    let huge = huge_gzip_batch();
    assert_eq!(
        produce(&mut conn, "wide", vec![huge]),
        [(MESSAGE_TOO_LARGE, -1)],
        "{}",
        broker.stderr()
    );
    assert_eq!(
        produce(&mut conn, "wide", vec![valid_batch(&["b"])]),
        [(0, 1)]
    );
    let admin = root(&broker).await;
    assert_eq!(
        native_payloads(&admin, KAFKA_STREAM, "wide").await,
        ["a", "b"]
    );
    let read = tokio::task::spawn_blocking(move || rdkafka_read(addr, "wide", 0, 2));
    assert_eq!(read.await.unwrap(), indexed(&["a", "b"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_native_user_headers_are_refused_and_kafka_readers_read_around_them() {
    let broker = start_broker();
    let admin = root(&broker).await;
    let (sid, tid) = stream_and_topic(&admin, "s", "t", 1).await;
    let ids = (sid.get_u32_value().unwrap(), tid.get_u32_value().unwrap());
    let mut conn = NativeConn::login(broker.native_addr());
    let good_headers = [field(2, b"trace"), field(1, b"abc")].concat();
    let good = |payload: &[u8]| native_batch(&[native_frame(7, 0, payload, &good_headers)]);
    assert_eq!(conn.send(ids, &good(b"first")), 0);

    let u64_of_three = [field(2, b"n"), field(12, &[1, 2, 3])].concat();
    let mut cut_value = good_headers.clone();
    cut_value.pop();
    let cases: [(&str, Vec<u8>, u32); 5] = [
        (
            "key kind 0",
            [field(0, b"k"), field(1, b"v")].concat(),
            INVALID_HEADER_KEY,
        ),
        (
            "key length 0",
            [field(2, b""), field(1, b"v")].concat(),
            INVALID_HEADER_KEY,
        ),
        ("key without a value", field(2, b"k"), INVALID_HEADER_VALUE),
        ("value cut short", cut_value, INVALID_HEADER_VALUE),
        ("u64 value of 3 bytes", u64_of_three, INVALID_HEADER_VALUE),
    ];
    for (case, headers, status) in cases {
        let bad = native_batch(&[
            native_frame(8, 0, b"good frame", &good_headers),
            native_frame(9, 1, case.as_bytes(), &headers),
        ]);
        assert_eq!(conn.send(ids, &bad), status, "{case}\n{}", broker.stderr());
    }
    assert_eq!(conn.send(ids, &good(b"second")), 0);

    assert_eq!(native_payloads(&admin, "s", "t").await, ["first", "second"]);
    let addr = broker.kafka_addr();
    let read = tokio::task::spawn_blocking(move || rdkafka_read(addr, "s.t", 0, 2));
    assert_eq!(read.await.unwrap(), indexed(&["first", "second"]));
}
