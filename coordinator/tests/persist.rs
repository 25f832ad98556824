//! The group store (metadata log + snapshot): round trip, restart semantics, corruption
//! handling, migration from the legacy whole-state checkpoint, and the size of a commit's
//! append.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use common::{Harness, join_req};
use whippet_coordinator::persist::{Checkpoint, GroupStore, LEGACY_CHECKPOINT_FILE};
use whippet_coordinator::{
    CheckpointError, CommitOffset, CommitRequest, Coordinator, ErrorCode, GroupConfig, GroupState,
    PartitionKey,
};

/// A fresh directory under the system temp dir, removed when the guard is dropped.
struct TempDir(tempfile::TempDir);

impl std::ops::Deref for TempDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        self.0.path()
    }
}

fn temp_dir(name: &str) -> TempDir {
    TempDir(
        tempfile::Builder::new()
            .prefix(&format!("whippet-coord-{name}-"))
            .tempdir()
            .unwrap(),
    )
}

/// Appends the coordinator's pending changes to the store in `dir` (opened for the call).
fn save(c: &mut Coordinator, dir: &std::path::Path) {
    let (mut store, _) = GroupStore::open(dir).unwrap();
    c.write_changes(&mut store).unwrap();
}

/// What the store in `dir` holds.
fn stored(dir: &std::path::Path) -> Result<Option<Checkpoint>, CheckpointError> {
    GroupStore::open(dir).map(|(_, state)| state)
}

fn load(
    clock: Arc<whippet_coordinator::FakeClock>,
    dir: &std::path::Path,
) -> Result<Coordinator, CheckpointError> {
    Ok(Coordinator::restore(
        clock,
        GroupConfig::default(),
        stored(dir)?,
    ))
}

fn key(p: u32) -> PartitionKey {
    PartitionKey {
        stream: 3,
        topic: 4,
        partition: p,
    }
}

#[test]
fn checkpoint_round_trips_groups_and_offsets() {
    let root = temp_dir("roundtrip");
    let dir = root.join("state/groups");
    let mut h = Harness::no_delay();
    let (ids, generation) = h.form_group("g", 2);
    let r = h.c.commit_offsets(&CommitRequest {
        group_id: "g".into(),
        generation_id: generation,
        member_id: ids[0].clone(),
        group_instance_id: None,
        offsets: vec![CommitOffset {
            key: key(5),
            offset: 123,
            leader_epoch: 2,
            metadata: "meta".into(),
        }],
    });
    assert_eq!(r[0].1, ErrorCode::None);
    assert!(h.c.checkpoint_due());
    save(&mut h.c, &dir);
    assert!(!h.c.checkpoint_due());
    assert!(h.c.take_changes().is_none());

    let before = h.c.describe_group("g");
    let c2 = load(h.clock.clone(), &dir).unwrap();
    assert_eq!(c2.describe_group("g"), before);
    assert_eq!(c2.group_state("g"), GroupState::Stable);
    assert_eq!(c2.generation("g"), Some(generation));
    let got = c2.fetch_offsets("g", Some(&[key(5)]))[0].1.clone().unwrap();
    assert_eq!(
        (got.offset, got.leader_epoch, got.metadata.as_str()),
        (123, 2, "meta")
    );
    let cp = stored(&dir).unwrap().unwrap();
    assert_eq!(cp.groups.len(), 1);
    assert_eq!(cp.groups[0].members.len(), 2);
    assert_eq!(cp.groups[0].leader.as_deref(), Some(ids[0].as_str()));
    assert_eq!(cp.offsets.len(), 1);
    std::fs::remove_dir_all(dir.parent().unwrap().parent().unwrap()).unwrap();
}

