//! Users, permissions and personal access tokens of the native protocol (commands 31–37 and
//! 41–43), and the checks every other native command relies on: password and token login and
//! [`UserStore::authorize`].
//!
//! The directory is an immutable snapshot behind a lock: readers (every authorize call) take a
//! cheap `Arc` clone; a change is applied to a copy, written to disk, and only then published,
//! so a reply never acknowledges a change that a crash could lose. Changes are serialized by an
//! async writer lock so two concurrent commands cannot overwrite each other's file.

mod handlers;
mod model;
mod permissions;
mod secrets;
mod stored;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock, PoisonError, RwLock};

use tokio::sync::Semaphore;

use whippet_wire::native::status::Status;

use self::model::{Directory, NewUser, ROOT_ID};
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
    /// `apply` gets the current time in µs. A failed write is logged and answered with Error,
    /// and the change is not published.
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
                .await?
            }
            None => next,
        };
        *self
            .directory
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Arc::new(next);
        Ok(result)
    }

    /// Checks a username and password; returns the user id. Like the reference server, an
    /// inactive user is refused before the password is checked.
    pub async fn verify_password(&self, username: &str, password: &str) -> Result<u32, Status> {
        let (id, hash) = {
            let directory = self.snapshot();
            let user = directory
                .by_name(username)
                .ok_or(Status::InvalidCredentials)?;
            if !user.active {
                return Err(Status::UserInactive);
            }
            (user.id, user.password_hash.clone())
        };
        if check_password(password, hash).await? {
            Ok(id)
        } else {
            Err(Status::InvalidCredentials)
        }
    }

    /// Checks a raw personal access token; returns its user id.
    pub fn verify_token(&self, token: &str) -> Result<u32, Status> {
        let digest = secrets::token_digest(token);
        self.snapshot().token_login(&digest, secrets::now_micros())
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

/// Verifies a password against a stored hash.
async fn check_password(password: &str, hash: String) -> Result<bool, Status> {
    let password = password.to_owned();
    argon2("cannot check a password", move || {
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
