//! The Kafka listener's core against the real `whippet` binary: framing reactions, ApiVersions
//! (every version and the v0-format UNSUPPORTED_VERSION answer), Metadata (bound address,
//! controller, stable cluster id, auto-create), the admin APIs round-tripped with
//! `kafka-protocol`-encoded requests over plain TCP, and hostile frames (huge array count,
//! unknown key, oversized sizes) closing only their own connection.
#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::create_partitions_request::CreatePartitionsTopic;
use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::delete_records_request::{
    DeleteRecordsPartition, DeleteRecordsTopic,
};
use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use whippet_compat_tests::WhippetProcess;

const TOPIC_RESOURCE: i8 = 2;

/// A blocking Kafka connection that speaks raw frames.
struct Client {
    stream: TcpStream,
    correlation: i32,
}

impl Client {
    fn connect(addr: SocketAddr) -> Self {
        let stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(15)))
            .unwrap();
        Self {
            stream,
            correlation: 0,
        }
    }

    fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap();
    }

    /// Encodes and sends one request; returns its correlation id.
    fn send(&mut self, version: i16, body: &RequestKind) -> i32 {
        self.correlation += 1;
        let key = api_key_of(body);
        let mut buf = BytesMut::new();
        buf.put_i32(0);
        RequestHeader::default()
            .with_request_api_key(key as i16)
            .with_request_api_version(version)
            .with_correlation_id(self.correlation)
            .with_client_id(Some(StrBytes::from_static_str("kafka-core-test")))
            .encode(&mut buf, key.request_header_version(version))
            .unwrap();
        body.encode(&mut buf, version).unwrap();
        let len = i32::try_from(buf.len() - 4).unwrap();
        buf[..4].copy_from_slice(&len.to_be_bytes());
        self.send_raw(&buf);
        self.correlation
    }

    /// One response frame, or `None` when the broker closed the connection.
    fn read_frame(&mut self) -> Option<Bytes> {
        let mut size = [0u8; 4];
        match self.stream.read_exact(&mut size) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return None,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return None,
            Err(e) => panic!("read failed: {e}"),
        }
        let mut body = vec![0u8; usize::try_from(i32::from_be_bytes(size)).unwrap()];
        self.stream.read_exact(&mut body).unwrap();
        Some(Bytes::from(body))
    }

    /// Sends a request and decodes its response as `R`.
    fn call<R: Decodable>(&mut self, version: i16, body: RequestKind) -> R {
        let key = api_key_of(&body);
        let correlation = self.send(version, &body);
        let mut frame = self
            .read_frame()
            .expect("connection closed instead of answering");
        let header = ResponseHeader::decode(&mut frame, key.response_header_version(version));
        assert_eq!(header.unwrap().correlation_id, correlation);
        R::decode(&mut frame, version).unwrap()
    }

    /// Whether the broker closed the connection (reads EOF) rather than answering.
    fn is_closed(&mut self) -> bool {
        self.read_frame().is_none()
    }
}

fn api_key_of(body: &RequestKind) -> ApiKey {
    match body {
        RequestKind::ApiVersions(_) => ApiKey::ApiVersions,
        RequestKind::Metadata(_) => ApiKey::Metadata,
        RequestKind::CreateTopics(_) => ApiKey::CreateTopics,
        RequestKind::DeleteTopics(_) => ApiKey::DeleteTopics,
        RequestKind::CreatePartitions(_) => ApiKey::CreatePartitions,
        RequestKind::DescribeConfigs(_) => ApiKey::DescribeConfigs,
        RequestKind::AlterConfigs(_) => ApiKey::AlterConfigs,
        RequestKind::IncrementalAlterConfigs(_) => ApiKey::IncrementalAlterConfigs,
        RequestKind::DeleteRecords(_) => ApiKey::DeleteRecords,
        RequestKind::DescribeCluster(_) => ApiKey::DescribeCluster,
        other => panic!("test does not send {other:?}"),
    }
}

fn start(extra: &[&str]) -> WhippetProcess {
    WhippetProcess::start(extra.iter().copied()).unwrap()
}

fn name(topic: &str) -> TopicName {
    TopicName(StrBytes::from_string(topic.to_string()))
}

fn text(value: &str) -> StrBytes {
    StrBytes::from_string(value.to_string())
}

