#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use super::assignor::{self, AssignorMember};
use super::reconcile::{MemberState, Progress, reconcile};
use super::*;
use crate::{CommitOffset, CommitRequest, Coordinator, FakeClock, GroupConfig, PartitionKey};

const T1: TopicId = 0x11;
const T2: TopicId = 0x22;

fn parts(list: &[(TopicId, &[i32])]) -> Assignment {
    list.iter()
        .map(|(t, ps)| (*t, ps.iter().copied().collect::<BTreeSet<i32>>()))
        .collect()
}

fn count(a: &Assignment) -> usize {
    a.values().map(BTreeSet::len).sum()
}

fn members<'a>(ids: &[&'a str], topics: &[TopicId]) -> Vec<AssignorMember<'a>> {
    ids.iter()
        .map(|id| AssignorMember {
            id,
            topics: topics.iter().copied().collect(),
        })
        .collect()
}

/// Every partition of `partitions` appears exactly once in `out`.
fn assert_exact_cover(out: &BTreeMap<String, Assignment>, partitions: &BTreeMap<TopicId, u32>) {
    let mut seen = BTreeSet::new();
    for a in out.values() {
        for (t, ps) in a {
            for p in ps {
                assert!(seen.insert((*t, *p)), "({t}, {p}) assigned twice: {out:?}");
            }
        }
    }
    let want: usize = partitions.values().map(|&n| n as usize).sum();
    assert_eq!(seen.len(), want, "{out:?}");
}

#[test]
fn range_gives_contiguous_ranges_extra_to_the_first() {
    let partitions = BTreeMap::from([(T1, 7), (T2, 2)]);
    let out = assignor::range(&members(&["a", "b", "c"], &[T1, T2]), &partitions);
    assert_eq!(out["a"], parts(&[(T1, &[0, 1, 2]), (T2, &[0])]));
    assert_eq!(out["b"], parts(&[(T1, &[3, 4]), (T2, &[1])]));
    assert_eq!(out["c"], parts(&[(T1, &[5, 6])]));
    assert_exact_cover(&out, &partitions);
}

#[test]
fn uniform_balances_and_is_sticky() {
    let partitions = BTreeMap::from([(T1, 6)]);
    let first = assignor::uniform(&members(&["a", "b"], &[T1]), &partitions, &BTreeMap::new());
    assert_exact_cover(&first, &partitions);
    assert_eq!(count(&first["a"]), 3);
    // A third member takes one from each; the others keep the rest.
    let second = assignor::uniform(&members(&["a", "b", "c"], &[T1]), &partitions, &first);
    assert_exact_cover(&second, &partitions);
    for id in ["a", "b", "c"] {
        assert_eq!(count(&second[id]), 2, "{second:?}");
    }
    for id in ["a", "b"] {
        assert!(
            second[id][&T1].is_subset(&first[id][&T1]),
            "{first:?} -> {second:?}"
        );
    }
    // b leaves: its two go to a and c, who keep theirs.
    let third = assignor::uniform(&members(&["a", "c"], &[T1]), &partitions, &second);
    assert_exact_cover(&third, &partitions);
    assert_eq!(count(&third["a"]), 3);
    assert!(second["c"][&T1].is_subset(&third["c"][&T1]));
}

#[test]
fn uniform_respects_subscriptions() {
    let partitions = BTreeMap::from([(T1, 4), (T2, 4)]);
    let mut ms = members(&["a", "b"], &[T1, T2]);
    ms.push(AssignorMember {
        id: "c",
        topics: BTreeSet::from([T2]),
    });
    let out = assignor::uniform(&ms, &partitions, &BTreeMap::new());
    assert_exact_cover(&out, &partitions);
    assert!(!out["c"].contains_key(&T1));
    let counts: Vec<usize> = ["a", "b", "c"].iter().map(|m| count(&out[*m])).collect();
    assert!(
        counts.iter().max().unwrap() - counts.iter().min().unwrap() <= 1,
        "{counts:?}"
    );
}

