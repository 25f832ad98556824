//! One member of a classic group and the channels its deferred answers go through.

use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::oneshot;

use crate::api::{JoinResponse, Protocol, SyncResponse};
use crate::error::ErrorCode;

/// A group member. Waiters hold the sending half of a deferred JoinGroup/SyncGroup answer; a
/// member with a waiter is "awaiting" and is kept alive regardless of heartbeats, as in Kafka.
#[derive(Debug)]
pub(crate) struct Member {
    pub id: String,
    pub instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub session_timeout: Duration,
    pub rebalance_timeout: Duration,
    pub protocols: Vec<Protocol>,
    pub assignment: Bytes,
    pub last_heard: Instant,
    pub join_waiter: Option<oneshot::Sender<JoinResponse>>,
    pub sync_waiter: Option<oneshot::Sender<SyncResponse>>,
}

impl Member {
    /// Metadata this member offered for `protocol`, empty if it did not offer it.
    pub fn metadata_for(&self, protocol: Option<&str>) -> Bytes {
        protocol
            .and_then(|name| self.protocols.iter().find(|p| p.name == name))
            .map(|p| p.metadata.clone())
            .unwrap_or_default()
    }

    /// True while a JoinGroup or SyncGroup of this member is parked: such a member is not
    /// expired by the session timer (its client is blocked waiting on us).
    pub fn awaiting(&self) -> bool {
        self.join_waiter.is_some() || self.sync_waiter.is_some()
    }

    /// Whether the session has run out at `now`.
    pub fn expired(&self, now: Instant) -> bool {
        !self.awaiting() && now.saturating_duration_since(self.last_heard) >= self.session_timeout
    }

    /// Completes any parked answers with `error`, e.g. when the member is removed or fenced.
    pub fn fail_waiters(&mut self, error: ErrorCode) {
        if let Some(tx) = self.join_waiter.take() {
            let _ = tx.send(JoinResponse::error(error, &self.id));
        }
        if let Some(tx) = self.sync_waiter.take() {
            let _ = tx.send(SyncResponse::error(error));
        }
    }

    /// Completes a parked SyncGroup with `response` (if one is parked) and restarts the
    /// member's session at `now`: its client sent no heartbeat while it was blocked on that
    /// answer, so counting the session from before would expire it right after it was answered,
    /// before it could heartbeat or rejoin (Kafka restarts the session the same way).
    pub fn answer_sync(&mut self, response: SyncResponse, now: Instant) {
        if let Some(tx) = self.sync_waiter.take() {
            let _ = tx.send(response);
            self.last_heard = now;
        }
    }

    /// Parks a JoinGroup answer, completing any older parked one first (a client that re-sent
    /// JoinGroup no longer waits on the old one).
    pub fn park_join(&mut self) -> oneshot::Receiver<JoinResponse> {
        if let Some(old) = self.join_waiter.take() {
            let _ = old.send(JoinResponse::error(
                ErrorCode::RebalanceInProgress,
                &self.id,
            ));
        }
        let (tx, rx) = oneshot::channel();
        self.join_waiter = Some(tx);
        rx
    }

    /// Parks a SyncGroup answer, like [`Member::park_join`].
    pub fn park_sync(&mut self) -> oneshot::Receiver<SyncResponse> {
        if let Some(old) = self.sync_waiter.take() {
            let _ = old.send(SyncResponse::error(ErrorCode::RebalanceInProgress));
        }
        let (tx, rx) = oneshot::channel();
        self.sync_waiter = Some(tx);
        rx
    }
}
