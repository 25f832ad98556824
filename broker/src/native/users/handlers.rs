//! One function per user and token command. Each validates its body the way the reference
//! server's command validation does (lengths → InvalidUsername / InvalidPassword), checks the
//! caller's permission and, for changes, that the caller covers the grants involved
//! ([`super::grants`]), then reads or changes the directory. Token commands always act on the
//! caller's own tokens and need no permission.

use whippet_wire::native::codes;
use whippet_wire::native::commands::tokens::{
    CreateToken, CreatedToken, DeleteToken, TokenEntry, TokenList,
};
use whippet_wire::native::commands::users::{
    ChangePassword, CreateUser, UpdatePermissions, UpdateUser, UserDetails, UserHeader, UserList,
    UserRef, UserStatus,
};
use whippet_wire::native::status::Status;
use whippet_wire::native::user_headers::Options;

use super::model::{NewUser, Token, User, token_expiry_at};
use super::{UserStore, check_password, grants, hash_password, secrets};
use crate::limits::{
    PASSWORD_BYTES_MAX, PASSWORD_BYTES_MIN, USERNAME_BYTES_MAX, USERNAME_BYTES_MIN,
};
use crate::native::call::{Access, Call, Outcome, Payload};

/// Routes one user or token command for the logged-in `caller`.
pub(super) async fn route(store: &UserStore, caller: u32, call: Call<'_>) -> Outcome {
    match call.code {
        codes::GET_USER => get_user(store, caller, &call.decode()?),
        codes::GET_USERS => get_users(store, caller),
        codes::CREATE_USER => create_user(store, caller, call.decode()?).await,
        codes::DELETE_USER => delete_user(store, caller, &call.decode()?).await,
        codes::UPDATE_USER => update_user(store, caller, call.decode()?).await,
        codes::UPDATE_PERMISSIONS => update_permissions(store, caller, call.decode()?).await,
        codes::CHANGE_PASSWORD => change_password(store, caller, call.decode()?).await,
        codes::GET_PERSONAL_ACCESS_TOKENS => list_tokens(store, caller),
        codes::CREATE_PERSONAL_ACCESS_TOKEN => create_token(store, caller, call.decode()?).await,
        codes::DELETE_PERSONAL_ACCESS_TOKEN => delete_token(store, caller, call.decode()?).await,
        _ => Err(Status::InvalidCommand),
    }
}

fn check_username(username: &str) -> Result<(), Status> {
    if (USERNAME_BYTES_MIN..=USERNAME_BYTES_MAX).contains(&username.len()) {
        Ok(())
    } else {
        Err(Status::InvalidUsername)
    }
}

fn check_password_length(password: &str) -> Result<(), Status> {
    if (PASSWORD_BYTES_MIN..=PASSWORD_BYTES_MAX).contains(&password.len()) {
        Ok(())
    } else {
        Err(Status::InvalidPassword)
    }
}

/// Users have no option keys yet: any key is unknown (4041), as for other resources.
fn check_options(options: &Options) -> Result<(), Status> {
    if options.entries.is_empty() {
        Ok(())
    } else {
        Err(Status::UnsupportedOptionKey)
    }
}

fn header(user: &User) -> UserHeader {
    UserHeader {
        id: user.id,
        created_at: user.created_at,
        status: if user.active {
            UserStatus::Active
        } else {
            UserStatus::Inactive
        },
        username: user.username.clone(),
        options: Options::default(),
    }
}

fn details(user: &User) -> Payload {
    Payload::encode(&UserDetails {
        user: header(user),
        permissions: user.wire_permissions(),
    })
}

/// 31: any user may read itself; reading others needs read_users. Unknown → ∅.
fn get_user(store: &UserStore, caller: u32, request: &UserRef) -> Outcome {
    let directory = store.snapshot();
    let Some(user) = directory.find(&request.user_id) else {
        return Ok(Payload::Empty);
    };
    if user.id != caller {
        store.authorize(caller, Access::ReadUsers)?;
    }
    Ok(details(user))
}

/// 32: every user's header, by id.
fn get_users(store: &UserStore, caller: u32) -> Outcome {
    store.authorize(caller, Access::ReadUsers)?;
    let list = UserList {
        users: store.snapshot().users().map(header).collect(),
    };
    Ok(Payload::encode(&list))
}

/// 33: a new user under the lowest free id; replies with its details.
async fn create_user(store: &UserStore, caller: u32, request: CreateUser) -> Outcome {
    check_username(&request.username)?;
    check_password_length(&request.password)?;
    check_options(&request.options)?;
    store.authorize(caller, Access::ManageUsers)?;
    grants::may_grant(&store.snapshot(), caller, request.permissions.as_ref())?;
    if store.snapshot().by_name(&request.username).is_some() {
        // Answer before spending a slow hash; `create` checks again under the writer lock.
        return Err(Status::UserAlreadyExists);
    }
    let new = NewUser {
        username: request.username,
        password_hash: hash_password(&request.password).await?,
        active: request.status == UserStatus::Active,
        permissions: request.permissions,
    };
    let id = store
        .change(|directory, now| {
            grants::may_grant(directory, caller, new.permissions.as_ref())?;
            directory.create(new, now)
        })
        .await?;
    let directory = store.snapshot();
    directory
        .get(id)
        .map(details)
        .ok_or(Status::ResourceNotFound)
}

