//! The Kafka data path of the real `whippet` binary, driven byte by byte over TCP with requests
//! and record batches built by `kafka-protocol`: Produce/Fetch round trips for every codec
//! (stored and served bytes equal to what was produced, except the broker's baseOffset and
//! leader epoch), offsets, the Fetch long poll and byte limits, OFFSET_OUT_OF_RANGE, every kind
//! of ListOffsets, refused batches leaving the log untouched, the idempotent-producer rules
//! across SIGTERM and SIGKILL restarts, LogAppendTime topics and acks=0.
#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::indexmap::IndexMap;
use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::fetch_response::PartitionData;
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::list_offsets_response::ListOffsetsPartitionResponse;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::produce_response::PartitionProduceResponse;
use kafka_protocol::messages::{
    ApiKey, CreateTopicsRequest, CreateTopicsResponse, FetchRequest, FetchResponse,
    InitProducerIdRequest, InitProducerIdResponse, ListOffsetsRequest, ListOffsetsResponse,
    ProduceRequest, ProduceResponse, ProducerId, RequestHeader, ResponseHeader, TopicName,
};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use kafka_protocol::records::{
    Compression, Record, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};
use whippet_compat_tests::WhippetProcess;

const CODECS: [Compression; 5] = [
    Compression::None,
    Compression::Gzip,
    Compression::Snappy,
    Compression::Lz4,
    Compression::Zstd,
];

/// A blocking Kafka connection speaking raw frames.
struct Conn {
    stream: TcpStream,
    next_correlation: i32,
}

impl Conn {
    fn connect(addr: SocketAddr) -> Self {
        let stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        stream.set_nodelay(true).unwrap();
        Self {
            stream,
            next_correlation: 1,
        }
    }

    fn send<Q: Encodable>(&mut self, key: ApiKey, version: i16, body: &Q) -> i32 {
        let correlation = self.next_correlation;
        self.next_correlation += 1;
        let mut buf = BytesMut::new();
        buf.put_i32(0);
        RequestHeader::default()
            .with_request_api_key(key as i16)
            .with_request_api_version(version)
            .with_correlation_id(correlation)
            .with_client_id(Some(StrBytes::from_static_str("kafka-data-test")))
            .encode(&mut buf, key.request_header_version(version))
            .unwrap();
        body.encode(&mut buf, version).unwrap();
        let len = i32::try_from(buf.len() - 4).unwrap();
        buf[..4].copy_from_slice(&len.to_be_bytes());
        self.stream.write_all(&buf).unwrap();
        correlation
    }

    /// The next response frame, or `None` if the broker closed the connection.
    fn read_frame(&mut self) -> Option<Bytes> {
        let mut len = [0u8; 4];
        self.stream.read_exact(&mut len).ok()?;
        let mut body = vec![0u8; usize::try_from(i32::from_be_bytes(len)).unwrap()];
        self.stream.read_exact(&mut body).ok()?;
        Some(Bytes::from(body))
    }

    fn recv<R: Decodable>(&mut self, key: ApiKey, version: i16, correlation: i32) -> R {
        let mut frame = self
            .read_frame()
            .expect("connection closed instead of a response");
        let header =
            ResponseHeader::decode(&mut frame, key.response_header_version(version)).unwrap();
        assert_eq!(header.correlation_id, correlation, "responses out of order");
        R::decode(&mut frame, version).unwrap()
    }

    fn call<Q: Encodable, R: Decodable>(&mut self, key: ApiKey, version: i16, body: &Q) -> R {
        let correlation = self.send(key, version, body);
        self.recv(key, version, correlation)
    }
}

fn name(topic: &str) -> TopicName {
    TopicName(StrBytes::from_string(topic.to_string()))
}

