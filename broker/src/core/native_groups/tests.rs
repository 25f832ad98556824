#![allow(clippy::unwrap_used)]

use std::collections::HashMap;

use super::*;

/// `(id, name)` of a group, for checks.
fn resolve(
    groups: &NativeGroups,
    stream: u32,
    topic: u32,
    group: &NativeGroupRef,
) -> (u32, String) {
    groups.with_table(|table| {
        let group = table.get(stream, topic, group).unwrap();
        (group.id, group.name.clone())
    })
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
        resolve(&reopened, 0, 0, &NativeGroupRef::Name("b".into())),
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
    assert_eq!(resolve(&reopened, 0, 0, &NativeGroupRef::Id(0)).1, "a");
}

#[test]
fn sweep_evicts_silent_and_vanished_clients_only() {
    let groups = NativeGroups::default();
    let (alive, gone) = (1, 2);
    // Client → how long it has been silent; a client missing here is disconnected.
    let clients: HashMap<u32, Duration> = HashMap::from([(alive, Duration::from_secs(1))]);
    let silent_for = |client| clients.get(&client).copied();
    groups.with_table(|table| {
        table.create(0, 0, "g", 2).unwrap();
        table.join(0, 0, &NativeGroupRef::Id(0), alive).unwrap();
        table.join(0, 0, &NativeGroupRef::Id(0), gone).unwrap();
    });
    assert_eq!(
        groups.sweep(silent_for, Duration::from_secs(3600)),
        vec![gone]
    );
    assert_eq!(groups.memberships_of(alive), vec![(0, 0, 0)]);
    assert_eq!(
        groups
            .pick_partition(0, 0, &NativeGroupRef::Id(0), alive, Some(1))
            .unwrap(),
        (0, "g".to_owned(), 1)
    );
    // With a zero timeout every member counts as silent.
    assert_eq!(groups.sweep(silent_for, Duration::ZERO), vec![alive]);
    assert!(groups.memberships_of(alive).is_empty());
    assert!(groups.sweep(silent_for, Duration::ZERO).is_empty());
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
            .pick_partition(0, 0, &NativeGroupRef::Id(0), 2, None)
            .unwrap()
            .2,
        1
    );
    groups.on_disconnect(1);
    assert!(groups.memberships_of(1).is_empty());
    assert_eq!(
        groups
            .pick_partition(0, 0, &NativeGroupRef::Id(0), 2, Some(0))
            .unwrap()
            .2,
        0
    );
}

/// The core's deletion cascade takes a deleted topic's native groups with it; a purge keeps
/// them, as the Iggy server does.
#[tokio::test]
async fn deleting_a_topic_through_the_core_drops_its_native_groups() {
    use crate::core::{Core, RequestContext, membership, topics};
    use whippet_log::{Log, LogConfig, TopicSettings};

    let dir = tempfile::tempdir().unwrap();
    let (log, _) = Log::open(LogConfig::new(dir.path())).unwrap();
    let core =
        Arc::new(Core::with_empty_groups(log, "kafka".into(), &crate::core::test_root()).unwrap());
    let rc = RequestContext::internal();
    let stream = topics::create_stream(&core, &rc, "s".into()).await.unwrap();
    let settings = TopicSettings::default;
    let kept = topics::create_topic(&core, &rc, stream.id, "kept".into(), 1, settings())
        .await
        .unwrap();
    let gone = topics::create_topic(&core, &rc, stream.id, "gone".into(), 2, settings())
        .await
        .unwrap();
    for topic in [&kept, &gone] {
        membership::create_native_group(&core, &rc, topic, "g")
            .await
            .unwrap();
    }
    membership::join_native_group(&core, &rc, &gone, &NativeGroupRef::Id(0)).unwrap();
    topics::purge_topic(&core, &rc, stream.id, kept.id)
        .await
        .unwrap();
    assert_eq!(core.native_groups.count(), 2);
    topics::delete_topic(&core, &rc, stream.id, gone.id)
        .await
        .unwrap();
    assert_eq!(core.native_groups.count(), 1);
    assert!(core.native_groups.memberships_of(0).is_empty());
    let names = membership::native_groups(&core, &rc, &kept, |table| {
        table
            .list(stream.id, kept.id)
            .into_iter()
            .map(|group| group.name.clone())
            .collect::<Vec<_>>()
    });
    assert_eq!(names, vec!["g".to_owned()]);
    core.log.shutdown().unwrap();
}
