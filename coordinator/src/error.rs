//! The outcomes of group and offset operations the coordinator reports, and the checkpoint
//! error type. The outcomes are named after Kafka's (the coordinator implements Kafka's group
//! protocol) but carry no wire numbers: the Kafka adapter maps them (`kafka::error_code`).

use std::path::PathBuf;

/// What a group or offset operation came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// Success.
    None,
    /// Commit metadata longer than the configured limit.
    OffsetMetadataTooLarge,
    /// The coordinator is still loading (the broker returns it before `load` finishes).
    CoordinatorLoadInProgress,
    /// No coordinator available right now.
    CoordinatorNotAvailable,
    /// The generation in the request is not the group's current one.
    IllegalGeneration,
    /// The member's protocol type or protocols do not fit the group.
    InconsistentGroupProtocol,
    /// Empty or over-long group id.
    InvalidGroupId,
    /// The member id is not (or no longer) in the group.
    UnknownMemberId,
    /// Session timeout outside the configured min/max.
    InvalidSessionTimeout,
    /// A rebalance is under way; the member must rejoin.
    RebalanceInProgress,
    /// A request field is malformed (e.g. too many protocols).
    InvalidRequest,
    /// DeleteGroups on a group that still has members.
    NonEmptyGroup,
    /// The group does not exist.
    GroupIdNotFound,
    /// JoinGroup v4+ without a member id: retry with the id in the response.
    MemberIdRequired,
    /// The group already holds the maximum number of members.
    GroupMaxSizeReached,
    /// A static member's instance id is now owned by a newer member id.
    FencedInstanceId,
    /// OffsetDelete on a topic the group is actively subscribed to.
    GroupSubscribedToTopic,
    /// Consumer group: the member epoch sent is newer than the member's (or too old to be a
    /// lost answer): the member must give up its partitions and rejoin.
    FencedMemberEpoch,
    /// Consumer group: the member epoch sent is older than the member's; retry after the
    /// next heartbeat.
    StaleMemberEpoch,
    /// Consumer group: the static instance id is still used by another member.
    UnreleasedInstanceId,
    /// Consumer group: the requested server assignor is not one the coordinator runs.
    UnsupportedAssignor,
    /// Consumer group: the subscription regex does not compile (or is too long).
    InvalidRegularExpression,
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