fn create_topic(conn: &mut Conn, topic: &str, partitions: i32, configs: &[(&str, &str)]) {
    let configs = configs
        .iter()
        .map(|(k, v)| {
            CreatableTopicConfig::default()
                .with_name(StrBytes::from_string((*k).to_string()))
                .with_value(Some(StrBytes::from_string((*v).to_string())))
        })
        .collect();
    let request = CreateTopicsRequest::default()
        .with_timeout_ms(10_000)
        .with_topics(vec![
            CreatableTopic::default()
                .with_name(name(topic))
                .with_num_partitions(partitions)
                .with_replication_factor(1)
                .with_configs(configs),
        ]);
    let response: CreateTopicsResponse = conn.call(ApiKey::CreateTopics, 5, &request);
    assert_eq!(
        response.topics[0].error_code, 0,
        "create {topic}: {response:?}"
    );
}

/// Idempotence fields for a batch: (producer id, epoch, first sequence).
type Idempotence = Option<(i64, i16, i32)>;

/// One batch of `count` records with keys, values and headers, CreateTime from `base_ms`.
fn batch(count: usize, codec: Compression, base_ms: i64, tag: &str, idem: Idempotence) -> Bytes {
    let records: Vec<Record> = (0..count)
        .map(|i| {
            let offset = i64::try_from(i).unwrap();
            let (producer_id, producer_epoch, sequence) = match idem {
                Some((id, epoch, seq)) => (id, epoch, seq + i32::try_from(i).unwrap()),
                // The encoder splits batches when offset - sequence changes; keep it constant.
                None => (-1, -1, i32::try_from(i).unwrap() - 1),
            };
            let mut headers = IndexMap::new();
            headers.insert(
                StrBytes::from_string(format!("h{i}")),
                Some(Bytes::from(tag.to_string())),
            );
            Record {
                transactional: false,
                control: false,
                delete_horizon: false,
                partition_leader_epoch: -1,
                producer_id,
                producer_epoch,
                timestamp_type: TimestampType::Creation,
                offset,
                sequence,
                timestamp: base_ms + offset * 10,
                key: Some(Bytes::from(format!("key-{tag}-{i}"))),
                value: Some(Bytes::from(format!(
                    "value-{tag}-{i}-{}",
                    "x".repeat(i % 50)
                ))),
                headers,
            }
        })
        .collect();
    let mut buf = BytesMut::new();
    let options = RecordEncodeOptions {
        version: 2,
        compression: codec,
    };
    RecordBatchEncoder::encode(&mut buf, &records, &options).unwrap();
    buf.freeze()
}

fn produce_request(topic: &str, partition: i32, records: Bytes, acks: i16) -> ProduceRequest {
    ProduceRequest::default()
        .with_acks(acks)
        .with_timeout_ms(10_000)
        .with_topic_data(vec![
            TopicProduceData::default()
                .with_name(name(topic))
                .with_partition_data(vec![
                    PartitionProduceData::default()
                        .with_index(partition)
                        .with_records(Some(records)),
                ]),
        ])
}

fn produce_v(
    conn: &mut Conn,
    version: i16,
    topic: &str,
    partition: i32,
    records: Bytes,
) -> PartitionProduceResponse {
    let response: ProduceResponse = conn.call(
        ApiKey::Produce,
        version,
        &produce_request(topic, partition, records, -1),
    );
    response.responses[0].partition_responses[0].clone()
}

fn produce(
    conn: &mut Conn,
    topic: &str,
    partition: i32,
    records: Bytes,
) -> PartitionProduceResponse {
    produce_v(conn, 9, topic, partition, records)
}

fn fetch_request(
    parts: &[(&str, i32, i64, i32)],
    max_wait_ms: i32,
    min_bytes: i32,
    max_bytes: i32,
) -> FetchRequest {
    let topics = parts
        .iter()
        .map(|(topic, partition, offset, partition_max)| {
            FetchTopic::default()
                .with_topic(name(topic))
                .with_partitions(vec![
                    FetchPartition::default()
                        .with_partition(*partition)
                        .with_fetch_offset(*offset)
                        .with_partition_max_bytes(*partition_max),
                ])
        })
        .collect();
    FetchRequest::default()
        .with_replica_id(kafka_protocol::messages::BrokerId(-1))
        .with_max_wait_ms(max_wait_ms)
        .with_min_bytes(min_bytes)
        .with_max_bytes(max_bytes)
        .with_session_epoch(-1)
        .with_topics(topics)
}

