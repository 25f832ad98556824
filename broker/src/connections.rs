//! The limits every connection lives under, whichever listener took it: the caps on how many
//! connections a listener and one client address may hold, the deadlines of a connection's
//! reads ([`ReadClock`]) and the in-flight request budget ([`RequestBudget`]). The values come
//! from the settings (`connections_*`, `connection_*_timeout_ms`, `frame_read_timeout_ms`,
//! `request_bytes_in_flight_max`); the accept loop (`server.rs`) applies the caps and the
//! protocol loops apply the deadlines and the budget.
//!
//! Why each exists: without them 1 024 silent sockets on one port took the one shared cap and
//! locked every listener out, `/health` included; a peer trickling a frame held its slot
//! forever; and connections announcing large frames and sending most of them held that memory
//! with no overall bound.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tracing::warn;

use crate::limits;

pub use crate::reading::{ReadClock, TimedOut};

/// One of the broker's listeners; each has its own connection caps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Listener {
    /// The Kafka wire protocol.
    Kafka,
    /// The Iggy native protocol (both framings).
    Native,
    /// The HTTP admin endpoint.
    Http,
}

impl Listener {
    /// The name used in logs.
    pub fn name(self) -> &'static str {
        match self {
            Self::Kafka => "kafka",
            Self::Native => "native",
            Self::Http => "http",
        }
    }
}

/// The connection settings, validated (see `config/declared.rs` for what each means).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionSettings {
    /// Most connections open at once on each listener.
    pub per_listener_max: usize,
    /// Most connections one client IP address may hold open at once on each listener.
    pub per_address_max: usize,
    /// Time a new connection has to send its first request (Kafka) or to log in (native).
    pub setup_timeout: Duration,
    /// Time an established connection may send nothing; `None` never closes it.
    pub idle_timeout: Option<Duration>,
    /// Time the rest of a request may take to arrive once its first byte has.
    pub frame_read_timeout: Duration,
    /// Most bytes of large requests held at once over all connections.
    pub request_bytes_in_flight_max: u64,
}

impl Default for ConnectionSettings {
    fn default() -> Self {
        Self {
            per_listener_max: limits::CONNECTIONS_PER_LISTENER_MAX_DEFAULT,
            per_address_max: limits::CONNECTIONS_PER_ADDRESS_MAX_DEFAULT,
            setup_timeout: Duration::from_millis(limits::CONNECTION_SETUP_TIMEOUT_MS_DEFAULT),
            idle_timeout: Some(Duration::from_millis(
                limits::CONNECTION_IDLE_TIMEOUT_MS_DEFAULT,
            )),
            frame_read_timeout: Duration::from_millis(limits::FRAME_READ_TIMEOUT_MS_DEFAULT),
            request_bytes_in_flight_max: limits::REQUEST_BYTES_IN_FLIGHT_MAX_DEFAULT,
        }
    }
}

/// The caps of all three listeners, the read deadlines and the request budget, built once
/// from the settings and shared by every connection through the broker context.
#[derive(Debug)]
pub struct ConnectionLimits {
    settings: ConnectionSettings,
    kafka: ListenerSlots,
    native: ListenerSlots,
    http: ListenerSlots,
    /// The in-flight request budget shared by the Kafka and native listeners.
    pub(crate) budget: RequestBudget,
}

impl ConnectionLimits {
    /// Limits for `settings`.
    pub fn new(settings: ConnectionSettings) -> Self {
        let slots = |listener| ListenerSlots::new(listener, &settings);
        Self {
            settings,
            kafka: slots(Listener::Kafka),
            native: slots(Listener::Native),
            http: slots(Listener::Http),
            budget: RequestBudget::new(settings.request_bytes_in_flight_max),
        }
    }

    /// The settings these limits were built from.
    pub fn settings(&self) -> &ConnectionSettings {
        &self.settings
    }

    /// The caps of `listener`.
    pub(crate) fn slots(&self, listener: Listener) -> &ListenerSlots {
        match listener {
            Listener::Kafka => &self.kafka,
            Listener::Native => &self.native,
            Listener::Http => &self.http,
        }
    }

    /// A read clock for a connection accepted now.
    pub(crate) fn read_clock(&self) -> ReadClock {
        ReadClock::start(&self.settings)
    }
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self::new(ConnectionSettings::default())
    }
}

/// One listener's caps: a semaphore of connection slots and the count of open connections per
/// client address. Only its accept loop claims slots; a connection's task frees them.
#[derive(Debug)]
pub(crate) struct ListenerSlots {
    listener: Listener,
    slots: Arc<Semaphore>,
    per_listener_max: usize,
    per_address_max: usize,
    /// Open connections per address; an address leaves the map with its last connection, so
    /// the map never holds more than the listener's cap (plus the one waiting for a slot).
    addresses: Arc<Mutex<HashMap<IpAddr, usize>>>,
    listener_full: CapWarning,
    address_full: CapWarning,
}

/// What an accepted connection holds for its whole life: its listener slot and its count
/// against its address. Dropping it frees both.
#[derive(Debug)]
pub(crate) struct Admission {
    _slot: OwnedSemaphorePermit,
    _address: AddressCount,
}

