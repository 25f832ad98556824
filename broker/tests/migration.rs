//! A data dir written in the layout of the broker before the metadata log — every state file
//! of its own (`catalog.json`, a partition's `log_start.offset`, `state/cluster_id`,
//! `state/native_users.json`, `state/native_groups.json`, `state/kafka_broker_configs.json`,
//! `state/kafka_producers/ids.json`, `state/groups/groups.checkpoint`) — starts through the
//! same `Broker` path the binary runs: everything is found, moved onto the metadata log, the
//! old files are gone, and a second start finds everything again from the metadata log alone.
#![allow(clippy::unwrap_used)]

use std::path::Path;

use argon2::password_hash::SaltString;
use argon2::{Argon2, PasswordHasher};
use whippet_broker::Broker;
use whippet_broker::config::{EnvMap, Settings};
use whippet_coordinator::PartitionKey;
use whippet_log::{
    AppendBatch, BatchFormat, Compression, Log, LogConfig, TimestampSource, TopicSettings,
};

fn settings(data_dir: &Path) -> Settings {
    let args = [
        "whippet",
        "--data-dir",
        data_dir.to_str().unwrap(),
        "--kafka-addr=127.0.0.1:0",
        "--native-addr=127.0.0.1:0",
        "--http-addr=127.0.0.1:0",
    ]
    .map(String::from);
    Settings::load(args.to_vec(), &EnvMap::new()).unwrap()
}

fn hash(password: &str) -> String {
    let salt = SaltString::encode_b64(b"sixteen byte salt").unwrap();
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .unwrap()
        .to_string()
}

fn users_file() -> String {
    let everything = r#"{"manage_servers": true, "read_servers": true, "manage_users": true,
        "read_users": true, "manage_streams": true, "read_streams": true,
        "manage_topics": true, "read_topics": true, "poll_messages": true,
        "send_messages": true, "streams": []}"#;
    format!(
        r#"{{"version": 1, "users": [
          {{"id": 0, "username": "iggy", "password_hash": "{}", "active": true,
            "created_at": 1, "permissions": {everything}, "tokens": []}},
          {{"id": 1, "username": "alice", "password_hash": "{}", "active": true,
            "created_at": 2, "permissions": null, "tokens": []}}]}}"#,
        hash("iggy"),
        hash("alice-secret"),
    )
}

const GROUPS_CHECKPOINT: &str = r#"{"version": 1, "groups": [
  {"group_id": "billing", "protocol_type": "consumer", "protocol_name": "range",
   "generation": 4, "leader": null, "members": []}],
 "offsets": [
  {"group_id": "billing", "key": {"stream": 0, "topic": 0, "partition": 0},
   "value": {"offset": 17, "leader_epoch": -1, "metadata": "m", "commit_timestamp_ms": 5}}]}"#;

