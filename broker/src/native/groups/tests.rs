#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;

use super::*;

/// `(id, name)` of a group, for checks.
fn resolve(groups: &NativeGroups, stream: u32, topic: u32, group: &Identifier) -> (u32, String) {
    groups.with_table(|table| {
        let group = table.get(stream, topic, &group_ref(group)).unwrap();
        (group.id, group.name.clone())
    })
}

fn addr() -> SocketAddr {
    "127.0.0.1:1".parse().unwrap()
}

fn open(dir: &std::path::Path) -> NativeGroups {
    let (meta, _) = Meta::open(dir).unwrap();
    NativeGroups::open(dir, Arc::new(meta)).unwrap()
}

#[tokio::test]
async fn definitions_survive_a_reopen_but_memberships_do_not() {
    let dir = tempfile::tempdir().unwrap();
    let groups = open(dir.path());
    groups
        .with_table(|table| table.create(0, 0, "a", 2).map(|_| ()))
        .unwrap();
    groups.persist().await.unwrap();
    groups
        .with_table(|table| table.create(0, 0, "b", 2).map(|_| ()))
        .unwrap();
    groups
        .with_table(|table| table.join(0, 0, &NativeGroupRef::Id(1), 5))
        .unwrap();
    groups.persist().await.unwrap();
    groups.on_topic_deleted(7, 7);
    assert_eq!(groups.count(), 2);
    drop(groups);

    let reopened = open(dir.path());
    assert_eq!(reopened.count(), 2);
    assert_eq!(
        resolve(&reopened, 0, 0, &Identifier::Name("b".into())),
        (1, "b".to_owned())
    );
    assert!(reopened.memberships_of(5).is_empty());
}

#[tokio::test]
async fn deletion_hooks_reach_the_log_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let groups = open(dir.path());
    groups.with_table(|table| {
        table.create(0, 0, "a", 1).unwrap();
        table.create(0, 1, "b", 1).unwrap();
        table.create(1, 0, "c", 1).unwrap();
    });
    groups.persist().await.unwrap();
    groups.on_topic_deleted(0, 1);
    groups.on_stream_deleted(1);
    // Queued after the hooks' sets, so durable only once they are.
    groups.persist().await.unwrap();
    drop(groups);
    let reopened = open(dir.path());
    assert_eq!(reopened.count(), 1);
    assert_eq!(resolve(&reopened, 0, 0, &Identifier::Numeric(0)).1, "a");
}

#[test]
fn sweep_evicts_silent_and_vanished_clients_only() {
    let groups = NativeGroups::default();
    let clients = ClientRegistry::default();
    let alive = clients.register(addr());
    let gone = clients.register(addr());
    groups.with_table(|table| {
        table.create(0, 0, "g", 2).unwrap();
        table.join(0, 0, &NativeGroupRef::Id(0), alive.id).unwrap();
        table.join(0, 0, &NativeGroupRef::Id(0), gone.id).unwrap();
    });
    clients.remove(gone.id);
    assert_eq!(
        groups.sweep(&clients, Duration::from_secs(3600)),
        vec![gone.id]
    );
    assert_eq!(groups.memberships_of(alive.id), vec![(0, 0, 0)]);
    assert_eq!(
        groups
            .pick_partition(0, 0, &Identifier::Numeric(0), alive.id, Some(1))
            .unwrap(),
        (0, "g".to_owned(), 1)
    );
    // With a zero timeout every member counts as silent.
    assert_eq!(groups.sweep(&clients, Duration::ZERO), vec![alive.id]);
    assert!(groups.memberships_of(alive.id).is_empty());
    assert!(groups.sweep(&clients, Duration::ZERO).is_empty());
}

#[test]
fn disconnect_and_partition_changes_reach_the_table() {
    let groups = NativeGroups::default();
    groups.with_table(|table| {
        table.create(0, 0, "g", 1).unwrap();
        table.join(0, 0, &NativeGroupRef::Id(0), 1).unwrap();
        table.join(0, 0, &NativeGroupRef::Id(0), 2).unwrap();
    });
    groups.on_partitions_changed(0, 0, 4);
    assert_eq!(
        groups
            .pick_partition(0, 0, &Identifier::Numeric(0), 2, None)
            .unwrap()
            .2,
        1
    );
    groups.on_disconnect(1);
    assert!(groups.memberships_of(1).is_empty());
    assert_eq!(
        groups
            .pick_partition(0, 0, &Identifier::Numeric(0), 2, Some(0))
            .unwrap()
            .2,
        0
    );
}