fn metadata(
    client: &mut Client,
    version: i16,
    topics: Option<Vec<&str>>,
    allow: bool,
) -> MetadataResponse {
    let topics = topics.map(|list| {
        list.into_iter()
            .map(|t| MetadataRequestTopic::default().with_name(Some(name(t))))
            .collect()
    });
    let req = MetadataRequest::default()
        .with_topics(topics)
        // The field only exists from v4; older versions always imply `true`.
        .with_allow_auto_topic_creation(allow || version < 4);
    client.call(version, RequestKind::Metadata(req))
}

/// ApiVersions answers every version 0..=4 with the same handled set; v3+ carries the client
/// software fields.
#[test]
fn api_versions_every_version() {
    let broker = start(&[]);
    let mut client = Client::connect(broker.kafka_addr());
    for version in 0..=4 {
        let req = ApiVersionsRequest::default()
            .with_client_software_name(text("whippet-test"))
            .with_client_software_version(text("1.0"));
        let resp: ApiVersionsResponse = client.call(version, RequestKind::ApiVersions(req));
        assert_eq!(resp.error_code, 0, "v{version}");
        let range = |key: i16| {
            resp.api_keys
                .iter()
                .find(|k| k.api_key == key)
                .map(|k| (k.min_version, k.max_version))
        };
        assert_eq!(range(18), Some((0, 4)), "v{version}");
        assert_eq!(range(3), Some((0, 12)), "v{version}");
        assert_eq!(range(19), Some((2, 5)), "v{version}");
        assert_eq!(range(60), Some((0, 1)), "v{version}");
        assert_eq!(range(11), Some((0, 7)), "JoinGroup v{version}");
        // KIP-848: ConsumerGroupHeartbeat and ConsumerGroupDescribe.
        assert_eq!(range(68), Some((0, 1)), "ConsumerGroupHeartbeat v{version}");
        assert_eq!(range(69), Some((0, 1)), "ConsumerGroupDescribe v{version}");
        // SASL is advertised on every listener, as Kafka does (a listener without SASL answers
        // a handshake with UNSUPPORTED_SASL_MECHANISM).
        assert_eq!(range(17), Some((0, 1)), "SaslHandshake v{version}");
        assert_eq!(range(36), Some((0, 2)), "SaslAuthenticate v{version}");
        // Transactions, in their client forms (KIP-890's v4+ are not).
        assert_eq!(range(24), Some((0, 3)), "AddPartitionsToTxn v{version}");
        // Not served (broker-to-broker): never advertised.
        assert_eq!(range(27), None, "WriteTxnMarkers must not be advertised");
    }
}

/// A too-new ApiVersions gets a v0 body with UNSUPPORTED_VERSION and ApiVersions' own range,
/// under a v0 header, and the connection stays usable.
#[test]
fn api_versions_v99_gets_the_v0_unsupported_answer() {
    let broker = start(&[]);
    let mut client = Client::connect(broker.kafka_addr());
    let mut raw = BytesMut::new();
    RequestHeader::default()
        .with_request_api_key(18)
        .with_request_api_version(99)
        .with_correlation_id(4242)
        .with_client_id(Some(text("future-client")))
        .encode(&mut raw, 2)
        .unwrap();
    raw.put_u8(0); // empty body tagged fields; the broker must not need to read the body
    let mut framed = BytesMut::new();
    framed.put_i32(i32::try_from(raw.len()).unwrap());
    framed.extend_from_slice(&raw);
    client.send_raw(&framed);
    let mut frame = client.read_frame().unwrap();
    assert_eq!(frame.get_i32(), 4242);
    let resp = ApiVersionsResponse::decode(&mut frame, 0).unwrap();
    assert_eq!(resp.error_code, 35);
    let own = resp.api_keys.iter().find(|k| k.api_key == 18).unwrap();
    assert_eq!((own.min_version, own.max_version), (0, 4));
    // The client retries with v3 on the same connection.
    let resp: ApiVersionsResponse =
        client.call(3, RequestKind::ApiVersions(ApiVersionsRequest::default()));
    assert_eq!(resp.error_code, 0);
}

