//! The error codes a Kafka answer carries, walked in place for the request metrics: the
//! top-level code of every answer that has one and the per-topic, per-partition, per-group and
//! per-resource codes below it. Zero (no error) is passed on too; the caller skips it.

use kafka_protocol::messages::ResponseKind;

/// Calls `each` with every error code in `response`, outermost first.
pub(super) fn for_each_code(response: &ResponseKind, mut each: impl FnMut(i16)) {
    if let Some(code) = top_level(response) {
        each(code);
    }
    nested(response, &mut each);
}

/// The answer-wide error code, for the answers that have one.
fn top_level(response: &ResponseKind) -> Option<i16> {
    Some(match response {
        ResponseKind::ApiVersions(r) => r.error_code,
        ResponseKind::DescribeAcls(r) => r.error_code,
        ResponseKind::DescribeCluster(r) => r.error_code,
        ResponseKind::DescribeUserScramCredentials(r) => r.error_code,
        ResponseKind::FindCoordinator(r) => r.error_code,
        ResponseKind::Heartbeat(r) => r.error_code,
        ResponseKind::InitProducerId(r) => r.error_code,
        ResponseKind::JoinGroup(r) => r.error_code,
        ResponseKind::LeaveGroup(r) => r.error_code,
        ResponseKind::ListGroups(r) => r.error_code,
        ResponseKind::Metadata(r) => r.error_code,
        ResponseKind::OffsetDelete(r) => r.error_code,
        ResponseKind::OffsetFetch(r) => r.error_code,
        ResponseKind::SaslAuthenticate(r) => r.error_code,
        ResponseKind::SaslHandshake(r) => r.error_code,
        ResponseKind::SyncGroup(r) => r.error_code,
        ResponseKind::AddOffsetsToTxn(r) => r.error_code,
        ResponseKind::EndTxn(r) => r.error_code,
        ResponseKind::ListTransactions(r) => r.error_code,
        _ => return None,
    })
}

/// The codes of the entries of an answer (topics, partitions, groups, resources, members).
fn nested(response: &ResponseKind, each: &mut impl FnMut(i16)) {
    match response {
        ResponseKind::Produce(r) => r
            .responses
            .iter()
            .flat_map(|t| &t.partition_responses)
            .for_each(|p| each(p.error_code)),
        ResponseKind::AlterConfigs(r) => r.responses.iter().for_each(|x| each(x.error_code)),
        ResponseKind::IncrementalAlterConfigs(r) => {
            r.responses.iter().for_each(|x| each(x.error_code));
        }
        ResponseKind::DescribeConfigs(r) => r.results.iter().for_each(|x| each(x.error_code)),
        ResponseKind::CreateAcls(r) => r.results.iter().for_each(|x| each(x.error_code)),
        ResponseKind::DeleteAcls(r) => r.filter_results.iter().for_each(|f| {
            each(f.error_code);
            f.matching_acls.iter().for_each(|m| each(m.error_code));
        }),
        ResponseKind::CreatePartitions(r) => r.results.iter().for_each(|x| each(x.error_code)),
        ResponseKind::CreateTopics(r) => r.topics.iter().for_each(|x| each(x.error_code)),
        ResponseKind::DeleteTopics(r) => r.responses.iter().for_each(|x| each(x.error_code)),
        ResponseKind::DeleteGroups(r) => r.results.iter().for_each(|x| each(x.error_code)),
        ResponseKind::DescribeGroups(r) => r.groups.iter().for_each(|x| each(x.error_code)),
        ResponseKind::FindCoordinator(r) => r.coordinators.iter().for_each(|x| each(x.error_code)),
        ResponseKind::LeaveGroup(r) => r.members.iter().for_each(|x| each(x.error_code)),
        ResponseKind::DeleteRecords(r) => r
            .topics
            .iter()
            .flat_map(|t| &t.partitions)
            .for_each(|p| each(p.error_code)),
        ResponseKind::ListOffsets(r) => r
            .topics
            .iter()
            .flat_map(|t| &t.partitions)
            .for_each(|p| each(p.error_code)),
        ResponseKind::Metadata(r) => r.topics.iter().for_each(|t| {
            each(t.error_code);
            t.partitions.iter().for_each(|p| each(p.error_code));
        }),
        ResponseKind::OffsetCommit(r) => r
            .topics
            .iter()
            .flat_map(|t| &t.partitions)
            .for_each(|p| each(p.error_code)),
        ResponseKind::OffsetDelete(r) => r
            .topics
            .iter()
            .flat_map(|t| &t.partitions)
            .for_each(|p| each(p.error_code)),
        ResponseKind::OffsetFetch(r) => offset_fetch(r, each),
        ResponseKind::AlterUserScramCredentials(r) => {
            r.results.iter().for_each(|x| each(x.error_code));
        }
        ResponseKind::DescribeUserScramCredentials(r) => {
            r.results.iter().for_each(|x| each(x.error_code));
        }
        ResponseKind::AddPartitionsToTxn(r) => r
            .results_by_topic_v3_and_below
            .iter()
            .flat_map(|t| &t.results_by_partition)
            .for_each(|p| each(p.partition_error_code)),
        ResponseKind::TxnOffsetCommit(r) => r
            .topics
            .iter()
            .flat_map(|t| &t.partitions)
            .for_each(|p| each(p.error_code)),
        ResponseKind::DescribeTransactions(r) => {
            r.transaction_states.iter().for_each(|x| each(x.error_code));
        }
        _ => {}
    }
}

fn offset_fetch(
    response: &kafka_protocol::messages::OffsetFetchResponse,
    each: &mut impl FnMut(i16),
) {
    response
        .topics
        .iter()
        .flat_map(|t| &t.partitions)
        .for_each(|p| each(p.error_code));
    response.groups.iter().for_each(|g| {
        each(g.error_code);
        g.topics
            .iter()
            .flat_map(|t| &t.partitions)
            .for_each(|p| each(p.error_code));
    });
}

#[cfg(test)]
mod tests {
    use kafka_protocol::messages::{
        MetadataResponse, ResponseKind,
        metadata_response::{MetadataResponsePartition, MetadataResponseTopic},
    };

    use super::for_each_code;

    #[test]
    fn metadata_codes_are_walked_per_topic_and_partition() {
        let response = MetadataResponse::default().with_topics(vec![
            MetadataResponseTopic::default()
                .with_error_code(29)
                .with_partitions(vec![
                    MetadataResponsePartition::default().with_error_code(6),
                    MetadataResponsePartition::default(),
                ]),
        ]);
        let mut codes = Vec::new();
        for_each_code(&ResponseKind::Metadata(response), |code| codes.push(code));
        assert_eq!(codes, vec![0, 29, 6, 0]);
    }
}
