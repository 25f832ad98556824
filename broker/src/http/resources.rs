//! Streams, topics, partitions and consumer groups of the Iggy HTTP API, each route the native
//! command of the same name run through [`super::exec`], with Iggy's JSON bodies.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Request, State};
use axum::routing::{delete, get};
use bytes::Bytes;
use serde::Deserialize;
use whippet_wire::native::codes;
use whippet_wire::native::commands::groups::{
    CreateConsumerGroup, GroupDetails, GroupList, GroupRef,
};
use whippet_wire::native::commands::partitions::{DeleteSegments, PartitionsChange};
use whippet_wire::native::commands::streams::{
    CreateStream, StreamDetails, StreamList, StreamRef, UpdateStream,
};
use whippet_wire::native::commands::system::EmptyBody;
use whippet_wire::native::commands::topics::{
    CreateTopic, TopicDetails, TopicList, TopicRef, UpdateTopic,
};
use whippet_wire::native::identifier::Identifier;
use whippet_wire::native::user_headers::{HeaderEntry, KIND_STRING, Options};

use super::auth::Caller;
use super::exec::{decode, decode_found, run};
use super::json;
use super::request::{
    ApiError, ApiResult, created_json, no_content, ok_json, query, query_param, read_json,
};
use super::{Api, begin};

/// The routes of this module.
pub(crate) fn routes() -> Router<Arc<Api>> {
    Router::new()
        .route("/streams", get(list_streams).post(create_stream))
        .route(
            "/streams/{stream}",
            get(get_stream).put(update_stream).delete(delete_stream),
        )
        .route("/streams/{stream}/purge", delete(purge_stream))
        .route(
            "/streams/{stream}/topics",
            get(list_topics).post(create_topic),
        )
        .route(
            "/streams/{stream}/topics/{topic}",
            get(get_topic).put(update_topic).delete(delete_topic),
        )
        .route(
            "/streams/{stream}/topics/{topic}/purge",
            delete(purge_topic),
        )
        .route(
            "/streams/{stream}/topics/{topic}/partitions",
            axum::routing::post(create_partitions).delete(delete_partitions),
        )
        .route(
            "/streams/{stream}/topics/{topic}/partitions/{partition}",
            delete(delete_segments),
        )
        .route(
            "/streams/{stream}/topics/{topic}/consumer-groups",
            get(list_groups).post(create_group),
        )
        .route(
            "/streams/{stream}/topics/{topic}/consumer-groups/{group}",
            get(get_group).delete(delete_group),
        )
}

/// An identifier from a path segment: a number is an id, anything else a name.
pub(crate) fn identifier(text: &str) -> Result<Identifier, ApiError> {
    if let Ok(id) = text.parse::<u32>() {
        return Ok(Identifier::Numeric(id));
    }
    Identifier::name(text)
        .map_err(|_| ApiError::bad_request(format!("invalid identifier {text:?}")))
}

/// An option block from a JSON string map.
pub(crate) fn string_options(map: &BTreeMap<String, String>) -> Options {
    Options {
        entries: map
            .iter()
            .map(|(key, value)| HeaderEntry::string(key, value))
            .collect(),
    }
}

/// A u64 option entry (kind 12, little-endian), the form the native SDK sends numbers in.
fn u64_option(key: &str, value: u64) -> HeaderEntry {
    HeaderEntry {
        key_kind: KIND_STRING,
        key: Bytes::copy_from_slice(key.as_bytes()),
        value_kind: 12,
        value: Bytes::copy_from_slice(&value.to_le_bytes()),
    }
}

async fn list_streams(State(api): State<Arc<Api>>, request: Request) -> ApiResult {
    let (caller, peer) = begin(&api, &request)?;
    let payload = run(&api.ctx, &caller, peer, codes::GET_STREAMS, &EmptyBody).await?;
    let list: StreamList = decode_found(payload, "streams")?;
    let streams: Vec<_> = list.streams.iter().map(json::stream).collect();
    ok_json(&streams)
}