/// Metadata lists this broker at the bound address as controller, at every style of version,
/// and the cluster id survives a restart.
#[test]
fn metadata_advertises_the_bound_address_and_a_stable_cluster_id() {
    let mut broker = start(&[]);
    let addr = broker.kafka_addr();
    let mut client = Client::connect(addr);
    let mut cluster_ids = Vec::new();
    for version in [1, 4, 9, 12] {
        let resp = metadata(&mut client, version, None, false);
        assert_eq!(resp.brokers.len(), 1, "v{version}");
        let only = &resp.brokers[0];
        assert_eq!(only.host.as_str(), addr.ip().to_string());
        assert_eq!(only.port, i32::from(addr.port()));
        assert_eq!(resp.controller_id, only.node_id, "v{version}");
        if version >= 2 {
            cluster_ids.push(resp.cluster_id.unwrap().as_str().to_string());
        }
    }
    assert!(cluster_ids.windows(2).all(|w| w[0] == w[1]));
    broker.restart().unwrap();
    let mut client = Client::connect(broker.kafka_addr());
    let resp = metadata(&mut client, 12, None, false);
    assert_eq!(resp.cluster_id.unwrap().as_str(), cluster_ids[0]);
    assert_eq!(resp.brokers[0].port, i32::from(broker.kafka_addr().port()));

    let advertised = start(&["--kafka-advertised-addr=kafka.example:19092"]);
    let mut client = Client::connect(advertised.kafka_addr());
    let resp = metadata(&mut client, 12, None, false);
    assert_eq!(resp.brokers[0].host.as_str(), "kafka.example");
    assert_eq!(resp.brokers[0].port, 19092);
}

/// Auto-create: on by default with `--num-partitions`, gated by the v4+ flag, implied before
/// v4, off with `--auto-create-topics=false`; bad names are refused.
#[test]
fn metadata_auto_creates_topics_when_allowed() {
    let broker = start(&["--num-partitions=3"]);
    let mut client = Client::connect(broker.kafka_addr());
    let resp = metadata(&mut client, 12, Some(vec!["denied"]), false);
    assert_eq!(resp.topics[0].error_code, 3);
    let resp = metadata(&mut client, 12, Some(vec!["auto"]), true);
    assert_eq!(resp.topics[0].error_code, 0);
    assert_eq!(resp.topics[0].partitions.len(), 3);
    assert!(!resp.topics[0].topic_id.is_nil());
    let leader = &resp.topics[0].partitions[0];
    assert_eq!(leader.leader_id, resp.controller_id);
    assert_eq!(leader.replica_nodes, vec![resp.controller_id]);
    let resp = metadata(&mut client, 1, Some(vec!["implied"]), false);
    assert_eq!(resp.topics[0].error_code, 0);
    let resp = metadata(&mut client, 12, Some(vec!["bad name!"]), true);
    assert_eq!(resp.topics[0].error_code, 17);
    let all = metadata(&mut client, 12, None, false);
    let mut names: Vec<String> = all
        .topics
        .iter()
        .map(|t| t.name.as_ref().unwrap().as_str().to_string())
        .collect();
    names.sort();
    assert_eq!(names, vec!["auto", "implied"]);

    let off = start(&["--auto-create-topics=false"]);
    let mut client = Client::connect(off.kafka_addr());
    let resp = metadata(&mut client, 12, Some(vec!["nope"]), true);
    assert_eq!(resp.topics[0].error_code, 3);
}

fn create_topic(client: &mut Client, topic: &str, partitions: i32) -> CreateTopicsResponse {
    let config = CreatableTopicConfig::default()
        .with_name(text("retention.ms"))
        .with_value(Some(text("3600000")));
    let req = CreateTopicsRequest::default().with_topics(vec![
        CreatableTopic::default()
            .with_name(name(topic))
            .with_num_partitions(partitions)
            .with_replication_factor(-1)
            .with_configs(vec![config]),
    ]);
    client.call(5, RequestKind::CreateTopics(req))
}

fn describe(client: &mut Client, topic: &str, key: &str) -> (String, i8) {
    let req = DescribeConfigsRequest::default().with_resources(vec![
        DescribeConfigsResource::default()
            .with_resource_type(TOPIC_RESOURCE)
            .with_resource_name(text(topic)),
    ]);
    let resp: DescribeConfigsResponse = client.call(4, RequestKind::DescribeConfigs(req));
    assert_eq!(resp.results[0].error_code, 0);
    let entry = resp.results[0]
        .configs
        .iter()
        .find(|c| c.name.as_str() == key)
        .unwrap();
    (
        entry.value.as_ref().unwrap().as_str().to_string(),
        entry.config_source,
    )
}