fn fetch_all(conn: &mut Conn, version: i16, request: &FetchRequest) -> Vec<PartitionData> {
    let response: FetchResponse = conn.call(ApiKey::Fetch, version, request);
    assert_eq!(response.error_code, 0);
    assert_eq!(response.session_id, 0, "no fetch sessions");
    response
        .responses
        .into_iter()
        .flat_map(|t| t.partitions)
        .collect()
}

fn fetch_one(conn: &mut Conn, topic: &str, partition: i32, offset: i64) -> PartitionData {
    let request = fetch_request(&[(topic, partition, offset, 1 << 20)], 0, 0, 50 << 20);
    fetch_all(conn, 12, &request).remove(0)
}

fn list_offset(
    conn: &mut Conn,
    version: i16,
    topic: &str,
    partition: i32,
    timestamp: i64,
) -> ListOffsetsPartitionResponse {
    let request = ListOffsetsRequest::default()
        .with_replica_id(kafka_protocol::messages::BrokerId(-1))
        .with_topics(vec![
            ListOffsetsTopic::default()
                .with_name(name(topic))
                .with_partitions(vec![
                    ListOffsetsPartition::default()
                        .with_partition_index(partition)
                        .with_timestamp(timestamp),
                ]),
        ]);
    let response: ListOffsetsResponse = conn.call(ApiKey::ListOffsets, version, &request);
    response.topics[0].partitions[0].clone()
}

fn high_watermark(conn: &mut Conn, topic: &str, partition: i32) -> i64 {
    let answer = list_offset(conn, 7, topic, partition, -1);
    assert_eq!(answer.error_code, 0);
    answer.offset
}

fn records_of(data: &PartitionData) -> Bytes {
    data.records.clone().unwrap_or_default()
}

/// Asserts `served` is `sent` with only baseOffset (= `base`) and leader epoch (= 0) changed.
fn assert_same_batch(served: &[u8], sent: &[u8], base: i64) {
    assert_eq!(served.len(), sent.len());
    assert_eq!(&served[..8], &base.to_be_bytes(), "baseOffset");
    assert_eq!(&served[12..16], &0i32.to_be_bytes(), "partitionLeaderEpoch");
    assert_eq!(&served[8..12], &sent[8..12]);
    assert_eq!(&served[16..], &sent[16..], "batch bytes changed");
}

fn now_ms() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap()
}

