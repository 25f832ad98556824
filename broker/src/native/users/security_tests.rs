//! The rules that keep user management from raising privileges, revoked sessions from working
//! and guessing from running at full speed.
#![allow(clippy::unwrap_used)]

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use whippet_wire::native::codec::WireDecode;
use whippet_wire::native::codes;
use whippet_wire::native::commands::permissions::{GlobalPermissions, Permissions};
use whippet_wire::native::commands::tokens::{CreateToken, CreatedToken, DeleteToken};
use whippet_wire::native::commands::users::{
    ChangePassword, Optional, UpdatePermissions, UpdateUser, UserRef, UserStatus,
};
use whippet_wire::native::identifier::Identifier;
use whippet_wire::native::status::Status;
use whippet_wire::native::user_headers::Options;

use super::SessionCheck;
use super::convert::permissions_to_wire;
use super::tests::{TestStore, body, create, create_request, fresh, fresh_with, root, run};
use crate::core::users::ROOT_ID;
use crate::core::users::throttle::{LOGIN_FAILURES_BURST, LoginThrottle};

fn manager_grants() -> Permissions {
    Permissions {
        global: GlobalPermissions {
            manage_users: true,
            read_users: true,
            ..GlobalPermissions::default()
        },
        streams: Vec::new(),
    }
}

fn everything() -> Permissions {
    permissions_to_wire(&crate::core::users::permissions::root_permissions())
}

async fn store_with_manager() -> (TestStore, u32) {
    let store = fresh(&root());
    let manager = create(
        &store,
        ROOT_ID,
        &create_request("manager", Some(manager_grants())),
    )
    .await
    .unwrap();
    (store, manager)
}

fn update_permissions(user: u32, permissions: Permissions) -> Vec<u8> {
    body(&UpdatePermissions {
        user_id: Identifier::Numeric(user),
        permissions: Some(permissions),
    })
}

fn deactivate(user: u32) -> Vec<u8> {
    body(&UpdateUser {
        user_id: Identifier::Numeric(user),
        username: Optional(None),
        status: Optional(Some(UserStatus::Inactive)),
        options: Options::default(),
    })
}

#[tokio::test]
async fn a_user_manager_cannot_raise_itself_or_others_above_itself() {
    let (store, manager) = store_with_manager().await;
    let grant_all = update_permissions(manager, everything());
    assert_eq!(
        run(&store, manager, codes::UPDATE_PERMISSIONS, &grant_all).await,
        Err(Status::Unauthorized)
    );
    assert_eq!(
        create(
            &store,
            manager,
            &create_request("helper", Some(everything()))
        )
        .await,
        Err(Status::Unauthorized)
    );
    // What it holds it may hand on.
    let helper = create(
        &store,
        manager,
        &create_request("helper", Some(manager_grants())),
    )
    .await
    .unwrap();
    let grant_same = update_permissions(helper, manager_grants());
    run(&store, manager, codes::UPDATE_PERMISSIONS, &grant_same)
        .await
        .unwrap();
    // Root grants anything.
    let grant_all = update_permissions(helper, everything());
    run(&store, ROOT_ID, codes::UPDATE_PERMISSIONS, &grant_all)
        .await
        .unwrap();
    // Now the helper holds more than the manager: the manager may not touch it.
    assert_eq!(
        run(&store, manager, codes::UPDATE_USER, &deactivate(helper)).await,
        Err(Status::Unauthorized)
    );
    let delete = body(&UserRef {
        user_id: Identifier::Numeric(helper),
    });
    assert_eq!(
        run(&store, manager, codes::DELETE_USER, &delete).await,
        Err(Status::Unauthorized)
    );
}

#[tokio::test]
async fn only_root_changes_root() {
    let (store, manager) = store_with_manager().await;
    assert_eq!(
        run(&store, manager, codes::UPDATE_USER, &deactivate(ROOT_ID)).await,
        Err(Status::Unauthorized)
    );
    let password = body(&ChangePassword {
        user_id: Identifier::Numeric(ROOT_ID),
        current_password: "iggy".into(),
        new_password: "taken".into(),
    });
    assert_eq!(
        run(&store, manager, codes::CHANGE_PASSWORD, &password).await,
        Err(Status::Unauthorized)
    );
    assert!(store.core().directory().get(ROOT_ID).unwrap().active);
}

const HERE: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

#[tokio::test]
async fn a_deactivated_users_open_session_ends_at_its_next_request() {
    let (store, manager) = store_with_manager().await;
    let alice = create(&store, ROOT_ID, &create_request("alice", None))
        .await
        .unwrap();
    let mut login = store
        .verify_password(HERE, "alice", "secret")
        .await
        .unwrap();
    assert_eq!(login.user_id, alice);
    store.check_session(alice, &mut login.check).unwrap();
    run(&store, manager, codes::UPDATE_USER, &deactivate(alice))
        .await
        .unwrap();
    assert_eq!(
        store.check_session(alice, &mut login.check),
        Err(Status::Unauthenticated)
    );
    // A password session of another user is not affected by the change.
    let mut other = store
        .verify_password(HERE, "manager", "secret")
        .await
        .unwrap();
    store.check_session(manager, &mut other.check).unwrap();
}

#[tokio::test]
async fn a_token_session_ends_when_its_token_is_deleted() {
    let store = fresh(&root());
    let alice = create(&store, ROOT_ID, &create_request("alice", None))
        .await
        .unwrap();
    let request = body(&CreateToken {
        name: "ci".into(),
        expiry: 0,
    });
    let reply = run(&store, alice, codes::CREATE_PERSONAL_ACCESS_TOKEN, &request)
        .await
        .unwrap();
    let raw = CreatedToken::decode_exact(&reply).unwrap().token;
    let mut login = store.verify_token(HERE, &raw).unwrap();
    store.check_session(alice, &mut login.check).unwrap();
    let delete = body(&DeleteToken { name: "ci".into() });
    run(&store, alice, codes::DELETE_PERSONAL_ACCESS_TOKEN, &delete)
        .await
        .unwrap();
    assert_eq!(
        store.check_session(alice, &mut login.check),
        Err(Status::Unauthenticated)
    );
    // A password session of the same user lives on.
    let mut password = store
        .verify_password(HERE, "alice", "secret")
        .await
        .unwrap();
    store.check_session(alice, &mut password.check).unwrap();
    assert_eq!(
        store.check_session(alice, &mut SessionCheck::default()),
        Ok(())
    );
}

#[tokio::test]
async fn failed_logins_are_throttled_per_address() {
    // No refill within the test, however slow password checks are on a loaded machine.
    let throttle = LoginThrottle::with_refill(Duration::from_secs(3600));
    let store = fresh_with(&root(), Some(throttle));
    for _ in 0..LOGIN_FAILURES_BURST {
        assert_eq!(
            store.verify_password(HERE, "iggy", "wrong").await.err(),
            Some(Status::InvalidCredentials)
        );
    }
    // Even the right password is refused from this address until the allowance refills.
    assert_eq!(
        store.verify_password(HERE, "iggy", "iggy").await.err(),
        Some(Status::InvalidCredentials)
    );
    let elsewhere = IpAddr::V4(Ipv4Addr::new(10, 1, 2, 3));
    let login = store
        .verify_password(elsewhere, "iggy", "iggy")
        .await
        .unwrap();
    assert_eq!(login.user_id, ROOT_ID);
}