/// Create, grow, describe, alter (both ways), delete records, describe the cluster and delete,
/// each checked through a second API where one exists.
#[test]
fn admin_round_trips() {
    let broker = start(&[]);
    let mut client = Client::connect(broker.kafka_addr());
    let created = create_topic(&mut client, "admin", 2);
    assert_eq!(created.topics[0].error_code, 0);
    assert_eq!(
        create_topic(&mut client, "admin", 2).topics[0].error_code,
        36
    );

    let req = CreatePartitionsRequest::default().with_topics(vec![
        CreatePartitionsTopic::default()
            .with_name(name("admin"))
            .with_count(4),
    ]);
    let resp: CreatePartitionsResponse = client.call(3, RequestKind::CreatePartitions(req.clone()));
    assert_eq!(resp.results[0].error_code, 0);
    let resp: CreatePartitionsResponse = client.call(3, RequestKind::CreatePartitions(req));
    assert_eq!(
        resp.results[0].error_code, 37,
        "shrinking or equal is refused"
    );
    let meta = metadata(&mut client, 12, Some(vec!["admin"]), false);
    assert_eq!(meta.topics[0].partitions.len(), 4);

    assert_eq!(
        describe(&mut client, "admin", "retention.ms"),
        ("3600000".into(), 1)
    );
    assert_eq!(
        describe(&mut client, "admin", "cleanup.policy"),
        ("delete".into(), 5)
    );

    alter_and_check(&mut client);
    delete_records_and_cluster(&mut client);

    let req = DeleteTopicsRequest::default().with_topic_names(vec![name("admin"), name("none")]);
    let resp: DeleteTopicsResponse = client.call(4, RequestKind::DeleteTopics(req));
    let codes: Vec<i16> = resp.responses.iter().map(|r| r.error_code).collect();
    assert_eq!(codes, vec![0, 3]);
    assert!(metadata(&mut client, 12, None, false).topics.is_empty());
}

fn alter_and_check(client: &mut Client) {
    use kafka_protocol::messages::alter_configs_request as legacy;
    use kafka_protocol::messages::incremental_alter_configs_request as incremental;
    // Legacy AlterConfigs replaces the whole set: retention.ms goes back to its default.
    let req = AlterConfigsRequest::default().with_resources(vec![
        legacy::AlterConfigsResource::default()
            .with_resource_type(TOPIC_RESOURCE)
            .with_resource_name(text("admin"))
            .with_configs(vec![
                legacy::AlterableConfig::default()
                    .with_name(text("retention.bytes"))
                    .with_value(Some(text("1048576"))),
            ]),
    ]);
    let resp: AlterConfigsResponse = client.call(2, RequestKind::AlterConfigs(req));
    assert_eq!(resp.responses[0].error_code, 0);
    assert_eq!(describe(client, "admin", "retention.bytes").0, "1048576");
    assert_eq!(describe(client, "admin", "retention.ms"), ("-1".into(), 5));

    let op = |config: &str, operation: i8, value: &str| {
        incremental::AlterableConfig::default()
            .with_name(text(config))
            .with_config_operation(operation)
            .with_value(Some(text(value)))
    };
    let request = |ops| {
        IncrementalAlterConfigsRequest::default().with_resources(vec![
            incremental::AlterConfigsResource::default()
                .with_resource_type(TOPIC_RESOURCE)
                .with_resource_name(text("admin"))
                .with_configs(ops),
        ])
    };
    let resp: IncrementalAlterConfigsResponse = client.call(
        1,
        RequestKind::IncrementalAlterConfigs(request(vec![op(
            "message.timestamp.type",
            0,
            "LogAppendTime",
        )])),
    );
    assert_eq!(resp.responses[0].error_code, 0);
    assert_eq!(
        describe(client, "admin", "message.timestamp.type").0,
        "LogAppendTime"
    );
    assert_eq!(
        describe(client, "admin", "retention.bytes").0,
        "1048576",
        "kept"
    );
    // cleanup.policy: APPEND compact gives compact,delete, then SUBTRACT delete leaves compact.
    for (alter, want) in [
        (op("cleanup.policy", 2, "compact"), "compact,delete"),
        (op("cleanup.policy", 3, "delete"), "compact"),
        (op("cleanup.policy", 0, "delete"), "delete"),
    ] {
        let resp: IncrementalAlterConfigsResponse = client.call(
            1,
            RequestKind::IncrementalAlterConfigs(request(vec![alter])),
        );
        assert_eq!(resp.responses[0].error_code, 0);
        assert_eq!(describe(client, "admin", "cleanup.policy").0, want);
    }
    for refused in [
        op("cleanup.policy", 0, "shred"),
        op("cleanup.policy", 3, "delete"),
    ] {
        let resp: IncrementalAlterConfigsResponse = client.call(
            1,
            RequestKind::IncrementalAlterConfigs(request(vec![refused])),
        );
        assert_eq!(resp.responses[0].error_code, 40);
    }
}

