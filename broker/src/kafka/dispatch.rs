//! Routes one decoded Kafka request to its handler. This file holds the one list of API keys
//! the broker serves ([`HANDLED_KEYS`]); ApiVersions advertises exactly those keys with the
//! ranges of `whippet_wire::kafka::BROKER_APIS`, so a client is never told about an API that
//! has no handler. Adding an API means adding its key here and its match arm below.

use std::sync::Arc;
use std::time::{Duration, Instant};

use kafka_protocol::messages::{ApiKey, RequestHeader, RequestKind, ResponseKind};
use whippet_wire::kafka::registry;

use super::admin;
use super::groups;
use super::{api_versions, fetch, init_producer_id, list_offsets, metadata, produce, txn};
use crate::context::BrokerContext;
use crate::core::RequestContext;
use crate::limits::FETCH_WAIT_MS_MAX;

/// Every API key the broker has a handler for, in API-key order. A key listed here must have a
/// match arm in [`dispatch`] and an entry in `BROKER_APIS` (checked by the tests below).
pub(crate) const HANDLED_KEYS: &[ApiKey] = &[
    ApiKey::Produce,
    ApiKey::Fetch,
    ApiKey::ListOffsets,
    ApiKey::Metadata,
    ApiKey::OffsetCommit,
    ApiKey::OffsetFetch,
    ApiKey::FindCoordinator,
    ApiKey::JoinGroup,
    ApiKey::Heartbeat,
    ApiKey::LeaveGroup,
    ApiKey::SyncGroup,
    ApiKey::DescribeGroups,
    ApiKey::ListGroups,
    ApiKey::SaslHandshake,
    ApiKey::ApiVersions,
    ApiKey::CreateTopics,
    ApiKey::DeleteTopics,
    ApiKey::DeleteRecords,
    ApiKey::InitProducerId,
    ApiKey::AddPartitionsToTxn,
    ApiKey::AddOffsetsToTxn,
    ApiKey::EndTxn,
    ApiKey::TxnOffsetCommit,
    ApiKey::DescribeAcls,
    ApiKey::CreateAcls,
    ApiKey::DeleteAcls,
    ApiKey::DescribeConfigs,
    ApiKey::AlterConfigs,
    ApiKey::SaslAuthenticate,
    ApiKey::CreatePartitions,
    ApiKey::DeleteGroups,
    ApiKey::IncrementalAlterConfigs,
    ApiKey::OffsetDelete,
    ApiKey::DescribeCluster,
    ApiKey::DescribeUserScramCredentials,
    ApiKey::AlterUserScramCredentials,
    ApiKey::DescribeTransactions,
    ApiKey::ListTransactions,
    ApiKey::ConsumerGroupHeartbeat,
    ApiKey::ConsumerGroupDescribe,
];

/// What the connection loop does after a request was dispatched.
#[derive(Debug)]
// One Outcome exists per request and is consumed at once; boxing the response would add an
// allocation per request to save stack space that is never held.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Outcome {
    /// Write this response, encoded at the request's version.
    Respond(ResponseKind),
    /// Write this Fetch answer, its record batches by reference.
    Fetch(fetch::FetchAnswer),
    /// Write nothing (Produce with acks=0: the client expects no answer).
    NoResponse,
    /// The key is not served or the version is not advertised: close the connection, as a
    /// Java broker does for requests it cannot parse.
    Close,
}

/// Whether `(key, version)` is something this broker serves: the key has a handler and the
/// version is inside the advertised range.
pub(crate) fn is_served(key: ApiKey, version: i16) -> bool {
    HANDLED_KEYS.contains(&key) && registry::lookup(key).is_some_and(|api| api.supports(version))
}

