//! Ping (1), cluster metadata (12), the client views (20 get_me, 21 get_client, 22
//! get_clients) and the cluster-only routing codes (14, 103, 104, 123), which a single node
//! answers with FeatureUnavailable.

use std::sync::Arc;

use whippet_wire::native::codes;
use whippet_wire::native::commands::cluster::{
    ClusterMetadata, ClusterNode, ROLE_LEADER, STATUS_HEALTHY,
};
use whippet_wire::native::commands::system::{
    ClientDetails, ClientGroup, ClientHeader, ClientList, GetClient, TRANSPORT_TCP,
};
use whippet_wire::native::status::Status;

use super::call::{Access, Call, Conn, Outcome, Payload};
use super::state::ClientEntry;
use crate::context::BrokerContext;

/// Name of the one-node cluster in GET_CLUSTER_METADATA.
const CLUSTER_NAME: &str = "whippet";

pub(crate) async fn handle(ctx: &Arc<BrokerContext>, conn: &mut Conn, call: Call<'_>) -> Outcome {
    match call.code {
        codes::PING => Ok(Payload::Empty),
        codes::GET_CLUSTER_METADATA => Ok(Payload::encode(&cluster_metadata(ctx))),
        codes::GET_ME => Ok(Payload::encode(&details(ctx, &conn.client))),
        codes::GET_CLIENT => {
            let request: GetClient = call.decode()?;
            conn.require(ctx, Access::ReadServers)?;
            Ok(match ctx.native.clients.get(request.client_id) {
                Some(client) => Payload::encode(&details(ctx, &client)),
                None => Payload::Empty,
            })
        }
        codes::GET_CLIENTS => {
            conn.require(ctx, Access::ReadServers)?;
            let clients = ctx
                .native
                .clients
                .all()
                .iter()
                .map(|client| header(ctx, client))
                .collect();
            Ok(Payload::encode(&ClientList { clients }))
        }
        codes::ATTACH_CONSUMER_SESSION
        | codes::GET_POLL_ROUTING
        | codes::POLL_MESSAGES_ON_PRIMARY
        | codes::GET_CONSUMER_OFFSET_ROUTING => Err(Status::FeatureUnavailable),
        _ => Err(Status::InvalidCommand),
    }
}

/// The one-node roster: this broker, with the native port it is bound to.
fn cluster_metadata(ctx: &BrokerContext) -> ClusterMetadata {
    let native = ctx.addrs.native;
    let ip = if native.ip().is_unspecified() {
        String::from("127.0.0.1")
    } else {
        native.ip().to_string()
    };
    ClusterMetadata {
        name: CLUSTER_NAME.to_owned(),
        nodes: vec![ClusterNode {
            name: CLUSTER_NAME.to_owned(),
            ip,
            tcp_port: native.port(),
            quic_port: 0,
            http_port: ctx.addrs.http.port(),
            websocket_port: 0,
            role: ROLE_LEADER,
            status: STATUS_HEALTHY,
        }],
    }
}

fn header(ctx: &BrokerContext, client: &ClientEntry) -> ClientHeader {
    let groups = ctx.core.native_groups.memberships_of(client.id);
    ClientHeader {
        client_id: client.id,
        user_id: client.user().unwrap_or(u32::MAX),
        transport: TRANSPORT_TCP,
        address: client.addr.to_string(),
        groups_count: u32::try_from(groups.len()).unwrap_or(u32::MAX),
    }
}

fn details(ctx: &BrokerContext, client: &ClientEntry) -> ClientDetails {
    let groups = ctx
        .native
        .groups
        .memberships_of(client.id)
        .into_iter()
        .map(|(stream_id, topic_id, group_id)| ClientGroup {
            stream_id,
            topic_id,
            group_id,
        })
        .collect();
    ClientDetails {
        header: header(ctx, client),
        groups,
    }
}
