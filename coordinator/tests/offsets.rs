//! Offset commit/fetch/delete rules and the native-offset conversion.
#![allow(clippy::unwrap_used)]

mod common;

use common::{Harness, join_req, ready};
use whippet_coordinator::{
    CommitOffset, CommitRequest, ErrorCode, GroupState, PartitionKey, committed_to_native_stored,
    native_stored_to_committed,
};

const G: &str = "g";

fn key(partition: u32) -> PartitionKey {
    PartitionKey {
        stream: 1,
        topic: 2,
        partition,
    }
}

fn commit(group: &str, generation: i32, member: &str, offsets: &[(u32, i64)]) -> CommitRequest {
    CommitRequest {
        group_id: group.into(),
        generation_id: generation,
        member_id: member.into(),
        group_instance_id: None,
        offsets: offsets
            .iter()
            .map(|&(p, o)| CommitOffset {
                key: key(p),
                offset: o,
                leader_epoch: 7,
                metadata: format!("md{p}"),
            })
            .collect(),
    }
}

fn codes(results: &[(PartitionKey, ErrorCode)]) -> Vec<ErrorCode> {
    results.iter().map(|r| r.1).collect()
}

#[test]
fn simple_commit_outside_a_group() {
    let mut h = Harness::no_delay();
    let r = h.c.commit_offsets(&commit(G, -1, "", &[(0, 10), (1, 20)]));
    assert_eq!(codes(&r), [ErrorCode::None, ErrorCode::None]);
    assert_eq!(h.c.group_state(G), GroupState::Dead, "no group is created");
    let fetched = h.c.fetch_offsets(G, Some(&[key(0), key(1), key(2)]));
    let got = fetched[0].1.clone().unwrap();
    assert_eq!((got.offset, got.leader_epoch), (10, 7));
    assert_eq!(got.metadata, "md0");
    assert!(got.commit_timestamp_ms > 0);
    assert_eq!(fetched[1].1.as_ref().unwrap().offset, 20);
    assert!(fetched[2].1.is_none(), "nothing committed reads as -1");
    assert_eq!(h.c.fetch_offsets(G, None).len(), 2);
    assert!(h.c.fetch_offsets("other", None).is_empty());
    // Listed (as Kafka does) even though no member ever joined.
    assert_eq!(h.c.list_groups(&[GroupState::Empty]).len(), 1);
    assert!(h.c.checkpoint_due());
}

#[test]
fn member_commit_rules() {
    let mut h = Harness::no_delay();
    let (ids, generation) = h.form_group(G, 2);
    let ok =
        h.c.commit_offsets(&commit(G, generation, &ids[1], &[(0, 5)]));
    assert_eq!(codes(&ok), [ErrorCode::None]);
    let stale =
        h.c.commit_offsets(&commit(G, generation - 1, &ids[1], &[(0, 6)]));
    assert_eq!(codes(&stale), [ErrorCode::IllegalGeneration]);
    let unknown = h.c.commit_offsets(&commit(G, generation, "who", &[(0, 6)]));
    assert_eq!(codes(&unknown), [ErrorCode::UnknownMemberId]);
    let simple = h.c.commit_offsets(&commit(G, -1, "", &[(0, 6)]));
    assert_eq!(codes(&simple), [ErrorCode::UnknownMemberId]);
    let _new = h.join(join_req(G, "", "x"));
    let during =
        h.c.commit_offsets(&commit(G, generation, &ids[1], &[(0, 6)]));
    assert_eq!(codes(&during), [ErrorCode::RebalanceInProgress]);
    assert_eq!(
        h.c.fetch_offsets(G, Some(&[key(0)]))[0]
            .1
            .as_ref()
            .unwrap()
            .offset,
        5
    );
    let unknown_group = h.c.commit_offsets(&commit("nogroup", 3, "m", &[(0, 1)]));
    assert_eq!(codes(&unknown_group), [ErrorCode::IllegalGeneration]);
}

#[test]
fn oversized_metadata_rejected_per_partition() {
    let mut h = Harness::no_delay();
    let mut req = commit(G, -1, "", &[(0, 1), (1, 1)]);
    req.offsets[1].metadata =
        "x".repeat(whippet_coordinator::limits::MAX_COMMIT_METADATA_BYTES + 1);
    let r = h.c.commit_offsets(&req);
    assert_eq!(
        codes(&r),
        [ErrorCode::None, ErrorCode::OffsetMetadataTooLarge]
    );
    assert!(h.c.fetch_offsets(G, Some(&[key(1)]))[0].1.is_none());
}

#[test]
fn offset_delete_rules() {
    let mut h = Harness::no_delay();
    assert_eq!(
        h.c.delete_offsets(G, &[key(0)], &|_| false).unwrap_err(),
        ErrorCode::GroupIdNotFound
    );
    let (ids, generation) = h.form_group(G, 1);
    h.c.commit_offsets(&commit(G, generation, &ids[0], &[(0, 1), (1, 2)]));
    let subscribed_p0 = |k: &PartitionKey| k.partition == 0;
    let r =
        h.c.delete_offsets(G, &[key(0), key(1)], &subscribed_p0)
            .unwrap();
    assert_eq!(
        codes(&r),
        [ErrorCode::GroupSubscribedToTopic, ErrorCode::None]
    );
    assert!(h.c.fetch_offsets(G, Some(&[key(1)]))[0].1.is_none());
    assert!(h.c.fetch_offsets(G, Some(&[key(0)]))[0].1.is_some());
    h.c.leave_group(
        G,
        &[whippet_coordinator::LeaveMember {
            member_id: ids[0].clone(),
            group_instance_id: None,
        }],
    );
    let r = h.c.delete_offsets(G, &[key(0)], &|_| true).unwrap();
    assert_eq!(codes(&r), [ErrorCode::None]);
    assert!(h.c.fetch_offsets(G, None).is_empty());
}

#[test]
fn delete_group_removes_offsets() {
    let mut h = Harness::no_delay();
    h.c.commit_offsets(&commit(G, -1, "", &[(0, 1)]));
    assert_eq!(h.c.delete_group(G), ErrorCode::None);
    assert!(h.c.fetch_offsets(G, None).is_empty());
    assert_eq!(h.c.delete_group(G), ErrorCode::GroupIdNotFound);
}

#[test]
fn simple_commit_allowed_for_empty_group() {
    let mut h = Harness::no_delay();
    let a = ready(h.join(join_req(G, "", "a")));
    h.c.leave_group(
        G,
        &[whippet_coordinator::LeaveMember {
            member_id: a.member_id,
            group_instance_id: None,
        }],
    );
    assert_eq!(h.c.group_state(G), GroupState::Empty);
    let r = h.c.commit_offsets(&commit(G, -1, "", &[(0, 3)]));
    assert_eq!(codes(&r), [ErrorCode::None]);
}

#[test]
fn native_conversion_at_the_boundary() {
    // A Kafka commit of 123 means "next read 123": native stored (last consumed) is 122.
    assert_eq!(committed_to_native_stored(123), Some(122));
    assert_eq!(native_stored_to_committed(122), 123);
    assert_eq!(committed_to_native_stored(0), None);
    assert_eq!(committed_to_native_stored(-1), None);
    assert_eq!(native_stored_to_committed(u64::MAX), i64::MAX);
    for n in [0u64, 1, 99, 1 << 40] {
        assert_eq!(
            committed_to_native_stored(native_stored_to_committed(n)),
            Some(n)
        );
    }
}
