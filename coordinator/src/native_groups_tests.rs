#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;

use super::*;

fn id(value: u32) -> NativeGroupRef {
    NativeGroupRef::Id(value)
}

fn name(value: &str) -> NativeGroupRef {
    NativeGroupRef::Name(value.to_owned())
}

/// Asserts that the group's members own every partition exactly once and that the spread
/// differs by at most one between members.
fn assert_covering(group: &Group) {
    let members = group.members();
    let mut seen = BTreeSet::new();
    for (_, partitions) in &members {
        for partition in partitions {
            assert!(seen.insert(*partition), "partition {partition} owned twice");
        }
    }
    if members.is_empty() {
        return;
    }
    assert_eq!(seen, (0..group.partitions_count).collect::<BTreeSet<_>>());
    let sizes: Vec<usize> = members.iter().map(|(_, p)| p.len()).collect();
    let (min, max) = (sizes.iter().min().unwrap(), sizes.iter().max().unwrap());
    assert!(max - min <= 1, "uneven spread {sizes:?}");
}

#[test]
fn ids_are_lowest_free_per_topic_and_names_unique() {
    let mut table = GroupTable::default();
    assert_eq!(table.create(0, 0, "a", 3).unwrap().id, 0);
    assert_eq!(table.create(0, 0, "b", 3).unwrap().id, 1);
    assert_eq!(table.create(0, 0, "c", 3).unwrap().id, 2);
    // Another topic has its own id space, and the same name is fine there.
    assert_eq!(table.create(0, 1, "a", 1).unwrap().id, 0);
    assert_eq!(
        table.create(0, 0, "a", 3).unwrap_err(),
        NativeGroupError::NameExists
    );
    assert_eq!(table.delete(0, 0, &id(1)).unwrap().name, "b");
    assert_eq!(table.create(0, 0, "d", 3).unwrap().id, 1);
    assert_eq!(table.create(0, 0, "e", 3).unwrap().id, 3);
    assert_eq!(table.count(), 5);
    let names: Vec<&str> = table.list(0, 0).iter().map(|g| g.name.as_str()).collect();
    assert_eq!(names, ["a", "d", "c", "e"]);
}

#[test]
fn resolution_by_id_and_name_with_distinct_errors() {
    let mut table = GroupTable::default();
    table.create(2, 3, "orders", 1).unwrap();
    assert_eq!(table.get(2, 3, &name("orders")).unwrap().id, 0);
    assert_eq!(table.get(2, 3, &id(0)).unwrap().name, "orders");
    assert_eq!(
        table.get(2, 3, &id(7)).unwrap_err(),
        NativeGroupError::IdNotFound
    );
    assert_eq!(
        table.get(2, 3, &name("x")).unwrap_err(),
        NativeGroupError::NameNotFound
    );
    assert_eq!(
        table.get(2, 4, &id(0)).unwrap_err(),
        NativeGroupError::IdNotFound
    );
    assert_eq!(
        table.delete(2, 3, &name("x")).unwrap_err(),
        NativeGroupError::NameNotFound
    );
}

#[test]
fn joins_and_leaves_rebalance_and_bump_the_generation() {
    let mut table = GroupTable::default();
    table.create(0, 0, "g", 5).unwrap();
    table.join(0, 0, &id(0), 10).unwrap();
    let group = table.get(0, 0, &id(0)).unwrap();
    assert_eq!(group.generation, 1);
    assert_eq!(group.members(), vec![(10, vec![0, 1, 2, 3, 4])]);

    // Joining twice is accepted and changes nothing.
    table.join(0, 0, &id(0), 10).unwrap();
    assert_eq!(table.get(0, 0, &id(0)).unwrap().generation, 1);

    table.join(0, 0, &name("g"), 20).unwrap();
    table.join(0, 0, &id(0), 30).unwrap();
    let group = table.get(0, 0, &id(0)).unwrap();
    assert_eq!(group.generation, 3);
    assert_eq!(
        group.members(),
        vec![(10, vec![0, 3]), (20, vec![1, 4]), (30, vec![2])]
    );
    assert_covering(group);

    table.leave(0, 0, &id(0), 20).unwrap();
    let group = table.get(0, 0, &id(0)).unwrap();
    assert_eq!(group.generation, 4);
    assert_eq!(group.members(), vec![(10, vec![0, 2, 4]), (30, vec![1, 3])]);
    assert_covering(group);
    assert_eq!(
        table.leave(0, 0, &id(0), 20).unwrap_err(),
        NativeGroupError::MemberNotFound
    );
    assert_eq!(
        table.join(0, 0, &id(9), 20).unwrap_err(),
        NativeGroupError::IdNotFound
    );
}

