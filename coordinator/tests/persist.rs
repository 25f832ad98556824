//! Checkpoint round trip, restart semantics and corruption handling.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use common::{Harness, join_req};
use whippet_coordinator::persist::{CHECKPOINT_FILE, load_checkpoint};
use whippet_coordinator::{
    CheckpointError, CommitOffset, CommitRequest, Coordinator, ErrorCode, GroupConfig, GroupState,
    PartitionKey,
};

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "whippet-coord-{name}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
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
    let dir = temp_dir("roundtrip").join("state/groups");
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
    h.c.write_checkpoint(&dir).unwrap();
    assert!(!h.c.checkpoint_due());
    assert!(h.c.take_checkpoint().is_none());

    let before = h.c.describe_group("g");
    let c2 = Coordinator::load(h.clock.clone(), GroupConfig::default(), &dir).unwrap();
    assert_eq!(c2.describe_group("g"), before);
    assert_eq!(c2.group_state("g"), GroupState::Stable);
    assert_eq!(c2.generation("g"), Some(generation));
    let got = c2.fetch_offsets("g", Some(&[key(5)]))[0].1.clone().unwrap();
    assert_eq!(
        (got.offset, got.leader_epoch, got.metadata.as_str()),
        (123, 2, "meta")
    );
    let cp = load_checkpoint(&dir).unwrap().unwrap();
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
    h.c.write_checkpoint(&dir).unwrap();
    let clock = h.clock.clone();
    let mut c2 = Coordinator::load(clock.clone(), GroupConfig::default(), &dir).unwrap();
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
fn missing_checkpoint_is_empty_and_tmp_leftover_ignored() {
    let dir = temp_dir("missing");
    std::fs::write(dir.join("groups.checkpoint.tmp"), b"half-writ").unwrap();
    let c = Coordinator::load(
        Arc::new(whippet_coordinator::SystemClock),
        GroupConfig::default(),
        &dir,
    )
    .unwrap();
    assert!(c.list_groups(&[]).is_empty());
}

#[test]
fn corrupt_checkpoint_is_an_error_naming_the_file() {
    let dir = temp_dir("corrupt");
    let mut h = Harness::no_delay();
    h.form_group("g", 1);
    h.c.write_checkpoint(&dir).unwrap();
    let path = dir.join(CHECKPOINT_FILE);
    let good = std::fs::read(&path).unwrap();
    for bad in [
        good[..good.len() / 2].to_vec(),
        b"not json".to_vec(),
        Vec::new(),
        String::from_utf8(good.clone())
            .unwrap()
            .replacen("\"version\":1", "\"version\":99", 1)
            .into_bytes(),
        String::from_utf8(good.clone())
            .unwrap()
            .replacen("\"group_id\":\"g\"", "\"group_id\":\"\"", 1)
            .into_bytes(),
    ] {
        std::fs::write(&path, &bad).unwrap();
        let err = Coordinator::load(h.clock.clone(), GroupConfig::default(), &dir).unwrap_err();
        assert!(matches!(err, CheckpointError::Corrupt { .. }), "{err}");
        assert!(err.to_string().contains(CHECKPOINT_FILE), "{err}");
    }
}

#[test]
fn rewrite_replaces_previous_checkpoint() {
    let dir = temp_dir("rewrite");
    let mut h = Harness::no_delay();
    let (ids, generation) = h.form_group("g", 1);
    h.c.write_checkpoint(&dir).unwrap();
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
    h.c.write_checkpoint(&dir).unwrap();
    let c2 = Coordinator::load(h.clock.clone(), GroupConfig::default(), &dir).unwrap();
    assert_eq!(c2.group_state("g"), GroupState::Empty);
    assert_eq!(c2.generation("g"), Some(generation + 1));
}
