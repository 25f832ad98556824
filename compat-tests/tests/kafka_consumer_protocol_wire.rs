//! The KIP-848 consumer group protocol on the wire, against the real `whippet` binary: what a
//! client that misbehaves or races gets back, as Kafka answers it. ConsumerGroupHeartbeat
//! join/heartbeat/leave with member epochs (FENCED_MEMBER_EPOCH, UNKNOWN_MEMBER_ID,
//! UNSUPPORTED_ASSIGNOR, INVALID_REQUEST for a v1 join without a member id,
//! INVALID_REGULAR_EXPRESSION), OffsetCommit v9 and OffsetFetch v9 checked against the member
//! epoch (STALE_MEMBER_EPOCH, FENCED_MEMBER_EPOCH, UNKNOWN_MEMBER_ID), a classic JoinGroup on a
//! live consumer group (INCONSISTENT_GROUP_PROTOCOL), ConsumerGroupHeartbeat on a live classic
//! group and DescribeGroups of a consumer group (GROUP_ID_NOT_FOUND), ConsumerGroupDescribe, and
//! ListGroups v5's group types.
#![allow(clippy::unwrap_used)]

#[path = "kafka_raw/mod.rs"]
mod kafka_raw;

use std::time::Duration;

use kafka_protocol::ResponseError;
use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::offset_fetch_request::{
    OffsetFetchRequestGroup, OffsetFetchRequestTopics,
};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use kafka_raw::Conn;
use whippet_compat_tests::WhippetProcess;

const TOPIC: &str = "cgwire";

fn s(text: &str) -> StrBytes {
    StrBytes::from_string(text.to_string())
}

fn code(e: ResponseError) -> i16 {
    e.code()
}

fn setup() -> (WhippetProcess, Conn) {
    let broker = WhippetProcess::start::<&str>([]).unwrap();
    let mut conn = Conn::open(broker.kafka_addr(), Duration::from_secs(10));
    let topic = CreatableTopic::default()
        .with_name(TopicName(s(TOPIC)))
        .with_num_partitions(4)
        .with_replication_factor(1);
    let created: CreateTopicsResponse = conn.call(
        5,
        &CreateTopicsRequest::default()
            .with_topics(vec![topic])
            .with_timeout_ms(10_000),
    );
    assert_eq!(created.topics[0].error_code, 0);
    (broker, conn)
}

fn heartbeat(group: &str, member: &str, epoch: i32) -> ConsumerGroupHeartbeatRequest {
    ConsumerGroupHeartbeatRequest::default()
        .with_group_id(GroupId(s(group)))
        .with_member_id(s(member))
        .with_member_epoch(epoch)
        .with_rebalance_timeout_ms(-1)
}

fn join(group: &str, member: &str) -> ConsumerGroupHeartbeatRequest {
    heartbeat(group, member, 0)
        .with_rebalance_timeout_ms(30_000)
        .with_subscribed_topic_names(Some(vec![TopicName(s(TOPIC))]))
        .with_topic_partitions(Some(Vec::new()))
}

fn commit(group: &str, member: &str, epoch: i32) -> OffsetCommitRequest {
    let partition = OffsetCommitRequestPartition::default()
        .with_partition_index(0)
        .with_committed_offset(3);
    OffsetCommitRequest::default()
        .with_group_id(GroupId(s(group)))
        .with_member_id(s(member))
        .with_generation_id_or_member_epoch(epoch)
        .with_topics(vec![
            OffsetCommitRequestTopic::default()
                .with_name(TopicName(s(TOPIC)))
                .with_partitions(vec![partition]),
        ])
}

fn commit_code(conn: &mut Conn, group: &str, member: &str, epoch: i32) -> i16 {
    let r: OffsetCommitResponse = conn.call(9, &commit(group, member, epoch));
    r.topics[0].partitions[0].error_code
}

