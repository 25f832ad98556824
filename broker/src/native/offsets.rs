//! Native consumer offsets: get (120), store (121), delete (122), and the consumer resolution
//! and offset-store access that polls (`next`, auto-commit) share.
//!
//! Every offset lives in the shared committed-offset store of the coordinator, made durable by
//! its checkpoint before a store or delete is acknowledged (the same path Kafka's OffsetCommit
//! takes), and so survives restarts. Consumer groups are keyed by the group's name, so a Kafka
//! group of the same name sees the same positions (converted: native "last consumed" N is
//! Kafka's committed N + 1). Single consumers (kind 1) use reserved keys that Kafka's group
//! listings never show.

use std::sync::Arc;

use whippet_coordinator::{PartitionKey, single_consumer_key};
use whippet_log::TopicMeta;
use whippet_wire::native::codes;
use whippet_wire::native::commands::messages::Consumer;
use whippet_wire::native::commands::offsets::{
    ConsumerOffsetReply, DeleteConsumerOffset, GetConsumerOffset, StoreConsumerOffset,
};
use whippet_wire::native::identifier::Identifier;
use whippet_wire::native::status::Status;

use super::call::{Access, Call, Conn, Outcome, Payload};
use super::errors::{group_status, read_status};
use super::groups::group_ref;
use super::messages::{partition_of, resolve_topic};
use crate::context::BrokerContext;
use crate::core::offsets::Target;
use crate::core::read::OffsetSpec;
use crate::core::{self, RequestContext};

/// Routes codes 120–122.
pub(crate) async fn handle(ctx: &Arc<BrokerContext>, conn: &mut Conn, call: Call<'_>) -> Outcome {
    match call.code {
        codes::GET_CONSUMER_OFFSET => get(ctx, conn, call.decode()?),
        codes::STORE_CONSUMER_OFFSET => store(ctx, conn, call.decode()?).await,
        codes::DELETE_CONSUMER_OFFSET => delete(ctx, conn, call.decode()?).await,
        _ => Err(Status::InvalidCommand),
    }
}

/// A consumer resolved to the offset-store owner key and the partition it addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ConsumerSlot {
    /// Group name, or the reserved key of a single consumer.
    pub owner: String,
    /// Partition within the topic.
    pub partition: u32,
}

/// Resolves who is consuming and on which partition. A single consumer without a partition
/// uses partition 0. A group consumer must be a member: the partition is the one it asked for
/// if it owns it, else its next owned one (the group state decides; 5009 when not owned).
pub(crate) fn resolve_consumer(
    ctx: &BrokerContext,
    conn: &Conn,
    topic: &TopicMeta,
    consumer: &Consumer,
    requested: Option<u32>,
) -> Result<ConsumerSlot, Status> {
    let slot = match consumer {
        Consumer::Single(id) => ConsumerSlot {
            owner: single_owner(id),
            partition: requested.unwrap_or(0),
        },
        // The classic protocol let any member name any partition (the 0.10 SDK stores and reads
        // group offsets that way); protocol 0.11 restricts a member to the partitions it owns.
        Consumer::Group(group) if conn.classic && requested.is_some() => {
            let (_, name) = (ctx.core.native_groups)
                .member_of(topic.stream_id, topic.id, &group_ref(group), conn.client.id)
                .map_err(group_status)?;
            ConsumerSlot {
                owner: name,
                partition: requested.unwrap_or(0),
            }
        }
        Consumer::Group(group) => {
            let (_, name, partition) = (ctx.core.native_groups)
                .pick_partition(
                    topic.stream_id,
                    topic.id,
                    &group_ref(group),
                    conn.client.id,
                    requested,
                )
                .map_err(group_status)?;
            ConsumerSlot {
                owner: name,
                partition,
            }
        }
    };
    partition_of(topic, slot.partition)?;
    Ok(slot)
}

/// The offset-store key of a single consumer: numeric and name identifiers never collide.
fn single_owner(id: &Identifier) -> String {
    match id {
        Identifier::Numeric(id) => single_consumer_key(&format!("id:{id}")),
        Identifier::Name(name) => single_consumer_key(&format!("name:{name}")),
    }
}

