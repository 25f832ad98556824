//! The directory's rules, the user commands on the metadata state machine (replay rebuilds
//! what was published) and the migration of the users file of older data dirs.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use super::commands::UserCommand;
use super::model::{Directory, NewUser, ROOT_ID, Token, User, token_expiry_at};
use super::permissions::{GlobalPermissions, Permissions, StreamPermissions};
use super::{CreateUser, UserError, Users, legacy};
use crate::config::Credentials;
use crate::core::meta::Meta;
use crate::core::{CoreError, Principal, RequestContext};

/// A request by user `id`.
fn as_user(id: u32) -> RequestContext {
    RequestContext::new(Principal::User { id }, "test", 0)
}

fn new_user(name: &str) -> NewUser {
    NewUser {
        username: name.into(),
        password_hash: "hash".into(),
        active: true,
        permissions: None,
        scram: None,
    }
}

#[test]
fn ids_are_lowest_free_and_root_is_protected() {
    let mut directory = Directory::default();
    assert_eq!(directory.create(new_user("root"), 1).unwrap(), ROOT_ID);
    assert_eq!(directory.create(new_user("aaa"), 2).unwrap(), 1);
    assert_eq!(directory.create(new_user("bbb"), 3).unwrap(), 2);
    assert_eq!(
        directory.create(new_user("aaa"), 4),
        Err(UserError::AlreadyExists)
    );
    directory.delete(1).unwrap();
    assert_eq!(directory.create(new_user("ccc"), 5).unwrap(), 1);
    assert_eq!(directory.delete(ROOT_ID), Err(UserError::CannotDelete));
    assert_eq!(directory.delete(9), Err(UserError::NotFound));
    assert_eq!(
        directory.set_permissions(ROOT_ID, None),
        Err(UserError::CannotChangePermissions)
    );
    assert_eq!(
        directory.update(2, Some("ccc".into()), None),
        Err(UserError::AlreadyExists)
    );
    directory
        .update(2, Some("bbb".into()), Some(false))
        .unwrap();
    assert!(!directory.get(2).unwrap().active);
    assert_eq!(directory.by_name("CCC"), None, "names are case-sensitive");
}

#[test]
fn token_expiry_and_login_rules() {
    assert_eq!(token_expiry_at(100, 0), None);
    assert_eq!(token_expiry_at(100, u64::MAX), None);
    assert_eq!(token_expiry_at(100, 50), Some(150));
    assert_eq!(token_expiry_at(u64::MAX - 1, 50), None);
    let mut directory = Directory::default();
    directory.create(new_user("root"), 0).unwrap();
    let id = directory.create(new_user("alice"), 0).unwrap();
    let token = |name: &str, digest: &str, expiry_at| Token {
        name: name.into(),
        digest: digest.into(),
        expiry_at,
    };
    directory
        .add_token(id, token("ci", "d1", Some(1_000)))
        .unwrap();
    directory
        .add_token(id, token("forever", "d2", None))
        .unwrap();
    assert_eq!(
        directory.add_token(id, token("ci", "d3", None)),
        Err(UserError::TokenAlreadyExists)
    );
    assert_eq!(directory.token_login("d1", 999), Ok((id, Some(1_000))));
    assert_eq!(
        directory.token_login("d1", 1_000),
        Err(UserError::TokenExpired)
    );
    assert_eq!(directory.token_login("d2", u64::MAX - 1), Ok((id, None)));
    assert_eq!(
        directory.token_login("nope", 0),
        Err(UserError::InvalidToken)
    );
    directory.update(id, None, Some(false)).unwrap();
    assert_eq!(directory.token_login("d2", 0), Err(UserError::Inactive));
    directory.remove_token(id, "ci").unwrap();
    assert_eq!(directory.remove_token(id, "ci"), Err(UserError::NotFound));
    for index in 1..crate::limits::TOKENS_PER_USER_MAX {
        directory
            .add_token(id, token(&format!("t{index}"), &format!("x{index}"), None))
            .unwrap();
    }
    assert_eq!(
        directory.add_token(id, token("onemore", "y", None)),
        Err(UserError::TokensLimitReached)
    );
}

fn root() -> Credentials {
    Credentials {
        username: "iggy".into(),
        password: "iggy".into(),
    }
}

fn open(dir: &std::path::Path) -> Users {
    let (meta, _) = Meta::open(dir).unwrap();
    Users::open(Arc::new(meta), dir, &root()).unwrap()
}

const HERE: std::net::IpAddr = std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