#[test]
fn produce_fetch_round_trip_is_byte_exact_for_every_codec() {
    let broker = WhippetProcess::start(["--fsync", "always"]).unwrap();
    let mut conn = Conn::connect(broker.kafka_addr());
    create_topic(&mut conn, "rt", 1, &[]);
    let mut expected_offset = 0;
    let mut sent = Vec::new();
    for (n, codec) in CODECS.into_iter().enumerate() {
        let records = batch(20 + n, codec, 1_700_000_000_000, &format!("c{n}"), None);
        // Old and new Produce/Fetch versions alike.
        let (produce_version, fetch_version) = if n % 2 == 0 { (9, 12) } else { (3, 4) };
        let answer = produce_v(&mut conn, produce_version, "rt", 0, records.clone());
        assert_eq!(answer.error_code, 0, "{codec:?}");
        assert_eq!(answer.base_offset, expected_offset, "{codec:?}");
        assert_eq!(answer.log_append_time_ms, -1);
        let request = fetch_request(&[("rt", 0, expected_offset, 1 << 20)], 0, 0, 50 << 20);
        let data = fetch_all(&mut conn, fetch_version, &request).remove(0);
        assert_eq!(data.error_code, 0);
        assert_eq!(
            data.high_watermark,
            expected_offset + 20 + i64::try_from(n).unwrap()
        );
        assert_eq!(data.last_stable_offset, data.high_watermark);
        assert_same_batch(&records_of(&data), &records, expected_offset);
        // The served batch decodes (CRC intact) to the records with their real offsets.
        let decoded = RecordBatchDecoder::decode(&mut records_of(&data)).unwrap();
        assert_eq!(decoded.compression, codec);
        assert_eq!(decoded.records.len(), 20 + n);
        assert_eq!(decoded.records[3].offset, expected_offset + 3);
        assert_eq!(
            decoded.records[3].key.as_deref(),
            Some(format!("key-c{n}-3").as_bytes())
        );
        sent.push((expected_offset, records));
        expected_offset = data.high_watermark;
    }
    // Everything from 0: all batches concatenated, as stored.
    let all = records_of(&fetch_one(&mut conn, "rt", 0, 0));
    let mut position = 0;
    for (base, records) in &sent {
        assert_same_batch(&all[position..position + records.len()], records, *base);
        position += records.len();
    }
    assert_eq!(position, all.len());
    // An offset inside a batch returns that whole batch (clients skip the earlier records).
    let (second_base, second) = &sent[1];
    let inside = records_of(&fetch_one(&mut conn, "rt", 0, second_base + 5));
    assert_same_batch(&inside[..second.len()], second, *second_base);
}

#[test]
fn out_of_range_unknown_and_log_start() {
    let broker = WhippetProcess::start(Vec::<String>::new()).unwrap();
    let mut conn = Conn::connect(broker.kafka_addr());
    create_topic(&mut conn, "oor", 2, &[]);
    produce(
        &mut conn,
        "oor",
        0,
        batch(10, Compression::None, 1, "a", None),
    );
    let beyond = fetch_one(&mut conn, "oor", 0, 11);
    assert_eq!(beyond.error_code, 1, "OFFSET_OUT_OF_RANGE");
    let negative = fetch_one(&mut conn, "oor", 0, -5);
    assert_eq!(negative.error_code, 1);
    let at_end = fetch_one(&mut conn, "oor", 0, 10);
    assert_eq!((at_end.error_code, records_of(&at_end).len()), (0, 0));
    assert_eq!((at_end.high_watermark, at_end.log_start_offset), (10, 0));
    let missing = fetch_one(&mut conn, "oor", 7, 0);
    assert_eq!(missing.error_code, 3);
    let unknown = fetch_one(&mut conn, "nope", 0, 0);
    assert_eq!(unknown.error_code, 3);
    let refused = produce(
        &mut conn,
        "nope",
        0,
        batch(1, Compression::None, 1, "a", None),
    );
    assert_eq!(refused.error_code, 3, "produce to an unknown topic");
    assert_eq!(list_offset(&mut conn, 7, "nope", 0, -1).error_code, 3);
}

#[test]
fn list_offsets_every_kind() {
    let broker = WhippetProcess::start(Vec::<String>::new()).unwrap();
    let mut conn = Conn::connect(broker.kafka_addr());
    create_topic(&mut conn, "lo", 1, &[]);
    // Three batches; record i of a batch has timestamp base + 10 i.
    produce(
        &mut conn,
        "lo",
        0,
        batch(5, Compression::None, 1_000, "a", None),
    ); // 0..5: 1000..1040
    produce(
        &mut conn,
        "lo",
        0,
        batch(5, Compression::Lz4, 5_000, "b", None),
    ); // 5..10: 5000..5040
    produce(
        &mut conn,
        "lo",
        0,
        batch(5, Compression::Gzip, 3_000, "c", None),
    ); // 10..15: 3000..3040
    for version in [1, 4, 7] {
        let latest = list_offset(&mut conn, version, "lo", 0, -1);
        assert_eq!((latest.error_code, latest.offset), (0, 15));
        let earliest = list_offset(&mut conn, version, "lo", 0, -2);
        assert_eq!(earliest.offset, 0);
        let exact = list_offset(&mut conn, version, "lo", 0, 1_020);
        assert_eq!((exact.offset, exact.timestamp), (2, 1_020));
        let between = list_offset(&mut conn, version, "lo", 0, 1_021);
        assert_eq!((between.offset, between.timestamp), (3, 1_030));
        let second = list_offset(&mut conn, version, "lo", 0, 2_000);
        assert_eq!((second.offset, second.timestamp), (5, 5_000));
        let none = list_offset(&mut conn, version, "lo", 0, 9_999);
        assert_eq!((none.error_code, none.offset, none.timestamp), (0, -1, -1));
    }
    let max = list_offset(&mut conn, 7, "lo", 0, -3);
    assert_eq!(
        (max.offset, max.timestamp),
        (9, 5_040),
        "record with the largest timestamp"
    );
    assert_eq!(list_offset(&mut conn, 7, "lo", 3, -1).error_code, 3);
}