/// Writes the old layout; returns the files that must be gone after the first start. The
/// catalog and the partitions (with a delete-records start in the partition's own
/// `log_start.offset`) are written by the log with its file catalog, as before.
fn old_data_dir(dir: &Path) -> Vec<std::path::PathBuf> {
    let (log, _) = Log::open(LogConfig::new(dir)).unwrap();
    log.create_stream("kafka").unwrap();
    log.create_topic(0, "orders", 1, TopicSettings::default())
        .unwrap();
    log.create_stream("native").unwrap();
    let settings = TopicSettings {
        retention_ms: Some(3_600_000),
        compression: Compression::Gzip,
        timestamp_type: TimestampSource::Broker,
        ..TopicSettings::default()
    };
    log.create_topic(1, "events", 2, settings).unwrap();
    let orders = log.partition(0, 0, 0).unwrap();
    for _ in 0..3 {
        let batch = AppendBatch {
            format: BatchFormat::Kafka,
            payload: vec![1u8; 16].into(),
            record_count: 1,
            last_offset_delta: 0,
            first_timestamp_us: 1,
            max_timestamp_us: 1,
        };
        orders.append_durable_blocking(batch, |_| {}).unwrap();
    }
    assert_eq!(log.delete_records(0, 0, 0, 2).unwrap(), 2);
    log.shutdown().unwrap();
    drop((orders, log));
    let state = dir.join("state");
    std::fs::create_dir_all(state.join("kafka_producers")).unwrap();
    std::fs::create_dir_all(state.join("groups")).unwrap();
    let files = [
        (
            state.join("cluster_id"),
            "MkU3OEVBNTcwNTJENDM2Qk\n".to_string(),
        ),
        (state.join("native_users.json"), users_file()),
        (
            state.join("native_groups.json"),
            r#"{"version":1,"groups":[{"stream":1,"topic":0,"id":0,"name":"workers"}]}"#
                .to_string(),
        ),
        (
            state.join("kafka_broker_configs.json"),
            r#"{"sasl.login.refresh.window.factor": "0.9"}"#.to_string(),
        ),
        (
            state.join("kafka_producers/ids.json"),
            r#"{"version":1,"next_block_start":5000}"#.to_string(),
        ),
        (
            state.join("groups/groups.checkpoint"),
            GROUPS_CHECKPOINT.to_string(),
        ),
    ];
    for (path, contents) in &files {
        std::fs::write(path, contents).unwrap();
    }
    let mut gone: Vec<_> = files.into_iter().map(|(path, _)| path).collect();
    gone.push(dir.join("catalog.json"));
    gone.push(dir.join("streams/0/topics/0/partitions/0/log_start.offset"));
    for file in &gone {
        assert!(
            file.exists(),
            "{} missing from the old layout",
            file.display()
        );
    }
    gone
}

async fn everything_is_there(broker: &Broker) {
    let ctx = broker.context();
    let catalog = ctx.log.snapshot();
    assert_eq!(catalog.topic(0, 0).unwrap().name, "orders");
    let events = catalog.topic(1, 0).unwrap();
    assert_eq!(
        (events.name.as_str(), events.partition_count()),
        ("events", 2)
    );
    assert_eq!(events.settings.retention_ms, Some(3_600_000));
    assert_eq!(events.settings.compression, Compression::Gzip);
    assert_eq!(events.settings.timestamp_type, TimestampSource::Broker);
    let orders = catalog.topic(0, 0).unwrap().partition(0).unwrap();
    assert_eq!(orders.log_start_offset(), 2, "the delete-records start");
    assert_eq!(orders.high_watermark(), 3);
    assert_eq!(ctx.kafka.cluster_id, "MkU3OEVBNTcwNTJENDM2Qk");
    let here = std::net::IpAddr::from([127, 0, 0, 1]);
    let alice = ctx
        .core
        .users
        .verify_password(here, "alice", "alice-secret");
    assert_eq!(alice.await.unwrap().user_id, 1);
    let root = ctx.core.users.verify_password(here, "iggy", "iggy");
    assert_eq!(root.await.unwrap().user_id, 0);
    let meta = ctx.core.meta.load();
    assert_eq!(meta.native_groups.len(), 1);
    assert_eq!(meta.native_groups[0].name, "workers");
    assert_eq!(
        meta.broker_configs["sasl.login.refresh.window.factor"],
        "0.9"
    );
    assert!(meta.producer_ids_reserved >= 5000);
    let key = PartitionKey {
        stream: 0,
        topic: 0,
        partition: 0,
    };
    let groups = ctx.core.groups.durable();
    assert_eq!(groups.committed("billing", &key).unwrap().offset, 17);
    assert_eq!(groups.groups["billing"].generation, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_data_dir_from_before_the_metadata_log_is_migrated_whole() {
    let dir = tempfile::tempdir().unwrap();
    let old_files = old_data_dir(dir.path());

    let broker = Broker::start(settings(dir.path())).await.unwrap();
    everything_is_there(&broker).await;
    for file in &old_files {
        assert!(!file.exists(), "{} is still there", file.display());
    }
    broker.serve(async {}).await.unwrap();

    let broker = Broker::start(settings(dir.path())).await.unwrap();
    everything_is_there(&broker).await;
    broker.serve(async {}).await.unwrap();
}