fn progress(epoch: i32, assigned: Assignment) -> Progress {
    Progress {
        epoch,
        previous_epoch: epoch - 1,
        state: MemberState::Stable,
        assigned,
        pending_revocation: Assignment::new(),
    }
}

#[test]
fn revocation_comes_before_the_new_epoch() {
    let current = progress(3, parts(&[(T1, &[0, 1, 2])]));
    let target = parts(&[(T1, &[0, 3])]);
    let free = |_: &TopicId, _: i32| false;
    // 1 and 2 must go first: same epoch, told to keep only 0.
    let next = reconcile(&current, 4, &target, &free, Some(&current.assigned));
    assert_eq!(next.state, MemberState::UnrevokedPartitions);
    assert_eq!(next.epoch, 3);
    assert_eq!(next.assigned, parts(&[(T1, &[0])]));
    assert_eq!(next.pending_revocation, parts(&[(T1, &[1, 2])]));
    // Still reporting 1: nothing moves.
    let owned = parts(&[(T1, &[0, 1])]);
    assert_eq!(reconcile(&next, 4, &target, &free, Some(&owned)), next);
    // No report at all counts as still owning.
    assert_eq!(reconcile(&next, 4, &target, &free, None), next);
    // Revoked: new epoch, and 3 (free) is added.
    let done = reconcile(&next, 4, &target, &free, Some(&parts(&[(T1, &[0])])));
    assert_eq!(done.state, MemberState::Stable);
    assert_eq!((done.epoch, done.previous_epoch), (4, 3));
    assert_eq!(done.assigned, target);
    assert!(done.pending_revocation.is_empty());
}

#[test]
fn a_partition_held_by_another_member_waits() {
    let current = progress(1, Assignment::new());
    let target = parts(&[(T1, &[0, 1])]);
    let held = |_: &TopicId, p: i32| p == 1;
    let next = reconcile(&current, 2, &target, &held, Some(&Assignment::new()));
    assert_eq!(next.state, MemberState::UnreleasedPartitions);
    assert_eq!(next.epoch, 2);
    assert_eq!(next.assigned, parts(&[(T1, &[0])]));
    // Released: the next heartbeat gets it.
    let free = |_: &TopicId, _: i32| false;
    let done = reconcile(&next, 2, &target, &free, Some(&next.assigned));
    assert_eq!(done.state, MemberState::Stable);
    assert_eq!(done.assigned, target);
}

// ---------------------------------------------------------------------------------------------
// The coordinator's heartbeat state machine

/// A stand-in regex engine for the tests: `p*` matches names starting with `p`.
fn prefix_match(regex: &str, name: &str) -> bool {
    regex
        .strip_suffix('*')
        .is_some_and(|prefix| name.starts_with(prefix))
}

struct Setup {
    clock: Arc<FakeClock>,
    c: Coordinator,
    topics: TopicCatalog,
}

fn setup() -> Setup {
    let clock = Arc::new(FakeClock::new());
    let config = GroupConfig {
        consumer_session_timeout: Duration::from_secs(10),
        ..GroupConfig::default()
    };
    let c = Coordinator::new(clock.clone(), config);
    let topics = TopicCatalog::from([(
        "t".to_string(),
        TopicInfo {
            id: T1,
            partitions: 4,
        },
    )]);
    Setup { clock, c, topics }
}

fn join(id: &str) -> ConsumerHeartbeat {
    ConsumerHeartbeat {
        group_id: "g".into(),
        member_id: id.into(),
        member_epoch: 0,
        rebalance_timeout_ms: 60_000,
        subscribed_topic_names: Some(vec!["t".into()]),
        owned: Some(Assignment::new()),
        ..ConsumerHeartbeat::default()
    }
}

fn beat(id: &str, epoch: i32, owned: &Assignment) -> ConsumerHeartbeat {
    ConsumerHeartbeat {
        group_id: "g".into(),
        member_id: id.into(),
        member_epoch: epoch,
        rebalance_timeout_ms: -1,
        owned: Some(owned.clone()),
        ..ConsumerHeartbeat::default()
    }
}