#[test]
fn long_poll_wakes_on_produce_and_times_out() {
    let broker = WhippetProcess::start(Vec::<String>::new()).unwrap();
    let addr = broker.kafka_addr();
    let mut conn = Conn::connect(addr);
    create_topic(&mut conn, "lp", 2, &[]);
    // Nothing arrives: the answer comes after max_wait_ms, empty.
    let started = Instant::now();
    let request = fetch_request(
        &[("lp", 0, 0, 1 << 20), ("lp", 1, 0, 1 << 20)],
        400,
        1,
        1 << 20,
    );
    let empty = fetch_all(&mut conn, 12, &request);
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(380),
        "answered after {waited:?}"
    );
    assert!(waited < Duration::from_secs(5));
    assert!(empty.iter().all(|p| records_of(p).is_empty()));
    // A produce to the second partition wakes a long fetch well before its 10 s.
    let producer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        let mut conn = Conn::connect(addr);
        produce(
            &mut conn,
            "lp",
            1,
            batch(3, Compression::None, 1, "w", None),
        )
    });
    let started = Instant::now();
    let request = fetch_request(
        &[("lp", 0, 0, 1 << 20), ("lp", 1, 0, 1 << 20)],
        10_000,
        1,
        1 << 20,
    );
    let woken = fetch_all(&mut conn, 12, &request);
    let waited = started.elapsed();
    assert_eq!(producer.join().unwrap().error_code, 0);
    assert!(
        waited < Duration::from_secs(5),
        "long poll not woken: {waited:?}"
    );
    assert!(records_of(&woken[0]).is_empty());
    assert!(!records_of(&woken[1]).is_empty());
    // min_bytes larger than what exists: waits out max_wait, then answers with what there is.
    let started = Instant::now();
    let request = fetch_request(&[("lp", 1, 0, 1 << 20)], 300, 1 << 20, 1 << 20);
    let partial = fetch_all(&mut conn, 12, &request);
    assert!(started.elapsed() >= Duration::from_millis(280));
    assert!(!records_of(&partial[0]).is_empty());
}

