//! Durability of groups and offsets: an append-only metadata log (`whippet-meta`, files
//! `groups.log` and `groups.snapshot` in the directory the caller passes) of [`Changes`] — each
//! change set carries only what changed (a committed offset, a group's metadata) — with a
//! periodic snapshot of the whole state ([`Checkpoint`]). Committing an offset therefore costs
//! one small append and one `fdatasync`, whatever the number of groups and offsets. Durability
//! contract: a caller that acknowledges a commit only after a change set taken after that
//! commit was appended (see `Coordinator::take_changes`) never loses an acknowledged commit, on
//! SIGTERM, SIGKILL or power loss.
//!
//! Migration: a data dir from before the log holds one JSON checkpoint, `groups.checkpoint`,
//! rewritten whole on every change. When the log is empty and that file exists, it becomes the
//! first snapshot, and the old file is removed only once the snapshot is durable.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::api::Protocol;
use crate::consumer::{ConsumerGroup, ConsumerGroupSnapshot};
use crate::error::CheckpointError;
use crate::group::Group;
use crate::limits;
use crate::member::Member;
use crate::offsets::{CommittedOffset, OffsetStore, PartitionKey};
use crate::state::GroupState;

use whippet_meta::{MetaError, MetaLog};

/// File name of the whole-state checkpoint of data dirs from before the metadata log (read
/// once, for migration).
pub const LEGACY_CHECKPOINT_FILE: &str = "groups.checkpoint";
/// Name of the metadata log (`<name>.log`, `<name>.snapshot`) inside the directory.
pub const LOG_NAME: &str = "groups";
const FORMAT_VERSION: u32 = 1;

/// Everything durable: group metadata (so a restarted broker keeps generation, leader and
/// assignments, as Kafka does) and all committed offsets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Format version; a different one is rejected rather than misread.
    pub version: u32,
    /// Groups with their members.
    pub groups: Vec<GroupSnapshot>,
    /// Offsets.
    pub offsets: Vec<OffsetEntry>,
}

/// A group's durable metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupSnapshot {
    /// Group id.
    pub group_id: String,
    /// Protocol type.
    pub protocol_type: Option<String>,
    /// Selected protocol.
    pub protocol_name: Option<String>,
    /// Generation.
    pub generation: i32,
    /// Leader member id.
    pub leader: Option<String>,
    /// Members.
    pub members: Vec<MemberSnapshot>,
    /// Set for a consumer (KIP-848) group, whose metadata is all here (the classic fields are
    /// then empty).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consumer: Option<ConsumerGroupSnapshot>,
}

/// A member's durable metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberSnapshot {
    /// Member id.
    pub member_id: String,
    /// Static instance id.
    pub group_instance_id: Option<String>,
    /// Client id.
    pub client_id: String,
    /// Client host.
    pub client_host: String,
    /// Session timeout in ms.
    pub session_timeout_ms: u64,
    /// Rebalance timeout in ms.
    pub rebalance_timeout_ms: u64,
    /// Offered protocols (name, metadata).
    pub protocols: Vec<(String, Vec<u8>)>,
    /// Current assignment.
    pub assignment: Vec<u8>,
}

/// One committed offset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OffsetEntry {
    /// Group.
    pub group_id: String,
    /// Partition.
    pub key: PartitionKey,
    /// Value.
    pub value: CommittedOffset,
}

/// One durable change set: what changed in the coordinator between two appends.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Changes {
    /// Groups whose metadata changed or that were removed.
    pub groups: Vec<GroupChange>,
    /// Offsets committed (a value) or removed (`None`).
    pub offsets: Vec<OffsetChange>,
}

/// A group's new metadata, or its removal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum GroupChange {
    /// The group's metadata as it is now.
    Upsert(GroupSnapshot),
    /// The group is gone.
    Remove(String),
}

