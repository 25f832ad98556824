//! The user changes as commands of the metadata state machine. Each carries everything it
//! needs (the caller, the time, a hashed password, a token digest), so applying it depends only
//! on the directory and the command: replaying the log rebuilds exactly the directory that was
//! published. The grant checks ([`super::grants`]) run inside `apply`, against the directory
//! the change is made to, so no concurrent change can slip between a check and its change.

use serde::{Deserialize, Serialize};

use super::UserError;
use super::grants;
use super::model::{Directory, NewUser, Token, User, UserRef};
use super::permissions::Permissions;
use super::scram::{Mechanism, ScramCredential, ScramSecrets};

/// One change to users, permissions or tokens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum UserCommand {
    /// Adds users verbatim (ids, hashes, tokens): the root user of a new broker, or the users
    /// of a data dir from before the metadata log, a bounded number per command. Refused (and
    /// nothing added) when any of their ids or names is taken.
    Install {
        /// Every user.
        users: Vec<User>,
    },
    /// `caller` creates a user under the lowest free id at `now` (µs).
    Create {
        /// Who asks.
        caller: u32,
        /// The user, password already hashed.
        user: NewUser,
        /// Creation time, µs since the epoch.
        now: u64,
    },
    /// `caller` deletes a user (and its tokens).
    Delete {
        /// Who asks.
        caller: u32,
        /// The user.
        user: UserRef,
    },
    /// `caller` renames and/or (de)activates a user.
    Update {
        /// Who asks.
        caller: u32,
        /// The user.
        user: UserRef,
        /// New name.
        username: Option<String>,
        /// New status.
        active: Option<bool>,
    },
    /// `caller` replaces a user's grants.
    SetPermissions {
        /// Who asks.
        caller: u32,
        /// The user.
        user: UserRef,
        /// The grants.
        permissions: Option<Permissions>,
    },
    /// A user's password changes, provided its hash is still the one the old password was
    /// verified against (else a concurrent change won: InvalidCredentials).
    SetPassword {
        /// The user.
        id: u32,
        /// The hash verified.
        verified_hash: String,
        /// The new hash.
        new_hash: String,
        /// The new password's SCRAM credentials.
        #[serde(default)]
        new_scram: Option<ScramSecrets>,
    },
    /// A user stored without SCRAM credentials gets them, derived from the password it just
    /// logged in with, provided its hash is still the one that password was verified against.
    SetScram {
        /// The user.
        id: u32,
        /// The hash verified.
        verified_hash: String,
        /// The credentials.
        scram: ScramSecrets,
    },
    /// `caller` sets and removes SCRAM credentials of the user named `username` (Kafka's
    /// AlterUserScramCredentials), creating it (active, no grants) when credentials are set
    /// for a name no user has. Setting any credential is a new password: the user's
    /// `password_hash` becomes `marker` (not a PHC string, so from then on passwords are
    /// checked against the SCRAM credentials, and open sessions end at their next request) and
    /// the credentials of mechanisms not set here go, being made from the old password.
    /// Removing a credential the user does not have is CredentialNotFound.
    AlterScram {
        /// Who asks.
        caller: u32,
        /// The user.
        username: String,
        /// Credentials set.
        set: Vec<(Mechanism, ScramCredential)>,
        /// Mechanisms whose credential goes.
        remove: Vec<Mechanism>,
        /// The user's new `password_hash` when `set` is not empty.
        marker: String,
        /// Creation time of a new user, µs since the epoch.
        now: u64,
    },
    /// A user gets a token.
    AddToken {
        /// The user.
        id: u32,
        /// The token (digest only).
        token: Token,
    },
    /// A user's token goes.
    RemoveToken {
        /// The user.
        id: u32,
        /// The token's name.
        name: String,
    },
}

