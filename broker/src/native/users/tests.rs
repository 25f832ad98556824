#![allow(clippy::unwrap_used)]

use bytes::BytesMut;
use whippet_wire::native::codec::{WireDecode, WireEncode};
use whippet_wire::native::codes;
use whippet_wire::native::commands::permissions::{GlobalPermissions, Permissions};
use whippet_wire::native::commands::tokens::{
    CreateToken, CreatedToken, DeleteToken, EXPIRY_NEVER, TokenList,
};
use whippet_wire::native::commands::users::{
    ChangePassword, CreateUser, Optional, UpdatePermissions, UpdateUser, UserDetails, UserList,
    UserRef, UserStatus,
};
use whippet_wire::native::header::{Operation, RequestHeader};
use whippet_wire::native::identifier::Identifier;
use whippet_wire::native::status::Status;
use whippet_wire::native::user_headers::Options;

use super::model::{Directory, NewUser, ROOT_ID, Token, token_expiry_at};
use super::*;
use crate::native::call::Payload;

pub(super) fn root() -> Credentials {
    Credentials {
        username: "iggy".into(),
        password: "iggy".into(),
    }
}

/// A password login from one fixed address, as its user id.
pub(super) async fn password(
    store: &UserStore,
    username: &str,
    password: &str,
) -> Result<u32, Status> {
    let address = std::net::Ipv4Addr::LOCALHOST.into();
    let login = store.verify_password(address, username, password).await;
    login.map(|login| login.user_id)
}

/// A token login from one fixed address, as its user id.
pub(super) fn token(store: &UserStore, raw: &str) -> Result<u32, Status> {
    let address = std::net::Ipv4Addr::LOCALHOST.into();
    store.verify_token(address, raw).map(|login| login.user_id)
}

fn header() -> RequestHeader {
    RequestHeader {
        checksum: 0,
        checksum_body: 0,
        cluster: 0,
        size: 256,
        view: 0,
        release: 0,
        replica: 0,
        client: 1,
        request_checksum: 0,
        timestamp: 0,
        request: 0,
        operation: Operation::NonReplicated,
        session: 1,
        user_id: 0,
        legacy_code: 0,
    }
}

pub(super) fn body(value: &impl WireEncode) -> Vec<u8> {
    let mut out = BytesMut::new();
    value.encode(&mut out);
    out.to_vec()
}

pub(super) async fn run(
    store: &UserStore,
    caller: u32,
    code: u32,
    body: &[u8],
) -> Result<Vec<u8>, Status> {
    let header = header();
    let call = Call {
        code,
        header: &header,
        body,
    };
    match handlers::route(store, caller, call).await? {
        Payload::Empty => Ok(Vec::new()),
        Payload::Bytes(bytes) => Ok(bytes.to_vec()),
        Payload::Parts(parts) => Ok(parts.concat()),
    }
}

pub(super) fn create_request(name: &str, permissions: Option<Permissions>) -> CreateUser {
    CreateUser {
        username: name.into(),
        password: "secret".into(),
        status: UserStatus::Active,
        permissions,
        options: Options::default(),
    }
}

pub(super) async fn create(
    store: &UserStore,
    caller: u32,
    request: &CreateUser,
) -> Result<u32, Status> {
    let reply = run(store, caller, codes::CREATE_USER, &body(request)).await?;
    Ok(UserDetails::decode_exact(&reply).unwrap().user.id)
}

