//! SCRAM credentials managed directly (Kafka's AlterUserScramCredentials and
//! DescribeUserScramCredentials): a Kafka client sets a user's password as a salted password
//! per mechanism instead of sending it. Users are the same store as everywhere else: a name
//! with no user becomes a new user (active, no grants), which then logs in natively with the
//! same password (checked against its SCRAM credentials, see `check_password`).

use super::commands::UserCommand;
use super::scram::{Mechanism, ScramCredential};
use super::{
    Access, CoreError, RequestContext, SCRAM_ONLY_MARKER, UserError, Users, caller_of,
    check_username, model, secrets,
};

/// One user's credential changes.
#[derive(Debug, Clone)]
pub struct ScramChange {
    /// The user (created when credentials are set for a name no user has).
    pub username: String,
    /// Credentials set, already derived from the client's salted password.
    pub set: Vec<(Mechanism, ScramCredential)>,
    /// Mechanisms whose credential goes.
    pub remove: Vec<Mechanism>,
}

/// A user's SCRAM credentials as described: mechanism and iteration count, never a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScramDescription {
    /// The user.
    pub username: String,
    /// Its mechanisms with their iterations.
    pub mechanisms: Vec<(Mechanism, u32)>,
}

impl Users {
    /// Applies `change` as the request's user, who needs manage_users (an anonymous request,
    /// possible only on a listener that does not authenticate, acts as the broker itself).
    /// Durable when it answers; sessions proved with the user's old password end at their
    /// next request.
    pub async fn alter_scram(
        &self,
        rc: &RequestContext,
        change: ScramChange,
    ) -> Result<(), CoreError> {
        check_username(&change.username)?;
        self.permits(rc, Access::ManageUsers)?;
        let caller = caller_of(rc).unwrap_or(model::ROOT_ID);
        let marker = format!("{SCRAM_ONLY_MARKER}{}", secrets::new_token().0);
        let command = UserCommand::AlterScram {
            caller,
            username: change.username,
            set: change.set,
            remove: change.remove,
            marker,
            now: secrets::now_micros(),
        };
        self.change(command).await?;
        Ok(())
    }

