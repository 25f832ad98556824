#![allow(clippy::unwrap_used)]
//! Handler-level tests over a real log: commits are durable before they are acknowledged, and
//! the answers carry what the client needs.

use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::offset_fetch_request::OffsetFetchRequestTopic;
use kafka_protocol::messages::sync_group_request::SyncGroupRequestAssignment;
use kafka_protocol::messages::{
    ApiKey, DeleteGroupsRequest, GroupId, HeartbeatRequest, JoinGroupRequest, ListGroupsRequest,
    OffsetCommitRequest, OffsetFetchRequest, SyncGroupRequest,
};
use whippet_coordinator::{ErrorCode, GroupConfig};

use crate::kafka::error_code::group_code;
use whippet_log::TopicSettings;

use super::{GroupCoordinator, str_bytes};
use crate::context::BrokerContext;
use crate::core::RequestContext;
use crate::kafka::{test_support, topics};

/// A context whose coordinator has no initial rebalance delay, with topic `t` (3 partitions).
async fn context(dir: &std::path::Path) -> Arc<BrokerContext> {
    let config = GroupConfig {
        initial_rebalance_delay: Duration::ZERO,
        ..GroupConfig::default()
    };
    let ctx = test_support::context_with_groups(dir, Some(config));
    test_support::kafka_topic(&ctx, "t", 3, TopicSettings::default()).await;
    ctx
}

fn commit_request(group: &str, generation: i32, member: &str, topic: &str) -> OffsetCommitRequest {
    let partitions = vec![
        OffsetCommitRequestPartition::default()
            .with_partition_index(0)
            .with_committed_offset(42)
            .with_committed_metadata(Some(str_bytes("meta-0"))),
        OffsetCommitRequestPartition::default()
            .with_partition_index(7)
            .with_committed_offset(1),
    ];
    OffsetCommitRequest::default()
        .with_group_id(GroupId(str_bytes(group)))
        .with_generation_id_or_member_epoch(generation)
        .with_member_id(str_bytes(member))
        .with_topics(vec![
            OffsetCommitRequestTopic::default()
                .with_name(topics::topic_name(topic))
                .with_partitions(partitions),
        ])
}

#[tokio::test]
async fn simple_commit_is_on_disk_when_acknowledged_and_fetch_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = context(dir.path()).await;
    let header = test_support::header(ApiKey::OffsetCommit, 8);
    let resp = super::offsets::commit(
        &ctx,
        &RequestContext::internal(),
        &header,
        commit_request("g", -1, "", "t"),
    )
    .await;
    let codes: Vec<i16> = resp.topics[0]
        .partitions
        .iter()
        .map(|p| p.error_code)
        .collect();
    // Partition 7 does not exist.
    assert_eq!(codes, vec![0, 3]);
    let resp = super::offsets::commit(
        &ctx,
        &RequestContext::internal(),
        &header,
        commit_request("g", -1, "", "nope"),
    )
    .await;
    assert!(resp.topics[0].partitions.iter().all(|p| p.error_code == 3));

    // Acknowledged means on disk: a coordinator loaded from the metadata log's published
    // (durable) state now sees it.
    let reloaded = GroupCoordinator::load(
        GroupConfig::default(),
        ctx.core.groups.dir().into(),
        Arc::clone(&ctx.core.meta),
    )
    .unwrap();
    let key = super::offsets::resolve(&ctx, "t", 0).unwrap();
    let found = reloaded.lock().fetch_offsets("g", Some(&[key.key()]));
    assert_eq!(found[0].1.as_ref().map(|c| c.offset), Some(42));

    let fetch = OffsetFetchRequest::default()
        .with_group_id(GroupId(str_bytes("g")))
        .with_topics(Some(vec![
            OffsetFetchRequestTopic::default()
                .with_name(topics::topic_name("t"))
                .with_partition_indexes(vec![0, 1]),
        ]));
    let header = test_support::header(ApiKey::OffsetFetch, 7);
    let resp =
        super::offsets::fetch::handle(&ctx, &RequestContext::internal(), &header, fetch).await;
    let parts = &resp.topics[0].partitions;
    assert_eq!(parts[0].committed_offset, 42);
    assert_eq!(parts[0].metadata.as_deref(), Some("meta-0"));
    assert_eq!(parts[1].committed_offset, -1);
    assert_eq!(parts[1].error_code, 0);

    // A null topic list returns everything the group committed.
    let all = OffsetFetchRequest::default()
        .with_group_id(GroupId(str_bytes("g")))
        .with_topics(None);
    let resp = super::offsets::fetch::handle(&ctx, &RequestContext::internal(), &header, all).await;
    assert_eq!(resp.topics.len(), 1);
    assert_eq!(resp.topics[0].partitions.len(), 1);
    ctx.log.shutdown().unwrap();
}

