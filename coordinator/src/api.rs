//! Request and response types of the coordinator. They are domain types, not wire types: the
//! broker decodes a Kafka request, builds one of these, and encodes the answer for the version
//! the client asked for.

use std::time::Duration;

use bytes::Bytes;
use tokio::sync::oneshot;

use crate::error::ErrorCode;
use crate::state::GroupState;

/// An answer that is either known now or arrives when a rebalance step completes. JoinGroup and
/// SyncGroup are deferred in Kafka's protocol; the coordinator never blocks or does I/O, so it
/// hands the broker a receiver to await outside the coordinator's lock. The sender is always
/// completed (with an error code if the member is removed), never silently dropped.
#[derive(Debug)]
pub enum Reply<T> {
    /// The answer is final.
    Ready(T),
    /// Await this for the answer.
    Pending(oneshot::Receiver<T>),
}

impl<T> Reply<T> {
    /// Turns a receiver into `Ready` if its value has already been sent, so callers (and tests)
    /// see an immediate answer as immediate.
    pub(crate) fn settle(mut rx: oneshot::Receiver<T>) -> Self {
        match rx.try_recv() {
            Ok(value) => Reply::Ready(value),
            Err(_) => Reply::Pending(rx),
        }
    }

    /// The answer if it is already known, without waiting.
    pub fn try_take(self) -> Result<T, Self> {
        match self {
            Reply::Ready(v) => Ok(v),
            Reply::Pending(rx) => match Reply::settle(rx) {
                Reply::Ready(v) => Ok(v),
                pending => Err(pending),
            },
        }
    }
}

/// One protocol (assignor) a member offers, with its opaque metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Protocol {
    /// Assignor name, e.g. `range`.
    pub name: String,
    /// Opaque subscription metadata, relayed to the leader untouched.
    pub metadata: Bytes,
}

/// A JoinGroup request, any version.
#[derive(Debug, Clone)]
pub struct JoinRequest {
    /// The group.
    pub group_id: String,
    /// Empty on the first join.
    pub member_id: String,
    /// Static membership id (v5+).
    pub group_instance_id: Option<String>,
    /// The client's id, folded into generated member ids.
    pub client_id: String,
    /// The client's address, reported by DescribeGroups.
    pub client_host: String,
    /// E.g. `consumer`.
    pub protocol_type: String,
    /// Offered protocols in preference order.
    pub protocols: Vec<Protocol>,
    /// How long the member may go without a heartbeat.
    pub session_timeout: Duration,
    /// How long the group waits for the member to rejoin (v1+; v0 uses the session timeout).
    pub rebalance_timeout: Duration,
    /// True for JoinGroup v4+: an empty member id gets MEMBER_ID_REQUIRED.
    pub require_known_member_id: bool,
}

/// One member as the leader sees it in its JoinGroup response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinMember {
    /// Member id.
    pub member_id: String,
    /// Static instance id, if any.
    pub group_instance_id: Option<String>,
    /// Metadata for the selected protocol.
    pub metadata: Bytes,
}

/// A JoinGroup answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinResponse {
    /// Error, `None` on success.
    pub error: ErrorCode,
    /// The new generation (−1 on error).
    pub generation_id: i32,
    /// The group's protocol type.
    pub protocol_type: Option<String>,
    /// The selected protocol.
    pub protocol_name: Option<String>,
    /// The leader's member id.
    pub leader: String,
    /// The caller's member id (generated ones included).
    pub member_id: String,
    /// All members, for the leader only.
    pub members: Vec<JoinMember>,
}

impl JoinResponse {
    /// An error answer that still carries the member id (MEMBER_ID_REQUIRED needs it).
    pub fn error(error: ErrorCode, member_id: &str) -> Self {
        JoinResponse {
            error,
            generation_id: -1,
            protocol_type: None,
            protocol_name: None,
            leader: String::new(),
            member_id: member_id.to_owned(),
            members: Vec::new(),
        }
    }
}

/// A SyncGroup request.
#[derive(Debug, Clone)]
pub struct SyncRequest {
    /// The group.
    pub group_id: String,
    /// The generation the member joined.
    pub generation_id: i32,
    /// The member.
    pub member_id: String,
    /// Static instance id, if any.
    pub group_instance_id: Option<String>,
    /// v5+: must match the group's when present.
    pub protocol_type: Option<String>,
    /// v5+: must match the group's when present.
    pub protocol_name: Option<String>,
    /// The leader's assignment per member id; empty for followers.
    pub assignments: Vec<(String, Bytes)>,
}

/// A SyncGroup answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncResponse {
    /// Error, `None` on success.
    pub error: ErrorCode,
    /// The group's protocol type.
    pub protocol_type: Option<String>,
    /// The selected protocol.
    pub protocol_name: Option<String>,
    /// This member's opaque assignment.
    pub assignment: Bytes,
}

impl SyncResponse {
    /// An error answer.
    pub fn error(error: ErrorCode) -> Self {
        SyncResponse {
            error,
            protocol_type: None,
            protocol_name: None,
            assignment: Bytes::new(),
        }
    }
}

/// A Heartbeat request.
#[derive(Debug, Clone)]
pub struct HeartbeatRequest {
    /// The group.
    pub group_id: String,
    /// The generation the member holds.
    pub generation_id: i32,
    /// The member.
    pub member_id: String,
    /// Static instance id, if any.
    pub group_instance_id: Option<String>,
}

/// One member leaving (LeaveGroup v0–2 carry one by member id; v3+ a batch, possibly by
/// instance id with an empty member id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaveMember {
    /// Member id; may be empty when `group_instance_id` is set.
    pub member_id: String,
    /// Static instance id, if any.
    pub group_instance_id: Option<String>,
}

/// A LeaveGroup answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaveResponse {
    /// Group-level error (unknown group).
    pub error: ErrorCode,
    /// Per member, in request order.
    pub members: Vec<(LeaveMember, ErrorCode)>,
}

/// One member as DescribeGroups reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberDescription {
    /// Member id.
    pub member_id: String,
    /// Static instance id, if any.
    pub group_instance_id: Option<String>,
    /// Client id.
    pub client_id: String,
    /// Client host.
    pub client_host: String,
    /// Metadata for the selected protocol (empty if none selected).
    pub metadata: Bytes,
    /// Current assignment.
    pub assignment: Bytes,
}

/// A DescribeGroups answer for one group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupDescription {
    /// The group.
    pub group_id: String,
    /// `Dead` for an unknown group, as Kafka reports it.
    pub state: GroupState,
    /// Protocol type, empty if none.
    pub protocol_type: String,
    /// Selected protocol, empty if none.
    pub protocol_name: String,
    /// Members.
    pub members: Vec<MemberDescription>,
    /// For a consumer (KIP-848) group, which keeps no classic member metadata: the topics its
    /// members subscribe to (names and regex matches); `None` for a classic group.
    pub consumer_subscriptions: Option<std::collections::BTreeSet<String>>,
}

/// A ListGroups entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupListing {
    /// The group.
    pub group_id: String,
    /// Protocol type, empty if none.
    pub protocol_type: String,
    /// Current state.
    pub state: GroupState,
    /// A consumer (KIP-848) group rather than a classic one (ListGroups v5 `group_type`).
    pub consumer_protocol: bool,
}
