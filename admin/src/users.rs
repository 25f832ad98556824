//! `whippet user list|create|delete|passwd|permissions` and `whippet token
//! create|list|delete`, over the API's user and personal-access-token routes.

use clap::Subcommand;
use serde_json::{Value, json};

use crate::output::{self, segment};
use crate::topics::done;
use crate::{CliError, Client, Output};

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Every user.
    List,
    /// Creates a user.
    Create {
        /// Username.
        name: String,
        /// The new user's password (`--password` is the one the CLI logs in with).
        #[arg(long)]
        user_password: String,
        /// Creates the user inactive (it cannot log in until activated).
        #[arg(long)]
        inactive: bool,
        /// Permissions as Iggy's permissions JSON (`{"global": {...}, "streams": {...}}`).
        #[arg(long)]
        permissions: Option<String>,
    },
    /// Deletes a user.
    Delete {
        /// Username or id.
        name: String,
    },
    /// Changes a user's password.
    Passwd {
        /// Username or id.
        name: String,
        /// The current password.
        #[arg(long)]
        current: String,
        /// The new password.
        #[arg(long)]
        new: String,
    },
    /// Shows a user's permissions, or replaces them with `--set`.
    Permissions {
        /// Username or id.
        name: String,
        /// New permissions as Iggy's permissions JSON; `null` removes them all.
        #[arg(long)]
        set: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Creates a token; its secret is printed once.
    Create {
        /// Token name.
        name: String,
        /// Seconds until it expires (default: never).
        #[arg(long)]
        expiry_secs: Option<u64>,
    },
    /// The logged-in user's tokens.
    List,
    /// Deletes a token.
    Delete {
        /// Token name.
        name: String,
    },
}

fn permissions_json(text: &str) -> Result<Value, CliError> {
    serde_json::from_str(text)
        .map_err(|error| CliError::new(format!("--permissions is not valid JSON: {error}")))
}

/// Runs one user command.
pub fn run_user(client: &Client, output: Output, command: &UserCommand) -> Result<(), CliError> {
    match command {
        UserCommand::List => list_users(client, output),
        UserCommand::Create {
            name,
            user_password: password,
            inactive,
            permissions,
        } => {
            let permissions = permissions.as_deref().map(permissions_json).transpose()?;
            let status = if *inactive { "inactive" } else { "active" };
            let body = json!({
                "username": name, "password": password, "status": status,
                "permissions": permissions,
            });
            client.post("/users", &body)?;
            done(output, &format!("user {name} created"))
        }
        UserCommand::Delete { name } => {
            client.delete(&format!("/users/{}", segment(name)))?;
            done(output, &format!("user {name} deleted"))
        }
        UserCommand::Passwd { name, current, new } => {
            let body = json!({"current_password": current, "new_password": new});
            client.put(&format!("/users/{}/password", segment(name)), &body)?;
            done(output, &format!("password of {name} changed"))
        }
        UserCommand::Permissions { name, set } => permissions(client, output, name, set.as_deref()),
    }
}

fn list_users(client: &Client, output: Output) -> Result<(), CliError> {
    let users = client.get("/users")?;
    if output == Output::Json {
        return output::json(&users);
    }
    let rows = users
        .as_array()
        .into_iter()
        .flatten()
        .map(|u| {
            vec![
                output::text(&u["id"]),
                output::text(&u["username"]),
                output::text(&u["status"]),
            ]
        })
        .collect();
    output::table(&["ID", "USERNAME", "STATUS"], rows);
    Ok(())
}

fn permissions(
    client: &Client,
    output: Output,
    name: &str,
    set: Option<&str>,
) -> Result<(), CliError> {
    let path = format!("/users/{}", segment(name));
    if let Some(text) = set {
        let body = json!({ "permissions": permissions_json(text)? });
        client.put(&format!("{path}/permissions"), &body)?;
        return done(output, &format!("permissions of {name} replaced"));
    }
    let Some(user) = client.get_optional(&path)? else {
        return Err(CliError::new(format!("unknown user {name:?}")));
    };
    let permissions = &user["permissions"];
    if output == Output::Json {
        return output::json(permissions);
    }
    let global = permissions["global"].as_object();
    let granted: Vec<&str> = global
        .into_iter()
        .flatten()
        .filter(|(_, value)| value.as_bool() == Some(true))
        .map(|(key, _)| key.as_str())
        .collect();
    println!(
        "global: {}",
        if granted.is_empty() {
            "-".to_owned()
        } else {
            granted.join(", ")
        }
    );
    if let Some(streams) = permissions["streams"].as_object() {
        for (stream, grants) in streams {
            println!("stream {stream}: {grants}");
        }
    }
    Ok(())
}

/// Runs one token command.
pub fn run_token(client: &Client, output: Output, command: &TokenCommand) -> Result<(), CliError> {
    match command {
        TokenCommand::Create { name, expiry_secs } => {
            let expiry = expiry_secs.map_or(0, |secs| secs.saturating_mul(1_000_000));
            let created = client.post(
                "/personal-access-tokens",
                &json!({"name": name, "expiry": expiry}),
            )?;
            if output == Output::Json {
                return output::json(&created);
            }
            println!("{}", output::text(&created["token"]));
            Ok(())
        }
        TokenCommand::List => {
            let tokens = client.get("/personal-access-tokens")?;
            if output == Output::Json {
                return output::json(&tokens);
            }
            let rows = tokens
                .as_array()
                .into_iter()
                .flatten()
                .map(|t| {
                    let expiry = t["expiry_at"].as_u64().map_or("never".to_owned(), |us| {
                        format!("{} (unix s)", us / 1_000_000)
                    });
                    vec![output::text(&t["name"]), expiry]
                })
                .collect();
            output::table(&["NAME", "EXPIRES"], rows);
            Ok(())
        }
        TokenCommand::Delete { name } => {
            client.delete(&format!("/personal-access-tokens/{}", segment(name)))?;
            done(output, &format!("token {name} deleted"))
        }
    }
}
