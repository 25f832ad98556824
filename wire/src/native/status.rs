//! Iggy status codes (§2.5) that a 0.11 SDK understands. The numbers are the protocol: foreign
//! SDKs keep their own copies of this table, so discriminants are explicit and a retired number
//! is never reused for something else.

/// A reply status (`status` at byte 216 of the reply header, or a result-section code).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum Status {
    /// Success.
    Ok = 0,
    /// Unclassified failure; the SDK surfaces it as a generic error.
    Error = 1,
    /// Unknown command code or a body that does not decode as that command.
    InvalidCommand = 3,
    /// A frame or body that breaks the wire layout (also a bad request checksum).
    InvalidFormat = 4,
    /// A command this broker does not serve (e.g. cluster-only routing codes).
    FeatureUnavailable = 5,
    /// An identifier of the wrong kind or shape.
    InvalidIdentifier = 6,
    /// A named resource that does not exist where no more specific code applies (an unknown user
    /// for delete/update/password changes, an unknown token name on delete).
    ResourceNotFound = 20,
    /// The client id was replaced by a newer login.
    StaleClient = 30,
    /// No valid session for a command that needs one.
    Unauthenticated = 40,
    /// The user lacks the permission the command needs.
    Unauthorized = 41,
    /// Wrong username or password.
    InvalidCredentials = 42,
    /// Username outside 3..=50 bytes or otherwise unusable.
    InvalidUsername = 43,
    /// Password outside 3..=100 bytes.
    InvalidPassword = 44,
    /// create_user with a taken username.
    UserAlreadyExists = 46,
    /// The user exists but may not log in.
    UserInactive = 47,
    /// delete_user on the root user.
    CannotDeleteUser = 48,
    /// update_permissions on the root user.
    CannotChangePermissions = 49,
    /// Token name outside the allowed length.
    InvalidPersonalAccessTokenName = 50,
    /// Token name already used by this user.
    PersonalAccessTokenAlreadyExists = 51,
    /// The user already holds the most tokens allowed.
    PersonalAccessTokensLimitReached = 52,
    /// Unknown token.
    InvalidPersonalAccessToken = 53,
    /// Token past its expiry.
    PersonalAccessTokenExpired = 54,
    /// create_user when the server holds the most users it allows.
    UsersLimitReached = 55,
    /// Not committed yet; the SDK replays the same request id.
    TransientNotCommitted = 57,
    /// Not accepted by this node; the SDK retries, then walks the roster.
    TransientNotAccepted = 58,
    /// A replay of a request that already committed.
    RequestAlreadyApplied = 59,
    /// get_client for an unknown connection id.
    ClientNotFound = 100,
    /// No stream with that numeric id.
    StreamIdNotFound = 1009,
    /// No stream with that name.
    StreamNameNotFound = 1010,
    /// create/update_stream with a taken name.
    StreamNameAlreadyExists = 1012,
    /// Stream name empty, too long or not allowed.
    InvalidStreamName = 1013,
    /// Stream id unusable.
    InvalidStreamId = 1014,
    /// A topic's max_topic_size is below its segment size (the reference server's check at
    /// create and update).
    InvalidTopicSize = 1019,
    /// No topic with that numeric id.
    TopicIdNotFound = 2010,
    /// No topic with that name.
    TopicNameNotFound = 2011,
    /// create/update_topic with a taken name.
    TopicNameAlreadyExists = 2013,
    /// Topic name empty, too long or not allowed.
    InvalidTopicName = 2014,
    /// A partition count of 0 or over the per-topic limit in create_topic,
    /// create_partitions or delete_partitions (what the reference server answers for both).
    TooManyPartitions = 2015,
    /// Topic id unusable.
    InvalidTopicId = 2016,
    /// Partition count outside the allowed range.
    InvalidPartitionsCount = 2019,
    /// No such partition in the topic.
    PartitionNotFound = 3007,
    /// The topic has no partitions to send to.
    NoPartitions = 3008,
    /// The topic reached its size cap.
    TopicFull = 3009,
    /// No stored offset for that consumer.
    ConsumerOffsetNotFound = 3021,
    /// Messages could not be written or synced to their segment (disk full, I/O error): the
    /// reference server's answer when an append reaches storage and fails. Nothing of the
    /// batch is acknowledged; retrying once the disk recovers is safe.
    CannotSaveMessagesToSegment = 4006,
    /// A batch or poll with an unusable message count.
    InvalidMessagesCount = 4009,
    /// User headers above 100 000 bytes.
    TooBigUserHeaders = 4017,
    /// A user-header key that is not a well-formed field (kind 0, length outside 1..=255 or
    /// not its kind's size, cut short).
    InvalidHeaderKey = 4018,
    /// A user-header value that is not a well-formed field, or a key without a value.
    InvalidHeaderValue = 4019,
    /// Payload above 64 MB.
    TooBigMessagePayload = 4022,
    /// A message without payload bytes.
    EmptyMessagePayload = 4024,
    /// A frame checksum does not match its bytes.
    InvalidMessageChecksum = 4027,
    /// A timestamp delta that cannot be right for the batch.
    InvalidMessageTimestampDelta = 4038,
    /// The batch checksum does not match header and frames.
    InvalidBatchChecksum = 4039,
    /// An option key this resource does not know.
    UnsupportedOptionKey = 4041,
    /// An option value that does not parse for its key.
    InvalidOptionValue = 4042,
    /// No group with that numeric id.
    ConsumerGroupIdNotFound = 5000,
    /// No group with that name.
    ConsumerGroupNameNotFound = 5003,
    /// create_consumer_group with a taken name.
    ConsumerGroupNameAlreadyExists = 5004,
    /// The caller is not a member of the group.
    ConsumerGroupMemberNotFound = 5006,
    /// Poll on a partition the member does not own; the SDK re-syncs.
    ConsumerGroupPartitionNotOwned = 5009,
    /// Broker state (offsets, groups, users, catalog) could not be written to disk; the change
    /// was not made durable and is not acknowledged.
    CannotWriteToFile = 10006,
    /// Login on a connection that already has a session.
    AlreadyAuthenticated = 14000,
    /// The session number is unknown or stale.
    InvalidSession = 14001,
    /// The client's protocol version is outside the accepted window.
    IncompatibleProtocolVersion = 14003,
}