#[test]
fn assignment_covers_every_partition_exactly_once_for_any_shape() {
    for partitions in 0..12u32 {
        for members in 1..8u32 {
            let mut table = GroupTable::default();
            table.create(1, 1, "g", partitions).unwrap();
            for client in 0..members {
                table.join(1, 1, &id(0), 100 + client * 7).unwrap();
            }
            let group = table.get(1, 1, &id(0)).unwrap();
            assert_covering(group);
            assert_eq!(group.generation, u64::from(members));
            let owned = group
                .members()
                .iter()
                .filter(|(_, p)| !p.is_empty())
                .count();
            assert_eq!(owned as u32, partitions.min(members));
        }
    }
}

#[test]
fn partition_changes_rebalance_only_when_the_count_changes() {
    let mut table = GroupTable::default();
    table.create(0, 0, "g", 2).unwrap();
    table.join(0, 0, &id(0), 1).unwrap();
    table.join(0, 0, &id(0), 2).unwrap();
    table.set_partitions(0, 0, 2);
    assert_eq!(table.get(0, 0, &id(0)).unwrap().generation, 2);
    table.set_partitions(0, 0, 5);
    let group = table.get(0, 0, &id(0)).unwrap();
    assert_eq!(group.generation, 3);
    assert_eq!(group.partitions_count, 5);
    assert_covering(group);
    table.set_partitions(0, 0, 1);
    let group = table.get(0, 0, &id(0)).unwrap();
    assert_eq!(group.members(), vec![(1, vec![0]), (2, vec![])]);
    // Unknown topics are ignored.
    table.set_partitions(9, 9, 4);
    assert_eq!(table.count(), 1);
}

#[test]
fn sync_reports_the_current_generation_and_partitions() {
    let mut table = GroupTable::default();
    table.create(0, 0, "g", 4).unwrap();
    table.join(0, 0, &id(0), 5).unwrap();
    let group = table.get(0, 0, &id(0)).unwrap();
    assert_eq!(
        group.assignment_of(5),
        Some(Assignment {
            generation: 1,
            partitions: vec![0, 1, 2, 3]
        })
    );
    assert_eq!(group.assignment_of(6), None);
}

#[test]
fn pick_partition_checks_ownership_and_rotates() {
    let mut table = GroupTable::default();
    table.create(0, 0, "g", 4).unwrap();
    table.join(0, 0, &id(0), 1).unwrap();
    table.join(0, 0, &id(0), 2).unwrap();
    // Member 1 owns 0 and 2, member 2 owns 1 and 3.
    assert_eq!(
        table.pick_partition(0, 0, &id(0), 1, Some(2)).unwrap(),
        (0, "g".to_owned(), 2)
    );
    assert_eq!(
        table
            .pick_partition(0, 0, &name("g"), 1, Some(1))
            .unwrap_err(),
        NativeGroupError::PartitionNotOwned
    );
    let turns: Vec<u32> = (0..5)
        .map(|_| table.pick_partition(0, 0, &id(0), 2, None).unwrap().2)
        .collect();
    assert_eq!(turns, [1, 3, 1, 3, 1]);
    assert_eq!(
        table.pick_partition(0, 0, &id(0), 3, None).unwrap_err(),
        NativeGroupError::MemberNotFound
    );
    assert_eq!(
        table.pick_partition(0, 0, &id(1), 1, None).unwrap_err(),
        NativeGroupError::IdNotFound
    );
    // A member owning nothing has nothing to read.
    table.join(0, 0, &id(0), 3).unwrap();
    table.set_partitions(0, 0, 2);
    assert_eq!(
        table.pick_partition(0, 0, &id(0), 3, None).unwrap_err(),
        NativeGroupError::PartitionNotOwned
    );
}

