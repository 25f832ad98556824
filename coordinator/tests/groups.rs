//! Classic group state machine tests, driven by a fake clock.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::{Harness, REBALANCE, SESSION, is_pending, join_req, ready, resolve, static_req};
use whippet_coordinator::{ErrorCode, GroupState, LeaveMember, Protocol, SyncResponse};

const G: &str = "g";

#[test]
fn three_members_join_sync_with_initial_delay_extension() {
    let mut h = Harness::new(Duration::from_secs(3));
    let mut a = h.join(join_req(G, "", "meta-a"));
    h.advance(Duration::from_secs(1));
    let mut b = h.join(join_req(G, "", "meta-b"));
    let mut c = h.join(join_req(G, "", "meta-c"));
    assert_eq!(h.c.group_state(G), GroupState::PreparingRebalance);
    h.advance(Duration::from_secs(2));
    // Members joined during the delay, so it is extended by another delay.
    assert!(is_pending(&mut a) && is_pending(&mut b) && is_pending(&mut c));
    h.advance(Duration::from_secs(3));
    let (a, b, c) = (resolve(a), resolve(b), resolve(c));
    assert_eq!(h.c.group_state(G), GroupState::CompletingRebalance);
    for r in [&a, &b, &c] {
        assert_eq!(r.error, ErrorCode::None);
        assert_eq!(r.generation_id, 1);
        assert_eq!(r.leader, a.member_id);
        assert_eq!(r.protocol_name.as_deref(), Some("range"));
    }
    let metas: Vec<_> = a.members.iter().map(|m| m.metadata.clone()).collect();
    assert_eq!(
        metas,
        ["meta-a", "meta-b", "meta-c"].map(|s: &'static str| Bytes::from_static(s.as_bytes()))
    );
    assert!(b.members.is_empty() && c.members.is_empty());

    let mut sb = h.sync(G, 1, &b.member_id, vec![]);
    let mut sc = h.sync(G, 1, &c.member_id, vec![]);
    assert!(is_pending(&mut sb) && is_pending(&mut sc));
    let assignments = [&a, &b, &c]
        .iter()
        .map(|r| {
            (
                r.member_id.clone(),
                Bytes::from(format!("p-{}", r.member_id)),
            )
        })
        .collect();
    let sa = ready(h.sync(G, 1, &a.member_id, assignments));
    assert_eq!(sa.assignment, Bytes::from(format!("p-{}", a.member_id)));
    assert_eq!(
        resolve(sb).assignment,
        Bytes::from(format!("p-{}", b.member_id))
    );
    assert_eq!(
        resolve(sc).assignment,
        Bytes::from(format!("p-{}", c.member_id))
    );
    assert_eq!(h.c.group_state(G), GroupState::Stable);
}

#[test]
fn initial_delay_is_capped_by_rebalance_timeout() {
    let mut h = Harness::new(Duration::from_secs(3));
    let a = h.join(join_req(G, "", "a"));
    // Keep new members arriving every 2 s: the delay keeps extending but never past 30 s.
    let mut others = Vec::new();
    for _ in 0..20 {
        h.advance(Duration::from_secs(2));
        if h.c.group_state(G) != GroupState::PreparingRebalance {
            break;
        }
        others.push(h.join(join_req(G, "", "x")));
    }
    assert_eq!(h.c.group_state(G), GroupState::CompletingRebalance);
    let a = resolve(a);
    assert_eq!(a.generation_id, 1);
    assert!(others.len() >= 10 && others.len() <= 16, "{}", others.len());
}

#[test]
fn member_id_required_flow() {
    let mut h = Harness::no_delay();
    let mut req = join_req(G, "", "m");
    req.require_known_member_id = true;
    let first = ready(h.join(req.clone()));
    assert_eq!(first.error, ErrorCode::MemberIdRequired);
    assert!(!first.member_id.is_empty());
    assert_eq!(h.c.group_state(G), GroupState::Empty);
    req.member_id = first.member_id.clone();
    let second = ready(h.join(req.clone()));
    assert_eq!(second.error, ErrorCode::None);
    assert_eq!(second.member_id, first.member_id);
    assert_eq!(second.leader, first.member_id);
    req.member_id = "made-up".into();
    assert_eq!(ready(h.join(req)).error, ErrorCode::UnknownMemberId);
}

#[test]
fn pending_member_id_expires() {
    let mut h = Harness::no_delay();
    let mut req = join_req(G, "", "m");
    req.require_known_member_id = true;
    let first = ready(h.join(req.clone()));
    h.advance(SESSION + Duration::from_secs(1));
    req.member_id = first.member_id;
    assert_eq!(ready(h.join(req)).error, ErrorCode::UnknownMemberId);
}

#[test]
fn request_validation() {
    let mut h = Harness::no_delay();
    let mut req = join_req(G, "", "m");
    req.session_timeout = Duration::from_secs(1);
    assert_eq!(ready(h.join(req)).error, ErrorCode::InvalidSessionTimeout);
    let mut req = join_req(G, "", "m");
    req.session_timeout = Duration::from_secs(3600);
    assert_eq!(ready(h.join(req)).error, ErrorCode::InvalidSessionTimeout);
    assert_eq!(
        ready(h.join(join_req("", "", "m"))).error,
        ErrorCode::InvalidGroupId
    );
    let mut req = join_req(G, "", "m");
    req.protocols.clear();
    assert_eq!(
        ready(h.join(req)).error,
        ErrorCode::InconsistentGroupProtocol
    );
}

#[test]
fn protocol_type_and_common_protocol_enforced() {
    let mut h = Harness::no_delay();
    h.form_group(G, 1);
    let mut other_type = join_req(G, "", "m");
    other_type.protocol_type = "connect".into();
    assert_eq!(
        ready(h.join(other_type)).error,
        ErrorCode::InconsistentGroupProtocol
    );
    let mut no_common = join_req(G, "", "m");
    no_common.protocols = vec![Protocol {
        name: "roundrobin".into(),
        metadata: Bytes::new(),
    }];
    assert_eq!(
        ready(h.join(no_common)).error,
        ErrorCode::InconsistentGroupProtocol
    );
    assert_eq!(h.c.group_state(G), GroupState::Stable);
}

#[test]
fn protocol_selected_by_vote() {
    let mut h = Harness::no_delay();
    let proto = |names: &[&str]| -> Vec<Protocol> {
        names
            .iter()
            .map(|n| Protocol {
                name: (*n).into(),
                metadata: Bytes::from(n.to_string()),
            })
            .collect()
    };
    let mut r1 = join_req(G, "", "");
    r1.protocols = proto(&["range", "roundrobin"]);
    let a = ready(h.join(r1.clone()));
    let mut r2 = join_req(G, "", "");
    r2.protocols = proto(&["roundrobin", "range"]);
    let mut r3 = r2.clone();
    r3.protocols = proto(&["roundrobin", "range", "sticky"]);
    let b = h.join(r2);
    let c = h.join(r3);
    r1.member_id = a.member_id;
    let a = resolve(h.join(r1));
    assert_eq!(a.protocol_name.as_deref(), Some("roundrobin"));
    assert_eq!(resolve(b).protocol_name.as_deref(), Some("roundrobin"));
    assert_eq!(resolve(c).generation_id, 2);
    assert!(a.members.iter().all(|m| m.metadata == "roundrobin"));
}

#[test]
fn silent_member_expires_and_others_rebalance() {
    let mut h = Harness::no_delay();
    let (ids, generation) = h.form_group(G, 3);
    h.advance(Duration::from_secs(6));
    assert_eq!(h.heartbeat(G, generation, &ids[0]), ErrorCode::None);
    assert_eq!(h.heartbeat(G, generation, &ids[1]), ErrorCode::None);
    h.advance(Duration::from_secs(3));
    assert_eq!(h.c.group_state(G), GroupState::Stable);
    h.advance(Duration::from_secs(2));
    assert_eq!(h.c.group_state(G), GroupState::PreparingRebalance);
    assert_eq!(
        h.heartbeat(G, generation, &ids[0]),
        ErrorCode::RebalanceInProgress
    );
    assert_eq!(
        h.heartbeat(G, generation, &ids[2]),
        ErrorCode::UnknownMemberId
    );
    let a = h.join(join_req(G, &ids[0], "m0"));
    let b = resolve(h.join(join_req(G, &ids[1], "m1")));
    let a = resolve(a);
    assert_eq!(a.generation_id, generation + 1);
    assert_eq!(b.generation_id, generation + 1);
    assert_eq!(a.leader, ids[0]);
    assert_eq!(a.members.len(), 2);
}

#[test]
fn member_not_rejoining_within_rebalance_timeout_is_dropped() {
    let mut h = Harness::no_delay();
    let (ids, generation) = h.form_group(G, 3);
    let d = h.join(join_req(G, "", "md"));
    let a = h.join(join_req(G, &ids[0], "m0"));
    let b = h.join(join_req(G, &ids[1], "m1"));
    // ids[2] keeps heartbeating (so the session never expires) but never rejoins.
    for _ in 0..3 {
        h.advance(Duration::from_secs(9));
        assert_eq!(
            h.heartbeat(G, generation, &ids[2]),
            ErrorCode::RebalanceInProgress
        );
    }
    assert_eq!(h.c.group_state(G), GroupState::PreparingRebalance);
    h.advance(REBALANCE - Duration::from_secs(27));
    let (a, b, d) = (resolve(a), resolve(b), resolve(d));
    assert_eq!(a.generation_id, generation + 1);
    assert_eq!(a.members.len(), 3);
    assert!(a.members.iter().all(|m| m.member_id != ids[2]));
    assert_eq!(b.error, ErrorCode::None);
    assert_eq!(d.error, ErrorCode::None);
    assert_eq!(
        h.heartbeat(G, generation + 1, &ids[2]),
        ErrorCode::UnknownMemberId
    );
}

#[test]
fn generation_fencing() {
    let mut h = Harness::no_delay();
    let (ids, old) = h.form_group(G, 2);
    let a = h.join(join_req(G, &ids[0], "changed"));
    let b = resolve(h.join(join_req(G, &ids[1], "m1")));
    let new = resolve(a).generation_id;
    assert_eq!(new, old + 1);
    assert_eq!(b.generation_id, new);
    assert_eq!(
        ready(h.sync(G, old, &ids[1], vec![])).error,
        ErrorCode::IllegalGeneration
    );
    assert_eq!(h.heartbeat(G, old, &ids[1]), ErrorCode::IllegalGeneration);
    assert_eq!(h.heartbeat(G, new, &ids[1]), ErrorCode::None);
    assert_eq!(
        ready(h.sync(G, new, "nobody", vec![])).error,
        ErrorCode::UnknownMemberId
    );
}

#[test]
fn sync_during_preparing_rebalance_is_rejected() {
    let mut h = Harness::no_delay();
    let (ids, generation) = h.form_group(G, 2);
    let _d = h.join(join_req(G, "", "new"));
    assert_eq!(
        ready(h.sync(G, generation, &ids[1], vec![])).error,
        ErrorCode::RebalanceInProgress
    );
}

#[test]
fn follower_sync_parked_then_failed_when_rebalance_restarts() {
    let mut h = Harness::no_delay();
    let a = ready(h.join(join_req(G, "", "a")));
    let b = h.join(join_req(G, "", "b"));
    let a2 = resolve(h.join(join_req(G, &a.member_id, "a")));
    let b = resolve(b);
    let mut sb = h.sync(G, a2.generation_id, &b.member_id, vec![]);
    assert!(is_pending(&mut sb));
    assert_eq!(
        h.heartbeat(G, a2.generation_id, &b.member_id),
        ErrorCode::None
    );
    let _c = h.join(join_req(G, "", "c"));
    assert_eq!(resolve(sb).error, ErrorCode::RebalanceInProgress);
}

#[test]
fn static_member_restart_without_rebalance() {
    let mut h = Harness::no_delay();
    let a = ready(h.join(static_req(G, "", "inst-a", "a")));
    let b = h.join(static_req(G, "", "inst-b", "b"));
    let a = resolve(h.join(static_req(G, &a.member_id, "inst-a", "a")));
    let b = resolve(b);
    let generation = a.generation_id;
    let assigns = vec![
        (a.member_id.clone(), Bytes::from_static(b"A")),
        (b.member_id.clone(), Bytes::from_static(b"B")),
    ];
    let sb = h.sync(G, generation, &b.member_id, vec![]);
    ready(h.sync(G, generation, &a.member_id, assigns));
    resolve(sb);

    // inst-b restarts: new process, empty member id, same metadata.
    let b2 = ready(h.join(static_req(G, "", "inst-b", "b")));
    assert_eq!(b2.error, ErrorCode::None);
    assert_ne!(b2.member_id, b.member_id);
    assert_eq!(b2.generation_id, generation);
    assert_eq!(h.c.group_state(G), GroupState::Stable);
    let s = ready(h.sync(G, generation, &b2.member_id, vec![]));
    assert_eq!(s.assignment, Bytes::from_static(b"B"));
    // The old incarnation is fenced.
    let hb = h.c.heartbeat(&whippet_coordinator::HeartbeatRequest {
        group_id: G.into(),
        generation_id: generation,
        member_id: b.member_id.clone(),
        group_instance_id: Some("inst-b".into()),
    });
    assert_eq!(hb, ErrorCode::FencedInstanceId);
    assert_eq!(
        ready(h.join(static_req(G, &b.member_id, "inst-b", "b"))).error,
        ErrorCode::FencedInstanceId
    );
    // Changed metadata on restart does rebalance.
    let _b3 = h.join(static_req(G, "", "inst-b", "new-topics"));
    assert_eq!(h.c.group_state(G), GroupState::PreparingRebalance);
}

#[test]
fn leave_by_instance_id_and_fencing() {
    let mut h = Harness::no_delay();
    let a = ready(h.join(static_req(G, "", "inst-a", "a")));
    let resp = h.c.leave_group(
        G,
        &[
            LeaveMember {
                member_id: "wrong".into(),
                group_instance_id: Some("inst-a".into()),
            },
            LeaveMember {
                member_id: String::new(),
                group_instance_id: Some("inst-zzz".into()),
            },
        ],
    );
    assert_eq!(resp.members[0].1, ErrorCode::FencedInstanceId);
    assert_eq!(resp.members[1].1, ErrorCode::UnknownMemberId);
    let resp = h.c.leave_group(
        G,
        &[LeaveMember {
            member_id: String::new(),
            group_instance_id: Some("inst-a".into()),
        }],
    );
    assert_eq!(resp.members[0].1, ErrorCode::None);
    assert_eq!(h.c.group_state(G), GroupState::Empty);
    assert_eq!(h.c.generation(G), Some(a.generation_id + 1));
}

#[test]
fn leader_leaves_mid_rebalance() {
    let mut h = Harness::no_delay();
    let (ids, generation) = h.form_group(G, 3);
    let d = h.join(join_req(G, "", "md"));
    let b = h.join(join_req(G, &ids[1], "m1"));
    let c = h.join(join_req(G, &ids[2], "m2"));
    assert_eq!(h.c.group_state(G), GroupState::PreparingRebalance);
    let resp = h.c.leave_group(
        G,
        &[LeaveMember {
            member_id: ids[0].clone(),
            group_instance_id: None,
        }],
    );
    assert_eq!(resp.members[0].1, ErrorCode::None);
    let (b, c, d) = (resolve(b), resolve(c), resolve(d));
    assert_eq!(b.generation_id, generation + 1);
    assert_eq!(b.leader, ids[1]);
    assert_eq!(c.leader, ids[1]);
    assert_eq!(d.leader, ids[1]);
    assert_eq!(b.members.len(), 3);
    assert!(c.members.is_empty());
}

#[test]
fn cooperative_rebalance_relays_assignments_over_two_rounds() {
    let mut h = Harness::no_delay();
    let (ids, g1) = h.form_group(G, 2);
    // Round 1 of an incremental rebalance: a third member joins; existing members report their
    // owned partitions in metadata; the leader revokes some.
    let c = h.join(join_req(G, "", "owned:none"));
    let a = h.join(join_req(G, &ids[0], "owned:0,1,2"));
    let b = resolve(h.join(join_req(G, &ids[1], "owned:3,4,5")));
    let (a, c) = (resolve(a), resolve(c));
    assert_eq!(a.generation_id, g1 + 1);
    let metas: Vec<_> = a.members.iter().map(|m| m.metadata.clone()).collect();
    assert_eq!(
        metas,
        ["owned:0,1,2", "owned:3,4,5", "owned:none"]
            .map(|s: &'static str| Bytes::from_static(s.as_bytes()))
    );
    let round1 = vec![
        (a.member_id.clone(), Bytes::from_static(b"keep:0,1")),
        (b.member_id.clone(), Bytes::from_static(b"keep:3,4")),
        (c.member_id.clone(), Bytes::new()),
    ];
    let sb = h.sync(G, a.generation_id, &b.member_id, vec![]);
    let sc = h.sync(G, a.generation_id, &c.member_id, vec![]);
    ready(h.sync(G, a.generation_id, &a.member_id, round1));
    assert_eq!(resolve(sb).assignment, Bytes::from_static(b"keep:3,4"));
    assert!(resolve(sc).assignment.is_empty());
    // Round 2: revoking members rejoin with their reduced ownership.
    let a2 = h.join(join_req(G, &a.member_id, "owned:0,1"));
    let b2 = h.join(join_req(G, &b.member_id, "owned:3,4"));
    let c2 = resolve(h.join(join_req(G, &c.member_id, "owned:none")));
    let (a2, b2) = (resolve(a2), resolve(b2));
    assert_eq!(a2.generation_id, g1 + 2);
    assert_eq!(a2.members[0].metadata, Bytes::from_static(b"owned:0,1"));
    let round2 = vec![
        (a2.member_id.clone(), Bytes::from_static(b"0,1")),
        (b2.member_id.clone(), Bytes::from_static(b"3,4")),
        (c2.member_id.clone(), Bytes::from_static(b"2,5")),
    ];
    let sc = h.sync(G, a2.generation_id, &c2.member_id, vec![]);
    ready(h.sync(G, a2.generation_id, &a2.member_id, round2));
    assert_eq!(resolve(sc).assignment, Bytes::from_static(b"2,5"));
    assert_eq!(h.c.group_state(G), GroupState::Stable);
}

#[test]
fn describe_list_delete() {
    let mut h = Harness::no_delay();
    let (ids, _) = h.form_group(G, 2);
    let d = h.c.describe_group(G);
    assert_eq!(d.state, GroupState::Stable);
    assert_eq!(d.protocol_type, "consumer");
    assert_eq!(d.members.len(), 2);
    assert_eq!(
        d.members[1].assignment,
        Bytes::from(format!("assign-{}", ids[1]))
    );
    assert_eq!(h.c.describe_group("nope").state, GroupState::Dead);
    assert_eq!(h.c.list_groups(&[]).len(), 1);
    assert!(h.c.list_groups(&[GroupState::Empty]).is_empty());
    assert_eq!(h.c.delete_group(G), ErrorCode::NonEmptyGroup);
    assert_eq!(h.c.delete_group("nope"), ErrorCode::GroupIdNotFound);
    let leave: Vec<_> = ids
        .iter()
        .map(|id| LeaveMember {
            member_id: id.clone(),
            group_instance_id: None,
        })
        .collect();
    h.c.leave_group(G, &leave);
    assert_eq!(h.c.list_groups(&[GroupState::Empty]).len(), 1);
    assert_eq!(h.c.delete_group(G), ErrorCode::None);
    assert!(h.c.list_groups(&[]).is_empty());
}

/// A static member closed without LeaveGroup (KIP-345) is gone the moment its session ends:
/// DeleteGroups then succeeds even before the coordinator's next tick.
#[test]
fn delete_after_a_session_ran_out_between_ticks() {
    let mut h = Harness::no_delay();
    let joined = ready(h.join(static_req(G, "", "instance-a", "m")));
    let assignment = vec![(joined.member_id.clone(), Bytes::from_static(b"a"))];
    let synced = resolve(h.sync(G, joined.generation_id, &joined.member_id, assignment));
    assert_eq!(synced.error, ErrorCode::None);
    assert_eq!(h.c.delete_group(G), ErrorCode::NonEmptyGroup);
    // The clock passes the session without a tick.
    h.clock.advance(SESSION);
    assert_eq!(h.c.delete_group(G), ErrorCode::None);
}

/// Three members join; `a` (the leader) never sends its SyncGroup, the followers' SyncGroups
/// are parked. Returns the member ids (leader first), the generation and the parked syncs.
fn followers_parked_on_a_silent_leader(
    h: &mut Harness,
) -> (
    Vec<String>,
    i32,
    Vec<whippet_coordinator::Reply<SyncResponse>>,
) {
    let a = ready(h.join(join_req(G, "", "a")));
    let b = h.join(join_req(G, "", "b"));
    let c = h.join(join_req(G, "", "c"));
    let a = h.join(join_req(G, &a.member_id, "a"));
    let (a, b, c) = (resolve(a), resolve(b), resolve(c));
    assert_eq!(a.leader, a.member_id);
    let generation = a.generation_id;
    let mut syncs = vec![
        h.sync(G, generation, &b.member_id, vec![]),
        h.sync(G, generation, &c.member_id, vec![]),
    ];
    assert!(syncs.iter_mut().all(is_pending));
    (
        vec![a.member_id, b.member_id, c.member_id],
        generation,
        syncs,
    )
}

#[test]
fn followers_parked_on_a_dead_leader_survive_its_expiry() {
    let mut h = Harness::no_delay();
    let (ids, generation, syncs) = followers_parked_on_a_silent_leader(&mut h);
    // The leader died before syncing; the followers were blocked on SyncGroup (so sent no
    // heartbeat) for the whole session timeout when its session runs out.
    h.advance(SESSION);
    assert_eq!(h.c.group_state(G), GroupState::PreparingRebalance);
    for sync in syncs {
        assert_eq!(resolve(sync).error, ErrorCode::RebalanceInProgress);
    }
    // Their sessions restarted when they were answered: they rejoin as known members and form
    // the next generation at once, without being expired and starting over.
    let b = h.join(join_req(G, &ids[1], "b"));
    let c = resolve(h.join(join_req(G, &ids[2], "c")));
    let b = resolve(b);
    assert_eq!(b.error, ErrorCode::None);
    assert_eq!(c.error, ErrorCode::None);
    assert_eq!(b.generation_id, generation + 1);
    assert_eq!(b.leader, ids[1]);
    assert_eq!(b.members.len(), 2);
}

#[test]
fn a_slow_leader_sync_restarts_the_followers_sessions() {
    let mut h = Harness::no_delay();
    let (ids, generation, syncs) = followers_parked_on_a_silent_leader(&mut h);
    h.advance(SESSION - Duration::from_secs(1));
    let assignments = ids
        .iter()
        .map(|id| (id.clone(), Bytes::from(format!("assign-{id}"))))
        .collect();
    assert_eq!(
        ready(h.sync(G, generation, &ids[0], assignments)).error,
        ErrorCode::None
    );
    for sync in syncs {
        assert_eq!(resolve(sync).error, ErrorCode::None);
    }
    // The followers' first heartbeat comes a heartbeat interval after their answer, which is
    // past a session counted from before they were parked.
    h.advance(Duration::from_secs(3));
    assert_eq!(h.c.group_state(G), GroupState::Stable);
    for id in &ids {
        assert_eq!(h.heartbeat(G, generation, id), ErrorCode::None);
    }
}