async fn get_stream(
    State(api): State<Arc<Api>>,
    Path(stream): Path<String>,
    request: Request,
) -> ApiResult {
    let (caller, peer) = begin(&api, &request)?;
    let stream_id = identifier(&stream)?;
    let payload = run(
        &api.ctx,
        &caller,
        peer,
        codes::GET_STREAM,
        &StreamRef { stream_id },
    )
    .await?;
    let details: StreamDetails = decode_found(payload, &format!("stream {stream}"))?;
    ok_json(&json::stream_details(&details))
}

/// Body of stream create and update.
#[derive(Debug, Deserialize)]
struct StreamBody {
    name: String,
    #[serde(default)]
    options: BTreeMap<String, String>,
}

async fn create_stream(State(api): State<Arc<Api>>, request: Request) -> ApiResult {
    let (caller, peer) = begin(&api, &request)?;
    let body: StreamBody = read_json(&api.ctx, request).await?;
    let command = CreateStream {
        name: body.name,
        options: string_options(&body.options),
    };
    let payload = run(&api.ctx, &caller, peer, codes::CREATE_STREAM, &command).await?;
    let details: StreamDetails = decode_found(payload, "stream")?;
    created_json(&json::stream_details(&details))
}

async fn update_stream(
    State(api): State<Arc<Api>>,
    Path(stream): Path<String>,
    request: Request,
) -> ApiResult {
    let (caller, peer) = begin(&api, &request)?;
    let stream_id = identifier(&stream)?;
    let body: StreamBody = read_json(&api.ctx, request).await?;
    let command = UpdateStream {
        stream_id,
        name: body.name,
        options: string_options(&body.options),
    };
    run(&api.ctx, &caller, peer, codes::UPDATE_STREAM, &command).await?;
    no_content()
}

async fn delete_stream(
    State(api): State<Arc<Api>>,
    Path(stream): Path<String>,
    request: Request,
) -> ApiResult {
    let (caller, peer) = begin(&api, &request)?;
    stream_command(&api, caller, peer, &stream, codes::DELETE_STREAM).await
}

async fn purge_stream(
    State(api): State<Arc<Api>>,
    Path(stream): Path<String>,
    request: Request,
) -> ApiResult {
    let (caller, peer) = begin(&api, &request)?;
    stream_command(&api, caller, peer, &stream, codes::PURGE_STREAM).await
}

async fn stream_command(
    api: &Api,
    caller: Caller,
    peer: SocketAddr,
    stream: &str,
    code: u32,
) -> ApiResult {
    let stream_id = identifier(stream)?;
    run(&api.ctx, &caller, peer, code, &StreamRef { stream_id }).await?;
    no_content()
}

async fn list_topics(
    State(api): State<Arc<Api>>,
    Path(stream): Path<String>,
    request: Request,
) -> ApiResult {
    let (caller, peer) = begin(&api, &request)?;
    let stream_id = identifier(&stream)?;
    let payload = run(
        &api.ctx,
        &caller,
        peer,
        codes::GET_TOPICS,
        &StreamRef { stream_id },
    )
    .await?;
    let list: TopicList = decode_found(payload, "topics")?;
    let topics: Vec<_> = list.topics.iter().map(json::topic).collect();
    ok_json(&topics)
}

async fn get_topic(
    State(api): State<Arc<Api>>,
    Path((stream, topic)): Path<(String, String)>,
    request: Request,
) -> ApiResult {
    let (caller, peer) = begin(&api, &request)?;
    let command = topic_ref(&stream, &topic)?;
    let payload = run(&api.ctx, &caller, peer, codes::GET_TOPIC, &command).await?;
    let details: TopicDetails = decode_found(payload, &format!("topic {topic}"))?;
    ok_json(&json::topic_details(&details))
}

fn topic_ref(stream: &str, topic: &str) -> Result<TopicRef, ApiError> {
    Ok(TopicRef {
        stream_id: identifier(stream)?,
        topic_id: identifier(topic)?,
    })
}

/// Body of topic create and update (Iggy's fields; the typed ones become native options).
#[derive(Debug, Deserialize)]
struct TopicBody {
    name: String,
    #[serde(default)]
    partitions_count: Option<u32>,
    #[serde(default)]
    compression_algorithm: Option<String>,
    #[serde(default)]
    message_expiry: Option<u64>,
    #[serde(default)]
    max_topic_size: Option<u64>,
    #[serde(default)]
    options: BTreeMap<String, String>,
}

