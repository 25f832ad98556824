//! Malformed input against the real `whippet` binary's Kafka listener, over raw TCP: requests
//! are built with `kafka-protocol` and then mangled. Each bad frame must get its exact Kafka
//! error code or a closed connection, nothing from a rejected batch may reach the log, and a
//! second client producing and fetching on its own connection the whole time must never see an
//! error. Build the binary first: `cargo build -p whippet-broker`.
#![allow(clippy::unwrap_used)]

mod kafka_raw;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::api_versions_response::ApiVersionsResponse;
use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{
    ApiKey, ApiVersionsRequest, BrokerId, CreateTopicsRequest, FetchRequest, FetchResponse,
    ListOffsetsRequest, MetadataRequest, ProduceRequest, ProduceResponse, ResponseHeader,
    TopicName, UpdateFeaturesRequest,
};
use kafka_protocol::protocol::{Decodable, StrBytes};
use kafka_protocol::records::{
    Compression, NO_PARTITION_LEADER_EPOCH, NO_PRODUCER_EPOCH, NO_PRODUCER_ID, NO_SEQUENCE, Record,
    RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};
use kafka_raw::{Conn, framed, request_frame};
use whippet_compat_tests::WhippetProcess;

/// How long one read may block before the test calls the broker stuck.
const IO_TIMEOUT: Duration = Duration::from_secs(10);
/// Upper bound on the steady client's run, so a broken broker cannot hang the test.
const STEADY_RUN_MAX: Duration = Duration::from_secs(90);
/// Round trips the steady client must finish, at least, while bad frames are being sent.
const STEADY_ROUNDS_MIN: u64 = 5;

const CORRUPT_MESSAGE: i16 = 2;
const UNSUPPORTED_VERSION: i16 = 35;
/// What Kafka answers a magic-0/1 batch in Produce v3+ (`ProduceRequest.validateRecords` throws
/// `InvalidRecordException`, which maps to INVALID_RECORD), and a record count that lies.
const INVALID_RECORD: i16 = 87;

const PRODUCE_V: i16 = 7;
const FETCH_V: i16 = 11;
const LIST_OFFSETS_V: i16 = 5;
const CREATE_TOPICS_V: i16 = 5;

/// The magic-2 batch fields the tests mangle (`kafka-compat.md` §3).
const LAST_OFFSET_DELTA_AT: usize = 23;
const RECORD_COUNT_AT: usize = 57;
const CRC_AT: usize = 17;
const CRC_COVERED_FROM: usize = 21;

fn topic(name: &'static str) -> TopicName {
    TopicName(StrBytes::from_static_str(name))
}

/// A valid magic-2 batch of `values`, uncompressed, as a producer sends it.
fn batch(values: &[&str]) -> Vec<u8> {
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
            // kafka-protocol starts a new batch unless offset - sequence stays constant; this
            // keeps every record in one batch whose baseSequence is NO_SEQUENCE.
            sequence: NO_SEQUENCE + i32::try_from(i).unwrap(),
            timestamp: 1_700_000_000_000,
            key: Some(Bytes::from(format!("k{i}"))),
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
    let one_batch = i32::from_be_bytes(buf[8..12].try_into().unwrap());
    assert_eq!(
        buf.len(),
        usize::try_from(one_batch).unwrap() + 12,
        "encoder split the batch"
    );
    buf.to_vec()
}

