//! Native consumer groups (being implemented).

use std::path::Path;
use std::sync::Arc;

use whippet_wire::native::identifier::Identifier;
use whippet_wire::native::status::Status;

use super::call::{Call, Conn, Outcome};
use crate::context::BrokerContext;

/// Native consumer groups: definitions and server-side membership.
#[derive(Debug, Default)]
pub(crate) struct NativeGroups {}

impl NativeGroups {
    /// Opens the persisted group definitions under `state_dir`.
    pub fn open(_state_dir: &Path) -> Result<Self, String> {
        Ok(Self {})
    }

    /// `(stream, topic, group)` of every group `client_id` is a member of.
    pub fn memberships_of(&self, _client_id: u32) -> Vec<(u32, u32, u32)> {
        Vec::new()
    }

    /// A connection closed (or logged out): it leaves every group it was in.
    pub fn on_disconnect(&self, _client_id: u32) {}

    /// The partition a group consumer's poll (or offset call) may use: `requested` when the
    /// member owns it (else ConsumerGroupPartitionNotOwned 5009), or the member's next owned
    /// partition round-robin when the request names none. Also resolves the group identifier:
    /// returns `(group_id, group_name, partition)`; unknown group → ConsumerGroupIdNotFound /
    /// NameNotFound, caller not a member → ConsumerGroupMemberNotFound.
    pub fn pick_partition(
        &self,
        _stream_id: u32,
        _topic_id: u32,
        _group: &Identifier,
        _client_id: u32,
        _requested: Option<u32>,
    ) -> Result<(u32, String, u32), Status> {
        Err(Status::FeatureUnavailable)
    }

    /// A topic was deleted: its groups go with it.
    pub fn on_topic_deleted(&self, _stream_id: u32, _topic_id: u32) {}

    /// A stream was deleted: the groups of all its topics go with it.
    pub fn on_stream_deleted(&self, _stream_id: u32) {}

    /// A topic's partitions changed (created/deleted): members are rebalanced.
    pub fn on_partitions_changed(&self, _stream_id: u32, _topic_id: u32, _partitions: u32) {}
}

pub(crate) async fn handle(
    _ctx: &Arc<BrokerContext>,
    _conn: &mut Conn,
    _call: Call<'_>,
) -> Outcome {
    Err(Status::FeatureUnavailable)
}
