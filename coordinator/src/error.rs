//! Kafka error codes the coordinator produces, and the checkpoint error type.

use std::path::PathBuf;

/// The Kafka error codes group and offset APIs can return. The discriminants are the Kafka wire
/// numbers, kept in this one place so the broker can put `code as i16` on the wire without a
/// second table that could drift.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(i16)]
pub enum ErrorCode {
    /// Success.
    None = 0,
    /// Commit metadata longer than the configured limit.
    OffsetMetadataTooLarge = 12,
    /// The coordinator is still loading (the broker returns it before `load` finishes).
    CoordinatorLoadInProgress = 14,
    /// No coordinator available right now.
    CoordinatorNotAvailable = 15,
    /// The generation in the request is not the group's current one.
    IllegalGeneration = 22,
    /// The member's protocol type or protocols do not fit the group.
    InconsistentGroupProtocol = 23,
    /// Empty or over-long group id.
    InvalidGroupId = 24,
    /// The member id is not (or no longer) in the group.
    UnknownMemberId = 25,
    /// Session timeout outside the configured min/max.
    InvalidSessionTimeout = 26,
    /// A rebalance is under way; the member must rejoin.
    RebalanceInProgress = 27,
    /// A request field is malformed (e.g. too many protocols).
    InvalidRequest = 42,
    /// DeleteGroups on a group that still has members.
    NonEmptyGroup = 68,
    /// The group does not exist.
    GroupIdNotFound = 69,
    /// JoinGroup v4+ without a member id: retry with the id in the response.
    MemberIdRequired = 79,
    /// The group already holds the maximum number of members.
    GroupMaxSizeReached = 81,
    /// A static member's instance id is now owned by a newer member id.
    FencedInstanceId = 82,
    /// OffsetDelete on a topic the group is actively subscribed to.
    GroupSubscribedToTopic = 86,
}

impl ErrorCode {
    /// The Kafka wire value.
    pub fn code(self) -> i16 {
        self as i16
    }
}

/// Why a checkpoint could not be written or loaded. Every variant names the file, so an operator
/// can find and inspect it.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// An I/O call failed.
    #[error("group checkpoint {path}: {op}: {source}")]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// What was being done.
        op: &'static str,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file exists but does not hold a valid checkpoint.
    #[error("group checkpoint {path} is corrupt: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The metadata log holding groups and offsets failed or is corrupt.
    #[error("group store: {0}")]
    Log(#[from] whippet_meta::MetaError),
}

#[cfg(test)]
mod tests {
    use super::ErrorCode;

    #[test]
    fn wire_values_are_kafkas() {
        let pinned = [
            (ErrorCode::None, 0),
            (ErrorCode::IllegalGeneration, 22),
            (ErrorCode::UnknownMemberId, 25),
            (ErrorCode::RebalanceInProgress, 27),
            (ErrorCode::MemberIdRequired, 79),
            (ErrorCode::FencedInstanceId, 82),
            (ErrorCode::GroupSubscribedToTopic, 86),
        ];
        for (code, wire) in pinned {
            assert_eq!(code.code(), wire, "{code:?}");
        }
    }
}
