//! Tiered storage against the real `whippet` binary and a real S3 server (s3s-fs, in this
//! process): closed 64 KiB segments of a topic with `remote.storage.enable` are copied to the
//! bucket, local retention (`local.retention.bytes=0`) removes them from the local disk, and the
//! rdkafka crate (from the earliest offset, through ListOffsets and Fetch) and the Iggy SDK
//! (native poll from offset 0) read every record back byte for byte — records produced by both
//! protocols. Then the faults: the S3 server stopped while uploads run and restarted, the
//! broker SIGKILLed while uploading and restarted, a broker on an empty data directory serving
//! the bucket's part, and a damaged or missing object refused instead of served.
#![allow(clippy::unwrap_used)]

mod tiered_common;

use std::io::{Read, Write};
use std::time::Duration;

use tiered_common::*;
use whippet_compat_tests::WhippetProcess;

const TOPIC: &str = "tiered";
/// Records per production phase (Kafka, native, Kafka): about 20 segments in all.
const PHASE: usize = 1500;

/// CreateTime of the first Kafka record of [`produce_mixed`] (an hour ago); record `i` of the
/// first phase has this plus `i` ms.
fn first_timestamp_ms() -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    i64::try_from(now.as_millis()).unwrap() - 3_600_000
}

/// Produces Kafka (timestamps from `base_ms` on), native, then Kafka records to partition 0;
/// returns every value in offset order.
async fn produce_mixed_at(broker: &WhippetProcess, tag: &str, base_ms: i64) -> Vec<Vec<u8>> {
    let first: Vec<Vec<u8>> = (0..PHASE).map(|i| kafka_value(tag, i)).collect();
    kafka_produce_with(broker, TOPIC, &first, true, Some(base_ms));
    let native: Vec<Vec<u8>> = (0..PHASE).map(|i| native_payload(tag, i)).collect();
    let client = native_client(broker).await;
    native_send(&client, TOPIC, &native).await;
    let last: Vec<Vec<u8>> = (PHASE..2 * PHASE).map(|i| kafka_value(tag, i)).collect();
    kafka_produce(broker, TOPIC, &last);
    first.into_iter().chain(native).chain(last).collect()
}

async fn produce_mixed(broker: &WhippetProcess, tag: &str) -> Vec<Vec<u8>> {
    produce_mixed_at(broker, tag, first_timestamp_ms()).await
}

