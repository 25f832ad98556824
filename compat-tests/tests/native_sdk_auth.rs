//! Native authentication against attack, through the official `iggy` 0.11.0 SDK and the real
//! `whippet` binary: user management cannot raise privileges or touch root, revoking a user or
//! a token ends its open sessions at their next request, and failed logins are throttled per
//! client address.
#![allow(clippy::unwrap_used)]

mod native_sdk_common;

use std::time::{Duration, Instant};

use iggy::prelude::*;
use native_sdk_common::*;

/// SDK error codes (`IggyError::as_code`) these tests expect.
const UNAUTHENTICATED: u32 = 40;
const UNAUTHORIZED: u32 = 41;
const INVALID_CREDENTIALS: u32 = 42;
const INVALID_PAT: u32 = 53;

fn user_manager() -> Permissions {
    Permissions {
        global: GlobalPermissions {
            manage_users: true,
            read_users: true,
            ..Default::default()
        },
        streams: None,
    }
}

fn everything() -> Permissions {
    Permissions {
        global: GlobalPermissions {
            manage_servers: true,
            read_servers: true,
            manage_users: true,
            read_users: true,
            manage_streams: true,
            read_streams: true,
            manage_topics: true,
            read_topics: true,
            poll_messages: true,
            send_messages: true,
        },
        streams: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_management_cannot_escalate_or_touch_root() {
    let broker = start_broker();
    let admin = root(&broker).await;
    let manager = admin
        .create_user(
            "manager",
            "manager-pass",
            UserStatus::Active,
            Some(user_manager()),
        )
        .await
        .unwrap();
    let client = login(&broker, "manager", "manager-pass").await;
    assert_code(
        client
            .update_permissions(&id(manager.id), Some(everything()))
            .await,
        UNAUTHORIZED,
        "grant itself every permission",
    );
    assert_code(
        client
            .create_user(
                "sidekick",
                "sidekick-pass",
                UserStatus::Active,
                Some(everything()),
            )
            .await,
        UNAUTHORIZED,
        "create a user with more than it holds",
    );
    assert_code(
        client
            .update_user(
                &id(0),
                None,
                Some(UserStatus::Inactive),
                &UserUpdateOptions::default(),
            )
            .await,
        UNAUTHORIZED,
        "deactivate root",
    );
    assert_code(
        client.delete_user(&id(0)).await,
        UNAUTHORIZED,
        "delete root",
    );
    // What it holds it may still hand on.
    client
        .create_user(
            "helper",
            "helper-pass",
            UserStatus::Active,
            Some(user_manager()),
        )
        .await
        .unwrap();
    let me = admin.get_user(&id(manager.id)).await.unwrap().unwrap();
    assert_eq!(me.permissions, Some(user_manager()));
    let root_user = admin.get_user(&id(0)).await.unwrap().unwrap();
    assert_eq!(root_user.status, UserStatus::Active);
    admin.get_streams().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoking_a_user_or_token_ends_open_sessions() {
    let broker = start_broker();
    let admin = root(&broker).await;
    let read_streams = Permissions {
        global: GlobalPermissions {
            read_streams: true,
            ..Default::default()
        },
        streams: None,
    };
    let alice = admin
        .create_user(
            "alice",
            "alice-pass",
            UserStatus::Active,
            Some(read_streams.clone()),
        )
        .await
        .unwrap();
    admin
        .create_user("bob", "bob-pass", UserStatus::Active, Some(read_streams))
        .await
        .unwrap();

    // A password session of a user who is then deactivated.
    let alice_session = login(&broker, "alice", "alice-pass").await;
    alice_session.get_streams().await.unwrap();
    admin
        .update_user(
            &id(alice.id),
            None,
            Some(UserStatus::Inactive),
            &UserUpdateOptions::default(),
        )
        .await
        .unwrap();
    assert_code(
        alice_session.get_streams().await,
        UNAUTHENTICATED,
        "deactivated user's open session",
    );

    // A token session whose token is then deleted; the owner's password session lives on.
    let bob_password = login(&broker, "bob", "bob-pass").await;
    let raw = bob_password
        .create_personal_access_token("laptop", PersonalAccessTokenExpiry::NeverExpire)
        .await
        .unwrap();
    let bob_token = connect(&broker).await;
    bob_token
        .login_with_personal_access_token(&raw.token)
        .await
        .unwrap();
    bob_token.get_streams().await.unwrap();
    bob_password
        .delete_personal_access_token("laptop")
        .await
        .unwrap();
    // The SDK answers Unauthenticated by logging in again with the token it holds, which the
    // broker now refuses (53): either way the session does not go on.
    let error = bob_token.get_streams().await.unwrap_err().as_code();
    assert!(
        [UNAUTHENTICATED, INVALID_PAT].contains(&error),
        "session of a deleted token: got {error}"
    );
    bob_password.get_streams().await.unwrap();
}

/// Median time of `attempts` failed logins as `user`, each on a fresh connection.
async fn failed_login_time(broker: &whippet_compat_tests::WhippetProcess, user: &str) -> Duration {
    let mut times = Vec::new();
    for _ in 0..3 {
        let client = connect(broker).await;
        let started = Instant::now();
        assert_code(
            client.login_user(user, "wrong-password").await,
            INVALID_CREDENTIALS,
            "wrong password",
        );
        times.push(started.elapsed());
    }
    times.sort();
    times[1]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_logins_are_throttled_and_cost_the_same_for_unknown_users() {
    let broker = start_broker();
    let known = failed_login_time(&broker, "iggy").await;
    let unknown = failed_login_time(&broker, "nobody-here").await;
    // The unknown name is checked against a dummy hash of the same cost; without it the
    // failure comes back in a fraction of a millisecond while a real user's takes a full
    // password hash (about 25 ms in release, more in debug).
    assert!(
        unknown * 4 >= known,
        "unknown user failed in {unknown:?}, known user in {known:?}"
    );
    // Rounds of failures use up the address's allowance, after which even the right password
    // is refused from this address until it refills (one per second).
    let mut refused_right_password = false;
    for _ in 0..10 {
        for _ in 0..5 {
            let client = connect(&broker).await;
            if let Err(error) = client.login_user("iggy", "wrong-password").await {
                assert_eq!(error.as_code(), INVALID_CREDENTIALS);
            }
        }
        let right = connect(&broker).await;
        if right
            .login_user(DEFAULT_ROOT_USERNAME, DEFAULT_ROOT_PASSWORD)
            .await
            .is_err()
        {
            refused_right_password = true;
            break;
        }
    }
    assert!(
        refused_right_password,
        "the right password was never refused"
    );
    // The allowance comes back with time.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    root(&broker).await.get_streams().await.unwrap();
}