/// Reflected CRC-32 with `polynomial` (0x82F63B78 for CRC-32C, 0xEDB88320 for IEEE), bit by
/// bit: the tests forge checksums for a handful of small batches only.
fn crc32(polynomial: u32, bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for byte in bytes {
        crc ^= u32::from(*byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ polynomial
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// Rewrites the batch CRC so the only defect left is the one the test planted.
fn fix_crc(batch: &mut [u8]) {
    let crc = crc32(0x82F6_3B78, &batch[CRC_COVERED_FROM..]);
    batch[CRC_AT..CRC_COVERED_FROM].copy_from_slice(&crc.to_be_bytes());
}

fn put_i32(batch: &mut [u8], at: usize, value: i32) {
    batch[at..at + 4].copy_from_slice(&value.to_be_bytes());
}

/// A legacy magic-1 message set holding one message, with a correct (IEEE) CRC.
fn magic1_message_set(value: &[u8]) -> Vec<u8> {
    let mut message = vec![1u8, 0]; // magic 1, attributes 0
    message.extend_from_slice(&1_700_000_000_000i64.to_be_bytes());
    message.extend_from_slice(&(-1i32).to_be_bytes()); // null key
    message.extend_from_slice(&i32::try_from(value.len()).unwrap().to_be_bytes());
    message.extend_from_slice(value);
    let crc = crc32(0xEDB8_8320, &message);
    let mut set = 0i64.to_be_bytes().to_vec();
    set.extend_from_slice(&i32::try_from(message.len() + 4).unwrap().to_be_bytes());
    set.extend_from_slice(&crc.to_be_bytes());
    set.extend_from_slice(&message);
    set
}

fn produce_request(name: &'static str, records: Vec<u8>) -> ProduceRequest {
    ProduceRequest::default()
        .with_acks(1)
        .with_timeout_ms(10_000)
        .with_topic_data(vec![
            TopicProduceData::default()
                .with_name(topic(name))
                .with_partition_data(vec![
                    PartitionProduceData::default()
                        .with_index(0)
                        .with_records(Some(Bytes::from(records))),
                ]),
        ])
}

/// (error code, base offset) of the single partition in a Produce answer.
fn produce(conn: &mut Conn, name: &'static str, records: Vec<u8>) -> (i16, i64) {
    let response: ProduceResponse = conn.call(PRODUCE_V, &produce_request(name, records));
    let partition = &response.responses[0].partition_responses[0];
    (partition.error_code, partition.base_offset)
}

/// (error code, high watermark, record bytes) of partition 0, read from `offset`.
fn fetch(conn: &mut Conn, name: &'static str, offset: i64) -> (i16, i64, Bytes) {
    let request = FetchRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_max_wait_ms(0)
        .with_min_bytes(0)
        .with_max_bytes(1024 * 1024)
        .with_session_epoch(-1)
        .with_topics(vec![
            FetchTopic::default()
                .with_topic(topic(name))
                .with_partitions(vec![
                    FetchPartition::default()
                        .with_partition(0)
                        .with_fetch_offset(offset)
                        .with_log_start_offset(-1)
                        .with_partition_max_bytes(1024 * 1024),
                ]),
        ]);
    let response: FetchResponse = conn.call(FETCH_V, &request);
    assert_eq!(response.error_code, 0, "fetch request error");
    let partition = &response.responses[0].partitions[0];
    let records = partition.records.clone().unwrap_or_default();
    (partition.error_code, partition.high_watermark, records)
}

/// The latest offset (ListOffsets −1) of partition 0.
fn latest_offset(conn: &mut Conn, name: &'static str) -> i64 {
    let request = ListOffsetsRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_topics(vec![
            ListOffsetsTopic::default()
                .with_name(topic(name))
                .with_partitions(vec![
                    ListOffsetsPartition::default()
                        .with_partition_index(0)
                        .with_timestamp(-1),
                ]),
        ]);
    let response = conn.call(LIST_OFFSETS_V, &request);
    let partition = &response.topics[0].partitions[0];
    assert_eq!(partition.error_code, 0, "list offsets on {name}");
    partition.offset
}

fn create_topic(conn: &mut Conn, name: &'static str) {
    let request = CreateTopicsRequest::default()
        .with_timeout_ms(10_000)
        .with_topics(vec![
            CreatableTopic::default()
                .with_name(topic(name))
                .with_num_partitions(1)
                .with_replication_factor(1),
        ]);
    let response = conn.call(CREATE_TOPICS_V, &request);
    assert_eq!(response.topics[0].error_code, 0, "create topic {name}");
}

/// A client on its own connection producing and fetching back in a loop until told to stop;
/// it stops at its first failure and reports it.
struct Steady {
    stop: Arc<AtomicBool>,
    rounds: Arc<AtomicU64>,
    handle: JoinHandle<Result<u64, String>>,
}

impl Steady {
    fn start(addr: SocketAddr) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let rounds = Arc::new(AtomicU64::new(0));
        let (stop_flag, counter) = (stop.clone(), rounds.clone());
        let handle = std::thread::spawn(move || steady_loop(addr, &stop_flag, &counter));
        Self {
            stop,
            rounds,
            handle,
        }
    }

    fn rounds(&self) -> u64 {
        self.rounds.load(Ordering::Acquire)
    }

    fn is_finished(&self) -> bool {
        self.handle.is_finished()
    }

    fn finish(self) -> Result<u64, String> {
        self.stop.store(true, Ordering::Release);
        self.handle
            .join()
            .unwrap_or_else(|_| Err("steady client panicked".into()))
    }
}

fn steady_loop(addr: SocketAddr, stop: &AtomicBool, rounds: &AtomicU64) -> Result<u64, String> {
    let started = Instant::now();
    let mut conn = Conn::open(addr, IO_TIMEOUT);
    let mut next_offset = 0i64;
    while !stop.load(Ordering::Acquire) && started.elapsed() < STEADY_RUN_MAX {
        let values = [
            format!("steady-{next_offset}"),
            format!("steady-{}", next_offset + 1),
        ];
        let (code, base) = produce(&mut conn, "steady", batch(&[&values[0], &values[1]]));
        if code != 0 || base != next_offset {
            return Err(format!(
                "produce: error {code}, base {base}, wanted {next_offset}"
            ));
        }
        let (code, high_watermark, mut bytes) = fetch(&mut conn, "steady", base);
        if code != 0 || high_watermark != base + 2 {
            return Err(format!(
                "fetch: error {code}, high watermark {high_watermark}"
            ));
        }
        let set = RecordBatchDecoder::decode(&mut bytes).map_err(|e| format!("decode: {e}"))?;
        let got: Vec<_> = set
            .records
            .iter()
            .map(|r| (r.offset, r.value.clone()))
            .collect();
        let wanted: Vec<_> = values
            .iter()
            .zip(base..)
            .map(|(v, offset)| (offset, Some(Bytes::from(v.clone()))))
            .collect();
        if got != wanted {
            return Err(format!("fetched {got:?}, wanted {wanted:?}"));
        }
        next_offset += 2;
        rounds.fetch_add(1, Ordering::AcqRel);
    }
    Ok(rounds.load(Ordering::Acquire))
}

/// Asserts the victim topic is still empty: nothing from a rejected batch reached the log.
fn assert_nothing_written(conn: &mut Conn, case: &str) {
    assert_eq!(
        latest_offset(conn, "victim"),
        0,
        "{case}: ListOffsets moved"
    );
    let (code, high_watermark, records) = fetch(conn, "victim", 0);
    assert_eq!(code, 0, "{case}: fetch error");
    assert_eq!(high_watermark, 0, "{case}: high watermark moved");
    assert!(
        records.is_empty(),
        "{case}: fetch served {} bytes",
        records.len()
    );
}

/// Frames that must make the broker close the connection without an answer.
fn connection_level_cases(addr: SocketAddr) {
    let header_only = |key: i16, version: i16| {
        let mut body = key.to_be_bytes().to_vec();
        body.extend_from_slice(&version.to_be_bytes());
        body.extend_from_slice(&7i32.to_be_bytes()); // correlation id
        body.extend_from_slice(&(-1i16).to_be_bytes()); // null client id
        framed(&body)
    };
    let mut metadata_huge_array = header_only(ApiKey::Metadata as i16, 1);
    metadata_huge_array.extend_from_slice(&i32::MAX.to_be_bytes());
    metadata_huge_array[..4].copy_from_slice(&14i32.to_be_bytes());
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("negative size prefix", (-1i32).to_be_bytes().to_vec()),
        ("i32::MIN size prefix", i32::MIN.to_be_bytes().to_vec()),
        ("huge size prefix", i32::MAX.to_be_bytes().to_vec()),
        (
            "100 MiB + 1 size prefix",
            (100 * 1024 * 1024 + 1i32).to_be_bytes().to_vec(),
        ),
        ("header cut after the key", framed(&[0, 18, 0])),
        (
            "header cut before the client id",
            framed(&[0, 18, 0, 3, 0, 0, 0, 1]),
        ),
        (
            "client id running past the frame",
            framed(&[0, 18, 0, 0, 0, 0, 0, 1, 0, 200, b'x']),
        ),
        ("unknown API key 1000", header_only(1000, 0)),
        ("unknown API key -1", header_only(-1, 0)),
        (
            "API never served (UpdateFeatures)",
            request_frame(0, 7, &UpdateFeaturesRequest::default()),
        ),
        (
            "Metadata v13, above the advertised max",
            request_frame(13, 7, &MetadataRequest::default()),
        ),
        (
            "Metadata with an i32::MAX topic count (14 bytes)",
            metadata_huge_array,
        ),
    ];
    for (case, bytes) in cases {
        eprintln!("connection-level case: {case}");
        let mut conn = Conn::open(addr, IO_TIMEOUT);
        conn.send_raw(&bytes);
        conn.assert_closed(case);
    }
}

/// ApiVersions newer than the broker speaks gets the v0-format UNSUPPORTED_VERSION answer, and
/// the client can retry on the same connection (KIP-511).
fn api_versions_too_new(addr: SocketAddr) {
    let mut conn = Conn::open(addr, IO_TIMEOUT);
    let mut frame = request_frame(4, 99, &ApiVersionsRequest::default());
    frame[6..8].copy_from_slice(&99i16.to_be_bytes());
    conn.send_raw(&frame);
    let mut answer = conn.read_frame().unwrap();
    let header = ResponseHeader::decode(&mut answer, 0).unwrap();
    assert_eq!(header.correlation_id, 99);
    let response = ApiVersionsResponse::decode(&mut answer, 0).unwrap();
    assert_eq!(response.error_code, UNSUPPORTED_VERSION);
    assert!(
        answer.is_empty(),
        "v0 answer has {} extra bytes",
        answer.len()
    );
    let entry = response
        .api_keys
        .iter()
        .find(|api| api.api_key == ApiKey::ApiVersions as i16)
        .expect("the answer lists ApiVersions");
    assert_eq!((entry.min_version, entry.max_version), (0, 4));

    let retry = conn.call(3, &ApiVersionsRequest::default());
    assert_eq!(retry.error_code, 0);
    for key in [
        ApiKey::Produce,
        ApiKey::Fetch,
        ApiKey::ListOffsets,
        ApiKey::CreateTopics,
    ] {
        assert!(
            retry.api_keys.iter().any(|api| api.api_key == key as i16),
            "{key:?} not advertised"
        );
    }
}

/// Produce batches that must be refused with `code`, leaving the log untouched and the
/// connection open.
fn batch_level_cases(addr: SocketAddr) {
    let good = batch(&["a", "b", "c"]);

    let mut bad_crc = good.clone();
    let last = bad_crc.len() - 1;
    bad_crc[last] ^= 0x01; // a payload byte changed in flight

    let mut count_beyond_offsets = good.clone();
    put_i32(&mut count_beyond_offsets, RECORD_COUNT_AT, 4);
    fix_crc(&mut count_beyond_offsets);

    let mut count_beyond_bytes = good.clone();
    put_i32(&mut count_beyond_bytes, LAST_OFFSET_DELTA_AT, 999);
    put_i32(&mut count_beyond_bytes, RECORD_COUNT_AT, 1000);
    fix_crc(&mut count_beyond_bytes);

    let mut count_negative = good.clone();
    put_i32(&mut count_negative, RECORD_COUNT_AT, -1);
    fix_crc(&mut count_negative);

    let mut second_bad = good.clone();
    second_bad.extend_from_slice(&bad_crc);

    // A count that disagrees with the offsets or the bytes is Kafka's InvalidRecordException
    // ("Inconsistent batch offset range", "Invalid reported count", "Found invalid record
    // structure"): INVALID_RECORD, as LogValidator answers.
    let cases: Vec<(&str, Vec<u8>, i16)> = vec![
        ("bad CRC", bad_crc, CORRUPT_MESSAGE),
        (
            "record count above lastOffsetDelta + 1",
            count_beyond_offsets,
            INVALID_RECORD,
        ),
        (
            "record count the bytes cannot hold",
            count_beyond_bytes,
            INVALID_RECORD,
        ),
        ("negative record count", count_negative, INVALID_RECORD),
        (
            "good batch followed by a bad one",
            second_bad,
            CORRUPT_MESSAGE,
        ),
        (
            "magic 1 message set",
            magic1_message_set(b"old"),
            INVALID_RECORD,
        ),
    ];
    let mut conn = Conn::open(addr, IO_TIMEOUT);
    for (case, records, code) in cases {
        eprintln!("batch case: {case}");
        let (got, base_offset) = produce(&mut conn, "victim", records);
        assert_eq!(got, code, "{case}: error code");
        assert_eq!(base_offset, -1, "{case}: base offset of a refused batch");
        assert_nothing_written(&mut conn, case);
    }
    // The same connection still works, and the first accepted batch starts at offset 0.
    assert_eq!(produce(&mut conn, "victim", good), (0, 0));
    assert_eq!(latest_offset(&mut conn, "victim"), 3);
}

#[test]
fn malformed_frames_are_refused_while_another_client_keeps_working() {
    let broker = WhippetProcess::start(Vec::<String>::new()).unwrap();
    let addr = broker.kafka_addr();
    let mut admin = Conn::open(addr, IO_TIMEOUT);
    create_topic(&mut admin, "steady");
    create_topic(&mut admin, "victim");

    let steady = Steady::start(addr);
    let started = Instant::now();
    while steady.rounds() == 0 && !steady.is_finished() && started.elapsed() < IO_TIMEOUT {
        std::thread::sleep(Duration::from_millis(10));
    }
    let rounds_before = steady.rounds();
    if rounds_before == 0 {
        let outcome = steady.finish();
        panic!(
            "steady client never completed a round: {outcome:?}\n--- broker stderr ---\n{}",
            broker.stderr()
        );
    }

    // On a failure, show what the broker logged (an abort names the failed allocation).
    let phases = std::panic::catch_unwind(|| {
        connection_level_cases(addr);
        api_versions_too_new(addr);
        batch_level_cases(addr);
    });
    if let Err(panic) = phases {
        eprintln!("--- broker stderr ---\n{}", broker.stderr());
        std::panic::resume_unwind(panic);
    }

    // Keep the steady client going a little past the last bad frame.
    let wait_from = Instant::now();
    while steady.rounds() < rounds_before + STEADY_ROUNDS_MIN && wait_from.elapsed() < IO_TIMEOUT {
        std::thread::sleep(Duration::from_millis(10));
    }
    let rounds = steady.finish().unwrap_or_else(|e| {
        panic!(
            "the steady client saw an error: {e}\n--- broker stderr ---\n{}",
            broker.stderr()
        )
    });
    assert!(
        rounds >= rounds_before + STEADY_ROUNDS_MIN,
        "steady client made only {rounds} rounds"
    );

    // The broker is alive and still answers on a fresh connection.
    let mut after = Conn::open(addr, IO_TIMEOUT);
    assert_eq!(after.call(3, &ApiVersionsRequest::default()).error_code, 0);
    assert_eq!(
        latest_offset(&mut after, "steady"),
        i64::try_from(rounds * 2).unwrap()
    );
}
