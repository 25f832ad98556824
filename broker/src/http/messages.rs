//! Messages (send, poll, flush) and consumer offsets of the Iggy HTTP API. A send's JSON
//! messages become the native batch the SDK would send (frames with checksums), a poll's
//! native reply is walked message by message into Iggy's JSON; both run as the native
//! commands through [`super::exec`].

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::{Path, Request, State};
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::{Bytes, BytesMut};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use whippet_wire::native::batch::{BatchRecord, encode_batch, records};
use whippet_wire::native::codes;
use whippet_wire::native::commands::messages::{
    Consumer, FlushUnsavedBuffer, Partitioning, PollMessages, PollReply, PollingStrategy,
    SendMessages, SendMetadata, SendReply,
};
use whippet_wire::native::commands::offsets::{
    Ack, ConsumerOffsetReply, DeleteConsumerOffset, GetConsumerOffset, StoreConsumerOffset,
};
use whippet_wire::native::message::NewMessage;
use whippet_wire::native::user_headers::{HeaderEntry, decode_user_headers, encode_entries};

use super::exec::{bytes, decode, run, run_raw};
use super::request::{ApiError, ApiResult, no_content, ok_json, query, query_param, read_json};
use super::resources::identifier;
use super::{Api, begin};
use crate::limits;

/// The routes of this module.
pub(crate) fn routes() -> Router<Arc<Api>> {
    Router::new()
        .route(
            "/streams/{stream}/topics/{topic}/messages",
            get(poll).post(send),
        )
        .route(
            "/streams/{stream}/topics/{topic}/messages/flush/{partition}/{fsync}",
            get(flush),
        )
        .route(
            "/streams/{stream}/topics/{topic}/consumer-offsets",
            get(get_offset).put(store_offset),
        )
        .route(
            "/streams/{stream}/topics/{topic}/consumer-offsets/{consumer}",
            axum::routing::delete(delete_offset),
        )
}

/// Header kinds by the names Iggy's JSON gives them, in code order from 1.
const KIND_NAMES: [&str; 15] = [
    "raw", "string", "bool", "int8", "int16", "int32", "int64", "int128", "uint8", "uint16",
    "uint32", "uint64", "uint128", "float32", "float64",
];

fn kind_code(name: &str) -> Option<u8> {
    let index = KIND_NAMES.iter().position(|kind| *kind == name)?;
    u8::try_from(index + 1).ok()
}

/// The JSON name of a header value kind (`raw` for an unknown one).
pub(crate) fn kind_name(code: u8) -> &'static str {
    usize::from(code)
        .checked_sub(1)
        .and_then(|index| KIND_NAMES.get(index))
        .copied()
        .unwrap_or("raw")
}

/// One side of a header entry in JSON: its kind and base64 bytes.
#[derive(Debug, Serialize, Deserialize)]
struct HeaderField {
    kind: String,
    value: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct HeaderJson {
    key: HeaderField,
    value: HeaderField,
}

fn field_to_wire(field: &HeaderField) -> Result<(u8, Bytes), ApiError> {
    let kind = kind_code(&field.kind)
        .ok_or_else(|| ApiError::bad_request(format!("unknown header kind {:?}", field.kind)))?;
    let value = STANDARD
        .decode(&field.value)
        .map_err(|_| ApiError::bad_request("header value is not base64"))?;
    Ok((kind, Bytes::from(value)))
}

/// A message's user headers as the native block: from Iggy's entry list, or raw base64.
fn headers_to_wire(headers: Option<&Value>) -> Result<Vec<u8>, ApiError> {
    match headers {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(raw)) => STANDARD
            .decode(raw)
            .map_err(|_| ApiError::bad_request("user_headers is not base64")),
        Some(list) => {
            let list: Vec<HeaderJson> = serde_json::from_value(list.clone())
                .map_err(|error| ApiError::bad_request(format!("invalid user_headers: {error}")))?;
            let mut entries = Vec::with_capacity(list.len());
            for entry in &list {
                let (key_kind, key) = field_to_wire(&entry.key)?;
                let (value_kind, value) = field_to_wire(&entry.value)?;
                entries.push(HeaderEntry {
                    key_kind,
                    key,
                    value_kind,
                    value,
                });
            }
            let mut out = BytesMut::new();
            encode_entries(&entries, &mut out);
            Ok(out.to_vec())
        }
    }
}

/// A message's user headers in JSON: the entry list, or raw base64 if they do not decode.
fn headers_to_json(raw: &[u8]) -> Value {
    match decode_user_headers(raw) {
        Ok(entries) => entries
            .iter()
            .map(|entry| {
                json!({
                    "key": {"kind": kind_name(entry.key_kind), "value": STANDARD.encode(&entry.key)},
                    "value": {"kind": kind_name(entry.value_kind), "value": STANDARD.encode(&entry.value)},
                })
            })
            .collect(),
        Err(_) => Value::String(STANDARD.encode(raw)),
    }
}

