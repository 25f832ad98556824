//! Coordinator settings (Kafka's `group.*` broker settings).

use std::time::Duration;

use crate::limits;

/// Group settings. Defaults are Kafka's, which client defaults are tuned against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupConfig {
    /// Smallest session timeout a member may ask for (`group.min.session.timeout.ms`).
    pub min_session_timeout: Duration,
    /// Largest session timeout a member may ask for (`group.max.session.timeout.ms`).
    pub max_session_timeout: Duration,
    /// How long the first rebalance of an empty group waits for more members
    /// (`group.initial.rebalance.delay.ms`); zero disables it.
    pub initial_rebalance_delay: Duration,
    /// Consumer (KIP-848) groups: a member not heard from for this long is removed
    /// (`group.consumer.session.timeout.ms`).
    pub consumer_session_timeout: Duration,
    /// Consumer groups: the heartbeat interval members are told
    /// (`group.consumer.heartbeat.interval.ms`).
    pub consumer_heartbeat_interval: Duration,
}

impl Default for GroupConfig {
    fn default() -> Self {
        GroupConfig {
            min_session_timeout: limits::DEFAULT_MIN_SESSION_TIMEOUT,
            max_session_timeout: limits::DEFAULT_MAX_SESSION_TIMEOUT,
            initial_rebalance_delay: limits::DEFAULT_INITIAL_REBALANCE_DELAY,
            consumer_session_timeout: limits::DEFAULT_CONSUMER_SESSION_TIMEOUT,
            consumer_heartbeat_interval: limits::DEFAULT_CONSUMER_HEARTBEAT_INTERVAL,
        }
    }
}
