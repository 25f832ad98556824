//! The native protocol's user commands (31–37 and 41–43) and the checks every other native
//! command relies on (password and token login, session checks, [`UserStore::authorize`]), as
//! a thin adapter over the core's users service ([`crate::core::users`]): it converts wire
//! structs to core types and [`UserError`]s to status codes (`native::errors::user_status`),
//! and owns nothing else. Users, permissions and tokens live on the metadata state machine.

mod convert;
mod handlers;
#[cfg(test)]
mod security_tests;
#[cfg(test)]
mod tests;

use std::net::IpAddr;
use std::sync::Arc;

use whippet_wire::native::status::Status;

use super::call::{Access, Call, Conn, Outcome};
use super::errors::user_status;
use crate::context::BrokerContext;
pub(crate) use crate::core::users::{Login, SessionCheck};
use crate::core::users::{UserError, Users};

/// The native view of the users service shared by all native connections.
#[derive(Debug)]
pub(crate) struct UserStore {
    users: Arc<Users>,
}

impl UserStore {
    /// The native adapter over `users`.
    pub fn new(users: Arc<Users>) -> Self {
        Self { users }
    }

    /// The core service.
    pub fn core(&self) -> &Users {
        &self.users
    }

    /// Checks a username and password from `address` ([`Users::verify_password`]).
    pub async fn verify_password(
        &self,
        address: IpAddr,
        username: &str,
        password: &str,
    ) -> Result<Login, Status> {
        self.users
            .verify_password(address, username, password)
            .await
            .map_err(|error| user_status(&error))
    }

    /// Checks a raw personal access token from `address` ([`Users::verify_token`]).
    pub fn verify_token(&self, address: IpAddr, token: &str) -> Result<Login, Status> {
        self.users
            .verify_token(address, token)
            .map_err(|error| user_status(&error))
    }

    /// Whether the session is still valid ([`Users::check_session`]).
    pub fn check_session(&self, user_id: u32, check: &mut SessionCheck) -> Result<(), Status> {
        self.users
            .check_session(user_id, check)
            .map_err(|error| user_status(&error))
    }

    /// Whether `user_id` may do `access`: Unauthorized (41) when denied, Unauthenticated for a
    /// user deleted since it logged in.
    pub fn authorize(&self, user_id: u32, access: Access) -> Result<(), Status> {
        self.users
            .authorize(user_id, access)
            .map_err(|error: UserError| user_status(&error))
    }
}

/// Commands 31–37 and 41–43 for the logged-in caller.
pub(crate) async fn handle(ctx: &Arc<BrokerContext>, conn: &mut Conn, call: Call<'_>) -> Outcome {
    conn.user()?;
    handlers::route(&ctx.native.users, &conn.rc(), call).await
}
