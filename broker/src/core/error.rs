//! The one error type of core operations. Adapters map it to their protocol's codes in one
//! place each (`kafka::error_code`, `native::errors`).

use whippet_coordinator::CheckpointError;
use whippet_coordinator::native_groups::NativeGroupError;
use whippet_log::LogError;

use super::users::UserError;

/// Why a core operation failed.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// The log refused or failed (names, limits, missing streams/topics, storage faults).
    #[error(transparent)]
    Log(#[from] LogError),
    /// The topic already holds its `max_topic_size` bytes; nothing was written.
    #[error("topic is full: it holds {size} bytes and its max_topic_size is {cap}")]
    TopicFull {
        /// Bytes the topic holds now.
        size: u64,
        /// The topic's cap.
        cap: u64,
    },
    /// The request's deadline passed before what it waited for (durability) happened. The
    /// data may still become durable; the client is told it did not in time.
    #[error("the request's deadline passed while waiting")]
    TimedOut,
    /// A native consumer-group operation was refused (unknown group or member, name taken,
    /// partition not owned).
    #[error(transparent)]
    NativeGroup(#[from] NativeGroupError),
    /// A change to groups or offsets could not be made durable.
    #[error("group state could not be written: {0}")]
    Checkpoint(#[from] CheckpointError),
    /// A user, permission or token operation (or a login) was refused or failed.
    #[error(transparent)]
    User(#[from] UserError),
}