fn new_user(name: &str) -> NewUser {
    NewUser {
        username: name.into(),
        password_hash: "hash".into(),
        active: true,
        permissions: None,
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
        Err(Status::UserAlreadyExists)
    );
    directory.delete(1).unwrap();
    assert_eq!(directory.create(new_user("ccc"), 5).unwrap(), 1);
    assert_eq!(directory.delete(ROOT_ID), Err(Status::CannotDeleteUser));
    assert_eq!(directory.delete(9), Err(Status::ResourceNotFound));
    assert_eq!(
        directory.set_permissions(ROOT_ID, None),
        Err(Status::CannotChangePermissions)
    );
    assert_eq!(
        directory.update(2, Some("ccc".into()), None),
        Err(Status::UserAlreadyExists)
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
        Err(Status::PersonalAccessTokenAlreadyExists)
    );
    assert_eq!(directory.token_login("d1", 999), Ok((id, Some(1_000))));
    assert_eq!(
        directory.token_login("d1", 1_000),
        Err(Status::PersonalAccessTokenExpired)
    );
    assert_eq!(directory.token_login("d2", u64::MAX - 1), Ok((id, None)));
    assert_eq!(
        directory.token_login("nope", 0),
        Err(Status::InvalidPersonalAccessToken)
    );
    directory.update(id, None, Some(false)).unwrap();
    assert_eq!(directory.token_login("d2", 0), Err(Status::UserInactive));
    directory.remove_token(id, "ci").unwrap();
    assert_eq!(
        directory.remove_token(id, "ci"),
        Err(Status::ResourceNotFound)
    );
    for index in 1..crate::limits::TOKENS_PER_USER_MAX {
        directory
            .add_token(id, token(&format!("t{index}"), &format!("x{index}"), None))
            .unwrap();
    }
    assert_eq!(
        directory.add_token(id, token("onemore", "y", None)),
        Err(Status::PersonalAccessTokensLimitReached)
    );
}

#[tokio::test]
async fn root_logs_in_and_wrong_credentials_are_refused() {
    let store = UserStore::in_memory(&root());
    assert_eq!(password(&store, "iggy", "iggy").await, Ok(ROOT_ID));
    assert_eq!(
        password(&store, "iggy", "wrong").await,
        Err(Status::InvalidCredentials)
    );
    assert_eq!(
        password(&store, "nobody", "iggy").await,
        Err(Status::InvalidCredentials)
    );
    let stored = store.snapshot().get(ROOT_ID).unwrap().password_hash.clone();
    assert!(stored.starts_with("$argon2id$") && !stored.contains("iggy"));
}

#[tokio::test]
async fn persistence_round_trip_and_corrupt_file() {
    let dir = tempfile::tempdir().unwrap();
    let store = UserStore::open(dir.path(), &root()).unwrap();
    let perms = Permissions {
        global: GlobalPermissions {
            read_streams: true,
            ..GlobalPermissions::default()
        },
        streams: Vec::new(),
    };
    let id = create(
        &store,
        ROOT_ID,
        &create_request("alice", Some(perms.clone())),
    )
    .await
    .unwrap();
    let reply = run(
        &store,
        id,
        codes::CREATE_PERSONAL_ACCESS_TOKEN,
        &body(&CreateToken {
            name: "ci-token".into(),
            expiry: EXPIRY_NEVER,
        }),
    )
    .await
    .unwrap();
    let raw = CreatedToken::decode_exact(&reply).unwrap().token;
    let text = std::fs::read_to_string(dir.path().join(stored::USERS_FILE)).unwrap();
    assert!(
        !text.contains("secret") && !text.contains(&raw),
        "no secret in clear"
    );
    drop(store);

    let other_root = Credentials {
        username: "admin".into(),
        password: "changed".into(),
    };
    let reopened = UserStore::open(dir.path(), &other_root).unwrap();
    assert_eq!(password(&reopened, "alice", "secret").await, Ok(id));
    assert_eq!(password(&reopened, "iggy", "iggy").await, Ok(ROOT_ID));
    assert_eq!(token(&reopened, &raw), Ok(id));
    let user = reopened.snapshot().get(id).cloned().unwrap();
    assert_eq!(user.wire_permissions(), Some(perms));
    assert!(reopened.authorize(id, Access::ReadStream(3)).is_ok());
    drop(reopened);

    std::fs::write(dir.path().join(stored::USERS_FILE), b"{not json").unwrap();
    let error = UserStore::open(dir.path(), &root()).unwrap_err();
    assert!(error.contains(stored::USERS_FILE), "{error}");
}