impl ListenerSlots {
    fn new(listener: Listener, settings: &ConnectionSettings) -> Self {
        Self {
            listener,
            slots: Arc::new(Semaphore::new(settings.per_listener_max)),
            per_listener_max: settings.per_listener_max,
            per_address_max: settings.per_address_max,
            addresses: Arc::new(Mutex::new(HashMap::new())),
            listener_full: CapWarning::new(),
            address_full: CapWarning::new(),
        }
    }

    /// Slots free right now.
    pub(crate) fn free(&self) -> usize {
        self.slots.available_permits()
    }

    /// Admits `peer`: `None` (after a rate-limited WARN) if its address already holds its cap,
    /// else waits for a free slot of the listener. The waiting future ends only with a slot;
    /// the accept loop races it against shutdown.
    pub(crate) async fn admit(&self, peer: SocketAddr) -> Option<Admission> {
        let address = self.count_address(peer)?;
        let slot = match Arc::clone(&self.slots).try_acquire_owned() {
            Ok(slot) => slot,
            Err(_) => {
                if let Some(suppressed) = self.listener_full.due() {
                    warn!(
                        listener = self.listener.name(),
                        %peer,
                        cap = self.per_listener_max,
                        suppressed,
                        "connection cap of the listener reached \
                         (connections_per_listener_max); not accepting until a connection closes"
                    );
                }
                // The semaphore is never closed; an error would mean shutdown anyway.
                Arc::clone(&self.slots).acquire_owned().await.ok()?
            }
        };
        Some(Admission {
            _slot: slot,
            _address: address,
        })
    }

    /// Counts one more connection from `peer`'s address, or refuses it at the cap.
    fn count_address(&self, peer: SocketAddr) -> Option<AddressCount> {
        let ip = peer.ip().to_canonical();
        let mut addresses = self
            .addresses
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let open = addresses.entry(ip).or_insert(0);
        if *open >= self.per_address_max {
            drop(addresses);
            if let Some(suppressed) = self.address_full.due() {
                warn!(
                    listener = self.listener.name(),
                    %peer,
                    cap = self.per_address_max,
                    suppressed,
                    "connection cap per client address reached \
                     (connections_per_address_max); closing the new connection"
                );
            }
            return None;
        }
        *open += 1;
        Some(AddressCount {
            addresses: Arc::clone(&self.addresses),
            ip,
        })
    }
}

/// One connection's count against its address; dropping it uncounts it.
#[derive(Debug)]
struct AddressCount {
    addresses: Arc<Mutex<HashMap<IpAddr, usize>>>,
    ip: IpAddr,
}

impl Drop for AddressCount {
    fn drop(&mut self) {
        let mut addresses = self
            .addresses
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(open) = addresses.get_mut(&self.ip) {
            *open = open.saturating_sub(1);
            if *open == 0 {
                addresses.remove(&self.ip);
            }
        }
    }
}

/// Rate limit of one kind of WARN line: at most one per [`limits::CAP_WARNING_INTERVAL_MS`],
/// counting the ones left out. Shared by tasks, so it is two atomics and no lock.
#[derive(Debug)]
pub(crate) struct CapWarning {
    interval_ms: u64,
    origin: Instant,
    /// Milliseconds after `origin` when the last line was written, plus one (0: never).
    last_ms: AtomicU64,
    suppressed: AtomicU64,
}

impl CapWarning {
    pub(crate) fn new() -> Self {
        Self::every(limits::CAP_WARNING_INTERVAL_MS)
    }

    fn every(interval_ms: u64) -> Self {
        Self {
            interval_ms,
            origin: Instant::now(),
            last_ms: AtomicU64::new(0),
            suppressed: AtomicU64::new(0),
        }
    }

    /// `Some(left out since the last line)` if a line is due now, else counts this one out.
    pub(crate) fn due(&self) -> Option<u64> {
        let now_ms = u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX - 1) + 1;
        let last = self.last_ms.load(Ordering::Relaxed);
        let due = last == 0 || now_ms.saturating_sub(last) >= self.interval_ms;
        if due
            && self
                .last_ms
                .compare_exchange(last, now_ms, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            return Some(self.suppressed.swap(0, Ordering::Relaxed));
        }
        self.suppressed.fetch_add(1, Ordering::Relaxed);
        None
    }
}

/// The in-flight request budget (Kafka's `queued.max.request.bytes`): a semaphore of KiB. A
/// connection reserves a request's size after its length prefix arrives and before it buffers
/// the body, and holds the reservation until the request has been answered (or the connection
/// closes). Requests up to [`limits::REQUEST_BUDGET_EXEMPT_BYTES`] skip it. A request larger
/// than the whole budget reserves all of it, so it can always proceed once the others are
/// done. A connection never holds one reservation while waiting for another, and every
/// reservation ends when its request is answered or its frame read times out, so waiting here
/// cannot deadlock.
#[derive(Debug)]
pub(crate) struct RequestBudget {
    kib: Arc<Semaphore>,
    kib_total: u32,
    exhausted: CapWarning,
}

