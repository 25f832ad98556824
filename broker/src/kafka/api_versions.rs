//! ApiVersions: the first request every client sends. The answer lists exactly the APIs this
//! broker has handlers for ([`super::dispatch::HANDLED_KEYS`]) with the ranges of the wire
//! registry, so clients never pick an API or version the broker would refuse. Versions 3+ carry
//! the client's software name and version (KIP-511); they are logged, never validated, because
//! Java brokers answer even malformed names.

use std::sync::Arc;

use kafka_protocol::messages::{ApiVersionsRequest, ApiVersionsResponse, RequestHeader};
use tracing::debug;
use whippet_wire::kafka::api_versions_response;

use super::dispatch::HANDLED_KEYS;
use crate::context::BrokerContext;

/// Answers ApiVersions with the handled APIs and their advertised ranges.
pub(crate) async fn handle(
    _ctx: &Arc<BrokerContext>,
    header: &RequestHeader,
    req: ApiVersionsRequest,
) -> ApiVersionsResponse {
    if header.request_api_version >= 3 {
        debug!(
            client_software_name = %req.client_software_name.as_str(),
            client_software_version = %req.client_software_version.as_str(),
            "kafka client identified"
        );
    }
    api_versions_response(HANDLED_KEYS)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use kafka_protocol::messages::ApiKey;

    use super::*;
    use crate::kafka::test_support;

    #[tokio::test]
    async fn lists_exactly_the_handled_keys() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = test_support::context(dir.path());
        let header = test_support::header(ApiKey::ApiVersions, 3);
        let resp = handle(&ctx, &header, ApiVersionsRequest::default()).await;
        assert_eq!(resp.error_code, 0);
        let mut listed: Vec<i16> = resp.api_keys.iter().map(|k| k.api_key).collect();
        let mut handled: Vec<i16> = HANDLED_KEYS.iter().map(|k| *k as i16).collect();
        listed.sort_unstable();
        handled.sort_unstable();
        assert_eq!(listed, handled);
        let own = resp.api_keys.iter().find(|k| k.api_key == 18).unwrap();
        assert_eq!((own.min_version, own.max_version), (0, 4));
        ctx.log.shutdown().unwrap();
    }
}
