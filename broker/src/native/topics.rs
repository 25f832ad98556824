//! Native topic commands (300–305): get, list, create, delete, update and purge, plus the
//! TopicHeader / partition views other families reuse. Creating or renaming a topic is refused with
//! TopicNameAlreadyExists when its Kafka name (`<stream>.<topic>`, or the bare name in the
//! Kafka stream) already names another topic, so no Kafka name resolves two ways
//! ([`crate::core::names`]).

use std::sync::Arc;

use whippet_log::{StreamMeta, TopicMeta, TopicSettings};
use whippet_wire::native::codes;
use whippet_wire::native::commands::streams::StreamRef;
use whippet_wire::native::commands::topics::{
    CreateTopic, PartitionDetails, TopicDetails, TopicHeader, TopicList, TopicRef, UpdateTopic,
};
use whippet_wire::native::identifier::Identifier;
use whippet_wire::native::status::Status;

use super::call::{Access, Call, Conn, Outcome, Payload};
use super::errors::core_status;
use super::options::TopicOptions;
use super::streams::{micros, resolve_stream};
use crate::context::BrokerContext;
use crate::core::append::totals;
use crate::{core, limits};

/// Finds a topic of `stream` by id or name; missing → TopicIdNotFound / TopicNameNotFound by
/// the kind of identifier.
pub(crate) fn resolve_topic<'a>(
    stream: &'a StreamMeta,
    id: &Identifier,
) -> Result<&'a Arc<TopicMeta>, Status> {
    match id {
        Identifier::Numeric(id) => stream.topics.get(id).ok_or(Status::TopicIdNotFound),
        Identifier::Name(name) => stream
            .topics
            .values()
            .find(|topic| &topic.name == name)
            .ok_or(Status::TopicNameNotFound),
    }
}

/// Resolves `(stream, topic)` identifiers to ids against the current catalog.
pub(crate) fn resolve_ids(
    ctx: &BrokerContext,
    stream_id: &Identifier,
    topic_id: &Identifier,
) -> Result<(u32, u32), Status> {
    let snapshot = ctx.log.snapshot();
    let stream = resolve_stream(&snapshot, stream_id)?;
    let topic = resolve_topic(stream, topic_id)?;
    Ok((stream.id, topic.id))
}

/// The TopicHeader of a topic: effective expiry, size cap and compression, totals over its
/// partitions, and both option blocks.
pub(crate) fn topic_header(topic: &TopicMeta) -> TopicHeader {
    let options = TopicOptions::stored(&topic.settings);
    let (size_bytes, messages_count) = totals(topic.partitions.iter());
    TopicHeader {
        id: topic.id,
        created_at: micros(topic.created_at_us),
        partitions_count: topic.partition_count(),
        message_expiry: options.message_expiry_us(),
        compression: options.compression_code(),
        max_topic_size: options.max_topic_size(),
        size_bytes,
        messages_count,
        name: topic.name.clone(),
        explicit_options: options.explicit_block(),
        derived_options: options.derived_block(),
    }
}

/// The topic with its partitions (get_topic and create_topic replies). The log does not track
/// when a partition was created, so each reports its topic's creation time.
pub(crate) fn topic_details(topic: &TopicMeta) -> TopicDetails {
    let partitions = topic
        .partitions
        .iter()
        .map(|partition| {
            let stats = partition.stats();
            PartitionDetails {
                id: partition.id(),
                created_at: micros(topic.created_at_us),
                segments_count: stats.segment_count,
                current_offset: stats.high_watermark.saturating_sub(1),
                size_bytes: stats.data_bytes,
                messages_count: stats.messages,
            }
        })
        .collect();
    TopicDetails {
        topic: topic_header(topic),
        partitions,
    }
}

/// Routes codes 300–305.
pub(crate) async fn handle(ctx: &Arc<BrokerContext>, conn: &mut Conn, call: Call<'_>) -> Outcome {
    match call.code {
        codes::GET_TOPIC => get_topic(ctx, conn, call.decode()?),
        codes::GET_TOPICS => get_topics(ctx, conn, call.decode()?),
        codes::CREATE_TOPIC => create_topic(ctx, conn, call.decode()?).await,
        codes::DELETE_TOPIC => delete_topic(ctx, conn, call.decode()?).await,
        codes::UPDATE_TOPIC => update_topic(ctx, conn, call.decode()?).await,
        codes::PURGE_TOPIC => purge_topic(ctx, conn, call.decode()?).await,
        _ => Err(Status::InvalidCommand),
    }
}

/// A read of a stream that does not exist finds nothing (the reference server answers an
/// empty topic / topic list, not an error), once the caller may read streams at all.
fn missing_stream(ctx: &BrokerContext, conn: &Conn, empty: Payload) -> Outcome {
    conn.require(ctx, Access::ReadStreams)?;
    Ok(empty)
}

