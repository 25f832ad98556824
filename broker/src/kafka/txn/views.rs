//! DescribeTransactions and ListTransactions: the transactional ids as the coordinator holds
//! them, in Kafka's state names. Both need the right to read the server's state.

use std::collections::BTreeMap;
use std::sync::Arc;

use kafka_protocol::ResponseError;
use kafka_protocol::messages::describe_transactions_response::{TopicData, TransactionState};
use kafka_protocol::messages::list_transactions_response::TransactionState as ListedState;
use kafka_protocol::messages::{
    DescribeTransactionsRequest, DescribeTransactionsResponse, ListTransactionsRequest,
    ListTransactionsResponse, ProducerId, TransactionalId,
};
use kafka_protocol::protocol::StrBytes;

use crate::context::BrokerContext;
use crate::core::RequestContext;
use crate::core::txn::now_ms;
use crate::core::txn::state::{Phase, Txn};
use crate::core::users::Access;
use crate::kafka::topics::{kafka_name, topic_name};

/// Kafka's name of a transaction's state.
fn state_name(txn: &Txn) -> &'static str {
    match txn.phase {
        Phase::Empty => "Empty",
        Phase::Ongoing => "Ongoing",
        Phase::PrepareCommit => "PrepareCommit",
        Phase::PrepareAbort => "PrepareAbort",
    }
}

/// The Kafka states ListTransactions may filter on.
const STATES: &[&str] = &[
    "Empty",
    "Ongoing",
    "PrepareCommit",
    "PrepareAbort",
    "CompleteCommit",
    "CompleteAbort",
    "Dead",
    "PrepareEpochFence",
];

fn allowed(ctx: &BrokerContext, rc: &RequestContext) -> bool {
    ctx.core.users.permits(rc, Access::ReadServers).is_ok()
}

/// DescribeTransactions.
pub(crate) fn describe_transactions(
    ctx: &Arc<BrokerContext>,
    rc: &RequestContext,
    request: &DescribeTransactionsRequest,
) -> DescribeTransactionsResponse {
    let state = ctx.core.meta.load();
    let snapshot = ctx.log.snapshot();
    let states = request
        .transactional_ids
        .iter()
        .map(|id| {
            let entry = TransactionState::default().with_transactional_id(id.clone());
            if !allowed(ctx, rc) {
                return entry
                    .with_error_code(ResponseError::TransactionalIdAuthorizationFailed.code());
            }
            let Some(txn) = state.txns.get(id.as_str()) else {
                return entry.with_error_code(ResponseError::TransactionalIdNotFound.code());
            };
            let mut topics: BTreeMap<String, Vec<i32>> = BTreeMap::new();
            for (partition, _) in &txn.partitions {
                let name = snapshot
                    .topic(partition.stream, partition.topic)
                    .and_then(|topic| kafka_name(ctx, topic));
                if let Some(name) = name {
                    let index = i32::try_from(partition.partition).unwrap_or(i32::MAX);
                    topics.entry(name).or_default().push(index);
                }
            }
            let topics = topics
                .into_iter()
                .map(|(name, partitions)| {
                    TopicData::default()
                        .with_topic(topic_name(&name))
                        .with_partitions(partitions)
                })
                .collect();
            let started = if txn.phase == Phase::Empty {
                -1
            } else {
                txn.started_at_ms
            };
            entry
                .with_transaction_state(StrBytes::from_static_str(state_name(txn)))
                .with_transaction_timeout_ms(i32::try_from(txn.timeout_ms).unwrap_or(i32::MAX))
                .with_transaction_start_time_ms(started)
                .with_producer_id(ProducerId(txn.producer_id))
                .with_producer_epoch(txn.epoch)
                .with_topics(topics)
        })
        .collect();
    DescribeTransactionsResponse::default().with_transaction_states(states)
}

/// ListTransactions, filtered by state, producer id and (v1) how long they have run.
pub(crate) fn list_transactions(
    ctx: &Arc<BrokerContext>,
    rc: &RequestContext,
    request: &ListTransactionsRequest,
) -> ListTransactionsResponse {
    if !allowed(ctx, rc) {
        return ListTransactionsResponse::default();
    }
    let unknown: Vec<StrBytes> = request
        .state_filters
        .iter()
        .filter(|s| !STATES.contains(&s.as_str()))
        .cloned()
        .collect();
    let now = now_ms();
    let state = ctx.core.meta.load();
    let listed = state
        .txns
        .all()
        .filter(|(_, txn)| {
            let name = state_name(txn);
            (request.state_filters.is_empty()
                || request.state_filters.iter().any(|s| s.as_str() == name))
                && (request.producer_id_filters.is_empty()
                    || request
                        .producer_id_filters
                        .contains(&ProducerId(txn.producer_id)))
                && (request.duration_filter < 0
                    || (txn.phase != Phase::Empty
                        && now.saturating_sub(txn.started_at_ms) >= request.duration_filter))
        })
        .map(|(id, txn)| {
            ListedState::default()
                .with_transactional_id(TransactionalId(StrBytes::from_string(id.clone())))
                .with_producer_id(ProducerId(txn.producer_id))
                .with_transaction_state(StrBytes::from_static_str(state_name(txn)))
        })
        .collect();
    ListTransactionsResponse::default()
        .with_unknown_state_filters(unknown)
        .with_transaction_states(listed)
}