#[test]
fn disconnect_leaves_every_group() {
    let mut table = GroupTable::default();
    table.create(0, 0, "a", 2).unwrap();
    table.create(0, 1, "b", 2).unwrap();
    table.create(1, 0, "c", 2).unwrap();
    table.join(0, 0, &id(0), 7).unwrap();
    table.join(1, 0, &id(0), 7).unwrap();
    table.join(1, 0, &id(0), 8).unwrap();
    assert_eq!(table.memberships_of(7), vec![(0, 0, 0), (1, 0, 0)]);
    assert!(table.remove_client(7));
    assert!(table.memberships_of(7).is_empty());
    assert!(!table.remove_client(7));
    let group = table.get(1, 0, &id(0)).unwrap();
    assert_eq!(group.members(), vec![(8, vec![0, 1])]);
    assert_eq!(group.generation, 3);
}

#[test]
fn silent_members_are_evicted_with_an_injected_clock() {
    let mut table = GroupTable::default();
    table.create(0, 0, "g", 3).unwrap();
    for client in [1, 2, 3] {
        table.join(0, 0, &id(0), client).unwrap();
    }
    let timeout = Duration::from_millis(100);
    let silence = |client: u32| match client {
        1 => Some(Duration::from_millis(99)),
        2 => Some(Duration::from_millis(100)),
        _ => None,
    };
    assert_eq!(table.evict_silent(timeout, silence), vec![2, 3]);
    let group = table.get(0, 0, &id(0)).unwrap();
    assert_eq!(group.members(), vec![(1, vec![0, 1, 2])]);
    assert!(table.has_members());
    // Nothing more to evict while the survivor keeps talking.
    let generation = group.generation;
    assert!(
        table
            .evict_silent(timeout, |_| Some(Duration::ZERO))
            .is_empty()
    );
    assert_eq!(table.get(0, 0, &id(0)).unwrap().generation, generation);
    assert_eq!(table.evict_silent(timeout, |_| Some(timeout)), vec![1]);
    assert!(!table.has_members());
}

#[test]
fn topics_and_streams_take_their_groups_with_them() {
    let mut table = GroupTable::default();
    table.create(0, 0, "a", 1).unwrap();
    table.create(0, 1, "b", 1).unwrap();
    table.create(1, 0, "c", 1).unwrap();
    assert!(table.drop_topic(0, 1));
    assert!(!table.drop_topic(0, 1));
    assert_eq!(table.count(), 2);
    assert!(table.drop_stream(0));
    assert!(!table.drop_stream(0));
    assert_eq!(table.definitions().len(), 1);
    // A recreated topic starts from id 0 again.
    assert_eq!(table.create(0, 1, "b", 1).unwrap().id, 0);
}

#[test]
fn definitions_round_trip_without_members() {
    let mut table = GroupTable::default();
    table.create(0, 0, "a", 2).unwrap();
    table.create(0, 0, "b", 2).unwrap();
    table.create(3, 1, "c", 2).unwrap();
    table.delete(0, 0, &id(0)).unwrap();
    table.join(0, 0, &id(1), 4).unwrap();
    let definitions = table.definitions();
    let restored = GroupTable::from_definitions(definitions.clone()).unwrap();
    assert_eq!(restored.definitions(), definitions);
    assert!(!restored.has_members());
    assert_eq!(restored.get(0, 0, &name("b")).unwrap().id, 1);

    let mut duplicate = definitions.clone();
    duplicate.push(StoredGroup {
        name: "other".into(),
        ..definitions[0].clone()
    });
    assert!(GroupTable::from_definitions(duplicate).is_err());
    let mut same_name = definitions.clone();
    same_name.push(StoredGroup {
        id: 9,
        ..definitions[0].clone()
    });
    assert!(GroupTable::from_definitions(same_name).is_err());
}
