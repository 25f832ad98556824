//! Native consumer groups' edge cases through the official `iggy` 0.11.0 SDK against the real
//! `whippet` binary: the error code of each unknown-resource case, definitions surviving a crash
//! and restart (memberships not), lowest-free ids after a restart, and groups going away with
//! their topic.
#![allow(clippy::unwrap_used)]

mod native_sdk_common;

use iggy::prelude::*;
use native_sdk_common::*;

/// `(id, name)` of every group of the topic, by id.
async fn group_ids(client: &IggyClient, sid: &Identifier, tid: &Identifier) -> Vec<(u32, String)> {
    let mut groups: Vec<(u32, String)> = client
        .get_consumer_groups(sid, tid)
        .await
        .unwrap()
        .into_iter()
        .map(|group| (group.id, group.name))
        .collect();
    groups.sort();
    groups
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_resources_answer_their_own_codes() {
    let broker = start_broker();
    let client = root(&broker).await;
    let (sid, tid) = stream_and_topic(&client, "s", "t", 2).await;
    assert_code(
        client.get_consumer_group(&id(9), &tid, &id(0)).await,
        1009,
        "unknown stream id",
    );
    assert_code(
        client.get_consumer_group(&name("nope"), &tid, &id(0)).await,
        1010,
        "unknown stream name",
    );
    assert_code(
        client.get_consumer_groups(&sid, &id(9)).await,
        2010,
        "unknown topic id",
    );
    assert_code(
        client.create_consumer_group(&sid, &name("nope"), "g").await,
        2011,
        "unknown topic name",
    );
    assert!(
        client
            .get_consumer_group(&sid, &tid, &id(0))
            .await
            .unwrap()
            .is_none()
    );
    assert_code(
        client.join_consumer_group(&sid, &tid, &id(0)).await,
        5000,
        "join unknown group id",
    );
    assert_code(
        client.join_consumer_group(&sid, &tid, &name("g")).await,
        5000,
        "join unknown group name (5000 by name too, as the Iggy server answers)",
    );
    assert_code(
        client.delete_consumer_group(&sid, &tid, &id(0)).await,
        5000,
        "delete unknown group",
    );
    client.create_consumer_group(&sid, &tid, "g").await.unwrap();
    assert_code(
        client.leave_consumer_group(&sid, &tid, &name("g")).await,
        5006,
        "leave without joining",
    );
    client
        .join_consumer_group(&sid, &tid, &name("g"))
        .await
        .unwrap();
    client
        .leave_consumer_group(&sid, &tid, &name("g"))
        .await
        .unwrap();
    let details = client
        .get_consumer_group(&sid, &tid, &name("g"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((details.members_count, details.partitions_count), (0, 2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn definitions_survive_a_crash_and_ids_stay_lowest_free() {
    let mut broker = start_broker();
    let client = root(&broker).await;
    let (sid, tid) = stream_and_topic(&client, "s", "t", 3).await;
    for group in ["a", "b", "c"] {
        client
            .create_consumer_group(&sid, &tid, group)
            .await
            .unwrap();
    }
    client
        .delete_consumer_group(&sid, &tid, &name("b"))
        .await
        .unwrap();
    client
        .join_consumer_group(&sid, &tid, &name("a"))
        .await
        .unwrap();
    drop(client);

    // SIGKILL: a create or delete is acknowledged only once it is on disk.
    broker.kill().unwrap();
    broker.restart().unwrap();
    let client = root(&broker).await;
    assert_eq!(
        group_ids(&client, &sid, &tid).await,
        vec![(0, "a".to_string()), (2, "c".to_string())]
    );
    let a = client
        .get_consumer_group(&sid, &tid, &id(0))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((a.members_count, a.partitions_count), (0, 3));
    assert_eq!(
        client
            .create_consumer_group(&sid, &tid, "d")
            .await
            .unwrap()
            .id,
        1
    );
    assert_code(
        client.create_consumer_group(&sid, &tid, "c").await,
        5004,
        "restored name still taken",
    );
    client
        .join_consumer_group(&sid, &tid, &name("c"))
        .await
        .unwrap();
    let c = client
        .get_consumer_group(&sid, &tid, &name("c"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(c.members_count, 1);
    let mut partitions = c.members[0].partitions.clone();
    partitions.sort_unstable();
    assert_eq!(partitions, vec![0, 1, 2]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_go_with_their_topic() {
    let broker = start_broker();
    let client = root(&broker).await;
    let (sid, tid) = stream_and_topic(&client, "s", "t", 1).await;
    client.create_consumer_group(&sid, &tid, "g").await.unwrap();
    client.delete_topic(&sid, &tid).await.unwrap();
    let options = TopicCreateOptions {
        partitions_count: Some(1),
        ..Default::default()
    };
    let topic = client.create_topic(&sid, "t", &options).await.unwrap();
    assert!(
        group_ids(&client, &sid, &id(topic.id)).await.is_empty(),
        "a recreated topic starts without groups"
    );
    assert_eq!(
        client
            .create_consumer_group(&sid, &id(topic.id), "g")
            .await
            .unwrap()
            .id,
        0
    );
}
