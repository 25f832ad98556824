//! Groups and offsets on the metadata log: an acknowledged commit is in the durable state,
//! readable without the coordinator's mutex, and survives a restart; one commit appends one
//! small record however many offsets exist; the group store of an older data dir is migrated.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::sync::Arc;

use whippet_coordinator::persist::{
    Changes, Checkpoint, GroupChange, GroupSnapshot, GroupStore, OffsetChange, OffsetEntry,
};
use whippet_coordinator::{
    CommitOffset, CommitRequest, CommittedOffset, GroupConfig, PartitionKey,
};

use super::groups::{GROUPS_DIR, GroupCoordinator};
use super::meta::Meta;

fn key(partition: u32) -> PartitionKey {
    PartitionKey {
        stream: 1,
        topic: 2,
        partition,
    }
}

fn simple_commit(group: &str, partitions: std::ops::Range<u32>, offset: i64) -> CommitRequest {
    CommitRequest {
        group_id: group.into(),
        generation_id: -1,
        member_id: String::new(),
        group_instance_id: None,
        offsets: partitions
            .map(|partition| CommitOffset {
                key: key(partition),
                offset,
                leader_epoch: -1,
                metadata: String::new(),
            })
            .collect(),
    }
}

fn load(state_dir: &Path) -> (GroupCoordinator, Arc<Meta>) {
    let (meta, _) = Meta::open(state_dir).unwrap();
    let meta = Arc::new(meta);
    let dir = state_dir.join(GROUPS_DIR);
    let groups = GroupCoordinator::load(GroupConfig::default(), dir, Arc::clone(&meta)).unwrap();
    (groups, meta)
}

fn meta_log_bytes(state_dir: &Path) -> u64 {
    std::fs::metadata(state_dir.join("meta/meta.log"))
        .unwrap()
        .len()
}

#[tokio::test]
async fn an_acknowledged_commit_is_durable_and_costs_one_small_record() {
    let dir = tempfile::tempdir().unwrap();
    let (groups, meta) = load(dir.path());
    let (_, durable) = groups
        .change_durably(|c| c.commit_offsets(&simple_commit("big", 0..2_000, 7)))
        .await;
    durable.unwrap();
    let before = meta_log_bytes(dir.path());
    let (_, durable) = groups
        .change_durably(|c| c.commit_offsets(&simple_commit("g", 0..1, 42)))
        .await;
    durable.unwrap();
    let grown = meta_log_bytes(dir.path()) - before;
    assert!(grown < 512, "one commit appended {grown} bytes");
    // Readable without the coordinator's mutex, once acknowledged.
    let state = groups.durable();
    assert_eq!(state.committed("g", &key(0)).unwrap().offset, 42);
    assert_eq!(state.offsets["big"].len(), 2_000);
    drop((groups, meta));

    let (reloaded, _meta) = load(dir.path());
    let found = reloaded.lock().fetch_offsets("g", Some(&[key(0)]));
    assert_eq!(found[0].1.as_ref().map(|c| c.offset), Some(42));
    assert_eq!(reloaded.durable().offsets["big"].len(), 2_000);
}

fn committed(offset: i64) -> CommittedOffset {
    CommittedOffset {
        offset,
        leader_epoch: -1,
        metadata: "m".into(),
        commit_timestamp_ms: 1,
    }
}

fn group(id: &str, generation: i32) -> GroupSnapshot {
    GroupSnapshot {
        group_id: id.into(),
        protocol_type: Some("consumer".into()),
        protocol_name: Some("range".into()),
        generation,
        leader: None,
        members: Vec::new(),
        consumer: None,
    }
}

#[test]
fn the_group_store_of_an_older_data_dir_is_migrated_then_removed() {
    let dir = tempfile::tempdir().unwrap();
    let old = dir.path().join(GROUPS_DIR);
    {
        // Written by the group store the broker used before the metadata log.
        let (mut store, _) = GroupStore::open(&old).unwrap();
        store
            .write_snapshot(&Checkpoint {
                version: 1,
                groups: vec![group("a", 3)],
                offsets: vec![OffsetEntry {
                    group_id: "a".into(),
                    key: key(0),
                    value: committed(10),
                }],
            })
            .unwrap();
        store
            .append(&Changes {
                groups: vec![GroupChange::Upsert(group("b", 1))],
                offsets: vec![OffsetChange {
                    group_id: "b".into(),
                    key: key(1),
                    value: Some(committed(20)),
                }],
            })
            .unwrap();
    }
    let (groups, meta) = load(dir.path());
    assert!(!old.exists(), "the old store and its directory are gone");
    let state = groups.durable();
    assert_eq!(state.groups["a"].generation, 3);
    assert_eq!(state.committed("a", &key(0)).unwrap().offset, 10);
    assert_eq!(state.committed("b", &key(1)).unwrap().offset, 20);
    assert_eq!(groups.lock().list_groups(&[]).len(), 2);
    drop((groups, meta));
    let (reloaded, _meta) = load(dir.path());
    assert_eq!(
        reloaded.durable().committed("b", &key(1)).unwrap().offset,
        20
    );
}

#[test]
fn the_whole_state_checkpoint_of_an_even_older_data_dir_is_migrated() {
    let dir = tempfile::tempdir().unwrap();
    let old = dir.path().join(GROUPS_DIR);
    std::fs::create_dir_all(&old).unwrap();
    let checkpoint = Checkpoint {
        version: 1,
        groups: vec![group("c", 5)],
        offsets: vec![OffsetEntry {
            group_id: "c".into(),
            key: key(2),
            value: committed(30),
        }],
    };
    std::fs::write(
        old.join("groups.checkpoint"),
        serde_json::to_vec(&checkpoint).unwrap(),
    )
    .unwrap();
    let (groups, _meta) = load(dir.path());
    assert!(!old.join("groups.checkpoint").exists());
    assert_eq!(groups.durable().committed("c", &key(2)).unwrap().offset, 30);
    assert_eq!(groups.durable().groups["c"].generation, 5);
}

#[test]
fn a_group_migration_cut_short_by_a_crash_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let old = dir.path().join(GROUPS_DIR);
    let offsets: Vec<OffsetEntry> = (0..25_000)
        .map(|partition| OffsetEntry {
            group_id: "wide".into(),
            key: key(partition),
            value: committed(i64::from(partition)),
        })
        .collect();
    let checkpoint = Checkpoint {
        version: 1,
        groups: vec![group("wide", 2)],
        offsets,
    };
    {
        let (mut store, _) = GroupStore::open(&old).unwrap();
        store.write_snapshot(&checkpoint).unwrap();
        // The first of the migration's commands was durable, then the process died.
        let (meta, _) = Meta::open(dir.path()).unwrap();
        let first = super::meta::groups::changes_of(&checkpoint, 10_000).remove(0);
        meta.submit_blocking(super::meta::MetaCommand::Groups(first))
            .unwrap();
    }
    let (groups, _meta) = load(dir.path());
    let state = groups.durable();
    assert_eq!(state.offsets["wide"].len(), 25_000);
    assert_eq!(
        state.committed("wide", &key(24_999)).unwrap().offset,
        24_999
    );
    assert!(!old.exists());
}
