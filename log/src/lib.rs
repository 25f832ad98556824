//! `whippet-log` is the storage engine: the catalog of streams → topics → partitions, partition
//! logs made of segments with sparse offset and time indexes, append, reads by offset and by
//! timestamp, long-poll waits for new data, retention, delete-records, recovery and the fsync
//! policy. Every stored batch is an opaque payload behind a [`FrameHeader`]; the log must not know
//! any wire format beyond that header (Kafka and native batch layouts belong to `whippet-wire`),
//! and must not depend on the network or on any other Whippet crate. Segment files are reached
//! through the [`SegmentStore`] seam (`storage.rs`); [`LocalStore`] is the default. The catalog
//! is kept through the [`CatalogStore`] seam (`catalog_store.rs`); [`FileCatalogStore`]
//! (`catalog.json`) is the default, and a caller may keep it elsewhere (the broker's metadata
//! log) without the log knowing how. The async entry points ([`PartitionLog::append`],
//! [`PartitionLog::read`], [`PartitionLog::find_by_timestamp`]) never touch a file on a thread
//! that is driving async tasks: the work runs on the log's own threads (`pool.rs`) or in place
//! inside `block_in_place`, so async callers never block a runtime worker on disk.
//!
//! Invariants: offsets are assigned here and only here, densely and in order per partition; a
//! frame is visible to readers only below the partition's high watermark (with `fsync = always`,
//! only once it is on disk); every frame read from disk has its header and payload checksums
//! verified before it is returned; nothing on disk makes the log panic.
//!
//! Damage: bad bytes in a segment are cut off on recovery only when no valid frame follows
//! them (a torn tail at the end of the log). Bad bytes with a valid frame after them are kept
//! on disk as a [`DamagedRange`], logged at ERROR: reads serve every frame before it, refuse its
//! offsets ([`LogError::CorruptFrame`]) and serve every frame after it to a read that starts
//! there (`damage.rs`). Nothing that holds data is deleted because the catalog does not list
//! it: orphan directories found at open are kept, and a data directory whose catalog is missing
//! (from its [`CatalogStore`]) while stream directories remain is refused
//! ([`LogError::MissingCatalog`]).

mod budget;
mod cache;
pub mod catalog;
mod catalog_meta;
mod catalog_ops;
mod catalog_scan;
mod catalog_store;
mod checkpoint;
pub mod compaction;
pub mod config;
mod crc;
mod damage;
mod durability;
pub mod error;
mod fd_pool;
pub mod frame;
mod fsync_stats;
mod index;
pub mod limits;
mod maintenance;
mod parallel;
pub mod partition;
mod pool;
mod read_ahead;
mod recovery;
pub mod remote;
mod segment;
pub mod storage;
mod store;
mod sync_util;

pub use catalog::{CatalogFile, StreamRecord, TopicRecord};
pub use catalog_meta::{CatalogSnapshot, StreamMeta, TopicMeta};
pub use catalog_scan::{DataDirFinding, FindingKind};
pub use catalog_store::{CatalogLoad, CatalogStore, FileCatalogStore};
pub use compaction::{Compactor, RecordInfo, Rewritten};
pub use config::{
    CompactionSettings, Compression, FsyncPolicy, LogConfig, TimestampSource, TopicSettings,
};
pub use damage::DamagedRange;
pub use error::{LogError, Result};
pub use fd_pool::FdPool;
pub use frame::{BatchFormat, FRAME_HEADER_BYTES, FrameHeader};
pub use fsync_stats::{FSYNC_BUCKETS_SECONDS, FsyncStats, fsync_stats};
pub use partition::{
    AppendBatch, Appended, Appending, CompactionOutcome, PartitionLog, PartitionStats,
    PatchContext, ReadResult, RetentionOutcome, StoredFrame,
};
pub use pool::THREAD_NAME_PREFIX;
pub use recovery::{RecoveryAction, RecoveryEvent};
pub use remote::{ClosedSegment, RemoteRange, RemoteSegments, parse_segment};
pub use storage::{LocalFile, LocalStore, SegmentFile, SegmentStore};
pub use store::{Log, OpenReport};
