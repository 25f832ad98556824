//! The deadlines of one connection's reads, shared by the Kafka and native loops. A read waits
//! for one of two things:
//! - the first byte of the next request: until the setup deadline while the connection is not
//!   yet established (Kafka: no whole request yet; native: not logged in), then for the idle
//!   timeout (if any);
//! - the rest of a request whose first byte has arrived: for the frame read timeout from that
//!   byte (and never past the setup deadline).
//!
//! A deadline is one timer armed only while a read is pending, so a connection whose bytes are
//! already there pays nothing but a clock read per request.

use std::fmt;
use std::time::{Duration, Instant};

use crate::tls::Transport;
use bytes::BytesMut;
use tokio::io::AsyncReadExt;

use crate::connections::ConnectionSettings;
use crate::server::Closed;

/// Which deadline a connection missed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimedOut {
    /// It sent no whole first request (Kafka) or did not log in (native) in time.
    Setup,
    /// It was established and sent nothing for the idle timeout.
    Idle,
    /// A request started but did not arrive whole within the frame read timeout.
    Frame,
}

impl fmt::Display for TimedOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Setup => "no first request or login within connection_setup_timeout_ms",
            Self::Idle => "idle for connection_idle_timeout_ms",
            Self::Frame => "request not read whole within frame_read_timeout_ms",
        })
    }
}

/// When a pending read gives up, and what that is called.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadline {
    at: Instant,
    missed: TimedOut,
}

/// One connection's deadlines (see the module doc).
#[derive(Debug, Clone)]
pub struct ReadClock {
    setup_timeout: Duration,
    idle_timeout: Option<Duration>,
    frame_timeout: Duration,
    /// While the connection is not established: when its setup time runs out.
    setup_until: Option<Instant>,
}

impl ReadClock {
    /// The clock of a connection accepted now.
    pub(crate) fn start(settings: &ConnectionSettings) -> Self {
        Self {
            setup_timeout: settings.setup_timeout,
            idle_timeout: settings.idle_timeout,
            frame_timeout: settings.frame_read_timeout,
            setup_until: Some(Instant::now() + settings.setup_timeout),
        }
    }

    /// Marks the connection established (or not, again: a native logout or failed re-login
    /// gives it a fresh setup time from now).
    pub(crate) fn set_established(&mut self, established: bool) {
        if established {
            self.setup_until = None;
        } else if self.setup_until.is_none() {
            self.setup_until = Some(Instant::now() + self.setup_timeout);
        }
    }

    /// Deadline of a read waiting for the first byte of the next request.
    pub(crate) fn between_requests(&self) -> Option<Deadline> {
        if let Some(at) = self.setup_until {
            return Some(Deadline {
                at,
                missed: TimedOut::Setup,
            });
        }
        self.idle_timeout.map(|idle| Deadline {
            at: Instant::now() + idle,
            missed: TimedOut::Idle,
        })
    }

    /// Deadline of a read of the rest of a request whose first byte arrived at `started`.
    pub(crate) fn within_request(&self, started: Instant) -> Deadline {
        let frame = Deadline {
            at: started + self.frame_timeout,
            missed: TimedOut::Frame,
        };
        match self.setup_until {
            Some(at) if at < frame.at => Deadline {
                at,
                missed: TimedOut::Setup,
            },
            _ => frame,
        }
    }
}

impl ReadClock {
    /// Deadline of the next read of a request: between requests while nothing of it is
    /// buffered, else within the request, counted from `started` (set to now on first use).
    pub(crate) fn next_read(
        &self,
        buffered: bool,
        started: &mut Option<Instant>,
    ) -> Option<Deadline> {
        if buffered {
            Some(self.within_request(*started.get_or_insert_with(Instant::now)))
        } else {
            self.between_requests()
        }
    }
}

/// Reads what the socket has into `buf`, giving up at `deadline`. `Ok(0)` is end of stream.
pub(crate) async fn read_until(
    stream: &mut Transport,
    buf: &mut BytesMut,
    deadline: Option<Deadline>,
) -> Result<usize, Closed> {
    let read = stream.read_buf(buf);
    let result = match deadline {
        None => read.await,
        Some(deadline) => tokio::time::timeout_at(deadline.at.into(), read)
            .await
            .map_err(|_| Closed::TimedOut(deadline.missed))?,
    };
    result.map_err(Closed::Io)
}

/// After a large frame was split off the front of `read`, moves what is left (the start of the
/// next frame, if any) into a fresh buffer of at least `capacity`. Split halves share one
/// allocation, and the connection's next `reserve` would take the whole large allocation back
/// once the frame is dropped, keeping it for as long as the connection idles, outside the
/// request budget; this way it goes away with the frame.
pub(crate) fn detach_read_buffer(read: &mut BytesMut, capacity: usize) {
    let rest = read.split();
    *read = BytesMut::with_capacity(capacity.max(rest.len()));
    read.extend_from_slice(&rest);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(idle: Option<u64>) -> ConnectionSettings {
        ConnectionSettings {
            setup_timeout: Duration::from_secs(10),
            idle_timeout: idle.map(Duration::from_secs),
            frame_read_timeout: Duration::from_secs(30),
            ..ConnectionSettings::default()
        }
    }

    #[test]
    fn setup_deadline_bounds_everything_until_established() {
        let mut clock = ReadClock::start(&settings(Some(600)));
        let between = clock.between_requests().map(|d| d.missed);
        assert_eq!(between, Some(TimedOut::Setup));
        // A request that starts now could take 30 s, but setup ends in 10 s.
        assert_eq!(clock.within_request(Instant::now()).missed, TimedOut::Setup);
        clock.set_established(true);
        let between = clock.between_requests().map(|d| d.missed);
        assert_eq!(between, Some(TimedOut::Idle));
        assert_eq!(clock.within_request(Instant::now()).missed, TimedOut::Frame);
    }

    #[test]
    fn a_detached_buffer_keeps_the_rest_but_not_the_allocation() {
        let mut read = BytesMut::with_capacity(1024 * 1024);
        read.extend_from_slice(&vec![7u8; 1000 * 1024]);
        read.extend_from_slice(b"next");
        let frame = read.split_to(1000 * 1024).freeze();
        detach_read_buffer(&mut read, 64 * 1024);
        drop(frame);
        assert_eq!(&read[..], b"next");
        // The large allocation is not taken back by a later reserve.
        read.reserve(16);
        assert!(read.capacity() < 128 * 1024, "{}", read.capacity());
    }

    #[test]
    fn no_idle_timeout_means_no_deadline_between_requests() {
        let mut clock = ReadClock::start(&settings(None));
        clock.set_established(true);
        assert_eq!(clock.between_requests(), None);
    }

    #[test]
    fn losing_establishment_restarts_the_setup_time() {
        let mut clock = ReadClock::start(&settings(None));
        let first = clock.between_requests().map(|d| d.at);
        clock.set_established(true);
        std::thread::sleep(Duration::from_millis(5));
        clock.set_established(false);
        let second = clock.between_requests().map(|d| d.at);
        assert!(second > first, "{second:?} should be after {first:?}");
        // Staying unestablished does not keep pushing the deadline out.
        clock.set_established(false);
        assert_eq!(clock.between_requests().map(|d| d.at), second);
    }
}
