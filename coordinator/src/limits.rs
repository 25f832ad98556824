//! Named limits. Every bound a peer (or a checkpoint file) could otherwise push past lives here,
//! so a reviewer can see in one place how much memory a group can pin.

use std::time::Duration;

/// Longest group id accepted; Kafka has no hard cap, but an unbounded key would let one request
/// pin arbitrary memory in the group table and the checkpoint.
pub const MAX_GROUP_ID_LEN: usize = 255;

/// Most members one group may hold; beyond it JoinGroup gets GROUP_MAX_SIZE_REACHED.
pub const MAX_MEMBERS_PER_GROUP: usize = 1_000;

/// Most member ids handed out by MEMBER_ID_REQUIRED but not yet used, per group; stops a client
/// looping on v4 joins from growing the pending list without bound.
pub const MAX_PENDING_MEMBER_IDS: usize = 1_000;

/// Most protocols one member may offer in a JoinGroup.
pub const MAX_PROTOCOLS_PER_MEMBER: usize = 32;

/// Largest protocol metadata or assignment blob kept per member (bytes).
pub const MAX_MEMBER_BLOB_BYTES: usize = 1024 * 1024;

/// Largest commit metadata string (Kafka's `offset.metadata.max.bytes` default is 4096).
pub const MAX_COMMIT_METADATA_BYTES: usize = 4096;

/// Longest client id folded into a generated member id.
pub const MAX_CLIENT_ID_IN_MEMBER_ID: usize = 64;

/// Largest checkpoint file `load` will read; a bigger file is treated as corrupt rather than
/// read into memory.
pub const MAX_CHECKPOINT_BYTES: u64 = 256 * 1024 * 1024;

/// Most native consumer groups per topic. Each costs a few hundred bytes plus its members;
/// the cap keeps the persisted definitions small and the lowest-free-id search short.
pub const NATIVE_GROUPS_PER_TOPIC_MAX: usize = 10_000;

/// Kafka's `group.min.session.timeout.ms` default.
pub const DEFAULT_MIN_SESSION_TIMEOUT: Duration = Duration::from_millis(6_000);

/// Kafka's `group.max.session.timeout.ms` default.
pub const DEFAULT_MAX_SESSION_TIMEOUT: Duration = Duration::from_millis(1_800_000);

/// Kafka's `group.initial.rebalance.delay.ms` default.
pub const DEFAULT_INITIAL_REBALANCE_DELAY: Duration = Duration::from_millis(3_000);

/// Kafka's `group.consumer.session.timeout.ms` default.
pub const DEFAULT_CONSUMER_SESSION_TIMEOUT: Duration = Duration::from_millis(45_000);

/// Kafka's `group.consumer.heartbeat.interval.ms` default.
pub const DEFAULT_CONSUMER_HEARTBEAT_INTERVAL: Duration = Duration::from_millis(5_000);

/// Rebalance timeout of a consumer-group member that has not sent one yet (librdkafka's
/// `max.poll.interval.ms` default).
pub const DEFAULT_CONSUMER_REBALANCE_TIMEOUT: Duration = Duration::from_millis(300_000);
