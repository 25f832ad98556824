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

use super::convert::permissions_to_wire;
use super::*;
use crate::config::Credentials;
use crate::core::meta::Meta;
use crate::core::users::ROOT_ID;
use crate::core::users::legacy::USERS_FILE;
use crate::core::users::secrets;
use crate::core::users::throttle::LoginThrottle;
use crate::core::{Principal, RequestContext};
use crate::native::call::Payload;

/// A store on a metadata log in a temporary directory that lives as long as the store.
pub(super) struct TestStore {
    store: UserStore,
    _dir: Option<tempfile::TempDir>,
}

impl std::ops::Deref for TestStore {
    type Target = UserStore;
    fn deref(&self) -> &UserStore {
        &self.store
    }
}

/// Opens the users on the metadata log under `dir` (as the broker does at startup).
pub(super) fn open_in(
    dir: &std::path::Path,
    root: &Credentials,
    throttle: Option<LoginThrottle>,
) -> Result<UserStore, String> {
    let (meta, _) = Meta::open(dir).map_err(|error| error.to_string())?;
    let mut users = crate::core::users::Users::open(Arc::new(meta), dir, root)?;
    if let Some(throttle) = throttle {
        let refill = std::time::Duration::from_secs(3600);
        let per_user = LoginThrottle::with_limits(
            crate::core::users::throttle::USER_LOGIN_FAILURES_BURST,
            refill,
        );
        users = users.with_login_throttle(throttle, per_user);
    }
    Ok(UserStore::new(Arc::new(users)))
}

/// A fresh store holding only the root user.
pub(super) fn fresh(root: &Credentials) -> TestStore {
    fresh_with(root, None)
}

/// [`fresh`] with its own login throttle.
pub(super) fn fresh_with(root: &Credentials, throttle: Option<LoginThrottle>) -> TestStore {
    let dir = tempfile::tempdir().unwrap();
    let store = open_in(dir.path(), root, throttle).unwrap();
    TestStore {
        store,
        _dir: Some(dir),
    }
}

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
    let rc = RequestContext::new(Principal::User { id: caller }, "native", 1);
    match handlers::route(store, &rc, call).await? {
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

#[tokio::test]
async fn root_logs_in_and_wrong_credentials_are_refused() {
    let store = fresh(&root());
    assert_eq!(password(&store, "iggy", "iggy").await, Ok(ROOT_ID));
    assert_eq!(
        password(&store, "iggy", "wrong").await,
        Err(Status::InvalidCredentials)
    );
    assert_eq!(
        password(&store, "nobody", "iggy").await,
        Err(Status::InvalidCredentials)
    );
    let stored = store
        .core()
        .directory()
        .get(ROOT_ID)
        .unwrap()
        .password_hash
        .clone();
    assert!(stored.starts_with("$argon2id$") && !stored.contains("iggy"));
}

#[tokio::test]
async fn persistence_round_trip_and_corrupt_file() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_in(dir.path(), &root(), None).unwrap();
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
    let log = std::fs::read(dir.path().join("meta/meta.log")).unwrap();
    let text = String::from_utf8_lossy(&log);
    assert!(text.contains("alice"), "the users are on the metadata log");
    assert!(
        !text.contains("secret") && !text.contains(&raw),
        "no secret in clear"
    );
    drop(store);

    let other_root = Credentials {
        username: "admin".into(),
        password: "changed".into(),
    };
    let reopened = open_in(dir.path(), &other_root, None).unwrap();
    assert_eq!(password(&reopened, "alice", "secret").await, Ok(id));
    assert_eq!(password(&reopened, "iggy", "iggy").await, Ok(ROOT_ID));
    assert_eq!(token(&reopened, &raw), Ok(id));
    let user = reopened.core().directory().get(id).cloned().unwrap();
    assert_eq!(
        user.permissions.as_ref().map(permissions_to_wire),
        Some(perms)
    );
    assert!(reopened.authorize(id, Access::ReadStream(3)).is_ok());
    drop(reopened);

    // A corrupt old users file in a data dir that has no users yet is an error naming it.
    let fresh_dir = tempfile::tempdir().unwrap();
    std::fs::write(fresh_dir.path().join(USERS_FILE), b"{not json").unwrap();
    let error = open_in(fresh_dir.path(), &root(), None).unwrap_err();
    assert!(error.contains(USERS_FILE), "{error}");
}

#[tokio::test]
async fn permissions_are_enforced_on_user_commands() {
    let store = fresh(&root());
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
    let store = fresh(&root());
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
    let store = fresh(&root());
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
    let store = fresh(&root());
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
