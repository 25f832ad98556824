//! The one place a storage or core error becomes a Kafka error code. Every handler goes
//! through [`log_error`] or [`core_error`], so a given log failure always reaches clients as the same code, and the
//! match has no catch-all arm: a new `LogError` variant fails to compile here until someone
//! decides what Kafka clients should see for it.

use kafka_protocol::ResponseError;
use whippet_log::LogError;

use whippet_coordinator::ErrorCode;

use crate::core::CoreError;
use crate::core::users::UserError;

/// The Kafka error a client should see for `error`. Codes are chosen for how clients react:
/// retriable conditions (shutdown) map to retriable codes, so producers retry instead of failing.
pub(crate) fn log_error(error: &LogError) -> ResponseError {
    match error {
        LogError::Io { .. }
        | LogError::CorruptCatalog { .. }
        | LogError::MissingCatalog { .. }
        | LogError::UnlistedData { .. } => ResponseError::KafkaStorageError,
        LogError::CorruptFrame { .. } => ResponseError::CorruptMessage,
        LogError::StreamNotFound(_)
        | LogError::TopicNotFound(_)
        | LogError::PartitionNotFound(_)
        | LogError::PartitionDeleted => ResponseError::UnknownTopicOrPartition,
        LogError::StreamExists(_) | LogError::TopicExists(_) => ResponseError::TopicAlreadyExists,
        LogError::InvalidName { .. } => ResponseError::InvalidTopicException,
        LogError::InvalidSetting { .. } => ResponseError::InvalidConfig,
        // A broker-side cap (topics per stream, partitions per topic): Kafka's answer for a
        // request the broker's policy refuses.
        LogError::LimitExceeded { .. } => ResponseError::PolicyViolation,
        LogError::BatchTooLarge { .. } => ResponseError::MessageTooLarge,
        LogError::OffsetOutOfRange { .. } => ResponseError::OffsetOutOfRange,
        // Retriable: the client refreshes metadata and retries, by then against a new process.
        LogError::ShuttingDown => ResponseError::NotLeaderOrFollower,
    }
}

/// The Kafka error a client should see for a failed core operation.
pub(crate) fn core_error(error: &CoreError) -> ResponseError {
    match error {
        CoreError::Log(error) => log_error(error),
        // Kafka has no "topic full"; the broker's policy refuses the write, non-retriably, so a
        // producer fails the batch at once instead of retrying into the same cap.
        CoreError::TopicFull { .. } => ResponseError::PolicyViolation,
        // The request's timeout passed while its data was being made durable: Kafka's answer
        // when a produce's acknowledgement does not arrive in time (retriable).
        CoreError::TimedOut => ResponseError::RequestTimedOut,
        CoreError::Checkpoint(_) => ResponseError::KafkaStorageError,
        CoreError::User(UserError::NotSaved(_)) => ResponseError::KafkaStorageError,
        CoreError::User(UserError::Internal(_)) => ResponseError::UnknownServerError,
        CoreError::User(_) => ResponseError::SaslAuthenticationFailed,
        // Native consumer groups are not reachable through Kafka; should one ever answer a
        // Kafka request, the client is told its group request was wrong, non-retriably.
        CoreError::NativeGroup(_) => ResponseError::InvalidRequest,
    }
}

