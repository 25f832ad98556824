//! The transaction APIs (KIP-98) over the core's transaction coordinator
//! ([`crate::core::txn`]): InitProducerId with a transactional id, AddPartitionsToTxn (v0–3,
//! the client form), AddOffsetsToTxn, TxnOffsetCommit, EndTxn, and the admin views
//! DescribeTransactions and ListTransactions. This file only translates; every rule is the
//! core's. Authorization: adding a partition needs the right to send to its topic, offsets the
//! right to use groups (as OffsetCommit does).

use std::sync::Arc;

use kafka_protocol::ResponseError;
use kafka_protocol::messages::add_partitions_to_txn_response::{
    AddPartitionsToTxnPartitionResult, AddPartitionsToTxnTopicResult,
};
use kafka_protocol::messages::txn_offset_commit_response::{
    TxnOffsetCommitResponsePartition, TxnOffsetCommitResponseTopic,
};
use kafka_protocol::messages::{
    AddOffsetsToTxnRequest, AddOffsetsToTxnResponse, AddPartitionsToTxnRequest,
    AddPartitionsToTxnResponse, EndTxnRequest, EndTxnResponse, InitProducerIdResponse, ProducerId,
    RequestHeader, TxnOffsetCommitRequest, TxnOffsetCommitResponse,
};

use super::error_code::core_error;
use super::topics::find_topic;
use crate::context::BrokerContext;
use crate::core::RequestContext;
use crate::core::txn::state::PendingOffset;
use crate::core::txn::{TxnError, partition_of};
use crate::core::users::Access;

mod views;

pub(crate) use views::{describe_transactions, list_transactions};

/// The Kafka error of a refused transaction operation; `fenced_code` is what the request's
/// version knows a fenced producer by (PRODUCER_FENCED from KIP-588, INVALID_PRODUCER_EPOCH
/// before).
pub(crate) fn txn_error(error: &TxnError, fenced_code: ResponseError) -> ResponseError {
    match error {
        TxnError::InvalidProducerIdMapping => ResponseError::InvalidProducerIdMapping,
        TxnError::ProducerFenced => fenced_code,
        TxnError::InvalidTxnState => ResponseError::InvalidTxnState,
        TxnError::ConcurrentTransactions => ResponseError::ConcurrentTransactions,
        TxnError::InvalidTimeout => ResponseError::InvalidTransactionTimeout,
        TxnError::Meta(reason) => {
            tracing::warn!(reason, "transaction state not written");
            ResponseError::CoordinatorNotAvailable
        }
        TxnError::Core(error) => core_error(error),
    }
}

/// PRODUCER_FENCED for versions at or above `since`, else INVALID_PRODUCER_EPOCH.
fn fenced(version: i16, since: i16) -> ResponseError {
    if version >= since {
        ResponseError::ProducerFenced
    } else {
        ResponseError::InvalidProducerEpoch
    }
}

fn code(result: Result<(), TxnError>, fenced_code: ResponseError) -> i16 {
    result.map_or_else(|e| txn_error(&e, fenced_code).code(), |()| 0)
}

/// InitProducerId for transactional id `id`.
pub(crate) async fn init_producer_id(
    ctx: &Arc<BrokerContext>,
    rc: &RequestContext,
    version: i16,
    (id, timeout_ms): (&str, i32),
) -> InitProducerIdResponse {
    let states = Arc::clone(&ctx.producers);
    let allocate = || async move {
        tokio::task::spawn_blocking(move || states.allocate_id())
            .await
            .map_err(std::io::Error::other)?
    };
    let core = &ctx.core;
    match core
        .txns
        .init(core, rc, (id, i64::from(timeout_ms)), allocate)
        .await
    {
        Ok((producer_id, epoch)) => InitProducerIdResponse::default()
            .with_producer_id(ProducerId(producer_id))
            .with_producer_epoch(epoch),
        Err(error) => InitProducerIdResponse::default()
            .with_error_code(txn_error(&error, fenced(version, 4)).code())
            .with_producer_id(ProducerId(-1))
            .with_producer_epoch(-1),
    }
}