/// 34: removes a user and its tokens (never the root user).
async fn delete_user(store: &UserStore, caller: u32, request: &UserRef) -> Outcome {
    store.authorize(caller, Access::ManageUsers)?;
    store
        .change(|directory, _| {
            let id = directory.resolve(&request.user_id)?;
            grants::may_manage(directory, caller, id)?;
            directory.delete(id).map(drop)
        })
        .await?;
    Ok(Payload::Empty)
}

/// 35: renames and/or (de)activates a user.
async fn update_user(store: &UserStore, caller: u32, request: UpdateUser) -> Outcome {
    if let Some(username) = &request.username.0 {
        check_username(username)?;
    }
    check_options(&request.options)?;
    store.authorize(caller, Access::ManageUsers)?;
    let active = request.status.0.map(|status| status == UserStatus::Active);
    store
        .change(|directory, _| {
            let id = directory.resolve(&request.user_id)?;
            grants::may_manage(directory, caller, id)?;
            directory.update(id, request.username.0, active)
        })
        .await?;
    Ok(Payload::Empty)
}

/// 36: replaces a user's grants (never the root user's).
async fn update_permissions(store: &UserStore, caller: u32, request: UpdatePermissions) -> Outcome {
    store.authorize(caller, Access::ManageUsers)?;
    store
        .change(|directory, _| {
            let id = directory.resolve(&request.user_id)?;
            grants::may_manage(directory, caller, id)?;
            grants::may_grant(directory, caller, request.permissions.as_ref())?;
            directory.set_permissions(id, request.permissions.as_ref())
        })
        .await?;
    Ok(Payload::Empty)
}

/// 37: the current password must match, as on the reference server, even when a user manager
/// changes someone else's password; changing another user's password needs manage_users.
async fn change_password(store: &UserStore, caller: u32, request: ChangePassword) -> Outcome {
    check_password_length(&request.current_password)?;
    check_password_length(&request.new_password)?;
    let (id, current_hash) = {
        let directory = store.snapshot();
        let user = directory
            .find(&request.user_id)
            .ok_or(Status::ResourceNotFound)?;
        (user.id, user.password_hash.clone())
    };
    if id != caller {
        store.authorize(caller, Access::ManageUsers)?;
        grants::may_manage(&store.snapshot(), caller, id)?;
    }
    if !check_password(&request.current_password, Some(current_hash.clone())).await? {
        return Err(Status::InvalidCredentials);
    }
    let new_hash = hash_password(&request.new_password).await?;
    store
        .change(|directory, _| {
            let user = directory.get(id).ok_or(Status::ResourceNotFound)?;
            if user.password_hash != current_hash {
                // Changed by a concurrent request since it was verified: verify again.
                return Err(Status::InvalidCredentials);
            }
            directory.set_password_hash(id, new_hash)
        })
        .await?;
    Ok(Payload::Empty)
}

/// 41: the caller's tokens, by name; `expiry_at` 0 means never (what the SDK reads as `None`).
fn list_tokens(store: &UserStore, caller: u32) -> Outcome {
    let directory = store.snapshot();
    let user = directory.get(caller).ok_or(Status::ResourceNotFound)?;
    let mut tokens: Vec<TokenEntry> = user
        .tokens
        .iter()
        .map(|token| TokenEntry {
            name: token.name.clone(),
            expiry_at: token.expiry_at.unwrap_or(0),
        })
        .collect();
    tokens.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(Payload::encode(&TokenList { tokens }))
}

/// 42: a new token for the caller; the raw token is in this reply only. The name is bounded
/// only by the wire (1..=255 bytes), as with the 0.11 binary protocol, whose SDK sends names
/// the HTTP API's 3..=30 rule would refuse.
async fn create_token(store: &UserStore, caller: u32, request: CreateToken) -> Outcome {
    let (raw, digest) = secrets::new_token();
    store
        .change(|directory, now| {
            let token = Token {
                name: request.name,
                digest,
                expiry_at: token_expiry_at(now, request.expiry),
            };
            directory.add_token(caller, token)
        })
        .await?;
    Ok(Payload::encode(&CreatedToken { token: raw }))
}

/// 43: removes one of the caller's tokens by name.
async fn delete_token(store: &UserStore, caller: u32, request: DeleteToken) -> Outcome {
    store
        .change(|directory, _| directory.remove_token(caller, &request.name))
        .await?;
    Ok(Payload::Empty)
}
