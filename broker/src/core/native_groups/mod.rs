//! Native consumer groups as the core keeps them: definitions per topic, persisted across
//! restarts, and server-side membership of live connections. The rules live in the pure
//! `whippet_coordinator::native_groups::GroupTable` (beside the Kafka groups); this module adds
//! the lock, persistence, the deletion cascade's hooks and the sweep that evicts members whose
//! connection went silent. Requests reach it through the core's operations
//! ([`super::membership`]); the native adapter keeps only the wire conversion and the task that
//! runs the sweep.
//!
//! Membership ends three ways: leave (605), the connection closing or logging out
//! ([`NativeGroups::on_disconnect`]), or silence past the heartbeat timeout
//! ([`NativeGroups::sweep`]).

mod persist;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tracing::debug;
use whippet_coordinator::native_groups::{GroupTable, NativeGroupError, NativeGroupRef};
use whippet_log::LogError;

use self::persist::Persister;
use super::CoreError;
use super::meta::Meta;

/// Native consumer groups: definitions and server-side membership.
#[derive(Debug)]
pub struct NativeGroups {
    table: Mutex<GroupTable>,
    persister: Persister,
    /// Whether the silent-member sweeper task runs already.
    sweeper_started: AtomicBool,
}

impl Default for NativeGroups {
    /// Groups kept in memory only (tests, embedding): nothing is read or written.
    fn default() -> Self {
        Self::with(GroupTable::default(), Persister::default())
    }
}

impl NativeGroups {
    fn with(table: GroupTable, persister: Persister) -> Self {
        Self {
            table: Mutex::new(table),
            persister,
            sweeper_started: AtomicBool::new(false),
        }
    }

    /// The group definitions on the metadata log (first moving those of an older data dir's
    /// file under `state_dir` onto it), so groups created before a restart still exist (with no
    /// members: memberships belong to connections). Blocking: run at startup.
    pub fn open(state_dir: &Path, meta: Arc<Meta>) -> Result<Self, String> {
        persist::migrate(&meta, state_dir)?;
        let persister = Persister::new(meta);
        let table = GroupTable::from_definitions(persister.stored())?;
        Ok(Self::with(table, persister))
    }

    /// Runs `f` on the table under the lock (the core's membership operations).
    pub(in crate::core) fn with_table<R>(&self, f: impl FnOnce(&mut GroupTable) -> R) -> R {
        f(&mut self.lock())
    }

    fn lock(&self) -> MutexGuard<'_, GroupTable> {
        // Every table operation finishes its changes before it can fail, so a panic elsewhere
        // while the lock was held cannot leave a half-applied change: the table stays usable.
        self.table
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Number of groups over all topics (get_stats reports it).
    pub fn count(&self) -> usize {
        self.lock().count()
    }

    /// `(stream, topic, group)` of every group `client_id` is a member of.
    pub fn memberships_of(&self, client_id: u32) -> Vec<(u32, u32, u32)> {
        self.lock().memberships_of(client_id)
    }

    /// A connection closed (or logged out): it leaves every group it was in.
    pub fn on_disconnect(&self, client_id: u32) {
        if self.lock().remove_client(client_id) {
            debug!(client_id, "native client left its consumer groups");
        }
    }

    /// The partition a group consumer's poll (or offset call) may use: `requested` when the
    /// member owns it (else ConsumerGroupPartitionNotOwned 5009), or the member's next owned
    /// partition round-robin when the request names none (5009 too when it owns none). Also
    /// resolves the group identifier: returns `(group_id, group_name, partition)`; unknown
    /// group → ConsumerGroupIdNotFound / NameNotFound, caller not a member →
    /// ConsumerGroupMemberNotFound.
    pub fn pick_partition(
        &self,
        stream_id: u32,
        topic_id: u32,
        group: &NativeGroupRef,
        client_id: u32,
        requested: Option<u32>,
    ) -> Result<(u32, String, u32), NativeGroupError> {
        self.lock()
            .pick_partition(stream_id, topic_id, group, client_id, requested)
    }

    /// `(group_id, group_name)` when `client_id` is a member of the group (see
    /// `GroupTable::member_of`).
    pub fn member_of(
        &self,
        stream_id: u32,
        topic_id: u32,
        group: &NativeGroupRef,
        client_id: u32,
    ) -> Result<(u32, String), NativeGroupError> {
        self.lock().member_of(stream_id, topic_id, group, client_id)
    }

    /// A topic was deleted: its groups go with it (the core's deletion cascade).
    pub(in crate::core) fn on_topic_deleted(&self, stream_id: u32, topic_id: u32) {
        let mut table = self.lock();
        if table.drop_topic(stream_id, topic_id) {
            self.persist_detached(&table);
        }
    }

    /// A stream was deleted: the groups of all its topics go with it (the core's deletion
    /// cascade).
    pub(in crate::core) fn on_stream_deleted(&self, stream_id: u32) {
        let mut table = self.lock();
        if table.drop_stream(stream_id) {
            self.persist_detached(&table);
        }
    }

    /// A topic's partitions changed (created/deleted): members are rebalanced.
    pub fn on_partitions_changed(&self, stream_id: u32, topic_id: u32, partitions: u32) {
        self.lock().set_partitions(stream_id, topic_id, partitions);
    }

    /// Evicts every member whose connection sent nothing for `timeout` (`silent_for` says how
    /// long a client has been silent, `None` when it is no longer connected), rebalancing its
    /// groups. Returns the evicted client ids.
    pub fn sweep(
        &self,
        silent_for: impl Fn(u32) -> Option<Duration>,
        timeout: Duration,
    ) -> Vec<u32> {
        let mut table = self.lock();
        if !table.has_members() {
            return Vec::new();
        }
        let evicted = table.evict_silent(timeout, silent_for);
        drop(table);
        for client_id in &evicted {
            debug!(
                client_id,
                "silent native client evicted from its consumer groups"
            );
        }
        evicted
    }

    /// True exactly once: for the caller that is to start the task running [`Self::sweep`].
    pub fn claim_sweeper(&self) -> bool {
        !self.sweeper_started.swap(true, Ordering::AcqRel)
    }

    /// Persists the definitions and waits until they are durable (create/delete answer only
    /// once their change is). A failed write is a storage error; the change stays in memory and
    /// reaches disk with the next successful save (which carries the whole set).
    pub(in crate::core) async fn persist(&self) -> Result<(), CoreError> {
        let queued = {
            let table = self.lock();
            self.persister.queue(table.definitions())
        };
        let Some(queued) = queued else {
            return Ok(());
        };
        Meta::answer(queued).await.map(drop).map_err(|error| {
            LogError::io(
                self.persister.path(),
                std::io::Error::other(error.to_string()),
            )
            .into()
        })
    }

    /// Persists without waiting, for the synchronous hooks called by other handlers: the set
    /// is queued under the table lock `table` proves, and written by the metadata log's owner.
    fn persist_detached(&self, table: &GroupTable) {
        drop(self.persister.queue(table.definitions()));
    }
}

#[cfg(test)]
mod tests;