/// When the client stops waiting for `request`, for the requests whose protocol says: a
/// Produce that wants an answer waits for durability no longer than its `timeout_ms` (0 or
/// less: no limit, as a single node never has replicas to wait for), a Fetch long-polls for
/// its `max_wait_ms`, capped at [`FETCH_WAIT_MS_MAX`]. The core honours it where it waits.
pub(crate) fn deadline(request: &RequestKind) -> Option<Instant> {
    let ms = match request {
        RequestKind::Produce(req) if req.acks != 0 && req.timeout_ms > 0 => {
            u64::try_from(req.timeout_ms).ok()?
        }
        RequestKind::Fetch(req) => u64::try_from(req.max_wait_ms)
            .unwrap_or(0)
            .min(FETCH_WAIT_MS_MAX),
        _ => return None,
    };
    Some(Instant::now() + Duration::from_millis(ms))
}

/// Runs the handler for `request` and says what to send back. The caller has already checked
/// nothing; the version is checked against the advertised range here.
pub(crate) async fn dispatch(
    ctx: &Arc<BrokerContext>,
    rc: &RequestContext,
    header: &RequestHeader,
    request: RequestKind,
) -> Outcome {
    let Ok(key) = ApiKey::try_from(header.request_api_key) else {
        return Outcome::Close;
    };
    if !is_served(key, header.request_api_version) {
        return Outcome::Close;
    }
    let response = match request {
        RequestKind::Fetch(req) => {
            let span = super::spans::fetch(&req);
            let handled = fetch::handle(ctx, rc, header, req);
            let answer = tracing::Instrument::instrument(handled, span.clone()).await;
            super::spans::fetched(&span, &answer);
            return Outcome::Fetch(answer);
        }
        RequestKind::Produce(req) => {
            let acks = req.acks;
            let span = super::spans::produce(&req);
            let response =
                tracing::Instrument::instrument(produce::handle(ctx, rc, header, req), span).await;
            if acks == 0 {
                // No answer is expected; a failure closes the connection so the client
                // notices, as a Java broker does.
                return if produce::has_errors(&response) {
                    Outcome::Close
                } else {
                    Outcome::NoResponse
                };
            }
            Some(ResponseKind::Produce(response))
        }
        request @ (RequestKind::OffsetCommit(_)
        | RequestKind::OffsetFetch(_)
        | RequestKind::OffsetDelete(_)
        | RequestKind::FindCoordinator(_)
        | RequestKind::JoinGroup(_)
        | RequestKind::SyncGroup(_)
        | RequestKind::Heartbeat(_)
        | RequestKind::LeaveGroup(_)
        | RequestKind::DescribeGroups(_)
        | RequestKind::ListGroups(_)
        | RequestKind::DeleteGroups(_)
        | RequestKind::ConsumerGroupHeartbeat(_)
        | RequestKind::ConsumerGroupDescribe(_)) => group_api(ctx, rc, header, request).await,
        request @ (RequestKind::AddPartitionsToTxn(_)
        | RequestKind::AddOffsetsToTxn(_)
        | RequestKind::EndTxn(_)
        | RequestKind::TxnOffsetCommit(_)
        | RequestKind::DescribeTransactions(_)
        | RequestKind::ListTransactions(_)) => txn_api(ctx, rc, header, request).await,
        request => data_or_admin_api(ctx, rc, header, request).await,
    };
    // A key in HANDLED_KEYS without an arm is caught by the tests; anything else is unserved
    // and closes the connection.
    response.map_or(Outcome::Close, Outcome::Respond)
}

