//! Native stream commands (200–205): get, list, create, delete, rename and purge, over the same
//! catalog the Kafka listener uses (the Kafka stream is an ordinary stream here). Also the
//! helpers every native family needs to name things: identifier resolution and the mapping of
//! log errors to Iggy status codes.
//!
//! Renaming a stream is refused with StreamNameAlreadyExists when one of its topics would get
//! a Kafka name (`<new name>.<topic>`) that already names another topic; creating an (empty)
//! stream never collides ([`crate::names`]).

use std::sync::Arc;

use whippet_log::{CatalogSnapshot, LogError, PartitionLog, StreamMeta};
use whippet_wire::native::codes;
use whippet_wire::native::commands::streams::{
    CreateStream, StreamDetails, StreamHeader, StreamList, StreamRef, UpdateStream,
};
use whippet_wire::native::identifier::Identifier;
use whippet_wire::native::status::Status;
use whippet_wire::native::user_headers::Options;

use super::call::{Access, Call, Conn, Outcome, Payload};
use super::options::check_stream_options;
use super::topics::topic_header;
use crate::context::BrokerContext;
use crate::kafka::topics::blocking;
use crate::names;

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

/// The Iggy status for a failed catalog operation. `invalid_name` is what a bad name means for
/// this command (InvalidStreamName or InvalidTopicName).
pub(crate) fn log_status(error: &LogError, invalid_name: Status) -> Status {
    match error {
        LogError::StreamNotFound(_) => Status::StreamIdNotFound,
        LogError::TopicNotFound(_) => Status::TopicIdNotFound,
        LogError::PartitionNotFound(_) | LogError::PartitionDeleted => Status::PartitionNotFound,
        LogError::StreamExists(_) => Status::StreamNameAlreadyExists,
        LogError::TopicExists(_) => Status::TopicNameAlreadyExists,
        LogError::InvalidName { .. } => invalid_name,
        LogError::InvalidSetting { .. } => Status::InvalidOptionValue,
        LogError::LimitExceeded { name, .. } if name.contains("PARTITION") => {
            Status::InvalidPartitionsCount
        }
        other => {
            tracing::warn!(error = %other, "native catalog operation failed");
            Status::Error
        }
    }
}

/// Stored bytes and messages over some partitions (for stream and topic headers).
pub(crate) fn totals<'a>(partitions: impl Iterator<Item = &'a Arc<PartitionLog>>) -> (u64, u64) {
    partitions.fold((0, 0), |(bytes, messages), partition| {
        let stats = partition.stats();
        (bytes + stats.size_bytes, messages + stats.messages)
    })
}

/// Microseconds since the epoch as the wire's u64 (creation times are never negative).
pub(crate) fn micros(created_at_us: i64) -> u64 {
    u64::try_from(created_at_us).unwrap_or(0)
}

/// The StreamHeader of a stream, with totals over all its partitions.
fn stream_header(stream: &StreamMeta) -> StreamHeader {
    let (size_bytes, messages_count) = totals(
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
    let log = Arc::clone(&ctx.log);
    let stream = blocking(move || log.create_stream(&request.name))
        .await
        .map_err(|error| log_status(&error, Status::InvalidStreamName))?;
    Ok(Payload::encode(&stream_details(&stream)))
}

async fn delete_stream(ctx: &Arc<BrokerContext>, conn: &Conn, request: StreamRef) -> Outcome {
    let stream_id = resolve_stream(&ctx.log.snapshot(), &request.stream_id)?.id;
    conn.require(ctx, Access::ManageStream(stream_id))?;
    let log = Arc::clone(&ctx.log);
    blocking(move || log.delete_stream(stream_id))
        .await
        .map_err(|error| log_status(&error, Status::InvalidStreamName))?;
    ctx.native.groups.on_stream_deleted(stream_id);
    Ok(Payload::Empty)
}

async fn update_stream(ctx: &Arc<BrokerContext>, conn: &Conn, request: UpdateStream) -> Outcome {
    let stream_id = resolve_stream(&ctx.log.snapshot(), &request.stream_id)?.id;
    conn.require(ctx, Access::ManageStream(stream_id))?;
    check_stream_options(&request.options)?;
    let ctx2 = Arc::clone(ctx);
    blocking(move || {
        names::with_names_locked(|| {
            let snapshot = ctx2.log.snapshot();
            let kafka_stream = &ctx2.kafka_stream;
            if names::stream_rename_collides(&snapshot, kafka_stream, stream_id, &request.name) {
                // One of its topics would take a Kafka name another topic already has.
                return Err(LogError::StreamExists(request.name.clone()));
            }
            ctx2.log.rename_stream(stream_id, &request.name)
        })
    })
    .await
    .map_err(|error| log_status(&error, Status::InvalidStreamName))?;
    Ok(Payload::Empty)
}

async fn purge_stream(ctx: &Arc<BrokerContext>, conn: &Conn, request: StreamRef) -> Outcome {
    let stream_id = resolve_stream(&ctx.log.snapshot(), &request.stream_id)?.id;
    conn.require(ctx, Access::ManageStream(stream_id))?;
    let log = Arc::clone(&ctx.log);
    blocking(move || log.purge_stream(stream_id))
        .await
        .map_err(|error| log_status(&error, Status::InvalidStreamName))?;
    Ok(Payload::Empty)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn log_errors_map_to_iggy_codes() {
        let invalid = LogError::InvalidName {
            name: "a/b".into(),
            reason: "contains '/'",
        };
        assert_eq!(
            log_status(&invalid, Status::InvalidTopicName),
            Status::InvalidTopicName
        );
        assert_eq!(
            log_status(
                &LogError::StreamExists("s".into()),
                Status::InvalidStreamName
            ),
            Status::StreamNameAlreadyExists
        );
        let too_many = LogError::LimitExceeded {
            name: "PARTITIONS_PER_TOPIC_MAX",
            value: 1,
            max: 0,
        };
        assert_eq!(
            log_status(&too_many, Status::InvalidTopicName),
            Status::InvalidPartitionsCount
        );
        assert_eq!(
            log_status(&LogError::ShuttingDown, Status::InvalidTopicName),
            Status::Error
        );
    }

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