fn delete_records_and_cluster(client: &mut Client) {
    let req = DeleteRecordsRequest::default().with_topics(vec![
        DeleteRecordsTopic::default()
            .with_name(name("admin"))
            .with_partitions(vec![
                DeleteRecordsPartition::default()
                    .with_partition_index(0)
                    .with_offset(-1),
                DeleteRecordsPartition::default()
                    .with_partition_index(1)
                    .with_offset(5),
                DeleteRecordsPartition::default()
                    .with_partition_index(9)
                    .with_offset(0),
            ]),
    ]);
    let resp: DeleteRecordsResponse = client.call(2, RequestKind::DeleteRecords(req));
    let parts = &resp.topics[0].partitions;
    assert_eq!((parts[0].error_code, parts[0].low_watermark), (0, 0));
    assert_eq!(parts[1].error_code, 1, "beyond the high watermark");
    assert_eq!(parts[2].error_code, 3, "no such partition");

    let resp: DescribeClusterResponse = client.call(
        1,
        RequestKind::DescribeCluster(DescribeClusterRequest::default()),
    );
    assert_eq!(resp.error_code, 0);
    assert_eq!(resp.brokers.len(), 1);
    assert_eq!(resp.brokers[0].broker_id, resp.controller_id);
    let meta = metadata(client, 12, None, false);
    assert_eq!(Some(resp.cluster_id), meta.cluster_id);
}

/// Creates topic `extras` with `configs`; the topic's error code.
fn create_extras(client: &mut Client, configs: &[(&str, &str)]) -> i16 {
    let req = CreateTopicsRequest::default().with_topics(vec![
        CreatableTopic::default()
            .with_name(name("extras"))
            .with_num_partitions(1)
            .with_replication_factor(1)
            .with_configs(
                configs
                    .iter()
                    .map(|(n, v)| {
                        CreatableTopicConfig::default()
                            .with_name(text(n))
                            .with_value(Some(text(v)))
                    })
                    .collect(),
            ),
    ]);
    let resp: CreateTopicsResponse = client.call(4, RequestKind::CreateTopics(req));
    resp.topics[0].error_code
}

/// Kafka topic configs Whippet does not act on are accepted, type-checked, stored in the
/// catalog and described back across a restart; a dynamic per-broker config is accepted and a
/// static one refused, as Kafka does (issue 3: librdkafka 0081/0092).
#[test]
fn stored_only_configs_round_trip_across_a_restart() {
    use kafka_protocol::messages::alter_configs_request as legacy;
    let mut broker = start(&[]);
    let mut client = Client::connect(broker.kafka_addr());
    assert_eq!(create_extras(&mut client, &[("flush.ms", "-5")]), 40);
    assert_eq!(create_extras(&mut client, &[("no.such.config", "1")]), 40);
    let extras = [("delete.retention.ms", "900"), ("compression.type", "lz4")];
    assert_eq!(create_extras(&mut client, &extras), 0);
    assert_eq!(
        describe(&mut client, "extras", "delete.retention.ms"),
        ("900".into(), 1)
    );
    assert_eq!(
        describe(&mut client, "extras", "flush.ms"),
        ("9223372036854775807".into(), 5)
    );

    broker.restart().unwrap();
    let mut client = Client::connect(broker.kafka_addr());
    assert_eq!(
        describe(&mut client, "extras", "delete.retention.ms"),
        ("900".into(), 1)
    );
    assert_eq!(describe(&mut client, "extras", "compression.type").0, "lz4");

    let resource = |kind: i8, res: &str, config: &str, value: &str| {
        legacy::AlterConfigsResource::default()
            .with_resource_type(kind)
            .with_resource_name(text(res))
            .with_configs(vec![
                legacy::AlterableConfig::default()
                    .with_name(text(config))
                    .with_value(Some(text(value))),
            ])
    };
    let req = AlterConfigsRequest::default().with_resources(vec![
        resource(
            TOPIC_RESOURCE,
            "extras",
            "message.format.version",
            "0.10.0.0",
        ),
        resource(4, "0", "sasl.kerberos.min.time.before.relogin", "58000"),
        resource(4, "0", "num.partitions", "8"),
    ]);
    let resp: AlterConfigsResponse = client.call(0, RequestKind::AlterConfigs(req));
    let codes: Vec<i16> = resp.responses.iter().map(|r| r.error_code).collect();
    assert_eq!(codes, vec![0, 0, 42]);
    assert_eq!(
        describe(&mut client, "extras", "message.format.version"),
        ("0.10.0.0".into(), 1)
    );
    assert_eq!(
        describe(&mut client, "extras", "delete.retention.ms"),
        ("86400000".into(), 5),
        "legacy AlterConfigs replaced the whole set"
    );
}