#[test]
fn max_bytes_limits_follow_kip_74() {
    let broker = WhippetProcess::start(Vec::<String>::new()).unwrap();
    let mut conn = Conn::connect(broker.kafka_addr());
    create_topic(&mut conn, "mb", 2, &[]);
    let mut sizes = [Vec::new(), Vec::new()];
    for partition in 0..2 {
        for n in 0..3 {
            let records = batch(20, Compression::None, 1, &format!("p{partition}b{n}"), None);
            sizes[usize::try_from(partition).unwrap()].push(i32::try_from(records.len()).unwrap());
            assert_eq!(produce(&mut conn, "mb", partition, records).error_code, 0);
        }
    }
    let fetch = |conn: &mut Conn, partition_max: i32, max_bytes: i32| -> Vec<usize> {
        let request = fetch_request(
            &[("mb", 0, 0, partition_max), ("mb", 1, 0, partition_max)],
            0,
            0,
            max_bytes,
        );
        fetch_all(conn, 12, &request)
            .iter()
            .map(|p| records_of(p).len())
            .collect()
    };
    let [p0, p1] = &sizes;
    let size = |s: &[i32]| usize::try_from(s.iter().sum::<i32>()).unwrap();
    // A response limit of one byte still carries the first whole batch (and nothing else).
    assert_eq!(fetch(&mut conn, 1 << 20, 1), vec![size(&p0[..1]), 0]);
    // A partition limit below one batch: only the first partition's first batch.
    assert_eq!(fetch(&mut conn, 1, 1 << 20), vec![size(&p0[..1]), 0]);
    // A partition limit of two batches each.
    let two = p0[0] + p0[1] + 1;
    assert_eq!(
        fetch(&mut conn, two.max(p1[0] + p1[1]), 1 << 20),
        vec![size(&p0[..2]), size(&p1[..2])]
    );
    // The response limit cuts the second partition to what still fits.
    let max = p0[0] + p0[1] + p0[2] + p1[0];
    assert_eq!(
        fetch(&mut conn, 1 << 20, max),
        vec![size(p0), size(&p1[..1])]
    );
}

#[test]
fn refused_batches_write_nothing() {
    let broker = WhippetProcess::start(Vec::<String>::new()).unwrap();
    let mut conn = Conn::connect(broker.kafka_addr());
    create_topic(&mut conn, "bad", 1, &[]);
    create_topic(&mut conn, "small", 1, &[("max.message.bytes", "200")]);
    let good = batch(5, Compression::None, 1, "ok", None);
    let mut corrupt = BytesMut::from(&batch(5, Compression::None, 1, "bad", None)[..]);
    let last = corrupt.len() - 1;
    corrupt[last] ^= 0xff;
    assert_eq!(
        produce(&mut conn, "bad", 0, corrupt.clone().freeze()).error_code,
        2,
        "CORRUPT_MESSAGE"
    );
    // A good batch followed by a bad one: the whole partition's data is refused.
    let mut mixed = BytesMut::from(&good[..]);
    mixed.extend_from_slice(&corrupt);
    assert_eq!(produce(&mut conn, "bad", 0, mixed.freeze()).error_code, 2);
    // Magic 1 is refused as Kafka does for Produce v3+.
    let mut old = BytesMut::from(&good[..]);
    old[16] = 1;
    assert_eq!(
        produce(&mut conn, "bad", 0, old.freeze()).error_code,
        87,
        "INVALID_RECORD"
    );
    // A record count that lies about the bytes.
    let mut lying = BytesMut::from(&good[..]);
    lying[57..61].copy_from_slice(&1_000_000i32.to_be_bytes());
    assert_eq!(produce(&mut conn, "bad", 0, lying.freeze()).error_code, 2);
    // Bad acks.
    let response: ProduceResponse = conn.call(
        ApiKey::Produce,
        9,
        &produce_request("bad", 0, good.clone(), 2),
    );
    assert_eq!(
        response.responses[0].partition_responses[0].error_code, 21,
        "INVALID_REQUIRED_ACKS"
    );
    // Over max.message.bytes.
    let big = batch(30, Compression::None, 1, "big", None);
    assert!(big.len() > 200);
    assert_eq!(
        produce(&mut conn, "small", 0, big).error_code,
        10,
        "MESSAGE_TOO_LARGE"
    );
    assert_eq!(high_watermark(&mut conn, "bad", 0), 0, "nothing written");
    assert_eq!(high_watermark(&mut conn, "small", 0), 0);
    // The connection still works and the good batch goes in.
    assert_eq!(produce(&mut conn, "bad", 0, good).base_offset, 0);
    assert_eq!(high_watermark(&mut conn, "bad", 0), 5);
}

