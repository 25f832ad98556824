//! Users, personal access tokens, permission enforcement and consumer groups through the official
//! `iggy` 0.10.0 SDK (classic framing) against the real `whippet` binary: user CRUD, password
//! change, login as another user, permission denied, token login, wrong password; group CRUD,
//! join/leave from two clients, group polls that deliver each message once across the members,
//! and the high-level producer and `IggyConsumer` builders (see `classic_sdk.rs` for the rest).
#![allow(clippy::unwrap_used)]

mod classic_common;

use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;
use std::time::{Duration, Instant};

use classic_common::*;
use futures_util::StreamExt;
use iggy::prelude::*;
use whippet_compat_tests::WhippetProcess;

/// Read everything, poll everything; nothing else.
fn read_only() -> Permissions {
    Permissions {
        global: GlobalPermissions {
            read_streams: true,
            read_topics: true,
            poll_messages: true,
            ..Default::default()
        },
        streams: None,
    }
}

/// Connects, tries to log in as `user` and returns the error code (panics on success).
async fn try_login(broker: &WhippetProcess, user: &str, password: &str) -> u32 {
    let client = connect(broker).await;
    match client.login_user(user, password).await {
        Ok(identity) => panic!("login as {user} succeeded: {identity:?}"),
        Err(error) => error.as_code(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_crud_password_and_permissions() {
    let broker = start_broker();
    let client = root(&broker).await;
    let created = client
        .create_user("alice", "alice-pass", UserStatus::Active, Some(read_only()))
        .await
        .unwrap();
    assert_eq!((created.id, created.username.as_str()), (1, "alice"));
    assert_eq!(created.permissions, Some(read_only()));
    let duplicate = client
        .create_user("alice", "other-pass", UserStatus::Active, None)
        .await;
    assert_code(duplicate, code::USER_ALREADY_EXISTS, "duplicate user");

    let by_name = client.get_user(&name("alice")).await.unwrap().unwrap();
    assert_eq!((by_name.id, by_name.status), (1, UserStatus::Active));
    assert_eq!(by_name.permissions, Some(read_only()));
    let root_user = client.get_user(&id(0)).await.unwrap().unwrap();
    assert_eq!(root_user.username, DEFAULT_ROOT_USERNAME);
    assert!(client.get_user(&id(77)).await.unwrap().is_none());
    let mut names: Vec<String> = client
        .get_users()
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.username)
        .collect();
    names.sort();
    assert_eq!(names, vec!["alice".to_string(), "iggy".to_string()]);

    // Password change: the new password works, the old one does not.
    client
        .change_password(&id(1), "alice-pass", "alice-new")
        .await
        .unwrap();
    let alice = login(&broker, "alice", "alice-new").await;
    assert_eq!(alice.get_me().await.unwrap().user_id, Some(1));
    let old = try_login(&broker, "alice", "alice-pass").await;
    assert_eq!(old, code::INVALID_CREDENTIALS);

    // A permissions update takes effect on the next command of an open session.
    alice.get_streams().await.unwrap();
    client.update_permissions(&id(1), None).await.unwrap();
    let user = client.get_user(&id(1)).await.unwrap().unwrap();
    assert_eq!(user.permissions, None);
    assert_code(
        alice.get_streams().await,
        code::UNAUTHORIZED,
        "read after revoke",
    );

    client
        .update_user(&id(1), Some("alice2"), Some(UserStatus::Inactive))
        .await
        .unwrap();
    let renamed = client.get_user(&id(1)).await.unwrap().unwrap();
    assert_eq!(
        (renamed.username.as_str(), renamed.status),
        ("alice2", UserStatus::Inactive)
    );
    let inactive = connect(&broker).await;
    let refused = inactive.login_user("alice2", "alice-new").await;
    assert!(refused.is_err(), "an inactive user must not log in");

    client.delete_user(&id(1)).await.unwrap();
    assert!(client.get_user(&id(1)).await.unwrap().is_none());
    let gone = try_login(&broker, "alice2", "alice-new").await;
    assert_eq!(gone, code::INVALID_CREDENTIALS);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_then_the_broker_keeps_serving() {
    let broker = start_broker();
    let wrong = try_login(&broker, "iggy", "wrong").await;
    assert_eq!(wrong, code::INVALID_CREDENTIALS);
    let nobody = try_login(&broker, "nobody", "wrong").await;
    assert_eq!(nobody, code::INVALID_CREDENTIALS);
    // A failed login leaves the connection usable: the right password then works on it.
    let client = connect(&broker).await;
    assert!(client.login_user("iggy", "nope").await.is_err());
    client.ping().await.unwrap();
    client.login_user("iggy", "iggy").await.unwrap();
    client.get_streams().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn personal_access_tokens() {
    let broker = start_broker();
    let client = root(&broker).await;
    let raw = client
        .create_personal_access_token("ci-token", PersonalAccessTokenExpiry::NeverExpire)
        .await
        .unwrap();
    assert!(raw.token.len() >= 16, "token too short: {:?}", raw.token);
    let duplicate = client
        .create_personal_access_token("ci-token", PersonalAccessTokenExpiry::NeverExpire)
        .await;
    assert_code(duplicate, code::PAT_ALREADY_EXISTS, "duplicate token name");
    let hour = IggyExpiry::ExpireDuration(IggyDuration::from(Duration::from_secs(3600)));
    client
        .create_personal_access_token("hourly", hour)
        .await
        .unwrap();
    let tokens: BTreeMap<String, Option<IggyTimestamp>> = client
        .get_personal_access_tokens()
        .await
        .unwrap()
        .into_iter()
        .map(|t| (t.name, t.expiry_at))
        .collect();
    assert_eq!(tokens.len(), 2, "{tokens:?}");
    assert_eq!(tokens["ci-token"], None);
    let expires = tokens["hourly"].expect("hourly token expires").as_micros();
    let in_an_hour = IggyTimestamp::now().as_micros() + 3_600_000_000;
    assert!(
        expires.abs_diff(in_an_hour) < 60_000_000,
        "expiry {expires}"
    );

    let by_token = connect(&broker).await;
    let identity = by_token
        .login_with_personal_access_token(&raw.token)
        .await
        .unwrap();
    assert_eq!(identity.user_id, 0);
    assert_eq!(by_token.get_me().await.unwrap().user_id, Some(0));
    by_token.get_streams().await.unwrap();

    let bad = connect(&broker).await;
    let unknown = bad
        .login_with_personal_access_token("not-a-token-at-all-0000")
        .await;
    assert_code(unknown, code::INVALID_PAT, "unknown token");

    client
        .delete_personal_access_token("ci-token")
        .await
        .unwrap();
    let left: Vec<String> = client
        .get_personal_access_tokens()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(left, vec!["hourly".to_string()]);
    let after = connect(&broker).await;
    let deleted = after.login_with_personal_access_token(&raw.token).await;
    assert_code(deleted, code::INVALID_PAT, "deleted token");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permissions_are_enforced() {
    let broker = start_broker();
    let admin = root(&broker).await;
    let (sid, tid) = stream_and_topic(&admin, "open", "t", 1).await;
    send_to(&admin, (&sid, &tid), 0, text_messages("seed", 3)).await;
    admin
        .create_user(
            "reader",
            "reader-pass",
            UserStatus::Active,
            Some(read_only()),
        )
        .await
        .unwrap();
    let reader = login(&broker, "reader", "reader-pass").await;
    assert_eq!(
        reader.get_streams().await.unwrap().len(),
        1,
        "only open (no Kafka topic yet)"
    );
    let polled = poll(&reader, &sid, &tid, 0, PollingStrategy::first(), 10).await;
    assert_eq!(payloads(&polled), vec!["seed-0", "seed-1", "seed-2"]);
    let mut denied = text_messages("denied", 1);
    let send = reader
        .send_messages(&sid, &tid, &Partitioning::partition_id(0), &mut denied)
        .await;
    assert_code(send, code::UNAUTHORIZED, "send without send permission");
    let create = reader.create_stream("mine").await;
    assert_code(create, code::UNAUTHORIZED, "create stream");
    let topic = create_topic(&reader, &sid, "mine", 1).await;
    assert_code(topic, code::UNAUTHORIZED, "create topic");
    assert_code(
        reader.delete_stream(&sid).await,
        code::UNAUTHORIZED,
        "delete",
    );
    assert_code(reader.get_users().await, code::UNAUTHORIZED, "get_users");
    let user = reader
        .create_user("evil", "evil-pass", UserStatus::Active, None)
        .await;
    assert_code(user, code::UNAUTHORIZED, "create_user");
    assert_code(reader.get_stats().await, code::UNAUTHORIZED, "get_stats");
    // Nothing the reader tried was applied.
    let polled = poll(&admin, &sid, &tid, 0, PollingStrategy::first(), 10).await;
    assert_eq!(polled.count, 3);
    assert_eq!(admin.get_streams().await.unwrap().len(), 1);
    let users = admin.get_users().await.unwrap();
    assert!(users.iter().all(|u| u.username != "evil"), "{users:?}");
}

/// The members of group `g` of `s`/`t` as (member id, sorted partitions).
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
        code::CONSUMER_GROUP_NAME_EXISTS,
        "duplicate group",
    );
    assert_eq!(
        a.create_consumer_group(&sid, &tid, "h").await.unwrap().id,
        1
    );
    let names: BTreeSet<String> = a
        .get_consumer_groups(&sid, &tid)
        .await
        .unwrap()
        .into_iter()
        .map(|g| g.name)
        .collect();
    assert_eq!(names, BTreeSet::from(["g".to_string(), "h".to_string()]));
    let missing = a.get_consumer_group(&sid, &tid, &id(9)).await.unwrap();
    assert!(missing.is_none(), "{missing:?}");

    let gid = name("g");
    a.join_consumer_group(&sid, &tid, &gid).await.unwrap();
    let a_id = a.get_me().await.unwrap().client_id;
    assert_eq!(members(&a, &gid).await, vec![(a_id, vec![0, 1, 2, 3])]);
    assert_eq!(a.get_me().await.unwrap().consumer_groups_count, 1);
    b.join_consumer_group(&sid, &tid, &gid).await.unwrap();
    let b_id = b.get_me().await.unwrap().client_id;
    let both = members(&a, &gid).await;
    let mut want = vec![a_id, b_id];
    want.sort_unstable();
    assert_eq!(both.iter().map(|(id, _)| *id).collect::<Vec<_>>(), want);
    let mut all: Vec<u32> = both.iter().flat_map(|(_, p)| p.clone()).collect();
    all.sort_unstable();
    assert_eq!(all, vec![0, 1, 2, 3], "disjoint, complete: {both:?}");
    assert!(
        both.iter().all(|(_, p)| p.len() == 2),
        "even split: {both:?}"
    );

    a.leave_consumer_group(&sid, &tid, &gid).await.unwrap();
    assert_eq!(members(&b, &gid).await, vec![(b_id, vec![0, 1, 2, 3])]);
    assert_code(
        a.leave_consumer_group(&sid, &tid, &gid).await,
        code::CONSUMER_GROUP_MEMBER_NOT_FOUND,
        "leave when not a member",
    );
    a.delete_consumer_group(&sid, &tid, &gid).await.unwrap();
    let deleted = a.get_consumer_group(&sid, &tid, &gid).await.unwrap();
    assert!(deleted.is_none(), "{deleted:?}");
    assert_code(
        a.join_consumer_group(&sid, &tid, &id(0)).await,
        code::CONSUMER_GROUP_NOT_FOUND,
        "join a deleted group",
    );
}

/// Polls group `gid` with `next` and auto-commit until nothing is left for `client`; returns
/// (partition, offset, payload) of everything it got.
async fn drain_group(
    client: &IggyClient,
    target: (&Identifier, &Identifier),
    gid: &Identifier,
) -> Vec<(u32, u64, String)> {
    let consumer = Consumer::group(gid.clone());
    let mut got = Vec::new();
    let mut empty_polls = 0;
    while empty_polls < 5 {
        let polled = client
            .poll_messages(
                target.0,
                target.1,
                None,
                &consumer,
                &PollingStrategy::next(),
                7,
                true,
            )
            .await
            .unwrap();
        if polled.messages.is_empty() {
            empty_polls += 1;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        for message in &polled.messages {
            let text = String::from_utf8(message.payload.to_vec()).unwrap();
            got.push((polled.partition_id, message.header.offset, text));
        }
    }
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_members_consume_each_message_once() {
    let broker = start_broker();
    let a = root(&broker).await;
    let b = root(&broker).await;
    let (sid, tid) = stream_and_topic(&a, "s", "t", 4).await;
    let mut sent = BTreeSet::new();
    for partition in 0..4 {
        let messages = text_messages(&format!("p{partition}"), 25);
        sent.extend(payloads_of(&messages));
        send_to(&a, (&sid, &tid), partition, messages).await;
    }
    let gid = id(a.create_consumer_group(&sid, &tid, "g").await.unwrap().id);
    a.join_consumer_group(&sid, &tid, &gid).await.unwrap();
    b.join_consumer_group(&sid, &tid, &gid).await.unwrap();
    let (got_a, got_b) = tokio::join!(
        drain_group(&a, (&sid, &tid), &gid),
        drain_group(&b, (&sid, &tid), &gid)
    );
    let parts_a: BTreeSet<u32> = got_a.iter().map(|(p, _, _)| *p).collect();
    let parts_b: BTreeSet<u32> = got_b.iter().map(|(p, _, _)| *p).collect();
    assert!(
        !got_a.is_empty() && !got_b.is_empty(),
        "both members consume"
    );
    assert!(
        parts_a.is_disjoint(&parts_b),
        "members share partitions: {parts_a:?} {parts_b:?}"
    );
    let all: Vec<String> = got_a
        .iter()
        .chain(&got_b)
        .map(|(_, _, t)| t.clone())
        .collect();
    let distinct: BTreeSet<String> = all.iter().cloned().collect();
    assert_eq!(all.len(), distinct.len(), "a message was delivered twice");
    assert_eq!(distinct, sent, "every message consumed");
    // Auto-commit stored the last offset of each partition a member consumed.
    for (client, parts) in [(&a, &parts_a), (&b, &parts_b)] {
        for &partition in parts {
            let offset = client
                .get_consumer_offset(&Consumer::group(gid.clone()), &sid, &tid, Some(partition))
                .await
                .unwrap()
                .expect("auto-commit stored the group offset");
            assert_eq!(offset.stored_offset, 24, "partition {partition}");
        }
    }
    a.leave_consumer_group(&sid, &tid, &gid).await.unwrap();
    b.leave_consumer_group(&sid, &tid, &gid).await.unwrap();
    assert!(members(&a, &gid).await.is_empty());
}

/// Iggy server 0.8 (the classic SDK's server) lets any member of a group store and read the
/// group's offset of any partition when it names the partition (`resolve_consumer_with_partition_id`
/// checks membership, not ownership); a 0.10 SDK knows no status for "partition not owned".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn member_reads_and_stores_the_group_offset_of_any_partition() {
    let broker = start_broker();
    let a = root(&broker).await;
    let b = root(&broker).await;
    let (sid, tid) = stream_and_topic(&a, "s", "t", 2).await;
    for partition in 0..2 {
        send_to(&a, (&sid, &tid), partition, text_messages("m", 10)).await;
    }
    let gid = id(a.create_consumer_group(&sid, &tid, "g").await.unwrap().id);
    a.join_consumer_group(&sid, &tid, &gid).await.unwrap();
    b.join_consumer_group(&sid, &tid, &gid).await.unwrap();
    let assignment = members(&a, &gid).await;
    let a_id = a.get_me().await.unwrap().client_id;
    let owned_by_b = assignment
        .iter()
        .find(|(member, _)| *member != a_id)
        .map(|(_, partitions)| partitions[0])
        .expect("b owns a partition");
    let group = Consumer::group(gid.clone());
    b.store_consumer_offset(&group, &sid, &tid, Some(owned_by_b), 6)
        .await
        .unwrap();
    let read = a
        .get_consumer_offset(&group, &sid, &tid, Some(owned_by_b))
        .await;
    let read = read.unwrap_or_else(|e| panic!("a reads b's partition: {e:?} ({})", e.as_code()));
    assert_eq!(read.map(|o| o.stored_offset), Some(6));
    let store = a
        .store_consumer_offset(&group, &sid, &tid, Some(owned_by_b), 7)
        .await;
    store.unwrap_or_else(|e| panic!("a stores on b's partition: {e:?} ({})", e.as_code()));
}

fn payloads_of(messages: &[IggyMessage]) -> Vec<String> {
    messages
        .iter()
        .map(|m| String::from_utf8(m.payload.to_vec()).unwrap())
        .collect()
}

/// The high-level producer (creates stream and topic) sends 300 messages, balanced.
async fn produce_high_level(client: &IggyClient) -> BTreeSet<String> {
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
        .create_topic_if_not_exists(3, None, IggyExpiry::NeverExpire, MaxTopicSize::Unlimited)
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
    producer.shutdown().await;
    sent
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn high_level_producer_and_group_consumer() {
    let broker = start_broker();
    let client =
        IggyClient::from_connection_string(&connection_string(&broker, "iggy", "iggy")).unwrap();
    client.connect().await.unwrap();
    let sent = produce_high_level(&client).await;
    let (stream, topic) = (name("hl-stream"), name("hl-topic"));
    let details = client.get_topic(&stream, &topic).await.unwrap().unwrap();
    assert_eq!((details.partitions_count, details.messages_count), (3, 300));

    let mut consumer = client
        .consumer_group("hl-group", "hl-stream", "hl-topic")
        .unwrap()
        .auto_commit(AutoCommit::IntervalOrWhen(
            IggyDuration::from_str("100ms").unwrap(),
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
        let message = match tokio::time::timeout(left, consumer.next()).await {
            Ok(Some(Ok(message))) => message,
            Ok(Some(Err(error))) => panic!("consumer error: {error}"),
            Ok(None) => panic!("consumer stream ended"),
            Err(_) => panic!("timed out: received {} of {}", received.len(), sent.len()),
        };
        let text = String::from_utf8(message.message.payload.to_vec()).unwrap();
        assert!(received.insert(text), "duplicate delivery");
        last_offsets[message.partition_id as usize] = Some(message.message.header.offset);
    }
    assert_eq!(received, sent);
    let group = Consumer::group(name("hl-group"));
    for (partition, last) in last_offsets.iter().enumerate() {
        let last = last.expect("balanced producer filled every partition");
        let partition = partition as u32;
        let (client, group, stream, topic) = (&client, &group, &stream, &topic);
        eventually("auto-commit of the consumed offsets", || async move {
            let info = client
                .get_consumer_offset(group, stream, topic, Some(partition))
                .await
                .unwrap()?;
            (info.stored_offset == last).then_some(())
        })
        .await;
    }
    consumer.shutdown().await.unwrap();
}