#[tokio::test]
async fn every_acknowledged_user_change_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let users = open(dir.path());
    let grants = Permissions {
        global: GlobalPermissions {
            read_streams: true,
            ..GlobalPermissions::default()
        },
        streams: vec![StreamPermissions {
            stream_id: 7,
            send_messages: true,
            ..StreamPermissions::default()
        }],
    };
    let create = |name: &str| CreateUser {
        username: name.into(),
        password: "secret".into(),
        active: true,
        permissions: Some(grants.clone()),
    };
    let alice = users
        .create_user(&as_user(ROOT_ID), create("alice"))
        .await
        .unwrap();
    let bob = users
        .create_user(&as_user(ROOT_ID), create("bob"))
        .await
        .unwrap();
    let raw = users
        .create_token(&as_user(alice.id), "ci".into(), 0)
        .await
        .unwrap();
    users
        .update_user(
            &as_user(ROOT_ID),
            super::UserRef::Id(bob.id),
            Some("robert".into()),
            Some(false),
        )
        .await
        .unwrap();
    users
        .change_password(
            &as_user(alice.id),
            &super::UserRef::Id(alice.id),
            "secret",
            "better",
        )
        .await
        .unwrap();
    // Refused changes are not logged and change nothing.
    let refused = users
        .delete_user(&as_user(ROOT_ID), super::UserRef::Id(ROOT_ID))
        .await;
    assert!(
        matches!(refused, Err(CoreError::User(UserError::CannotDelete))),
        "{refused:?}"
    );
    let before = users.directory();
    drop(users);

    let reopened = open(dir.path());
    assert_eq!(*reopened.directory(), *before);
    assert_eq!(reopened.verify_token(HERE, &raw).unwrap().user_id, alice.id);
    let login = reopened.verify_password(HERE, "alice", "better").await;
    assert_eq!(login.unwrap().user_id, alice.id);
    assert!(!reopened.directory().by_name("robert").unwrap().active);
    assert!(
        reopened
            .authorize(alice.id, super::Access::SendMessages(7, 1))
            .is_ok()
    );
}

/// The users file exactly as the broker wrote it before the metadata log (version 1, flat
/// permissions, digests of tokens), with one user beside root.
fn old_users_file() -> String {
    let root_hash = super::secrets::hash_password("iggy").unwrap();
    let alice_hash = super::secrets::hash_password("secret").unwrap();
    let digest = super::secrets::token_digest("raw-token-of-alice");
    format!(
        r#"{{
  "version": 1,
  "users": [
    {{"id": 0, "username": "iggy", "password_hash": "{root_hash}", "active": true,
      "created_at": 1, "permissions": {{"manage_servers": true, "read_servers": true,
      "manage_users": true, "read_users": true, "manage_streams": true, "read_streams": true,
      "manage_topics": true, "read_topics": true, "poll_messages": true,
      "send_messages": true, "streams": []}}, "tokens": []}},
    {{"id": 3, "username": "alice", "password_hash": "{alice_hash}", "active": true,
      "created_at": 2, "permissions": {{"manage_servers": false, "read_servers": false,
      "manage_users": false, "read_users": false, "manage_streams": false,
      "read_streams": false, "manage_topics": false, "read_topics": false,
      "poll_messages": false, "send_messages": false, "streams": [{{"stream_id": 5,
      "manage_stream": false, "read_stream": true, "manage_topics": false,
      "read_topics": false, "poll_messages": true, "send_messages": false, "topics": [
      {{"topic_id": 2, "manage_topic": true, "read_topic": false, "poll_messages": false,
      "send_messages": false}}]}}]}},
      "tokens": [{{"name": "ci", "digest": "{digest}", "expiry_at": null}}]}}
  ]
}}"#
    )
}

