//! Group membership. Kafka's classic group protocol (join, sync, heartbeat, leave) runs over
//! the coordinator's state machine: each operation runs under the coordinator lock and, when the
//! answer is deferred (a join waiting for the rebalance, a follower's sync waiting for the
//! leader's assignment), awaits it only after the lock is released. Native consumer groups
//! (create, delete, join, leave and the views of get, list and sync) run over the core's
//! [`NativeGroups`](super::native_groups::NativeGroups): every operation first tells the topic's
//! groups its current partition count, so assignments follow partitions added or removed. The
//! requests and answers are the coordinator's domain types; the adapter translates its wire
//! messages to and from them and checks permissions.

use whippet_coordinator::consumer::{ConsumerHeartbeat, ConsumerHeartbeatResponse, TopicCatalog};
use whippet_coordinator::native_groups::{Group, GroupTable, NativeGroupRef};
use whippet_coordinator::{
    ErrorCode, HeartbeatRequest, JoinRequest, JoinResponse, LeaveMember, LeaveResponse, Reply,
    SyncRequest, SyncResponse,
};
use whippet_log::TopicMeta;

use super::{Core, CoreError, RequestContext};

/// Awaits a deferred answer. A dropped sender (never expected: the coordinator always answers)
/// becomes `on_drop`, so the client retries instead of hanging.
async fn settle<T>(reply: Reply<T>, on_drop: impl FnOnce() -> T) -> T {
    match reply {
        Reply::Ready(value) => value,
        Reply::Pending(rx) => rx.await.unwrap_or_else(|_| on_drop()),
    }
}

/// Joins (or rejoins) a group; the answer may wait for the rebalance to complete.
pub async fn join(core: &Core, rc: &RequestContext, request: JoinRequest) -> JoinResponse {
    let span = tracing::trace_span!(parent: &rc.span, "core.join_group");
    let member_id = request.member_id.clone();
    let reply = {
        let _entered = span.enter();
        core.groups.lock().join_group(request)
    };
    let answer = settle(reply, || {
        JoinResponse::error(ErrorCode::RebalanceInProgress, &member_id)
    });
    tracing::Instrument::instrument(answer, span).await
}

/// Syncs a member's assignment; a follower's answer waits for the leader's.
pub async fn sync(core: &Core, rc: &RequestContext, request: SyncRequest) -> SyncResponse {
    let span = tracing::trace_span!(parent: &rc.span, "core.sync_group");
    let reply = {
        let _entered = span.enter();
        core.groups.lock().sync_group(request)
    };
    let answer = settle(reply, || {
        SyncResponse::error(ErrorCode::RebalanceInProgress)
    });
    tracing::Instrument::instrument(answer, span).await
}

/// A member's heartbeat.
pub fn heartbeat(core: &Core, rc: &RequestContext, request: &HeartbeatRequest) -> ErrorCode {
    let _span = tracing::trace_span!(parent: &rc.span, "core.heartbeat").entered();
    core.groups.lock().heartbeat(request)
}

/// Members leave a group.
pub fn leave(
    core: &Core,
    rc: &RequestContext,
    group_id: &str,
    members: &[LeaveMember],
) -> LeaveResponse {
    let _span = tracing::trace_span!(parent: &rc.span, "core.leave_group").entered();
    core.groups.lock().leave_group(group_id, members)
}

/// The native client a request comes from: the connection id of a native request context is
/// the server-side client id.
fn native_client(rc: &RequestContext) -> u32 {
    u32::try_from(rc.connection_id).unwrap_or(u32::MAX)
}

/// Runs `f` on the native group table with `topic`'s groups told its current partition count.
fn on_topic<R>(core: &Core, topic: &TopicMeta, f: impl FnOnce(&mut GroupTable) -> R) -> R {
    core.native_groups.with_table(|table| {
        table.set_partitions(topic.stream_id, topic.id, topic.partition_count());
        f(table)
    })
}

/// Reads `topic`'s native groups (get, list, a member's assignment) through `read`.
pub fn native_groups<R>(
    core: &Core,
    rc: &RequestContext,
    topic: &TopicMeta,
    read: impl FnOnce(&GroupTable) -> R,
) -> R {
    let _span = tracing::trace_span!(parent: &rc.span, "core.native_groups").entered();
    on_topic(core, topic, |table| read(table))
}

/// Creates native group `name` on `topic` (lowest free id) and returns it once its definition is
/// on disk.
pub async fn create_native_group(
    core: &Core,
    rc: &RequestContext,
    topic: &TopicMeta,
    name: &str,
) -> Result<Group, CoreError> {
    let span = tracing::trace_span!(parent: &rc.span, "core.create_native_group");
    let created = {
        let _entered = span.enter();
        on_topic(core, topic, |table| {
            table
                .create(topic.stream_id, topic.id, name, topic.partition_count())
                .cloned()
        })?
    };
    tracing::Instrument::instrument(core.native_groups.persist(), span).await?;
    Ok(created)
}

/// Deletes a native group of `topic` (its members stop being members), durably.
pub async fn delete_native_group(
    core: &Core,
    rc: &RequestContext,
    topic: &TopicMeta,
    group: &NativeGroupRef,
) -> Result<(), CoreError> {
    let span = tracing::trace_span!(parent: &rc.span, "core.delete_native_group");
    {
        let _entered = span.enter();
        on_topic(core, topic, |table| {
            table.delete(topic.stream_id, topic.id, group)
        })?;
    }
    tracing::Instrument::instrument(core.native_groups.persist(), span).await
}

/// The requesting native client joins a group of `topic` (again: no change); the group is
/// rebalanced.
pub fn join_native_group(
    core: &Core,
    rc: &RequestContext,
    topic: &TopicMeta,
    group: &NativeGroupRef,
) -> Result<(), CoreError> {
    let _span = tracing::trace_span!(parent: &rc.span, "core.join_native_group").entered();
    let client = native_client(rc);
    Ok(on_topic(core, topic, |table| {
        table.join(topic.stream_id, topic.id, group, client)
    })?)
}

/// The requesting native client leaves a group of `topic` (MemberNotFound when it was not in
/// it); the group is rebalanced.
pub fn leave_native_group(
    core: &Core,
    rc: &RequestContext,
    topic: &TopicMeta,
    group: &NativeGroupRef,
) -> Result<(), CoreError> {
    let _span = tracing::trace_span!(parent: &rc.span, "core.leave_native_group").entered();
    let client = native_client(rc);
    Ok(on_topic(core, topic, |table| {
        table.leave(topic.stream_id, topic.id, group, client)
    })?)
}

/// A consumer-group (KIP-848) heartbeat over `topics`, the subscribable topics now. The answer
/// is given once what it changed (membership, epochs, assignments) is durable, so a member
/// never acts on an epoch or assignment a restart would forget.
pub async fn consumer_heartbeat(
    core: &Core,
    rc: &RequestContext,
    request: &ConsumerHeartbeat,
    topics: &TopicCatalog,
    matches: &(dyn Fn(&str, &str) -> bool + Sync),
) -> ConsumerHeartbeatResponse {
    let span = tracing::trace_span!(parent: &rc.span, "core.consumer_group_heartbeat");
    let changed = core
        .groups
        .change_durably(|c| c.consumer_heartbeat(request, topics, matches));
    let (answer, durable) = tracing::Instrument::instrument(changed, span).await;
    match durable {
        Ok(()) => answer,
        Err(error) => {
            tracing::warn!(%error, "consumer group change not durable");
            ConsumerHeartbeatResponse {
                error: ErrorCode::CoordinatorNotAvailable,
                ..answer
            }
        }
    }
}
