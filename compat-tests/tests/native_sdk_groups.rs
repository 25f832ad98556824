//! Consumer groups through the official `iggy` 0.11.0 SDK against the real `whippet` binary:
//! CRUD, join/leave with server-side assignment, group polling with auto-commit, the high-level
//! producer and consumer-group builders, and eviction of a member whose process is killed or
//! stops talking (the member runs in a child process: this test binary re-run in "member" mode).
#![allow(clippy::unwrap_used)]

mod native_sdk_common;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::str::FromStr;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use iggy::prelude::*;
use native_sdk_common::*;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use whippet_compat_tests::{Launch, WhippetProcess};

/// Tells the re-run test binary to act as a group member against this broker address.
const MEMBER_ADDR_ENV: &str = "WHIPPET_TEST_NATIVE_MEMBER_ADDR";
/// The broker's native heartbeat timeout in the eviction test (the SDK pings every 5 s).
const HEARTBEAT_TIMEOUT_MS: u64 = 8_000;

/// The members of a group as (member id, sorted partitions).
async fn members(client: &IggyClient, group: &Identifier) -> Vec<(u32, Vec<u32>)> {
    let details = client
        .get_consumer_group(&name("s"), &name("t"), group)
        .await
        .unwrap()
        .expect("group exists");
    assert_eq!(details.members_count as usize, details.members.len());
    let mut members: Vec<(u32, Vec<u32>)> = details
        .members
        .into_iter()
        .map(|m| {
            let mut partitions = m.partitions;
            partitions.sort_unstable();
            assert_eq!(m.partitions_count as usize, partitions.len());
            (m.id, partitions)
        })
        .collect();
    members.sort();
    members
}

