//! The official Apache Iggy Rust SDK at its last classic-framing release (`iggy` = 0.10.0,
//! `[length][code][payload]` requests, the protocol of Iggy server 0.8) against the real
//! `whippet` binary's native port, which it shares with protocol 0.11: login, system calls,
//! streams, topics with the classic fixed fields, partitions, segments, sending with every
//! partitioning kind and header kind, polling with every strategy, consumer offsets and data
//! surviving a restart. Users, tokens, permissions and consumer groups are in
//! `classic_access.rs`, raw-socket bad input in `classic_bad_input.rs`.
//!
//! Note: the 0.10 SDK refuses calls before login on the client side (`fail_if_not_authenticated`),
//! so the server's own Unauthenticated answer is checked on raw frames in `classic_bad_input.rs`.
//!
//! Needs `cargo build -p whippet-broker` first (the harness finds `target/debug/whippet`).
#![allow(clippy::unwrap_used)]

mod classic_common;

use std::collections::BTreeSet;
use std::time::Duration;

use bytes::Bytes;
use classic_common::*;
use iggy::prelude::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_and_system_calls() {
    let broker = start_broker();
    let client = connect(&broker).await;
    client.ping().await.unwrap();
    let identity = client
        .login_user(DEFAULT_ROOT_USERNAME, DEFAULT_ROOT_PASSWORD)
        .await
        .unwrap();
    assert_eq!(identity.user_id, DEFAULT_ROOT_USER_ID);
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
    let unknown = client.get_client(me.client_id + 10_000).await.unwrap();
    assert!(unknown.is_none(), "{unknown:?}");

    // The SDK asks for the cluster metadata after a connection-string login; one node.
    let cluster = client.get_cluster_metadata().await.unwrap();
    assert_eq!(cluster.nodes.len(), 1, "one node: {cluster:?}");

    let by_string =
        IggyClient::from_connection_string(&connection_string(&broker, "iggy", "iggy")).unwrap();
    by_string.connect().await.unwrap();
    let other = by_string.get_me().await.unwrap();
    assert_ne!(other.client_id, me.client_id);
    assert_eq!(other.user_id, Some(0));
    by_string.get_streams().await.unwrap();

    // Logout ends the login of this connection only; logging in again works.
    client.logout_user().await.unwrap();
    by_string.get_streams().await.unwrap();
    client.login_user("iggy", "iggy").await.unwrap();
    assert_eq!(client.get_me().await.unwrap().user_id, Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_count_what_exists() {
    let broker = start_broker();
    let client = root(&broker).await;
    let (sid, tid) = stream_and_topic(&client, "stats-a", "t1", 3).await;
    create_topic(&client, &sid, "t2", 2).await.unwrap();
    stream_and_topic(&client, "stats-b", "t3", 1).await;
    send_to(&client, (&sid, &tid), 0, text_messages("m", 7)).await;

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
        code::STREAM_NAME_EXISTS,
        "duplicate stream",
    );
    let orders = id(first.id);
    let by_name = client.get_stream(&name("payments")).await.unwrap().unwrap();
    assert_eq!(by_name.id, 1);
    assert!(client.get_stream(&id(99)).await.unwrap().is_none());
    assert!(client.get_stream(&name("nope")).await.unwrap().is_none());

    client.update_stream(&orders, "orders-v2").await.unwrap();
    let renamed = client.get_stream(&orders).await.unwrap().unwrap();
    assert_eq!(renamed.name, "orders-v2");
    assert_code(
        client.update_stream(&orders, "payments").await,
        code::STREAM_NAME_EXISTS,
        "rename onto an existing name",
    );

    // Purge keeps the stream and its topics, drops the messages.
    let tid = id(create_topic(&client, &orders, "lines", 1).await.unwrap().id);
    send_to(&client, (&orders, &tid), 0, text_messages("p", 5)).await;
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
    assert_code(
        client.delete_stream(&orders).await,
        code::STREAM_NOT_FOUND,
        "delete twice",
    );
    let names: BTreeSet<String> = client
        .get_streams()
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(names, BTreeSet::from(["payments"].map(String::from)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topic_crud_with_classic_fields() {
    let broker = start_broker();
    let client = root(&broker).await;
    let sid = id(client.create_stream("s").await.unwrap().id);
    let hour = IggyExpiry::ExpireDuration(IggyDuration::from(Duration::from_secs(3600)));
    let ten_mib = MaxTopicSize::Custom(IggyByteSize::from(10 * 1024 * 1024u64));
    let created = client
        .create_topic(
            &sid,
            "events",
            3,
            CompressionAlgorithm::None,
            None,
            hour,
            ten_mib,
        )
        .await
        .unwrap();
    assert_eq!((created.id, created.name.as_str()), (0, "events"));
    assert_eq!(created.partitions_count, 3);
    assert_eq!(
        (created.message_expiry, created.max_topic_size),
        (hour, ten_mib)
    );
    assert_eq!(created.compression_algorithm, CompressionAlgorithm::None);
    assert_code(
        create_topic(&client, &sid, "events", 1).await,
        code::TOPIC_NAME_EXISTS,
        "duplicate topic",
    );
    assert_code(
        create_topic(&client, &id(42), "x", 1).await,
        code::STREAM_NOT_FOUND,
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
    let second = create_topic(&client, &sid, "audit", 1).await.unwrap();
    assert_eq!((second.id, second.partitions_count), (1, 1));
    assert_eq!(second.message_expiry, IggyExpiry::NeverExpire);
    assert_eq!(second.max_topic_size, MaxTopicSize::Unlimited);
    let names: Vec<String> = client
        .get_topics(&sid)
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");

    update_purge_delete_topic(&client, &sid).await;
}

/// Topic 0 of `sid` (3 partitions): update its classic fields, purge it, delete it.
async fn update_purge_delete_topic(client: &IggyClient, sid: &Identifier) {
    let day = IggyExpiry::ExpireDuration(IggyDuration::from(Duration::from_secs(86_400)));
    client
        .update_topic(
            sid,
            &id(0),
            "events-v2",
            CompressionAlgorithm::Gzip,
            None,
            day,
            MaxTopicSize::Unlimited,
        )
        .await
        .unwrap();
    let updated = client.get_topic(sid, &id(0)).await.unwrap().unwrap();
    assert_eq!(updated.name, "events-v2");
    assert_eq!(updated.message_expiry, day);
    assert_eq!(updated.max_topic_size, MaxTopicSize::Unlimited);
    assert_eq!(updated.compression_algorithm, CompressionAlgorithm::Gzip);

    let tid = id(0);
    send_to(client, (sid, &tid), 2, text_messages("x", 4)).await;
    let before = client.get_topic(sid, &tid).await.unwrap().unwrap();
    assert_eq!(before.messages_count, 4);
    client.purge_topic(sid, &tid).await.unwrap();
    let got = client.get_topic(sid, &tid).await.unwrap().unwrap();
    assert_eq!((got.messages_count, got.partitions_count), (0, 3));
    let polled = poll(client, sid, &tid, 2, PollingStrategy::first(), 10).await;
    assert_eq!(polled.count, 0, "purged topic still serves messages");

    client.delete_topic(sid, &tid).await.unwrap();
    assert!(client.get_topic(sid, &tid).await.unwrap().is_none());
    assert_code(
        client.delete_topic(sid, &tid).await,
        code::TOPIC_NOT_FOUND,
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

    send_to(&client, (&sid, &tid), 2, text_messages("new", 3)).await;
    let polled = poll(&client, &sid, &tid, 2, PollingStrategy::first(), 10).await;
    assert_eq!(payloads(&polled), vec!["new-0", "new-1", "new-2"]);

    client.delete_partitions(&sid, &tid, 1).await.unwrap();
    let topic = client.get_topic(&sid, &tid).await.unwrap().unwrap();
    let ids: Vec<u32> = topic.partitions.iter().map(|p| p.id).collect();
    assert_eq!((topic.partitions_count, ids), (2, vec![0, 1]));
    assert_code(
        client.create_partitions(&sid, &id(9), 1).await,
        code::TOPIC_NOT_FOUND,
        "partitions of a missing topic",
    );

    client.delete_segments(&sid, &tid, 0, 1).await.unwrap();
    assert_code(
        client.delete_segments(&sid, &id(9), 0, 1).await,
        code::TOPIC_NOT_FOUND,
        "segments of a missing topic",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_by_partition_id_with_ids_and_every_header_kind() {
    let broker = start_broker();
    let client = root(&broker).await;
    let (sid, tid) = stream_and_topic(&client, "s", "t", 3).await;
    let headers = every_header_kind();
    let messages: Vec<IggyMessage> = (0..10u128)
        .map(|i| {
            IggyMessage::builder()
                .id(1000 + i)
                .payload(Bytes::from(vec![i as u8; 100 + i as usize]))
                .user_headers(headers.clone())
                .build()
                .unwrap()
        })
        .collect();
    let origins: Vec<u64> = messages.iter().map(|m| m.header.origin_timestamp).collect();
    send_to(&client, (&sid, &tid), 1, messages).await;

    let polled = poll(&client, &sid, &tid, 1, PollingStrategy::offset(0), 100).await;
    assert_eq!(polled.partition_id, 1);
    assert_eq!(polled.current_offset, 9);
    assert_eq!(polled.count, 10);
    assert_eq!(offsets(&polled), (0..10).collect::<Vec<u64>>());
    for (i, message) in polled.messages.iter().enumerate() {
        assert_eq!(message.header.id, 1000 + i as u128, "id @{i}");
        assert_eq!(message.payload.as_ref(), vec![i as u8; 100 + i].as_slice());
        assert_eq!(message.user_headers_map().unwrap().as_ref(), Some(&headers));
        assert!(message.header.timestamp > 0, "server stamps the timestamp");
        assert_eq!(message.header.origin_timestamp, origins[i], "origin @{i}");
    }
    for other in [0, 2] {
        let empty = poll(&client, &sid, &tid, other, PollingStrategy::first(), 10).await;
        assert_eq!(empty.count, 0, "partition {other} got messages sent to 1");
    }
}

/// Polls every partition of `sid`/`tid` (0..`partitions`) from the first message.
async fn poll_all(
    client: &IggyClient,
    target: (&Identifier, &Identifier),
    partitions: u32,
) -> Vec<Vec<String>> {
    let mut all = Vec::new();
    for partition in 0..partitions {
        let polled = poll(
            client,
            target.0,
            target.1,
            partition,
            PollingStrategy::first(),
            100,
        );
        all.push(payloads(&polled.await));
    }
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn balanced_and_key_partitioning() {
    let broker = start_broker();
    let client = root(&broker).await;
    let (sid, tid) = stream_and_topic(&client, "s", "t", 3).await;
    // The 0.10 SDK sends balanced as kind 1: the broker picks the partition.
    for batch in 0..6 {
        let mut messages = text_messages(&format!("bal{batch}"), 2);
        client
            .send_messages(&sid, &tid, &Partitioning::balanced(), &mut messages)
            .await
            .unwrap();
    }
    let per_partition = poll_all(&client, (&sid, &tid), 3).await;
    let seen: BTreeSet<&String> = per_partition.iter().flatten().collect();
    assert_eq!(
        seen.len(),
        12,
        "every balanced message stored once: {seen:?}"
    );
    assert!(
        per_partition.iter().all(|p| !p.is_empty()),
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
    let keyed: Vec<usize> = poll_all(&client, (&sid, &tid), 3)
        .await
        .iter()
        .map(|p| p.iter().filter(|m| m.starts_with("key")).count())
        .collect();
    assert_eq!(keyed.iter().sum::<usize>(), 15, "{keyed:?}");
    assert_eq!(
        keyed.iter().filter(|&&n| n > 0).count(),
        1,
        "one key, one partition: {keyed:?}"
    );
}

/// Ten messages in two batches sent ~50 ms apart on one partition.
async fn two_timed_batches(client: &IggyClient) -> (Identifier, Identifier, u64) {
    let (sid, tid) = stream_and_topic(client, "s", "t", 1).await;
    send_to(client, (&sid, &tid), 0, text_messages("a", 5)).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let between = IggyTimestamp::now().as_micros();
    tokio::time::sleep(Duration::from_millis(50)).await;
    send_to(client, (&sid, &tid), 0, text_messages("b", 5)).await;
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
    let missing = client
        .poll_messages(
            &sid,
            &tid,
            Some(5),
            &Consumer::new(id(1)),
            &PollingStrategy::first(),
            1,
            false,
        )
        .await;
    assert_code(
        missing,
        code::PARTITION_NOT_FOUND,
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
            let strategy = PollingStrategy::next();
            let polled = client
                .poll_messages(sid, tid, Some(0), consumer, &strategy, count, auto_commit)
                .await;
            polled.unwrap()
        }
    };
    // No stored offset: next starts at the beginning; without auto-commit it does not move.
    assert_eq!(offsets(&next(false, 3).await), vec![0, 1, 2]);
    assert_eq!(offsets(&next(false, 3).await), vec![0, 1, 2]);
    let stored = client
        .get_consumer_offset(&consumer, &sid, &tid, Some(0))
        .await
        .unwrap();
    assert!(stored.is_none(), "{stored:?}");
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
    send_to(&client, (&sid, &tid), 1, text_messages("o", 8)).await;
    let consumer = Consumer::new(id(7));
    let get = |consumer: Consumer, partition: u32| {
        let (client, sid, tid) = (&client, &sid, &tid);
        async move {
            let got = client
                .get_consumer_offset(&consumer, sid, tid, Some(partition))
                .await;
            got.unwrap()
        }
    };
    assert!(get(consumer.clone(), 1).await.is_none());
    client
        .store_consumer_offset(&consumer, &sid, &tid, Some(1), 5)
        .await
        .unwrap();
    let info = get(consumer.clone(), 1).await.unwrap();
    assert_eq!(
        (info.partition_id, info.current_offset, info.stored_offset),
        (1, 7, 5)
    );
    // Offsets are per consumer and per partition.
    assert!(get(Consumer::new(id(8)), 1).await.is_none());
    assert!(get(consumer.clone(), 0).await.is_none());
    client
        .delete_consumer_offset(&consumer, &sid, &tid, Some(1))
        .await
        .unwrap();
    assert!(get(consumer.clone(), 1).await.is_none());
    assert_code(
        client
            .delete_consumer_offset(&consumer, &sid, &tid, Some(1))
            .await,
        code::CONSUMER_OFFSET_NOT_FOUND,
        "delete a missing offset",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flush_unsaved_buffer() {
    let broker = start_broker();
    let client = root(&broker).await;
    let (sid, tid) = stream_and_topic(&client, "s", "t", 1).await;
    send_to(&client, (&sid, &tid), 0, text_messages("f", 3)).await;
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
        code::STREAM_NOT_FOUND,
        "flush of a missing stream",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_survives_restart() {
    let mut broker = start_broker();
    let headers = every_header_kind();
    {
        let client = root(&broker).await;
        let (sid, tid) = stream_and_topic(&client, "durable", "log", 2).await;
        let messages: Vec<IggyMessage> = (0..20)
            .map(|i| {
                IggyMessage::builder()
                    .id(500 + i)
                    .payload(Bytes::from(format!("d-{i}")))
                    .user_headers(headers.clone())
                    .build()
                    .unwrap()
            })
            .collect();
        send_to(&client, (&sid, &tid), 1, messages).await;
        client
            .store_consumer_offset(&Consumer::new(id(3)), &sid, &tid, Some(1), 11)
            .await
            .unwrap();
        client.disconnect().await.unwrap();
    }
    let status = broker.restart().unwrap();
    assert!(status.success(), "SIGTERM exit: {status:?}");

    let client = root(&broker).await;
    let (sid, tid) = (name("durable"), name("log"));
    let topic = client
        .get_topic(&sid, &tid)
        .await
        .unwrap()
        .expect("restored");
    assert_eq!((topic.partitions_count, topic.messages_count), (2, 20));
    let polled = poll(&client, &sid, &tid, 1, PollingStrategy::offset(0), 100).await;
    let want: Vec<String> = (0..20).map(|i| format!("d-{i}")).collect();
    assert_eq!(payloads(&polled), want);
    assert_eq!(offsets(&polled), (0..20).collect::<Vec<u64>>());
    for (i, message) in polled.messages.iter().enumerate() {
        assert_eq!(message.header.id, 500 + i as u128);
        assert_eq!(message.user_headers_map().unwrap().as_ref(), Some(&headers));
    }
    let offset = client
        .get_consumer_offset(&Consumer::new(id(3)), &sid, &tid, Some(1))
        .await
        .unwrap()
        .expect("offset restored");
    assert_eq!(offset.stored_offset, 11);
}
