//! OffsetCommit, OffsetFetch and OffsetDelete. Kafka topic names resolve (through
//! [`crate::core::names`]: a Kafka-stream topic, or a native `<stream>.<topic>`) to the shared offset
//! store's (stream id, topic id) key, so a native group of the same name on the same topic
//! sees the same offsets; a name that does not resolve, or a
//! partition the topic does not have, is UNKNOWN_TOPIC_OR_PARTITION. A commit is acknowledged
//! only after the checkpoint holding it is on disk.

use std::collections::BTreeMap;
use std::sync::Arc;

use kafka_protocol::ResponseError;
use kafka_protocol::messages::offset_commit_response::{
    OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use kafka_protocol::messages::offset_delete_response::{
    OffsetDeleteResponsePartition, OffsetDeleteResponseTopic,
};
use kafka_protocol::messages::{
    OffsetCommitRequest, OffsetCommitResponse, OffsetDeleteRequest, OffsetDeleteResponse,
    RequestHeader, TopicName,
};
use tracing::warn;
use whippet_coordinator::{ErrorCode, PartitionKey};

use crate::kafka::error_code::group_code;

use super::subscription::subscribed_topics;
use crate::context::BrokerContext;
use crate::core::RequestContext;
use crate::core::offsets::{self, Commit, CommitOutcome, Committer, Target};
use crate::kafka::topics;

pub(crate) mod fetch;

/// UNKNOWN_TOPIC_OR_PARTITION.
pub(crate) const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;

/// Kafka partition `partition` of topic `name`, resolved for an offset operation, if both
/// exist.
pub(crate) fn resolve(ctx: &BrokerContext, name: &str, partition: i32) -> Option<Target> {
    let topic = topics::find_topic(ctx, name)?;
    Target::new(&topic, u32::try_from(partition).ok()?)
}

/// Whether the request's user may poll topic `name` (native `poll_messages`), which is what
/// committing or fetching its offsets needs.
pub(crate) fn may_poll(ctx: &BrokerContext, rc: &RequestContext, name: &str) -> bool {
    topics::find_topic(ctx, name).is_none_or(|topic| {
        let poll = crate::core::users::Access::PollMessages(topic.stream_id, topic.id);
        ctx.core.users.permits(rc, poll).is_ok()
    })
}

/// Answers OffsetCommit, after the commit is durable. A partition whose topic is deleted
/// before the commit is applied is UNKNOWN_TOPIC_OR_PARTITION (the core checks it).
pub(crate) async fn commit(
    ctx: &Arc<BrokerContext>,
    rc: &RequestContext,
    _header: &RequestHeader,
    req: OffsetCommitRequest,
) -> OffsetCommitResponse {
    // Per (topic, partition) in request order: the commit's index, or the error already known.
    let mut slots: Vec<(TopicName, i32, Result<usize, i16>)> = Vec::new();
    let mut commits = Vec::new();
    for topic in &req.topics {
        for p in &topic.partitions {
            let slot = match resolve(ctx, topic.name.as_str(), p.partition_index) {
                Some(_) if !may_poll(ctx, rc, topic.name.as_str()) => {
                    Err(ResponseError::TopicAuthorizationFailed.code())
                }
                Some(target) => {
                    commits.push(Commit {
                        target,
                        offset: p.committed_offset,
                        leader_epoch: p.committed_leader_epoch,
                        metadata: p
                            .committed_metadata
                            .as_ref()
                            .map(ToString::to_string)
                            .unwrap_or_default(),
                    });
                    Ok(commits.len() - 1)
                }
                None => Err(UNKNOWN_TOPIC_OR_PARTITION),
            };
            slots.push((topic.name.clone(), p.partition_index, slot));
        }
    }
    let committer = Committer {
        group_id: req.group_id.to_string(),
        generation_id: req.generation_id_or_member_epoch,
        member_id: req.member_id.to_string(),
        group_instance_id: req.group_instance_id.as_ref().map(ToString::to_string),
    };
    let (outcomes, durable) = offsets::commit(&ctx.core, rc, committer, commits).await;
    if let Err(error) = &durable {
        warn!(%error, "offset commit not durable; answering KAFKA_STORAGE_ERROR");
    }
    let code_of = |slot: Result<usize, i16>| match slot.map(|i| outcomes.get(i)) {
        Err(code) => code,
        Ok(Some(CommitOutcome::TopicGone)) => UNKNOWN_TOPIC_OR_PARTITION,
        // Retriable: the change stays pending and the client's retry finds it durable, or
        // errors again while the disk is failing.
        Ok(_) if durable.is_err() => ResponseError::KafkaStorageError.code(),
        Ok(Some(CommitOutcome::Decided(code))) => group_code(*code),
        Ok(None) => group_code(ErrorCode::CoordinatorNotAvailable),
    };
    let mut out: Vec<OffsetCommitResponseTopic> = Vec::new();
    for (name, partition, slot) in slots {
        let entry = OffsetCommitResponsePartition::default()
            .with_partition_index(partition)
            .with_error_code(code_of(slot));
        match out.last_mut() {
            Some(t) if t.name == name => t.partitions.push(entry),
            _ => out.push(
                OffsetCommitResponseTopic::default()
                    .with_name(name)
                    .with_partitions(vec![entry]),
            ),
        }
    }
    OffsetCommitResponse::default().with_topics(out)
}

/// Answers OffsetDelete. Offsets of topics an active group's members subscribe to are kept
/// (GROUP_SUBSCRIBED_TO_TOPIC), as in Kafka.
pub(crate) async fn delete(
    ctx: &Arc<BrokerContext>,
    rc: &RequestContext,
    _header: &RequestHeader,
    req: OffsetDeleteRequest,
) -> OffsetDeleteResponse {
    let group_id = req.group_id.to_string();
    let mut keys = Vec::new();
    let mut key_topics: BTreeMap<PartitionKey, String> = BTreeMap::new();
    for topic in &req.topics {
        for p in &topic.partitions {
            if let Some(target) = resolve(ctx, topic.name.as_str(), p.partition_index) {
                let key = target.key();
                keys.push(key);
                key_topics.insert(key, topic.name.to_string());
            }
        }
    }
    let (result, durable) = offsets::delete(
        &ctx.core,
        rc,
        &group_id,
        &keys,
        subscribed_topics,
        |subscribed, key| {
            key_topics
                .get(key)
                .is_none_or(|name| subscribed.as_ref().is_none_or(|s| s.contains(name)))
        },
    )
    .await;
    let codes = match result {
        Ok(codes) => codes,
        Err(code) => return OffsetDeleteResponse::default().with_error_code(group_code(code)),
    };
    if let Err(error) = durable {
        warn!(%error, "offset delete not durable yet; the next append retries");
    }
    let topics = req
        .topics
        .iter()
        .map(|topic| {
            let partitions = topic
                .partitions
                .iter()
                .map(|p| {
                    let code = match resolve(ctx, topic.name.as_str(), p.partition_index) {
                        None => UNKNOWN_TOPIC_OR_PARTITION,
                        Some(target) => codes
                            .iter()
                            .find(|(k, _)| *k == target.key())
                            .map_or(0, |(_, c)| group_code(*c)),
                    };
                    OffsetDeleteResponsePartition::default()
                        .with_partition_index(p.partition_index)
                        .with_error_code(code)
                })
                .collect();
            OffsetDeleteResponseTopic::default()
                .with_name(topic.name.clone())
                .with_partitions(partitions)
        })
        .collect();
    OffsetDeleteResponse::default().with_topics(topics)
}
