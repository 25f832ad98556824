//! The official Apache Iggy Rust SDK (`iggy` = 0.11.0, protocol 0.11) against the real
//! `whippet` binary's native listener: login, system calls, streams, topics, partitions,
//! segments, sending with every partitioning kind and header kind, polling with every strategy,
//! consumer offsets, flush, and data surviving a restart. Users and tokens are in
//! `native_sdk_users.rs`, consumer groups and the high-level builders in
//! `native_sdk_groups.rs`, raw-socket bad input in `native_sdk_bad_input.rs`.
//!
//! Needs `cargo build -p whippet-broker` first (the harness finds `target/debug/whippet`).
#![allow(clippy::unwrap_used)]

mod native_sdk_common;

use std::collections::BTreeSet;
use std::time::Duration;

use bytes::Bytes;
use iggy::prelude::*;
use native_sdk_common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_and_system_calls() {
    let broker = start_broker();
    let client = root(&broker).await;
    client.ping().await.unwrap();

    let me = client.get_me().await.unwrap();
    assert_eq!(me.user_id, Some(DEFAULT_ROOT_USER_ID));
    assert_eq!(me.transport, "TCP");
    assert_eq!(me.consumer_groups_count, 0);

    let clients = client.get_clients().await.unwrap();
    assert!(
        clients.iter().any(|c| c.client_id == me.client_id),
        "get_clients lacks this connection: {clients:?}"
    );
    let same = client.get_client(me.client_id).await.unwrap().unwrap();
    assert_eq!((same.client_id, same.user_id), (me.client_id, me.user_id));
    assert_eq!(same.address, me.address);
    assert!(
        client
            .get_client(me.client_id + 10_000)
            .await
            .unwrap()
            .is_none()
    );

    let cluster = client.get_cluster_metadata().await.unwrap();
    assert_eq!(cluster.nodes.len(), 1, "one node: {cluster:?}");
    assert_eq!(cluster.nodes[0].endpoints.tcp, broker.native_addr().port());

    let topic_options = client.describe_options(OptionsScope::Topic).await.unwrap();
    let keys: BTreeSet<&str> = topic_options.iter().map(|o| o.key.as_str()).collect();
    for key in ["message_expiry", "max_topic_size", "compression_algorithm"] {
        assert!(
            keys.contains(key),
            "describe_options(topic) lacks {key}: {keys:?}"
        );
    }

    // Connection-string login (the SDK logs in inside connect()).
    let by_string =
        IggyClient::from_connection_string(&connection_string(&broker, "iggy", "iggy")).unwrap();
    by_string.connect().await.unwrap();
    let other = by_string.get_me().await.unwrap();
    assert_ne!(other.client_id, me.client_id);
    assert_eq!(other.user_id, Some(0));

    client.logout_user().await.unwrap();
    assert_code(client.get_streams().await, 40, "get_streams after logout");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_count_what_exists() {
    let broker = start_broker();
    let client = root(&broker).await;
    let (sid, tid) = stream_and_topic(&client, "stats-a", "t1", 3).await;
    let options = TopicCreateOptions {
        partitions_count: Some(2),
        ..Default::default()
    };
    client.create_topic(&sid, "t2", &options).await.unwrap();
    stream_and_topic(&client, "stats-b", "t3", 1).await;
    let mut messages = text_messages("m", 7);
    client
        .send_messages(&sid, &tid, &Partitioning::partition_id(0), &mut messages)
        .await
        .unwrap();

    let stats = client.get_stats().await.unwrap();
    assert_eq!(stats.process_id, broker.pid());
    // The two created here: the Kafka listener's stream appears with the first Kafka topic.
    assert_eq!(stats.streams_count, 2);
    assert_eq!(stats.topics_count, 3);
    assert_eq!(stats.partitions_count, 6);
    assert_eq!(stats.messages_count, 7);
    assert!(stats.clients_count >= 1);
    assert!(
        stats.segments_count >= 6,
        "segments {}",
        stats.segments_count
    );
    assert!(stats.messages_size_bytes.as_bytes_u64() > 0);
    assert!(stats.total_memory.as_bytes_u64() > 0);
    assert!(!stats.hostname.is_empty() && !stats.iggy_server_version.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_crud_and_purge() {
    let broker = start_broker();
    let client = root(&broker).await;
    // The Kafka listener's stream is created with the first Kafka topic, so a fresh broker
    // has no stream and the first native one gets id 0, as on the Iggy server.
    let initial: Vec<(u32, String)> = client
        .get_streams()
        .await
        .unwrap()
        .into_iter()
        .map(|s| (s.id, s.name))
        .collect();
    assert_eq!(initial, Vec::new());
    let first = client.create_stream("orders").await.unwrap();
    assert_eq!((first.id, first.name.as_str()), (0, "orders"));
    assert_eq!(first.topics_count, 0);
    let second = client.create_stream("payments").await.unwrap();
    assert_eq!(second.id, 1);
    assert_code(
        client.create_stream("orders").await,
        1012,
        "duplicate stream",
    );
    let orders = id(first.id);

    let by_name = client.get_stream(&name("payments")).await.unwrap().unwrap();
    assert_eq!(by_name.id, 1);
    assert!(client.get_stream(&id(99)).await.unwrap().is_none());
    assert!(client.get_stream(&name("nope")).await.unwrap().is_none());
    let names: BTreeSet<String> = client
        .get_streams()
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .collect();
    let want = ["orders", "payments"].map(String::from);
    assert_eq!(names, BTreeSet::from(want));

    let options = StreamUpdateOptions::default();
    client
        .update_stream(&orders, "orders-v2", &options)
        .await
        .unwrap();
    assert_eq!(
        client.get_stream(&orders).await.unwrap().unwrap().name,
        "orders-v2"
    );
    assert_code(
        client.update_stream(&orders, "payments", &options).await,
        1012,
        "rename onto an existing name",
    );

    // Purge keeps the stream and its topics, drops the messages.
    let topic = client
        .create_topic(&orders, "lines", &TopicCreateOptions::default())
        .await
        .unwrap();
    let tid = id(topic.id);
    let mut messages = text_messages("p", 5);
    client
        .send_messages(&orders, &tid, &Partitioning::partition_id(0), &mut messages)
        .await
        .unwrap();
    let stream = client.get_stream(&orders).await.unwrap().unwrap();
    assert_eq!((stream.topics_count, stream.messages_count), (1, 5));
    assert_eq!(stream.topics[0].name, "lines");
    client.purge_stream(&orders).await.unwrap();
    let stream = client.get_stream(&orders).await.unwrap().unwrap();
    assert_eq!((stream.topics_count, stream.messages_count), (1, 0));
    let polled = poll(&client, &orders, &tid, 0, PollingStrategy::first(), 10).await;
    assert_eq!(polled.count, 0, "purged stream still serves messages");

    client.delete_stream(&orders).await.unwrap();
    assert!(client.get_stream(&orders).await.unwrap().is_none());
    assert_code(client.delete_stream(&orders).await, 1009, "delete twice");
    // Ids are the lowest free one.
    assert_eq!(client.create_stream("again").await.unwrap().id, first.id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topic_crud_with_options() {
    let broker = start_broker();
    let client = root(&broker).await;
    let sid = id(client.create_stream("s").await.unwrap().id);
    let hour = IggyExpiry::ExpireDuration(IggyDuration::from(Duration::from_secs(3600)));
    let ten_mib = MaxTopicSize::Custom(IggyByteSize::from(10 * 1024 * 1024u64));
    // A size cap may not be below the segment size (InvalidTopicSize, 1019).
    let big_cap = TopicCreateOptions {
        max_topic_size: Some(ten_mib),
        ..Default::default()
    };
    assert_code(
        client.create_topic(&sid, "too-small", &big_cap).await,
        1019,
        "cap below the default 1 GiB segment",
    );
    let options = TopicCreateOptions {
        partitions_count: Some(3),
        message_expiry: Some(hour),
        max_topic_size: Some(ten_mib),
        segment_size: Some(IggyByteSize::from(1024 * 1024u64)),
        ..Default::default()
    };
    let created = client.create_topic(&sid, "events", &options).await.unwrap();
    assert_eq!((created.id, created.partitions_count), (0, 3));
    assert_eq!(created.message_expiry, hour);
    assert_eq!(created.max_topic_size, ten_mib);
    assert_code(
        client.create_topic(&sid, "events", &options).await,
        2013,
        "duplicate topic",
    );
    assert_code(
        client.create_topic(&id(42), "x", &options).await,
        1009,
        "topic in a missing stream",
    );

    let got = client
        .get_topic(&sid, &name("events"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.id, 0);
    let ids: Vec<u32> = got.partitions.iter().map(|p| p.id).collect();
    assert_eq!(ids, vec![0, 1, 2]);
    assert_eq!((got.message_expiry, got.max_topic_size), (hour, ten_mib));
    assert!(client.get_topic(&sid, &id(7)).await.unwrap().is_none());

    let second = client
        .create_topic(&sid, "audit", &TopicCreateOptions::default())
        .await
        .unwrap();
    assert_eq!((second.id, second.partitions_count), (1, 1));
    let topics = client.get_topics(&sid).await.unwrap();
    let names: BTreeSet<&str> = topics.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, BTreeSet::from(["events", "audit"]));

    update_purge_and_delete(&client, &sid, ten_mib).await;
}

/// Second half of `topic_crud_with_options`: topic 0 of `sid` ("events", 3 partitions, capped at
/// `cap`) is renamed and re-set, filled, purged and deleted.
async fn update_purge_and_delete(client: &IggyClient, sid: &Identifier, cap: MaxTopicSize) {
    let (client, sid) = (client, sid.clone());
    let ten_mib = cap;
    let day = IggyExpiry::ExpireDuration(IggyDuration::from(Duration::from_secs(86_400)));
    let update = TopicUpdateOptions {
        message_expiry: Some(day),
        ..Default::default()
    };
    client
        .update_topic(&sid, &id(0), "events-v2", &update)
        .await
        .unwrap();
    let got = client.get_topic(&sid, &id(0)).await.unwrap().unwrap();
    assert_eq!((got.name.as_str(), got.message_expiry), ("events-v2", day));
    assert_eq!(
        got.max_topic_size, ten_mib,
        "absent update keys stay unchanged"
    );

    let mut messages = text_messages("t", 4);
    client
        .send_messages(&sid, &id(0), &Partitioning::partition_id(2), &mut messages)
        .await
        .unwrap();
    assert_eq!(
        client
            .get_topic(&sid, &id(0))
            .await
            .unwrap()
            .unwrap()
            .messages_count,
        4
    );
    client.purge_topic(&sid, &id(0)).await.unwrap();
    let got = client.get_topic(&sid, &id(0)).await.unwrap().unwrap();
    assert_eq!((got.messages_count, got.partitions_count), (0, 3));
    assert_eq!(
        poll(client, &sid, &id(0), 2, PollingStrategy::first(), 10)
            .await
            .count,
        0
    );

    client.delete_topic(&sid, &id(0)).await.unwrap();
    assert!(client.get_topic(&sid, &id(0)).await.unwrap().is_none());
    assert_code(
        client.delete_topic(&sid, &id(0)).await,
        2010,
        "delete twice",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partitions_and_segments() {
    let broker = start_broker();
    let client = root(&broker).await;
    let (sid, tid) = stream_and_topic(&client, "s", "t", 1).await;
    client.create_partitions(&sid, &tid, 2).await.unwrap();
    let topic = client.get_topic(&sid, &tid).await.unwrap().unwrap();
    let ids: Vec<u32> = topic.partitions.iter().map(|p| p.id).collect();
    assert_eq!((topic.partitions_count, ids), (3, vec![0, 1, 2]));

    let mut messages = text_messages("new", 3);
    client
        .send_messages(&sid, &tid, &Partitioning::partition_id(2), &mut messages)
        .await
        .unwrap();
    assert_eq!(
        payloads(&poll(&client, &sid, &tid, 2, PollingStrategy::first(), 10).await),
        vec!["new-0", "new-1", "new-2"]
    );

    client.delete_partitions(&sid, &tid, 1).await.unwrap();
    let topic = client.get_topic(&sid, &tid).await.unwrap().unwrap();
    let ids: Vec<u32> = topic.partitions.iter().map(|p| p.id).collect();
    assert_eq!((topic.partitions_count, ids), (2, vec![0, 1]));
    assert_code(
        client.create_partitions(&sid, &id(9), 1).await,
        2010,
        "partitions of a missing topic",
    );

    client.delete_segments(&sid, &tid, 0, 1).await.unwrap();
    assert_code(
        client.delete_segments(&sid, &id(9), 0, 1).await,
        2010,
        "segments of a missing topic",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_by_partition_id_with_ids_and_every_header_kind() {
    let broker = start_broker();
    let client = root(&broker).await;
    let (sid, tid) = stream_and_topic(&client, "s", "t", 3).await;
    let headers = every_header_kind();
    let mut messages: Vec<IggyMessage> = (0..10u128)
        .map(|i| {
            IggyMessage::builder()
                .id(1000 + i)
                .payload(Bytes::from(vec![i as u8; 100 + i as usize]))
                .user_headers(headers.clone())
                .build()
                .unwrap()
        })
        .collect();
    client
        .send_messages(&sid, &tid, &Partitioning::partition_id(1), &mut messages)
        .await
        .unwrap();

    let polled = poll(&client, &sid, &tid, 1, PollingStrategy::offset(0), 100).await;
    assert_eq!(polled.partition_id, 1);
    assert_eq!(polled.current_offset, 9);
    assert_eq!(offsets(&polled), (0..10).collect::<Vec<u64>>());
    for (i, message) in polled.messages.iter().enumerate() {
        assert_eq!(message.header.id, 1000 + i as u128);
        assert_eq!(message.payload.as_ref(), vec![i as u8; 100 + i].as_slice());
        assert_eq!(message.user_headers_map().unwrap().as_ref(), Some(&headers));
        assert!(message.header.timestamp > 0, "server stamps the timestamp");
        assert!(message.header.origin_timestamp > 0);
    }
    for other in [0, 2] {
        let empty = poll(&client, &sid, &tid, other, PollingStrategy::first(), 10).await;
        assert_eq!(empty.count, 0, "partition {other} got messages sent to 1");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn balanced_and_key_partitioning() {
    let broker = start_broker();
    let client = root(&broker).await;
    let (sid, tid) = stream_and_topic(&client, "s", "t", 3).await;
    for batch in 0..6 {
        let mut messages = text_messages(&format!("bal{batch}"), 2);
        client
            .send_messages(&sid, &tid, &Partitioning::balanced(), &mut messages)
            .await
            .unwrap();
    }
    let mut seen = BTreeSet::new();
    let mut per_partition = Vec::new();
    for partition in 0..3 {
        let polled = poll(
            &client,
            &sid,
            &tid,
            partition,
            PollingStrategy::first(),
            100,
        )
        .await;
        per_partition.push(polled.count);
        seen.extend(payloads(&polled));
    }
    assert_eq!(
        seen.len(),
        12,
        "every balanced message stored once: {seen:?}"
    );
    assert!(
        per_partition.iter().all(|&n| n > 0),
        "balanced sends spread over all partitions: {per_partition:?}"
    );

    let key = Partitioning::messages_key_str("customer-42").unwrap();
    for batch in 0..5 {
        let mut messages = text_messages(&format!("key{batch}"), 3);
        client
            .send_messages(&sid, &tid, &key, &mut messages)
            .await
            .unwrap();
    }
    let mut holders = Vec::new();
    for partition in 0..3 {
        let polled = poll(
            &client,
            &sid,
            &tid,
            partition,
            PollingStrategy::first(),
            100,
        )
        .await;
        let keyed = payloads(&polled)
            .into_iter()
            .filter(|p| p.starts_with("key"))
            .count();
        if keyed > 0 {
            holders.push((partition, keyed));
        }
    }
    assert_eq!(holders.len(), 1, "one key, one partition: {holders:?}");
    assert_eq!(holders[0].1, 15);
}

/// Ten messages in two batches sent ~50 ms apart on one partition.
async fn two_timed_batches(client: &IggyClient) -> (Identifier, Identifier, u64) {
    let (sid, tid) = stream_and_topic(client, "s", "t", 1).await;
    let mut first = text_messages("a", 5);
    client
        .send_messages(&sid, &tid, &Partitioning::partition_id(0), &mut first)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let between = IggyTimestamp::now().as_micros();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mut second = text_messages("b", 5);
    client
        .send_messages(&sid, &tid, &Partitioning::partition_id(0), &mut second)
        .await
        .unwrap();
    (sid, tid, between)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poll_by_offset_timestamp_first_last() {
    let broker = start_broker();
    let client = root(&broker).await;
    let (sid, tid, between) = two_timed_batches(&client).await;

    let polled = poll(&client, &sid, &tid, 0, PollingStrategy::offset(3), 4).await;
    assert_eq!(offsets(&polled), vec![3, 4, 5, 6]);
    assert_eq!(payloads(&polled), vec!["a-3", "a-4", "b-0", "b-1"]);
    assert_eq!(polled.current_offset, 9);

    let polled = poll(&client, &sid, &tid, 0, PollingStrategy::first(), 2).await;
    assert_eq!(offsets(&polled), vec![0, 1]);

    let polled = poll(&client, &sid, &tid, 0, PollingStrategy::last(), 3).await;
    assert_eq!(offsets(&polled), vec![7, 8, 9]);
    assert_eq!(payloads(&polled), vec!["b-2", "b-3", "b-4"]);

    let ts = IggyTimestamp::from(between);
    let polled = poll(&client, &sid, &tid, 0, PollingStrategy::timestamp(ts), 100).await;
    assert_eq!(offsets(&polled), vec![5, 6, 7, 8, 9]);
    assert!(
        polled
            .messages
            .iter()
            .all(|m| m.header.timestamp >= between)
    );

    let polled = poll(&client, &sid, &tid, 0, PollingStrategy::offset(10), 5).await;
    assert_eq!(polled.count, 0, "past the end");
    assert_code(
        client
            .poll_messages(
                &sid,
                &tid,
                Some(5),
                &Consumer::new(id(1)),
                &PollingStrategy::first(),
                1,
                false,
            )
            .await,
        3007,
        "poll of a missing partition",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poll_next_with_and_without_auto_commit() {
    let broker = start_broker();
    let client = root(&broker).await;
    let (sid, tid, _) = two_timed_batches(&client).await;
    let consumer = Consumer::new(name("reader"));
    let next = |auto_commit: bool, count: u32| {
        let (client, sid, tid, consumer) = (&client, &sid, &tid, &consumer);
        async move {
            client
                .poll_messages(
                    sid,
                    tid,
                    Some(0),
                    consumer,
                    &PollingStrategy::next(),
                    count,
                    auto_commit,
                )
                .await
                .unwrap()
        }
    };
    // No stored offset: next starts at the beginning; without auto-commit it does not move.
    assert_eq!(offsets(&next(false, 3).await), vec![0, 1, 2]);
    assert_eq!(offsets(&next(false, 3).await), vec![0, 1, 2]);
    assert!(
        client
            .get_consumer_offset(&consumer, &sid, &tid, Some(0))
            .await
            .unwrap()
            .is_none()
    );
    // Auto-commit stores the last returned offset; next continues after it.
    assert_eq!(offsets(&next(true, 4).await), vec![0, 1, 2, 3]);
    let stored = client
        .get_consumer_offset(&consumer, &sid, &tid, Some(0))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((stored.stored_offset, stored.current_offset), (3, 9));
    assert_eq!(offsets(&next(true, 100).await), vec![4, 5, 6, 7, 8, 9]);
    assert_eq!(next(true, 100).await.count, 0, "consumed everything");
    // An explicit store moves next back.
    client
        .store_consumer_offset(&consumer, &sid, &tid, Some(0), 6)
        .await
        .unwrap();
    assert_eq!(offsets(&next(false, 100).await), vec![7, 8, 9]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumer_offsets_get_store_delete() {
    let broker = start_broker();
    let client = root(&broker).await;
    let (sid, tid) = stream_and_topic(&client, "s", "t", 2).await;
    let mut messages = text_messages("o", 8);
    client
        .send_messages(&sid, &tid, &Partitioning::partition_id(1), &mut messages)
        .await
        .unwrap();
    let consumer = Consumer::new(id(7));
    assert!(
        client
            .get_consumer_offset(&consumer, &sid, &tid, Some(1))
            .await
            .unwrap()
            .is_none()
    );
    client
        .store_consumer_offset(&consumer, &sid, &tid, Some(1), 5)
        .await
        .unwrap();
    let info = client
        .get_consumer_offset(&consumer, &sid, &tid, Some(1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (info.partition_id, info.current_offset, info.stored_offset),
        (1, 7, 5)
    );
    // Offsets are per consumer and per partition.
    assert!(
        client
            .get_consumer_offset(&Consumer::new(id(8)), &sid, &tid, Some(1))
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        client
            .get_consumer_offset(&consumer, &sid, &tid, Some(0))
            .await
            .unwrap()
            .is_none()
    );
    client
        .delete_consumer_offset(&consumer, &sid, &tid, Some(1))
        .await
        .unwrap();
    assert!(
        client
            .get_consumer_offset(&consumer, &sid, &tid, Some(1))
            .await
            .unwrap()
            .is_none()
    );
    assert_code(
        client
            .delete_consumer_offset(&consumer, &sid, &tid, Some(1))
            .await,
        3021,
        "delete a missing offset",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flush_unsaved_buffer() {
    let broker = start_broker();
    let client = root(&broker).await;
    let (sid, tid) = stream_and_topic(&client, "s", "t", 1).await;
    let mut messages = text_messages("f", 3);
    client
        .send_messages(&sid, &tid, &Partitioning::partition_id(0), &mut messages)
        .await
        .unwrap();
    client
        .flush_unsaved_buffer(&sid, &tid, 0, true)
        .await
        .unwrap();
    client
        .flush_unsaved_buffer(&sid, &tid, 0, false)
        .await
        .unwrap();
    assert_code(
        client.flush_unsaved_buffer(&id(9), &tid, 0, true).await,
        1009,
        "flush of a missing stream",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_survives_restart() {
    let mut broker = start_broker();
    let (headers, user_id) = {
        let client = root(&broker).await;
        let (sid, tid) = stream_and_topic(&client, "durable", "log", 2).await;
        let headers = every_header_kind();
        let mut messages: Vec<IggyMessage> = (0..20)
            .map(|i| {
                IggyMessage::builder()
                    .payload(Bytes::from(format!("d-{i}")))
                    .user_headers(headers.clone())
                    .build()
                    .unwrap()
            })
            .collect();
        client
            .send_messages(&sid, &tid, &Partitioning::partition_id(1), &mut messages)
            .await
            .unwrap();
        client
            .store_consumer_offset(&Consumer::new(id(3)), &sid, &tid, Some(1), 11)
            .await
            .unwrap();
        let user = client
            .create_user("keeper", "keeper-pass", UserStatus::Active, None)
            .await
            .unwrap();
        client.disconnect().await.unwrap();
        (headers, user.id)
    };
    let status = broker.restart().unwrap();
    assert!(status.success(), "SIGTERM exit: {status:?}");

    let client = root(&broker).await;
    let topic = client
        .get_topic(&name("durable"), &name("log"))
        .await
        .unwrap()
        .expect("topic restored");
    assert_eq!((topic.partitions_count, topic.messages_count), (2, 20));
    let polled = poll(
        &client,
        &name("durable"),
        &name("log"),
        1,
        PollingStrategy::offset(0),
        100,
    )
    .await;
    let want: Vec<String> = (0..20).map(|i| format!("d-{i}")).collect();
    assert_eq!(payloads(&polled), want);
    assert_eq!(offsets(&polled), (0..20).collect::<Vec<u64>>());
    for message in &polled.messages {
        assert_eq!(message.user_headers_map().unwrap().as_ref(), Some(&headers));
    }
    let offset = client
        .get_consumer_offset(
            &Consumer::new(id(3)),
            &name("durable"),
            &name("log"),
            Some(1),
        )
        .await
        .unwrap()
        .expect("offset restored");
    assert_eq!(offset.stored_offset, 11);

    let keeper = login(&broker, "keeper", "keeper-pass").await;
    assert_eq!(keeper.get_me().await.unwrap().user_id, Some(user_id));
}
