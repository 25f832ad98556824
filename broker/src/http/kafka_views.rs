//! The Kafka side of the broker as JSON, under `/kafka/`: topics by their Kafka names with
//! per-partition log start, high watermark, size and segments; consumer groups with their
//! members and, per partition, the committed offset and the lag behind the high watermark.
//! Reads need the caller's read permission on what they show. Two routes change state, as the
//! Kafka admin API would: resetting a group's offsets (a simple commit, which the coordinator
//! accepts only while the group has no members) and deleting an empty group; both need
//! permission to manage the topics involved (deleting: every topic the group has offsets on).

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Request, State};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};
use whippet_coordinator::{ErrorCode, GroupState};
use whippet_log::{CatalogSnapshot, TopicMeta};

use super::auth::Caller;
use super::request::{ApiError, ApiResult, no_content, ok_json, read_json, user_error};
use super::{Api, begin};
use crate::context::BrokerContext;
use crate::core::users::Access;
use crate::core::{self, RequestContext, names, offsets, read};

/// The routes of this module.
pub(crate) fn routes() -> Router<Arc<Api>> {
    Router::new()
        .route("/kafka/info", get(info))
        .route("/kafka/topics", get(list_topics))
        .route("/kafka/topics/{topic}", get(describe_topic))
        .route("/kafka/groups", get(list_groups))
        .route(
            "/kafka/groups/{group}",
            get(describe_group).delete(delete_group),
        )
        .route("/kafka/groups/{group}/reset-offsets", post(reset_offsets))
}

fn authorize(ctx: &BrokerContext, caller: &Caller, access: Access) -> Result<(), ApiError> {
    ctx.core
        .users
        .authorize(caller.user_id, access)
        .map_err(|error| user_error(&error))
}

fn rc(caller: &Caller) -> RequestContext {
    RequestContext::new(core::Principal::User { id: caller.user_id }, "http", 0)
}

/// `GET /kafka/info`: the stream Kafka topics live in and the Kafka listener's address (any
/// logged-in caller: clients need them to name topics).
async fn info(State(api): State<Arc<Api>>, request: Request) -> ApiResult {
    begin(&api, &request)?;
    ok_json(&json!({
        "kafka_stream": api.ctx.kafka_stream,
        "kafka_listener": api.ctx.addrs.kafka.to_string(),
    }))
}

/// One topic with its partitions.
fn topic_json(name: &str, topic: &TopicMeta) -> Value {
    let partitions: Vec<Value> = topic
        .partitions
        .iter()
        .map(|partition| {
            let stats = partition.stats();
            json!({
                "partition": partition.id(),
                "log_start_offset": stats.log_start_offset,
                "high_watermark": stats.high_watermark,
                "size_bytes": stats.size_bytes,
                "segments": stats.segment_count,
                "messages": stats.messages,
            })
        })
        .collect();
    json!({
        "name": name,
        "stream_id": topic.stream_id,
        "topic_id": topic.id,
        "partitions": partitions,
    })
}

async fn list_topics(State(api): State<Arc<Api>>, request: Request) -> ApiResult {
    let (caller, _) = begin(&api, &request)?;
    let snapshot = api.ctx.log.snapshot();
    let topics: Vec<Value> = names::kafka_topics(&snapshot, &api.ctx.kafka_stream)
        .iter()
        .filter(|(_, topic)| {
            authorize(
                &api.ctx,
                &caller,
                Access::ReadTopic(topic.stream_id, topic.id),
            )
            .is_ok()
        })
        .map(|(name, topic)| topic_json(name, topic))
        .collect();
    ok_json(&topics)
}

/// The topic Kafka clients mean by `name`, or `404` saying so.
fn resolve(api: &Api, snapshot: &CatalogSnapshot, name: &str) -> Result<Arc<TopicMeta>, ApiError> {
    names::resolve(snapshot, &api.ctx.kafka_stream, name)
        .ok_or_else(|| ApiError::not_found(format!("unknown topic {name:?}")))
}

async fn describe_topic(
    State(api): State<Arc<Api>>,
    Path(name): Path<String>,
    request: Request,
) -> ApiResult {
    let (caller, _) = begin(&api, &request)?;
    let snapshot = api.ctx.log.snapshot();
    let topic = resolve(&api, &snapshot, &name)?;
    authorize(
        &api.ctx,
        &caller,
        Access::ReadTopic(topic.stream_id, topic.id),
    )?;
    ok_json(&topic_json(&name, &topic))
}

