//! Shared helpers for the coordinator's integration tests.
#![allow(clippy::unwrap_used, dead_code)]

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use whippet_coordinator::{
    Coordinator, FakeClock, GroupConfig, HeartbeatRequest, JoinRequest, JoinResponse, Protocol,
    Reply, SyncRequest, SyncResponse,
};

pub const SESSION: Duration = Duration::from_secs(10);
pub const REBALANCE: Duration = Duration::from_secs(30);

pub struct Harness {
    pub clock: Arc<FakeClock>,
    pub c: Coordinator,
}

impl Harness {
    pub fn new(initial_delay: Duration) -> Self {
        let clock = Arc::new(FakeClock::new());
        let config = GroupConfig {
            initial_rebalance_delay: initial_delay,
            ..GroupConfig::default()
        };
        let c = Coordinator::new(clock.clone(), config);
        Harness { clock, c }
    }

    pub fn no_delay() -> Self {
        Harness::new(Duration::ZERO)
    }

    pub fn advance(&mut self, by: Duration) {
        self.clock.advance(by);
        self.c.tick();
    }

    pub fn join(&mut self, req: JoinRequest) -> Reply<JoinResponse> {
        self.c.join_group(req)
    }

    pub fn sync(
        &mut self,
        group: &str,
        generation: i32,
        member: &str,
        assignments: Vec<(String, Bytes)>,
    ) -> Reply<SyncResponse> {
        self.c.sync_group(SyncRequest {
            group_id: group.into(),
            generation_id: generation,
            member_id: member.into(),
            group_instance_id: None,
            protocol_type: Some("consumer".into()),
            protocol_name: None,
            assignments,
        })
    }

    pub fn heartbeat(
        &mut self,
        group: &str,
        generation: i32,
        member: &str,
    ) -> whippet_coordinator::ErrorCode {
        self.c.heartbeat(&HeartbeatRequest {
            group_id: group.into(),
            generation_id: generation,
            member_id: member.into(),
            group_instance_id: None,
        })
    }

    /// Forms a Stable group of `n` members (no initial delay assumed) and returns their ids in
    /// join order (the first is the leader) plus the generation.
    pub fn form_group(&mut self, group: &str, n: usize) -> (Vec<String>, i32) {
        let mut ids: Vec<String> = Vec::new();
        let mut generation = 0;
        for i in 0..n {
            let fresh = self.join(join_req(group, "", &format!("m{i}")));
            let rejoins: Vec<_> = ids
                .iter()
                .enumerate()
                .map(|(j, id)| self.join(join_req(group, id, &format!("m{j}"))))
                .collect();
            let resp = resolve(fresh);
            assert_eq!(resp.error, whippet_coordinator::ErrorCode::None);
            generation = resp.generation_id;
            for r in rejoins {
                assert_eq!(resolve(r).generation_id, generation);
            }
            ids.push(resp.member_id);
        }
        let leader = ids[0].clone();
        let assignments: Vec<_> = ids
            .iter()
            .map(|id| (id.clone(), Bytes::from(format!("assign-{id}"))))
            .collect();
        let follower_syncs: Vec<_> = ids[1..]
            .iter()
            .map(|id| self.sync(group, generation, id, vec![]))
            .collect();
        let leader_sync = ready(self.sync(group, generation, &leader, assignments));
        assert_eq!(leader_sync.error, whippet_coordinator::ErrorCode::None);
        for s in follower_syncs {
            assert_eq!(resolve(s).error, whippet_coordinator::ErrorCode::None);
        }
        (ids, generation)
    }
}

pub fn join_req(group: &str, member_id: &str, meta: &str) -> JoinRequest {
    JoinRequest {
        group_id: group.into(),
        member_id: member_id.into(),
        group_instance_id: None,
        client_id: "client".into(),
        client_host: "/127.0.0.1".into(),
        protocol_type: "consumer".into(),
        protocols: vec![Protocol {
            name: "range".into(),
            metadata: Bytes::from(meta.to_owned()),
        }],
        session_timeout: SESSION,
        rebalance_timeout: REBALANCE,
        require_known_member_id: false,
    }
}

pub fn static_req(group: &str, member_id: &str, instance: &str, meta: &str) -> JoinRequest {
    JoinRequest {
        group_instance_id: Some(instance.into()),
        ..join_req(group, member_id, meta)
    }
}

/// The value of a reply that must already be known.
pub fn ready<T: std::fmt::Debug>(reply: Reply<T>) -> T {
    match reply.try_take() {
        Ok(v) => v,
        Err(_) => panic!("reply still pending"),
    }
}

/// The value of a reply that may have been pending but must be resolved by now.
pub fn resolve<T: std::fmt::Debug>(reply: Reply<T>) -> T {
    ready(reply)
}

pub fn is_pending<T>(reply: &mut Reply<T>) -> bool {
    match reply {
        Reply::Ready(_) => false,
        Reply::Pending(rx) => rx.is_empty() && !rx.is_terminated(),
    }
}