impl TopicBody {
    /// The native option block: the string options, plus each typed field the map does not
    /// already name (0, the server default, is left out).
    fn options(&self) -> Options {
        let mut options = string_options(&self.options);
        let named = |key: &str| self.options.contains_key(key);
        if let Some(compression) = &self.compression_algorithm
            && !named("compression_algorithm")
        {
            options
                .entries
                .push(HeaderEntry::string("compression_algorithm", compression));
        }
        for (key, value) in [
            ("message_expiry", self.message_expiry),
            ("max_topic_size", self.max_topic_size),
        ] {
            if let Some(value) = value.filter(|value| *value != 0)
                && !named(key)
            {
                options.entries.push(u64_option(key, value));
            }
        }
        options
    }
}

async fn create_topic(
    State(api): State<Arc<Api>>,
    Path(stream): Path<String>,
    request: Request,
) -> ApiResult {
    let (caller, peer) = begin(&api, &request)?;
    let stream_id = identifier(&stream)?;
    let body: TopicBody = read_json(&api.ctx, request).await?;
    let command = CreateTopic {
        stream_id,
        partitions_count: body.partitions_count.unwrap_or(1),
        options: body.options(),
        name: body.name,
    };
    let payload = run(&api.ctx, &caller, peer, codes::CREATE_TOPIC, &command).await?;
    let details: TopicDetails = decode_found(payload, "topic")?;
    created_json(&json::topic_details(&details))
}

async fn update_topic(
    State(api): State<Arc<Api>>,
    Path((stream, topic)): Path<(String, String)>,
    request: Request,
) -> ApiResult {
    let (caller, peer) = begin(&api, &request)?;
    let ids = topic_ref(&stream, &topic)?;
    let body: TopicBody = read_json(&api.ctx, request).await?;
    let command = UpdateTopic {
        stream_id: ids.stream_id,
        topic_id: ids.topic_id,
        options: body.options(),
        name: body.name,
    };
    run(&api.ctx, &caller, peer, codes::UPDATE_TOPIC, &command).await?;
    no_content()
}

async fn delete_topic(
    State(api): State<Arc<Api>>,
    Path((stream, topic)): Path<(String, String)>,
    request: Request,
) -> ApiResult {
    let (caller, peer) = begin(&api, &request)?;
    topic_command(&api, caller, peer, (&stream, &topic), codes::DELETE_TOPIC).await
}

async fn purge_topic(
    State(api): State<Arc<Api>>,
    Path((stream, topic)): Path<(String, String)>,
    request: Request,
) -> ApiResult {
    let (caller, peer) = begin(&api, &request)?;
    topic_command(&api, caller, peer, (&stream, &topic), codes::PURGE_TOPIC).await
}

async fn topic_command(
    api: &Api,
    caller: Caller,
    peer: SocketAddr,
    (stream, topic): (&str, &str),
    code: u32,
) -> ApiResult {
    run(&api.ctx, &caller, peer, code, &topic_ref(stream, topic)?).await?;
    no_content()
}

/// Body of partition creation.
#[derive(Debug, Deserialize)]
struct PartitionsBody {
    partitions_count: u32,
}

async fn create_partitions(
    State(api): State<Arc<Api>>,
    Path((stream, topic)): Path<(String, String)>,
    request: Request,
) -> ApiResult {
    let (caller, peer) = begin(&api, &request)?;
    let ids = topic_ref(&stream, &topic)?;
    let body: PartitionsBody = read_json(&api.ctx, request).await?;
    let command = PartitionsChange {
        stream_id: ids.stream_id,
        topic_id: ids.topic_id,
        partitions_count: body.partitions_count,
    };
    run(&api.ctx, &caller, peer, codes::CREATE_PARTITIONS, &command).await?;
    created_json(&serde_json::json!({}))
}

