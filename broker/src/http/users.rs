//! Logins, users and personal access tokens of the Iggy HTTP API. Logins check credentials
//! with the core's users service and open a session ([`super::auth`]); the user and token
//! routes run the native user commands through [`super::exec`].

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Request, State};
use axum::routing::{delete, get, post, put};
use serde::Deserialize;
use serde_json::{Value, json};
use whippet_wire::native::codes;
use whippet_wire::native::commands::system::EmptyBody;
use whippet_wire::native::commands::tokens::{CreateToken, CreatedToken, DeleteToken, TokenList};
use whippet_wire::native::commands::users::{
    ChangePassword, CreateUser, Optional, UpdatePermissions, UpdateUser, UserDetails, UserList,
    UserRef, UserStatus,
};

use super::auth::{Caller, IssuedToken};
use super::exec::{decode, decode_found, run};
use super::json::{self, PermissionsJson};
use super::request::{
    ApiError, ApiResult, created_json, no_content, ok_json, peer, read_json, user_error,
};
use super::resources::{identifier, string_options};
use super::{Api, begin};
use crate::core::users::{Login, UserError};

/// The routes of this module.
pub(crate) fn routes() -> Router<Arc<Api>> {
    Router::new()
        .route("/users/login", post(login))
        .route("/users/logout", delete(logout))
        .route("/users/refresh-token", post(refresh))
        .route("/personal-access-tokens/login", post(token_login))
        .route("/users", get(list_users).post(create_user))
        .route(
            "/users/{user}",
            get(get_user).put(update_user).delete(delete_user),
        )
        .route("/users/{user}/permissions", put(update_permissions))
        .route("/users/{user}/password", put(change_password))
        .route(
            "/personal-access-tokens",
            get(list_tokens).post(create_token),
        )
        .route("/personal-access-tokens/{name}", delete(delete_token))
}

/// Iggy's `IdentityInfo`.
fn identity(user_id: u32, token: &IssuedToken) -> Value {
    json!({
        "user_id": user_id,
        "access_token": {"token": token.token, "expiry": token.expiry},
    })
}

#[derive(Debug, Deserialize)]
struct LoginBody {
    username: String,
    password: String,
}

async fn login(State(api): State<Arc<Api>>, request: Request) -> ApiResult {
    let address = peer(&request).ip();
    let body: LoginBody = read_json(&api.ctx, request).await?;
    let verified = api
        .ctx
        .core
        .users
        .verify_password(address, &body.username, &body.password)
        .await;
    open_session(&api, verified)
}

#[derive(Debug, Deserialize)]
struct TokenLoginBody {
    token: String,
}

async fn token_login(State(api): State<Arc<Api>>, request: Request) -> ApiResult {
    let address = peer(&request).ip();
    let body: TokenLoginBody = read_json(&api.ctx, request).await?;
    let verified = api.ctx.core.users.verify_token(address, &body.token);
    open_session(&api, verified)
}

fn open_session(api: &Api, verified: Result<Login, UserError>) -> ApiResult {
    match verified {
        Ok(login) => {
            let user_id = login.user_id;
            let token = api.sessions.issue(login);
            ok_json(&identity(user_id, &token))
        }
        Err(error) => {
            api.ctx.core.metrics.login_failed("http");
            Err(user_error(&error))
        }
    }
}

async fn logout(State(api): State<Arc<Api>>, request: Request) -> ApiResult {
    let (caller, _) = begin(&api, &request)?;
    api.sessions.revoke(&caller);
    no_content()
}

async fn refresh(State(api): State<Arc<Api>>, request: Request) -> ApiResult {
    let body: TokenLoginBody = read_json(&api.ctx, request).await?;
    let caller = api.sessions.verify(&api.ctx, &body.token)?;
    let token = api.sessions.refresh(&caller)?;
    ok_json(&identity(caller.user_id, &token))
}

async fn list_users(State(api): State<Arc<Api>>, request: Request) -> ApiResult {
    let (caller, peer) = begin(&api, &request)?;
    let payload = run(&api.ctx, &caller, peer, codes::GET_USERS, &EmptyBody).await?;
    let list: Option<UserList> = decode(payload)?;
    let users: Vec<Value> = list
        .map(|list| list.users.iter().map(json::user).collect())
        .unwrap_or_default();
    ok_json(&users)
}

async fn get_user(
    State(api): State<Arc<Api>>,
    Path(user): Path<String>,
    request: Request,
) -> ApiResult {
    let (caller, peer) = begin(&api, &request)?;
    let user_id = identifier(&user)?;
    let payload = run(
        &api.ctx,
        &caller,
        peer,
        codes::GET_USER,
        &UserRef { user_id },
    )
    .await?;
    let details: UserDetails = decode_found(payload, &format!("user {user}"))?;
    ok_json(&json::user_details(&details))
}

fn status(text: Option<&str>) -> Result<Option<UserStatus>, ApiError> {
    match text {
        None => Ok(None),
        Some("active") => Ok(Some(UserStatus::Active)),
        Some("inactive") => Ok(Some(UserStatus::Inactive)),
        Some(other) => Err(ApiError::bad_request(format!("invalid status {other:?}"))),
    }
}

#[derive(Debug, Deserialize)]
struct CreateUserBody {
    username: String,
    password: String,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    permissions: Option<PermissionsJson>,
}