#[tokio::test]
async fn permissions_are_enforced_on_user_commands() {
    let store = UserStore::in_memory(&root());
    let reader = Permissions {
        global: GlobalPermissions {
            read_users: true,
            ..GlobalPermissions::default()
        },
        streams: Vec::new(),
    };
    let alice = create(&store, ROOT_ID, &create_request("alice", None))
        .await
        .unwrap();
    let bob = create(&store, ROOT_ID, &create_request("bob", Some(reader)))
        .await
        .unwrap();
    assert_eq!((alice, bob), (1, 2));
    let by_id = |id| {
        body(&UserRef {
            user_id: Identifier::Numeric(id),
        })
    };
    // A user may read itself without read_users, but nobody else.
    let own = run(&store, alice, codes::GET_USER, &by_id(alice))
        .await
        .unwrap();
    assert_eq!(
        UserDetails::decode_exact(&own).unwrap().user.username,
        "alice"
    );
    assert_eq!(
        run(&store, alice, codes::GET_USER, &by_id(bob)).await,
        Err(Status::Unauthorized)
    );
    assert_eq!(
        run(&store, alice, codes::GET_USERS, &[]).await,
        Err(Status::Unauthorized)
    );
    let list = run(&store, bob, codes::GET_USERS, &[]).await.unwrap();
    let names: Vec<_> = UserList::decode_exact(&list)
        .unwrap()
        .users
        .into_iter()
        .map(|user| user.username)
        .collect();
    assert_eq!(names, ["iggy", "alice", "bob"]);
    assert_eq!(
        run(&store, bob, codes::GET_USER, &by_id(77)).await,
        Ok(Vec::new()),
        "unknown user is ∅"
    );
    assert_eq!(
        create(&store, bob, &create_request("carol", None)).await,
        Err(Status::Unauthorized)
    );
    assert_eq!(
        run(&store, bob, codes::DELETE_USER, &by_id(alice)).await,
        Err(Status::Unauthorized)
    );
}

#[tokio::test]
async fn root_is_protected_and_deleted_users_lose_access() {
    let store = UserStore::in_memory(&root());
    let alice = create(&store, ROOT_ID, &create_request("alice", None))
        .await
        .unwrap();
    let by_id = |id| {
        body(&UserRef {
            user_id: Identifier::Numeric(id),
        })
    };
    assert_eq!(
        run(&store, ROOT_ID, codes::DELETE_USER, &by_id(ROOT_ID)).await,
        Err(Status::CannotDeleteUser)
    );
    let root_perms = UpdatePermissions {
        user_id: Identifier::Numeric(ROOT_ID),
        permissions: None,
    };
    assert_eq!(
        run(
            &store,
            ROOT_ID,
            codes::UPDATE_PERMISSIONS,
            &body(&root_perms)
        )
        .await,
        Err(Status::CannotChangePermissions)
    );
    run(&store, ROOT_ID, codes::DELETE_USER, &by_id(alice))
        .await
        .unwrap();
    assert_eq!(
        store.authorize(alice, Access::ReadStreams),
        Err(Status::Unauthenticated),
        "a deleted user's session no longer works"
    );
}