async fn delete_partitions(
    State(api): State<Arc<Api>>,
    Path((stream, topic)): Path<(String, String)>,
    request: Request,
) -> ApiResult {
    let (caller, peer) = begin(&api, &request)?;
    let ids = topic_ref(&stream, &topic)?;
    let count = query_param::<u32>(&query(&request), "partitions_count")?
        .ok_or_else(|| ApiError::bad_request("partitions_count is required"))?;
    let command = PartitionsChange {
        stream_id: ids.stream_id,
        topic_id: ids.topic_id,
        partitions_count: count,
    };
    run(&api.ctx, &caller, peer, codes::DELETE_PARTITIONS, &command).await?;
    no_content()
}

/// `DELETE …/partitions/{partition}?segments_count=N`: drops the partition's oldest sealed
/// segments (the native delete_segments).
async fn delete_segments(
    State(api): State<Arc<Api>>,
    Path((stream, topic, partition)): Path<(String, String, String)>,
    request: Request,
) -> ApiResult {
    let (caller, peer) = begin(&api, &request)?;
    let ids = topic_ref(&stream, &topic)?;
    let partition_id = partition
        .parse()
        .map_err(|_| ApiError::bad_request(format!("invalid partition {partition:?}")))?;
    let count = query_param::<u32>(&query(&request), "segments_count")?
        .ok_or_else(|| ApiError::bad_request("segments_count is required"))?;
    let command = DeleteSegments {
        stream_id: ids.stream_id,
        topic_id: ids.topic_id,
        partition_id,
        segments_count: count,
    };
    run(&api.ctx, &caller, peer, codes::DELETE_SEGMENTS, &command).await?;
    no_content()
}

async fn list_groups(
    State(api): State<Arc<Api>>,
    Path((stream, topic)): Path<(String, String)>,
    request: Request,
) -> ApiResult {
    let (caller, peer) = begin(&api, &request)?;
    let command = topic_ref(&stream, &topic)?;
    let payload = run(
        &api.ctx,
        &caller,
        peer,
        codes::GET_CONSUMER_GROUPS,
        &command,
    )
    .await?;
    let list: Option<GroupList> = decode(payload)?;
    let groups: Vec<_> = list
        .map(|list| list.groups.iter().map(json::group).collect())
        .unwrap_or_default();
    ok_json(&groups)
}

fn group_ref(stream: &str, topic: &str, group: &str) -> Result<GroupRef, ApiError> {
    Ok(GroupRef {
        stream_id: identifier(stream)?,
        topic_id: identifier(topic)?,
        group_id: identifier(group)?,
    })
}

async fn get_group(
    State(api): State<Arc<Api>>,
    Path((stream, topic, group)): Path<(String, String, String)>,
    request: Request,
) -> ApiResult {
    let (caller, peer) = begin(&api, &request)?;
    let command = group_ref(&stream, &topic, &group)?;
    let payload = run(&api.ctx, &caller, peer, codes::GET_CONSUMER_GROUP, &command).await?;
    let details: GroupDetails = decode_found(payload, &format!("consumer group {group}"))?;
    ok_json(&json::group_details(&details))
}

/// Body of consumer group creation.
#[derive(Debug, Deserialize)]
struct GroupBody {
    name: String,
}

async fn create_group(
    State(api): State<Arc<Api>>,
    Path((stream, topic)): Path<(String, String)>,
    request: Request,
) -> ApiResult {
    let (caller, peer) = begin(&api, &request)?;
    let ids = topic_ref(&stream, &topic)?;
    let body: GroupBody = read_json(&api.ctx, request).await?;
    let command = CreateConsumerGroup {
        stream_id: ids.stream_id,
        topic_id: ids.topic_id,
        name: body.name,
    };
    let payload = run(
        &api.ctx,
        &caller,
        peer,
        codes::CREATE_CONSUMER_GROUP,
        &command,
    )
    .await?;
    let details: GroupDetails = decode_found(payload, "consumer group")?;
    created_json(&json::group_details(&details))
}

async fn delete_group(
    State(api): State<Arc<Api>>,
    Path((stream, topic, group)): Path<(String, String, String)>,
    request: Request,
) -> ApiResult {
    let (caller, peer) = begin(&api, &request)?;
    let command = group_ref(&stream, &topic, &group)?;
    run(
        &api.ctx,
        &caller,
        peer,
        codes::DELETE_CONSUMER_GROUP,
        &command,
    )
    .await?;
    no_content()
}
