//! Property test: random join/sync/heartbeat/leave/time sequences never break the group's
//! invariants (one leader per generation, monotonic generation, full assignment when Stable).
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use bytes::Bytes;
use common::{Harness, join_req};
use proptest::prelude::*;
use whippet_coordinator::{ErrorCode, GroupState, JoinResponse, LeaveMember, Reply, SyncResponse};

const G: &str = "g";
const SLOTS: usize = 4;

#[derive(Debug, Clone)]
enum Op {
    Join(usize),
    Sync(usize),
    Heartbeat(usize),
    Leave(usize),
    Advance(u64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..SLOTS).prop_map(Op::Join),
        3 => (0..SLOTS).prop_map(Op::Sync),
        3 => (0..SLOTS).prop_map(Op::Heartbeat),
        1 => (0..SLOTS).prop_map(Op::Leave),
        2 => (0u64..12_000).prop_map(Op::Advance),
    ]
}

#[derive(Default)]
struct Slot {
    id: Option<String>,
    generation: i32,
    last_join: Option<JoinResponse>,
    join: Option<Reply<JoinResponse>>,
    sync: Option<Reply<SyncResponse>>,
}

#[derive(Default)]
struct Seen {
    leader_by_gen: BTreeMap<i32, String>,
    list_receivers: BTreeMap<i32, BTreeSet<String>>,
}

fn poll(slots: &mut [Slot], seen: &mut Seen) {
    for s in slots.iter_mut() {
        if let Some(r) = s.join.take() {
            match r.try_take() {
                Ok(resp) => record_join(s, resp, seen),
                Err(pending) => s.join = Some(pending),
            }
        }
        if let Some(r) = s.sync.take() {
            match r.try_take() {
                Ok(resp) if resp.error == ErrorCode::UnknownMemberId => s.id = None,
                Ok(_) => {}
                Err(pending) => s.sync = Some(pending),
            }
        }
    }
}

fn record_join(s: &mut Slot, resp: JoinResponse, seen: &mut Seen) {
    if resp.error != ErrorCode::None {
        if resp.error == ErrorCode::UnknownMemberId {
            s.id = None;
        }
        return;
    }
    let leader = seen
        .leader_by_gen
        .entry(resp.generation_id)
        .or_insert_with(|| resp.leader.clone());
    assert_eq!(*leader, resp.leader, "two leaders in one generation");
    if !resp.members.is_empty() {
        assert_eq!(
            resp.member_id, resp.leader,
            "a non-leader got the member list"
        );
        let receivers = seen.list_receivers.entry(resp.generation_id).or_default();
        receivers.insert(resp.member_id.clone());
        assert_eq!(receivers.len(), 1);
    }
    s.id = Some(resp.member_id.clone());
    s.generation = resp.generation_id;
    s.last_join = Some(resp);
}

fn apply(h: &mut Harness, slots: &mut [Slot], op: &Op) {
    match *op {
        Op::Join(i) => {
            // A client never re-sends JoinGroup while one is outstanding.
            if slots[i].join.is_some() {
                return;
            }
            let id = slots[i].id.clone().unwrap_or_default();
            slots[i].join = Some(h.join(join_req(G, &id, &format!("slot{i}"))));
        }
        Op::Sync(i) => {
            let Some(id) = slots[i].id.clone() else {
                return;
            };
            let assignments = slots[i]
                .last_join
                .as_ref()
                .map(|j| {
                    j.members
                        .iter()
                        .map(|m| {
                            (
                                m.member_id.clone(),
                                Bytes::from(format!("a-{}", m.member_id)),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            slots[i].sync = Some(h.sync(G, slots[i].generation, &id, assignments));
        }
        Op::Heartbeat(i) => {
            let Some(id) = slots[i].id.clone() else {
                return;
            };
            if h.heartbeat(G, slots[i].generation, &id) == ErrorCode::UnknownMemberId {
                slots[i].id = None;
            }
        }
        Op::Leave(i) => {
            let Some(id) = slots[i].id.take() else { return };
            h.c.leave_group(
                G,
                &[LeaveMember {
                    member_id: id,
                    group_instance_id: None,
                }],
            );
        }
        Op::Advance(ms) => h.advance(Duration::from_millis(ms)),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]
    #[test]
    fn group_invariants_hold(ops in proptest::collection::vec(op(), 1..80), delay in 0u64..4) {
        let mut h = Harness::new(Duration::from_secs(delay));
        let mut slots: Vec<Slot> = (0..SLOTS).map(|_| Slot::default()).collect();
        let mut seen = Seen::default();
        let mut last_gen = 0;
        for op in &ops {
            apply(&mut h, &mut slots, op);
            poll(&mut slots, &mut seen);
            let generation = h.c.generation(G).unwrap_or(last_gen);
            prop_assert!(generation >= last_gen, "generation went back");
            last_gen = generation;
            let d = h.c.describe_group(G);
            prop_assert!(d.members.len() <= SLOTS);
            if d.state == GroupState::Stable {
                for m in &d.members {
                    prop_assert!(!m.assignment.is_empty(), "stable member without assignment");
                }
            }
            if d.state == GroupState::Empty {
                prop_assert!(d.members.is_empty());
            }
        }
    }
}
