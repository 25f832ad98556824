#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use whippet_log::{Log, LogConfig, TopicSettings};

use super::*;
use crate::core::topics;

fn core(dir: &std::path::Path) -> Arc<Core> {
    let (log, _) = Log::open(LogConfig::new(dir)).unwrap();
    Arc::new(Core::with_empty_groups(log, "kafka".into(), &crate::core::test_root()).unwrap())
}

fn committer() -> Committer {
    Committer {
        group_id: "g".into(),
        generation_id: -1,
        member_id: String::new(),
        group_instance_id: None,
    }
}

fn commit_of(target: &Target, offset: i64) -> Commit {
    Commit {
        target: target.clone(),
        offset,
        leader_epoch: -1,
        metadata: String::new(),
    }
}

/// The interleaving the check exists for: a commit resolves its topic, the topic is deleted
/// (and a new one takes its ids), then the commit is applied. It must not leave an offset under
/// the old topic's ids for the new topic to inherit.
#[tokio::test]
async fn a_commit_resolved_before_its_topic_was_deleted_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let core = core(dir.path());
    let rc = RequestContext::internal();
    let old = topics::create_kafka_topic(&core, &rc, "t", 2, TopicSettings::default())
        .await
        .unwrap();
    let resolved = Target::new(&old, 1).unwrap();
    topics::delete_topic(&core, &rc, old.stream_id, old.id)
        .await
        .unwrap();
    let (outcomes, durable) = commit(&core, &rc, committer(), vec![commit_of(&resolved, 7)]).await;
    durable.unwrap();
    assert_eq!(outcomes, vec![CommitOutcome::TopicGone]);
    // A new topic with the same ids starts with nothing committed, and a commit resolved
    // against the old one is still refused.
    let new = topics::create_kafka_topic(&core, &rc, "u", 2, TopicSettings::default())
        .await
        .unwrap();
    assert_eq!((new.stream_id, new.id), (old.stream_id, old.id));
    let (outcomes, _) = commit(&core, &rc, committer(), vec![commit_of(&resolved, 7)]).await;
    assert_eq!(outcomes, vec![CommitOutcome::TopicGone]);
    assert_eq!(
        fetch(&core, &rc, "g", Some(&[resolved.key()])),
        vec![(resolved.key(), None)]
    );
    let current = Target::new(&new, 1).unwrap();
    let (outcomes, _) = commit(&core, &rc, committer(), vec![commit_of(&current, 3)]).await;
    assert_eq!(outcomes, vec![CommitOutcome::Decided(ErrorCode::None)]);
    assert_eq!(
        fetch(&core, &rc, "g", None)
            .into_iter()
            .map(|(key, value)| (key, value.map(|v| v.offset)))
            .collect::<Vec<_>>(),
        vec![(current.key(), Some(3))]
    );
}

#[tokio::test]
async fn a_native_store_resolved_before_its_topic_was_deleted_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let core = core(dir.path());
    let rc = RequestContext::internal();
    let stream = topics::create_stream(&core, &rc, "s".into()).await.unwrap();
    let topic = topics::create_topic(
        &core,
        &rc,
        stream.id,
        "t".into(),
        1,
        TopicSettings::default(),
    )
    .await
    .unwrap();
    let resolved = Target::new(&topic, 0).unwrap();
    store_native(&core, &rc, "g", &resolved, 4).await.unwrap();
    assert_eq!(native_offset(&core, &rc, "g", &resolved.key()), Some(4));
    topics::delete_topic(&core, &rc, stream.id, topic.id)
        .await
        .unwrap();
    assert_eq!(native_offset(&core, &rc, "g", &resolved.key()), None);
    let refused = store_native(&core, &rc, "g", &resolved, 5).await;
    assert!(
        matches!(refused, Err(CoreError::Log(LogError::TopicNotFound(_)))),
        "{refused:?}"
    );
    assert_eq!(native_offset(&core, &rc, "g", &resolved.key()), None);
}

#[tokio::test]
async fn commits_to_live_partitions_keep_their_order_beside_gone_ones() {
    let dir = tempfile::tempdir().unwrap();
    let core = core(dir.path());
    let rc = RequestContext::internal();
    let kept = topics::create_kafka_topic(&core, &rc, "kept", 1, TopicSettings::default())
        .await
        .unwrap();
    let gone = topics::create_kafka_topic(&core, &rc, "gone", 1, TopicSettings::default())
        .await
        .unwrap();
    let kept = Target::new(&kept, 0).unwrap();
    let stale = Target::new(&gone, 0).unwrap();
    topics::delete_topic(&core, &rc, gone.stream_id, gone.id)
        .await
        .unwrap();
    let (outcomes, _) = commit(
        &core,
        &rc,
        committer(),
        vec![commit_of(&stale, 1), commit_of(&kept, 2)],
    )
    .await;
    assert_eq!(
        outcomes,
        vec![
            CommitOutcome::TopicGone,
            CommitOutcome::Decided(ErrorCode::None)
        ]
    );
}

/// Fetches read the durable state without the coordinator's lock: a commit applied to the
/// coordinator but not yet durable is not seen; once durable it is.
#[tokio::test]
async fn fetches_see_only_durable_commits() {
    let dir = tempfile::tempdir().unwrap();
    let core = core(dir.path());
    let rc = RequestContext::internal();
    let key = PartitionKey {
        stream: 0,
        topic: 0,
        partition: 0,
    };
    core.groups.lock().store_native_offset("owner", key, 41);
    assert_eq!(
        native_offset(&core, &rc, "owner", &key),
        None,
        "not durable yet"
    );
    assert_eq!(fetch(&core, &rc, "owner", Some(&[key]))[0].1, None);
    core.groups.persist(u64::MAX).await.unwrap();
    assert_eq!(native_offset(&core, &rc, "owner", &key), Some(41));
    let all = fetch(&core, &rc, "owner", None);
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].1.as_ref().map(|c| c.offset), Some(42));
    core.log.shutdown().unwrap();
}
