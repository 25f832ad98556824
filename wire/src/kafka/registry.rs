//! The Kafka APIs Whippet can serve and the version range it advertises for each. The ranges
//! come from the broker-side table in `kafka-compat.md` §2b: the lower end is kept low enough
//! for librdkafka < 2.11.1, which enables features by checking single versions against the
//! advertised range (§2a), and the upper end stays inside what `kafka-protocol` 0.18 decodes.
//! The broker advertises only the subset it has handlers for, via [`api_versions_response`].

use kafka_protocol::messages::ApiKey;
use kafka_protocol::messages::api_versions_response::{ApiVersion, ApiVersionsResponse};

/// One servable API: its key, a name for logs and metrics, and the version range advertised in
/// ApiVersions. Versions outside the range are answered with UNSUPPORTED_VERSION.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiSupport {
    /// The Kafka API key.
    pub key: ApiKey,
    /// Stable lowercase name, used as a log field and metric label.
    pub name: &'static str,
    /// Lowest advertised version.
    pub min_version: i16,
    /// Highest advertised version.
    pub max_version: i16,
}

impl ApiSupport {
    /// Whether `version` is inside the advertised range, so a handler can refuse the rest.
    pub fn supports(&self, version: i16) -> bool {
        self.min_version <= version && version <= self.max_version
    }

    /// The ApiVersions entry for this API.
    pub fn api_version_entry(&self) -> ApiVersion {
        ApiVersion::default()
            .with_api_key(self.key as i16)
            .with_min_version(self.min_version)
            .with_max_version(self.max_version)
    }
}

const fn api(key: ApiKey, name: &'static str, min_version: i16, max_version: i16) -> ApiSupport {
    ApiSupport {
        key,
        name,
        min_version,
        max_version,
    }
}

/// Every API the broker may serve, with its advertised range, in API-key order.
pub const BROKER_APIS: &[ApiSupport] = &[
    api(ApiKey::Produce, "produce", 3, 10),
    api(ApiKey::Fetch, "fetch", 4, 12),
    api(ApiKey::ListOffsets, "list_offsets", 1, 7),
    api(ApiKey::Metadata, "metadata", 0, 12),
    api(ApiKey::OffsetCommit, "offset_commit", 2, 9),
    api(ApiKey::OffsetFetch, "offset_fetch", 1, 9),
    api(ApiKey::FindCoordinator, "find_coordinator", 0, 3),
    api(ApiKey::JoinGroup, "join_group", 0, 7),
    api(ApiKey::Heartbeat, "heartbeat", 0, 4),
    api(ApiKey::LeaveGroup, "leave_group", 0, 5),
    api(ApiKey::SyncGroup, "sync_group", 0, 5),
    api(ApiKey::DescribeGroups, "describe_groups", 0, 5),
    api(ApiKey::ListGroups, "list_groups", 0, 5),
    api(ApiKey::SaslHandshake, "sasl_handshake", 0, 1),
    api(ApiKey::ApiVersions, "api_versions", 0, 4),
    api(ApiKey::CreateTopics, "create_topics", 2, 5),
    api(ApiKey::DeleteTopics, "delete_topics", 1, 4),
    api(ApiKey::DeleteRecords, "delete_records", 0, 2),
    api(ApiKey::InitProducerId, "init_producer_id", 0, 4),
    // The client forms (v4+ is KIP-890's batched broker-to-broker form and implicit checks).
    api(ApiKey::AddPartitionsToTxn, "add_partitions_to_txn", 0, 3),
    api(ApiKey::AddOffsetsToTxn, "add_offsets_to_txn", 0, 3),
    api(ApiKey::EndTxn, "end_txn", 0, 3),
    api(ApiKey::TxnOffsetCommit, "txn_offset_commit", 0, 3),
    api(ApiKey::DescribeAcls, "describe_acls", 1, 3),
    api(ApiKey::CreateAcls, "create_acls", 1, 3),
    api(ApiKey::DeleteAcls, "delete_acls", 1, 3),
    api(ApiKey::DescribeConfigs, "describe_configs", 1, 4),
    api(ApiKey::AlterConfigs, "alter_configs", 0, 2),
    api(ApiKey::SaslAuthenticate, "sasl_authenticate", 0, 2),
    api(ApiKey::CreatePartitions, "create_partitions", 0, 3),
    api(ApiKey::DeleteGroups, "delete_groups", 0, 2),
    api(
        ApiKey::IncrementalAlterConfigs,
        "incremental_alter_configs",
        0,
        1,
    ),
    // Not in the §2b table; advertised over the crate's whole range (only v0 exists).
    api(ApiKey::OffsetDelete, "offset_delete", 0, 0),
    api(ApiKey::DescribeCluster, "describe_cluster", 0, 1),
    api(
        ApiKey::DescribeUserScramCredentials,
        "describe_user_scram_credentials",
        0,
        0,
    ),
    api(
        ApiKey::AlterUserScramCredentials,
        "alter_user_scram_credentials",
        0,
        0,
    ),
    api(ApiKey::DescribeTransactions, "describe_transactions", 0, 0),
    api(ApiKey::ListTransactions, "list_transactions", 0, 1),
    // KIP-848 (librdkafka ≥ 2.12 with `group.protocol=consumer` sends v1).
    api(
        ApiKey::ConsumerGroupHeartbeat,
        "consumer_group_heartbeat",
        0,
        1,
    ),
    api(
        ApiKey::ConsumerGroupDescribe,
        "consumer_group_describe",
        0,
        1,
    ),
];