    /// The SCRAM credentials of `names` (every user holding one when `None`), for a caller
    /// with read_users. A named user without any is CredentialNotFound, in its own entry.
    pub fn describe_scram(
        &self,
        rc: &RequestContext,
        names: Option<&[String]>,
    ) -> Result<Vec<Result<ScramDescription, UserError>>, CoreError> {
        self.permits(rc, Access::ReadUsers)?;
        let directory = self.directory();
        let describe = |user: &model::User| {
            let mechanisms: Vec<(Mechanism, u32)> = user
                .scram
                .as_ref()
                .map(|scram| scram.mechanisms().collect())
                .unwrap_or_default();
            (!mechanisms.is_empty()).then(|| ScramDescription {
                username: user.username.clone(),
                mechanisms,
            })
        };
        Ok(match names {
            None => directory.users().filter_map(describe).map(Ok).collect(),
            Some(names) => names
                .iter()
                .map(|name| {
                    directory
                        .by_name(name)
                        .and_then(describe)
                        .ok_or(UserError::CredentialNotFound)
                })
                .collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::Arc;

    use hmac::SimpleHmac;
    use sha2::Sha256;

    use super::*;
    use crate::config::Credentials;
    use crate::core::Principal;
    use crate::core::meta::Meta;
    use crate::core::users::{CreateUser, ROOT_ID, UserRef, scram};

    const HERE: std::net::IpAddr = std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    fn as_user(id: u32) -> RequestContext {
        RequestContext::new(Principal::User { id }, "test", 0)
    }

    fn open(dir: &std::path::Path) -> Users {
        let (meta, _) = Meta::open(dir).unwrap();
        let root = Credentials {
            username: "iggy".into(),
            password: "iggy".into(),
        };
        Users::open(Arc::new(meta), dir, &root).unwrap()
    }

    /// What a Kafka client sends for `password`: the SCRAM-SHA-256 salted password.
    fn sha256_from(password: &str) -> (Mechanism, ScramCredential) {
        let salt = b"kafka-client-salt".to_vec();
        let mut salted = vec![0u8; 32];
        pbkdf2::pbkdf2::<SimpleHmac<Sha256>>(password.as_bytes(), &salt, 4096, &mut salted)
            .unwrap();
        let credential =
            scram::from_salted_password(Mechanism::Sha256, &salt, 4096, &salted).unwrap();
        (Mechanism::Sha256, credential)
    }

    fn set(username: &str, password: &str) -> ScramChange {
        ScramChange {
            username: username.into(),
            set: vec![sha256_from(password)],
            remove: Vec::new(),
        }
    }

    #[tokio::test]
    async fn a_user_created_as_scram_credentials_logs_in_with_its_password() {
        let dir = tempfile::tempdir().unwrap();
        let users = open(dir.path());
        let root = as_user(ROOT_ID);
        users
            .alter_scram(&root, set("kuser", "k-pass"))
            .await
            .unwrap();
        let login = users
            .verify_password(HERE, "kuser", "k-pass")
            .await
            .unwrap();
        assert_ne!(login.user_id, ROOT_ID);
        assert!(matches!(
            users.verify_password(HERE, "kuser", "wrong").await,
            Err(UserError::InvalidCredentials)
        ));
        let described = users.describe_scram(&root, None).unwrap();
        assert!(described.contains(&Ok(ScramDescription {
            username: "kuser".into(),
            mechanisms: vec![(Mechanism::Sha256, 4096)],
        })));
        // Its password changes natively too, and then both mechanisms exist again.
        users
            .change_password(&root, &UserRef::Name("kuser".into()), "k-pass", "n-pass")
            .await
            .unwrap();
        users
            .verify_password(HERE, "kuser", "n-pass")
            .await
            .unwrap();
        let names = ["kuser".to_string(), "nobody".to_string()];
        let described = users.describe_scram(&root, Some(&names)).unwrap();
        assert_eq!(described[0].as_ref().unwrap().mechanisms.len(), 2);
        assert_eq!(described[1], Err(UserError::CredentialNotFound));
    }

    #[tokio::test]
    async fn setting_credentials_replaces_the_password_and_ends_its_sessions() {
        let dir = tempfile::tempdir().unwrap();
        let users = open(dir.path());
        let root = as_user(ROOT_ID);
        let alice = users
            .create_user(
                &root,
                CreateUser {
                    username: "alice".into(),
                    password: "old-pass".into(),
                    active: true,
                    permissions: None,
                },
            )
            .await
            .unwrap();
        let mut session = users
            .verify_password(HERE, "alice", "old-pass")
            .await
            .unwrap();
        users
            .alter_scram(&root, set("alice", "new-pass"))
            .await
            .unwrap();
        assert_eq!(
            users.check_session(alice.id, &mut session.check),
            Err(UserError::Unauthenticated)
        );
        assert!(
            users
                .verify_password(HERE, "alice", "old-pass")
                .await
                .is_err()
        );
        users
            .verify_password(HERE, "alice", "new-pass")
            .await
            .unwrap();
        // Removing a credential the user does not have (SHA-512 went with the old password).
        let remove = |mechanism| ScramChange {
            username: "alice".into(),
            set: Vec::new(),
            remove: vec![mechanism],
        };
        assert!(matches!(
            users.alter_scram(&root, remove(Mechanism::Sha512)).await,
            Err(CoreError::User(UserError::CredentialNotFound))
        ));
        users
            .alter_scram(&root, remove(Mechanism::Sha256))
            .await
            .unwrap();
        assert!(
            users
                .verify_password(HERE, "alice", "new-pass")
                .await
                .is_err()
        );
        // Without manage_users nothing changes.
        assert!(matches!(
            users
                .alter_scram(&as_user(alice.id), set("mallory", "pass"))
                .await,
            Err(CoreError::User(UserError::Unauthorized))
        ));
        assert!(users.directory().by_name("mallory").is_none());
    }
}