/// Iggy's partitioning JSON.
#[derive(Debug, Deserialize)]
struct PartitioningJson {
    kind: String,
    #[serde(default)]
    value: String,
}

impl PartitioningJson {
    fn to_wire(&self) -> Result<Partitioning, ApiError> {
        let value = STANDARD
            .decode(&self.value)
            .map_err(|_| ApiError::bad_request("partitioning value is not base64"))?;
        match self.kind.as_str() {
            "balanced" => Ok(Partitioning::Balanced),
            "partition_id" => {
                let bytes: [u8; 4] = value.as_slice().try_into().map_err(|_| {
                    ApiError::bad_request("partition_id partitioning needs a 4-byte value")
                })?;
                Ok(Partitioning::PartitionId(u32::from_le_bytes(bytes)))
            }
            "messages_key" if !value.is_empty() && value.len() <= 255 => {
                Ok(Partitioning::MessagesKey(Bytes::from(value)))
            }
            other => Err(ApiError::bad_request(format!(
                "invalid partitioning {other:?}"
            ))),
        }
    }
}

/// A message id: a number, a decimal string or a UUID's hex.
#[derive(Debug)]
enum MessageId {
    Number(u128),
    Text(String),
}

impl<'de> Deserialize<'de> for MessageId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = MessageId;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a message id: an unsigned number or a string")
            }
            fn visit_u64<E: serde::de::Error>(self, value: u64) -> Result<MessageId, E> {
                Ok(MessageId::Number(u128::from(value)))
            }
            fn visit_u128<E: serde::de::Error>(self, value: u128) -> Result<MessageId, E> {
                Ok(MessageId::Number(value))
            }
            fn visit_str<E: serde::de::Error>(self, value: &str) -> Result<MessageId, E> {
                Ok(MessageId::Text(value.to_owned()))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

impl MessageId {
    fn value(&self) -> Result<u128, ApiError> {
        match self {
            Self::Number(id) => Ok(*id),
            Self::Text(text) => text
                .parse::<u128>()
                .or_else(|_| u128::from_str_radix(&text.replace('-', ""), 16))
                .map_err(|_| ApiError::bad_request(format!("invalid message id {text:?}"))),
        }
    }
}

#[derive(Debug, Deserialize)]
struct MessageJson {
    #[serde(default)]
    id: Option<MessageId>,
    payload: String,
    #[serde(default)]
    user_headers: Option<Value>,
}

#[derive(Debug, Deserialize)]
struct SendBody {
    partitioning: PartitioningJson,
    messages: Vec<MessageJson>,
}

/// A message's id, payload and user header block.
type DecodedMessage = (u128, Vec<u8>, Vec<u8>);

/// Payload and header bytes of each message, decoded from the JSON.
fn decode_messages(messages: &[MessageJson]) -> Result<Vec<DecodedMessage>, ApiError> {
    messages
        .iter()
        .map(|message| {
            let id = message.id.as_ref().map_or(Ok(0), MessageId::value)?;
            let payload = STANDARD
                .decode(&message.payload)
                .map_err(|_| ApiError::bad_request("payload is not base64"))?;
            let headers = headers_to_wire(message.user_headers.as_ref())?;
            Ok((id, payload, headers))
        })
        .collect()
}

fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| {
            u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX)
        })
}

/// The native send body for `body`'s messages.
fn send_command(stream: &str, topic: &str, body: &SendBody) -> Result<BytesMut, ApiError> {
    if body.messages.is_empty() {
        return Err(ApiError::bad_request("messages must not be empty"));
    }
    let decoded = decode_messages(&body.messages)?;
    let messages: Vec<NewMessage<'_>> = decoded
        .iter()
        .enumerate()
        .map(|(index, (id, payload, headers))| NewMessage {
            id: *id,
            offset_delta: u32::try_from(index).unwrap_or(u32::MAX),
            timestamp_delta: 0,
            payload,
            user_headers: headers,
        })
        .collect();
    let batch = encode_batch(now_micros(), &messages);
    let command = SendMessages {
        metadata: SendMetadata {
            stream_id: identifier(stream)?,
            topic_id: identifier(topic)?,
            partitioning: body.partitioning.to_wire()?,
            message_count: u32::try_from(messages.len())
                .map_err(|_| ApiError::bad_request("too many messages"))?,
        },
        batch: &batch,
    };
    let mut out = BytesMut::with_capacity(command.encoded_size());
    command.encode(&mut out);
    Ok(out)
}

