//! InitProducerId for idempotent producers: a new producer id with epoch 0, from blocks
//! persisted before use so an id is never handed out twice, even across crashes. From v3 a
//! producer may name its current id and epoch (KIP-360, after an error that left its
//! sequences unknown); an id this broker issued then gets its epoch bumped, which lets it
//! restart its sequences at 0 while fencing its older in-flight batches. An exhausted epoch or
//! an id we never issued gets a fresh id instead.
//!
//! Transactions are not supported yet: a request with a transactional id is answered with
//! INVALID_REQUEST, which clients treat as fatal rather than retrying forever.

use std::sync::Arc;

use kafka_protocol::ResponseError;
use kafka_protocol::messages::{
    InitProducerIdRequest, InitProducerIdResponse, ProducerId, RequestHeader,
};

use crate::context::BrokerContext;

/// Serves one InitProducerId request.
pub(crate) async fn handle(
    ctx: &Arc<BrokerContext>,
    header: &RequestHeader,
    request: InitProducerIdRequest,
) -> InitProducerIdResponse {
    let refused = |error: ResponseError| {
        InitProducerIdResponse::default()
            .with_error_code(error.code())
            .with_producer_id(ProducerId(-1))
            .with_producer_epoch(-1)
    };
    if request
        .transactional_id
        .as_ref()
        .is_some_and(|id| !id.is_empty())
    {
        return refused(ResponseError::InvalidRequest);
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
