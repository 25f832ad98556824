//! Users, personal access tokens and permission enforcement through the official `iggy` 0.11.0
//! SDK against the real `whippet` binary (see `native_sdk.rs` for the rest of the surface).
#![allow(clippy::unwrap_used)]

mod native_sdk_common;

use std::collections::BTreeMap;
use std::time::Duration;

use iggy::prelude::*;
use native_sdk_common::*;

/// SDK error codes (`IggyError::as_code`) these tests expect.
const UNAUTHENTICATED: u32 = 40;
const UNAUTHORIZED: u32 = 41;
const INVALID_CREDENTIALS: u32 = 42;
const USER_ALREADY_EXISTS: u32 = 46;
const PAT_ALREADY_EXISTS: u32 = 51;
const INVALID_PAT: u32 = 53;

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

/// A client that tries to log in as `user` and returns the SDK's result.
async fn try_login(broker: &whippet_compat_tests::WhippetProcess, user: &str, pw: &str) -> u32 {
    let client = connect(broker).await;
    match client.login_user(user, pw).await {
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
    assert_code(
        client
            .create_user("alice", "other-pass", UserStatus::Active, None)
            .await,
        USER_ALREADY_EXISTS,
        "duplicate user",
    );

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
    assert_eq!(
        try_login(&broker, "alice", "alice-pass").await,
        INVALID_CREDENTIALS
    );

    // Permissions update takes effect on the next command of an open session.
    alice.get_streams().await.unwrap();
    client.update_permissions(&id(1), None).await.unwrap();
    assert_eq!(
        client.get_user(&id(1)).await.unwrap().unwrap().permissions,
        None
    );
    assert_code(alice.get_streams().await, UNAUTHORIZED, "read after revoke");

    client
        .update_user(
            &id(1),
            Some("alice2"),
            Some(UserStatus::Inactive),
            &UserUpdateOptions::default(),
        )
        .await
        .unwrap();
    let renamed = client.get_user(&id(1)).await.unwrap().unwrap();
    assert_eq!(
        (renamed.username.as_str(), renamed.status),
        ("alice2", UserStatus::Inactive)
    );
    let inactive = connect(&broker).await;
    assert!(
        inactive.login_user("alice2", "alice-new").await.is_err(),
        "an inactive user must not log in"
    );

    client.delete_user(&id(1)).await.unwrap();
    assert!(client.get_user(&id(1)).await.unwrap().is_none());
    assert_eq!(
        try_login(&broker, "alice2", "alice-new").await,
        INVALID_CREDENTIALS
    );
    // Lowest free id again.
    let again = client
        .create_user("bob", "bob-pass", UserStatus::Active, None)
        .await
        .unwrap();
    assert_eq!(again.id, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_and_unauthenticated_calls() {
    let broker = start_broker();
    assert_eq!(
        try_login(&broker, "iggy", "wrong").await,
        INVALID_CREDENTIALS
    );
    assert_eq!(
        try_login(&broker, "nobody", "wrong").await,
        INVALID_CREDENTIALS
    );
    let anonymous = connect(&broker).await;
    anonymous.ping().await.unwrap();
    assert_code(
        anonymous.get_streams().await,
        UNAUTHENTICATED,
        "get_streams",
    );
    assert_code(
        anonymous.create_stream("x").await,
        UNAUTHENTICATED,
        "create",
    );
    // The broker keeps serving.
    root(&broker).await.get_streams().await.unwrap();
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
    assert_code(
        client
            .create_personal_access_token("ci-token", PersonalAccessTokenExpiry::NeverExpire)
            .await,
        PAT_ALREADY_EXISTS,
        "duplicate token name",
    );
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
    let expires = tokens["hourly"]
        .expect("hourly token has an expiry")
        .as_micros();
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
    assert_code(
        bad.login_with_personal_access_token("not-a-token-at-all-0000")
            .await,
        INVALID_PAT,
        "unknown token",
    );

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
    let after_delete = connect(&broker).await;
    assert_code(
        after_delete
            .login_with_personal_access_token(&raw.token)
            .await,
        INVALID_PAT,
        "deleted token",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_token_is_refused() {
    let broker = start_broker();
    let client = root(&broker).await;
    let second = IggyExpiry::ExpireDuration(IggyDuration::from(Duration::from_secs(1)));
    let raw = client
        .create_personal_access_token("short", second)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let late = connect(&broker).await;
    assert_code(
        late.login_with_personal_access_token(&raw.token).await,
        INVALID_PAT,
        "expired token",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permissions_are_enforced() {
    let broker = start_broker();
    let admin = root(&broker).await;
    let (sid, tid) = stream_and_topic(&admin, "open", "t", 1).await;
    let (other_sid, other_tid) = stream_and_topic(&admin, "closed", "t", 1).await;
    let mut messages = text_messages("seed", 3);
    admin
        .send_messages(&sid, &tid, &Partitioning::partition_id(0), &mut messages)
        .await
        .unwrap();

    // Read-only: can read and poll, cannot send, create or administer.
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
    // The two streams created above (the Kafka listener's stream appears only with the first
    // Kafka topic).
    assert_eq!(reader.get_streams().await.unwrap().len(), 2);
    let polled = poll(&reader, &sid, &tid, 0, PollingStrategy::first(), 10).await;
    assert_eq!(payloads(&polled), vec!["seed-0", "seed-1", "seed-2"]);
    let mut messages = text_messages("denied", 1);
    assert_code(
        reader
            .send_messages(&sid, &tid, &Partitioning::partition_id(0), &mut messages)
            .await,
        UNAUTHORIZED,
        "send without send permission",
    );
    assert_code(
        reader.create_stream("mine").await,
        UNAUTHORIZED,
        "create stream",
    );
    assert_code(
        reader
            .create_topic(&sid, "mine", &TopicCreateOptions::default())
            .await,
        UNAUTHORIZED,
        "create topic",
    );
    assert_code(
        reader.delete_stream(&sid).await,
        UNAUTHORIZED,
        "delete stream",
    );
    assert_code(reader.get_users().await, UNAUTHORIZED, "get_users");
    assert_code(
        reader
            .create_user("evil", "evil-pass", UserStatus::Active, None)
            .await,
        UNAUTHORIZED,
        "create_user",
    );
    assert_code(reader.get_stats().await, UNAUTHORIZED, "get_stats");
    assert_code(reader.get_clients().await, UNAUTHORIZED, "get_clients");
    // Nothing the reader tried was applied.
    assert_eq!(
        poll(&admin, &sid, &tid, 0, PollingStrategy::first(), 10)
            .await
            .count,
        3
    );
    assert_eq!(admin.get_streams().await.unwrap().len(), 2);

    send_only_on_one_stream(&broker, &admin, (&sid, &tid), (&other_sid, &other_tid)).await;
}

/// Second half of `permissions_are_enforced`: a user allowed to send to one stream only (stream
/// level permissions); `open` holds the 3 seed messages, `closed` none.
async fn send_only_on_one_stream(
    broker: &whippet_compat_tests::WhippetProcess,
    admin: &IggyClient,
    (sid, tid): (&Identifier, &Identifier),
    (other_sid, other_tid): (&Identifier, &Identifier),
) {
    let (sid, tid, other_sid, other_tid) = (
        sid.clone(),
        tid.clone(),
        other_sid.clone(),
        other_tid.clone(),
    );
    let sender_permissions = Permissions {
        global: GlobalPermissions::default(),
        streams: Some(BTreeMap::from([(
            sid_value(&sid),
            StreamPermissions {
                send_messages: true,
                ..Default::default()
            },
        )])),
    };
    admin
        .create_user(
            "sender",
            "sender-pass",
            UserStatus::Active,
            Some(sender_permissions),
        )
        .await
        .unwrap();
    let sender = login(broker, "sender", "sender-pass").await;
    let mut messages = text_messages("allowed", 2);
    sender
        .send_messages(&sid, &tid, &Partitioning::partition_id(0), &mut messages)
        .await
        .unwrap();
    let mut messages = text_messages("elsewhere", 1);
    assert_code(
        sender
            .send_messages(
                &other_sid,
                &other_tid,
                &Partitioning::partition_id(0),
                &mut messages,
            )
            .await,
        UNAUTHORIZED,
        "send to a stream without permission",
    );
    assert_code(
        sender
            .poll_messages(
                &sid,
                &tid,
                Some(0),
                &Consumer::new(id(1)),
                &PollingStrategy::first(),
                10,
                false,
            )
            .await,
        UNAUTHORIZED,
        "poll without poll permission",
    );
    assert_eq!(
        poll(admin, &sid, &tid, 0, PollingStrategy::first(), 10)
            .await
            .count,
        5
    );
    assert_eq!(
        poll(
            admin,
            &other_sid,
            &other_tid,
            0,
            PollingStrategy::first(),
            10
        )
        .await
        .count,
        0
    );
}

/// The numeric value of a numeric identifier, as the permissions map keys it.
fn sid_value(identifier: &Identifier) -> usize {
    identifier.get_u32_value().unwrap() as usize
}
