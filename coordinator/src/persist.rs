//! Durability of groups and offsets as one atomically replaced checkpoint file.
//!
//! Format: JSON of [`Checkpoint`] in `<dir>/groups.checkpoint`. Writing goes to
//! `groups.checkpoint.tmp`, is fsynced, renamed over the old file, and the directory is fsynced,
//! so after a crash the file is either the old or the new checkpoint, never a mix. Durability
//! contract: a caller that acknowledges an offset commit only after a checkpoint taken after
//! that commit was written (see `Coordinator::take_checkpoint`) never loses an acknowledged
//! commit, on SIGTERM or SIGKILL or power loss.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::api::Protocol;
use crate::error::CheckpointError;
use crate::group::Group;
use crate::limits;
use crate::member::Member;
use crate::offsets::{CommittedOffset, OffsetStore, PartitionKey};
use crate::state::GroupState;

/// File name of the checkpoint inside the directory the caller passes.
pub const CHECKPOINT_FILE: &str = "groups.checkpoint";
const TMP_FILE: &str = "groups.checkpoint.tmp";
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

fn io_err(path: &Path, op: &'static str) -> impl FnOnce(std::io::Error) -> CheckpointError {
    let path = path.to_path_buf();
    move |source| CheckpointError::Io { path, op, source }
}

/// Writes `checkpoint` atomically into `dir` (created if missing). Blocking: call it off the
/// async path.
pub fn write_checkpoint(dir: &Path, checkpoint: &Checkpoint) -> Result<(), CheckpointError> {
    fs::create_dir_all(dir).map_err(io_err(dir, "create directory"))?;
    let tmp = dir.join(TMP_FILE);
    let dest = dir.join(CHECKPOINT_FILE);
    let json = serde_json::to_vec(checkpoint).map_err(|e| CheckpointError::Corrupt {
        path: tmp.clone(),
        reason: format!("cannot serialize: {e}"),
    })?;
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&tmp)
        .map_err(io_err(&tmp, "open"))?;
    file.write_all(&json).map_err(io_err(&tmp, "write"))?;
    file.sync_all().map_err(io_err(&tmp, "fsync"))?;
    drop(file);
    fs::rename(&tmp, &dest).map_err(io_err(&dest, "rename"))?;
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(dir, "fsync directory"))
}

/// Loads the checkpoint in `dir`; `Ok(None)` if there is none yet. A leftover `.tmp` from a
/// crash mid-write is ignored (the rename never happened, so the old file is authoritative).
pub fn load_checkpoint(dir: &Path) -> Result<Option<Checkpoint>, CheckpointError> {
    let path: PathBuf = dir.join(CHECKPOINT_FILE);
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
        if g.members.len() > limits::MAX_MEMBERS_PER_GROUP {
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

fn group_snapshot(g: &Group) -> GroupSnapshot {
    GroupSnapshot {
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
