//! Reads, whichever protocol asks: the one place that calls the log's read. A read returns
//! stored frames as the log holds them (each in the format it arrived in); turning them into
//! the asking protocol's batches — as stored, or transcoded — is the adapter's work. Here are
//! the rules both protocols share: the readable range (log start to high watermark), the
//! offsets a listing reports, the lookup of a frame by timestamp, and the long poll, which
//! waits for new data no longer than the request's deadline.
//!
//! Without transactions the last stable offset is the high watermark, so every isolation level
//! reads the same range.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;

use whippet_log::{FrameHeader, LogError, PartitionLog, ReadResult, StoredFrame};

use super::{Core, CoreError, RequestContext};

/// A partition's readable range at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    /// First offset still readable.
    pub log_start: u64,
    /// Next offset visible to readers.
    pub high_watermark: u64,
}

/// Which offset of a partition a listing asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OffsetSpec {
    /// The first readable offset (the log start).
    Earliest,
    /// The next offset to be written and visible (the high watermark).
    Latest,
}

/// The partition's readable range now.
pub fn bounds(_core: &Core, _rc: &RequestContext, log: &PartitionLog) -> Bounds {
    Bounds {
        log_start: log.log_start_offset(),
        high_watermark: log.high_watermark(),
    }
}

/// The offset `spec` names on the partition.
pub fn list_offset(core: &Core, rc: &RequestContext, log: &PartitionLog, spec: OffsetSpec) -> u64 {
    let bounds = bounds(core, rc, log);
    match spec {
        OffsetSpec::Earliest => bounds.log_start,
        OffsetSpec::Latest => bounds.high_watermark,
    }
}

/// Frames from the one holding `from`, up to `max_bytes` of payload but at least one when one
/// exists below the high watermark. `max_bytes` 0 reads nothing and only checks `from`
/// against the readable range (a reader whose answer is full still learns the offsets).
/// `from` below the log start or past the high watermark is `OffsetOutOfRange`.
pub fn read(
    core: &Core,
    rc: &RequestContext,
    log: &PartitionLog,
    from: u64,
    max_bytes: usize,
) -> Result<ReadResult, CoreError> {
    let _span =
        tracing::trace_span!(parent: &rc.span, "core.read", partition = log.id(), from).entered();
    if max_bytes > 0 {
        let read = read_frames(log, from, max_bytes)?;
        count_read(core, rc, log, &read);
        return Ok(read);
    }
    let start = log.log_start_offset();
    let high_watermark = log.high_watermark();
    if from < start || from > high_watermark {
        return Err(LogError::OffsetOutOfRange {
            offset: from,
            start,
            end: high_watermark,
        }
        .into());
    }
    Ok(ReadResult {
        frames: Vec::new(),
        high_watermark,
        log_start_offset: start,
    })
}

/// Counts what a client's read returned into the partition's metrics (records and stored
/// bytes of the frames handed to the adapter).
fn count_read(core: &Core, rc: &RequestContext, log: &PartitionLog, read: &ReadResult) {
    if read.frames.is_empty() {
        return;
    }
    if let Some(series) = core.metrics.partition(rc.listener, &core.log, log) {
        let (records, bytes) = read.frames.iter().fold((0u64, 0u64), |(r, b), frame| {
            (
                r + u64::from(frame.header.record_count),
                b + frame.payload.len() as u64,
            )
        });
        series.read(records, bytes);
    }
}

/// The log's read, for the broker's own scans (rebuilding idempotent-producer state) as well
/// as [`read`]: the one call of the log's read. Served from memory when it can be, else off
/// the async workers in place (`PartitionLog::read_now`).
pub fn read_frames(
    log: &PartitionLog,
    from: u64,
    max_bytes: usize,
) -> Result<ReadResult, LogError> {
    log.read_now(from, max_bytes)
}

/// Header of the first visible frame whose max timestamp is at or after `ts_us`.
pub fn find_by_timestamp(
    _core: &Core,
    rc: &RequestContext,
    log: &PartitionLog,
    ts_us: i64,
) -> Result<Option<FrameHeader>, CoreError> {
    let _span = tracing::trace_span!(parent: &rc.span, "core.find_by_timestamp", ts_us).entered();
    Ok(log.find_by_timestamp_now(ts_us)?)
}