async fn send(
    State(api): State<Arc<Api>>,
    Path((stream, topic)): Path<(String, String)>,
    request: Request,
) -> ApiResult {
    let (caller, peer) = begin(&api, &request)?;
    let body: SendBody = read_json(&api.ctx, request).await?;
    let command = send_command(&stream, &topic, &body)?;
    drop(body);
    let payload = run_raw(&api.ctx, &caller, peer, codes::SEND_MESSAGES, &command).await?;
    let reply: Option<SendReply> = decode(payload)?;
    let confirmations: Vec<Value> = reply
        .map(|reply| reply.acks)
        .unwrap_or_default()
        .iter()
        .map(|ack| {
            json!({
                "stream_id": ack.stream_id,
                "topic_id": ack.topic_id,
                "partition_id": ack.partition_id,
                "base_offset": ack.base_offset,
            })
        })
        .collect();
    let mut response = super::request::json_body(&json!({ "confirmations": confirmations }));
    *response.status_mut() = axum::http::StatusCode::CREATED;
    Ok(response)
}

/// The consumer a query or body names: `consumer_id` (a number or a name; default 0), a
/// group when `consumer_kind` is `consumer_group`.
fn consumer(id: Option<&str>, kind: Option<&str>) -> Result<Consumer, ApiError> {
    let id = identifier(id.unwrap_or("0"))?;
    match kind {
        None | Some("consumer" | "") => Ok(Consumer::Single(id)),
        Some("consumer_group" | "consumer-group") => Ok(Consumer::Group(id)),
        Some(other) => Err(ApiError::bad_request(format!(
            "invalid consumer_kind {other:?}"
        ))),
    }
}

fn strategy(query: &BTreeMap<String, String>) -> Result<PollingStrategy, ApiError> {
    let value = query_param::<u64>(query, "value")?.unwrap_or(0);
    match query.get("kind").map_or("offset", String::as_str) {
        "offset" => Ok(PollingStrategy::Offset(value)),
        "timestamp" => Ok(PollingStrategy::Timestamp(value)),
        "first" => Ok(PollingStrategy::First),
        "last" => Ok(PollingStrategy::Last),
        "next" => Ok(PollingStrategy::Next),
        other => Err(ApiError::bad_request(format!(
            "invalid polling kind {other:?}"
        ))),
    }
}

async fn poll(
    State(api): State<Arc<Api>>,
    Path((stream, topic)): Path<(String, String)>,
    request: Request,
) -> ApiResult {
    let (caller, peer) = begin(&api, &request)?;
    let query = query(&request);
    let command = PollMessages {
        consumer: consumer(
            query.get("consumer_id").map(String::as_str),
            query.get("consumer_kind").map(String::as_str),
        )?,
        stream_id: identifier(&stream)?,
        topic_id: identifier(&topic)?,
        partition_id: query_param(&query, "partition_id")?,
        strategy: strategy(&query)?,
        count: query_param(&query, "count")?
            .unwrap_or(10)
            .min(limits::HTTP_POLL_MESSAGES_MAX),
        auto_commit: query_param(&query, "auto_commit")?.unwrap_or(false),
    };
    let auto_commit = command.auto_commit;
    let payload = run(&api.ctx, &caller, peer, codes::POLL_MESSAGES, &command).await?;
    let reply = bytes(payload);
    ok_json(&polled_json(&reply, !auto_commit)?)
}

/// Iggy's `IggyMessageHeader` JSON (typed: a message id is a u128, which a JSON value
/// cannot hold).
#[derive(Debug, Serialize)]
struct MessageHeaderJson {
    checksum: u64,
    id: u128,
    offset: u64,
    timestamp: u64,
    origin_timestamp: u64,
    user_headers_length: u32,
    payload_length: u32,
    reserved: u64,
}

#[derive(Debug, Serialize)]
struct PolledMessageJson {
    header: MessageHeaderJson,
    payload: String,
    user_headers: Value,
}

/// Iggy's `PolledMessages` JSON.
#[derive(Debug, Serialize)]
struct PolledJson {
    partition_id: u32,
    current_offset: u64,
    count: usize,
    messages: Vec<PolledMessageJson>,
}

