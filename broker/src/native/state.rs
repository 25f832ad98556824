//! Broker-wide native protocol state: the users and tokens store, the native consumer groups
//! and the registry of connected clients. Built once at startup and shared by every native
//! connection through [`crate::context::BrokerContext::native`].

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::users::UserStore;
use crate::core::meta::Meta;
use crate::core::native_groups::NativeGroups;
use crate::core::users::Users;

/// Everything native handlers share.
#[derive(Debug)]
pub struct NativeState {
    /// Users, permissions and personal access tokens.
    pub(crate) users: UserStore,
    /// Native consumer groups (definitions and server-side membership): the core's, which
    /// the broker hands to the core at startup ([`crate::core::Core::with_native_groups`]).
    pub(crate) groups: Arc<NativeGroups>,
    /// Connected native clients.
    pub(crate) clients: ClientRegistry,
    /// Source of session numbers (non-zero, unique per process).
    sessions: AtomicU64,
    /// A consumer-group member silent this long is evicted (setting
    /// `native_heartbeat_timeout_ms`).
    pub(crate) heartbeat_timeout: Duration,
}

impl NativeState {
    /// The native state over the core's `users` and the group definitions on `meta`
    /// (migrating those of an older data dir's file under `state_dir`). Blocking.
    pub fn open(state_dir: &Path, users: Arc<Users>, meta: Arc<Meta>) -> Result<Self, String> {
        Ok(Self {
            users: UserStore::new(users),
            groups: Arc::new(NativeGroups::open(state_dir, meta)?),
            clients: ClientRegistry::default(),
            sessions: AtomicU64::new(1),
            heartbeat_timeout: Duration::from_millis(crate::limits::NATIVE_HEARTBEAT_TIMEOUT_MS),
        })
    }

    /// State with no native groups loaded, over the core's `users` (tests, embedding).
    pub fn empty(users: Arc<Users>) -> Self {
        Self {
            users: UserStore::new(users),
            groups: Arc::new(NativeGroups::default()),
            clients: ClientRegistry::default(),
            sessions: AtomicU64::new(1),
            heartbeat_timeout: Duration::from_millis(crate::limits::NATIVE_HEARTBEAT_TIMEOUT_MS),
        }
    }

    /// A fresh session number (never 0).
    pub(crate) fn next_session(&self) -> u64 {
        self.sessions.fetch_add(1, Ordering::Relaxed)
    }
}

/// One connected client as `get_client(s)` and group membership see it.
#[derive(Debug)]
pub(crate) struct ClientEntry {
    /// Server-side client id (u32, unique per process, reported by get_me).
    pub id: u32,
    /// Peer address.
    pub addr: SocketAddr,
    /// Logged-in user id, `u32::MAX` when none.
    user: AtomicU32,
    /// Milliseconds since the registry's epoch of the last request on this connection.
    last_seen_ms: AtomicU64,
    epoch: Instant,
}

impl ClientEntry {
    /// Logged-in user, if any.
    pub fn user(&self) -> Option<u32> {
        match self.user.load(Ordering::Relaxed) {
            u32::MAX => None,
            user => Some(user),
        }
    }

    /// Records the logged-in user (`None` on logout).
    pub fn set_user(&self, user: Option<u32>) {
        self.user.store(user.unwrap_or(u32::MAX), Ordering::Relaxed);
    }

    /// Marks the connection alive (any request counts; §7.2).
    pub fn touch(&self) {
        let now = u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_seen_ms.store(now, Ordering::Relaxed);
    }

    /// How long since the last request.
    pub fn silent_for(&self) -> Duration {
        let now = u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(now.saturating_sub(self.last_seen_ms.load(Ordering::Relaxed)))
    }
}

/// The connected clients, by server-side id.
#[derive(Debug)]
pub(crate) struct ClientRegistry {
    next_id: AtomicU32,
    clients: Mutex<BTreeMap<u32, Arc<ClientEntry>>>,
    epoch: Instant,
}

impl Default for ClientRegistry {
    fn default() -> Self {
        Self {
            next_id: AtomicU32::new(1),
            clients: Mutex::new(BTreeMap::new()),
            epoch: Instant::now(),
        }
    }
}

impl ClientRegistry {
    /// Registers a new connection.
    pub fn register(&self, addr: SocketAddr) -> Arc<ClientEntry> {
        let entry = Arc::new(ClientEntry {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            addr,
            user: AtomicU32::new(u32::MAX),
            last_seen_ms: AtomicU64::new(0),
            epoch: self.epoch,
        });
        entry.touch();
        self.lock().insert(entry.id, Arc::clone(&entry));
        entry
    }

    /// An entry for a caller that is not a native connection (one HTTP request): a fresh id,
    /// not listed among the connected clients.
    pub fn detached(&self, addr: SocketAddr, user: Option<u32>) -> Arc<ClientEntry> {
        let entry = Arc::new(ClientEntry {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            addr,
            user: AtomicU32::new(user.unwrap_or(u32::MAX)),
            last_seen_ms: AtomicU64::new(0),
            epoch: self.epoch,
        });
        entry.touch();
        entry
    }

    /// Forgets a closed connection.
    pub fn remove(&self, id: u32) {
        self.lock().remove(&id);
    }

    /// One client by id.
    pub fn get(&self, id: u32) -> Option<Arc<ClientEntry>> {
        self.lock().get(&id).cloned()
    }

    /// All clients, by id.
    pub fn all(&self) -> Vec<Arc<ClientEntry>> {
        self.lock().values().cloned().collect()
    }

    /// Number of connected clients.
    pub fn count(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u32, Arc<ClientEntry>>> {
        // A panic while holding this lock cannot leave the map half-updated (single inserts and
        // removes), so a poisoned lock is still usable.
        self.clients
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