fn state_name(state: GroupState) -> &'static str {
    state.kafka_name()
}

async fn list_groups(State(api): State<Arc<Api>>, request: Request) -> ApiResult {
    let (caller, _) = begin(&api, &request)?;
    authorize(&api.ctx, &caller, Access::ReadStreams)?;
    let listings = api.ctx.core.groups.lock().list_groups(&[]);
    let groups: Vec<Value> = listings
        .iter()
        .map(|group| {
            json!({
                "group_id": group.group_id,
                "protocol_type": group.protocol_type,
                "state": state_name(group.state),
            })
        })
        .collect();
    ok_json(&groups)
}

/// The group's committed offsets with their topic names and lag, in key order.
fn offsets_json(api: &Api, caller: &Caller, snapshot: &CatalogSnapshot, group: &str) -> Vec<Value> {
    let mut committed = offsets::fetch(&api.ctx.core, &rc(caller), group, None);
    committed.sort_by_key(|(key, _)| *key);
    committed
        .into_iter()
        .filter_map(|(key, offset)| {
            let topic = snapshot.topic(key.stream, key.topic)?;
            authorize(&api.ctx, caller, Access::ReadTopic(key.stream, key.topic)).ok()?;
            let name = names::name_of(snapshot, &api.ctx.kafka_stream, topic)
                .unwrap_or_else(|| format!("{}/{}", key.stream, key.topic));
            let high = topic
                .partition(key.partition)
                .map(|log| log.high_watermark())?;
            let offset = offset.map_or(-1, |o| o.offset);
            let lag = u64::try_from(offset).map_or(high, |o| high.saturating_sub(o));
            Some(json!({
                "topic": name,
                "partition": key.partition,
                "committed_offset": offset,
                "high_watermark": high,
                "lag": lag,
            }))
        })
        .collect()
}

async fn describe_group(
    State(api): State<Arc<Api>>,
    Path(group): Path<String>,
    request: Request,
) -> ApiResult {
    let (caller, _) = begin(&api, &request)?;
    authorize(&api.ctx, &caller, Access::ReadStreams)?;
    let description = api.ctx.core.groups.lock().describe_group(&group);
    let snapshot = api.ctx.log.snapshot();
    let offsets = offsets_json(&api, &caller, &snapshot, &group);
    if description.state == GroupState::Dead && offsets.is_empty() {
        return Err(ApiError::not_found(format!("unknown group {group:?}")));
    }
    let members: Vec<Value> = description
        .members
        .iter()
        .map(|member| {
            json!({
                "member_id": member.member_id,
                "client_id": member.client_id,
                "client_host": member.client_host,
            })
        })
        .collect();
    // A group known only by its committed offsets (no member ever joined, or all left and
    // the coordinator forgot it) is Empty, as Kafka reports it.
    let state = match description.state {
        GroupState::Dead => GroupState::Empty,
        state => state,
    };
    ok_json(&json!({
        "group_id": group,
        "state": state_name(state),
        "protocol_type": description.protocol_type,
        "protocol": description.protocol_name,
        "members": members,
        "offsets": offsets,
    }))
}

async fn delete_group(
    State(api): State<Arc<Api>>,
    Path(group): Path<String>,
    request: Request,
) -> ApiResult {
    let (caller, _) = begin(&api, &request)?;
    let committed = offsets::fetch(&api.ctx.core, &rc(&caller), &group, None);
    for (key, _) in &committed {
        authorize(
            &api.ctx,
            &caller,
            Access::ManageTopic(key.stream, key.topic),
        )?;
    }
    if committed.is_empty() {
        authorize(&api.ctx, &caller, Access::ManageStreams)?;
    }
    let (code, durable) = api
        .ctx
        .core
        .groups
        .change_durably(|c| c.delete_group(&group))
        .await;
    durable.map_err(|error| ApiError::status_text(format!("deletion not durable: {error}")))?;
    match code {
        ErrorCode::None => no_content(),
        ErrorCode::NonEmptyGroup => Err(ApiError::bad_request(format!(
            "group {group:?} has active members; stop them first"
        ))),
        ErrorCode::GroupIdNotFound => Err(ApiError::not_found(format!("unknown group {group:?}"))),
        other => Err(ApiError::bad_request(format!(
            "group not deleted: {other:?}"
        ))),
    }
}