#[test]
fn restored_members_keep_heartbeating_or_expire() {
    let dir = temp_dir("restore");
    let mut h = Harness::no_delay();
    let (ids, generation) = h.form_group("g", 2);
    save(&mut h.c, &dir);
    let clock = h.clock.clone();
    let mut c2 = load(clock.clone(), &dir).unwrap();
    let hb = |c: &mut Coordinator, id: &str| {
        c.heartbeat(&whippet_coordinator::HeartbeatRequest {
            group_id: "g".into(),
            generation_id: generation,
            member_id: id.into(),
            group_instance_id: None,
        })
    };
    assert_eq!(hb(&mut c2, &ids[0]), ErrorCode::None);
    clock.advance(common::SESSION / 2);
    assert_eq!(hb(&mut c2, &ids[0]), ErrorCode::None);
    clock.advance(common::SESSION / 2);
    c2.tick();
    // ids[1] never came back after the restart: removed, and the survivor must rejoin.
    assert_eq!(hb(&mut c2, &ids[1]), ErrorCode::UnknownMemberId);
    assert_eq!(hb(&mut c2, &ids[0]), ErrorCode::RebalanceInProgress);
    let rejoin = common::resolve(c2.join_group(join_req("g", &ids[0], "m0")));
    assert_eq!(rejoin.generation_id, generation + 1);
}

#[test]
fn missing_store_is_empty_and_legacy_tmp_leftover_ignored() {
    let dir = temp_dir("missing");
    std::fs::write(dir.join("groups.checkpoint.tmp"), b"half-writ").unwrap();
    assert!(stored(&dir).unwrap().is_none());
}

#[test]
fn corrupt_files_are_errors_naming_the_file() {
    let dir = temp_dir("corrupt");
    let mut h = Harness::no_delay();
    h.form_group("g", 1);
    let (mut store, _) = GroupStore::open(&dir).unwrap();
    h.c.write_changes(&mut store).unwrap();
    store.write_snapshot(&h.c.checkpoint()).unwrap();
    drop(store);
    let path = dir.join("groups.snapshot");
    let mut bad = std::fs::read(&path).unwrap();
    let last = bad.len() - 1;
    bad[last] ^= 0x20;
    std::fs::write(&path, &bad).unwrap();
    let err = stored(&dir).unwrap_err();
    assert!(err.to_string().contains("groups.snapshot"), "{err}");

    // A whole, checksummed record that is not a change set is corruption, not a torn tail.
    let other = temp_dir("corrupt-record");
    let (mut log, _) = whippet_meta::MetaLog::open(&other, "groups").unwrap();
    log.append(&[b"not json".as_slice()]).unwrap();
    drop(log);
    let err = stored(&other).unwrap_err();
    assert!(matches!(err, CheckpointError::Corrupt { .. }), "{err}");
    assert!(err.to_string().contains("groups"), "{err}");
}

#[test]
fn a_legacy_checkpoint_is_migrated_once() {
    let dir = temp_dir("legacy");
    let mut h = Harness::no_delay();
    let (_, generation) = h.form_group("g", 1);
    let legacy = serde_json::to_vec(&h.c.checkpoint()).unwrap();
    std::fs::write(dir.join(LEGACY_CHECKPOINT_FILE), &legacy).unwrap();
    let c2 = load(h.clock.clone(), &dir).unwrap();
    assert_eq!(c2.generation("g"), Some(generation));
    assert!(
        !dir.join(LEGACY_CHECKPOINT_FILE).exists(),
        "migrated file removed"
    );
    assert!(dir.join("groups.snapshot").exists());
    // Reopening reads the snapshot, not the (gone) legacy file.
    assert_eq!(
        load(h.clock.clone(), &dir).unwrap().generation("g"),
        Some(generation)
    );
    // A crash between the snapshot and the removal leaves the old file behind: ignored (the
    // snapshot wins) and removed on the next open.
    std::fs::write(dir.join(LEGACY_CHECKPOINT_FILE), b"{\"stale\": true}").unwrap();
    assert_eq!(
        load(h.clock.clone(), &dir).unwrap().generation("g"),
        Some(generation)
    );
    assert!(!dir.join(LEGACY_CHECKPOINT_FILE).exists());
}