/// The data and admin APIs (everything but Produce and the group APIs).
async fn data_or_admin_api(
    ctx: &Arc<BrokerContext>,
    rc: &RequestContext,
    header: &RequestHeader,
    request: RequestKind,
) -> Option<ResponseKind> {
    Some(match request {
        RequestKind::ListOffsets(req) => {
            ResponseKind::ListOffsets(list_offsets::handle(ctx, rc, header, req).await)
        }
        RequestKind::InitProducerId(req) => {
            ResponseKind::InitProducerId(init_producer_id::handle(ctx, rc, header, req).await)
        }
        RequestKind::ApiVersions(req) => {
            ResponseKind::ApiVersions(api_versions::handle(ctx, header, req).await)
        }
        RequestKind::Metadata(req) => {
            ResponseKind::Metadata(metadata::handle(ctx, rc, header, req).await)
        }
        RequestKind::CreateTopics(req) => {
            ResponseKind::CreateTopics(admin::create_topics::handle(ctx, rc, header, req).await)
        }
        RequestKind::DeleteTopics(req) => {
            ResponseKind::DeleteTopics(admin::delete_topics::handle(ctx, rc, header, req).await)
        }
        RequestKind::CreatePartitions(req) => {
            ResponseKind::CreatePartitions(admin::create_partitions::handle(ctx, header, req).await)
        }
        RequestKind::DescribeConfigs(req) => {
            ResponseKind::DescribeConfigs(admin::describe_configs::handle(ctx, header, req).await)
        }
        RequestKind::AlterConfigs(req) => {
            ResponseKind::AlterConfigs(admin::alter_configs::handle(ctx, header, req).await)
        }
        RequestKind::IncrementalAlterConfigs(req) => ResponseKind::IncrementalAlterConfigs(
            admin::incremental_alter_configs::handle(ctx, header, req).await,
        ),
        RequestKind::DeleteRecords(req) => {
            ResponseKind::DeleteRecords(admin::delete_records::handle(ctx, header, req).await)
        }
        RequestKind::DescribeCluster(req) => ResponseKind::DescribeCluster(
            admin::describe_cluster::handle(ctx, rc, header, req).await,
        ),
        RequestKind::DescribeAcls(req) => {
            ResponseKind::DescribeAcls(admin::acls::describe(ctx, rc, &req))
        }
        RequestKind::CreateAcls(req) => {
            ResponseKind::CreateAcls(admin::acls::create(ctx, rc, req).await)
        }
        RequestKind::DeleteAcls(req) => {
            ResponseKind::DeleteAcls(admin::acls::delete(ctx, rc, req).await)
        }
        RequestKind::DescribeUserScramCredentials(req) => {
            ResponseKind::DescribeUserScramCredentials(admin::scram_users::describe(ctx, rc, &req))
        }
        RequestKind::AlterUserScramCredentials(req) => {
            ResponseKind::AlterUserScramCredentials(admin::scram_users::alter(ctx, rc, req).await)
        }
        // On a SASL listener the connection loop answers these before dispatch (`sasl.rs`);
        // reaching here means the listener does not use SASL.
        RequestKind::SaslHandshake(_) | RequestKind::SaslAuthenticate(_) => {
            super::sasl::not_enabled(header.request_api_key)
        }
        _ => return None,
    })
}

/// The transaction APIs (InitProducerId is a data API: it serves idempotence too).
async fn txn_api(
    ctx: &Arc<BrokerContext>,
    rc: &RequestContext,
    header: &RequestHeader,
    request: RequestKind,
) -> Option<ResponseKind> {
    Some(match request {
        RequestKind::AddPartitionsToTxn(req) => {
            ResponseKind::AddPartitionsToTxn(txn::add_partitions(ctx, rc, header, req).await)
        }
        RequestKind::AddOffsetsToTxn(req) => {
            ResponseKind::AddOffsetsToTxn(txn::add_offsets(ctx, rc, header, req).await)
        }
        RequestKind::EndTxn(req) => ResponseKind::EndTxn(txn::end_txn(ctx, rc, header, req).await),
        RequestKind::TxnOffsetCommit(req) => {
            ResponseKind::TxnOffsetCommit(txn::txn_offset_commit(ctx, rc, header, req).await)
        }
        RequestKind::DescribeTransactions(req) => {
            ResponseKind::DescribeTransactions(txn::describe_transactions(ctx, rc, &req))
        }
        RequestKind::ListTransactions(req) => {
            ResponseKind::ListTransactions(txn::list_transactions(ctx, rc, &req))
        }
        _ => return None,
    })
}