/// The Kafka error code for a group coordinator outcome: the coordinator names its outcomes,
/// this adapter gives them their Kafka wire numbers.
pub(crate) fn group_code(error: ErrorCode) -> i16 {
    match error {
        ErrorCode::None => 0,
        ErrorCode::OffsetMetadataTooLarge => ResponseError::OffsetMetadataTooLarge.code(),
        ErrorCode::CoordinatorLoadInProgress => ResponseError::CoordinatorLoadInProgress.code(),
        ErrorCode::CoordinatorNotAvailable => ResponseError::CoordinatorNotAvailable.code(),
        ErrorCode::IllegalGeneration => ResponseError::IllegalGeneration.code(),
        ErrorCode::InconsistentGroupProtocol => ResponseError::InconsistentGroupProtocol.code(),
        ErrorCode::InvalidGroupId => ResponseError::InvalidGroupId.code(),
        ErrorCode::UnknownMemberId => ResponseError::UnknownMemberId.code(),
        ErrorCode::InvalidSessionTimeout => ResponseError::InvalidSessionTimeout.code(),
        ErrorCode::RebalanceInProgress => ResponseError::RebalanceInProgress.code(),
        ErrorCode::InvalidRequest => ResponseError::InvalidRequest.code(),
        ErrorCode::NonEmptyGroup => ResponseError::NonEmptyGroup.code(),
        ErrorCode::GroupIdNotFound => ResponseError::GroupIdNotFound.code(),
        ErrorCode::MemberIdRequired => ResponseError::MemberIdRequired.code(),
        ErrorCode::GroupMaxSizeReached => ResponseError::GroupMaxSizeReached.code(),
        ErrorCode::FencedInstanceId => ResponseError::FencedInstanceId.code(),
        ErrorCode::GroupSubscribedToTopic => ResponseError::GroupSubscribedToTopic.code(),
        ErrorCode::FencedMemberEpoch => ResponseError::FencedMemberEpoch.code(),
        ErrorCode::StaleMemberEpoch => ResponseError::StaleMemberEpoch.code(),
        ErrorCode::UnreleasedInstanceId => ResponseError::UnreleasedInstanceId.code(),
        ErrorCode::UnsupportedAssignor => ResponseError::UnsupportedAssignor.code(),
        ErrorCode::InvalidRegularExpression => ResponseError::InvalidRegularExpression.code(),
    }
}

/// [`log_error`] as the wire's i16, for the `error_code` fields of responses.
pub(crate) fn log_error_code(error: &LogError) -> i16 {
    log_error(error).code()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_outcomes_get_kafkas_numbers() {
        let pinned = [
            (ErrorCode::None, 0),
            (ErrorCode::OffsetMetadataTooLarge, 12),
            (ErrorCode::CoordinatorLoadInProgress, 14),
            (ErrorCode::CoordinatorNotAvailable, 15),
            (ErrorCode::IllegalGeneration, 22),
            (ErrorCode::InconsistentGroupProtocol, 23),
            (ErrorCode::InvalidGroupId, 24),
            (ErrorCode::UnknownMemberId, 25),
            (ErrorCode::InvalidSessionTimeout, 26),
            (ErrorCode::RebalanceInProgress, 27),
            (ErrorCode::InvalidRequest, 42),
            (ErrorCode::NonEmptyGroup, 68),
            (ErrorCode::GroupIdNotFound, 69),
            (ErrorCode::MemberIdRequired, 79),
            (ErrorCode::GroupMaxSizeReached, 81),
            (ErrorCode::FencedInstanceId, 82),
            (ErrorCode::GroupSubscribedToTopic, 86),
        ];
        for (outcome, wire) in pinned {
            assert_eq!(group_code(outcome), wire, "{outcome:?}");
        }
    }

    #[test]
    fn representative_errors_map_to_kafka_codes() {
        assert_eq!(log_error_code(&LogError::TopicExists("t".into())), 36);
        assert_eq!(log_error_code(&LogError::TopicNotFound("t".into())), 3);
        assert_eq!(log_error_code(&LogError::PartitionNotFound(4)), 3);
        let invalid = LogError::InvalidSetting {
            name: "segment_bytes",
            reason: "too small".into(),
        };
        assert_eq!(log_error_code(&invalid), 40);
        let range = LogError::OffsetOutOfRange {
            offset: 9,
            start: 0,
            end: 3,
        };
        assert_eq!(log_error_code(&range), 1);
        let too_large = LogError::BatchTooLarge { size: 9, max: 1 };
        assert_eq!(log_error_code(&too_large), 10);
        assert_eq!(log_error_code(&LogError::ShuttingDown), 6);
        let io = LogError::io("/x", std::io::Error::other("disk"));
        assert_eq!(log_error_code(&io), 56);
    }
}