fn fetch_code(conn: &mut Conn, group: &str, member: Option<&str>, epoch: i32) -> i16 {
    let g = OffsetFetchRequestGroup::default()
        .with_group_id(GroupId(s(group)))
        .with_member_id(member.map(s))
        .with_member_epoch(epoch)
        .with_topics(Some(vec![
            OffsetFetchRequestTopics::default()
                .with_name(TopicName(s(TOPIC)))
                .with_partition_indexes(vec![0]),
        ]));
    let r: OffsetFetchResponse = conn.call(9, &OffsetFetchRequest::default().with_groups(vec![g]));
    r.groups[0].error_code
}

#[test]
fn member_epochs_are_checked_as_kafka_checks_them() {
    let (_broker, mut conn) = setup();
    let g = "cg";
    let joined: ConsumerGroupHeartbeatResponse = conn.call(1, &join(g, "member-a"));
    assert_eq!(joined.error_code, 0, "{joined:?}");
    let epoch = joined.member_epoch;
    assert!(epoch > 0);
    assert_eq!(joined.heartbeat_interval_ms, 5_000);
    let assigned: usize = joined
        .assignment
        .as_ref()
        .unwrap()
        .topic_partitions
        .iter()
        .map(|t| t.partitions.len())
        .sum();
    assert_eq!(assigned, 4, "a lone member gets every partition");

    let hb = |conn: &mut Conn, req: ConsumerGroupHeartbeatRequest| -> i16 {
        let r: ConsumerGroupHeartbeatResponse = conn.call(1, &req);
        r.error_code
    };
    assert_eq!(
        hb(&mut conn, heartbeat(g, "member-a", epoch + 5)),
        code(ResponseError::FencedMemberEpoch)
    );
    assert_eq!(
        hb(&mut conn, heartbeat(g, "nobody", epoch)),
        code(ResponseError::UnknownMemberId)
    );
    assert_eq!(hb(&mut conn, heartbeat(g, "member-a", epoch)), 0);
    assert_eq!(
        hb(&mut conn, join(g, "")),
        code(ResponseError::InvalidRequest),
        "v1 members make their own id"
    );
    assert_eq!(
        hb(
            &mut conn,
            join(g, "member-b").with_server_assignor(Some(s("sticky")))
        ),
        code(ResponseError::UnsupportedAssignor)
    );
    assert_eq!(
        hb(
            &mut conn,
            join(g, "member-b").with_subscribed_topic_regex(Some(s("(unclosed")))
        ),
        code(ResponseError::InvalidRegularExpression)
    );

    // OffsetCommit v9 carries the member epoch.
    assert_eq!(commit_code(&mut conn, g, "member-a", epoch), 0);
    assert_eq!(
        commit_code(&mut conn, g, "member-a", epoch - 1),
        code(ResponseError::StaleMemberEpoch)
    );
    assert_eq!(
        commit_code(&mut conn, g, "member-a", epoch + 1),
        code(ResponseError::FencedMemberEpoch)
    );
    assert_eq!(
        commit_code(&mut conn, g, "nobody", epoch),
        code(ResponseError::UnknownMemberId)
    );
    // OffsetFetch v9 too; without a member (admin tools) it is not checked.
    assert_eq!(fetch_code(&mut conn, g, Some("member-a"), epoch), 0);
    assert_eq!(
        fetch_code(&mut conn, g, Some("member-a"), epoch - 1),
        code(ResponseError::StaleMemberEpoch)
    );
    assert_eq!(fetch_code(&mut conn, g, None, -1), 0);

    // The group still consumes the topic: its offsets may not be deleted.
    assert_eq!(
        delete_code(&mut conn, g),
        code(ResponseError::GroupSubscribedToTopic)
    );

    // Leaving (epoch −1) ends the membership; the group is then Empty and takes simple commits.
    let left: ConsumerGroupHeartbeatResponse = conn.call(1, &heartbeat(g, "member-a", -1));
    assert_eq!((left.error_code, left.member_epoch), (0, -1));
    assert_eq!(commit_code(&mut conn, g, "", -1), 0);
    assert_eq!(delete_code(&mut conn, g), 0);
}