impl RequestBudget {
    fn new(bytes: u64) -> Self {
        let kib_total = u32::try_from(bytes.div_ceil(1024)).unwrap_or(u32::MAX);
        Self {
            kib: Arc::new(Semaphore::new(kib_total as usize)),
            kib_total,
            exhausted: CapWarning::new(),
        }
    }

    /// Whether a request of `frame_bytes` must reserve from the budget.
    pub(crate) fn applies(frame_bytes: usize) -> bool {
        frame_bytes > limits::REQUEST_BUDGET_EXEMPT_BYTES
    }

    /// Reserves `frame_bytes` (rounded up to KiB, at most the whole budget), waiting while the
    /// budget is used up. One atomic operation when there is room.
    pub(crate) async fn reserve(&self, frame_bytes: usize, peer: SocketAddr) -> Reservation {
        let kib = u32::try_from(frame_bytes.div_ceil(1024))
            .unwrap_or(u32::MAX)
            .min(self.kib_total);
        if let Ok(permit) = Arc::clone(&self.kib).try_acquire_many_owned(kib) {
            return Reservation {
                _permit: Some(permit),
            };
        }
        if let Some(suppressed) = self.exhausted.due() {
            warn!(
                %peer,
                frame_bytes,
                budget_bytes = u64::from(self.kib_total) * 1024,
                suppressed,
                "request budget used up (request_bytes_in_flight_max); \
                 the connection waits before reading its request"
            );
        }
        // The semaphore is never closed; without a permit the read simply goes on.
        Reservation {
            _permit: Arc::clone(&self.kib).acquire_many_owned(kib).await.ok(),
        }
    }

    /// KiB free right now (for tests).
    #[cfg(test)]
    fn kib_free(&self) -> usize {
        self.kib.available_permits()
    }
}

/// A request's share of the budget, given back when dropped.
#[derive(Debug)]
pub(crate) struct Reservation {
    _permit: Option<OwnedSemaphorePermit>,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn peer() -> SocketAddr {
        "127.0.0.1:1".parse().unwrap()
    }

    #[tokio::test]
    async fn a_large_request_waits_until_the_budget_has_room() {
        let budget = RequestBudget::new(4 * 1024 * 1024);
        assert!(!RequestBudget::applies(limits::REQUEST_BUDGET_EXEMPT_BYTES));
        assert!(RequestBudget::applies(
            limits::REQUEST_BUDGET_EXEMPT_BYTES + 1
        ));
        let first = budget.reserve(3 * 1024 * 1024, peer()).await;
        assert_eq!(budget.kib_free(), 1024);
        // 2 MiB do not fit in the 1 MiB left: the second reader waits.
        let second = tokio::time::timeout(
            Duration::from_millis(100),
            budget.reserve(2 * 1024 * 1024, peer()),
        )
        .await;
        assert!(second.is_err(), "reserved past the budget");
        drop(first);
        let second = budget.reserve(2 * 1024 * 1024 + 1, peer()).await;
        assert_eq!(budget.kib_free(), 4096 - 2049, "rounded up to whole KiB");
        drop(second);
        assert_eq!(budget.kib_free(), 4096);
    }

    #[tokio::test]
    async fn a_request_larger_than_the_budget_takes_all_of_it() {
        let budget = RequestBudget::new(1024 * 1024);
        let huge = budget.reserve(100 * 1024 * 1024, peer()).await;
        assert_eq!(budget.kib_free(), 0);
        drop(huge);
        assert_eq!(budget.kib_free(), 1024);
    }

    #[test]
    fn cap_warnings_are_rate_limited_and_count_what_they_leave_out() {
        let warning = CapWarning::every(200);
        assert_eq!(warning.due(), Some(0));
        assert_eq!(warning.due(), None);
        assert_eq!(warning.due(), None);
        std::thread::sleep(Duration::from_millis(250));
        assert_eq!(
            warning.due(),
            Some(2),
            "the next line reports the two left out"
        );
        assert_eq!(warning.due(), None);
    }

    #[tokio::test]
    async fn addresses_are_counted_per_listener_and_uncounted_on_close() {
        let settings = ConnectionSettings {
            per_listener_max: 10,
            per_address_max: 2,
            ..ConnectionSettings::default()
        };
        let limits = ConnectionLimits::new(settings);
        let kafka = limits.slots(Listener::Kafka);
        let first = kafka.admit(peer()).await.unwrap();
        let _second = kafka.admit("127.0.0.1:2".parse().unwrap()).await.unwrap();
        assert!(kafka.admit("127.0.0.1:3".parse().unwrap()).await.is_none());
        // An IPv4-mapped IPv6 peer is the same address.
        assert!(
            kafka
                .admit("[::ffff:127.0.0.1]:4".parse().unwrap())
                .await
                .is_none()
        );
        // Another address, and another listener, are not affected.
        assert!(kafka.admit("10.0.0.1:1".parse().unwrap()).await.is_some());
        assert!(limits.slots(Listener::Http).admit(peer()).await.is_some());
        drop(first);
        assert!(kafka.admit(peer()).await.is_some());
    }
}
