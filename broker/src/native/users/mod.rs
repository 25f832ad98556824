//! Users, permissions and personal access tokens of the native protocol (commands 31–37 and
//! 41–43), and the checks every other native command relies on: password and token login and
//! [`UserStore::authorize`].
//!
//! The directory is an immutable snapshot behind a lock: readers (every authorize call) take a
//! cheap `Arc` clone; a change is applied to a copy, written to disk, and only then published,
//! so a reply never acknowledges a change that a crash could lose. Changes are serialized by an
//! async writer lock so two concurrent commands cannot overwrite each other's file.

mod grants;
mod handlers;
mod model;
mod permissions;
mod secrets;
#[cfg(test)]
mod security_tests;
mod stored;
#[cfg(test)]
mod tests;
mod throttle;

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, PoisonError, RwLock};

use tokio::sync::Semaphore;

use whippet_wire::native::status::Status;

use self::model::{Directory, NewUser, ROOT_ID};
use self::throttle::LoginThrottle;
use super::call::{Access, Call, Conn, Outcome};
use crate::config::Credentials;
use crate::context::BrokerContext;

/// The users and tokens store shared by all native connections.
#[derive(Debug)]
pub(crate) struct UserStore {
    /// The current directory; replaced whole on every change.
    directory: RwLock<Arc<Directory>>,
    /// Where changes are persisted; `None` keeps everything in memory.
    file: Option<PathBuf>,
    /// Serializes changes (copy, persist, publish).
    writer: tokio::sync::Mutex<()>,
    /// Bumped after every published change, so open sessions know to check themselves again.
    generation: AtomicU64,
    /// Failed-login allowances by client address.
    throttle: LoginThrottle,
}

/// What an open session was proved with, kept by its connection so the session is checked again
/// at its next request after any change to users or tokens (a deactivated or deleted user, a
/// deleted token) and when its token expires.
#[derive(Debug, Default)]
pub(crate) struct SessionCheck {
    /// Digest of the token the session was opened with (`None`: a password).
    token: Option<String>,
    /// The token's expiry instant, µs since the epoch.
    expires_at: Option<u64>,
    /// The store generation the session was last found valid at.
    generation: u64,
}

/// A successful login: the user and what to keep for [`UserStore::check_session`].
#[derive(Debug)]
pub(crate) struct Login {
    /// The logged-in user.
    pub user_id: u32,
    /// What the connection keeps for later checks.
    pub check: SessionCheck,
}

/// A directory holding only the root user from the config, with every permission.
fn root_directory(root: &Credentials, now: u64) -> Result<Directory, String> {
    let password_hash = secrets::hash_password(&root.password)
        .map_err(|error| format!("cannot hash the root password: {error}"))?;
    let mut directory = Directory::default();
    let root_permissions = permissions::root_permissions();
    directory
        .create(
            NewUser {
                username: root.username.clone(),
                password_hash,
                active: true,
                permissions: Some(root_permissions),
            },
            now,
        )
        .map_err(|status| format!("cannot create the root user: {status:?}"))?;
    Ok(directory)
}

impl UserStore {
    /// Opens the store under `state_dir`, creating the root user from `root` when no users file
    /// exists yet (later config changes to the root credentials do not alter a stored root, as
    /// with the reference server). A corrupt file is an error naming it.
    pub fn open(state_dir: &Path, root: &Credentials) -> Result<Self, String> {
        std::fs::create_dir_all(state_dir)
            .map_err(|error| format!("cannot create {}: {error}", state_dir.display()))?;
        let path = state_dir.join(stored::USERS_FILE);
        let directory = match stored::load(&path)? {
            Some(directory) if directory.get(ROOT_ID).is_some() => directory,
            Some(_) => return Err(format!("users file {} has no root user", path.display())),
            None => {
                let directory = root_directory(root, secrets::now_micros())?;
                stored::save(&path, &directory)?;
                directory
            }
        };
        Ok(Self {
            directory: RwLock::new(Arc::new(directory)),
            file: Some(path),
            writer: tokio::sync::Mutex::new(()),
            generation: AtomicU64::new(0),
            throttle: LoginThrottle::default(),
        })
    }

    /// A store holding only the root user, persisting nothing (tests, embedding). Should the
    /// root password fail to hash, the root user cannot log in rather than the broker failing.
    pub fn in_memory(root: &Credentials) -> Self {
        let directory = root_directory(root, secrets::now_micros()).unwrap_or_else(|error| {
            tracing::error!("{error}; native logins are impossible");
            Directory::default()
        });
        Self {
            directory: RwLock::new(Arc::new(directory)),
            file: None,
            writer: tokio::sync::Mutex::new(()),
            generation: AtomicU64::new(0),
            throttle: LoginThrottle::default(),
        }
    }

    /// The current directory.
    fn snapshot(&self) -> Arc<Directory> {
        Arc::clone(
            &self
                .directory
                .read()
                .unwrap_or_else(PoisonError::into_inner),
        )
    }

    /// Applies one change to a copy of the directory, persists the copy, then publishes it.
    /// `apply` gets the current time in µs. A failed write is logged and answered with
    /// CannotWriteToFile, and the change is not published.
    async fn change<R>(
        &self,
        apply: impl FnOnce(&mut Directory, u64) -> Result<R, Status>,
    ) -> Result<R, Status> {
        let _turn = self.writer.lock().await;
        let mut next = Directory::clone(&self.snapshot());
        let result = apply(&mut next, secrets::now_micros())?;
        let next = match &self.file {
            Some(path) => {
                let path = path.clone();
                blocking("users change not saved", move || {
                    stored::save(&path, &next).map(|()| next)
                })
                .await
                .map_err(|_| Status::CannotWriteToFile)?
            }
            None => next,
        };
        *self
            .directory
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Arc::new(next);
        self.generation.fetch_add(1, Ordering::AcqRel);
        Ok(result)
    }

