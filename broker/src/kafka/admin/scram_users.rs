//! AlterUserScramCredentials (51) and DescribeUserScramCredentials (50), KIP-554: Kafka's way
//! to create users and set or remove their SCRAM credentials, over the one user store
//! (`core::users`). A user a Kafka client creates here logs in over SASL and natively with
//! the same password; the caller needs manage_users (alter) or read_users (describe), else
//! CLUSTER_AUTHORIZATION_FAILED, as Kafka asks ALTER / DESCRIBE on the cluster.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use kafka_protocol::ResponseError;
use kafka_protocol::messages::alter_user_scram_credentials_response::AlterUserScramCredentialsResult;
use kafka_protocol::messages::describe_user_scram_credentials_response::{
    CredentialInfo, DescribeUserScramCredentialsResult,
};
use kafka_protocol::messages::{
    AlterUserScramCredentialsRequest, AlterUserScramCredentialsResponse,
    DescribeUserScramCredentialsRequest, DescribeUserScramCredentialsResponse,
};

use super::text;
use crate::context::BrokerContext;
use crate::core::users::scram::{self, Mechanism};
use crate::core::users::{ScramChange, UserError};
use crate::core::{CoreError, RequestContext};

/// Kafka's bounds on the iterations of a SCRAM credential (both mechanisms).
const ITERATIONS_MIN: i32 = 4096;
const ITERATIONS_MAX: i32 = 16384;

/// Why one user's change is refused: Kafka's code and message.
type Refusal = (ResponseError, String);

/// AlterUserScramCredentials: one result per user named, in the order first named; each
/// user's changes apply together or not at all.
pub(crate) async fn alter(
    ctx: &Arc<BrokerContext>,
    rc: &RequestContext,
    request: AlterUserScramCredentialsRequest,
) -> AlterUserScramCredentialsResponse {
    let mut order: Vec<String> = Vec::new();
    let mut changes: HashMap<String, Result<ScramChange, Refusal>> = HashMap::new();
    let mut seen: BTreeSet<(String, i8)> = BTreeSet::new();
    let deletions = request
        .deletions
        .iter()
        .map(|d| (d.name.to_string(), d.mechanism, None));
    let upsertions = request
        .upsertions
        .iter()
        .map(|u| (u.name.to_string(), u.mechanism, Some(u)));
    for (name, mechanism, upsertion) in deletions.chain(upsertions) {
        if !changes.contains_key(&name) {
            order.push(name.clone());
            changes.insert(
                name.clone(),
                Ok(ScramChange {
                    username: name.clone(),
                    set: Vec::new(),
                    remove: Vec::new(),
                }),
            );
        }
        let Some(Ok(change)) = changes.get_mut(&name) else {
            continue;
        };
        let outcome = if seen.insert((name.clone(), mechanism)) {
            add(change, mechanism, upsertion)
        } else {
            Err((
                ResponseError::DuplicateResource,
                "a user credential cannot be altered twice in the same request".into(),
            ))
        };
        if let Err(refusal) = outcome {
            changes.insert(name, Err(refusal));
        }
    }
    let mut results = Vec::with_capacity(order.len());
    for name in order {
        let outcome = match changes.remove(&name) {
            Some(Ok(change)) => ctx
                .core
                .users
                .alter_scram(rc, change)
                .await
                .map_err(|error| refusal(&error)),
            Some(Err(refusal)) => Err(refusal),
            None => continue,
        };
        let (code, message) = match outcome {
            Ok(()) => (0, None),
            Err((error, message)) => (error.code(), Some(text(message))),
        };
        results.push(
            AlterUserScramCredentialsResult::default()
                .with_user(text(name))
                .with_error_code(code)
                .with_error_message(message),
        );
    }
    AlterUserScramCredentialsResponse::default().with_results(results)
}

