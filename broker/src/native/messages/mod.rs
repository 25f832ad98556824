//! Native message commands: send_messages (101, [`send`]), poll_messages (100, [`poll`]) and
//! flush_unsaved_buffer (102), over the same partition logs the Kafka side uses. Native batches
//! are stored in their wire form behind the log's frame header (format tag `Native`) and served
//! back to native polls as stored, so the hot paths never re-encode a message.
//!
//! Also the helpers the offsets family shares: resolving stream/topic identifiers against the
//! catalog snapshot and mapping log errors to native statuses.

mod poll;
mod send;

pub(crate) use send::send;
mod spans;

use std::sync::Arc;

use bytes::Bytes;
use whippet_log::{PartitionLog, TopicMeta};
use whippet_wire::native::codes;
use whippet_wire::native::commands::messages::FlushUnsavedBuffer;
use whippet_wire::native::identifier::Identifier;
use whippet_wire::native::status::Status;

use super::call::{Access, Call, Conn, Outcome, Payload};
use crate::context::BrokerContext;
use crate::native::errors::message_status;

/// Routes codes 100–102.
pub(crate) async fn handle(ctx: &Arc<BrokerContext>, conn: &mut Conn, call: Call<'_>) -> Outcome {
    match call.code {
        codes::POLL_MESSAGES => poll::poll(ctx, conn, call).await,
        // Reached from the HTTP API (`dispatch::run_for`), whose body is borrowed: one copy.
        codes::SEND_MESSAGES => send::send(ctx, conn, Bytes::copy_from_slice(call.body)).await,
        codes::FLUSH_UNSAVED_BUFFER => flush(ctx, conn, call).await,
        _ => Err(Status::InvalidCommand),
    }
}

/// Resolves a stream and a topic identifier against the current catalog snapshot (not found
/// answers the status matching the identifier's kind), keeping the topic beyond the snapshot.
pub(crate) fn resolve_topic(
    ctx: &BrokerContext,
    stream: &Identifier,
    topic: &Identifier,
) -> Result<Arc<TopicMeta>, Status> {
    let snapshot = ctx.log.snapshot();
    let stream = super::streams::resolve_stream(&snapshot, stream)?;
    super::topics::resolve_topic(stream, topic).cloned()
}

/// The partition log of `topic`, or PartitionNotFound.
pub(crate) fn partition_of(topic: &TopicMeta, partition: u32) -> Result<Arc<PartitionLog>, Status> {
    topic
        .partition(partition)
        .cloned()
        .ok_or(Status::PartitionNotFound)
}

/// 102 flush_unsaved_buffer: appends are written straight to the segment file, so there is no
/// broker-side buffer to drain; with `fsync` set the partition is synced to disk before the
/// (empty) reply. Needs ManageServers, the permission the session layer reserves for it.
async fn flush(ctx: &Arc<BrokerContext>, conn: &mut Conn, call: Call<'_>) -> Outcome {
    let request: FlushUnsavedBuffer = call.decode()?;
    let topic = resolve_topic(ctx, &request.stream_id, &request.topic_id)?;
    conn.require(ctx, Access::ManageServers)?;
    let log = partition_of(&topic, request.partition_id)?;
    if request.fsync {
        tokio::task::spawn_blocking(move || log.sync())
            .await
            .map_err(|_| Status::Error)?
            .map_err(|error| message_status(&error))?;
    }
    Ok(Payload::Empty)
}
