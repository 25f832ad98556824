//! The users file of data dirs from before the metadata log: `native_users.json` in the
//! broker's state directory (`{"version": 1, "users": [...]}`, permissions flat as
//! [`super::Permissions`] stores them), read once to migrate its users onto the metadata log,
//! then removed.

use std::path::Path;

use serde::Deserialize;

use super::model::{Directory, User};
use crate::limits::USERS_FILE_BYTES_MAX;

/// File name of the old users file inside the state directory.
pub const USERS_FILE: &str = "native_users.json";

/// The only version that file ever had.
const FORMAT_VERSION: u32 = 1;

#[derive(Deserialize)]
struct UsersFile {
    version: u32,
    users: Vec<User>,
}

/// The users of the old file at `path`; `Ok(None)` when there is none. A file that is there
/// but cannot be read, or holds no root user, is an error naming it (never silently dropped).
pub fn load(path: &Path) -> Result<Option<Vec<User>>, String> {
    let Some(text) = whippet_meta::read_bounded_file(path, USERS_FILE_BYTES_MAX)
        .map_err(|error| format!("cannot read {}: {error}", path.display()))?
    else {
        return Ok(None);
    };
    let parsed: UsersFile = serde_json::from_slice(&text)
        .map_err(|error| format!("corrupt users file {}: {error}", path.display()))?;
    if parsed.version != FORMAT_VERSION {
        return Err(format!(
            "users file {} has unknown version {}",
            path.display(),
            parsed.version
        ));
    }
    let directory = Directory::from_users(parsed.users)
        .map_err(|error| format!("corrupt users file {}: {error}", path.display()))?;
    if directory.get(super::ROOT_ID).is_none() {
        return Err(format!("users file {} has no root user", path.display()));
    }
    Ok(Some(directory.users().cloned().collect()))
}

/// Removes the old file once its users are durable on the metadata log (a no-op when it is
/// already gone).
pub fn remove(path: &Path) -> Result<(), String> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(error) => Err(format!("cannot remove {}: {error}", path.display())),
    }
}
