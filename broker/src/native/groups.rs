//! The consumer-group commands 600–606: decode, resolve the stream and topic against the log's
//! catalog, check the caller's permission on that topic, call the core's native-group operation
//! ([`crate::core::membership`]) and encode its answer. The groups themselves (definitions,
//! membership, persistence, the sweep of silent members) are the core's
//! ([`crate::core::native_groups`]); this module also starts the task that runs the sweep.
//!
//! Permissions: ReadTopic for get/list, ManageTopic for create/delete, PollMessages for
//! join/leave/sync. "Not found" of the group itself is an empty body for get (600) and an
//! error everywhere else; an unknown stream or topic is always an error.

use std::sync::Arc;
use std::time::Duration;

use whippet_coordinator::native_groups::{Group, NativeGroupRef};
use whippet_log::TopicMeta;
use whippet_wire::native::codes;
use whippet_wire::native::commands::groups::{
    CreateConsumerGroup, GroupDetails, GroupHeader, GroupList, GroupMember, GroupRef, SyncReply,
};
use whippet_wire::native::commands::topics::TopicRef;
use whippet_wire::native::identifier::Identifier;
use whippet_wire::native::status::Status;

use super::call::{Access, Call, Conn, Outcome, Payload};
use super::messages::resolve_topic;
use crate::context::BrokerContext;
use crate::core::membership;
use crate::limits;
use crate::native::errors::{core_status, group_status};

/// The coordinator's reference to a native group, from the wire's identifier.
pub(crate) fn group_ref(identifier: &Identifier) -> NativeGroupRef {
    match identifier {
        Identifier::Numeric(id) => NativeGroupRef::Id(*id),
        Identifier::Name(name) => NativeGroupRef::Name(name.clone()),
    }
}

/// Resolves the topic and checks `access` for it.
fn topic_for(
    ctx: &BrokerContext,
    conn: &Conn,
    stream: &Identifier,
    topic: &Identifier,
    access: fn(u32, u32) -> Access,
) -> Result<Arc<TopicMeta>, Status> {
    let topic = resolve_topic(ctx, stream, topic)?;
    conn.require(ctx, access(topic.stream_id, topic.id))?;
    Ok(topic)
}

/// Resolves the group's topic, checks `access` for it, and names the group.
fn group_of(
    ctx: &BrokerContext,
    conn: &Conn,
    request: &GroupRef,
    access: fn(u32, u32) -> Access,
) -> Result<(Arc<TopicMeta>, NativeGroupRef), Status> {
    let topic = topic_for(ctx, conn, &request.stream_id, &request.topic_id, access)?;
    Ok((topic, group_ref(&request.group_id)))
}

fn header_of(group: &Group) -> GroupHeader {
    GroupHeader {
        id: group.id,
        partitions_count: group.partitions_count,
        members_count: u32::try_from(group.members_count()).unwrap_or(u32::MAX),
        name: group.name.clone(),
    }
}

fn details_of(group: &Group) -> GroupDetails {
    GroupDetails {
        group: header_of(group),
        members: group
            .members()
            .into_iter()
            .map(|(id, partitions)| GroupMember { id, partitions })
            .collect(),
    }
}

/// Answers one consumer-group command.
pub(crate) async fn handle(ctx: &Arc<BrokerContext>, conn: &mut Conn, call: Call<'_>) -> Outcome {
    ensure_sweeper(ctx);
    match call.code {
        codes::GET_CONSUMER_GROUP => get(ctx, conn, call.decode()?),
        codes::GET_CONSUMER_GROUPS => list(ctx, conn, call.decode()?),
        codes::CREATE_CONSUMER_GROUP => create(ctx, conn, call.decode()?).await,
        codes::DELETE_CONSUMER_GROUP => delete(ctx, conn, call.decode()?).await,
        codes::JOIN_CONSUMER_GROUP => join(ctx, conn, call.decode()?),
        codes::LEAVE_CONSUMER_GROUP => leave(ctx, conn, call.decode()?),
        codes::SYNC_CONSUMER_GROUP => sync(ctx, conn, call.decode()?),
        _ => Err(Status::InvalidCommand),
    }
}

/// 600: the group with its members, or an empty body when the group does not exist.
fn get(ctx: &BrokerContext, conn: &Conn, request: GroupRef) -> Outcome {
    let (topic, group) = group_of(ctx, conn, &request, Access::ReadTopic)?;
    let details = membership::native_groups(&ctx.core, &conn.rc(), &topic, |table| {
        table
            .get(topic.stream_id, topic.id, &group)
            .ok()
            .map(details_of)
    });
    Ok(details.map_or(Payload::Empty, |details| Payload::encode(&details)))
}