fn delete_code(conn: &mut Conn, group: &str) -> i16 {
    use kafka_protocol::messages::offset_delete_request::{
        OffsetDeleteRequestPartition, OffsetDeleteRequestTopic,
    };
    let topic = OffsetDeleteRequestTopic::default()
        .with_name(TopicName(s(TOPIC)))
        .with_partitions(vec![
            OffsetDeleteRequestPartition::default().with_partition_index(0),
        ]);
    let r: OffsetDeleteResponse = conn.call(
        0,
        &OffsetDeleteRequest::default()
            .with_group_id(GroupId(s(group)))
            .with_topics(vec![topic]),
    );
    assert_eq!(r.error_code, 0, "{r:?}");
    r.topics[0].partitions[0].error_code
}

fn classic_join(group: &str) -> JoinGroupRequest {
    JoinGroupRequest::default()
        .with_group_id(GroupId(s(group)))
        .with_session_timeout_ms(10_000)
        .with_rebalance_timeout_ms(10_000)
        .with_member_id(s(""))
        .with_protocol_type(s("consumer"))
        .with_protocols(vec![
            JoinGroupRequestProtocol::default()
                .with_name(s("range"))
                .with_metadata(bytes::Bytes::new()),
        ])
}

#[test]
fn the_two_protocols_keep_to_their_groups_and_are_listed_by_type() {
    let (broker, mut conn) = setup();
    let joined: ConsumerGroupHeartbeatResponse = conn.call(1, &join("modern", "m1"));
    assert_eq!(joined.error_code, 0);
    let classic: JoinGroupResponse = conn.call(3, &classic_join("modern"));
    assert_eq!(
        classic.error_code,
        code(ResponseError::InconsistentGroupProtocol)
    );
    let described: DescribeGroupsResponse = conn.call(
        5,
        &DescribeGroupsRequest::default().with_groups(vec![GroupId(s("modern"))]),
    );
    assert_eq!(
        described.groups[0].error_code,
        code(ResponseError::GroupIdNotFound)
    );

    // A live classic group (its member parked in the join phase on a second connection).
    let mut other = Conn::open(broker.kafka_addr(), Duration::from_secs(10));
    other.send_raw(&kafka_raw::request_frame(3, 1, &classic_join("old")));
    std::thread::sleep(Duration::from_millis(300));
    let refused: ConsumerGroupHeartbeatResponse = conn.call(1, &join("old", "m2"));
    assert_eq!(refused.error_code, code(ResponseError::GroupIdNotFound));

    let cgd: ConsumerGroupDescribeResponse = conn.call(
        0,
        &ConsumerGroupDescribeRequest::default()
            .with_group_ids(vec![GroupId(s("modern")), GroupId(s("old"))]),
    );
    let modern = &cgd.groups[0];
    assert_eq!(modern.error_code, 0);
    assert_eq!(modern.group_state.as_str(), "Stable");
    assert_eq!(modern.assignor_name.as_str(), "uniform");
    assert_eq!(modern.members.len(), 1);
    assert_eq!(modern.members[0].member_epoch, joined.member_epoch);
    assert_eq!(
        cgd.groups[1].error_code,
        code(ResponseError::GroupIdNotFound),
        "a classic group is not described by ConsumerGroupDescribe"
    );

    let listed: ListGroupsResponse = conn.call(5, &ListGroupsRequest::default());
    let mut types: Vec<(String, String)> = listed
        .groups
        .iter()
        .map(|g| (g.group_id.to_string(), g.group_type.to_string()))
        .collect();
    types.sort();
    assert_eq!(
        types,
        vec![
            ("modern".to_string(), "consumer".to_string()),
            ("old".to_string(), "classic".to_string())
        ]
    );
    let only: ListGroupsResponse = conn.call(
        5,
        &ListGroupsRequest::default().with_types_filter(vec![s("Consumer")]),
    );
    assert_eq!(only.groups.len(), 1);
    assert_eq!(only.groups[0].group_id.as_str(), "modern");
}