/// Adds one deletion (`upsertion` none) or upsertion of `mechanism` to `change`.
fn add(
    change: &mut ScramChange,
    code: i8,
    upsertion: Option<
        &kafka_protocol::messages::alter_user_scram_credentials_request::ScramCredentialUpsertion,
    >,
) -> Result<(), Refusal> {
    if change.username.is_empty() {
        return Err((
            ResponseError::UnacceptableCredential,
            "username must not be empty".into(),
        ));
    }
    let mechanism = Mechanism::from_kafka_code(code).ok_or_else(|| {
        (
            ResponseError::UnsupportedSaslMechanism,
            format!("unknown SCRAM mechanism {code}"),
        )
    })?;
    let Some(upsertion) = upsertion else {
        change.remove.push(mechanism);
        return Ok(());
    };
    let unacceptable = |message: &str| (ResponseError::UnacceptableCredential, message.to_owned());
    if upsertion.iterations < ITERATIONS_MIN {
        return Err(unacceptable("too few iterations (at least 4096)"));
    }
    if upsertion.iterations > ITERATIONS_MAX {
        return Err(unacceptable("too many iterations (at most 16384)"));
    }
    if upsertion.salt.is_empty() {
        return Err(unacceptable("the salt must not be empty"));
    }
    let iterations = upsertion.iterations.unsigned_abs();
    let credential = scram::from_salted_password(
        mechanism,
        &upsertion.salt,
        iterations,
        &upsertion.salted_password,
    )
    .ok_or_else(|| unacceptable("the salted password is not one digest long"))?;
    change.set.push((mechanism, credential));
    Ok(())
}

/// Kafka's answer for a refused user change.
fn refusal(error: &CoreError) -> Refusal {
    let code = match error {
        CoreError::User(UserError::Unauthorized | UserError::Unauthenticated) => {
            ResponseError::ClusterAuthorizationFailed
        }
        CoreError::User(UserError::CredentialNotFound) => ResponseError::ResourceNotFound,
        CoreError::User(UserError::InvalidUsername | UserError::LimitReached) => {
            ResponseError::UnacceptableCredential
        }
        other => super::super::error_code::core_error(other),
    };
    let message = match error {
        CoreError::User(UserError::InvalidUsername) => {
            "usernames are 3 to 50 bytes long".to_string()
        }
        CoreError::User(UserError::Unauthorized | UserError::Unauthenticated) => {
            "altering SCRAM credentials needs manage_users".to_string()
        }
        CoreError::User(UserError::CredentialNotFound) => {
            "attempt to delete a user credential that does not exist".to_string()
        }
        other => other.to_string(),
    };
    (code, message)
}

/// DescribeUserScramCredentials: every user with credentials when no names (or none) are
/// given, else each name in turn.
pub(crate) fn describe(
    ctx: &BrokerContext,
    rc: &RequestContext,
    request: &DescribeUserScramCredentialsRequest,
) -> DescribeUserScramCredentialsResponse {
    let mut duplicates: BTreeSet<String> = BTreeSet::new();
    let names: Option<Vec<String>> = request
        .users
        .as_ref()
        .filter(|users| !users.is_empty())
        .map(|users| {
            let mut unique: Vec<String> = Vec::with_capacity(users.len());
            for user in users {
                let name = user.name.to_string();
                if unique.contains(&name) {
                    duplicates.insert(name);
                } else {
                    unique.push(name);
                }
            }
            unique
        });
    let described = match ctx.core.users.describe_scram(rc, names.as_deref()) {
        Ok(described) => described,
        Err(error) => {
            let (code, message) = refusal(&error);
            return DescribeUserScramCredentialsResponse::default()
                .with_error_code(code.code())
                .with_error_message(Some(text(message)));
        }
    };
    let named = names
        .iter()
        .flatten()
        .map(Some)
        .chain(std::iter::repeat(None));
    let results = described
        .into_iter()
        .zip(named)
        .map(|(outcome, name)| match (outcome, name) {
            (_, Some(name)) if duplicates.contains(name) => {
                DescribeUserScramCredentialsResult::default()
                    .with_user(text(name.clone()))
                    .with_error_code(ResponseError::DuplicateResource.code())
                    .with_error_message(Some(text(
                        "cannot describe SCRAM credentials for the same user twice in one request",
                    )))
            }
            (Ok(description), _) => DescribeUserScramCredentialsResult::default()
                .with_user(text(description.username))
                .with_credential_infos(
                    description
                        .mechanisms
                        .into_iter()
                        .map(|(mechanism, iterations)| {
                            CredentialInfo::default()
                                .with_mechanism(mechanism.kafka_code())
                                .with_iterations(i32::try_from(iterations).unwrap_or(i32::MAX))
                        })
                        .collect(),
                ),
            (Err(_), name) => DescribeUserScramCredentialsResult::default()
                .with_user(text(name.cloned().unwrap_or_default()))
                .with_error_code(ResponseError::ResourceNotFound.code())
                .with_error_message(Some(text(
                    "attempt to describe a user credential that does not exist",
                ))),
        })
        .collect();
    DescribeUserScramCredentialsResponse::default().with_results(results)
}
