//! OffsetFetch: single-group (v0–7) and multi-group (v8+). Nothing committed is offset −1 with
//! no error, as in Kafka; a null topic list means every partition the group committed. With
//! `require_stable` (v7+, what `read_committed` consumers send), a partition with an offset
//! committed in a transaction still open answers UNSTABLE_OFFSET_COMMIT, which the client
//! retries, so it never starts from an offset the transaction is about to replace. From v9 a
//! KIP-848 member names itself and its epoch, which are checked as Kafka checks them
//! (UNKNOWN_MEMBER_ID, STALE_MEMBER_EPOCH, FENCED_MEMBER_EPOCH for the whole group).

use std::sync::Arc;

use kafka_protocol::ResponseError;
use kafka_protocol::messages::offset_fetch_response::{
    OffsetFetchResponseGroup, OffsetFetchResponsePartition, OffsetFetchResponsePartitions,
    OffsetFetchResponseTopic, OffsetFetchResponseTopics,
};
use kafka_protocol::messages::{
    GroupId, OffsetFetchRequest, OffsetFetchResponse, RequestHeader, TopicName,
};
use whippet_coordinator::{CommittedOffset, PartitionKey};

use super::{UNKNOWN_TOPIC_OR_PARTITION, resolve};
use crate::context::BrokerContext;
use crate::core::txn::partition_of;
use crate::core::{RequestContext, offsets};
use crate::kafka::error_code::group_code;
use crate::kafka::groups::str_bytes;
use crate::kafka::topics;

/// One partition's answer, independent of the response version's struct names.
struct Fetched {
    partition: i32,
    offset: i64,
    leader_epoch: i32,
    metadata: String,
    error: i16,
}

impl Fetched {
    fn found(partition: i32, value: Option<CommittedOffset>) -> Self {
        match value {
            Some(v) => Fetched {
                partition,
                offset: v.offset,
                leader_epoch: v.leader_epoch,
                metadata: v.metadata,
                error: 0,
            },
            None => Fetched::none(partition, 0),
        }
    }

    fn none(partition: i32, error: i16) -> Self {
        Fetched {
            partition,
            offset: -1,
            leader_epoch: -1,
            metadata: String::new(),
            error,
        }
    }
}

/// A requested partition and its offset-store key, when it resolves.
type Wanted = (i32, Option<PartitionKey>);

/// Looks up one group: `wanted` is `None` for all committed partitions, else (topic,
/// partitions) pairs in request order.
fn fetch_group(
    ctx: &BrokerContext,
    rc: &RequestContext,
    group_id: &str,
    wanted: Option<Vec<(TopicName, Vec<i32>)>>,
) -> Vec<(TopicName, Vec<Fetched>)> {
    let Some(wanted) = wanted else {
        let all = topics::all_topics(ctx);
        let mut out: Vec<(TopicName, Vec<Fetched>)> = Vec::new();
        for (key, value) in offsets::fetch(&ctx.core, rc, group_id, None) {
            // Offsets of topics since deleted (or of other streams) are not Kafka's to show.
            let Some((kafka_name, _)) = all
                .iter()
                .find(|(_, t)| t.stream_id == key.stream && t.id == key.topic)
            else {
                continue;
            };
            // Nor of topics the user may not poll.
            if !super::may_poll(ctx, rc, kafka_name) {
                continue;
            }
            let name = topics::topic_name(kafka_name);
            let partition = i32::try_from(key.partition).unwrap_or(i32::MAX);
            let entry = Fetched::found(partition, value);
            match out.last_mut() {
                Some((n, list)) if *n == name => list.push(entry),
                _ => out.push((name, vec![entry])),
            }
        }
        return out;
    };
    // Resolve every name first, then read all their offsets in one core call.
    let resolved: Vec<(TopicName, Vec<Wanted>, bool)> = wanted
        .into_iter()
        .map(|(name, partitions)| {
            let allowed = super::may_poll(ctx, rc, name.as_str());
            let keys = partitions
                .into_iter()
                .map(|p| {
                    let key = resolve(ctx, name.as_str(), p).map(|target| target.key());
                    (p, key.filter(|_| allowed))
                })
                .collect();
            (name, keys, allowed)
        })
        .collect();
    let keys: Vec<PartitionKey> = resolved
        .iter()
        .flat_map(|(_, partitions, _)| partitions.iter().filter_map(|(_, key)| *key))
        .collect();
    let mut values = offsets::fetch(&ctx.core, rc, group_id, Some(&keys)).into_iter();
    resolved
        .into_iter()
        .map(|(name, partitions, allowed)| {
            let fetched = partitions
                .into_iter()
                .map(|(p, key)| match key {
                    None if !allowed => {
                        Fetched::none(p, ResponseError::TopicAuthorizationFailed.code())
                    }
                    None => Fetched::none(p, UNKNOWN_TOPIC_OR_PARTITION),
                    Some(_) => Fetched::found(p, values.next().and_then(|(_, v)| v)),
                })
                .collect();
            (name, fetched)
        })
        .collect()
}