/// Applies `command` to `directory`, leaving it unchanged on refusal. Answers the id of the
/// user involved.
pub(crate) fn apply(directory: &mut Directory, command: &UserCommand) -> Result<u32, UserError> {
    match command {
        UserCommand::Install { users } => {
            let merged = directory.users().chain(users).cloned().collect();
            *directory = Directory::from_users(merged).map_err(|_| UserError::AlreadyExists)?;
            Ok(super::ROOT_ID)
        }
        UserCommand::Create { caller, user, now } => {
            grants::may_grant(directory, *caller, user.permissions.as_ref())?;
            directory.create(user.clone(), *now)
        }
        UserCommand::Delete { caller, user } => {
            let id = directory.resolve(user)?;
            grants::may_manage(directory, *caller, id)?;
            directory.delete(id).map(|_| id)
        }
        UserCommand::Update {
            caller,
            user,
            username,
            active,
        } => {
            let id = directory.resolve(user)?;
            grants::may_manage(directory, *caller, id)?;
            directory.update(id, username.clone(), *active).map(|()| id)
        }
        UserCommand::SetPermissions {
            caller,
            user,
            permissions,
        } => {
            let id = directory.resolve(user)?;
            grants::may_manage(directory, *caller, id)?;
            grants::may_grant(directory, *caller, permissions.as_ref())?;
            directory
                .set_permissions(id, permissions.as_ref())
                .map(|()| id)
        }
        UserCommand::SetPassword {
            id,
            verified_hash,
            new_hash,
            new_scram,
        } => {
            let user = directory.get(*id).ok_or(UserError::NotFound)?;
            if &user.password_hash != verified_hash {
                return Err(UserError::InvalidCredentials);
            }
            directory
                .set_password_hash(*id, new_hash.clone(), new_scram.clone())
                .map(|()| *id)
        }
        UserCommand::SetScram {
            id,
            verified_hash,
            scram,
        } => {
            let user = directory.get(*id).ok_or(UserError::NotFound)?;
            if &user.password_hash != verified_hash {
                return Err(UserError::InvalidCredentials);
            }
            directory
                .set_password_hash(*id, verified_hash.clone(), Some(scram.clone()))
                .map(|()| *id)
        }
        UserCommand::AlterScram {
            caller,
            username,
            set,
            remove,
            marker,
            now,
        } => alter_scram(directory, *caller, username, set, remove, marker, *now),
        UserCommand::AddToken { id, token } => {
            directory.add_token(*id, token.clone()).map(|()| *id)
        }
        UserCommand::RemoveToken { id, name } => directory.remove_token(*id, name).map(|()| *id),
    }
}

fn alter_scram(
    directory: &mut Directory,
    caller: u32,
    username: &str,
    set: &[(Mechanism, ScramCredential)],
    remove: &[Mechanism],
    marker: &str,
    now: u64,
) -> Result<u32, UserError> {
    let Some(user) = directory.by_name(username) else {
        if set.is_empty() {
            return Err(UserError::CredentialNotFound);
        }
        grants::may_grant(directory, caller, None)?;
        let mut scram = ScramSecrets::default();
        for (mechanism, credential) in set {
            scram.set(*mechanism, Some(credential.clone()));
        }
        let user = NewUser {
            username: username.to_owned(),
            password_hash: marker.to_owned(),
            active: true,
            permissions: None,
            scram: Some(scram),
        };
        return directory.create(user, now);
    };
    let id = user.id;
    grants::may_manage(directory, caller, id)?;
    let mut scram = user.scram.clone().unwrap_or_default();
    for mechanism in remove {
        if scram.get(*mechanism).is_none() {
            return Err(UserError::CredentialNotFound);
        }
        scram.set(*mechanism, None);
    }
    let mut password_hash = user.password_hash.clone();
    if !set.is_empty() {
        password_hash = marker.to_owned();
        for mechanism in Mechanism::ALL {
            let new = set.iter().find(|(m, _)| *m == mechanism);
            scram.set(mechanism, new.map(|(_, credential)| credential.clone()));
        }
    }
    directory
        .set_password_hash(id, password_hash, Some(scram))
        .map(|()| id)
}