/// The registry entry for `key`, or `None` if Whippet never serves that API.
pub fn lookup(key: ApiKey) -> Option<&'static ApiSupport> {
    BROKER_APIS.iter().find(|api| api.key == key)
}

/// Builds the ApiVersions answer for the chosen subset of APIs (the ones the broker has
/// handlers for). Keys not in [`BROKER_APIS`] are skipped; duplicates are listed once. The
/// response is otherwise default (error 0, no throttle, no features).
pub fn api_versions_response(keys: &[ApiKey]) -> ApiVersionsResponse {
    ApiVersionsResponse::default().with_api_keys(api_version_entries(keys))
}

/// The ApiVersions entries for the chosen subset, in registry order; shared by the normal
/// answer and the UNSUPPORTED_VERSION answer.
pub fn api_version_entries(keys: &[ApiKey]) -> Vec<ApiVersion> {
    BROKER_APIS
        .iter()
        .filter(|api| keys.contains(&api.key))
        .map(ApiSupport::api_version_entry)
        .collect()
}

/// Every key in the registry, for a broker that serves them all (and for tests).
pub fn all_keys() -> Vec<ApiKey> {
    BROKER_APIS.iter().map(|api| api.key).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn keys_and_names_unique() {
        let keys: HashSet<i16> = BROKER_APIS.iter().map(|a| a.key as i16).collect();
        let names: HashSet<&str> = BROKER_APIS.iter().map(|a| a.name).collect();
        assert_eq!(keys.len(), BROKER_APIS.len());
        assert_eq!(names.len(), BROKER_APIS.len());
        assert_eq!(BROKER_APIS.len(), 40);
    }

    #[test]
    fn ranges_inside_crate_ranges() {
        for api in BROKER_APIS {
            let crate_range = api.key.valid_versions();
            assert!(api.min_version <= api.max_version, "{}", api.name);
            assert!(
                crate_range.min <= api.min_version,
                "{} min below crate",
                api.name
            );
            assert!(
                api.max_version <= crate_range.max,
                "{} max above crate",
                api.name
            );
        }
    }

    fn has(key: ApiKey, version: i16) -> bool {
        lookup(key).is_some_and(|api| api.supports(version))
    }

    #[test]
    fn librdkafka_2_0_2_point_checks_hold() {
        // kafka-compat.md §2a: features librdkafka < 2.11.1 enables by point checks.
        assert!(has(ApiKey::Produce, 3) && has(ApiKey::Fetch, 4), "MsgVer2");
        assert!(has(ApiKey::FindCoordinator, 0), "groups: FindCoordinator 0");
        assert!(
            has(ApiKey::OffsetCommit, 1) || has(ApiKey::OffsetCommit, 2),
            "OffsetCommit [1,2]"
        );
        assert!(has(ApiKey::OffsetFetch, 1), "groups: OffsetFetch 1");
        for key in [
            ApiKey::JoinGroup,
            ApiKey::SyncGroup,
            ApiKey::Heartbeat,
            ApiKey::LeaveGroup,
        ] {
            assert!(has(key, 0), "groups: {key:?} 0");
        }
        assert!(has(ApiKey::InitProducerId, 0), "idempotence");
        assert!(has(ApiKey::Produce, 7) && has(ApiKey::Fetch, 10), "ZSTD");
        assert!(has(ApiKey::ListOffsets, 1), "ListOffsets by time");
        assert!(has(ApiKey::Metadata, 0), "kafka-python 2.0.2 probe");
        assert!(has(ApiKey::ApiVersions, 0) && has(ApiKey::ApiVersions, 4));
    }

    #[test]
    fn subset_response_lists_only_chosen_known_keys() {
        let resp = api_versions_response(&[
            ApiKey::Metadata,
            ApiKey::ApiVersions,
            ApiKey::Metadata,
            ApiKey::WriteTxnMarkers,
        ]);
        let listed: Vec<(i16, i16, i16)> = resp
            .api_keys
            .iter()
            .map(|k| (k.api_key, k.min_version, k.max_version))
            .collect();
        assert_eq!(listed, vec![(3, 0, 12), (18, 0, 4)]);
        assert_eq!(resp.error_code, 0);
        assert_eq!(
            api_versions_response(&all_keys()).api_keys.len(),
            BROKER_APIS.len()
        );
    }
}