/// Answers OffsetFetch.
pub(crate) async fn handle(
    ctx: &Arc<BrokerContext>,
    rc: &RequestContext,
    header: &RequestHeader,
    req: OffsetFetchRequest,
) -> OffsetFetchResponse {
    let stable = req.require_stable;
    let fetch_group = |group_id: &str, wanted| {
        let mut found = fetch_group(ctx, rc, group_id, wanted);
        if stable {
            mark_unstable(ctx, group_id, &mut found);
        }
        found
    };
    if header.request_api_version >= 8 {
        let groups = req
            .groups
            .into_iter()
            .map(|g| {
                // v9: a KIP-848 member fetches at its epoch (−1 and no member: anyone may).
                let member = g.member_id.as_ref().map(|m| m.as_str());
                let allowed = ctx.core.groups.lock().consumer_fetch_allowed(
                    g.group_id.as_str(),
                    member,
                    g.member_epoch,
                );
                if let Err(code) = allowed {
                    return OffsetFetchResponseGroup::default()
                        .with_group_id(g.group_id)
                        .with_error_code(group_code(code));
                }
                let wanted = g.topics.map(|ts| {
                    ts.into_iter()
                        .map(|t| (t.name, t.partition_indexes))
                        .collect()
                });
                multi_group(g.group_id.clone(), fetch_group(g.group_id.as_str(), wanted))
            })
            .collect();
        return OffsetFetchResponse::default().with_groups(groups);
    }
    let wanted = req.topics.map(|ts| {
        ts.into_iter()
            .map(|t| (t.name, t.partition_indexes))
            .collect()
    });
    let topics = fetch_group(req.group_id.as_str(), wanted)
        .into_iter()
        .map(|(name, parts)| {
            let partitions = parts
                .into_iter()
                .map(|f| {
                    OffsetFetchResponsePartition::default()
                        .with_partition_index(f.partition)
                        .with_committed_offset(f.offset)
                        .with_committed_leader_epoch(f.leader_epoch)
                        .with_metadata(Some(str_bytes(f.metadata)))
                        .with_error_code(f.error)
                })
                .collect();
            OffsetFetchResponseTopic::default()
                .with_name(name)
                .with_partitions(partitions)
        })
        .collect();
    OffsetFetchResponse::default().with_topics(topics)
}

/// Answers UNSTABLE_OFFSET_COMMIT for the partitions with offsets of `group_id` pending in an
/// open transaction.
fn mark_unstable(ctx: &BrokerContext, group_id: &str, found: &mut [(TopicName, Vec<Fetched>)]) {
    let pending = ctx.core.meta.load().txns.pending_offsets(group_id);
    if pending.is_empty() {
        return;
    }
    for (name, partitions) in found {
        let Some(topic) = topics::find_topic(ctx, name.as_str()) else {
            continue;
        };
        for fetched in partitions.iter_mut() {
            let index = u32::try_from(fetched.partition).unwrap_or(u32::MAX);
            if pending.contains(&partition_of(&topic, index)) {
                *fetched = Fetched::none(
                    fetched.partition,
                    ResponseError::UnstableOffsetCommit.code(),
                );
            }
        }
    }
}

fn multi_group(
    group_id: GroupId,
    found: Vec<(TopicName, Vec<Fetched>)>,
) -> OffsetFetchResponseGroup {
    let topics = found
        .into_iter()
        .map(|(name, parts)| {
            let partitions = parts
                .into_iter()
                .map(|f| {
                    OffsetFetchResponsePartitions::default()
                        .with_partition_index(f.partition)
                        .with_committed_offset(f.offset)
                        .with_committed_leader_epoch(f.leader_epoch)
                        .with_metadata(Some(str_bytes(f.metadata)))
                        .with_error_code(f.error)
                })
                .collect();
            OffsetFetchResponseTopics::default()
                .with_name(name)
                .with_partitions(partitions)
        })
        .collect();
    OffsetFetchResponseGroup::default()
        .with_group_id(group_id)
        .with_topics(topics)
}