/// Asserts the members' partitions are disjoint and together cover `0..count`.
#[track_caller]
fn assert_partitioned(members: &[(u32, Vec<u32>)], count: u32) {
    let mut all: Vec<u32> = members.iter().flat_map(|(_, p)| p.clone()).collect();
    all.sort_unstable();
    assert_eq!(
        all,
        (0..count).collect::<Vec<u32>>(),
        "assignment {members:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_crud_join_leave() {
    let broker = start_broker();
    let a = root(&broker).await;
    let b = root(&broker).await;
    let (sid, tid) = stream_and_topic(&a, "s", "t", 4).await;
    let created = a.create_consumer_group(&sid, &tid, "g").await.unwrap();
    assert_eq!((created.id, created.name.as_str()), (0, "g"));
    assert_eq!((created.partitions_count, created.members_count), (4, 0));
    assert_code(
        a.create_consumer_group(&sid, &tid, "g").await,
        5004,
        "duplicate group",
    );
    let second = a.create_consumer_group(&sid, &tid, "h").await.unwrap();
    assert_eq!(second.id, 1);
    let names: BTreeSet<String> = a
        .get_consumer_groups(&sid, &tid)
        .await
        .unwrap()
        .into_iter()
        .map(|g| g.name)
        .collect();
    assert_eq!(names, BTreeSet::from(["g".to_string(), "h".to_string()]));
    assert!(
        a.get_consumer_group(&sid, &tid, &id(9))
            .await
            .unwrap()
            .is_none()
    );

    let gid = name("g");
    a.join_consumer_group(&sid, &tid, &gid).await.unwrap();
    let a_id = a.get_me().await.unwrap().client_id;
    assert_eq!(members(&a, &gid).await, vec![(a_id, vec![0, 1, 2, 3])]);
    let me = a.get_me().await.unwrap();
    assert_eq!(me.consumer_groups_count, 1);

    b.join_consumer_group(&sid, &tid, &gid).await.unwrap();
    let b_id = b.get_me().await.unwrap().client_id;
    let both = members(&a, &gid).await;
    let ids: Vec<u32> = both.iter().map(|(id, _)| *id).collect();
    let mut want = vec![a_id, b_id];
    want.sort_unstable();
    assert_eq!(ids, want);
    assert_partitioned(&both, 4);
    assert!(
        both.iter().all(|(_, p)| p.len() == 2),
        "even split: {both:?}"
    );

    a.leave_consumer_group(&sid, &tid, &gid).await.unwrap();
    assert_eq!(members(&b, &gid).await, vec![(b_id, vec![0, 1, 2, 3])]);
    assert_code(
        a.leave_consumer_group(&sid, &tid, &gid).await,
        5006,
        "leave when not a member",
    );

    a.delete_consumer_group(&sid, &tid, &gid).await.unwrap();
    assert!(
        a.get_consumer_group(&sid, &tid, &gid)
            .await
            .unwrap()
            .is_none()
    );
    assert_code(
        a.delete_consumer_group(&sid, &tid, &id(0)).await,
        5000,
        "delete twice",
    );
    assert_code(
        a.join_consumer_group(&sid, &tid, &id(0)).await,
        5000,
        "join a deleted group",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_poll_next_with_auto_commit() {
    let broker = start_broker();
    let client = root(&broker).await;
    let (sid, tid) = stream_and_topic(&client, "s", "t", 2).await;
    for partition in 0..2 {
        let mut messages = text_messages(&format!("p{partition}"), 10);
        client
            .send_messages(
                &sid,
                &tid,
                &Partitioning::partition_id(partition),
                &mut messages,
            )
            .await
            .unwrap();
    }
    let group = client.create_consumer_group(&sid, &tid, "g").await.unwrap();
    let gid = id(group.id);
    client.join_consumer_group(&sid, &tid, &gid).await.unwrap();
    let consumer = Consumer::group(gid.clone());
    let mut seen = BTreeSet::new();
    let started = Instant::now();
    while seen.len() < 20 && started.elapsed() < SETTLE_TIMEOUT {
        let polled = client
            .poll_messages(
                &sid,
                &tid,
                None,
                &consumer,
                &PollingStrategy::next(),
                4,
                true,
            )
            .await
            .unwrap();
        for message in &polled.messages {
            let fresh = seen.insert((polled.partition_id, message.header.offset));
            assert!(fresh, "message delivered twice: {}", polled.partition_id);
        }
        if polled.count == 0 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    assert_eq!(seen.len(), 20, "group consumer saw {seen:?}");
    for partition in 0..2 {
        let polled = client
            .poll_messages(
                &sid,
                &tid,
                Some(partition),
                &consumer,
                &PollingStrategy::next(),
                10,
                true,
            )
            .await
            .unwrap();
        assert_eq!(
            polled.count, 0,
            "partition {partition} consumed, nothing left"
        );
        let offset = client
            .get_consumer_offset(&consumer, &sid, &tid, Some(partition))
            .await
            .unwrap()
            .expect("auto-commit stored the group offset");
        assert_eq!(offset.stored_offset, 9);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn high_level_producer_and_group_consumer() {
    let broker = start_broker();
    let client =
        IggyClient::from_connection_string(&connection_string(&broker, "iggy", "iggy")).unwrap();
    client.connect().await.unwrap();
    let producer = client
        .producer("hl-stream", "hl-topic")
        .unwrap()
        .direct(
            DirectConfig::builder()
                .batch_length(100)
                .linger_time(IggyDuration::from_str("1ms").unwrap())
                .build(),
        )
        .partitioning(Partitioning::balanced())
        .create_stream_if_not_exists()
        .create_topic_if_not_exists(3, IggyExpiry::NeverExpire, MaxTopicSize::Unlimited)
        .build();
    producer.init().await.unwrap();
    let mut sent = BTreeSet::new();
    for round in 0..3 {
        let messages: Vec<IggyMessage> = (0..100)
            .map(|i| {
                let text = format!("hl-{round}-{i}");
                sent.insert(text.clone());
                IggyMessage::from_str(&text).unwrap()
            })
            .collect();
        producer.send(messages).await.unwrap();
    }
    let topic = client
        .get_topic(&name("hl-stream"), &name("hl-topic"))
        .await
        .unwrap()
        .expect("producer created the topic");
    assert_eq!((topic.partitions_count, topic.messages_count), (3, 300));

    let (mut consumer, last_offsets) = consume_all_with_group(&client, &sent).await;
    let group = Consumer::group(name("hl-group"));
    for (partition, last) in last_offsets.iter().enumerate() {
        let last = last.expect("balanced producer filled every partition");
        let partition = partition as u32;
        let stored = eventually("auto-commit of the consumed offsets", || {
            let (client, group) = (&client, &group);
            async move {
                let info = client
                    .get_consumer_offset(
                        group,
                        &name("hl-stream"),
                        &name("hl-topic"),
                        Some(partition),
                    )
                    .await
                    .unwrap()?;
                (info.stored_offset == last).then_some(info.stored_offset)
            }
        })
        .await;
        assert_eq!(stored, last);
    }
    consumer.shutdown().await.unwrap();
    producer.shutdown().await;
}

/// Consumes every message of `sent` once through the high-level group consumer `hl-group`
/// (auto-commit, left running so it keeps committing), and returns it with the last offset
/// seen per partition.
async fn consume_all_with_group(
    client: &IggyClient,
    sent: &BTreeSet<String>,
) -> (IggyConsumer, [Option<u64>; 3]) {
    let mut consumer = client
        .consumer_group("hl-group", "hl-stream", "hl-topic")
        .unwrap()
        .auto_commit(AutoCommit::IntervalOrWhen(
            NonZeroIggyDuration::from_str("100ms").unwrap(),
            AutoCommitWhen::ConsumingAllMessages,
        ))
        .create_consumer_group_if_not_exists()
        .auto_join_consumer_group()
        .polling_strategy(PollingStrategy::next())
        .poll_interval(IggyDuration::from_str("1ms").unwrap())
        .batch_length(100)
        .build();
    consumer.init().await.unwrap();
    let mut received = BTreeSet::new();
    let mut last_offsets = [None; 3];
    let started = Instant::now();
    while received.len() < sent.len() {
        let left = SETTLE_TIMEOUT.saturating_sub(started.elapsed());
        let next = tokio::time::timeout(left, consumer.next()).await;
        let message = match next {
            Ok(Some(Ok(message))) => message,
            Ok(Some(Err(error))) => panic!("consumer error: {error}"),
            Ok(None) => panic!("consumer stream ended"),
            Err(_) => panic!("timed out: received {} of {}", received.len(), sent.len()),
        };
        let text = String::from_utf8(message.message.payload.to_vec()).unwrap();
        assert!(received.insert(text), "duplicate delivery");
        last_offsets[message.partition_id as usize] = Some(message.message.header.offset);
    }
    assert_eq!(&received, sent);
    (consumer, last_offsets)
}

/// Spawns this test binary in member mode; returns the child and its server-side client id.
fn spawn_member(broker: &WhippetProcess) -> (Child, u32) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["group_member_child", "--exact", "--ignored", "--nocapture"])
        .env(MEMBER_ADDR_ENV, broker.native_addr().to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(id) = line.strip_prefix("joined ") {
                let _ = sender.send(id.trim().parse::<u32>());
            }
        }
    });
    let client_id = receiver
        .recv_timeout(SETTLE_TIMEOUT)
        .expect("member child did not join")
        .unwrap();
    (child, client_id)
}

fn signal(child: &Child, signal: Signal) {
    kill(Pid::from_raw(child.id() as i32), signal).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_and_silent_members_are_evicted() {
    let broker = Launch::new()
        .args([
            "--native-heartbeat-timeout-ms".to_string(),
            HEARTBEAT_TIMEOUT_MS.to_string(),
        ])
        .start()
        .unwrap();
    let survivor = root(&broker).await;
    let (sid, tid) = stream_and_topic(&survivor, "s", "t", 4).await;
    for partition in 0..4 {
        let mut messages = text_messages(&format!("e{partition}"), 5);
        survivor
            .send_messages(
                &sid,
                &tid,
                &Partitioning::partition_id(partition),
                &mut messages,
            )
            .await
            .unwrap();
    }
    let gid = id(survivor
        .create_consumer_group(&sid, &tid, "g")
        .await
        .unwrap()
        .id);
    survivor
        .join_consumer_group(&sid, &tid, &gid)
        .await
        .unwrap();
    let survivor_id = survivor.get_me().await.unwrap().client_id;
    let (mut killed, killed_id) = spawn_member(&broker);
    let (mut stopped, stopped_id) = spawn_member(&broker);
    let three = members(&survivor, &gid).await;
    let mut want: Vec<u32> = vec![survivor_id, killed_id, stopped_id];
    want.sort_unstable();
    assert_eq!(three.iter().map(|(id, _)| *id).collect::<Vec<_>>(), want);
    assert_partitioned(&three, 4);

    // SIGKILL: the socket closes; the member goes and its partitions move.
    signal(&killed, Signal::SIGKILL);
    let _ = killed.wait();
    let two = eventually("the killed member's eviction", || async {
        let now = members(&survivor, &gid).await;
        (now.len() == 2).then_some(now)
    })
    .await;
    assert!(two.iter().all(|(id, _)| *id != killed_id), "{two:?}");
    assert_partitioned(&two, 4);

    // SIGSTOP: the socket stays open but silent past the heartbeat timeout.
    signal(&stopped, Signal::SIGSTOP);
    let paused = Instant::now();
    let one = eventually("the silent member's eviction", || async {
        let now = members(&survivor, &gid).await;
        (now.len() == 1).then_some(now)
    })
    .await;
    assert!(
        paused.elapsed() >= Duration::from_millis(HEARTBEAT_TIMEOUT_MS / 2),
        "evicted before the heartbeat timeout could pass"
    );
    assert_eq!(one, vec![(survivor_id, vec![0, 1, 2, 3])]);
    signal(&stopped, Signal::SIGKILL);
    let _ = stopped.wait();

    consume_every_partition(&survivor, &sid, &tid, &gid).await;
}

/// The survivor of `killed_and_silent_members_are_evicted` now consumes all 20 messages of the
/// 4 partitions through the group.
async fn consume_every_partition(
    survivor: &IggyClient,
    sid: &Identifier,
    tid: &Identifier,
    gid: &Identifier,
) {
    let (sid, tid) = (sid.clone(), tid.clone());
    let consumer = Consumer::group(gid.clone());
    let mut seen = BTreeSet::new();
    let started = Instant::now();
    while seen.len() < 20 && started.elapsed() < SETTLE_TIMEOUT {
        let polled = survivor
            .poll_messages(
                &sid,
                &tid,
                None,
                &consumer,
                &PollingStrategy::next(),
                5,
                true,
            )
            .await
            .unwrap();
        for message in &polled.messages {
            seen.insert((polled.partition_id, message.header.offset));
        }
        if polled.count == 0 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    assert_eq!(seen.len(), 20, "survivor consumed {seen:?}");
}

/// Not a test on its own: the member process of `killed_and_silent_members_are_evicted`. It
/// joins group `g` of `s`/`t`, prints `joined <client id>` and waits to be killed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "child-process entry point of killed_and_silent_members_are_evicted"]
async fn group_member_child() {
    let addr = std::env::var(MEMBER_ADDR_ENV).expect("run by the eviction test only");
    let client = IggyClient::from_connection_string(&format!("iggy://iggy:iggy@{addr}")).unwrap();
    client.connect().await.unwrap();
    client
        .join_consumer_group(&name("s"), &name("t"), &name("g"))
        .await
        .unwrap();
    let me = client.get_me().await.unwrap();
    println!("joined {}", me.client_id);
    std::io::stdout().flush().unwrap();
    tokio::time::sleep(Duration::from_secs(600)).await;
}
