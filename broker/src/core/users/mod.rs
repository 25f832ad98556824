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
pub mod sasl;
pub mod scram;
mod scram_admin;
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
pub use self::scram_admin::{ScramChange, ScramDescription};
use self::throttle::LoginThrottle;
use super::meta::{Meta, MetaApplied, MetaCommand, MetaRefusal};
use super::{CoreError, Principal, RequestContext};
use crate::config::Credentials;
use crate::limits::{
    PASSWORD_BYTES_MAX, PASSWORD_BYTES_MIN, USERNAME_BYTES_MAX, USERNAME_BYTES_MIN,
};

/// Start of the `password_hash` of a user whose password was set as SCRAM credentials by a
/// Kafka client (followed by a random tag, new at every change, so open sessions proved with
/// the old password end).
const SCRAM_ONLY_MARKER: &str = "scram-only:";

/// Users per command when users are installed (migration): a user with every token it may
/// hold is some 20 KiB, so a command stays far below the metadata record limit.
const INSTALL_USERS_PER_COMMAND: usize = 500;

/// What an open session was proved with, kept by its connection so the session is checked again
/// at its next request after any change to users or tokens (a deactivated or deleted user, a
/// deleted token) and when its token expires.
#[derive(Debug, Default, Clone)]
pub struct SessionCheck {
    /// Digest of the token the session was opened with (`None`: a password).
    token: Option<String>,
    /// The token's expiry instant, µs since the epoch.
    expires_at: Option<u64>,
    /// The users version the session was last found valid at.
    generation: u64,
    /// The password hash a password session was proved against: a password change ends the
    /// session (`None`: a token session, or no session).
    password_hash: Option<String>,
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
    /// Failed-login allowances by username (known or not), so guessing one user's password
    /// from many addresses is braked too.
    user_throttle: LoginThrottle<String>,
    /// Key of the decoy SCRAM salts of unknown users (random per process).
    decoy_key: [u8; 32],
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
                scram: Some(scram::ScramSecrets::derive(&root.password)),
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
        let mut decoy_key = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut decoy_key);
        Ok(Self {
            meta,
            throttle: LoginThrottle::default(),
            user_throttle: LoginThrottle::with_limits(
                throttle::USER_LOGIN_FAILURES_BURST,
                std::time::Duration::from_millis(throttle::LOGIN_FAILURE_REFILL_MS),
            ),
            decoy_key,
        })
    }

    /// The same users with failed logins throttled by `throttle` (per address) and
    /// `user_throttle` (per username) instead of the defaults.
    #[must_use]
    pub fn with_login_throttle(
        mut self,
        throttle: LoginThrottle,
        user_throttle: LoginThrottle<String>,
    ) -> Self {
        self.throttle = throttle;
        self.user_throttle = user_throttle;
        self
    }

    /// Whether a login from `address` as `username` may be tried now; counts the refusal.
    fn login_allowed(&self, address: IpAddr, username: &str) -> bool {
        if !self.throttle.allows(&address) {
            tracing::debug!(%address, "login refused: too many failed logins from this address");
            return false;
        }
        if !self.user_throttle.allows(username) {
            tracing::debug!(%address, "login refused: too many failed logins for this user");
            return false;
        }
        true
    }

    /// Counts a failed login from `address` as `username`.
    fn login_failed(&self, address: IpAddr, username: &str) {
        self.throttle.failed(address);
        self.user_throttle.failed(username.to_string());
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
        if !self.login_allowed(address, username) {
            return Err(UserError::InvalidCredentials);
        }
        let state = self.meta.load();
        let generation = state.users_version;
        let (user, hash, scram) = match state.users.by_name(username) {
            Some(user) => (
                Some((user.id, user.active, user.scram.is_none())),
                Some(user.password_hash.clone()),
                user.scram.clone(),
            ),
            None => (None, None, None),
        };
        drop(state);
        let matches = check_password(password, hash.clone(), scram).await?;
        match (user, hash) {
            (Some((user_id, active, without_scram)), Some(hash)) if matches => {
                if !active {
                    return Err(UserError::Inactive);
                }
                if without_scram {
                    self.add_scram(user_id, hash.clone(), password).await;
                }
                let check = SessionCheck {
                    generation,
                    password_hash: Some(hash),
                    ..SessionCheck::default()
                };
                Ok(Login { user_id, check })
            }
            _ => {
                self.login_failed(address, username);
                Err(UserError::InvalidCredentials)
            }
        }
    }

    /// Gives a user stored before SCRAM existed its SCRAM credentials, from the password it
    /// just proved. Best effort: a failure only means SCRAM waits for the next login.
    async fn add_scram(&self, id: u32, verified_hash: String, password: &str) {
        let password = password.to_owned();
        let derived = argon2("cannot derive SCRAM credentials", move || {
            Ok(scram::ScramSecrets::derive(&password))
        })
        .await;
        let Ok(scram) = derived else { return };
        let command = UserCommand::SetScram {
            id,
            verified_hash,
            scram,
        };
        if let Err(error) = self.change(command).await {
            tracing::debug!(id, %error, "SCRAM credentials not stored");
        }
    }

    /// Keeps the session `check` belongs to valid across a password change its own user just
    /// made (the connection that changed the password stays logged in; others end).
    pub fn renew_password_session(&self, user_id: u32, check: &mut SessionCheck) {
        if check.password_hash.is_none() {
            return;
        }
        if let Some(user) = self.meta.load().users.get(user_id) {
            check.password_hash = Some(user.password_hash.clone());
        }
    }

    /// Checks a raw personal access token from `address`, throttled as passwords are.
    pub fn verify_token(&self, address: IpAddr, token: &str) -> Result<Login, UserError> {
        if !self.throttle.allows(&address) {
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
                    password_hash: None,
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
        let password_same = check
            .password_hash
            .as_ref()
            .is_none_or(|hash| hash == &user.password_hash);
        if !user.active || !token_valid || !password_same {
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

    /// Whether the request may do `access`, whichever protocol it came by: a logged-in user
    /// by its permissions ([`Self::authorize`]); the broker's own work always; an anonymous
    /// request too, since only a listener that does not authenticate at all (a Kafka listener
    /// without SASL, allowed only with `--auth false`) lets one reach an operation; the native
    /// listener refuses anonymous requests before they do. Free for those two (no load).
    pub fn permits(&self, rc: &RequestContext, access: Access) -> Result<(), UserError> {
        match rc.principal {
            Principal::User { id } => self.authorize(id, access),
            Principal::Internal | Principal::Anonymous => Ok(()),
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
        let (password_hash, scram) = hash_secrets(&request.password).await?;
        let user = NewUser {
            username: request.username,
            password_hash,
            active: request.active,
            permissions: request.permissions,
            scram: Some(scram),
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
        let (id, verified_hash, scram) = {
            let directory = self.directory();
            let user = directory.find(user).ok_or(UserError::NotFound)?;
            (user.id, user.password_hash.clone(), user.scram.clone())
        };
        if id != caller {
            self.authorize(caller, Access::ManageUsers)?;
            grants::may_manage(&self.directory(), caller, id)?;
        }
        if !check_password(current, Some(verified_hash.clone()), scram).await? {
            return Err(UserError::InvalidCredentials.into());
        }
        let (new_hash, new_scram) = hash_secrets(new).await?;
        let command = UserCommand::SetPassword {
            id,
            verified_hash,
            new_hash,
            new_scram: Some(new_scram),
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
/// there is none (an unknown user), so both take as long. A user whose password a Kafka
/// client set through AlterUserScramCredentials has no argon2 hash (its `password_hash` is a
/// marker, not a PHC string): its password is checked against its SCRAM credentials.
async fn check_password(
    password: &str,
    hash: Option<String>,
    scram: Option<scram::ScramSecrets>,
) -> Result<bool, UserError> {
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
        if hash.starts_with(SCRAM_ONLY_MARKER) {
            return Ok(scram.is_some_and(|scram| scram.matches_password(&password)));
        }
        Ok(secrets::verify_password(&password, &hash))
    })
    .await
}

/// Hashes a password and derives its SCRAM credentials, in one turn of the hashing pool.
async fn hash_secrets(password: &str) -> Result<(String, scram::ScramSecrets), UserError> {
    let password = password.to_owned();
    argon2("cannot hash a password", move || {
        let hash = secrets::hash_password(&password)?;
        Ok((hash, scram::ScramSecrets::derive(&password)))
    })
    .await
}
