//! Routes one request to its command family. The command code comes from the header (the
//! legacy code for NonReplicated ops, the operation byte mapped back for replicated ones); the
//! session rules are checked here once, so no handler runs for a caller that is not logged in.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;

use whippet_wire::native::codes;
use whippet_wire::native::header::{Operation, RequestHeader};
use whippet_wire::native::status::Status;

use super::call::{Call, Conn};
use super::{
    Answer, groups, info, login, messages, offsets, partitions, streams, system, topics, users,
};
use crate::context::BrokerContext;

/// Commands that may be sent before login.
fn allowed_without_session(code: u32) -> bool {
    matches!(
        code,
        codes::PING | codes::LOGIN_USER_LEGACY | codes::LOGIN_WITH_TOKEN_LEGACY
    )
}

/// Answers one request.
pub(crate) async fn dispatch(
    ctx: &Arc<BrokerContext>,
    conn: &mut Conn,
    header: &RequestHeader,
    body: Bytes,
) -> Answer {
    if header.operation == Operation::Register {
        return login::register(ctx, conn, header, &body).await;
    }
    let Some(code) = header.command_code() else {
        return Answer::Reply(Err(Status::InvalidCommand));
    };
    // One span per request (disabled, and so free, unless DEBUG is wanted for it): the core's
    // operations record themselves inside it, and `Conn::rc` picks it up as the current span.
    let span = tracing::debug_span!("native_request", code, connection = conn.client.id);
    let started = Instant::now();
    let answered =
        tracing::Instrument::instrument(answer(ctx, conn, header, code, body), span).await;
    let failed = match &answered {
        Answer::Reply(Err(status)) => Some(*status),
        _ => None,
    };
    count(ctx, "native", code, started, failed);
    answered
}

/// Counts one answered command in the metrics of `listener`: its latency, and its status when
/// it failed.
fn count(
    ctx: &BrokerContext,
    listener: &'static str,
    code: u32,
    started: Instant,
    failed: Option<Status>,
) {
    let series = ctx.core.metrics.request(listener, code, || {
        codes::by_code(code).map_or_else(|| code.to_string(), |spec| spec.name.to_string())
    });
    series.observe(started.elapsed());
    if let Some(status) = failed {
        series.error(&format!("{status:?}"));
    }
}

/// Applies the session rules to one decoded command and answers it. A send takes the body
/// itself (its batch goes into the log without a copy); every other command borrows it.
async fn answer(
    ctx: &Arc<BrokerContext>,
    conn: &mut Conn,
    header: &RequestHeader,
    code: u32,
    body: Bytes,
) -> Answer {
    if !allowed_without_session(code) {
        if conn.user_id.is_none() {
            return Answer::Reply(Err(Status::Unauthenticated));
        }
        if header.operation != Operation::NonReplicated
            && header.session != 0
            && header.session != conn.session
        {
            return Answer::Reply(Err(Status::Unauthenticated));
        }
        if let Err(status) = login::check_session(ctx, conn) {
            return Answer::Reply(Err(status));
        }
    }
    if code == codes::SEND_MESSAGES {
        trace_request(code, header);
        return Answer::Reply(super::messages::send(ctx, conn, body).await);
    }
    let call = Call {
        code,
        header,
        body: &body,
    };
    match code {
        codes::LOGIN_USER_LEGACY | codes::LOGIN_WITH_TOKEN_LEGACY => login::legacy(header),
        codes::LOGOUT_USER => Answer::Reply(login::logout(ctx, conn)),
        codes::CHANGE_PASSWORD => {
            let outcome = route(ctx, conn, call).await;
            // A password change ends the user's other sessions (both protocols) at their next
            // request; the connection that made it stays logged in.
            if let (Ok(_), Some(user_id)) = (&outcome, conn.user_id) {
                ctx.core
                    .users
                    .renew_password_session(user_id, &mut conn.session_check);
            }
            Answer::Reply(outcome)
        }
        _ => Answer::Reply(route(ctx, conn, call).await),
    }
}

fn trace_request(code: u32, header: &RequestHeader) {
    tracing::trace!(
        code,
        client = header.client,
        request = header.request,
        "native request"
    );
}

async fn route(ctx: &Arc<BrokerContext>, conn: &mut Conn, call: Call<'_>) -> super::call::Outcome {
    trace_request(call.code, call.header);
    match call.code {
        1..=9 | 12 | 14 | 20..=29 | 103 | 104 | 123 => system::handle(ctx, conn, call).await,
        10 | 11 | 13 => info::handle(ctx, conn, call).await,
        31..=37 | 41..=43 => users::handle(ctx, conn, call).await,
        100..=102 => messages::handle(ctx, conn, call).await,
        120..=122 => offsets::handle(ctx, conn, call).await,
        200..=205 => streams::handle(ctx, conn, call).await,
        300..=305 => topics::handle(ctx, conn, call).await,
        402 | 403 | 503 => partitions::handle(ctx, conn, call).await,
        600..=606 => groups::handle(ctx, conn, call).await,
        _ => Err(Status::InvalidCommand),
    }
}

/// Runs one command for a caller another front authenticated (the HTTP API): `conn` carries
/// the caller's user, `body` the command's wire body. The same routing, permission checks and
/// core calls as a native request; only the framing differs (no header, no session number).
/// Counted in the metrics under `listener`.
pub(crate) async fn run_for(
    ctx: &Arc<BrokerContext>,
    conn: &mut Conn,
    listener: &'static str,
    code: u32,
    body: &[u8],
) -> super::call::Outcome {
    let header = detached_header(code);
    let started = Instant::now();
    let outcome = route(
        ctx,
        conn,
        Call {
            code,
            header: &header,
            body,
        },
    )
    .await;
    count(
        ctx,
        listener,
        code,
        started,
        outcome.as_ref().err().copied(),
    );
    outcome
}

/// The header a command run by [`run_for`] is seen with: a NonReplicated request with the
/// command's code, everything else zero (handlers read only the code, client and request).
fn detached_header(code: u32) -> RequestHeader {
    RequestHeader {
        checksum: 0,
        checksum_body: 0,
        cluster: 0,
        size: 0,
        view: 0,
        release: 0,
        replica: 0,
        client: 0,
        request_checksum: 0,
        timestamp: 0,
        request: 0,
        operation: Operation::NonReplicated,
        session: 0,
        user_id: 0,
        legacy_code: code,
    }
}
