//! The one place the native adapter turns a failure into an Iggy status code: catalog
//! operations ([`catalog_status`], [`core_status`]), message operations ([`message_status`],
//! appends [`send_status`], reads and offsets [`read_status`]) and consumer groups
//! ([`group_status`]).

use whippet_coordinator::native_groups::NativeGroupError;
use whippet_log::LogError;
use whippet_wire::native::status::Status;

use crate::core::CoreError;
use crate::core::users::UserError;

/// The Iggy status for a failed catalog operation. `invalid_name` is what a bad name means for
/// this command (InvalidStreamName or InvalidTopicName).
pub(crate) fn catalog_status(error: &LogError, invalid_name: Status) -> Status {
    match error {
        LogError::StreamNotFound(_) => Status::StreamIdNotFound,
        LogError::TopicNotFound(_) => Status::TopicIdNotFound,
        LogError::PartitionNotFound(_) | LogError::PartitionDeleted => Status::PartitionNotFound,
        LogError::StreamExists(_) => Status::StreamNameAlreadyExists,
        LogError::TopicExists(_) => Status::TopicNameAlreadyExists,
        LogError::InvalidName { .. } => invalid_name,
        LogError::InvalidSetting { .. } => Status::InvalidOptionValue,
        LogError::LimitExceeded { name, .. } if name.contains("PARTITION") => {
            Status::TooManyPartitions
        }
        LogError::Io { .. } => {
            tracing::warn!(%error, "native catalog operation could not write");
            Status::CannotWriteToFile
        }
        other => {
            tracing::warn!(error = %other, "native catalog operation failed");
            Status::Error
        }
    }
}

/// The native status for a log error. A partition deleted under a request reads as not found;
/// everything the client cannot fix (I/O, corruption, shutdown) is the generic Error.
pub(crate) fn message_status(error: &LogError) -> Status {
    match error {
        LogError::StreamNotFound(_) => Status::StreamIdNotFound,
        LogError::TopicNotFound(_) => Status::TopicIdNotFound,
        LogError::PartitionNotFound(_) | LogError::PartitionDeleted => Status::PartitionNotFound,
        LogError::BatchTooLarge { .. } => Status::TooBigMessagePayload,
        _ => Status::Error,
    }
}

/// The native status for a failed append: a write or sync that failed on storage (full disk,
/// I/O error, a partition poisoned by a failed sync) is the reference server's
/// CannotSaveMessagesToSegment, a topic at its size cap TopicFull; everything else as
/// [`message_status`].
pub(crate) fn send_status(error: &CoreError) -> Status {
    match error {
        CoreError::Log(LogError::Io { .. }) => Status::CannotSaveMessagesToSegment,
        CoreError::Log(other) => message_status(other),
        CoreError::TopicFull { .. } => Status::TopicFull,
        // Native requests carry no deadline; a wait cut short is the generic error.
        CoreError::TimedOut => Status::Error,
        CoreError::NativeGroup(error) => group_status(*error),
        CoreError::Checkpoint(error) => not_saved("state of a native send", error),
        CoreError::User(error) => user_status(error),
    }
}

/// The native status for a failed read or offset operation of the core: as
/// [`message_status`] for the log's errors.
pub(crate) fn read_status(error: &CoreError) -> Status {
    match error {
        CoreError::Log(error) => message_status(error),
        CoreError::TopicFull { .. } | CoreError::TimedOut => Status::Error,
        CoreError::NativeGroup(error) => group_status(*error),
        CoreError::Checkpoint(error) => not_saved("native consumer offset", error),
        CoreError::User(error) => user_status(error),
    }
}

/// The native status for broker state (offsets, group definitions, users) that could not be
/// made durable.
pub(crate) fn not_saved(what: &'static str, error: &dyn std::fmt::Display) -> Status {
    tracing::warn!(%error, "{what} not durable");
    Status::CannotWriteToFile
}