#[tokio::test]
async fn the_users_file_of_an_older_data_dir_is_migrated_then_removed() {
    let dir = tempfile::tempdir().unwrap();
    let old = dir.path().join(legacy::USERS_FILE);
    std::fs::write(&old, old_users_file()).unwrap();
    let users = open(dir.path());
    assert!(
        !old.exists(),
        "the old file goes once its users are durable"
    );
    let directory = users.directory();
    assert_eq!(directory.users().count(), 2);
    let alice = directory.by_name("alice").unwrap();
    assert_eq!(alice.id, 3);
    let stream = &alice.permissions.as_ref().unwrap().streams[0];
    assert!(stream.read_stream && stream.poll_messages && stream.topics[0].manage_topic);
    assert!(
        users
            .authorize(3, super::Access::PollMessages(5, 9))
            .is_ok()
    );
    assert!(users.authorize(3, super::Access::ManageTopic(5, 2)).is_ok());
    assert_eq!(
        users.authorize(3, super::Access::SendMessages(5, 9)),
        Err(UserError::Unauthorized)
    );
    assert_eq!(
        users
            .verify_token(HERE, "raw-token-of-alice")
            .unwrap()
            .user_id,
        3
    );
    assert_eq!(
        users
            .verify_password(HERE, "alice", "secret")
            .await
            .unwrap()
            .user_id,
        3
    );
    drop(users);
    // Reopened from the metadata log alone; the password login gave the migrated user its
    // SCRAM credentials, which the old file did not have.
    let reopened = open(dir.path());
    let alice = reopened.directory().get(3).cloned().unwrap();
    assert!(
        alice.scram.is_some(),
        "SCRAM credentials derived at the login"
    );
    let without_scram = |directory: &Directory| -> Vec<User> {
        directory
            .users()
            .cloned()
            .map(|user| User {
                scram: None,
                ..user
            })
            .collect()
    };
    assert_eq!(
        without_scram(&reopened.directory()),
        without_scram(&directory)
    );
    // The next user takes the lowest free id, as before.
    let next = reopened
        .create_user(
            &as_user(ROOT_ID),
            CreateUser {
                username: "carol".into(),
                password: "secret".into(),
                active: true,
                permissions: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(next.id, 1);
}

#[test]
fn install_adds_users_but_never_over_taken_ids_or_names() {
    let mut directory = Directory::default();
    directory.create(new_user("root"), 0).unwrap();
    let mut other = Directory::default();
    other.create(new_user("root"), 0).unwrap();
    other.create(new_user("alice"), 0).unwrap();
    let users: Vec<_> = other.users().cloned().collect();
    // Root's id and name are taken: nothing is added.
    let command = UserCommand::Install {
        users: users.clone(),
    };
    assert_eq!(
        super::commands::apply(&mut directory, &command),
        Err(UserError::AlreadyExists)
    );
    assert_eq!(directory.users().count(), 1);
    let command = UserCommand::Install {
        users: users[1..].to_vec(),
    };
    super::commands::apply(&mut directory, &command).unwrap();
    assert_eq!(directory.by_name("alice").unwrap().id, 1);
}

#[tokio::test]
async fn a_large_users_file_is_migrated_in_bounded_commands() {
    let dir = tempfile::tempdir().unwrap();
    let mut old = Directory::default();
    old.create(new_user("iggy"), 0).unwrap();
    for i in 0..1_200 {
        old.create(new_user(&format!("user{i}")), 0).unwrap();
    }
    let file = serde_json::json!({ "version": 1, "users": old.users().collect::<Vec<_>>() });
    std::fs::write(dir.path().join(legacy::USERS_FILE), file.to_string()).unwrap();
    let users = open(dir.path());
    assert_eq!(*users.directory(), old);
    drop(users);
    let (_, report) = Meta::open(dir.path()).unwrap();
    assert_eq!(report.replayed, 3, "1201 users in commands of 500");
}

#[tokio::test]
async fn a_users_migration_cut_short_by_a_crash_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let mut old = Directory::default();
    old.create(new_user("iggy"), 0).unwrap();
    for i in 0..700 {
        old.create(new_user(&format!("user{i}")), 0).unwrap();
    }
    let file = serde_json::json!({ "version": 1, "users": old.users().collect::<Vec<_>>() });
    std::fs::write(dir.path().join(legacy::USERS_FILE), file.to_string()).unwrap();
    {
        // The first command of the migration was durable, then the process died.
        let (meta, _) = Meta::open(dir.path()).unwrap();
        let users = old.users().take(500).cloned().collect();
        meta.submit_blocking(crate::core::meta::MetaCommand::Users(
            UserCommand::Install { users },
        ))
        .unwrap();
    }
    let users = open(dir.path());
    assert_eq!(*users.directory(), old);
    assert!(!dir.path().join(legacy::USERS_FILE).exists());
}

/// A password change ends the user's password sessions (of any protocol) at their next check;
/// the session that made the change is kept by renewing it; token sessions are not affected.
#[tokio::test]
async fn a_password_change_ends_the_users_other_password_sessions() {
    let dir = tempfile::tempdir().unwrap();
    let users = open(dir.path());
    let alice = users
        .create_user(
            &as_user(ROOT_ID),
            CreateUser {
                username: "alice".into(),
                password: "old-pass".into(),
                active: true,
                permissions: None,
            },
        )
        .await
        .unwrap();
    assert!(
        alice.scram.is_some(),
        "SCRAM credentials derived with the password"
    );
    let mut other = users
        .verify_password(HERE, "alice", "old-pass")
        .await
        .unwrap();
    let mut own = users
        .verify_password(HERE, "alice", "old-pass")
        .await
        .unwrap();
    let raw = users
        .create_token(&as_user(alice.id), "t".into(), 0)
        .await
        .unwrap();
    let mut token = users.verify_token(HERE, &raw).unwrap();
    users
        .change_password(
            &as_user(alice.id),
            &super::UserRef::Id(alice.id),
            "old-pass",
            "new-pass",
        )
        .await
        .unwrap();
    users.renew_password_session(alice.id, &mut own.check);
    assert_eq!(
        users.check_session(alice.id, &mut other.check),
        Err(UserError::Unauthenticated)
    );
    assert_eq!(users.check_session(alice.id, &mut own.check), Ok(()));
    assert_eq!(users.check_session(alice.id, &mut token.check), Ok(()));
    let changed = users.directory().get(alice.id).cloned().unwrap();
    assert_ne!(
        changed.scram, alice.scram,
        "new SCRAM credentials with the new password"
    );
}