impl Setup {
    fn hb(&mut self, req: &ConsumerHeartbeat) -> ConsumerHeartbeatResponse {
        self.c.consumer_heartbeat(req, &self.topics, &prefix_match)
    }

    /// Heartbeats `id` with what it was last told until its answer stops changing.
    fn settle(&mut self, id: &str, epoch: &mut i32, owned: &mut Assignment) {
        for _ in 0..5 {
            let r = self.hb(&beat(id, *epoch, owned));
            assert_eq!(r.error, ErrorCode::None, "{id}: {r:?}");
            *epoch = r.member_epoch;
            if let Some(a) = r.assignment {
                *owned = a;
            }
        }
    }
}

#[test]
fn members_join_share_and_never_overlap() {
    let mut s = setup();
    let a = s.hb(&join("a"));
    assert_eq!(a.error, ErrorCode::None);
    assert_eq!(
        a.member_epoch, 1,
        "the first member's join is the group's first epoch"
    );
    let mut a_owned = a.assignment.unwrap();
    assert_eq!(count(&a_owned), 4);
    let b = s.hb(&join("b"));
    let (mut b_epoch, mut b_owned) = (b.member_epoch, b.assignment.unwrap());
    // b may get nothing yet: a still holds everything until it revokes.
    assert!(b_owned.is_empty(), "{b_owned:?}");
    let mut a_epoch = a.member_epoch;
    s.settle("a", &mut a_epoch, &mut a_owned);
    s.settle("b", &mut b_epoch, &mut b_owned);
    assert_eq!((count(&a_owned), count(&b_owned)), (2, 2));
    assert!(a_owned[&T1].is_disjoint(&b_owned[&T1]));
    assert_eq!(a_epoch, b_epoch);
    let d = s.c.describe_consumer_group("g");
    assert_eq!(d.state, ConsumerGroupState::Stable);
    assert_eq!(d.members.len(), 2);
}

#[test]
fn epoch_validation_follows_kafka() {
    let mut s = setup();
    let a = s.hb(&join("a"));
    let (mut e, mut owned) = (a.member_epoch, a.assignment.unwrap());
    // b joins: a revokes half and moves to the next epoch.
    s.hb(&join("b"));
    s.settle("a", &mut e, &mut owned);
    assert_eq!((e, count(&owned)), (2, 2));
    assert_eq!(
        s.hb(&beat("a", e + 1, &owned)).error,
        ErrorCode::FencedMemberEpoch
    );
    assert_eq!(
        s.hb(&beat("x", e, &owned)).error,
        ErrorCode::UnknownMemberId
    );
    // The previous epoch with a subset of the assignment is a lost answer: accepted.
    let mut prev = beat("a", e - 1, &owned);
    assert_eq!(s.hb(&prev).error, ErrorCode::None);
    // ... but not with partitions it was never given.
    prev.owned = Some(parts(&[(T1, &[9])]));
    assert_eq!(s.hb(&prev).error, ErrorCode::FencedMemberEpoch);
    // ... nor without saying what it owns.
    prev.owned = None;
    assert_eq!(s.hb(&prev).error, ErrorCode::FencedMemberEpoch);
}

fn commit(member: &str, epoch: i32) -> CommitRequest {
    CommitRequest {
        group_id: "g".into(),
        generation_id: epoch,
        member_id: member.into(),
        group_instance_id: None,
        offsets: vec![CommitOffset {
            key: PartitionKey {
                stream: 1,
                topic: 1,
                partition: 0,
            },
            offset: 5,
            leader_epoch: -1,
            metadata: String::new(),
        }],
    }
}

