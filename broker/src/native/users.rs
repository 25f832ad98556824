//! Users, permissions and personal access tokens (being implemented): for now only the root
//! user from the config can log in, and it may do everything.

use std::path::Path;
use std::sync::Arc;

use whippet_wire::native::status::Status;

use super::call::{Access, Call, Conn, Outcome};
use crate::config::Credentials;
use crate::context::BrokerContext;

/// The users and tokens store.
#[derive(Debug)]
pub(crate) struct UserStore {
    root: Credentials,
}

impl UserStore {
    /// Opens the store under `state_dir`, creating the root user from `root` when empty.
    pub fn open(_state_dir: &Path, root: &Credentials) -> Result<Self, String> {
        Ok(Self { root: root.clone() })
    }

    /// A store holding only the root user, persisting nothing (tests, embedding).
    pub fn in_memory(root: &Credentials) -> Self {
        Self { root: root.clone() }
    }

    /// Checks a username and password; returns the user id.
    pub async fn verify_password(&self, username: &str, password: &str) -> Result<u32, Status> {
        if username == self.root.username && password == self.root.password {
            Ok(0)
        } else {
            Err(Status::InvalidCredentials)
        }
    }

    /// Checks a raw personal access token; returns its user id.
    pub fn verify_token(&self, _token: &str) -> Result<u32, Status> {
        Err(Status::InvalidPersonalAccessToken)
    }

    /// Whether `user_id` may do `access`.
    pub fn authorize(&self, _user_id: u32, _access: Access) -> Result<(), Status> {
        Ok(())
    }
}

pub(crate) async fn handle(
    _ctx: &Arc<BrokerContext>,
    _conn: &mut Conn,
    _call: Call<'_>,
) -> Outcome {
    Err(Status::FeatureUnavailable)
}