fn join_request(member: &str) -> JoinGroupRequest {
    JoinGroupRequest::default()
        .with_group_id(GroupId(str_bytes("g")))
        .with_session_timeout_ms(10_000)
        .with_rebalance_timeout_ms(10_000)
        .with_member_id(str_bytes(member))
        .with_protocol_type(str_bytes("consumer"))
        .with_protocols(vec![
            JoinGroupRequestProtocol::default()
                .with_name(str_bytes("range"))
                .with_metadata(bytes::Bytes::from_static(b"sub")),
        ])
}

#[tokio::test]
async fn one_member_joins_syncs_heartbeats_and_the_group_is_listed() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = context(dir.path()).await;
    let header = test_support::header(ApiKey::JoinGroup, 7);
    let first =
        super::membership::join(&ctx, &RequestContext::internal(), &header, join_request("")).await;
    assert_eq!(first.error_code, group_code(ErrorCode::MemberIdRequired));
    let member = first.member_id.to_string();
    assert!(!member.is_empty());
    let joined = tokio::time::timeout(
        Duration::from_secs(5),
        super::membership::join(
            &ctx,
            &RequestContext::internal(),
            &header,
            join_request(&member),
        ),
    )
    .await
    .unwrap();
    assert_eq!(joined.error_code, 0);
    assert_eq!(joined.leader.as_str(), member);
    assert_eq!(joined.members.len(), 1);

    let sync = SyncGroupRequest::default()
        .with_group_id(GroupId(str_bytes("g")))
        .with_generation_id(joined.generation_id)
        .with_member_id(str_bytes(member.clone()))
        .with_assignments(vec![
            SyncGroupRequestAssignment::default()
                .with_member_id(str_bytes(member.clone()))
                .with_assignment(bytes::Bytes::from_static(b"plan")),
        ]);
    let header = test_support::header(ApiKey::SyncGroup, 5);
    let synced = super::membership::sync(&ctx, &RequestContext::internal(), &header, sync).await;
    assert_eq!(synced.error_code, 0);
    assert_eq!(&synced.assignment[..], b"plan");

    let beat = HeartbeatRequest::default()
        .with_group_id(GroupId(str_bytes("g")))
        .with_generation_id(joined.generation_id)
        .with_member_id(str_bytes(member.clone()));
    let header = test_support::header(ApiKey::Heartbeat, 4);
    let hb = super::membership::heartbeat(&ctx, &RequestContext::internal(), &header, beat.clone())
        .await;
    assert_eq!(hb.error_code, 0);
    let stale = beat.with_generation_id(joined.generation_id + 1);
    let hb = super::membership::heartbeat(&ctx, &RequestContext::internal(), &header, stale).await;
    assert_eq!(hb.error_code, group_code(ErrorCode::IllegalGeneration));

    let header = test_support::header(ApiKey::ListGroups, 4);
    let listed = super::admin::list(&ctx, &header, ListGroupsRequest::default()).await;
    assert_eq!(listed.groups.len(), 1);
    assert_eq!(listed.groups[0].group_state.as_str(), "Stable");

    // A group with a member cannot be deleted.
    let header = test_support::header(ApiKey::DeleteGroups, 2);
    let del = DeleteGroupsRequest::default().with_groups_names(vec![GroupId(str_bytes("g"))]);
    let resp = super::admin::delete(&ctx, &header, del).await;
    assert_eq!(
        resp.results[0].error_code,
        group_code(ErrorCode::NonEmptyGroup)
    );
    ctx.log.shutdown().unwrap();
}

#[tokio::test]
async fn concurrent_commits_are_all_durable() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = context(dir.path()).await;
    let header = test_support::header(ApiKey::OffsetCommit, 8);
    let mut tasks = Vec::new();
    for i in 0..8 {
        let ctx = Arc::clone(&ctx);
        let header = header.clone();
        tasks.push(tokio::spawn(async move {
            let group = format!("g{i}");
            super::offsets::commit(
                &ctx,
                &RequestContext::internal(),
                &header,
                commit_request(&group, -1, "", "t"),
            )
            .await
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap().topics[0].partitions[0].error_code, 0);
    }
    let reloaded = GroupCoordinator::load(
        GroupConfig::default(),
        ctx.core.groups.dir().into(),
        Arc::clone(&ctx.core.meta),
    )
    .unwrap();
    assert_eq!(reloaded.lock().list_groups(&[]).len(), 8);
    ctx.log.shutdown().unwrap();
}
