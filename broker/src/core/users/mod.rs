//! Users, permissions and personal access tokens, shared by every protocol: the directory
//! ([`model`]), the permission rules ([`permissions`]) and who may grant what ([`grants`]),
//! secrets at rest ([`secrets`]), failed-login throttling ([`throttle`]), and the operations
//! ([`Users`]): password and token login, session checks, authorization, and the changes.
//!
//! The directory lives on the metadata state machine ([`crate::core::meta`]): a change is a
//! [`commands::UserCommand`] that is durable in the metadata log before it is visible or
//! acknowledged; readers (every authorize call) load the current directory without a lock.
//! Slow work (argon2 hashing) happens before a command is submitted, never inside one.
//!
//! Nothing here is specific to a protocol: the native adapter maps [`UserError`] to its status
//! codes and its wire structs to [`permissions::Permissions`]; Kafka SASL can log in against
//! the same store.

pub mod commands;
mod error;
pub mod grants;
pub mod legacy;
pub mod model;
pub mod permissions;
pub mod secrets;
#[cfg(test)]
mod tests;
pub mod throttle;

use std::net::IpAddr;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use tokio::sync::Semaphore;
use whippet_meta::CommandError;

use self::commands::UserCommand;
pub use self::error::UserError;
pub use self::model::{Directory, NewUser, ROOT_ID, Token, User, UserRef};
pub use self::permissions::{Access, Permissions};
use self::throttle::LoginThrottle;
use super::meta::{Meta, MetaApplied, MetaCommand, MetaRefusal};
use super::{CoreError, Principal, RequestContext};
use crate::config::Credentials;
use crate::limits::{
    PASSWORD_BYTES_MAX, PASSWORD_BYTES_MIN, USERNAME_BYTES_MAX, USERNAME_BYTES_MIN,
};

/// Users per command when users are installed (migration): a user with every token it may
/// hold is some 20 KiB, so a command stays far below the metadata record limit.
const INSTALL_USERS_PER_COMMAND: usize = 500;

/// What an open session was proved with, kept by its connection so the session is checked again
/// at its next request after any change to users or tokens (a deactivated or deleted user, a
/// deleted token) and when its token expires.
#[derive(Debug, Default)]
pub struct SessionCheck {
    /// Digest of the token the session was opened with (`None`: a password).
    token: Option<String>,
    /// The token's expiry instant, µs since the epoch.
    expires_at: Option<u64>,
    /// The users version the session was last found valid at.
    generation: u64,
}

/// A successful login: the user and what to keep for [`Users::check_session`].
#[derive(Debug)]
pub struct Login {
    /// The logged-in user.
    pub user_id: u32,
    /// What the connection keeps for later checks.
    pub check: SessionCheck,
}

/// A new user as a client asks for it (the password in clear, hashed by [`Users::create_user`]).
#[derive(Debug, Clone)]
pub struct CreateUser {
    /// Name.
    pub username: String,
    /// Password.
    pub password: String,
    /// Whether it may log in.
    pub active: bool,
    /// Its grants.
    pub permissions: Option<Permissions>,
}

/// The users service every adapter shares.
#[derive(Debug)]
pub struct Users {
    meta: Arc<Meta>,
    /// Failed-login allowances by client address.
    throttle: LoginThrottle,
}

/// A directory holding only the root user from the config, with every permission.
fn root_directory(root: &Credentials, now: u64) -> Result<Vec<User>, String> {
    let password_hash = secrets::hash_password(&root.password)
        .map_err(|error| format!("cannot hash the root password: {error}"))?;
    let mut directory = Directory::default();
    directory
        .create(
            NewUser {
                username: root.username.clone(),
                password_hash,
                active: true,
                permissions: Some(permissions::root_permissions()),
            },
            now,
        )
        .map_err(|error| format!("cannot create the root user: {error}"))?;
    Ok(directory.users().cloned().collect())
}