impl Status {
    /// The number written on the wire.
    #[must_use]
    pub fn code(self) -> u32 {
        self as u32
    }
}

#[cfg(test)]
mod tests {
    use super::Status;

    #[test]
    fn pinned_values_never_change() {
        assert_eq!(Status::Ok.code(), 0);
        assert_eq!(Status::InvalidCommand.code(), 3);
        assert_eq!(Status::InvalidFormat.code(), 4);
        assert_eq!(Status::ResourceNotFound.code(), 20);
        assert_eq!(Status::Unauthenticated.code(), 40);
        assert_eq!(Status::CannotDeleteUser.code(), 48);
        assert_eq!(Status::CannotChangePermissions.code(), 49);
        assert_eq!(Status::PersonalAccessTokensLimitReached.code(), 52);
        assert_eq!(Status::TransientNotCommitted.code(), 57);
        assert_eq!(Status::StreamIdNotFound.code(), 1009);
        assert_eq!(Status::TooBigUserHeaders.code(), 4017);
        assert_eq!(Status::InvalidHeaderKey.code(), 4018);
        assert_eq!(Status::InvalidHeaderValue.code(), 4019);
        assert_eq!(Status::InvalidBatchChecksum.code(), 4039);
        assert_eq!(Status::ConsumerGroupPartitionNotOwned.code(), 5009);
        assert_eq!(Status::CannotSaveMessagesToSegment.code(), 4006);
        assert_eq!(Status::CannotWriteToFile.code(), 10006);
        assert_eq!(Status::InvalidTopicSize.code(), 1019);
        assert_eq!(Status::TooManyPartitions.code(), 2015);
        assert_eq!(Status::IncompatibleProtocolVersion.code(), 14003);
    }
}