async fn create_user(State(api): State<Arc<Api>>, request: Request) -> ApiResult {
    let (caller, peer) = begin(&api, &request)?;
    let body: CreateUserBody = read_json(&api.ctx, request).await?;
    let command = CreateUser {
        username: body.username,
        password: body.password,
        status: status(body.status.as_deref())?.unwrap_or(UserStatus::Active),
        permissions: body.permissions.as_ref().map(PermissionsJson::to_wire),
        options: string_options(&BTreeMap::new()),
    };
    let payload = run(&api.ctx, &caller, peer, codes::CREATE_USER, &command).await?;
    let details: UserDetails = decode_found(payload, "user")?;
    created_json(&json::user_details(&details))
}

#[derive(Debug, Deserialize)]
struct UpdateUserBody {
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    options: BTreeMap<String, String>,
}

async fn update_user(
    State(api): State<Arc<Api>>,
    Path(user): Path<String>,
    request: Request,
) -> ApiResult {
    let (caller, peer) = begin(&api, &request)?;
    let user_id = identifier(&user)?;
    let body: UpdateUserBody = read_json(&api.ctx, request).await?;
    let command = UpdateUser {
        user_id,
        username: Optional(body.username),
        status: Optional(status(body.status.as_deref())?),
        options: string_options(&body.options),
    };
    run(&api.ctx, &caller, peer, codes::UPDATE_USER, &command).await?;
    no_content()
}

async fn delete_user(
    State(api): State<Arc<Api>>,
    Path(user): Path<String>,
    request: Request,
) -> ApiResult {
    let (caller, peer) = begin(&api, &request)?;
    let user_id = identifier(&user)?;
    run(
        &api.ctx,
        &caller,
        peer,
        codes::DELETE_USER,
        &UserRef { user_id },
    )
    .await?;
    no_content()
}

#[derive(Debug, Deserialize)]
struct PermissionsBody {
    #[serde(default)]
    permissions: Option<PermissionsJson>,
}

async fn update_permissions(
    State(api): State<Arc<Api>>,
    Path(user): Path<String>,
    request: Request,
) -> ApiResult {
    let (caller, peer) = begin(&api, &request)?;
    let user_id = identifier(&user)?;
    let body: PermissionsBody = read_json(&api.ctx, request).await?;
    let command = UpdatePermissions {
        user_id,
        permissions: body.permissions.as_ref().map(PermissionsJson::to_wire),
    };
    run(&api.ctx, &caller, peer, codes::UPDATE_PERMISSIONS, &command).await?;
    no_content()
}

#[derive(Debug, Deserialize)]
struct PasswordBody {
    current_password: String,
    new_password: String,
}

async fn change_password(
    State(api): State<Arc<Api>>,
    Path(user): Path<String>,
    request: Request,
) -> ApiResult {
    let (caller, peer) = begin(&api, &request)?;
    let user_id = identifier(&user)?;
    let body: PasswordBody = read_json(&api.ctx, request).await?;
    let command = ChangePassword {
        user_id,
        current_password: body.current_password,
        new_password: body.new_password,
    };
    run(&api.ctx, &caller, peer, codes::CHANGE_PASSWORD, &command).await?;
    // As on a native connection: the session that changed the password stays signed in.
    renew(&api, &caller);
    no_content()
}

fn renew(api: &Api, caller: &Caller) {
    api.sessions.renew_password(&api.ctx, caller);
}

async fn list_tokens(State(api): State<Arc<Api>>, request: Request) -> ApiResult {
    let (caller, peer) = begin(&api, &request)?;
    let payload = run(
        &api.ctx,
        &caller,
        peer,
        codes::GET_PERSONAL_ACCESS_TOKENS,
        &EmptyBody,
    )
    .await?;
    let list: Option<TokenList> = decode(payload)?;
    let tokens: Vec<Value> = list
        .map(|list| list.tokens)
        .unwrap_or_default()
        .iter()
        .map(|token| {
            let expiry = (token.expiry_at != 0).then_some(token.expiry_at);
            json!({"name": token.name, "expiry_at": expiry})
        })
        .collect();
    ok_json(&tokens)
}

#[derive(Debug, Deserialize)]
struct CreateTokenBody {
    name: String,
    #[serde(default)]
    expiry: u64,
}

async fn create_token(State(api): State<Arc<Api>>, request: Request) -> ApiResult {
    let (caller, peer) = begin(&api, &request)?;
    let body: CreateTokenBody = read_json(&api.ctx, request).await?;
    let command = CreateToken {
        name: body.name,
        expiry: body.expiry,
    };
    let payload = run(
        &api.ctx,
        &caller,
        peer,
        codes::CREATE_PERSONAL_ACCESS_TOKEN,
        &command,
    )
    .await?;
    let created: CreatedToken = decode_found(payload, "token")?;
    created_json(&json!({ "token": created.token }))
}

async fn delete_token(
    State(api): State<Arc<Api>>,
    Path(name): Path<String>,
    request: Request,
) -> ApiResult {
    let (caller, peer) = begin(&api, &request)?;
    let command = DeleteToken { name };
    run(
        &api.ctx,
        &caller,
        peer,
        codes::DELETE_PERSONAL_ACCESS_TOKEN,
        &command,
    )
    .await?;
    no_content()
}