/// A native poll reply as Iggy's `PolledMessages` JSON, cut after
/// [`limits::HTTP_POLL_BYTES_MAX`] bytes when `cap_bytes` (never for an auto-committing poll:
/// the broker stored the offset of the last message it read, so every one must be answered).
fn polled_json(reply: &[u8], cap_bytes: bool) -> Result<PolledJson, ApiError> {
    let broken =
        |error: &dyn std::fmt::Display| ApiError::status_text(format!("poll reply: {error}"));
    let parsed = PollReply::parse(reply).map_err(|error| broken(&error))?;
    let mut messages = Vec::new();
    let mut answered_bytes = 0;
    'records: for record in records(parsed.records) {
        let record: BatchRecord<'_> = record.map_err(|error| broken(&error))?;
        for message in record.messages() {
            let message = message.map_err(|error| broken(&error))?;
            let frame = &message.frame;
            if cap_bytes && !messages.is_empty() && answered_bytes >= limits::HTTP_POLL_BYTES_MAX {
                break 'records;
            }
            answered_bytes += frame.payload.len() + frame.user_headers.len();
            messages.push(PolledMessageJson {
                header: MessageHeaderJson {
                    checksum: frame.header.checksum,
                    id: frame.header.id,
                    offset: message.offset,
                    timestamp: message.timestamp,
                    origin_timestamp: message.origin_timestamp,
                    user_headers_length: frame.header.user_headers_length,
                    payload_length: frame.header.payload_length,
                    reserved: 0,
                },
                payload: STANDARD.encode(frame.payload),
                user_headers: headers_to_json(frame.user_headers),
            });
        }
    }
    Ok(PolledJson {
        partition_id: parsed.header.partition_id,
        current_offset: parsed.header.current_offset,
        count: messages.len(),
        messages,
    })
}

async fn flush(
    State(api): State<Arc<Api>>,
    Path((stream, topic, partition, fsync)): Path<(String, String, String, String)>,
    request: Request,
) -> ApiResult {
    let (caller, peer) = begin(&api, &request)?;
    let partition: u32 = partition
        .parse()
        .map_err(|_| ApiError::bad_request(format!("invalid partition {partition:?}")))?;
    let fsync = fsync.strip_prefix("fsync=").unwrap_or(&fsync) == "true";
    let command = FlushUnsavedBuffer {
        stream_id: identifier(&stream)?,
        topic_id: identifier(&topic)?,
        partition_id: partition,
        fsync,
    };
    run(
        &api.ctx,
        &caller,
        peer,
        codes::FLUSH_UNSAVED_BUFFER,
        &command,
    )
    .await?;
    no_content()
}

async fn get_offset(
    State(api): State<Arc<Api>>,
    Path((stream, topic)): Path<(String, String)>,
    request: Request,
) -> ApiResult {
    let (caller, peer) = begin(&api, &request)?;
    let query = query(&request);
    let command = GetConsumerOffset {
        consumer: consumer(
            query.get("consumer_id").map(String::as_str),
            query.get("consumer_kind").map(String::as_str),
        )?,
        stream_id: identifier(&stream)?,
        topic_id: identifier(&topic)?,
        partition_id: query_param(&query, "partition_id")?,
    };
    let payload = run(
        &api.ctx,
        &caller,
        peer,
        codes::GET_CONSUMER_OFFSET,
        &command,
    )
    .await?;
    let reply: ConsumerOffsetReply =
        decode(payload)?.ok_or_else(|| ApiError::not_found("consumer offset not found"))?;
    ok_json(&json!({
        "partition_id": reply.partition_id,
        "current_offset": reply.current_offset,
        "stored_offset": reply.stored_offset,
    }))
}

/// Body of an offset store.
#[derive(Debug, Deserialize)]
struct StoreBody {
    #[serde(default)]
    consumer_id: Option<Value>,
    #[serde(default)]
    consumer_kind: Option<String>,
    #[serde(default)]
    partition_id: Option<u32>,
    offset: u64,
}

/// A JSON identifier value (string or number) as text.
fn id_text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

async fn store_offset(
    State(api): State<Arc<Api>>,
    Path((stream, topic)): Path<(String, String)>,
    request: Request,
) -> ApiResult {
    let (caller, peer) = begin(&api, &request)?;
    let body: StoreBody = read_json(&api.ctx, request).await?;
    let id = id_text(body.consumer_id.as_ref());
    let command = StoreConsumerOffset {
        consumer: consumer(id.as_deref(), body.consumer_kind.as_deref())?,
        stream_id: identifier(&stream)?,
        topic_id: identifier(&topic)?,
        partition_id: body.partition_id,
        offset: body.offset,
        ack: Ack::Quorum,
    };
    run(
        &api.ctx,
        &caller,
        peer,
        codes::STORE_CONSUMER_OFFSET,
        &command,
    )
    .await?;
    no_content()
}

async fn delete_offset(
    State(api): State<Arc<Api>>,
    Path((stream, topic, consumer_id)): Path<(String, String, String)>,
    request: Request,
) -> ApiResult {
    let (caller, peer) = begin(&api, &request)?;
    let query = query(&request);
    let command = DeleteConsumerOffset {
        consumer: consumer(
            Some(&consumer_id),
            query.get("consumer_kind").map(String::as_str),
        )?,
        stream_id: identifier(&stream)?,
        topic_id: identifier(&topic)?,
        partition_id: query_param(&query, "partition_id")?,
        ack: Ack::Quorum,
    };
    run(
        &api.ctx,
        &caller,
        peer,
        codes::DELETE_CONSUMER_OFFSET,
        &command,
    )
    .await?;
    no_content()
}