impl GroupChange {
    /// The group this change is about.
    pub fn group_id(&self) -> &str {
        match self {
            Self::Upsert(snapshot) => &snapshot.group_id,
            Self::Remove(id) => id,
        }
    }
}

/// An offset's new value, or its removal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OffsetChange {
    /// Group.
    pub group_id: String,
    /// Partition.
    pub key: PartitionKey,
    /// The committed offset now; `None` when it was removed.
    pub value: Option<CommittedOffset>,
}

/// The durable store of groups and offsets: the metadata log plus its snapshot. One owner
/// appends; blocking I/O, so call it off the async path.
#[derive(Debug)]
pub struct GroupStore {
    log: MetaLog,
    dir: PathBuf,
}

impl GroupStore {
    /// Opens the store in `dir` (created if missing) and returns the state it holds: the last
    /// snapshot with every change set after it applied in order (`None` on a new store). A data
    /// dir holding only the legacy checkpoint is migrated first.
    pub fn open(dir: &Path) -> Result<(Self, Option<Checkpoint>), CheckpointError> {
        let (mut log, recovered) = MetaLog::open(dir, LOG_NAME).map_err(meta_error)?;
        let legacy = dir.join(LEGACY_CHECKPOINT_FILE);
        let mut base = match recovered.snapshot {
            Some(bytes) => Some(decode_checkpoint(&dir.join(LOG_NAME), &bytes)?),
            None => None,
        };
        if base.is_none()
            && recovered.records.is_empty()
            && let Some(old) = load_legacy(dir)?
        {
            let bytes = encode(&old, dir)?;
            log.write_snapshot(&bytes).map_err(meta_error)?;
            base = Some(old);
        }
        if base.is_some() && legacy.exists() {
            // Migrated (now, or by a run that crashed before it could remove the old file).
            fs::remove_file(&legacy).map_err(io_err(&legacy, "remove migrated file"))?;
        }
        let store = Self {
            log,
            dir: dir.to_path_buf(),
        };
        if base.is_none() && recovered.records.is_empty() {
            return Ok((store, None));
        }
        let mut state = Replay::from(base.unwrap_or_else(empty_checkpoint));
        for record in &recovered.records {
            let changes: Changes =
                serde_json::from_slice(record).map_err(|e| CheckpointError::Corrupt {
                    path: dir.join(LOG_NAME),
                    reason: format!("undecodable change set: {e}"),
                })?;
            state.apply(changes);
        }
        let checkpoint = state.into_checkpoint();
        validate(&checkpoint).map_err(|reason| CheckpointError::Corrupt {
            path: dir.join(LOG_NAME),
            reason,
        })?;
        Ok((store, Some(checkpoint)))
    }

    /// Appends one change set (one write, one `fdatasync`).
    pub fn append(&mut self, changes: &Changes) -> Result<(), CheckpointError> {
        let bytes = encode(changes, &self.dir)?;
        self.log.append(&[bytes]).map(|_| ()).map_err(meta_error)
    }

    /// Whether the log has grown enough since the last snapshot to write a new one.
    pub fn snapshot_due(&self) -> bool {
        self.log.snapshot_due()
    }

    /// Writes `checkpoint`, which must be the state after every appended change set, as the
    /// new snapshot, and starts the log again.
    pub fn write_snapshot(&mut self, checkpoint: &Checkpoint) -> Result<(), CheckpointError> {
        let bytes = encode(checkpoint, &self.dir)?;
        self.log.write_snapshot(&bytes).map_err(meta_error)
    }

