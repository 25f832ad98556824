//! Group membership of the classic group protocol (join, sync, heartbeat, leave) over the
//! coordinator's state machine. Each operation runs under the coordinator lock and, when the
//! answer is deferred (a join waiting for the rebalance, a follower's sync waiting for the
//! leader's assignment), awaits it only after the lock is released. The requests and answers
//! are the coordinator's domain types; the adapter translates its wire messages to and from
//! them.

use whippet_coordinator::{
    ErrorCode, HeartbeatRequest, JoinRequest, JoinResponse, LeaveMember, LeaveResponse, Reply,
    SyncRequest, SyncResponse,
};

use super::{Core, RequestContext};

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
