//! The users directory as plain data: every rule about ids, names, the root user and tokens is
//! a method here taking the current time as an argument, so the rules are tested without a
//! clock, a file or a runtime, and replaying the metadata log's user commands rebuilds the same
//! directory (`super::commands`).

use std::collections::BTreeMap;
use std::fmt;

use super::UserError;
use super::permissions::Permissions;
use super::scram::ScramSecrets;
use crate::limits::{TOKENS_PER_USER_MAX, USERS_MAX};
use serde::{Deserialize, Serialize};

/// Id of the root user, which is created from the config and can be neither deleted nor have
/// its permissions changed.
pub const ROOT_ID: u32 = 0;

/// One personal access token; only the digest of the raw token is kept.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Token {
    /// Name, unique per user.
    pub name: String,
    /// SHA-256 of the raw token, lowercase hex.
    pub digest: String,
    /// Expiry instant in µs since the epoch; `None` never expires.
    pub expiry_at: Option<u64>,
}

impl Token {
    /// Expired at `now` (µs): the reference server treats the expiry instant itself as expired.
    pub fn is_expired(&self, now: u64) -> bool {
        self.expiry_at.is_some_and(|expiry_at| expiry_at <= now)
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Token")
            .field("name", &self.name)
            .field("expiry_at", &self.expiry_at)
            .finish_non_exhaustive()
    }
}

/// One user as stored.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// 0-based id; root is 0.
    pub id: u32,
    /// Unique name (exact bytes; compared case-sensitively).
    pub username: String,
    /// argon2id PHC string.
    pub password_hash: String,
    /// Whether the user may log in.
    pub active: bool,
    /// Creation time, µs since the epoch.
    pub created_at: u64,
    /// Grants; `None` means none at all.
    pub permissions: Option<Permissions>,
    /// Personal access tokens.
    #[serde(default)]
    pub tokens: Vec<Token>,
    /// SCRAM credentials derived from the password (`None` for a user stored before SCRAM
    /// existed, until its next password login).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scram: Option<ScramSecrets>,
}

impl fmt::Debug for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("active", &self.active)
            .field("tokens", &self.tokens)
            .finish_non_exhaustive()
    }
}

/// All users, by id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Directory {
    users: BTreeMap<u32, User>,
}

impl Directory {
    /// A directory holding exactly `users`; duplicate ids or names are refused (a corrupt file).
    pub fn from_users(users: Vec<User>) -> Result<Self, String> {
        let mut directory = Self::default();
        for user in users {
            if directory.by_name(&user.username).is_some() {
                return Err(format!("username {:?} appears twice", user.username));
            }
            if let Some(previous) = directory.users.insert(user.id, user) {
                return Err(format!("user id {} appears twice", previous.id));
            }
        }
        Ok(directory)
    }

    /// Users in id order.
    pub fn users(&self) -> impl Iterator<Item = &User> {
        self.users.values()
    }

    /// One user by id.
    pub fn get(&self, id: u32) -> Option<&User> {
        self.users.get(&id)
    }

    /// One user by exact name.
    pub fn by_name(&self, username: &str) -> Option<&User> {
        self.users.values().find(|user| user.username == username)
    }

    /// One user by numeric id or name.
    pub fn find(&self, user: &UserRef) -> Option<&User> {
        match user {
            UserRef::Id(id) => self.get(*id),
            UserRef::Name(name) => self.by_name(name),
        }
    }

    /// Id of the user `user` names, or NotFound (what the reference server answers for an
    /// unknown user in every command but get_user).
    pub fn resolve(&self, user: &UserRef) -> Result<u32, UserError> {
        self.find(user)
            .map(|user| user.id)
            .ok_or(UserError::NotFound)
    }

    fn get_mut(&mut self, id: u32) -> Result<&mut User, UserError> {
        self.users.get_mut(&id).ok_or(UserError::NotFound)
    }

    fn lowest_free_id(&self) -> Option<u32> {
        let mut expected = 0u32;
        for id in self.users.keys() {
            if *id != expected {
                return Some(expected);
            }
            expected = expected.checked_add(1)?;
        }
        Some(expected)
    }

    /// Adds a user under the lowest free id and returns that id.
    pub fn create(&mut self, new: NewUser, now: u64) -> Result<u32, UserError> {
        if self.by_name(&new.username).is_some() {
            return Err(UserError::AlreadyExists);
        }
        if self.users.len() >= USERS_MAX {
            return Err(UserError::LimitReached);
        }
        let id = self.lowest_free_id().ok_or(UserError::LimitReached)?;
        self.users.insert(
            id,
            User {
                id,
                username: new.username,
                password_hash: new.password_hash,
                active: new.active,
                created_at: now,
                permissions: new.permissions,
                tokens: Vec::new(),
                scram: new.scram,
            },
        );
        Ok(id)
    }