/// The Iggy status for a refused native consumer-group operation.
pub(crate) fn group_status(error: NativeGroupError) -> Status {
    match error {
        NativeGroupError::IdNotFound => Status::ConsumerGroupIdNotFound,
        // The reference server answers 5000 for a group missing by name too.
        NativeGroupError::NameNotFound => Status::ConsumerGroupIdNotFound,
        NativeGroupError::NameExists => Status::ConsumerGroupNameAlreadyExists,
        NativeGroupError::TooMany => Status::Error,
        NativeGroupError::MemberNotFound => Status::ConsumerGroupMemberNotFound,
        NativeGroupError::PartitionNotOwned => Status::ConsumerGroupPartitionNotOwned,
    }
}

/// The Iggy status for a refused or failed user operation or login.
pub(crate) fn user_status(error: &UserError) -> Status {
    match error {
        UserError::InvalidUsername => Status::InvalidUsername,
        UserError::InvalidPassword => Status::InvalidPassword,
        UserError::AlreadyExists => Status::UserAlreadyExists,
        UserError::LimitReached => Status::UsersLimitReached,
        UserError::NotFound | UserError::CredentialNotFound => Status::ResourceNotFound,
        UserError::CannotDelete => Status::CannotDeleteUser,
        UserError::CannotChangePermissions => Status::CannotChangePermissions,
        UserError::TokenAlreadyExists => Status::PersonalAccessTokenAlreadyExists,
        UserError::TokensLimitReached => Status::PersonalAccessTokensLimitReached,
        UserError::InvalidCredentials => Status::InvalidCredentials,
        UserError::InvalidToken => Status::InvalidPersonalAccessToken,
        UserError::TokenExpired => Status::PersonalAccessTokenExpired,
        UserError::Inactive => Status::UserInactive,
        UserError::Unauthenticated => Status::Unauthenticated,
        UserError::Unauthorized => Status::Unauthorized,
        UserError::NotSaved(_) => Status::CannotWriteToFile,
        UserError::Internal(_) => Status::Error,
    }
}

/// The Iggy status for a failed core operation; `invalid_name` as for [`catalog_status`].
pub(crate) fn core_status(error: &CoreError, invalid_name: Status) -> Status {
    match error {
        CoreError::Log(error) => catalog_status(error, invalid_name),
        CoreError::TopicFull { .. } => Status::TopicFull,
        CoreError::TimedOut => Status::Error,
        CoreError::NativeGroup(error) => group_status(*error),
        CoreError::Checkpoint(error) => not_saved("group state of a native operation", error),
        CoreError::User(error) => user_status(error),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn catalog_errors_map_to_iggy_codes() {
        let invalid = LogError::InvalidName {
            name: "a/b".into(),
            reason: "contains '/'",
        };
        assert_eq!(
            catalog_status(&invalid, Status::InvalidTopicName),
            Status::InvalidTopicName
        );
        assert_eq!(
            catalog_status(
                &LogError::StreamExists("s".into()),
                Status::InvalidStreamName
            ),
            Status::StreamNameAlreadyExists
        );
        let too_many = LogError::LimitExceeded {
            name: "PARTITIONS_PER_TOPIC_MAX",
            value: 1,
            max: 0,
        };
        assert_eq!(
            catalog_status(&too_many, Status::InvalidTopicName),
            Status::TooManyPartitions
        );
        assert_eq!(
            catalog_status(&LogError::ShuttingDown, Status::InvalidTopicName),
            Status::Error
        );
    }

    #[test]
    fn core_errors_map_to_iggy_codes() {
        let full = CoreError::TopicFull { size: 2, cap: 1 };
        assert_eq!(
            core_status(&full, Status::InvalidTopicName),
            Status::TopicFull
        );
        let exists = CoreError::Log(LogError::TopicExists("t".into()));
        assert_eq!(
            core_status(&exists, Status::InvalidTopicName),
            Status::TopicNameAlreadyExists
        );
    }
}
