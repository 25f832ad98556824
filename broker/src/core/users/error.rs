//! Why a user operation failed. Part of [`crate::core::CoreError`]; each adapter maps it to its
//! protocol (native: `native::errors::user_status`).

/// Why a user, permission or token operation (or a login) failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UserError {
    /// A username outside the allowed length.
    #[error("invalid username")]
    InvalidUsername,
    /// A password outside the allowed length.
    #[error("invalid password")]
    InvalidPassword,
    /// The name is taken.
    #[error("user already exists")]
    AlreadyExists,
    /// No room for another user.
    #[error("users limit reached")]
    LimitReached,
    /// No such user (or token).
    #[error("not found")]
    NotFound,
    /// The root user cannot be deleted.
    #[error("the root user cannot be deleted")]
    CannotDelete,
    /// The root user's grants cannot be changed.
    #[error("the root user's permissions cannot be changed")]
    CannotChangePermissions,
    /// The user already holds a token of that name.
    #[error("personal access token already exists")]
    TokenAlreadyExists,
    /// The user holds as many tokens as allowed.
    #[error("personal access tokens limit reached")]
    TokensLimitReached,
    /// Wrong username or password (or a throttled address).
    #[error("invalid credentials")]
    InvalidCredentials,
    /// An unknown token (or a throttled address).
    #[error("invalid personal access token")]
    InvalidToken,
    /// The token has expired.
    #[error("personal access token expired")]
    TokenExpired,
    /// The user may not log in.
    #[error("user inactive")]
    Inactive,
    /// The session is gone (user deleted or deactivated, token deleted or expired).
    #[error("unauthenticated")]
    Unauthenticated,
    /// The user has no SCRAM credential of the mechanism named (Kafka's RESOURCE_NOT_FOUND).
    #[error("no such SCRAM credential")]
    CredentialNotFound,
    /// The caller lacks the permission.
    #[error("unauthorized")]
    Unauthorized,
    /// The change could not be made durable, so it was not made.
    #[error("user change not saved: {0}")]
    NotSaved(String),
    /// Internal failure (a hashing task failed).
    #[error("internal error: {0}")]
    Internal(String),
}