/// Waits until every closed segment is in the bucket and gone from the local disk (at most
/// the active segment and one closed one not yet due are left).
fn wait_tiered(s3: &S3Server, broker: &WhippetProcess) {
    let started = std::time::Instant::now();
    loop {
        let local = local_segments(broker);
        let first_local_gone = local
            .first()
            .is_some_and(|p| !p.ends_with("00000000000000000000.log"));
        let remote = s3.objects(".log");
        if remote.len() >= 15 && local.len() <= 2 && first_local_gone {
            return;
        }
        if started.elapsed() > TIMEOUT {
            let stderr = broker.stderr();
            let tail = &stderr[stderr.len().saturating_sub(4000)..];
            panic!(
                "segments not tiered: {} local {local:?}, {} remote; metrics:\n{}\nstderr tail:\n{tail}",
                local.len(),
                remote.len(),
                metrics(broker)
                    .lines()
                    .filter(|l| l.starts_with("whippet_tier"))
                    .collect::<Vec<_>>()
                    .join("\n")
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// GET /metrics of the broker.
fn metrics(broker: &WhippetProcess) -> String {
    let mut stream = std::net::TcpStream::connect(broker.http_addr()).unwrap();
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).unwrap();
    text
}

/// The value of an unlabelled metric sample.
fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines().find_map(|line| {
        let rest = line.strip_prefix(name)?;
        let rest = rest.strip_prefix("{}").unwrap_or(rest);
        rest.strip_prefix(' ')?.parse().ok()
    })
}

/// The manifest of partition 0 as stored in the bucket.
fn manifest(s3: &S3Server) -> serde_json::Value {
    let path = s3
        .bucket_dir()
        .join(PREFIX)
        .join(KAFKA_STREAM)
        .join(TOPIC)
        .join("0")
        .join("manifest.json");
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// Every segment the manifest names exists in the bucket, both files; returns its end.
fn check_manifest_objects(s3: &S3Server) -> u64 {
    let manifest = manifest(s3);
    let dir = s3
        .bucket_dir()
        .join(PREFIX)
        .join(KAFKA_STREAM)
        .join(TOPIC)
        .join("0");
    let segments = manifest["segments"].as_array().unwrap();
    for segment in segments {
        let base = segment["base_offset"].as_u64().unwrap();
        let size = segment["size"].as_u64().unwrap();
        let log = dir.join(format!("{base:020}.log"));
        assert_eq!(std::fs::metadata(&log).unwrap().len(), size, "{log:?}");
        assert!(dir.join(format!("{base:020}.index")).exists());
    }
    segments.last().unwrap()["next_offset"].as_u64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn segments_move_to_s3_and_both_protocols_read_everything_back() {
    let s3 = S3Server::start();
    let mut broker = launch(&s3).start().unwrap();
    create_tiered_topic(&broker, TOPIC).await;
    let base_ms = first_timestamp_ms();
    let expected = produce_mixed_at(&broker, "a", base_ms).await;
    wait_tiered(&s3, &broker);
    check_manifest_objects(&s3);
    // From a restarted broker: its recent-append cache, which would serve these offsets from
    // memory, is empty.
    let text = metrics(&broker);
    assert_eq!(metric(&text, "whippet_tier_store_up"), Some(1.0), "{text}");
    assert!(metric(&text, "whippet_tier_uploaded_segments_total").unwrap() >= 15.0);
    broker.restart().unwrap();
    check_read_back(&broker, TOPIC, &expected).await;
    // ListOffsets by timestamp finds records that are only in S3 now.
    for i in [0, 700, 1499] {
        let at = kafka_offset_for_time(&broker, TOPIC, base_ms + i);
        assert_eq!(at, i, "offset for timestamp base+{i}");
    }
    let text = metrics(&broker);
    assert!(
        metric(&text, "whippet_tier_reads_total").unwrap() >= 15.0,
        "{text}"
    );
    assert!(s3.bucket_dir().join(PREFIX).join("catalog.json").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_stopped_during_uploads_keeps_appends_working_and_uploads_resume() {
    let mut s3 = S3Server::start();
    let broker = launch(&s3).start().unwrap();
    create_tiered_topic(&broker, TOPIC).await;
    let first: Vec<Vec<u8>> = (0..PHASE).map(|i| kafka_value("b", i)).collect();
    kafka_produce(&broker, TOPIC, &first);
    s3.stop();
    // Appends go on while the store is down, in both protocols.
    let native: Vec<Vec<u8>> = (0..PHASE).map(|i| native_payload("b", i)).collect();
    native_send(&native_client(&broker).await, TOPIC, &native).await;
    let last: Vec<Vec<u8>> = (PHASE..2 * PHASE).map(|i| kafka_value("b", i)).collect();
    kafka_produce(&broker, TOPIC, &last);
    let expected: Vec<Vec<u8>> = first.into_iter().chain(native).chain(last).collect();
    wait_until("the tier reports the store down", || {
        let text = metrics(&broker);
        metric(&text, "whippet_tier_store_up") == Some(0.0)
            && metric(&text, "whippet_tier_pending_segments").is_some_and(|n| n >= 5.0)
    });
    assert!(
        broker.stderr().contains("remote tier unreachable"),
        "no WARN line says why the local disk grows"
    );
    assert!(
        local_segments(&broker).len() >= 5,
        "uncopied segments must stay local"
    );
    s3.serve();
    wait_tiered(&s3, &broker);
    check_manifest_objects(&s3);
    check_read_back(&broker, TOPIC, &expected).await;
    assert_eq!(
        metric(&metrics(&broker), "whippet_tier_store_up"),
        Some(1.0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_killed_while_uploading_restarts_and_finishes_the_copy() {
    let s3 = S3Server::start();
    let mut broker = launch(&s3).start().unwrap();
    create_tiered_topic(&broker, TOPIC).await;
    let expected = produce_mixed(&broker, "c").await;
    // Kill as soon as the copy has begun, while more segments are still to go.
    wait_until("the first segment object", || {
        !s3.objects(".log").is_empty()
    });
    broker.kill().unwrap();
    // Whatever the kill interrupted, the manifest names only complete objects.
    if s3.objects("manifest.json").len() == 1 {
        check_manifest_objects(&s3);
    }
    broker.restart().unwrap();
    wait_tiered(&s3, &broker);
    check_manifest_objects(&s3);
    check_read_back(&broker, TOPIC, &expected).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_on_an_empty_data_dir_serves_the_remote_part() {
    let s3 = S3Server::start();
    let mut broker = launch(&s3).start().unwrap();
    create_tiered_topic(&broker, TOPIC).await;
    let expected = produce_mixed(&broker, "d").await;
    wait_tiered(&s3, &broker);
    broker.terminate().unwrap();
    drop(broker);
    let remote_end = usize::try_from(check_manifest_objects(&s3)).unwrap();
    assert!(remote_end > PHASE, "remote part ends at {remote_end}");

    // Disaster recovery: new data dir, same bucket, the topic created again by name.
    let restored = launch(&s3).start().unwrap();
    create_tiered_topic(&restored, TOPIC).await;
    check_read_back(&restored, TOPIC, &expected[..remote_end]).await;
    // New records follow the remote part. Not idempotent: the restored broker hands out
    // producer ids again from the start, and the remote part holds batches of the old
    // broker's producer with the same id (a known limit of this recovery path).
    let more: Vec<Vec<u8>> = (0..10).map(|i| kafka_value("d-more", i)).collect();
    kafka_produce_with(&restored, TOPIC, &more, false, None);
    let mut all = expected[..remote_end].to_vec();
    all.extend(more);
    check_read_back(&restored, TOPIC, &all).await;
}

/// A broker restarted while the object store is down keeps its log start where the remote part
/// begins (from the partition's `remote.range`): the earliest offset stays 0, an earliest
/// consumer started meanwhile waits instead of skipping the remote part, and reads it all once
/// the store is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_restarted_with_s3_down_keeps_the_remote_part() {
    let mut s3 = S3Server::start();
    let mut broker = launch(&s3).start().unwrap();
    create_tiered_topic(&broker, TOPIC).await;
    let expected = produce_mixed(&broker, "e").await;
    wait_tiered(&s3, &broker);
    broker.terminate().unwrap();
    s3.stop();
    broker.restart().unwrap();
    let (low, high) = kafka_watermarks(&broker, TOPIC);
    assert_eq!(low, 0, "log start after a restart with the store down");
    assert_eq!(high, i64::try_from(expected.len()).unwrap());
    let reader = {
        let consumer = kafka_consumer_at(&broker, TOPIC, 0);
        let count = expected.len();
        std::thread::scope(|scope| {
            let reading = scope.spawn(move || kafka_read(&consumer, count));
            std::thread::sleep(Duration::from_secs(3));
            assert!(
                !reading.is_finished(),
                "read the remote part with the store down"
            );
            s3.serve();
            reading.join().unwrap()
        })
    };
    for (i, (offset, value)) in reader.iter().enumerate() {
        assert_eq!(*offset, i64::try_from(i).unwrap(), "offset of record {i}");
        assert!(value == &expected[i], "value at offset {i} differs");
    }
    check_read_back(&broker, TOPIC, &expected).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_or_missing_remote_object_is_refused_not_served() {
    let s3 = S3Server::start();
    let mut broker = launch(&s3).start().unwrap();
    create_tiered_topic(&broker, TOPIC).await;
    let expected = produce_mixed(&broker, "e").await;
    wait_tiered(&s3, &broker);
    // Restart first, so no segment is in the broker's cache.
    broker.terminate().unwrap();
    let first = s3.objects("00000000000000000000.log");
    assert_eq!(first.len(), 1);
    let mut bytes = std::fs::read(&first[0]).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(&first[0], &bytes).unwrap();
    broker.restart().unwrap();
    let client = native_client(&broker).await;
    // The segments after the damaged one are served (once the partition has its remote part
    // attached again).
    let second_base = manifest(&s3)["segments"][1]["base_offset"]
        .as_u64()
        .unwrap();
    let started = std::time::Instant::now();
    let later = loop {
        match native_poll(&client, TOPIC, second_base, 10).await {
            Ok(polled) if polled.messages.first().map(|m| m.header.offset) == Some(second_base) => {
                break polled;
            }
            other => assert!(started.elapsed() < TIMEOUT, "poll after restart: {other:?}"),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let damaged = native_poll(&client, TOPIC, 0, 10).await;
    assert!(damaged.is_err(), "a damaged object was served: {damaged:?}");
    assert_eq!(later.messages[0].header.offset, second_base);
    let at = usize::try_from(second_base).unwrap();
    assert_eq!(later.messages[0].payload.to_vec(), expected[at]);
    // A missing object: refused too.
    std::fs::remove_file(&first[0]).unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let missing = native_poll(&client, TOPIC, 0, 10).await;
    assert!(missing.is_err(), "a missing object was served: {missing:?}");
    let text = metrics(&broker);
    assert!(metric(&text, "whippet_tier_read_failures_total").unwrap() >= 2.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn total_retention_deletes_remote_segments_too() {
    let s3 = S3Server::start();
    let mut broker = launch(&s3).start().unwrap();
    create_tiered_topic_with(&broker, TOPIC, &[("retention.bytes", "300000")]).await;
    let expected = produce_mixed(&broker, "f").await;
    // The whole log (remote and local) is cut back to about 300 KB: the log start moves up and
    // the remote segments below it leave the manifest, then the bucket.
    wait_until("remote segments past retention.bytes deleted", || {
        let manifest = manifest(&s3);
        let first = manifest["segments"][0]["base_offset"].as_u64().unwrap_or(0);
        let remote_bytes: u64 = (s3.objects(".log").iter())
            .map(|path| std::fs::metadata(path).map_or(0, |m| m.len()))
            .sum();
        // retention.bytes, plus the segments still local too (copied or not), plus one.
        first > 0 && remote_bytes <= 300_000 + 3 * 65_536 && local_segments(&broker).len() <= 2
    });
    // Retention converges over a few passes: wait until the remote start holds still.
    let first_base = || {
        manifest(&s3)["segments"][0]["base_offset"]
            .as_u64()
            .unwrap()
    };
    let mut seen = first_base();
    loop {
        std::thread::sleep(Duration::from_millis(1500));
        let now = first_base();
        if now == seen {
            break;
        }
        seen = now;
    }
    let end = check_manifest_objects(&s3);
    broker.restart().unwrap();
    let (earliest, latest) = kafka_watermarks(&broker, TOPIC);
    assert_eq!(latest, i64::try_from(expected.len()).unwrap());
    let first_remote = manifest(&s3)["segments"][0]["base_offset"]
        .as_i64()
        .unwrap();
    assert!(
        earliest > 0 && earliest <= first_remote,
        "earliest {earliest}"
    );
    assert!(end > u64::try_from(earliest).unwrap());
    let start = usize::try_from(earliest).unwrap();
    let read = kafka_read_from(&broker, TOPIC, earliest, expected.len() - start);
    for (k, (offset, value)) in read.iter().enumerate() {
        assert_eq!(*offset, earliest + i64::try_from(k).unwrap());
        assert!(
            value == &expected[start + k],
            "value at offset {offset} differs"
        );
    }
    // Offsets below the new start are gone for both protocols.
    let client = native_client(&broker).await;
    let polled = native_poll(&client, TOPIC, 0, 1).await.unwrap();
    assert!(
        polled
            .messages
            .first()
            .is_none_or(|m| m.header.offset >= start as u64)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remote_storage_topic_is_neither_renamed_nor_purged() {
    use iggy::prelude::TopicClient;
    let s3 = S3Server::start();
    let broker = launch(&s3).start().unwrap();
    create_tiered_topic(&broker, TOPIC).await;
    let values: Vec<Vec<u8>> = (0..10).map(|i| kafka_value("g", i)).collect();
    kafka_produce(&broker, TOPIC, &values);
    let client = native_client(&broker).await;
    let stream = iggy::prelude::Identifier::named(KAFKA_STREAM).unwrap();
    let topic = iggy::prelude::Identifier::named(TOPIC).unwrap();
    let renamed = client
        .update_topic(
            &stream,
            &topic,
            "elsewhere",
            &iggy::prelude::TopicUpdateOptions::default(),
        )
        .await;
    assert!(
        renamed.is_err(),
        "rename of a remote-storage topic: {renamed:?}"
    );
    let purged = client.purge_topic(&stream, &topic).await;
    assert!(
        purged.is_err(),
        "purge of a remote-storage topic: {purged:?}"
    );
    // Nothing changed: same name, same records.
    assert_eq!(
        kafka_read_all(&broker, TOPIC, values.len()).len(),
        values.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_storage_switched_on_by_alter_configs_copies_existing_segments() {
    let s3 = S3Server::start();
    let mut broker = launch(&s3).start().unwrap();
    create_tiered_topic_with(&broker, TOPIC, &[("remote.storage.enable", "false")]).await;
    let described = describe_topic(&broker, TOPIC).await;
    assert_eq!(described["remote.storage.enable"], "false");
    assert_eq!(described["local.retention.bytes"], "0");
    assert_eq!(described["local.retention.ms"], "-2");
    let expected = produce_mixed(&broker, "h").await;
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        s3.objects(".log").is_empty(),
        "copied without remote storage"
    );
    assert!(local_segments(&broker).len() >= 15);

    alter_topic(
        &broker,
        TOPIC,
        &[
            ("segment.bytes", "65536"),
            ("remote.storage.enable", "true"),
            ("local.retention.bytes", "0"),
            ("local.retention.ms", "600000"),
        ],
    )
    .await;
    let described = describe_topic(&broker, TOPIC).await;
    assert_eq!(described["remote.storage.enable"], "true");
    assert_eq!(described["local.retention.ms"], "600000");
    wait_tiered(&s3, &broker);
    broker.restart().unwrap();
    check_read_back(&broker, TOPIC, &expected).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_remote_storage_topic_deletes_its_objects() {
    let s3 = S3Server::start();
    let broker = launch(&s3).start().unwrap();
    create_tiered_topic(&broker, TOPIC).await;
    produce_mixed(&broker, "i").await;
    wait_tiered(&s3, &broker);
    assert_eq!(s3.objects("manifest.json").len(), 1);
    delete_topic(&broker, TOPIC).await;
    wait_until("the topic's objects deleted", || {
        s3.objects(".log").is_empty()
            && s3.objects(".index").is_empty()
            && s3.objects("manifest.json").is_empty()
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_native_topic_gets_remote_storage_through_its_kafka_name() {
    use iggy::prelude::{Identifier, IggyMessage, MessageClient, Partitioning, StreamClient};
    use iggy::prelude::{TopicClient, TopicCreateOptions};
    let s3 = S3Server::start();
    let mut broker = launch(&s3).start().unwrap();
    let client = native_client(&broker).await;
    client.create_stream("ns").await.unwrap();
    let stream = Identifier::named("ns").unwrap();
    let options = TopicCreateOptions {
        partitions_count: Some(1),
        ..Default::default()
    };
    client.create_topic(&stream, "nt", &options).await.unwrap();
    alter_topic(
        &broker,
        "ns.nt",
        &[
            ("segment.bytes", "65536"),
            ("remote.storage.enable", "true"),
            ("local.retention.bytes", "0"),
        ],
    )
    .await;
    let topic = Identifier::named("nt").unwrap();
    let payloads: Vec<Vec<u8>> = (0..1200).map(|i| native_payload("j", i)).collect();
    for chunk in payloads.chunks(50) {
        let mut batch: Vec<IggyMessage> = chunk
            .iter()
            .map(|p| {
                IggyMessage::builder()
                    .payload(p.clone().into())
                    .build()
                    .unwrap()
            })
            .collect();
        client
            .send_messages(&stream, &topic, &Partitioning::partition_id(0), &mut batch)
            .await
            .unwrap();
    }
    let dir = s3.bucket_dir().join(PREFIX).join("ns").join("nt").join("0");
    wait_until(
        "the native topic's segments in S3 and off the local disk",
        || {
            let local = local_segments(&broker);
            files(&dir, &|name| name.ends_with(".log")).len() >= 3
                && local
                    .first()
                    .is_some_and(|p| !p.ends_with("00000000000000000000.log"))
        },
    );
    broker.restart().unwrap();
    let client = native_client(&broker).await;
    let mut next = 0u64;
    while next < 1200 {
        let polled = client
            .poll_messages(
                &stream,
                &topic,
                Some(0),
                &iggy::prelude::Consumer::new(Identifier::numeric(1).unwrap()),
                &iggy::prelude::PollingStrategy::offset(next),
                100,
                false,
            )
            .await
            .unwrap();
        for message in polled.messages {
            assert_eq!(message.header.offset, next);
            assert!(message.payload.as_ref() == payloads[next as usize].as_slice());
            next += 1;
        }
    }
}
