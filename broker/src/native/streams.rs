//! Native stream commands (200–205): get, list, create, delete, rename and purge, over the same
//! catalog the Kafka listener uses (the Kafka stream is an ordinary stream here). Also the
//! helpers every native family needs to name things: identifier resolution and the mapping of
//! log errors to Iggy status codes.
//!
//! Renaming a stream is refused with StreamNameAlreadyExists when one of its topics would get
//! a Kafka name (`<new name>.<topic>`) that already names another topic; creating an (empty)
//! stream never collides ([`crate::core::names`]).

use std::sync::Arc;

use whippet_log::{CatalogSnapshot, StreamMeta};
use whippet_wire::native::codes;
use whippet_wire::native::commands::streams::{
    CreateStream, StreamDetails, StreamHeader, StreamList, StreamRef, UpdateStream,
};
use whippet_wire::native::identifier::Identifier;
use whippet_wire::native::status::Status;
use whippet_wire::native::user_headers::Options;

use super::call::{Access, Call, Conn, Outcome, Payload};
use super::errors::core_status;
use super::options::check_stream_options;
use super::topics::topic_header;
use crate::context::BrokerContext;
use crate::core;

/// Finds a stream by id or name; missing → StreamIdNotFound / StreamNameNotFound by the kind
/// of identifier, as the reference server answers.
pub(crate) fn resolve_stream<'a>(
    snapshot: &'a CatalogSnapshot,
    id: &Identifier,
) -> Result<&'a Arc<StreamMeta>, Status> {
    match id {
        Identifier::Numeric(id) => snapshot.stream(*id).ok_or(Status::StreamIdNotFound),
        Identifier::Name(name) => snapshot
            .stream_by_name(name)
            .ok_or(Status::StreamNameNotFound),
    }
}

/// Microseconds since the epoch as the wire's u64 (creation times are never negative).
pub(crate) fn micros(created_at_us: i64) -> u64 {
    u64::try_from(created_at_us).unwrap_or(0)
}

/// The StreamHeader of a stream, with totals over all its partitions.
fn stream_header(stream: &StreamMeta) -> StreamHeader {
    let (size_bytes, messages_count) = core::append::totals(
        stream
            .topics
            .values()
            .flat_map(|topic| topic.partitions.iter()),
    );
    StreamHeader {
        id: stream.id,
        created_at: micros(stream.created_at_us),
        topics_count: u32::try_from(stream.topics.len()).unwrap_or(u32::MAX),
        size_bytes,
        messages_count,
        name: stream.name.clone(),
        options: Options::default(),
    }
}

/// The stream with all its topics (get_stream and create_stream replies).
fn stream_details(stream: &StreamMeta) -> StreamDetails {
    StreamDetails {
        stream: stream_header(stream),
        topics: stream.topics.values().map(|t| topic_header(t)).collect(),
    }
}

/// Routes codes 200–205.
pub(crate) async fn handle(ctx: &Arc<BrokerContext>, conn: &mut Conn, call: Call<'_>) -> Outcome {
    match call.code {
        codes::GET_STREAM => get_stream(ctx, conn, call.decode()?),
        codes::GET_STREAMS => {
            conn.require(ctx, Access::ReadStreams)?;
            let snapshot = ctx.log.snapshot();
            let streams = snapshot.streams().map(|s| stream_header(s)).collect();
            Ok(Payload::encode(&StreamList { streams }))
        }
        codes::CREATE_STREAM => create_stream(ctx, conn, call.decode()?).await,
        codes::DELETE_STREAM => delete_stream(ctx, conn, call.decode()?).await,
        codes::UPDATE_STREAM => update_stream(ctx, conn, call.decode()?).await,
        codes::PURGE_STREAM => purge_stream(ctx, conn, call.decode()?).await,
        _ => Err(Status::InvalidCommand),
    }
}

fn get_stream(ctx: &BrokerContext, conn: &Conn, request: StreamRef) -> Outcome {
    let snapshot = ctx.log.snapshot();
    let Ok(stream) = resolve_stream(&snapshot, &request.stream_id) else {
        conn.require(ctx, Access::ReadStreams)?;
        return Ok(Payload::Empty);
    };
    conn.require(ctx, Access::ReadStream(stream.id))?;
    Ok(Payload::encode(&stream_details(stream)))
}

async fn create_stream(ctx: &Arc<BrokerContext>, conn: &Conn, request: CreateStream) -> Outcome {
    conn.require(ctx, Access::ManageStreams)?;
    check_stream_options(&request.options)?;
    if ctx.log.snapshot().stream_by_name(&request.name).is_some() {
        return Err(Status::StreamNameAlreadyExists);
    }
    let stream = core::topics::create_stream(&ctx.core, &conn.rc(), request.name)
        .await
        .map_err(|error| core_status(&error, Status::InvalidStreamName))?;
    Ok(Payload::encode(&stream_details(&stream)))
}

/// Deletes the stream through the core, which takes its offsets and groups with it.
async fn delete_stream(ctx: &Arc<BrokerContext>, conn: &Conn, request: StreamRef) -> Outcome {
    let stream_id = resolve_stream(&ctx.log.snapshot(), &request.stream_id)?.id;
    conn.require(ctx, Access::ManageStream(stream_id))?;
    core::topics::delete_stream(&ctx.core, &conn.rc(), stream_id)
        .await
        .map_err(|error| core_status(&error, Status::InvalidStreamName))?;
    Ok(Payload::Empty)
}

async fn update_stream(ctx: &Arc<BrokerContext>, conn: &Conn, request: UpdateStream) -> Outcome {
    let stream_id = resolve_stream(&ctx.log.snapshot(), &request.stream_id)?.id;
    conn.require(ctx, Access::ManageStream(stream_id))?;
    check_stream_options(&request.options)?;
    core::topics::rename_stream(&ctx.core, &conn.rc(), stream_id, request.name)
        .await
        .map_err(|error| core_status(&error, Status::InvalidStreamName))?;
    Ok(Payload::Empty)
}

/// Purges every topic of the stream through the core, which drops their stored offsets.
async fn purge_stream(ctx: &Arc<BrokerContext>, conn: &Conn, request: StreamRef) -> Outcome {
    let stream_id = resolve_stream(&ctx.log.snapshot(), &request.stream_id)?.id;
    conn.require(ctx, Access::ManageStream(stream_id))?;
    core::topics::purge_stream(&ctx.core, &conn.rc(), stream_id)
        .await
        .map_err(|error| core_status(&error, Status::InvalidStreamName))?;
    Ok(Payload::Empty)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn identifiers_resolve_by_kind() {
        let snapshot = CatalogSnapshot::default();
        assert_eq!(
            resolve_stream(&snapshot, &Identifier::Numeric(0)).unwrap_err(),
            Status::StreamIdNotFound
        );
        assert_eq!(
            resolve_stream(&snapshot, &Identifier::Name("s".into())).unwrap_err(),
            Status::StreamNameNotFound
        );
    }
}
