//! The system routes of the Iggy HTTP API: `GET /ping`, `GET /stats`, `GET /clients`,
//! `GET /clients/{id}`, `GET /cluster/metadata`, `GET /options/{scope}` and `POST /snapshot` (refused, as natively:
//! FeatureUnavailable), each the native command of the same name; and Whippet's own
//! `GET /cluster/info` for `whippet cluster info`.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Request, State};
use axum::routing::{get, post};
use serde_json::{Value, json};
use whippet_wire::native::codes;
use whippet_wire::native::commands::cluster::ClusterMetadata;
use whippet_wire::native::commands::describe_options::{
    DescribeOptions, OptionDescriptions, OptionScope,
};
use whippet_wire::native::commands::stats::Stats;
use whippet_wire::native::commands::system::{
    ClientDetails, ClientHeader, ClientList, EmptyBody, GetClient,
};

use super::auth::Caller;
use super::exec::{decode, decode_found, run};
use super::json;
use super::messages::kind_name;
use super::request::{ApiError, ApiResult, ok_json};
use super::{Api, begin};

/// The routes of this module.
pub(crate) fn routes() -> Router<Arc<Api>> {
    Router::new()
        .route("/ping", get(|| async { ok_json(&json!({})) }))
        .route("/stats", get(stats))
        .route("/cluster/info", get(cluster_info))
        .route("/cluster/metadata", get(cluster_metadata))
        .route("/clients", get(clients))
        .route("/clients/{id}", get(client))
        .route("/snapshot", post(snapshot))
        .route("/options/{scope}", get(describe_options))
}

async fn native_stats(api: &Api, (caller, peer): (Caller, SocketAddr)) -> Result<Stats, ApiError> {
    let payload = run(&api.ctx, &caller, peer, codes::GET_STATS, &EmptyBody).await?;
    decode_found(payload, "stats")
}

/// `GET /stats`: the native get_stats reply as Iggy's JSON.
async fn stats(State(api): State<Arc<Api>>, request: Request) -> ApiResult {
    let stats = native_stats(&api, begin(&api, &request)?).await?;
    ok_json(&json::stats(&stats))
}

/// `GET /cluster/info`: what `whippet cluster info` shows — version, listeners, the Kafka
/// stream, uptime, data size and disk, and counts (from the native get_stats).
async fn cluster_info(State(api): State<Arc<Api>>, request: Request) -> ApiResult {
    let stats = native_stats(&api, begin(&api, &request)?).await?;
    let addrs = &api.ctx.addrs;
    ok_json(&json!({
        "version": env!("CARGO_PKG_VERSION"),
        "listeners": {
            "kafka": addrs.kafka.to_string(),
            "native": addrs.native.to_string(),
            "http": addrs.http.to_string(),
        },
        "kafka_stream": api.ctx.kafka_stream,
        "uptime_us": stats.run_time,
        "data_bytes": stats.messages_size_bytes,
        "disk_free_bytes": stats.free_disk_space,
        "disk_total_bytes": stats.total_disk_space,
        "streams": stats.streams_count,
        "topics": stats.topics_count,
        "partitions": stats.partitions_count,
        "segments": stats.segments_count,
        "messages": stats.messages_count,
        "native_clients": stats.clients_count,
        "native_consumer_groups": stats.consumer_groups_count,
        "kafka_groups": api.ctx.core.groups.lock().list_groups(&[]).len(),
    }))
}

/// `GET /cluster/metadata`: Iggy's `ClusterMetadata` (one node, this broker).
async fn cluster_metadata(State(api): State<Arc<Api>>, request: Request) -> ApiResult {
    let (caller, peer) = begin(&api, &request)?;
    let payload = run(
        &api.ctx,
        &caller,
        peer,
        codes::GET_CLUSTER_METADATA,
        &EmptyBody,
    )
    .await?;
    let metadata: ClusterMetadata = decode_found(payload, "cluster metadata")?;
    let nodes: Vec<Value> = metadata
        .nodes
        .iter()
        .map(|node| {
            json!({
                "name": node.name,
                "ip": node.ip,
                "endpoints": {
                    "tcp": node.tcp_port,
                    "quic": node.quic_port,
                    "http": node.http_port,
                    "websocket": node.websocket_port,
                },
                "role": if node.role == 0 { "leader" } else { "follower" },
                "status": match node.status {
                    0 => "healthy",
                    1 => "starting",
                    2 => "stopping",
                    _ => "unreachable",
                },
            })
        })
        .collect();
    ok_json(&json!({"name": metadata.name, "nodes": nodes}))
}