impl Users {
    /// The users on `meta`. The users file of a data dir from before the metadata log under
    /// `state_dir` is moved onto it first (the users it lists that `meta` does not hold yet, so
    /// a migration cut short by a crash resumes) and then removed; with neither, the root user
    /// is created from `root` (later config changes to the root credentials do not alter a
    /// stored root, as with the reference server). Blocking: call it off the async workers.
    pub fn open(meta: Arc<Meta>, state_dir: &Path, root: &Credentials) -> Result<Self, String> {
        let legacy_path = state_dir.join(legacy::USERS_FILE);
        let pending = match legacy::load(&legacy_path)? {
            Some(users) => {
                let directory = meta.load().users.clone();
                users
                    .into_iter()
                    .filter(|user| directory.get(user.id).is_none())
                    .collect()
            }
            None if meta.load().users.users().next().is_none() => {
                root_directory(root, secrets::now_micros())?
            }
            None => Vec::new(),
        };
        // Bounded commands, so even the largest old users file fits the record limit.
        for users in pending.chunks(INSTALL_USERS_PER_COMMAND) {
            let users = users.to_vec();
            meta.submit_blocking(MetaCommand::Users(UserCommand::Install { users }))
                .map_err(|error| format!("cannot store the users: {error}"))?;
        }
        if meta.load().users.get(ROOT_ID).is_none() {
            return Err(format!(
                "the metadata log in {} has no root user",
                meta.dir().display()
            ));
        }
        legacy::remove(&legacy_path)?;
        Ok(Self {
            meta,
            throttle: LoginThrottle::default(),
        })
    }

    /// The same users with failed logins throttled by `throttle` instead of the default.
    #[must_use]
    pub fn with_login_throttle(mut self, throttle: LoginThrottle) -> Self {
        self.throttle = throttle;
        self
    }

    /// The current directory (lock-free).
    pub fn directory(&self) -> Arc<Directory> {
        Arc::clone(&self.meta.load().users)
    }

    /// Submits one user command; answers once it is durable and visible.
    async fn change(&self, command: UserCommand) -> Result<u32, UserError> {
        match self.meta.submit(MetaCommand::Users(command)).await {
            Ok(MetaApplied::User(id)) => Ok(id),
            Ok(MetaApplied::Done) => Err(UserError::Internal("no user in the answer".into())),
            Err(CommandError::Rejected(MetaRefusal::Users(error))) => Err(error),
            Err(error) => {
                tracing::error!(%error, "users change not saved");
                Err(UserError::NotSaved(error.to_string()))
            }
        }
    }

    /// Checks a username and password from `address`. Costs the same whether or not the user
    /// exists (an unknown name is checked against a dummy hash), and says Inactive only to a
    /// caller who knew the password. Throttled per address ([`throttle`]): a throttled address
    /// gets InvalidCredentials without a check.
    pub async fn verify_password(
        &self,
        address: IpAddr,
        username: &str,
        password: &str,
    ) -> Result<Login, UserError> {
        if !self.throttle.allows(address) {
            tracing::debug!(%address, "login refused: too many failed logins from this address");
            return Err(UserError::InvalidCredentials);
        }
        let state = self.meta.load();
        let generation = state.users_version;
        let (user, hash) = match state.users.by_name(username) {
            Some(user) => (
                Some((user.id, user.active)),
                Some(user.password_hash.clone()),
            ),
            None => (None, None),
        };
        drop(state);
        let matches = check_password(password, hash).await?;
        match user {
            Some((user_id, active)) if matches => {
                if active {
                    let check = SessionCheck {
                        generation,
                        ..SessionCheck::default()
                    };
                    Ok(Login { user_id, check })
                } else {
                    Err(UserError::Inactive)
                }
            }
            _ => {
                self.throttle.failed(address);
                Err(UserError::InvalidCredentials)
            }
        }
    }

    /// Checks a raw personal access token from `address`, throttled as passwords are.
    pub fn verify_token(&self, address: IpAddr, token: &str) -> Result<Login, UserError> {
        if !self.throttle.allows(address) {
            tracing::debug!(%address, "login refused: too many failed logins from this address");
            return Err(UserError::InvalidToken);
        }
        let state = self.meta.load();
        let digest = secrets::token_digest(token);
        match state.users.token_login(&digest, secrets::now_micros()) {
            Ok((user_id, expires_at)) => Ok(Login {
                user_id,
                check: SessionCheck {
                    token: Some(digest),
                    expires_at,
                    generation: state.users_version,
                },
            }),
            Err(error) => {
                self.throttle.failed(address);
                Err(error)
            }
        }
    }

