//! The metadata state machine over a real log: every kind of command survives a reopen, from
//! the log and from a snapshot, and refused commands change nothing.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use whippet_coordinator::native_groups::StoredGroup;
use whippet_meta::CommandError;

use super::{Meta, MetaCommand, MetaRefusal};
use crate::core::users::commands::UserCommand;
use crate::core::users::model::{Directory, NewUser};

fn every_kind_of_command(meta: &Meta) {
    let mut directory = Directory::default();
    let root = NewUser {
        username: "root".into(),
        password_hash: "hash".into(),
        active: true,
        permissions: None,
        scram: None,
    };
    directory.create(root, 1).unwrap();
    let users = directory.users().cloned().collect();
    meta.submit_blocking(MetaCommand::Users(UserCommand::Install { users }))
        .unwrap();
    let group = StoredGroup {
        stream: 1,
        topic: 2,
        id: 0,
        name: "g".into(),
    };
    meta.submit_blocking(MetaCommand::NativeGroups(vec![group]))
        .unwrap();
    meta.submit_blocking(MetaCommand::ReserveProducerIds { below: 2000 })
        .unwrap();
    meta.submit_blocking(MetaCommand::ReserveProducerIds { below: 1000 })
        .unwrap();
    let set = BTreeMap::from([("a".to_owned(), "1".to_owned()), ("b".into(), "2".into())]);
    meta.submit_blocking(MetaCommand::BrokerConfigs {
        set,
        reset: Vec::new(),
    })
    .unwrap();
    meta.submit_blocking(MetaCommand::BrokerConfigs {
        set: BTreeMap::new(),
        reset: vec!["a".into()],
    })
    .unwrap();
    meta.submit_blocking(MetaCommand::ClusterId("c1".into()))
        .unwrap();
    let refused = meta.submit_blocking(MetaCommand::ClusterId("c2".into()));
    assert!(matches!(
        refused,
        Err(CommandError::Rejected(MetaRefusal::ClusterIdSet(id))) if id == "c1"
    ));
}

#[test]
fn every_command_survives_a_reopen_from_the_log_and_from_a_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let (meta, report) = Meta::open(dir.path()).unwrap();
    assert!(report.fresh);
    every_kind_of_command(&meta);
    let state = meta.load();
    assert_eq!(
        state.producer_ids_reserved, 2000,
        "reservations never go down"
    );
    assert_eq!(state.broker_configs.len(), 1);
    assert_eq!(state.cluster_id.as_deref(), Some("c1"));
    drop(meta);

    let (meta, report) = Meta::open(dir.path()).unwrap();
    assert_eq!(report.replayed, 7, "the refused command was not logged");
    let replayed = meta.load();
    assert_eq!(replayed.users, state.users);
    assert_eq!(replayed.native_groups, state.native_groups);
    assert_eq!(replayed.producer_ids_reserved, 2000);
    assert_eq!(replayed.broker_configs, state.broker_configs);
    assert_eq!(replayed.cluster_id, state.cluster_id);

    meta.snapshot_now().unwrap();
    drop(meta);
    let (meta, report) = Meta::open(dir.path()).unwrap();
    assert_eq!(report.replayed, 0);
    let restored = meta.load();
    assert_eq!(restored.users, state.users);
    assert_eq!(restored.native_groups, state.native_groups);
    assert_eq!(restored.producer_ids_reserved, 2000);
    assert_eq!(restored.broker_configs, state.broker_configs);
    assert_eq!(restored.cluster_id, state.cluster_id);
}