#[tokio::test]
async fn create_update_and_change_password() {
    let store = UserStore::in_memory(&root());
    assert_eq!(
        create(&store, ROOT_ID, &create_request("ab", None)).await,
        Err(Status::InvalidUsername)
    );
    let mut short_password = create_request("alice", None);
    short_password.password = "pw".into();
    assert_eq!(
        create(&store, ROOT_ID, &short_password).await,
        Err(Status::InvalidPassword)
    );
    let alice = create(&store, ROOT_ID, &create_request("alice", None))
        .await
        .unwrap();
    assert_eq!(
        create(&store, ROOT_ID, &create_request("alice", None)).await,
        Err(Status::UserAlreadyExists)
    );
    let update = UpdateUser {
        user_id: Identifier::name("alice").unwrap(),
        username: Optional(Some("alicia".into())),
        status: Optional(Some(UserStatus::Inactive)),
        options: Options::default(),
    };
    run(&store, ROOT_ID, codes::UPDATE_USER, &body(&update))
        .await
        .unwrap();
    assert_eq!(
        password(&store, "alicia", "secret").await,
        Err(Status::UserInactive)
    );
    let change = |current: &str, new: &str| ChangePassword {
        user_id: Identifier::Numeric(alice),
        current_password: current.into(),
        new_password: new.into(),
    };
    assert_eq!(
        run(
            &store,
            alice,
            codes::CHANGE_PASSWORD,
            &body(&change("wrong", "better"))
        )
        .await,
        Err(Status::InvalidCredentials)
    );
    run(
        &store,
        alice,
        codes::CHANGE_PASSWORD,
        &body(&change("secret", "better")),
    )
    .await
    .unwrap();
    let activate = UpdateUser {
        user_id: Identifier::Numeric(alice),
        username: Optional(None),
        status: Optional(Some(UserStatus::Active)),
        options: Options::default(),
    };
    run(&store, ROOT_ID, codes::UPDATE_USER, &body(&activate))
        .await
        .unwrap();
    assert_eq!(password(&store, "alicia", "better").await, Ok(alice));
    assert_eq!(
        password(&store, "alicia", "secret").await,
        Err(Status::InvalidCredentials)
    );
    let bob = create(&store, ROOT_ID, &create_request("bob", None))
        .await
        .unwrap();
    let other = ChangePassword {
        user_id: Identifier::Numeric(alice),
        current_password: "better".into(),
        new_password: "hijack".into(),
    };
    assert_eq!(
        run(&store, bob, codes::CHANGE_PASSWORD, &body(&other)).await,
        Err(Status::Unauthorized)
    );
}

#[tokio::test]
async fn token_commands_act_on_the_callers_tokens() {
    let store = UserStore::in_memory(&root());
    let alice = create(&store, ROOT_ID, &create_request("alice", None))
        .await
        .unwrap();
    let create_token = |name: &str, expiry| {
        body(&CreateToken {
            name: name.into(),
            expiry,
        })
    };
    let reply = run(
        &store,
        alice,
        codes::CREATE_PERSONAL_ACCESS_TOKEN,
        &create_token("zeta", 0),
    )
    .await
    .unwrap();
    let raw = CreatedToken::decode_exact(&reply).unwrap().token;
    assert_eq!(token(&store, &raw), Ok(alice));
    run(
        &store,
        alice,
        codes::CREATE_PERSONAL_ACCESS_TOKEN,
        &create_token("alpha", 3_600_000_000),
    )
    .await
    .unwrap();
    assert_eq!(
        run(
            &store,
            alice,
            codes::CREATE_PERSONAL_ACCESS_TOKEN,
            &create_token("zeta", 0)
        )
        .await,
        Err(Status::PersonalAccessTokenAlreadyExists)
    );
    let list = run(&store, alice, codes::GET_PERSONAL_ACCESS_TOKENS, &[])
        .await
        .unwrap();
    let list = TokenList::decode_exact(&list).unwrap().tokens;
    assert_eq!(list.len(), 2);
    assert_eq!(
        (list[0].name.as_str(), list[1].name.as_str()),
        ("alpha", "zeta")
    );
    assert!(list[0].expiry_at > secrets::now_micros());
    assert_eq!(list[1].expiry_at, 0, "never expires");
    let root_list = run(&store, ROOT_ID, codes::GET_PERSONAL_ACCESS_TOKENS, &[])
        .await
        .unwrap();
    assert!(root_list.is_empty());
    let delete = body(&DeleteToken {
        name: "zeta".into(),
    });
    assert_eq!(
        run(
            &store,
            ROOT_ID,
            codes::DELETE_PERSONAL_ACCESS_TOKEN,
            &delete
        )
        .await,
        Err(Status::ResourceNotFound),
        "root cannot delete alice's token by name"
    );
    run(&store, alice, codes::DELETE_PERSONAL_ACCESS_TOKEN, &delete)
        .await
        .unwrap();
    assert_eq!(token(&store, &raw), Err(Status::InvalidPersonalAccessToken));
    assert_eq!(
        run(&store, alice, codes::GET_USER, &[9, 9]).await,
        Err(Status::InvalidCommand),
        "undecodable body"
    );
}