/// AddPartitionsToTxn v0–3: every partition gets the request's one outcome, except those
/// refused on their own (unknown, not authorized), which fail the rest with
/// OPERATION_NOT_ATTEMPTED, as Kafka does.
pub(crate) async fn add_partitions(
    ctx: &Arc<BrokerContext>,
    rc: &RequestContext,
    header: &RequestHeader,
    request: AddPartitionsToTxnRequest,
) -> AddPartitionsToTxnResponse {
    // Each partition's own refusal, in request order.
    let mut own: Vec<Option<ResponseError>> = Vec::new();
    let mut resolved = Vec::new();
    for topic in &request.v3_and_below_topics {
        let meta = find_topic(ctx, topic.name.as_str());
        let allowed = meta.as_deref().is_some_and(|m| {
            let send = Access::SendMessages(m.stream_id, m.id);
            ctx.core.users.permits(rc, send).is_ok()
        });
        for &partition in &topic.partitions {
            let index = u32::try_from(partition).ok();
            let known = meta
                .as_ref()
                .zip(index)
                .filter(|(m, p)| m.partition(*p).is_some());
            own.push(match known {
                None => Some(ResponseError::UnknownTopicOrPartition),
                Some(_) if !allowed => Some(ResponseError::TopicAuthorizationFailed),
                Some((m, p)) => {
                    resolved.push((Arc::clone(m), p));
                    None
                }
            });
        }
    }
    let outcome = if own.iter().all(Option::is_none) {
        let core = &ctx.core;
        let txn = (
            request.v3_and_below_transactional_id.as_str(),
            request.v3_and_below_producer_id.0,
            request.v3_and_below_producer_epoch,
        );
        code(
            core.txns.add_partitions(core, txn, &resolved).await,
            fenced(header.request_api_version, 2),
        )
    } else {
        ResponseError::OperationNotAttempted.code()
    };
    let mut own = own.into_iter();
    let results = request
        .v3_and_below_topics
        .iter()
        .map(|topic| {
            let partitions = topic
                .partitions
                .iter()
                .map(|&p| {
                    let error = own.next().flatten().map_or(outcome, |e| e.code());
                    AddPartitionsToTxnPartitionResult::default()
                        .with_partition_index(p)
                        .with_partition_error_code(error)
                })
                .collect();
            AddPartitionsToTxnTopicResult::default()
                .with_name(topic.name.clone())
                .with_results_by_partition(partitions)
        })
        .collect();
    AddPartitionsToTxnResponse::default().with_results_by_topic_v3_and_below(results)
}

/// AddOffsetsToTxn: the group's offsets will be part of the transaction.
pub(crate) async fn add_offsets(
    ctx: &Arc<BrokerContext>,
    rc: &RequestContext,
    header: &RequestHeader,
    request: AddOffsetsToTxnRequest,
) -> AddOffsetsToTxnResponse {
    if ctx.core.users.permits(rc, Access::UseGroups).is_err() {
        return AddOffsetsToTxnResponse::default()
            .with_error_code(ResponseError::GroupAuthorizationFailed.code());
    }
    let core = &ctx.core;
    let txn = (
        request.transactional_id.as_str(),
        request.producer_id.0,
        request.producer_epoch,
    );
    let result = core
        .txns
        .add_offsets(core, txn, request.group_id.as_str(), None)
        .await;
    AddOffsetsToTxnResponse::default()
        .with_error_code(code(result, fenced(header.request_api_version, 2)))
}

/// TxnOffsetCommit: offsets the group commits if the transaction commits.
pub(crate) async fn txn_offset_commit(
    ctx: &Arc<BrokerContext>,
    rc: &RequestContext,
    header: &RequestHeader,
    request: TxnOffsetCommitRequest,
) -> TxnOffsetCommitResponse {
    let mut own: Vec<Option<ResponseError>> = Vec::new();
    let mut pending = Vec::new();
    let group_ok = ctx.core.users.permits(rc, Access::UseGroups).is_ok();
    for topic in &request.topics {
        let meta = find_topic(ctx, topic.name.as_str());
        for p in &topic.partitions {
            let partition = u32::try_from(p.partition_index).ok();
            let key = meta.as_deref().zip(partition).and_then(|(m, index)| {
                m.partition(index)?;
                Some(partition_of(m, index))
            });
            own.push(match key {
                _ if !group_ok => Some(ResponseError::GroupAuthorizationFailed),
                None => Some(ResponseError::UnknownTopicOrPartition),
                Some(partition) => {
                    pending.push(PendingOffset {
                        partition,
                        offset: p.committed_offset,
                        leader_epoch: p.committed_leader_epoch,
                        metadata: p
                            .committed_metadata
                            .as_ref()
                            .map_or_else(String::new, |m| m.to_string()),
                    });
                    None
                }
            });
        }
    }
    let outcome = if own.iter().all(Option::is_none) {
        let core = &ctx.core;
        let txn = (
            request.transactional_id.as_str(),
            request.producer_id.0,
            request.producer_epoch,
        );
        let result = core
            .txns
            .add_offsets(core, txn, request.group_id.as_str(), Some(pending))
            .await;
        code(result, fenced(header.request_api_version, 3))
    } else {
        ResponseError::OperationNotAttempted.code()
    };
    let mut own = own.into_iter();
    let topics = request
        .topics
        .iter()
        .map(|topic| {
            let partitions = topic
                .partitions
                .iter()
                .map(|p| {
                    let error = own.next().flatten().map_or(outcome, |e| e.code());
                    TxnOffsetCommitResponsePartition::default()
                        .with_partition_index(p.partition_index)
                        .with_error_code(error)
                })
                .collect();
            TxnOffsetCommitResponseTopic::default()
                .with_name(topic.name.clone())
                .with_partitions(partitions)
        })
        .collect();
    TxnOffsetCommitResponse::default().with_topics(topics)
}

/// EndTxn: commit or abort.
pub(crate) async fn end_txn(
    ctx: &Arc<BrokerContext>,
    rc: &RequestContext,
    header: &RequestHeader,
    request: EndTxnRequest,
) -> EndTxnResponse {
    let core = &ctx.core;
    let txn = (
        request.transactional_id.as_str(),
        request.producer_id.0,
        request.producer_epoch,
    );
    let result = core.txns.end(core, rc, txn, request.committed).await;
    EndTxnResponse::default().with_error_code(code(result, fenced(header.request_api_version, 2)))
}