#[test]
fn commits_check_the_member_epoch() {
    let mut s = setup();
    let e = s.hb(&join("a")).member_epoch;
    let code = |s: &mut Setup, m: &str, epoch: i32| s.c.commit_offsets(&commit(m, epoch))[0].1;
    assert_eq!(code(&mut s, "a", e), ErrorCode::None);
    assert_eq!(code(&mut s, "a", e - 1), ErrorCode::StaleMemberEpoch);
    assert_eq!(code(&mut s, "a", e + 1), ErrorCode::FencedMemberEpoch);
    assert_eq!(code(&mut s, "zz", e), ErrorCode::UnknownMemberId);
    assert_eq!(
        code(&mut s, "", -1),
        ErrorCode::UnknownMemberId,
        "group not empty"
    );
    // Leave; an empty group takes simple commits.
    assert_eq!(
        s.hb(&beat("a", -1, &Assignment::new())).error,
        ErrorCode::None
    );
    assert_eq!(code(&mut s, "", -1), ErrorCode::None);
}

#[test]
fn offset_fetches_check_the_member_epoch_when_a_member_is_named() {
    let mut s = setup();
    let e = s.hb(&join("a")).member_epoch;
    let c = &s.c;
    assert_eq!(c.consumer_fetch_allowed("g", Some("a"), e), Ok(()));
    assert_eq!(
        c.consumer_fetch_allowed("g", Some("a"), e - 1),
        Err(ErrorCode::StaleMemberEpoch)
    );
    assert_eq!(
        c.consumer_fetch_allowed("g", Some("a"), e + 1),
        Err(ErrorCode::FencedMemberEpoch)
    );
    assert_eq!(
        c.consumer_fetch_allowed("g", Some("zz"), e),
        Err(ErrorCode::UnknownMemberId)
    );
    // Admin and classic fetches name no member.
    assert_eq!(c.consumer_fetch_allowed("g", None, -1), Ok(()));
    assert_eq!(c.consumer_fetch_allowed("g", Some(""), -1), Ok(()));
    assert_eq!(c.consumer_fetch_allowed("other", Some("a"), 7), Ok(()));
}

#[test]
fn a_silent_member_expires_and_its_partitions_move() {
    let mut s = setup();
    let a = s.hb(&join("a"));
    let (mut a_epoch, mut a_owned) = (a.member_epoch, a.assignment.unwrap());
    let b = s.hb(&join("b"));
    let (mut b_epoch, mut b_owned) = (b.member_epoch, b.assignment.unwrap());
    s.settle("a", &mut a_epoch, &mut a_owned);
    s.settle("b", &mut b_epoch, &mut b_owned);
    assert_eq!(count(&b_owned), 2);
    // a goes silent; b keeps heartbeating.
    for _ in 0..11 {
        s.clock.advance(Duration::from_secs(1));
        s.c.tick();
        s.settle("b", &mut b_epoch, &mut b_owned);
    }
    assert_eq!(count(&b_owned), 4);
    assert_eq!(
        s.hb(&beat("a", a_epoch, &a_owned)).error,
        ErrorCode::UnknownMemberId
    );
}

#[test]
fn protocols_do_not_share_a_live_group() {
    let mut s = setup();
    s.hb(&join("a"));
    let classic = crate::JoinRequest {
        group_id: "g".into(),
        member_id: String::new(),
        group_instance_id: None,
        client_id: "c".into(),
        client_host: String::new(),
        protocol_type: "consumer".into(),
        protocols: vec![crate::Protocol {
            name: "range".into(),
            metadata: bytes::Bytes::new(),
        }],
        session_timeout: Duration::from_secs(10),
        rebalance_timeout: Duration::from_secs(10),
        require_known_member_id: false,
    };
    let answer = s.c.join_group(classic).try_take().unwrap();
    assert_eq!(answer.error, ErrorCode::InconsistentGroupProtocol);
    let listed = s.c.list_groups(&[]);
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].protocol_type, "consumer");
}

