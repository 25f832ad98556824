//! One function per user and token command: decode, check what only the wire has (option
//! keys), call the core's users service, encode. Body validation follows the reference
//! server's command validation (lengths → InvalidUsername / InvalidPassword, then options);
//! permission and grant checks are the core's. Token commands always act on the caller's own
//! tokens and need no permission.

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

use super::UserStore;
use super::convert::{permissions_from_wire, permissions_to_wire, user_ref};
use crate::core::RequestContext;
use crate::core::users::{self, User};
use crate::native::call::{Access, Call, Outcome, Payload};
use crate::native::errors::{core_status, user_status};

/// Routes one user or token command for the request's logged-in user.
pub(super) async fn route(store: &UserStore, rc: &RequestContext, call: Call<'_>) -> Outcome {
    let caller = users::caller_of(rc).map_err(status)?;
    match call.code {
        codes::GET_USER => get_user(store, caller, &call.decode()?),
        codes::GET_USERS => get_users(store, caller),
        codes::CREATE_USER => create_user(store, rc, call.decode()?).await,
        codes::DELETE_USER => delete_user(store, rc, &call.decode()?).await,
        codes::UPDATE_USER => update_user(store, rc, call.decode()?).await,
        codes::UPDATE_PERMISSIONS => update_permissions(store, rc, call.decode()?).await,
        codes::CHANGE_PASSWORD => change_password(store, rc, call.decode()?).await,
        codes::GET_PERSONAL_ACCESS_TOKENS => list_tokens(store, caller),
        codes::CREATE_PERSONAL_ACCESS_TOKEN => create_token(store, rc, call.decode()?).await,
        codes::DELETE_PERSONAL_ACCESS_TOKEN => delete_token(store, rc, call.decode()?).await,
        _ => Err(Status::InvalidCommand),
    }
}

fn status(error: users::UserError) -> Status {
    user_status(&error)
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
        permissions: user.permissions.as_ref().map(permissions_to_wire),
    })
}

/// 31: any user may read itself; reading others needs read_users. Unknown → ∅.
fn get_user(store: &UserStore, caller: u32, request: &UserRef) -> Outcome {
    let directory = store.core().directory();
    let Some(user) = directory.find(&user_ref(&request.user_id)) else {
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
        users: store.core().directory().users().map(header).collect(),
    };
    Ok(Payload::encode(&list))
}

/// 33: a new user under the lowest free id; replies with its details.
async fn create_user(store: &UserStore, rc: &RequestContext, request: CreateUser) -> Outcome {
    users::check_username(&request.username).map_err(status)?;
    users::check_password_length(&request.password).map_err(status)?;
    check_options(&request.options)?;
    let create = users::CreateUser {
        username: request.username,
        password: request.password,
        active: request.status == UserStatus::Active,
        permissions: request.permissions.as_ref().map(permissions_from_wire),
    };
    let user = store
        .core()
        .create_user(rc, create)
        .await
        .map_err(|error| core_status(&error, Status::Error))?;
    Ok(details(&user))
}

/// 34: removes a user and its tokens (never the root user).
async fn delete_user(store: &UserStore, rc: &RequestContext, request: &UserRef) -> Outcome {
    store
        .core()
        .delete_user(rc, user_ref(&request.user_id))
        .await
        .map_err(|error| core_status(&error, Status::Error))?;
    Ok(Payload::Empty)
}

/// 35: renames and/or (de)activates a user.
async fn update_user(store: &UserStore, rc: &RequestContext, request: UpdateUser) -> Outcome {
    if let Some(username) = &request.username.0 {
        users::check_username(username).map_err(status)?;
    }
    check_options(&request.options)?;
    let active = request.status.0.map(|status| status == UserStatus::Active);
    store
        .core()
        .update_user(rc, user_ref(&request.user_id), request.username.0, active)
        .await
        .map_err(|error| core_status(&error, Status::Error))?;
    Ok(Payload::Empty)
}

/// 36: replaces a user's grants (never the root user's).
async fn update_permissions(
    store: &UserStore,
    rc: &RequestContext,
    request: UpdatePermissions,
) -> Outcome {
    let permissions = request.permissions.as_ref().map(permissions_from_wire);
    store
        .core()
        .set_permissions(rc, user_ref(&request.user_id), permissions)
        .await
        .map_err(|error| core_status(&error, Status::Error))?;
    Ok(Payload::Empty)
}

/// 37: the current password must match, as on the reference server, even when a user manager
/// changes someone else's password; changing another user's password needs manage_users.
async fn change_password(
    store: &UserStore,
    rc: &RequestContext,
    request: ChangePassword,
) -> Outcome {
    store
        .core()
        .change_password(
            rc,
            &user_ref(&request.user_id),
            &request.current_password,
            &request.new_password,
        )
        .await
        .map_err(|error| core_status(&error, Status::Error))?;
    Ok(Payload::Empty)
}

/// 41: the caller's tokens, by name; `expiry_at` 0 means never (what the SDK reads as `None`).
fn list_tokens(store: &UserStore, caller: u32) -> Outcome {
    let directory = store.core().directory();
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
async fn create_token(store: &UserStore, rc: &RequestContext, request: CreateToken) -> Outcome {
    let raw = store
        .core()
        .create_token(rc, request.name, request.expiry)
        .await
        .map_err(|error| core_status(&error, Status::Error))?;
    Ok(Payload::encode(&CreatedToken { token: raw }))
}

/// 43: removes one of the caller's tokens by name.
async fn delete_token(store: &UserStore, rc: &RequestContext, request: DeleteToken) -> Outcome {
    store
        .core()
        .delete_token(rc, request.name)
        .await
        .map_err(|error| core_status(&error, Status::Error))?;
    Ok(Payload::Empty)
}