#[test]
fn a_commit_appends_only_what_changed() {
    let dir = temp_dir("o1");
    let mut h = Harness::no_delay();
    let many: Vec<CommitOffset> = (0..5_000)
        .map(|p| CommitOffset {
            key: key(p),
            offset: 1,
            leader_epoch: -1,
            metadata: String::new(),
        })
        .collect();
    let commit = |offsets: Vec<CommitOffset>| CommitRequest {
        group_id: "simple".into(),
        generation_id: -1,
        member_id: String::new(),
        group_instance_id: None,
        offsets,
    };
    h.c.commit_offsets(&commit(many));
    let (mut store, _) = GroupStore::open(&dir).unwrap();
    h.c.write_changes(&mut store).unwrap();
    let log = dir.join("groups.log");
    let before = std::fs::metadata(&log).unwrap().len();
    let one = vec![CommitOffset {
        key: key(7),
        offset: 2,
        leader_epoch: -1,
        metadata: String::new(),
    }];
    h.c.commit_offsets(&commit(one));
    h.c.write_changes(&mut store).unwrap();
    let grew = std::fs::metadata(&log).unwrap().len() - before;
    assert!(
        grew < 512,
        "one commit appended {grew} bytes with 5 000 offsets stored"
    );
    drop(store);
    let c2 = load(h.clock.clone(), &dir).unwrap();
    assert_eq!(
        c2.fetch_offsets("simple", Some(&[key(7)]))[0]
            .1
            .clone()
            .unwrap()
            .offset,
        2
    );
    assert_eq!(c2.fetch_offsets("simple", None).len(), 5_000);
}

#[test]
fn later_changes_win_on_replay() {
    let dir = temp_dir("rewrite");
    let mut h = Harness::no_delay();
    let (ids, generation) = h.form_group("g", 1);
    save(&mut h.c, &dir);
    let sync = h.c.sync_group(whippet_coordinator::SyncRequest {
        group_id: "g".into(),
        generation_id: generation,
        member_id: ids[0].clone(),
        group_instance_id: None,
        protocol_type: None,
        protocol_name: None,
        assignments: vec![],
    });
    assert_eq!(
        common::ready(sync).assignment,
        Bytes::from(format!("assign-{}", ids[0]))
    );
    h.c.leave_group(
        "g",
        &[whippet_coordinator::LeaveMember {
            member_id: ids[0].clone(),
            group_instance_id: None,
        }],
    );
    save(&mut h.c, &dir);
    let c2 = load(h.clock.clone(), &dir).unwrap();
    assert_eq!(c2.group_state("g"), GroupState::Empty);
    assert_eq!(c2.generation("g"), Some(generation + 1));
}

#[test]
fn the_log_is_snapshotted_when_it_outweighs_the_state_and_replays_the_same() {
    let dir = temp_dir("snapshot");
    let mut h = Harness::no_delay();
    let (mut store, _) = GroupStore::open(&dir).unwrap();
    let log = dir.join("groups.log");
    let mut snapshotted = false;
    // The same 500 offsets committed again and again: the state stays small while the log
    // grows, so a snapshot must come and cut the log.
    for round in 0..200i64 {
        let offsets = (0..500)
            .map(|p| CommitOffset {
                key: key(p),
                offset: round,
                leader_epoch: -1,
                metadata: "m".repeat(64),
            })
            .collect();
        h.c.commit_offsets(&CommitRequest {
            group_id: "g".into(),
            generation_id: -1,
            member_id: String::new(),
            group_instance_id: None,
            offsets,
        });
        let before = std::fs::metadata(&log).unwrap().len();
        h.c.write_changes(&mut store).unwrap();
        if std::fs::metadata(&log).unwrap().len() < before {
            snapshotted = true;
            break;
        }
    }
    assert!(snapshotted, "the log was never cut by a snapshot");
    assert!(dir.join("groups.snapshot").exists());
    drop(store);
    let c2 = load(h.clock.clone(), &dir).unwrap();
    assert_eq!(
        c2.checkpoint(),
        h.c.checkpoint(),
        "snapshot + log replay to the same state"
    );
}