/// The consumer-group APIs.
async fn group_api(
    ctx: &Arc<BrokerContext>,
    rc: &RequestContext,
    header: &RequestHeader,
    request: RequestKind,
) -> Option<ResponseKind> {
    if let Some(denial) = groups::authz::denied(ctx, rc, &request) {
        return Some(denial);
    }
    Some(match request {
        RequestKind::OffsetCommit(req) => {
            ResponseKind::OffsetCommit(groups::offsets::commit(ctx, rc, header, req).await)
        }
        RequestKind::OffsetFetch(req) => {
            ResponseKind::OffsetFetch(groups::offsets::fetch::handle(ctx, rc, header, req).await)
        }
        RequestKind::OffsetDelete(req) => {
            ResponseKind::OffsetDelete(groups::offsets::delete(ctx, rc, header, req).await)
        }
        RequestKind::FindCoordinator(req) => {
            ResponseKind::FindCoordinator(groups::find::handle(ctx, header, req).await)
        }
        RequestKind::JoinGroup(req) => {
            ResponseKind::JoinGroup(groups::membership::join(ctx, rc, header, req).await)
        }
        RequestKind::SyncGroup(req) => {
            ResponseKind::SyncGroup(groups::membership::sync(ctx, rc, header, req).await)
        }
        RequestKind::Heartbeat(req) => {
            ResponseKind::Heartbeat(groups::membership::heartbeat(ctx, rc, header, req).await)
        }
        RequestKind::LeaveGroup(req) => {
            ResponseKind::LeaveGroup(groups::membership::leave(ctx, rc, header, req).await)
        }
        RequestKind::DescribeGroups(req) => {
            ResponseKind::DescribeGroups(groups::admin::describe(ctx, rc, header, req).await)
        }
        RequestKind::ListGroups(req) => {
            ResponseKind::ListGroups(groups::admin::list(ctx, header, req).await)
        }
        RequestKind::DeleteGroups(req) => {
            ResponseKind::DeleteGroups(groups::admin::delete(ctx, header, req).await)
        }
        RequestKind::ConsumerGroupHeartbeat(req) => ResponseKind::ConsumerGroupHeartbeat(
            groups::consumer::heartbeat(ctx, rc, header, req).await,
        ),
        RequestKind::ConsumerGroupDescribe(req) => ResponseKind::ConsumerGroupDescribe(
            groups::consumer::describe(ctx, rc, header, req).await,
        ),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use kafka_protocol::messages::{
        AlterConfigsRequest, ApiVersionsRequest, CreatePartitionsRequest, CreateTopicsRequest,
        DeleteRecordsRequest, DeleteTopicsRequest, DescribeClusterRequest, DescribeConfigsRequest,
        FetchRequest, IncrementalAlterConfigsRequest, InitProducerIdRequest, ListOffsetsRequest,
        MetadataRequest, ProduceRequest,
    };
    use whippet_wire::kafka::BROKER_APIS;

    use super::*;
    use crate::kafka::test_support;

    /// A default request of `key`, for keys the broker handles.
    fn sample(key: ApiKey) -> Option<RequestKind> {
        Some(match key {
            ApiKey::Produce => RequestKind::Produce(ProduceRequest::default().with_acks(1)),
            ApiKey::Fetch => RequestKind::Fetch(FetchRequest::default()),
            ApiKey::ListOffsets => RequestKind::ListOffsets(ListOffsetsRequest::default()),
            ApiKey::InitProducerId => RequestKind::InitProducerId(InitProducerIdRequest::default()),
            ApiKey::ApiVersions => RequestKind::ApiVersions(ApiVersionsRequest::default()),
            ApiKey::Metadata => RequestKind::Metadata(MetadataRequest::default()),
            ApiKey::CreateTopics => RequestKind::CreateTopics(CreateTopicsRequest::default()),
            ApiKey::DeleteTopics => RequestKind::DeleteTopics(DeleteTopicsRequest::default()),
            ApiKey::CreatePartitions => {
                RequestKind::CreatePartitions(CreatePartitionsRequest::default())
            }
            ApiKey::DescribeConfigs => {
                RequestKind::DescribeConfigs(DescribeConfigsRequest::default())
            }
            ApiKey::AlterConfigs => RequestKind::AlterConfigs(AlterConfigsRequest::default()),
            ApiKey::IncrementalAlterConfigs => {
                RequestKind::IncrementalAlterConfigs(IncrementalAlterConfigsRequest::default())
            }
            ApiKey::DeleteRecords => RequestKind::DeleteRecords(DeleteRecordsRequest::default()),
            ApiKey::DescribeCluster => {
                RequestKind::DescribeCluster(DescribeClusterRequest::default())
            }
            ApiKey::DescribeUserScramCredentials => {
                RequestKind::DescribeUserScramCredentials(Default::default())
            }
            ApiKey::AlterUserScramCredentials => {
                RequestKind::AlterUserScramCredentials(Default::default())
            }
            ApiKey::OffsetCommit => RequestKind::OffsetCommit(Default::default()),
            ApiKey::OffsetFetch => RequestKind::OffsetFetch(Default::default()),
            ApiKey::OffsetDelete => RequestKind::OffsetDelete(Default::default()),
            ApiKey::FindCoordinator => RequestKind::FindCoordinator(Default::default()),
            // Group calls with an empty group id are answered at once (INVALID_GROUP_ID or
            // UNKNOWN_MEMBER_ID), never deferred.
            ApiKey::JoinGroup => RequestKind::JoinGroup(Default::default()),
            ApiKey::SyncGroup => RequestKind::SyncGroup(Default::default()),
            ApiKey::Heartbeat => RequestKind::Heartbeat(Default::default()),
            ApiKey::LeaveGroup => RequestKind::LeaveGroup(Default::default()),
            ApiKey::DescribeGroups => RequestKind::DescribeGroups(Default::default()),
            ApiKey::ListGroups => RequestKind::ListGroups(Default::default()),
            ApiKey::DeleteGroups => RequestKind::DeleteGroups(Default::default()),
            ApiKey::ConsumerGroupHeartbeat => {
                RequestKind::ConsumerGroupHeartbeat(Default::default())
            }
            ApiKey::ConsumerGroupDescribe => RequestKind::ConsumerGroupDescribe(Default::default()),
            ApiKey::SaslHandshake => RequestKind::SaslHandshake(Default::default()),
            ApiKey::DescribeAcls => RequestKind::DescribeAcls(Default::default()),
            ApiKey::CreateAcls => RequestKind::CreateAcls(Default::default()),
            ApiKey::DeleteAcls => RequestKind::DeleteAcls(Default::default()),
            ApiKey::SaslAuthenticate => RequestKind::SaslAuthenticate(Default::default()),
            // Transaction calls naming an unknown transactional id are refused at once.
            ApiKey::AddPartitionsToTxn => RequestKind::AddPartitionsToTxn(Default::default()),
            ApiKey::AddOffsetsToTxn => RequestKind::AddOffsetsToTxn(Default::default()),
            ApiKey::EndTxn => RequestKind::EndTxn(Default::default()),
            ApiKey::TxnOffsetCommit => RequestKind::TxnOffsetCommit(Default::default()),
            ApiKey::DescribeTransactions => RequestKind::DescribeTransactions(Default::default()),
            ApiKey::ListTransactions => RequestKind::ListTransactions(Default::default()),
            _ => return None,
        })
    }

    #[test]
    fn produce_and_fetch_carry_their_timeouts_as_deadlines() {
        let soon = |request: RequestKind| deadline(&request).map(|at| at - Instant::now());
        let produce = ProduceRequest::default().with_acks(-1);
        let waited = soon(RequestKind::Produce(produce.clone().with_timeout_ms(1_500)));
        assert!(waited.is_some_and(|d| d <= Duration::from_millis(1_500)));
        assert!(waited.is_some_and(|d| d > Duration::from_millis(1_000)));
        // No answer wanted, or no limit given: nothing to wait for by a deadline.
        let unacked = produce.clone().with_acks(0).with_timeout_ms(1_500);
        assert_eq!(soon(RequestKind::Produce(unacked)), None);
        assert_eq!(soon(RequestKind::Produce(produce.with_timeout_ms(0))), None);
        let fetch = FetchRequest::default().with_max_wait_ms(i32::MAX);
        let capped = soon(RequestKind::Fetch(fetch));
        assert!(capped.is_some_and(|d| d <= Duration::from_millis(FETCH_WAIT_MS_MAX)));
        let now = soon(RequestKind::Fetch(
            FetchRequest::default().with_max_wait_ms(-1),
        ));
        assert!(now.is_some_and(|d| d <= Duration::from_millis(1)));
        assert_eq!(
            soon(RequestKind::Metadata(MetadataRequest::default())),
            None
        );
    }

    #[test]
    fn every_handled_key_is_advertisable() {
        for key in HANDLED_KEYS {
            assert!(
                BROKER_APIS.iter().any(|api| api.key == *key),
                "{key:?} handled but not in BROKER_APIS"
            );
        }
    }

    #[tokio::test]
    async fn every_handled_key_dispatches_to_its_handler() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = test_support::context(dir.path());
        for key in HANDLED_KEYS {
            let api = registry::lookup(*key).unwrap();
            let header = test_support::header(*key, api.max_version);
            let Some(request) = sample(*key) else {
                panic!("{key:?} has no sample request in this test");
            };
            match dispatch(&ctx, &RequestContext::internal(), &header, request).await {
                Outcome::Respond(response) => {
                    // The response must encode at the advertised version.
                    let mut out = bytes::BytesMut::new();
                    whippet_wire::kafka::encode_response(&mut out, 1, api.max_version, &response)
                        .unwrap();
                    assert_eq!(
                        std::mem::discriminant(&response),
                        std::mem::discriminant(&response_kind_of(*key)),
                        "{key:?} answered with the wrong response type"
                    );
                }
                Outcome::Fetch(answer) => {
                    assert_eq!(*key, ApiKey::Fetch, "only Fetch answers by reference");
                    let encoded = whippet_wire::kafka::chunked::encode_fetch_response(
                        1,
                        api.max_version,
                        &answer.response,
                        answer.tails,
                    );
                    encoded.unwrap();
                }
                other => panic!("{key:?} did not answer: {other:?}"),
            }
        }
        ctx.log.shutdown().unwrap();
    }

    /// An empty response of the type `key` must answer with.
    fn response_kind_of(key: ApiKey) -> ResponseKind {
        use kafka_protocol::messages::*;
        match key {
            ApiKey::Produce => ResponseKind::Produce(ProduceResponse::default()),
            ApiKey::Fetch => ResponseKind::Fetch(FetchResponse::default()),
            ApiKey::ListOffsets => ResponseKind::ListOffsets(ListOffsetsResponse::default()),
            ApiKey::InitProducerId => {
                ResponseKind::InitProducerId(InitProducerIdResponse::default())
            }
            ApiKey::ApiVersions => ResponseKind::ApiVersions(ApiVersionsResponse::default()),
            ApiKey::Metadata => ResponseKind::Metadata(MetadataResponse::default()),
            ApiKey::CreateTopics => ResponseKind::CreateTopics(CreateTopicsResponse::default()),
            ApiKey::DeleteTopics => ResponseKind::DeleteTopics(DeleteTopicsResponse::default()),
            ApiKey::CreatePartitions => {
                ResponseKind::CreatePartitions(CreatePartitionsResponse::default())
            }
            ApiKey::DescribeConfigs => {
                ResponseKind::DescribeConfigs(DescribeConfigsResponse::default())
            }
            ApiKey::AlterConfigs => ResponseKind::AlterConfigs(AlterConfigsResponse::default()),
            ApiKey::IncrementalAlterConfigs => {
                ResponseKind::IncrementalAlterConfigs(IncrementalAlterConfigsResponse::default())
            }
            ApiKey::DeleteRecords => ResponseKind::DeleteRecords(DeleteRecordsResponse::default()),
            ApiKey::DescribeCluster => {
                ResponseKind::DescribeCluster(DescribeClusterResponse::default())
            }
            ApiKey::OffsetCommit => ResponseKind::OffsetCommit(Default::default()),
            ApiKey::OffsetFetch => ResponseKind::OffsetFetch(Default::default()),
            ApiKey::OffsetDelete => ResponseKind::OffsetDelete(Default::default()),
            ApiKey::FindCoordinator => ResponseKind::FindCoordinator(Default::default()),
            ApiKey::JoinGroup => ResponseKind::JoinGroup(Default::default()),
            ApiKey::SyncGroup => ResponseKind::SyncGroup(Default::default()),
            ApiKey::Heartbeat => ResponseKind::Heartbeat(Default::default()),
            ApiKey::LeaveGroup => ResponseKind::LeaveGroup(Default::default()),
            ApiKey::DescribeGroups => ResponseKind::DescribeGroups(Default::default()),
            ApiKey::ListGroups => ResponseKind::ListGroups(Default::default()),
            ApiKey::DeleteGroups => ResponseKind::DeleteGroups(Default::default()),
            ApiKey::SaslHandshake => ResponseKind::SaslHandshake(Default::default()),
            ApiKey::DescribeAcls => ResponseKind::DescribeAcls(Default::default()),
            ApiKey::CreateAcls => ResponseKind::CreateAcls(Default::default()),
            ApiKey::DeleteAcls => ResponseKind::DeleteAcls(Default::default()),
            ApiKey::SaslAuthenticate => ResponseKind::SaslAuthenticate(Default::default()),
            ApiKey::DescribeUserScramCredentials => {
                ResponseKind::DescribeUserScramCredentials(Default::default())
            }
            ApiKey::AlterUserScramCredentials => {
                ResponseKind::AlterUserScramCredentials(Default::default())
            }
            ApiKey::ConsumerGroupHeartbeat => {
                ResponseKind::ConsumerGroupHeartbeat(Default::default())
            }
            ApiKey::ConsumerGroupDescribe => {
                ResponseKind::ConsumerGroupDescribe(Default::default())
            }
            ApiKey::AddPartitionsToTxn => ResponseKind::AddPartitionsToTxn(Default::default()),
            ApiKey::AddOffsetsToTxn => ResponseKind::AddOffsetsToTxn(Default::default()),
            ApiKey::EndTxn => ResponseKind::EndTxn(Default::default()),
            ApiKey::TxnOffsetCommit => ResponseKind::TxnOffsetCommit(Default::default()),
            ApiKey::DescribeTransactions => ResponseKind::DescribeTransactions(Default::default()),
            ApiKey::ListTransactions => ResponseKind::ListTransactions(Default::default()),
            other => panic!("no response type known for {other:?}"),
        }
    }

    #[tokio::test]
    async fn unadvertised_versions_and_unhandled_keys_close() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = test_support::context(dir.path());
        // DeleteTopics v6 decodes but is above the advertised 4.
        let header = test_support::header(ApiKey::DeleteTopics, 6);
        let request = RequestKind::DeleteTopics(DeleteTopicsRequest::default());
        assert!(matches!(
            dispatch(&ctx, &RequestContext::internal(), &header, request).await,
            Outcome::Close
        ));
        let header = test_support::header(ApiKey::WriteTxnMarkers, 1);
        let request = RequestKind::WriteTxnMarkers(Default::default());
        assert!(matches!(
            dispatch(&ctx, &RequestContext::internal(), &header, request).await,
            Outcome::Close
        ));
        ctx.log.shutdown().unwrap();
    }
}