/// A 14-byte Metadata request declaring 2³¹−1 topics makes kafka-protocol reserve a huge
/// vector; the broker must only close that connection and keep serving.
#[test]
fn huge_array_count_closes_only_that_connection() {
    let broker = start(&[]);
    let addr = broker.kafka_addr();
    // v0 (i32 array count) and v9+ (compact varint count) decoders.
    let v0: &[u8] = &[
        0, 0, 0, 14, 0, 3, 0, 0, 0, 0, 0, 1, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff,
    ];
    let v12: &[u8] = &[
        0, 0, 0, 16, 0, 3, 0, 12, 0, 0, 0, 2, 0xff, 0xff, 0, 0xff, 0xff, 0xff, 0xff, 0x0f,
    ];
    for raw in [v0, v12] {
        let mut hostile = Client::connect(addr);
        hostile.send_raw(raw);
        assert!(hostile.is_closed());
        let mut healthy = Client::connect(addr);
        let resp: ApiVersionsResponse =
            healthy.call(3, RequestKind::ApiVersions(ApiVersionsRequest::default()));
        assert_eq!(resp.error_code, 0);
    }
    assert!(
        broker
            .stderr()
            .lines()
            .all(|l| !l.contains("memory allocation"))
    );
}

/// Unknown keys, unadvertised versions and bad size prefixes close the connection, as Java
/// brokers do; other connections are unaffected.
#[test]
fn bad_frames_close_the_connection() {
    let broker = start(&[]);
    let addr = broker.kafka_addr();
    // Unknown API key 999.
    let mut client = Client::connect(addr);
    client.send_raw(&[0, 0, 0, 10, 0x03, 0xe7, 0, 0, 0, 0, 0, 1, 0xff, 0xff]);
    assert!(client.is_closed());
    // Metadata v13 decodes but is above the advertised 12.
    let mut client = Client::connect(addr);
    client.send(13, &RequestKind::Metadata(MetadataRequest::default()));
    assert!(client.is_closed());
    // Negative and oversized size prefixes, and a 9 MiB non-Produce frame (only its prefix
    // and key are sent: the broker must not wait for the body).
    for prefix in [
        (-1i32).to_be_bytes().to_vec(),
        (200 * 1024 * 1024i32).to_be_bytes().to_vec(),
        [
            (9 * 1024 * 1024i32).to_be_bytes().to_vec(),
            vec![0, 3, 0, 1],
        ]
        .concat(),
    ] {
        let mut client = Client::connect(addr);
        client.send_raw(&prefix);
        assert!(client.is_closed(), "prefix {prefix:?}");
    }
    // Pipelined requests are answered in order.
    let mut client = Client::connect(addr);
    let first = client.send(0, &RequestKind::ApiVersions(ApiVersionsRequest::default()));
    let second = client.send(1, &RequestKind::Metadata(MetadataRequest::default()));
    let mut a = client.read_frame().unwrap();
    let mut b = client.read_frame().unwrap();
    assert_eq!((a.get_i32(), b.get_i32()), (first, second));
}
