//! Named bounds of the metadata log: nothing read from disk makes it allocate past these.

/// Largest single record (one batch of changes). A longer length prefix is a corrupt tail.
pub const RECORD_BYTES_MAX: u32 = 64 * 1024 * 1024;

/// Largest snapshot file read back.
pub const SNAPSHOT_BYTES_MAX: u64 = 1024 * 1024 * 1024;

/// The log is due for a snapshot once it holds this many bytes of records and more than twice
/// the last snapshot's size, so snapshotting costs amortised O(1) per record.
pub const SNAPSHOT_AFTER_LOG_BYTES: u64 = 4 * 1024 * 1024;

/// Most commands the state-machine owner takes into one batch (one append, one `fdatasync`);
/// the rest wait for the next turn.
pub const MACHINE_BATCH_COMMANDS_MAX: usize = 4096;