    /// Checks a username and password from `address`. Costs the same whether or not the user
    /// exists (an unknown name is checked against a dummy hash), and says UserInactive only to
    /// a caller who knew the password. Throttled per address ([`throttle`]): a throttled
    /// address gets InvalidCredentials without a check.
    pub async fn verify_password(
        &self,
        address: IpAddr,
        username: &str,
        password: &str,
    ) -> Result<Login, Status> {
        if !self.throttle.allows(address) {
            tracing::debug!(%address, "login refused: too many failed logins from this address");
            return Err(Status::InvalidCredentials);
        }
        let generation = self.generation.load(Ordering::Acquire);
        let (user, hash) = {
            let directory = self.snapshot();
            match directory.by_name(username) {
                Some(user) => (
                    Some((user.id, user.active)),
                    Some(user.password_hash.clone()),
                ),
                None => (None, None),
            }
        };
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
                    Err(Status::UserInactive)
                }
            }
            _ => {
                self.throttle.failed(address);
                Err(Status::InvalidCredentials)
            }
        }
    }

    /// Checks a raw personal access token from `address`, throttled as passwords are.
    pub fn verify_token(&self, address: IpAddr, token: &str) -> Result<Login, Status> {
        if !self.throttle.allows(address) {
            tracing::debug!(%address, "login refused: too many failed logins from this address");
            return Err(Status::InvalidPersonalAccessToken);
        }
        let generation = self.generation.load(Ordering::Acquire);
        let digest = secrets::token_digest(token);
        let verified = self.snapshot().token_login(&digest, secrets::now_micros());
        match verified {
            Ok((user_id, expires_at)) => Ok(Login {
                user_id,
                check: SessionCheck {
                    token: Some(digest),
                    expires_at,
                    generation,
                },
            }),
            Err(status) => {
                self.throttle.failed(address);
                Err(status)
            }
        }
    }

    /// Whether the session `check` belongs to is still valid for `user_id`: the user exists
    /// and is active and, for a token session, the token still exists and has not expired.
    /// Free (two atomic loads) unless users changed since the last check or the token has an
    /// expiry; a revoked session is Unauthenticated.
    pub fn check_session(&self, user_id: u32, check: &mut SessionCheck) -> Result<(), Status> {
        let generation = self.generation.load(Ordering::Acquire);
        let now = check.expires_at.map(|_| secrets::now_micros());
        let expired = check.expires_at.zip(now).is_some_and(|(at, now)| at <= now);
        if generation == check.generation && !expired {
            return Ok(());
        }
        let directory = self.snapshot();
        let user = directory.get(user_id).ok_or(Status::Unauthenticated)?;
        let token_valid = check.token.as_ref().is_none_or(|digest| {
            let now = now.unwrap_or_else(secrets::now_micros);
            user.tokens
                .iter()
                .any(|token| &token.digest == digest && !token.is_expired(now))
        });
        if !user.active || !token_valid {
            return Err(Status::Unauthenticated);
        }
        check.generation = generation;
        Ok(())
    }

    /// Whether `user_id` may do `access`: Unauthorized (41) when denied. The root user may do
    /// everything; a user deleted since it logged in is Unauthenticated (its session is gone).
    pub fn authorize(&self, user_id: u32, access: Access) -> Result<(), Status> {
        if user_id == ROOT_ID {
            return Ok(());
        }
        let directory = self.snapshot();
        let user = directory.get(user_id).ok_or(Status::Unauthenticated)?;
        let allowed = user
            .permissions
            .as_ref()
            .is_some_and(|stored| permissions::allows(&stored.to_wire(), access));
        if allowed {
            Ok(())
        } else {
            Err(Status::Unauthorized)
        }
    }
}

/// Runs `work` off the async runtime. Its error, or a panic of the task, is logged after
/// `what` and answered with Status::Error.
async fn blocking<T: Send + 'static>(
    what: &'static str,
    work: impl FnOnce() -> Result<T, String> + Send + 'static,
) -> Result<T, Status> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|error| error.to_string())
        .and_then(|done| done)
        .map_err(|error| {
            tracing::error!("{what}: {error}");
            Status::Error
        })
}

/// [`blocking`] for argon2 work (slow and 19 MiB on purpose): it waits for a turn, at most
/// [`crate::limits::PASSWORD_HASHES_CONCURRENT_MAX`] (and no more than the CPUs) at once, and
/// holds it until the work is done.
async fn argon2<T: Send + 'static>(
    what: &'static str,
    work: impl FnOnce() -> Result<T, String> + Send + 'static,
) -> Result<T, Status> {
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
        .map_err(|_| Status::Error)?;
    blocking(what, move || {
        let done = work();
        drop(turn);
        done
    })
    .await
}

/// Verifies a password against a stored hash, or against a dummy hash of the same cost when
/// there is none (an unknown user), so both take as long.
async fn check_password(password: &str, hash: Option<String>) -> Result<bool, Status> {
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
async fn hash_password(password: &str) -> Result<String, Status> {
    let password = password.to_owned();
    argon2("cannot hash a password", move || {
        secrets::hash_password(&password)
    })
    .await
}

/// Commands 31–37 and 41–43 for the logged-in caller.
pub(crate) async fn handle(ctx: &Arc<BrokerContext>, conn: &mut Conn, call: Call<'_>) -> Outcome {
    let caller = conn.user()?;
    handlers::route(&ctx.native.users, caller, call).await
}