    /// The directory holding the store's files.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

fn empty_checkpoint() -> Checkpoint {
    Checkpoint {
        version: FORMAT_VERSION,
        groups: Vec::new(),
        offsets: Vec::new(),
    }
}

fn encode(value: &impl Serialize, dir: &Path) -> Result<Vec<u8>, CheckpointError> {
    serde_json::to_vec(value).map_err(|e| CheckpointError::Corrupt {
        path: dir.join(LOG_NAME),
        reason: format!("cannot serialize: {e}"),
    })
}

fn decode_checkpoint(path: &Path, bytes: &[u8]) -> Result<Checkpoint, CheckpointError> {
    let checkpoint: Checkpoint =
        serde_json::from_slice(bytes).map_err(|e| CheckpointError::Corrupt {
            path: path.to_path_buf(),
            reason: format!("undecodable snapshot: {e}"),
        })?;
    if checkpoint.version != FORMAT_VERSION {
        return Err(CheckpointError::Corrupt {
            path: path.to_path_buf(),
            reason: format!("unsupported version {}", checkpoint.version),
        });
    }
    Ok(checkpoint)
}

fn meta_error(error: MetaError) -> CheckpointError {
    CheckpointError::Log(error)
}

/// State being rebuilt from a snapshot and the change sets after it.
struct Replay {
    groups: BTreeMap<String, GroupSnapshot>,
    offsets: BTreeMap<(String, PartitionKey), CommittedOffset>,
}

impl Replay {
    fn from(checkpoint: Checkpoint) -> Self {
        Self {
            groups: checkpoint
                .groups
                .into_iter()
                .map(|g| (g.group_id.clone(), g))
                .collect(),
            offsets: checkpoint
                .offsets
                .into_iter()
                .map(|e| ((e.group_id, e.key), e.value))
                .collect(),
        }
    }

    fn apply(&mut self, changes: Changes) {
        for change in changes.groups {
            match change {
                GroupChange::Upsert(group) => {
                    self.groups.insert(group.group_id.clone(), group);
                }
                GroupChange::Remove(id) => {
                    self.groups.remove(&id);
                }
            }
        }
        for change in changes.offsets {
            let key = (change.group_id, change.key);
            match change.value {
                Some(value) => self.offsets.insert(key, value),
                None => self.offsets.remove(&key),
            };
        }
    }

    fn into_checkpoint(self) -> Checkpoint {
        Checkpoint {
            version: FORMAT_VERSION,
            groups: self.groups.into_values().collect(),
            offsets: self
                .offsets
                .into_iter()
                .map(|((group_id, key), value)| OffsetEntry {
                    group_id,
                    key,
                    value,
                })
                .collect(),
        }
    }
}

fn io_err(path: &Path, op: &'static str) -> impl FnOnce(std::io::Error) -> CheckpointError {
    let path = path.to_path_buf();
    move |source| CheckpointError::Io { path, op, source }
}

/// Loads the legacy whole-state checkpoint in `dir`; `Ok(None)` if there is none. A leftover
/// `.tmp` from a crash mid-write is ignored (its rename never happened).
fn load_legacy(dir: &Path) -> Result<Option<Checkpoint>, CheckpointError> {
    let path: PathBuf = dir.join(LEGACY_CHECKPOINT_FILE);
    let file = match File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err(&path, "open")(e)),
    };
    let len = file.metadata().map_err(io_err(&path, "stat"))?.len();
    let corrupt = |reason: String| CheckpointError::Corrupt {
        path: path.clone(),
        reason,
    };
    if len > limits::MAX_CHECKPOINT_BYTES {
        return Err(corrupt(format!(
            "{len} bytes exceeds the {} byte limit",
            limits::MAX_CHECKPOINT_BYTES
        )));
    }
    let mut buf = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    file.take(limits::MAX_CHECKPOINT_BYTES)
        .read_to_end(&mut buf)
        .map_err(io_err(&path, "read"))?;
    let checkpoint: Checkpoint =
        serde_json::from_slice(&buf).map_err(|e| corrupt(e.to_string()))?;
    if checkpoint.version != FORMAT_VERSION {
        return Err(corrupt(format!(
            "unsupported version {}",
            checkpoint.version
        )));
    }
    validate(&checkpoint).map_err(corrupt)?;
    Ok(Some(checkpoint))
}