    /// Whether the session `check` belongs to is still valid for `user_id`: the user exists
    /// and is active and, for a token session, the token still exists and has not expired.
    /// Free (one atomic load) unless users changed since the last check or the token has an
    /// expiry; a revoked session is Unauthenticated.
    pub fn check_session(&self, user_id: u32, check: &mut SessionCheck) -> Result<(), UserError> {
        let state = self.meta.load();
        let now = check.expires_at.map(|_| secrets::now_micros());
        let expired = check.expires_at.zip(now).is_some_and(|(at, now)| at <= now);
        if state.users_version == check.generation && !expired {
            return Ok(());
        }
        let user = state.users.get(user_id).ok_or(UserError::Unauthenticated)?;
        let token_valid = check.token.as_ref().is_none_or(|digest| {
            let now = now.unwrap_or_else(secrets::now_micros);
            user.tokens
                .iter()
                .any(|token| &token.digest == digest && !token.is_expired(now))
        });
        if !user.active || !token_valid {
            return Err(UserError::Unauthenticated);
        }
        check.generation = state.users_version;
        Ok(())
    }

    /// Whether `user_id` may do `access`: Unauthorized when denied. The root user may do
    /// everything; a user deleted since it logged in is Unauthenticated (its session is gone).
    pub fn authorize(&self, user_id: u32, access: Access) -> Result<(), UserError> {
        if user_id == ROOT_ID {
            return Ok(());
        }
        let state = self.meta.load();
        let user = state.users.get(user_id).ok_or(UserError::Unauthenticated)?;
        let allowed = user
            .permissions
            .as_ref()
            .is_some_and(|held| permissions::allows(held, access));
        if allowed {
            Ok(())
        } else {
            Err(UserError::Unauthorized)
        }
    }

    /// `caller` creates a user (lowest free id) and gets it back.
    pub async fn create_user(
        &self,
        rc: &RequestContext,
        request: CreateUser,
    ) -> Result<User, CoreError> {
        let caller = caller_of(rc)?;
        check_username(&request.username)?;
        check_password_length(&request.password)?;
        self.authorize(caller, Access::ManageUsers)?;
        {
            let directory = self.directory();
            grants::may_grant(&directory, caller, request.permissions.as_ref())?;
            if directory.by_name(&request.username).is_some() {
                // Answer before spending a slow hash; the command checks again.
                return Err(UserError::AlreadyExists.into());
            }
        }
        let user = NewUser {
            username: request.username,
            password_hash: hash_password(&request.password).await?,
            active: request.active,
            permissions: request.permissions,
        };
        let now = secrets::now_micros();
        let id = self
            .change(UserCommand::Create { caller, user, now })
            .await?;
        Ok(self
            .directory()
            .get(id)
            .cloned()
            .ok_or(UserError::NotFound)?)
    }

    /// `caller` deletes a user and its tokens (never the root user).
    pub async fn delete_user(&self, rc: &RequestContext, user: UserRef) -> Result<(), CoreError> {
        let caller = caller_of(rc)?;
        self.authorize(caller, Access::ManageUsers)?;
        self.change(UserCommand::Delete { caller, user }).await?;
        Ok(())
    }

    /// `caller` renames and/or (de)activates a user.
    pub async fn update_user(
        &self,
        rc: &RequestContext,
        user: UserRef,
        username: Option<String>,
        active: Option<bool>,
    ) -> Result<(), CoreError> {
        let caller = caller_of(rc)?;
        if let Some(username) = &username {
            check_username(username)?;
        }
        self.authorize(caller, Access::ManageUsers)?;
        let command = UserCommand::Update {
            caller,
            user,
            username,
            active,
        };
        self.change(command).await?;
        Ok(())
    }

    /// `caller` replaces a user's grants (never the root user's).
    pub async fn set_permissions(
        &self,
        rc: &RequestContext,
        user: UserRef,
        permissions: Option<Permissions>,
    ) -> Result<(), CoreError> {
        let caller = caller_of(rc)?;
        self.authorize(caller, Access::ManageUsers)?;
        let command = UserCommand::SetPermissions {
            caller,
            user,
            permissions,
        };
        self.change(command).await?;
        Ok(())
    }

    /// Changes a user's password. The current password must match, as on the reference
    /// server, even when a user manager changes someone else's password; changing another
    /// user's password needs manage_users.
    pub async fn change_password(
        &self,
        rc: &RequestContext,
        user: &UserRef,
        current: &str,
        new: &str,
    ) -> Result<(), CoreError> {
        let caller = caller_of(rc)?;
        check_password_length(current)?;
        check_password_length(new)?;
        let (id, verified_hash) = {
            let directory = self.directory();
            let user = directory.find(user).ok_or(UserError::NotFound)?;
            (user.id, user.password_hash.clone())
        };
        if id != caller {
            self.authorize(caller, Access::ManageUsers)?;
            grants::may_manage(&self.directory(), caller, id)?;
        }
        if !check_password(current, Some(verified_hash.clone())).await? {
            return Err(UserError::InvalidCredentials.into());
        }
        let new_hash = hash_password(new).await?;
        let command = UserCommand::SetPassword {
            id,
            verified_hash,
            new_hash,
        };
        self.change(command).await?;
        Ok(())
    }

