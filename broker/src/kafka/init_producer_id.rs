//! InitProducerId for idempotent producers: a new producer id with epoch 0, from blocks
//! persisted before use so an id is never handed out twice, even across crashes. From v3 a
//! producer may name its current id and epoch (KIP-360, after an error that left its
//! sequences unknown); an id this broker issued then gets its epoch bumped, which lets it
//! restart its sequences at 0 while fencing its older in-flight batches. An exhausted epoch or
//! an id we never issued gets a fresh id instead.
//!
//! A request with a transactional id goes to the transaction coordinator
//! ([`super::txn::init_producer_id`]).

use std::sync::Arc;

use kafka_protocol::ResponseError;
use kafka_protocol::messages::{
    InitProducerIdRequest, InitProducerIdResponse, ProducerId, RequestHeader,
};

use crate::context::BrokerContext;
use crate::core::RequestContext;

/// Serves one InitProducerId request.
pub(crate) async fn handle(
    ctx: &Arc<BrokerContext>,
    rc: &RequestContext,
    header: &RequestHeader,
    request: InitProducerIdRequest,
) -> InitProducerIdResponse {
    let refused = |error: ResponseError| {
        InitProducerIdResponse::default()
            .with_error_code(error.code())
            .with_producer_id(ProducerId(-1))
            .with_producer_epoch(-1)
    };
    if let Some(id) = request
        .transactional_id
        .as_ref()
        .filter(|id| !id.is_empty())
    {
        let txn = (id.as_str(), request.transaction_timeout_ms);
        return super::txn::init_producer_id(ctx, rc, header.request_api_version, txn).await;
    }
    let bump = (header.request_api_version >= 3
        && request.producer_id.0 >= 0
        && request.producer_epoch >= 0
        && request.producer_epoch < i16::MAX - 1)
        .then_some((request.producer_id.0, request.producer_epoch));
    let states = Arc::clone(&ctx.producers);
    // Reserving a block of ids writes and syncs a file: keep it off the async workers.
    let assigned = tokio::task::spawn_blocking(move || -> std::io::Result<(i64, i16)> {
        if let Some((id, epoch)) = bump
            && states.was_issued(id)?
        {
            return Ok((id, epoch + 1));
        }
        Ok((states.allocate_id()?, 0))
    })
    .await;
    match assigned {
        Ok(Ok((id, epoch))) => InitProducerIdResponse::default()
            .with_producer_id(ProducerId(id))
            .with_producer_epoch(epoch),
        Ok(Err(error)) => {
            tracing::error!(%error, "could not reserve producer ids");
            // Retriable: the client asks again, by then perhaps after the disk recovered.
            refused(ResponseError::CoordinatorNotAvailable)
        }
        Err(join_error) => {
            tracing::error!(%join_error, "producer id task failed");
            refused(ResponseError::CoordinatorNotAvailable)
        }
    }
}
