//! The consumer-group commands 600–606. Each resolves the stream and topic against the log's
//! catalog, checks the caller's permission on that topic, brings the groups' partition count
//! up to date with the catalog, then applies one [`GroupTable`] operation.
//!
//! Permissions: ReadTopic for get/list, ManageTopic for create/delete, PollMessages for
//! join/leave/sync. "Not found" of the group itself is an empty body for get (600) and an
//! error everywhere else; an unknown stream or topic is always an error.

use std::sync::Arc;

use whippet_log::CatalogSnapshot;
use whippet_wire::native::codes;
use whippet_wire::native::commands::groups::{
    CreateConsumerGroup, GroupDetails, GroupHeader, GroupList, GroupMember, GroupRef, SyncReply,
};
use whippet_wire::native::commands::topics::TopicRef;
use whippet_wire::native::identifier::Identifier;
use whippet_wire::native::status::Status;

use super::super::call::{Access, Call, Conn, Outcome, Payload};
use whippet_coordinator::native_groups::{Group, GroupTable};

use super::group_ref;
use crate::context::BrokerContext;
use crate::native::errors::group_status;

/// A topic the request named, resolved against the current catalog.
#[derive(Debug, Clone, Copy)]
struct TopicIds {
    stream: u32,
    topic: u32,
    partitions: u32,
}

/// Resolves stream and topic identifiers (by id or name) in `snapshot`.
fn resolve_topic(
    snapshot: &CatalogSnapshot,
    stream: &Identifier,
    topic: &Identifier,
) -> Result<TopicIds, Status> {
    let stream_meta = match stream {
        Identifier::Numeric(id) => snapshot.stream(*id).ok_or(Status::StreamIdNotFound)?,
        Identifier::Name(name) => snapshot
            .stream_by_name(name)
            .ok_or(Status::StreamNameNotFound)?,
    };
    let topic_meta = match topic {
        Identifier::Numeric(id) => snapshot
            .topic(stream_meta.id, *id)
            .ok_or(Status::TopicIdNotFound)?,
        Identifier::Name(name) => snapshot
            .topic_by_name(stream_meta.id, name)
            .ok_or(Status::TopicNameNotFound)?,
    };
    Ok(TopicIds {
        stream: stream_meta.id,
        topic: topic_meta.id,
        partitions: topic_meta.partition_count(),
    })
}

/// Resolves the topic, checks `access` for it, and runs `f` on the group table with the
/// topic's groups already told the current partition count.
fn on_topic<R>(
    ctx: &BrokerContext,
    conn: &Conn,
    stream: &Identifier,
    topic: &Identifier,
    access: fn(u32, u32) -> Access,
    f: impl FnOnce(&mut GroupTable, TopicIds) -> Result<R, Status>,
) -> Result<R, Status> {
    let ids = resolve_topic(&ctx.log.snapshot(), stream, topic)?;
    conn.require(ctx, access(ids.stream, ids.topic))?;
    ctx.native.groups.with_table(|table| {
        table.set_partitions(ids.stream, ids.topic, ids.partitions);
        f(table, ids)
    })
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
    ctx.native.groups.ensure_sweeper(ctx);
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
    let details = on_topic(
        ctx,
        conn,
        &request.stream_id,
        &request.topic_id,
        Access::ReadTopic,
        |table, ids| {
            Ok(table
                .get(ids.stream, ids.topic, &group_ref(&request.group_id))
                .ok()
                .map(details_of))
        },
    )?;
    Ok(details.map_or(Payload::Empty, |details| Payload::encode(&details)))
}

/// 601: every group of the topic.
fn list(ctx: &BrokerContext, conn: &Conn, request: TopicRef) -> Outcome {
    let list = on_topic(
        ctx,
        conn,
        &request.stream_id,
        &request.topic_id,
        Access::ReadTopic,
        |table, ids| {
            Ok(GroupList {
                groups: table
                    .list(ids.stream, ids.topic)
                    .into_iter()
                    .map(header_of)
                    .collect(),
            })
        },
    )?;
    Ok(Payload::encode(&list))
}

/// 602: creates the group (lowest free id) and answers its details; the definition is on
/// disk before the reply.
async fn create(ctx: &BrokerContext, conn: &Conn, request: CreateConsumerGroup) -> Outcome {
    let details = on_topic(
        ctx,
        conn,
        &request.stream_id,
        &request.topic_id,
        Access::ManageTopic,
        |table, ids| {
            table
                .create(ids.stream, ids.topic, &request.name, ids.partitions)
                .map(details_of)
                .map_err(group_status)
        },
    )?;
    ctx.native.groups.persist().await?;
    Ok(Payload::encode(&details))
}

/// 603: deletes the group; its members stop being members.
async fn delete(ctx: &BrokerContext, conn: &Conn, request: GroupRef) -> Outcome {
    on_topic(
        ctx,
        conn,
        &request.stream_id,
        &request.topic_id,
        Access::ManageTopic,
        |table, ids| {
            table
                .delete(ids.stream, ids.topic, &group_ref(&request.group_id))
                .map_err(group_status)
        },
    )?;
    ctx.native.groups.persist().await?;
    Ok(Payload::Empty)
}

/// 604: the connection joins (again: no change) and the group is rebalanced.
fn join(ctx: &BrokerContext, conn: &Conn, request: GroupRef) -> Outcome {
    let client = conn.client.id;
    on_topic(
        ctx,
        conn,
        &request.stream_id,
        &request.topic_id,
        Access::PollMessages,
        |table, ids| {
            table
                .join(ids.stream, ids.topic, &group_ref(&request.group_id), client)
                .map_err(group_status)
        },
    )?;
    Ok(Payload::Empty)
}

/// 605: the connection leaves (ConsumerGroupMemberNotFound when it was not a member).
fn leave(ctx: &BrokerContext, conn: &Conn, request: GroupRef) -> Outcome {
    let client = conn.client.id;
    on_topic(
        ctx,
        conn,
        &request.stream_id,
        &request.topic_id,
        Access::PollMessages,
        |table, ids| {
            table
                .leave(ids.stream, ids.topic, &group_ref(&request.group_id), client)
                .map_err(group_status)
        },
    )?;
    Ok(Payload::Empty)
}

/// 606: the caller's generation and partitions, or an empty body when it is not a member.
fn sync(ctx: &BrokerContext, conn: &Conn, request: GroupRef) -> Outcome {
    let client = conn.client.id;
    let assignment = on_topic(
        ctx,
        conn,
        &request.stream_id,
        &request.topic_id,
        Access::PollMessages,
        |table, ids| {
            let group = table
                .get(ids.stream, ids.topic, &group_ref(&request.group_id))
                .map_err(group_status)?;
            Ok(group.assignment_of(client))
        },
    )?;
    Ok(assignment.map_or(Payload::Empty, |assignment| {
        Payload::encode(&SyncReply {
            generation: assignment.generation,
            partitions: assignment.partitions,
        })
    }))
}