    /// Removes a user (and with it its tokens). The root user cannot be deleted.
    pub fn delete(&mut self, id: u32) -> Result<User, UserError> {
        if id == ROOT_ID {
            return Err(UserError::CannotDelete);
        }
        self.users.remove(&id).ok_or(UserError::NotFound)
    }

    /// Renames and/or (de)activates a user; a name taken by another user is refused.
    pub fn update(
        &mut self,
        id: u32,
        username: Option<String>,
        active: Option<bool>,
    ) -> Result<(), UserError> {
        if let Some(name) = &username
            && self.by_name(name).is_some_and(|other| other.id != id)
        {
            return Err(UserError::AlreadyExists);
        }
        let user = self.get_mut(id)?;
        if let Some(name) = username {
            user.username = name;
        }
        if let Some(active) = active {
            user.active = active;
        }
        Ok(())
    }

    /// Replaces a user's grants. The root user's grants cannot be changed.
    pub fn set_permissions(
        &mut self,
        id: u32,
        permissions: Option<&Permissions>,
    ) -> Result<(), UserError> {
        if id == ROOT_ID && self.users.contains_key(&id) {
            return Err(UserError::CannotChangePermissions);
        }
        self.get_mut(id)?.permissions = permissions.cloned();
        Ok(())
    }

    /// Replaces a user's password hash and SCRAM credentials.
    pub fn set_password_hash(
        &mut self,
        id: u32,
        password_hash: String,
        scram: Option<ScramSecrets>,
    ) -> Result<(), UserError> {
        let user = self.get_mut(id)?;
        user.password_hash = password_hash;
        user.scram = scram;
        Ok(())
    }

    /// Adds a token to a user: names are unique per user, and a user holds at most
    /// [`TOKENS_PER_USER_MAX`] tokens.
    pub fn add_token(&mut self, id: u32, token: Token) -> Result<(), UserError> {
        let user = self.get_mut(id)?;
        if user.tokens.iter().any(|other| other.name == token.name) {
            return Err(UserError::TokenAlreadyExists);
        }
        if user.tokens.len() >= TOKENS_PER_USER_MAX {
            return Err(UserError::TokensLimitReached);
        }
        user.tokens.push(token);
        Ok(())
    }

    /// Removes a user's token by name.
    pub fn remove_token(&mut self, id: u32, name: &str) -> Result<(), UserError> {
        let user = self.get_mut(id)?;
        let position = user
            .tokens
            .iter()
            .position(|token| token.name == name)
            .ok_or(UserError::NotFound)?;
        user.tokens.remove(position);
        Ok(())
    }

    /// The user a token digest logs in as at `now` (µs), with the token's expiry instant:
    /// unknown → InvalidPersonalAccessToken, expired → PersonalAccessTokenExpired, owner
    /// inactive → UserInactive.
    pub fn token_login(&self, digest: &str, now: u64) -> Result<(u32, Option<u64>), UserError> {
        let (user, token) = self
            .users
            .values()
            .find_map(|user| {
                user.tokens
                    .iter()
                    .find(|token| token.digest == digest)
                    .map(|token| (user, token))
            })
            .ok_or(UserError::InvalidToken)?;
        if token.is_expired(now) {
            return Err(UserError::TokenExpired);
        }
        if !user.active {
            return Err(UserError::Inactive);
        }
        Ok((user.id, token.expiry_at))
    }
}

/// A user named by id or by name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum UserRef {
    /// By id.
    Id(u32),
    /// By exact name.
    Name(String),
}

/// What create_user needs once the password is hashed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewUser {
    /// Validated name.
    pub username: String,
    /// argon2id PHC string.
    pub password_hash: String,
    /// Initial status.
    pub active: bool,
    /// Initial grants.
    pub permissions: Option<Permissions>,
    /// SCRAM credentials of the password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scram: Option<ScramSecrets>,
}

/// The expiry instant of a token created at `now` (µs) with the requested lifetime: 0 is the
/// server default and `u64::MAX` never, both meaning no expiry (the reference server's default);
/// a lifetime that would overflow also never expires.
pub fn token_expiry_at(now: u64, lifetime: u64) -> Option<u64> {
    match lifetime {
        0 | u64::MAX => None,
        lifetime => now.checked_add(lifetime),
    }
}