/// 601: every group of the topic.
fn list(ctx: &BrokerContext, conn: &Conn, request: TopicRef) -> Outcome {
    let topic = topic_for(
        ctx,
        conn,
        &request.stream_id,
        &request.topic_id,
        Access::ReadTopic,
    )?;
    let list = membership::native_groups(&ctx.core, &conn.rc(), &topic, |table| GroupList {
        groups: table
            .list(topic.stream_id, topic.id)
            .into_iter()
            .map(header_of)
            .collect(),
    });
    Ok(Payload::encode(&list))
}

/// 602: creates the group (lowest free id) and answers its details; the definition is on
/// disk before the reply.
async fn create(ctx: &BrokerContext, conn: &Conn, request: CreateConsumerGroup) -> Outcome {
    let topic = topic_for(
        ctx,
        conn,
        &request.stream_id,
        &request.topic_id,
        Access::ManageTopic,
    )?;
    let group = membership::create_native_group(&ctx.core, &conn.rc(), &topic, &request.name)
        .await
        .map_err(|error| core_status(&error, Status::Error))?;
    Ok(Payload::encode(&details_of(&group)))
}

/// 603: deletes the group; its members stop being members.
async fn delete(ctx: &BrokerContext, conn: &Conn, request: GroupRef) -> Outcome {
    let (topic, group) = group_of(ctx, conn, &request, Access::ManageTopic)?;
    membership::delete_native_group(&ctx.core, &conn.rc(), &topic, &group)
        .await
        .map_err(|error| core_status(&error, Status::Error))?;
    Ok(Payload::Empty)
}

/// 604: the connection joins (again: no change) and the group is rebalanced.
fn join(ctx: &BrokerContext, conn: &Conn, request: GroupRef) -> Outcome {
    let (topic, group) = group_of(ctx, conn, &request, Access::PollMessages)?;
    membership::join_native_group(&ctx.core, &conn.rc(), &topic, &group)
        .map_err(|error| core_status(&error, Status::Error))?;
    Ok(Payload::Empty)
}

/// 605: the connection leaves (ConsumerGroupMemberNotFound when it was not a member).
fn leave(ctx: &BrokerContext, conn: &Conn, request: GroupRef) -> Outcome {
    let (topic, group) = group_of(ctx, conn, &request, Access::PollMessages)?;
    membership::leave_native_group(&ctx.core, &conn.rc(), &topic, &group)
        .map_err(|error| core_status(&error, Status::Error))?;
    Ok(Payload::Empty)
}

/// 606: the caller's generation and partitions, or an empty body when it is not a member.
fn sync(ctx: &BrokerContext, conn: &Conn, request: GroupRef) -> Outcome {
    let (topic, group) = group_of(ctx, conn, &request, Access::PollMessages)?;
    let client = conn.client.id;
    let assignment = membership::native_groups(&ctx.core, &conn.rc(), &topic, |table| {
        table
            .get(topic.stream_id, topic.id, &group)
            .map(|group| group.assignment_of(client))
    })
    .map_err(group_status)?;
    Ok(assignment.map_or(Payload::Empty, |assignment| {
        Payload::encode(&SyncReply {
            generation: assignment.generation,
            partitions: assignment.partitions,
        })
    }))
}

/// Starts (once) the task that evicts silent members from the core's native groups. It holds
/// only a weak reference to the context, so it ends when the broker drops the context.
fn ensure_sweeper(ctx: &Arc<BrokerContext>) {
    if !ctx.core.native_groups.claim_sweeper() {
        return;
    }
    let timeout = ctx.native.heartbeat_timeout;
    let period = u64::try_from((timeout / 4).as_millis())
        .unwrap_or(u64::MAX)
        .clamp(
            limits::NATIVE_GROUP_SWEEP_MS_MIN,
            limits::NATIVE_GROUP_SWEEP_MS_MAX,
        );
    let weak = Arc::downgrade(ctx);
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(Duration::from_millis(period));
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            let Some(ctx) = weak.upgrade() else {
                return;
            };
            let native = &ctx.native;
            let silent_for = |client| native.clients.get(client).map(|entry| entry.silent_for());
            ctx.core
                .native_groups
                .sweep(silent_for, native.heartbeat_timeout);
        }
    });
}