/// The first visible frame whose max timestamp is at or after `ts_us`, read whole, with the log
/// start at the time of the read (a delete-records may have cut into the frame).
pub fn frame_at_timestamp(
    core: &Core,
    rc: &RequestContext,
    log: &PartitionLog,
    ts_us: i64,
) -> Result<Option<(StoredFrame, u64)>, CoreError> {
    let Some(header) = find_by_timestamp(core, rc, log, ts_us)? else {
        return Ok(None);
    };
    let read = read(
        core,
        rc,
        log,
        header.base_offset.max(log.log_start_offset()),
        1,
    )?;
    let log_start = read.log_start_offset;
    Ok(read
        .frames
        .into_iter()
        .next()
        .map(|frame| (frame, log_start)))
}

/// The long poll: resolves when any watched partition's high watermark moves past the one seen,
/// or at the request's deadline. Returns false at once, without waiting, when the deadline has
/// passed already (the reader answers with what it has); a request without a deadline does not
/// wait.
pub async fn wait_for_data(
    _core: &Core,
    rc: &RequestContext,
    watch: &[(Arc<PartitionLog>, u64)],
) -> bool {
    let Some(timeout) = rc.remaining().filter(|left| !left.is_zero()) else {
        return false;
    };
    let span =
        tracing::trace_span!(parent: &rc.span, "core.wait_for_data", partitions = watch.len());
    tracing::Instrument::instrument(wait_for_any(watch, timeout), span).await;
    true
}

/// Resolves when any watched partition's high watermark moves past what was seen, or after
/// `timeout`. With nothing to watch it just waits out the timeout.
async fn wait_for_any(watch: &[(Arc<PartitionLog>, u64)], timeout: std::time::Duration) {
    if watch.is_empty() {
        tokio::time::sleep(timeout).await;
        return;
    }
    let mut waits: Vec<Pin<Box<dyn Future<Output = bool> + Send + '_>>> = watch
        .iter()
        .map(|(log, seen)| {
            Box::pin(log.wait_for_data(*seen, timeout))
                as Pin<Box<dyn Future<Output = bool> + Send>>
        })
        .collect();
    std::future::poll_fn(|cx| {
        for wait in &mut waits {
            if wait.as_mut().poll(cx).is_ready() {
                return Poll::Ready(());
            }
        }
        Poll::Pending
    })
    .await;
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::time::{Duration, Instant};

    use whippet_log::{AppendBatch, BatchFormat, Log, LogConfig, TopicSettings};

    use super::*;

    fn batch() -> AppendBatch {
        AppendBatch {
            format: BatchFormat::Native,
            payload: vec![1u8; 32].into(),
            record_count: 1,
            last_offset_delta: 0,
            first_timestamp_us: 0,
            max_timestamp_us: 0,
        }
    }

    /// The long poll is bounded by the request's deadline, not by the reader: no deadline or
    /// one already past means no wait, new data ends the wait early.
    #[tokio::test]
    async fn the_long_poll_waits_until_data_or_the_deadline() {
        let dir = tempfile::tempdir().unwrap();
        let (log, _) = Log::open(LogConfig::new(dir.path())).unwrap();
        let core = Core::with_empty_groups(log, "kafka".into(), &crate::core::test_root()).unwrap();
        let stream = core.log.create_stream("s").unwrap();
        let topic = (core.log)
            .create_topic(stream.id, "t", 1, TopicSettings::default())
            .unwrap();
        let partition = Arc::clone(topic.partition(0).unwrap());
        let watch = [(Arc::clone(&partition), 0)];
        let internal = RequestContext::internal();
        let within = |ms| {
            internal.request(
                tracing::Span::none(),
                Some(Instant::now() + Duration::from_millis(ms)),
            )
        };

        assert!(!wait_for_data(&core, &internal, &watch).await);
        assert!(!wait_for_data(&core, &within(0), &watch).await);
        let started = Instant::now();
        assert!(wait_for_data(&core, &within(60), &watch).await);
        assert!(started.elapsed() >= Duration::from_millis(50));

        let writer = Arc::clone(&partition);
        let append = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            writer.append(batch(), |_| {}).await.unwrap();
        });
        let started = Instant::now();
        assert!(wait_for_data(&core, &within(10_000), &watch).await);
        assert!(started.elapsed() < Duration::from_secs(5));
        append.await.unwrap();
        assert_eq!(
            bounds(&core, &internal, &partition),
            Bounds {
                log_start: 0,
                high_watermark: 1
            }
        );
        // Past the high watermark, and a zero-byte read of a valid offset.
        assert!(read(&core, &internal, &partition, 2, 0).is_err());
        let empty = read(&core, &internal, &partition, 1, 0).unwrap();
        assert!(empty.frames.is_empty());
        assert_eq!(
            read(&core, &internal, &partition, 0, 1)
                .unwrap()
                .frames
                .len(),
            1
        );
        core.log.shutdown().unwrap();
    }
}