/// Body of an offset reset.
#[derive(Debug, Deserialize)]
struct ResetBody {
    topic: String,
    /// `earliest`, `latest`, `offset:N` or `timestamp:MS`.
    to: String,
    #[serde(default)]
    dry_run: bool,
}

/// Where a reset moves each partition.
#[derive(Debug, Clone, Copy)]
enum ResetTo {
    Earliest,
    Latest,
    Offset(u64),
    Timestamp(i64),
}

fn parse_to(text: &str) -> Result<ResetTo, ApiError> {
    let invalid = || {
        ApiError::bad_request(format!(
            "invalid reset target {text:?}: earliest, latest, offset:N or timestamp:MS"
        ))
    };
    match text.split_once(':') {
        None if text == "earliest" => Ok(ResetTo::Earliest),
        None if text == "latest" => Ok(ResetTo::Latest),
        Some(("offset", n)) => n.parse().map(ResetTo::Offset).map_err(|_| invalid()),
        Some(("timestamp", ms)) => ms.parse().map(ResetTo::Timestamp).map_err(|_| invalid()),
        _ => Err(invalid()),
    }
}

/// The offset a reset puts one partition at, kept within its readable range.
fn target_offset(
    ctx: &BrokerContext,
    rc: &RequestContext,
    log: &whippet_log::PartitionLog,
    to: ResetTo,
) -> Result<u64, ApiError> {
    let bounds = read::bounds(&ctx.core, rc, log);
    let offset = match to {
        ResetTo::Earliest => bounds.log_start,
        ResetTo::Latest => bounds.high_watermark,
        ResetTo::Offset(offset) => offset,
        ResetTo::Timestamp(ms) => {
            let found = read::find_by_timestamp(&ctx.core, rc, log, ms.saturating_mul(1000))
                .map_err(|error| ApiError::status_text(error.to_string()))?;
            found.map_or(bounds.high_watermark, |frame| frame.base_offset)
        }
    };
    Ok(offset.clamp(bounds.log_start, bounds.high_watermark))
}

async fn reset_offsets(
    State(api): State<Arc<Api>>,
    Path(group): Path<String>,
    request: Request,
) -> ApiResult {
    let (caller, _) = begin(&api, &request)?;
    let body: ResetBody = read_json(&api.ctx, request).await?;
    let to = parse_to(&body.to)?;
    let snapshot = api.ctx.log.snapshot();
    let topic = resolve(&api, &snapshot, &body.topic)?;
    authorize(
        &api.ctx,
        &caller,
        Access::ManageTopic(topic.stream_id, topic.id),
    )?;
    let rc = rc(&caller);
    let mut commits = Vec::new();
    let mut planned = Vec::new();
    for partition in 0..topic.partition_count() {
        let (Some(log), Some(target)) = (
            topic.partition(partition),
            offsets::Target::new(&topic, partition),
        ) else {
            continue;
        };
        let offset = target_offset(&api.ctx, &rc, log, to)?;
        planned.push(json!({"topic": body.topic, "partition": partition, "offset": offset}));
        commits.push(offsets::Commit {
            target,
            offset: i64::try_from(offset).unwrap_or(i64::MAX),
            leader_epoch: -1,
            metadata: String::new(),
        });
    }
    if !body.dry_run {
        commit(&api, &rc, &group, commits).await?;
    }
    ok_json(&json!({"group_id": group, "dry_run": body.dry_run, "offsets": planned}))
}

/// Commits the reset as a simple commit (no member, generation −1).
async fn commit(
    api: &Api,
    rc: &RequestContext,
    group: &str,
    commits: Vec<offsets::Commit>,
) -> Result<(), ApiError> {
    let committer = offsets::Committer {
        group_id: group.to_owned(),
        generation_id: -1,
        member_id: String::new(),
        group_instance_id: None,
    };
    let (outcomes, durable) = offsets::commit(&api.ctx.core, rc, committer, commits).await;
    durable.map_err(|error| ApiError::status_text(format!("reset not durable: {error}")))?;
    for outcome in outcomes {
        match outcome {
            offsets::CommitOutcome::Decided(ErrorCode::None) => {}
            offsets::CommitOutcome::Decided(code) => {
                return Err(ApiError::bad_request(format!(
                    "offsets not reset: {code:?} (a group with active members cannot be reset; \
                     stop its consumers first)"
                )));
            }
            offsets::CommitOutcome::TopicGone => {
                return Err(ApiError::not_found("topic deleted during the reset"));
            }
        }
    }
    Ok(())
}