#[test]
fn a_static_member_keeps_its_partitions_across_a_temporary_leave() {
    let mut s = setup();
    let mut req = join("a1");
    req.instance_id = Some("i".into());
    let first = s.hb(&req);
    let owned = first.assignment.unwrap();
    let mut leave = beat("a1", -2, &owned);
    leave.instance_id = Some("i".into());
    assert_eq!(s.hb(&leave).member_epoch, -2);
    let mut back = join("a2");
    back.instance_id = Some("i".into());
    let again = s.hb(&back);
    assert_eq!(again.error, ErrorCode::None);
    assert_eq!(again.member_epoch, first.member_epoch);
    assert_eq!(again.assignment.unwrap(), owned);
    // Another member may not take the instance while a2 holds it.
    let mut thief = join("a3");
    thief.instance_id = Some("i".into());
    assert_eq!(s.hb(&thief).error, ErrorCode::UnreleasedInstanceId);
}

#[test]
fn consumer_groups_survive_a_restart() {
    let mut s = setup();
    let a = s.hb(&join("a"));
    let changes = s.c.take_changes().unwrap();
    let snapshot = changes
        .groups
        .iter()
        .find_map(|g| match g {
            crate::persist::GroupChange::Upsert(s) => Some(s.clone()),
            crate::persist::GroupChange::Remove(_) => None,
        })
        .unwrap();
    let json = serde_json::to_vec(&snapshot).unwrap();
    let back: crate::persist::GroupSnapshot = serde_json::from_slice(&json).unwrap();
    assert_eq!(back, snapshot);
    let mut cp = s.c.checkpoint();
    cp.groups = vec![back];
    let mut restored = Coordinator::restore(s.clock.clone(), GroupConfig::default(), Some(cp));
    let r = restored.consumer_heartbeat(
        &beat("a", a.member_epoch, a.assignment.as_ref().unwrap()),
        &s.topics,
        &prefix_match,
    );
    assert_eq!(r.error, ErrorCode::None);
    assert_eq!(r.member_epoch, a.member_epoch);
    assert_eq!(r.assignment, a.assignment);
}

#[test]
fn a_regex_subscription_follows_new_topics() {
    let mut s = setup();
    let mut req = join("a");
    req.subscribed_topic_names = Some(Vec::new());
    req.subscribed_topic_regex = Some("re-*".into());
    let first = s.hb(&req);
    assert_eq!(first.error, ErrorCode::None);
    assert!(first.assignment.unwrap().is_empty(), "no topic matches yet");
    s.topics.insert(
        "re-x".into(),
        TopicInfo {
            id: T2,
            partitions: 2,
        },
    );
    let r = s.hb(&beat("a", first.member_epoch, &Assignment::new()));
    assert_eq!(r.error, ErrorCode::None);
    assert_eq!(r.assignment.unwrap(), parts(&[(T2, &[0, 1])]));
    let d = s.c.describe_consumer_group("g");
    assert_eq!(d.members[0].subscribed_topic_regex.as_deref(), Some("re-*"));
}

#[test]
fn a_member_that_never_revokes_is_removed_after_its_rebalance_timeout() {
    let mut s = setup();
    let a = s.hb(&join("a"));
    let (a_epoch, a_owned) = (a.member_epoch, a.assignment.unwrap());
    let b = s.hb(&join("b"));
    let (mut b_epoch, mut b_owned) = (b.member_epoch, b.assignment.unwrap());
    // a is asked to revoke half but keeps reporting everything, heartbeating all along.
    for _ in 0..61 {
        let r = s.hb(&beat("a", a_epoch, &a_owned));
        if r.error != ErrorCode::None {
            assert_eq!(r.error, ErrorCode::UnknownMemberId);
            break;
        }
        assert_eq!(r.member_epoch, a_epoch, "no new epoch before revoking");
        s.settle("b", &mut b_epoch, &mut b_owned);
        assert!(
            count(&b_owned) <= 2,
            "b never gets a's partitions while a holds them"
        );
        s.clock.advance(Duration::from_secs(1));
        s.c.tick();
    }
    s.settle("b", &mut b_epoch, &mut b_owned);
    assert_eq!(
        count(&b_owned),
        4,
        "a was fenced after its 60 s rebalance timeout"
    );
}