#[test]
fn acks_zero_gets_no_answer_and_an_error_closes() {
    let broker = WhippetProcess::start(Vec::<String>::new()).unwrap();
    let mut conn = Conn::connect(broker.kafka_addr());
    create_topic(&mut conn, "a0", 1, &[]);
    conn.send(
        ApiKey::Produce,
        9,
        &produce_request("a0", 0, batch(4, Compression::Zstd, 1, "z", None), 0),
    );
    // The next answer on the connection is the ListOffsets one (correlation checked in recv).
    assert_eq!(high_watermark(&mut conn, "a0", 0), 4);
    conn.send(
        ApiKey::Produce,
        9,
        &produce_request("nope", 0, batch(1, Compression::None, 1, "z", None), 0),
    );
    assert!(
        conn.read_frame().is_none(),
        "acks=0 failure must close the connection"
    );
}

#[test]
fn log_append_time_topic_stamps_batches() {
    let broker = WhippetProcess::start(Vec::<String>::new()).unwrap();
    let mut conn = Conn::connect(broker.kafka_addr());
    create_topic(
        &mut conn,
        "lat",
        1,
        &[("message.timestamp.type", "LogAppendTime")],
    );
    let before = now_ms();
    let sent = batch(6, Compression::Snappy, 1_000, "t", None);
    let answer = produce(&mut conn, "lat", 0, sent.clone());
    let after = now_ms();
    assert_eq!(answer.error_code, 0);
    let stamp = answer.log_append_time_ms;
    assert!(
        (before..=after).contains(&stamp),
        "{before} <= {stamp} <= {after}"
    );
    let served = records_of(&fetch_one(&mut conn, "lat", 0, 0));
    assert_eq!(served.len(), sent.len());
    let attributes = i16::from_be_bytes([served[21], served[22]]);
    assert_ne!(attributes & 0b1000, 0, "LogAppendTime bit");
    assert_eq!(
        &served[35..43],
        &stamp.to_be_bytes(),
        "maxTimestamp = append time"
    );
    assert_eq!(&served[27..35], &sent[27..35], "baseTimestamp left alone");
    // The CRC was recomputed: the batch decodes (the decoder checks it) as LogAppendTime.
    // (Clients read every record's timestamp from maxTimestamp for such batches.)
    let decoded = RecordBatchDecoder::decode(&mut served.clone()).unwrap();
    assert_eq!(decoded.records.len(), 6);
    assert!(
        decoded
            .records
            .iter()
            .all(|r| r.timestamp_type == TimestampType::LogAppend)
    );
    let by_time = list_offset(&mut conn, 7, "lat", 0, stamp);
    assert_eq!((by_time.offset, by_time.timestamp), (0, stamp));
    assert_eq!(list_offset(&mut conn, 7, "lat", 0, 1_000).offset, 0);
}

fn init_producer(conn: &mut Conn, existing: Option<(i64, i16)>) -> (i64, i16) {
    let (id, epoch) = existing.unwrap_or((-1, -1));
    let request = InitProducerIdRequest::default()
        .with_transaction_timeout_ms(60_000)
        .with_producer_id(ProducerId(id))
        .with_producer_epoch(epoch);
    let response: InitProducerIdResponse = conn.call(ApiKey::InitProducerId, 4, &request);
    assert_eq!(response.error_code, 0);
    (response.producer_id.0, response.producer_epoch)
}

fn idem(conn: &mut Conn, pid: i64, epoch: i16, seq: i32, count: usize) -> PartitionProduceResponse {
    produce(
        conn,
        "idem",
        0,
        batch(
            count,
            Compression::Lz4,
            1,
            &format!("s{seq}"),
            Some((pid, epoch, seq)),
        ),
    )
}