    /// A new token named `name` for `caller`, living `lifetime` µs (0 or `u64::MAX`: never
    /// expires); answers the raw token, which is stored only as a digest.
    pub async fn create_token(
        &self,
        rc: &RequestContext,
        name: String,
        lifetime: u64,
    ) -> Result<String, CoreError> {
        let caller = caller_of(rc)?;
        let (raw, digest) = secrets::new_token();
        let token = Token {
            name,
            digest,
            expiry_at: model::token_expiry_at(secrets::now_micros(), lifetime),
        };
        self.change(UserCommand::AddToken { id: caller, token })
            .await?;
        Ok(raw)
    }

    /// Removes one of `caller`'s tokens by name.
    pub async fn delete_token(&self, rc: &RequestContext, name: String) -> Result<(), CoreError> {
        let caller = caller_of(rc)?;
        self.change(UserCommand::RemoveToken { id: caller, name })
            .await?;
        Ok(())
    }
}

/// The user a request acts as: its logged-in user; the broker's own work acts as root; an
/// anonymous request is Unauthenticated.
pub fn caller_of(rc: &RequestContext) -> Result<u32, UserError> {
    match rc.principal {
        Principal::User { id } => Ok(id),
        Principal::Internal => Ok(model::ROOT_ID),
        Principal::Anonymous => Err(UserError::Unauthenticated),
    }
}

/// Usernames are 3..=50 bytes: InvalidUsername otherwise.
pub fn check_username(username: &str) -> Result<(), UserError> {
    if (USERNAME_BYTES_MIN..=USERNAME_BYTES_MAX).contains(&username.len()) {
        Ok(())
    } else {
        Err(UserError::InvalidUsername)
    }
}

/// Passwords are 3..=100 bytes: InvalidPassword otherwise.
pub fn check_password_length(password: &str) -> Result<(), UserError> {
    if (PASSWORD_BYTES_MIN..=PASSWORD_BYTES_MAX).contains(&password.len()) {
        Ok(())
    } else {
        Err(UserError::InvalidPassword)
    }
}

/// Runs argon2 work (slow and 19 MiB on purpose) on the blocking pool: it waits for a turn, at
/// most [`crate::limits::PASSWORD_HASHES_CONCURRENT_MAX`] (and no more than the CPUs) at once,
/// and holds it until the work is done. A failure is logged after `what`.
async fn argon2<T: Send + 'static>(
    what: &'static str,
    work: impl FnOnce() -> Result<T, String> + Send + 'static,
) -> Result<T, UserError> {
    static TURNS: OnceLock<Arc<Semaphore>> = OnceLock::new();
    let turns = TURNS.get_or_init(|| {
        let cpus = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        Arc::new(Semaphore::new(
            cpus.min(crate::limits::PASSWORD_HASHES_CONCURRENT_MAX),
        ))
    });
    let turn = Arc::clone(turns)
        .acquire_owned()
        .await
        .map_err(|error| UserError::Internal(error.to_string()))?;
    tokio::task::spawn_blocking(move || {
        let done = work();
        drop(turn);
        done
    })
    .await
    .map_err(|error| error.to_string())
    .and_then(|done| done)
    .map_err(|error| {
        tracing::error!("{what}: {error}");
        UserError::Internal(error)
    })
}

/// Verifies a password against a stored hash, or against a dummy hash of the same cost when
/// there is none (an unknown user), so both take as long.
async fn check_password(password: &str, hash: Option<String>) -> Result<bool, UserError> {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let password = password.to_owned();
    argon2("cannot check a password", move || {
        let Some(hash) = hash else {
            let dummy = DUMMY.get_or_init(|| {
                secrets::hash_password(&secrets::new_token().0).unwrap_or_default()
            });
            secrets::verify_password(&password, dummy);
            return Ok(false);
        };
        Ok(secrets::verify_password(&password, &hash))
    })
    .await
}

/// Hashes a password.
async fn hash_password(password: &str) -> Result<String, UserError> {
    let password = password.to_owned();
    argon2("cannot hash a password", move || {
        secrets::hash_password(&password)
    })
    .await
}
