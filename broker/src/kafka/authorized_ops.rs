//! Kafka's authorized-operations bit fields (KIP-430), answered when a request asks for them
//! (Metadata v8+, DescribeCluster, DescribeGroups v3+, ConsumerGroupDescribe): what the
//! request's principal may do to a topic, a group or the cluster. There is one authorization
//! model (native permissions), so each Kafka operation is reported as allowed exactly when the
//! native check the broker makes for it passes; without authentication every check passes.

use whippet_log::TopicMeta;

use crate::context::BrokerContext;
use crate::core::RequestContext;
use crate::core::users::Access;
use crate::kafka::topics;

/// Kafka's `AclOperation` codes (the bit positions).
const READ: u8 = 3;
const WRITE: u8 = 4;
const CREATE: u8 = 5;
const DELETE: u8 = 6;
const ALTER: u8 = 7;
const DESCRIBE: u8 = 8;
const CLUSTER_ACTION: u8 = 9;
const DESCRIBE_CONFIGS: u8 = 10;
const ALTER_CONFIGS: u8 = 11;
const IDEMPOTENT_WRITE: u8 = 12;

/// The bit field of the operations whose check passes; `None` is an operation the broker
/// never refuses.
fn allowed(ctx: &BrokerContext, rc: &RequestContext, checks: &[(u8, Option<Access>)]) -> i32 {
    checks
        .iter()
        .filter(|(_, access)| access.is_none_or(|a| ctx.core.users.permits(rc, a).is_ok()))
        .fold(0, |bits, (op, _)| bits | (1 << op))
}

/// What the principal may do to `topic`.
pub(crate) fn topic(ctx: &BrokerContext, rc: &RequestContext, topic: &TopicMeta) -> i32 {
    let (stream, id) = (topic.stream_id, topic.id);
    allowed(
        ctx,
        rc,
        &[
            (READ, Some(Access::PollMessages(stream, id))),
            (WRITE, Some(Access::SendMessages(stream, id))),
            (CREATE, Some(Access::CreateTopic(stream))),
            (DELETE, Some(Access::ManageTopic(stream, id))),
            (ALTER, Some(Access::ManageTopic(stream, id))),
            (DESCRIBE, Some(Access::ReadTopic(stream, id))),
            (DESCRIBE_CONFIGS, Some(Access::ReadTopic(stream, id))),
            (ALTER_CONFIGS, Some(Access::ManageTopic(stream, id))),
        ],
    )
}

/// What the principal may do to the cluster (this broker). Any principal may get a producer id,
/// so IDEMPOTENT_WRITE is always allowed.
pub(crate) fn cluster(ctx: &BrokerContext, rc: &RequestContext) -> i32 {
    let create = topics::kafka_stream_id(ctx).map_or(Access::ManageStreams, Access::CreateTopic);
    allowed(
        ctx,
        rc,
        &[
            (CREATE, Some(create)),
            (ALTER, Some(Access::ManageServers)),
            (DESCRIBE, Some(Access::ReadServers)),
            (CLUSTER_ACTION, Some(Access::ManageServers)),
            (DESCRIBE_CONFIGS, Some(Access::ReadServers)),
            (ALTER_CONFIGS, Some(Access::ManageServers)),
            (IDEMPOTENT_WRITE, None),
        ],
    )
}

/// What the principal may do to a consumer group.
pub(crate) fn group(ctx: &BrokerContext, rc: &RequestContext) -> i32 {
    allowed(
        ctx,
        rc,
        &[
            (READ, Some(Access::UseGroups)),
            (DESCRIBE, Some(Access::UseGroups)),
            (DELETE, Some(Access::ManageGroups)),
        ],
    )
}

/// Kafka's "not requested" value of an authorized-operations field.
pub(crate) const NOT_REQUESTED: i32 = i32::MIN;