/// Rejects contents that could not have been written by the coordinator.
fn validate(cp: &Checkpoint) -> Result<(), String> {
    for g in &cp.groups {
        if g.group_id.is_empty() || g.group_id.len() > limits::MAX_GROUP_ID_LEN {
            return Err(format!("bad group id {:?}", g.group_id));
        }
        let consumers = g.consumer.as_ref().map_or(0, |c| c.members.len());
        if g.members.len() > limits::MAX_MEMBERS_PER_GROUP
            || consumers > limits::MAX_MEMBERS_PER_GROUP
        {
            return Err(format!("group {:?} has too many members", g.group_id));
        }
    }
    Ok(())
}

/// Builds a checkpoint from live state.
pub(crate) fn snapshot<'a>(
    groups: impl Iterator<Item = &'a Group>,
    offsets: &OffsetStore,
) -> Checkpoint {
    Checkpoint {
        version: FORMAT_VERSION,
        groups: groups.map(group_snapshot).collect(),
        offsets: offsets
            .iter()
            .map(|(g, k, v)| OffsetEntry {
                group_id: g.to_owned(),
                key: *k,
                value: v.clone(),
            })
            .collect(),
    }
}

/// A consumer group's snapshot in the shape every group has on the metadata log.
pub(crate) fn consumer_group_snapshot(id: &str, g: &ConsumerGroup) -> GroupSnapshot {
    GroupSnapshot {
        group_id: id.to_owned(),
        protocol_type: Some("consumer".to_owned()),
        protocol_name: None,
        generation: g.group_epoch,
        leader: None,
        members: Vec::new(),
        consumer: Some(g.snapshot()),
    }
}

pub(crate) fn group_snapshot(g: &Group) -> GroupSnapshot {
    GroupSnapshot {
        consumer: None,
        group_id: g.id.clone(),
        protocol_type: g.protocol_type.clone(),
        protocol_name: g.protocol_name.clone(),
        generation: g.generation,
        leader: g.leader.clone(),
        members: g
            .members
            .iter()
            .map(|m| MemberSnapshot {
                member_id: m.id.clone(),
                group_instance_id: m.instance_id.clone(),
                client_id: m.client_id.clone(),
                client_host: m.client_host.clone(),
                session_timeout_ms: duration_ms(m.session_timeout),
                rebalance_timeout_ms: duration_ms(m.rebalance_timeout),
                protocols: m
                    .protocols
                    .iter()
                    .map(|p| (p.name.clone(), p.metadata.to_vec()))
                    .collect(),
                assignment: m.assignment.to_vec(),
            })
            .collect(),
    }
}

fn duration_ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Rebuilds a group from its snapshot. A group with members comes back Stable with every
/// member's session timer restarted at `now` (Kafka does the same on coordinator failover):
/// members that are still alive keep heartbeating without a rebalance; dead ones expire.
pub(crate) fn restore_group(s: GroupSnapshot, now: Instant) -> Group {
    let mut g = Group::new(s.group_id);
    g.protocol_type = s.protocol_type;
    g.protocol_name = s.protocol_name;
    g.generation = s.generation;
    g.leader = s.leader;
    g.members = s
        .members
        .into_iter()
        .map(|m| Member {
            id: m.member_id,
            instance_id: m.group_instance_id,
            client_id: m.client_id,
            client_host: m.client_host,
            session_timeout: Duration::from_millis(m.session_timeout_ms),
            rebalance_timeout: Duration::from_millis(m.rebalance_timeout_ms),
            protocols: m
                .protocols
                .into_iter()
                .map(|(name, md)| Protocol {
                    name,
                    metadata: Bytes::from(md),
                })
                .collect(),
            assignment: Bytes::from(m.assignment),
            last_heard: now,
            join_waiter: None,
            sync_waiter: None,
        })
        .collect();
    g.state = if g.members.is_empty() {
        GroupState::Empty
    } else {
        GroupState::Stable
    };
    g
}