/// Iggy's `ClientInfo` fields of a native client.
fn client_json(header: &ClientHeader) -> Value {
    let transport = match header.transport {
        1 => "TCP",
        2 => "QUIC",
        4 => "WebSocket",
        _ => "HTTP",
    };
    json!({
        "client_id": header.client_id,
        "user_id": (header.user_id != u32::MAX).then_some(header.user_id),
        "address": header.address,
        "transport": transport,
        "consumer_groups_count": header.groups_count,
    })
}

async fn clients(State(api): State<Arc<Api>>, request: Request) -> ApiResult {
    let (caller, peer) = begin(&api, &request)?;
    let payload = run(&api.ctx, &caller, peer, codes::GET_CLIENTS, &EmptyBody).await?;
    let list: Option<ClientList> = decode(payload)?;
    let clients: Vec<Value> = list
        .map(|list| list.clients.iter().map(client_json).collect())
        .unwrap_or_default();
    ok_json(&clients)
}

async fn client(
    State(api): State<Arc<Api>>,
    Path(id): Path<String>,
    request: Request,
) -> ApiResult {
    let (caller, peer) = begin(&api, &request)?;
    let client_id = id
        .parse()
        .map_err(|_| ApiError::bad_request(format!("invalid client id {id:?}")))?;
    let payload = run(
        &api.ctx,
        &caller,
        peer,
        codes::GET_CLIENT,
        &GetClient { client_id },
    )
    .await?;
    let details: ClientDetails = decode_found(payload, &format!("client {id}"))?;
    let mut value = client_json(&details.header);
    value["consumer_groups"] = details
        .groups
        .iter()
        .map(|g| json!({"stream_id": g.stream_id, "topic_id": g.topic_id, "group_id": g.group_id}))
        .collect();
    ok_json(&value)
}

/// `GET /options/{scope}`: the option keys a `topic`, `stream` or `user` accepts, as Iggy's
/// `OptionSpec` list (kind by name, default in that kind's encoding).
async fn describe_options(
    State(api): State<Arc<Api>>,
    Path(scope): Path<String>,
    request: Request,
) -> ApiResult {
    let (caller, peer) = begin(&api, &request)?;
    let scope = match scope.as_str() {
        "topic" => OptionScope::Topic,
        "stream" => OptionScope::Stream,
        "user" => OptionScope::User,
        other => {
            return Err(ApiError::bad_request(format!(
                "invalid scope {other:?}: topic, stream or user"
            )));
        }
    };
    let command = DescribeOptions { scope };
    let payload = run(&api.ctx, &caller, peer, codes::DESCRIBE_OPTIONS, &command).await?;
    let described: Option<OptionDescriptions> = decode(payload)?;
    let specs: Vec<Value> = described
        .map(|d| d.options)
        .unwrap_or_default()
        .iter()
        .map(|option| {
            json!({
                "key": option.key,
                "kind": kind_name(option.kind),
                "default_value": option.default.to_vec(),
                "description": option.description,
            })
        })
        .collect();
    ok_json(&specs)
}

/// `POST /snapshot`: the native command's answer (FeatureUnavailable: not served).
async fn snapshot(State(api): State<Arc<Api>>, request: Request) -> ApiResult {
    let (caller, peer) = begin(&api, &request)?;
    run(
        &api.ctx,
        &caller,
        peer,
        codes::GET_SNAPSHOT_FILE,
        &EmptyBody,
    )
    .await?;
    Err(ApiError::bad_request("snapshots are not served"))
}