fn get_topic(ctx: &BrokerContext, conn: &Conn, request: TopicRef) -> Outcome {
    let snapshot = ctx.log.snapshot();
    let Ok(stream) = resolve_stream(&snapshot, &request.stream_id) else {
        return missing_stream(ctx, conn, Payload::Empty);
    };
    let Ok(topic) = resolve_topic(stream, &request.topic_id) else {
        conn.require(ctx, Access::ReadTopics(stream.id))?;
        return Ok(Payload::Empty);
    };
    conn.require(ctx, Access::ReadTopic(stream.id, topic.id))?;
    Ok(Payload::encode(&topic_details(topic)))
}

fn get_topics(ctx: &BrokerContext, conn: &Conn, request: StreamRef) -> Outcome {
    let snapshot = ctx.log.snapshot();
    let Ok(stream) = resolve_stream(&snapshot, &request.stream_id) else {
        let none = TopicList { topics: Vec::new() };
        return missing_stream(ctx, conn, Payload::encode(&none));
    };
    conn.require(ctx, Access::ReadTopics(stream.id))?;
    let topics = stream.topics.values().map(|t| topic_header(t)).collect();
    Ok(Payload::encode(&TopicList { topics }))
}

async fn create_topic(ctx: &Arc<BrokerContext>, conn: &Conn, request: CreateTopic) -> Outcome {
    let stream_id = resolve_stream(&ctx.log.snapshot(), &request.stream_id)?.id;
    conn.require(ctx, Access::CreateTopic(stream_id))?;
    if request.partitions_count > limits::NATIVE_TOPIC_PARTITIONS_MAX {
        return Err(Status::TooManyPartitions);
    }
    let options = TopicOptions::created(TopicOptions::parse(&request.options)?);
    check_topic_size(conn, &options)?;
    let mut settings = TopicSettings {
        // A native batch of 1 000 × 1 KiB messages is over Kafka's 1 MiB default; native
        // topics take batches up to the log's frame limit, as the native frame cap allows.
        max_message_bytes: whippet_log::limits::FRAME_PAYLOAD_BYTES_MAX,
        ..TopicSettings::default()
    };
    options.apply(&mut settings, |_| true);
    let (name, partitions) = (request.name, request.partitions_count);
    let topic =
        core::topics::create_topic(&ctx.core, &conn.rc(), stream_id, name, partitions, settings)
            .await
            .map_err(|error| core_status(&error, Status::InvalidTopicName))?;
    Ok(Payload::encode(&topic_details(&topic)))
}

/// The reference server's rule: a capped topic's max_topic_size may not be below its segment
/// size (InvalidTopicSize). Classic SDKs (0.10), whose servers checked against a server-wide
/// segment size, are not held to it.
fn check_topic_size(conn: &Conn, options: &TopicOptions) -> Result<(), Status> {
    let cap = options.max_topic_size();
    let capped = cap != 0 && cap != u64::MAX;
    if capped && !conn.classic && cap < options.segment_size() {
        return Err(Status::InvalidTopicSize);
    }
    Ok(())
}

/// Deletes the topic through the core, which takes its offsets and groups with it.
async fn delete_topic(ctx: &Arc<BrokerContext>, conn: &Conn, request: TopicRef) -> Outcome {
    let (stream_id, topic_id) = resolve_ids(ctx, &request.stream_id, &request.topic_id)?;
    conn.require(ctx, Access::ManageTopic(stream_id, topic_id))?;
    core::topics::delete_topic(&ctx.core, &conn.rc(), stream_id, topic_id)
        .await
        .map_err(|error| core_status(&error, Status::InvalidTopicName))?;
    Ok(Payload::Empty)
}

async fn update_topic(ctx: &Arc<BrokerContext>, conn: &Conn, request: UpdateTopic) -> Outcome {
    let snapshot = ctx.log.snapshot();
    let stream = resolve_stream(&snapshot, &request.stream_id)?;
    let topic = resolve_topic(stream, &request.topic_id)?;
    let (stream_id, topic_id) = (stream.id, topic.id);
    conn.require(ctx, Access::ManageTopic(stream_id, topic_id))?;
    let parsed = TopicOptions::parse(&request.options)?;
    if !conn.classic {
        parsed.check_updatable()?;
    }
    let updated = TopicOptions::stored(&topic.settings).updated(parsed.clone());
    check_topic_size(conn, &updated)?;
    let mut settings = topic.settings.clone();
    updated.apply(&mut settings, |key| parsed.touches(key));
    let rc = conn.rc();
    core::topics::update_topic(&ctx.core, &rc, stream_id, topic_id, request.name, settings)
        .await
        .map_err(|error| core_status(&error, Status::InvalidTopicName))?;
    Ok(Payload::Empty)
}

/// Purges the topic through the core, which drops the offsets stored on it (offsets restart
/// at 0, so a stored offset would skip new messages), as the Iggy server does.
async fn purge_topic(ctx: &Arc<BrokerContext>, conn: &Conn, request: TopicRef) -> Outcome {
    let (stream_id, topic_id) = resolve_ids(ctx, &request.stream_id, &request.topic_id)?;
    conn.require(ctx, Access::ManageTopic(stream_id, topic_id))?;
    core::topics::purge_topic(&ctx.core, &conn.rc(), stream_id, topic_id)
        .await
        .map_err(|error| core_status(&error, Status::InvalidTopicName))?;
    Ok(Payload::Empty)
}