/// The stored (last consumed) offset of `owner` on `key`.
pub(crate) fn stored_offset(
    ctx: &BrokerContext,
    rc: &RequestContext,
    owner: &str,
    key: &PartitionKey,
) -> Option<u64> {
    core::offsets::native_offset(&ctx.core, rc, owner, key)
}

/// Stores `offset` as `owner`'s last consumed offset on partition `partition` of `topic` and
/// returns once it is on disk.
pub(crate) async fn store_offset(
    ctx: &BrokerContext,
    rc: &RequestContext,
    owner: &str,
    topic: &TopicMeta,
    partition: u32,
    offset: u64,
) -> Result<(), Status> {
    let target = Target::new(topic, partition).ok_or(Status::PartitionNotFound)?;
    core::offsets::store_native(&ctx.core, rc, owner, &target, offset)
        .await
        .map_err(|error| read_status(&error))
}

/// Resolves the topic, checks PollMessages on it and resolves the consumer.
fn target(
    ctx: &BrokerContext,
    conn: &Conn,
    consumer: &Consumer,
    stream: &Identifier,
    topic: &Identifier,
    partition: Option<u32>,
) -> Result<(ConsumerSlot, PartitionKey, Arc<TopicMeta>), Status> {
    let topic = resolve_topic(ctx, stream, topic)?;
    conn.require(ctx, Access::PollMessages(topic.stream_id, topic.id))?;
    let slot = resolve_consumer(ctx, conn, &topic, consumer, partition)?;
    let key = PartitionKey {
        stream: topic.stream_id,
        topic: topic.id,
        partition: slot.partition,
    };
    Ok((slot, key, topic))
}

/// 120: `[partition][current_offset][stored_offset]`, or ∅ when nothing is stored.
fn get(ctx: &BrokerContext, conn: &Conn, request: GetConsumerOffset) -> Outcome {
    let (slot, key, topic) = target(
        ctx,
        conn,
        &request.consumer,
        &request.stream_id,
        &request.topic_id,
        request.partition_id,
    )?;
    let rc = conn.rc();
    let Some(stored) = stored_offset(ctx, &rc, &slot.owner, &key) else {
        return Ok(Payload::Empty);
    };
    let log = partition_of(&topic, slot.partition)?;
    let latest = core::read::list_offset(&ctx.core, &rc, &log, OffsetSpec::Latest);
    Ok(Payload::encode(&ConsumerOffsetReply {
        partition_id: slot.partition,
        current_offset: latest.saturating_sub(1),
        stored_offset: stored,
    }))
}

/// 121: stores the offset (durably) and answers the bare result section.
async fn store(ctx: &BrokerContext, conn: &Conn, request: StoreConsumerOffset) -> Outcome {
    let (slot, _, topic) = target(
        ctx,
        conn,
        &request.consumer,
        &request.stream_id,
        &request.topic_id,
        request.partition_id,
    )?;
    let rc = conn.rc();
    store_offset(
        ctx,
        &rc,
        &slot.owner,
        &topic,
        slot.partition,
        request.offset,
    )
    .await?;
    Ok(Payload::Empty)
}

/// 122: removes the offset (durably); ConsumerOffsetNotFound when there was none.
async fn delete(ctx: &BrokerContext, conn: &Conn, request: DeleteConsumerOffset) -> Outcome {
    let (slot, key, _) = target(
        ctx,
        conn,
        &request.consumer,
        &request.stream_id,
        &request.topic_id,
        request.partition_id,
    )?;
    let existed = core::offsets::delete_native(&ctx.core, &conn.rc(), &slot.owner, &key)
        .await
        .map_err(|error| read_status(&error))?;
    if !existed {
        return Err(Status::ConsumerOffsetNotFound);
    }
    Ok(Payload::Empty)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_consumer_keys_do_not_collide_and_stay_reserved() {
        let numeric = single_owner(&Identifier::Numeric(1));
        let named = single_owner(&Identifier::Name("1".into()));
        assert_ne!(numeric, named);
        assert!(whippet_coordinator::is_single_consumer_key(&numeric));
        assert!(whippet_coordinator::is_single_consumer_key(&named));
    }
}