#[test]
fn idempotent_producer_rules() {
    let broker = WhippetProcess::start(Vec::<String>::new()).unwrap();
    let mut conn = Conn::connect(broker.kafka_addr());
    create_topic(&mut conn, "idem", 1, &[]);
    let (pid, epoch) = init_producer(&mut conn, None);
    assert_eq!(epoch, 0);
    assert_eq!(idem(&mut conn, pid, 0, 0, 5).base_offset, 0);
    let retry = idem(&mut conn, pid, 0, 0, 5);
    assert_eq!(
        (retry.error_code, retry.base_offset),
        (0, 0),
        "duplicate answered with original offset"
    );
    assert_eq!(idem(&mut conn, pid, 0, 5, 5).base_offset, 5);
    assert_eq!(
        idem(&mut conn, pid, 0, 20, 1).error_code,
        45,
        "gap: OUT_OF_ORDER_SEQUENCE_NUMBER"
    );
    assert_eq!(high_watermark(&mut conn, "idem", 0), 10);
    // v3+ bump: same id, next epoch, sequences restart at 0; the old epoch is fenced.
    let (bumped, new_epoch) = init_producer(&mut conn, Some((pid, 0)));
    assert_eq!((bumped, new_epoch), (pid, 1));
    assert_eq!(
        idem(&mut conn, pid, 1, 3, 1).error_code,
        45,
        "new epoch must start at 0"
    );
    assert_eq!(idem(&mut conn, pid, 1, 0, 2).base_offset, 10);
    assert_eq!(
        idem(&mut conn, pid, 0, 10, 1).error_code,
        47,
        "INVALID_PRODUCER_EPOCH"
    );
    // A second producer is independent; an unknown id is accepted at any sequence (Kafka ≥ 2.5).
    let (other, _) = init_producer(&mut conn, None);
    assert_ne!(other, pid);
    assert_eq!(idem(&mut conn, other, 0, 0, 1).base_offset, 12);
    assert_eq!(idem(&mut conn, 999_999, 0, 7, 1).error_code, 0);
    // A transactional id goes to the transaction coordinator (kafka_transactions.rs): a
    // timeout of 0 is refused as Kafka refuses it.
    let txn = InitProducerIdRequest::default()
        .with_transactional_id(Some(kafka_protocol::messages::TransactionalId(
            StrBytes::from_static_str("t"),
        )))
        .with_producer_id(ProducerId(-1))
        .with_producer_epoch(-1);
    let response: InitProducerIdResponse = conn.call(ApiKey::InitProducerId, 4, &txn);
    assert_eq!(response.error_code, 50, "INVALID_TRANSACTION_TIMEOUT");
}

#[test]
fn idempotence_survives_sigterm_and_sigkill() {
    let mut broker = WhippetProcess::start(Vec::<String>::new()).unwrap();
    let mut conn = Conn::connect(broker.kafka_addr());
    create_topic(&mut conn, "idem", 1, &[]);
    let (pid, _) = init_producer(&mut conn, None);
    assert_eq!(idem(&mut conn, pid, 0, 0, 4).base_offset, 0);
    assert_eq!(idem(&mut conn, pid, 0, 4, 4).base_offset, 4);
    drop(conn);
    broker.restart().unwrap();
    let mut conn = Conn::connect(broker.kafka_addr());
    let retry = idem(&mut conn, pid, 0, 4, 4);
    assert_eq!(
        (retry.error_code, retry.base_offset),
        (0, 4),
        "retry after SIGTERM"
    );
    assert_eq!(idem(&mut conn, pid, 0, 8, 4).base_offset, 8);
    assert_eq!(idem(&mut conn, pid, 0, 20, 1).error_code, 45);
    // A crash: no shutdown snapshot, so the state comes from the snapshot plus a log scan.
    broker.kill().unwrap();
    drop(conn);
    broker.restart().unwrap();
    let mut conn = Conn::connect(broker.kafka_addr());
    let retry = idem(&mut conn, pid, 0, 8, 4);
    assert_eq!(
        (retry.error_code, retry.base_offset),
        (0, 8),
        "retry after SIGKILL"
    );
    assert_eq!(idem(&mut conn, pid, 0, 12, 4).base_offset, 12);
    assert_eq!(high_watermark(&mut conn, "idem", 0), 16);
    // Producer ids are never reused across restarts.
    let (fresh, _) = init_producer(&mut conn, None);
    assert!(fresh > pid, "id {fresh} reused (first was {pid})");
}
