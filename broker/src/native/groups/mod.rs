//! Native consumer groups (commands 600–606): definitions per topic, persisted across restarts,
//! and server-side membership of live connections. The rules live in the pure
//! `whippet_coordinator::native_groups::GroupTable` (beside the Kafka groups); this module adds
//! the lock, persistence and the sweep that evicts
//! members whose connection went silent, and [`handlers`] answers the commands.
//!
//! Membership ends three ways: leave (605), the connection closing or logging out
//! ([`NativeGroups::on_disconnect`]), or silence past the heartbeat timeout
//! ([`NativeGroups::sweep`], run by a background task started with the first group command).

mod handlers;
mod persist;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tracing::debug;
use whippet_wire::native::identifier::Identifier;
use whippet_wire::native::status::Status;

pub(crate) use self::handlers::handle;
use self::persist::Persister;
use super::state::ClientRegistry;
use crate::context::BrokerContext;
use crate::core::meta::Meta;
use crate::limits;
use crate::native::errors::{group_status, not_saved};
use whippet_coordinator::native_groups::{GroupTable, NativeGroupRef};

/// The coordinator's reference to a native group, from the wire's identifier.
pub(crate) fn group_ref(identifier: &Identifier) -> NativeGroupRef {
    match identifier {
        Identifier::Numeric(id) => NativeGroupRef::Id(*id),
        Identifier::Name(name) => NativeGroupRef::Name(name.clone()),
    }
}

/// Native consumer groups: definitions and server-side membership.
#[derive(Debug)]
pub(crate) struct NativeGroups {
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

    /// Runs `f` on the table under the lock.
    fn with_table<R>(&self, f: impl FnOnce(&mut GroupTable) -> R) -> R {
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
        group: &Identifier,
        client_id: u32,
        requested: Option<u32>,
    ) -> Result<(u32, String, u32), Status> {
        self.lock()
            .pick_partition(stream_id, topic_id, &group_ref(group), client_id, requested)
            .map_err(group_status)
    }

    /// `(group_id, group_name)` when `client_id` is a member of the group (see
    /// `GroupTable::member_of`).
    pub fn member_of(
        &self,
        stream_id: u32,
        topic_id: u32,
        group: &Identifier,
        client_id: u32,
    ) -> Result<(u32, String), Status> {
        self.lock()
            .member_of(stream_id, topic_id, &group_ref(group), client_id)
            .map_err(group_status)
    }

    /// A topic was deleted: its groups go with it.
    pub fn on_topic_deleted(&self, stream_id: u32, topic_id: u32) {
        let mut table = self.lock();
        if table.drop_topic(stream_id, topic_id) {
            self.persist_detached(&table);
        }
    }

    /// A stream was deleted: the groups of all its topics go with it.
    pub fn on_stream_deleted(&self, stream_id: u32) {
        let mut table = self.lock();
        if table.drop_stream(stream_id) {
            self.persist_detached(&table);
        }
    }

    /// A topic's partitions changed (created/deleted): members are rebalanced.
    pub fn on_partitions_changed(&self, stream_id: u32, topic_id: u32, partitions: u32) {
        self.lock().set_partitions(stream_id, topic_id, partitions);
    }

    /// Evicts every member whose connection sent nothing for `timeout` (or is no longer
    /// registered), rebalancing its groups. Returns the evicted client ids.
    pub fn sweep(&self, clients: &ClientRegistry, timeout: Duration) -> Vec<u32> {
        let mut table = self.lock();
        if !table.has_members() {
            return Vec::new();
        }
        let evicted = table.evict_silent(timeout, |client| {
            clients.get(client).map(|entry| entry.silent_for())
        });
        drop(table);
        for client_id in &evicted {
            debug!(
                client_id,
                "silent native client evicted from its consumer groups"
            );
        }
        evicted
    }

    /// Starts (once) the task that sweeps silent members. It holds only a weak reference to
    /// the context, so it ends when the broker drops the context.
    pub(crate) fn ensure_sweeper(&self, ctx: &Arc<BrokerContext>) {
        if self.sweeper_started.swap(true, Ordering::AcqRel) {
            return;
        }
        let timeout = ctx.native.heartbeat_timeout;
        let period = u64::try_from((timeout / 4).as_millis())
            .unwrap_or(u64::MAX)
            .clamp(
                limits::NATIVE_GROUP_SWEEP_MS_MIN,
                limits::NATIVE_GROUP_SWEEP_MS_MAX,
            );
        let weak = Arc::downgrade(ctx);
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(Duration::from_millis(period));
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticker.tick().await;
                let Some(ctx) = weak.upgrade() else {
                    return;
                };
                let native = &ctx.native;
                native
                    .groups
                    .sweep(&native.clients, native.heartbeat_timeout);
            }
        });
    }

    /// Persists the definitions and waits until they are durable (create/delete answer only
    /// once their change is). A failed write is CannotWriteToFile; the change stays in memory
    /// and reaches disk with the next successful save (which carries the whole set).
    async fn persist(&self) -> Result<(), Status> {
        let queued = {
            let table = self.lock();
            self.persister.queue(table.definitions())
        };
        let Some(queued) = queued else {
            return Ok(());
        };
        Meta::answer(queued)
            .await
            .map(drop)
            .map_err(|error| not_saved("native consumer groups", &error))
    }

    /// Persists without waiting, for the synchronous hooks called by other handlers: the set
    /// is queued under the table lock `table` proves, and written by the metadata log's owner.
    fn persist_detached(&self, table: &GroupTable) {
        drop(self.persister.queue(table.definitions()));
    }
}

#[cfg(test)]
mod tests;
