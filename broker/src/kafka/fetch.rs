//! Fetch: stored Kafka batches go out exactly as they were stored (no decompression, no
//! re-encoding): a partition's frame payloads are concatenated into one buffer, or passed on
//! without a copy when there is only one frame.
//!
//! Limits follow KIP-74: `max_bytes` over the whole response and `partition_max_bytes` per
//! partition, except that the first batch of the first partition with data is always returned
//! whole so a consumer can make progress past a batch larger than its limits. The long poll
//! waits on the partitions' high-watermark notifications (never by sleeping and re-reading)
//! until `min_bytes` are available or `max_wait_ms` has passed.
//!
//! Fetch sessions are not kept: every answer carries session id 0 ("no session"), which tells
//! clients to send full fetches, as the protocol allows. Without transactions the last stable
//! offset equals the high watermark, so read_committed is served like read_uncommitted.
//! Frames written by the native protocol are not served to Kafka clients yet: a partition's
//! answer stops before the first one.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use kafka_protocol::ResponseError;
use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
use kafka_protocol::messages::{FetchRequest, FetchResponse, RequestHeader, TopicName};
use whippet_log::{BatchFormat, PartitionLog, StoredFrame, TopicMeta};

use super::error_code::log_error;
use super::topics::{find_topic, find_topic_by_id};
use crate::context::BrokerContext;
use crate::limits::{FETCH_RESPONSE_BYTES_MAX, FETCH_WAIT_MS_MAX};

/// One requested partition, resolved against the catalog.
struct Wanted {
    index: i32,
    fetch_offset: i64,
    partition_max_bytes: usize,
    /// The partition's log, or the error to answer with.
    log: Result<Arc<PartitionLog>, ResponseError>,
}

/// One requested topic.
struct WantedTopic {
    name: TopicName,
    topic_id: uuid::Uuid,
    partitions: Vec<Wanted>,
}

/// One pass over every requested partition.
struct Gathered {
    topics: Vec<FetchableTopicResponse>,
    bytes: usize,
    any_error: bool,
    /// For each readable partition: its log and the high watermark seen, to wait for more.
    watch: Vec<(Arc<PartitionLog>, u64)>,
}

/// Serves one Fetch request, long-polling until `min_bytes` or `max_wait_ms`.
pub(crate) async fn handle(
    ctx: &Arc<BrokerContext>,
    header: &RequestHeader,
    request: FetchRequest,
) -> FetchResponse {
    if request.session_id != 0 {
        // We never hand out sessions, so any id the client names is unknown.
        return FetchResponse::default()
            .with_error_code(ResponseError::FetchSessionIdNotFound.code())
            .with_session_id(0);
    }
    let wanted = resolve(ctx, &request);
    let wait_ms = u64::try_from(request.max_wait_ms)
        .unwrap_or(0)
        .min(FETCH_WAIT_MS_MAX);
    let deadline = Instant::now() + Duration::from_millis(wait_ms);
    let min_bytes = usize::try_from(request.min_bytes).unwrap_or(0);
    let max_bytes = usize::try_from(request.max_bytes)
        .unwrap_or(0)
        .min(FETCH_RESPONSE_BYTES_MAX);
    let version = header.request_api_version;
    loop {
        let gathered = gather(&wanted, max_bytes, version);
        let now = Instant::now();
        if gathered.bytes >= min_bytes || gathered.any_error || now >= deadline {
            return FetchResponse::default()
                .with_session_id(0)
                .with_responses(gathered.topics);
        }
        wait_for_any(&gathered.watch, deadline - now).await;
    }
}

fn resolve(ctx: &BrokerContext, request: &FetchRequest) -> Vec<WantedTopic> {
    request
        .topics
        .iter()
        .map(|topic| {
            let meta = if topic.topic.is_empty() && !topic.topic_id.is_nil() {
                find_topic_by_id(ctx, topic.topic_id)
            } else {
                find_topic(ctx, topic.topic.as_str())
            };
            let unknown_error = if meta.is_none() && !topic.topic_id.is_nil() {
                ResponseError::UnknownTopicId
            } else {
                ResponseError::UnknownTopicOrPartition
            };
            let partitions = topic
                .partitions
                .iter()
                .map(|p| Wanted {
                    index: p.partition,
                    fetch_offset: p.fetch_offset,
                    partition_max_bytes: usize::try_from(p.partition_max_bytes).unwrap_or(0),
                    log: meta
                        .as_deref()
                        .and_then(|m| partition_log(m, p.partition))
                        .ok_or(unknown_error),
                })
                .collect();
            WantedTopic {
                name: topic.topic.clone(),
                topic_id: topic.topic_id,
                partitions,
            }
        })
        .collect()
}

fn partition_log(topic: &TopicMeta, index: i32) -> Option<Arc<PartitionLog>> {
    topic.partition(u32::try_from(index).ok()?).cloned()
}

/// Reads every partition once, within the response and partition limits.
fn gather(wanted: &[WantedTopic], max_bytes: usize, version: i16) -> Gathered {
    let mut gathered = Gathered {
        topics: Vec::with_capacity(wanted.len()),
        bytes: 0,
        any_error: false,
        watch: Vec::new(),
    };
    for topic in wanted {
        let mut partitions = Vec::with_capacity(topic.partitions.len());
        for want in &topic.partitions {
            let data = read_partition(want, max_bytes, &mut gathered);
            partitions.push(data);
        }
        let mut response = FetchableTopicResponse::default().with_partitions(partitions);
        if version >= 13 {
            response = response.with_topic_id(topic.topic_id);
        } else {
            response = response.with_topic(topic.name.clone());
        }
        gathered.topics.push(response);
    }
    gathered
}

fn error_data(index: i32, error: ResponseError) -> PartitionData {
    PartitionData::default()
        .with_partition_index(index)
        .with_error_code(error.code())
        .with_high_watermark(-1)
        .with_last_stable_offset(-1)
        .with_log_start_offset(-1)
}

/// One partition's answer. Only the first partition to contribute data may exceed the limits
/// (by its first batch); later ones get only what fits.
fn read_partition(want: &Wanted, max_bytes: usize, gathered: &mut Gathered) -> PartitionData {
    let log = match &want.log {
        Ok(log) => log,
        Err(error) => {
            gathered.any_error = true;
            return error_data(want.index, *error);
        }
    };
    let Ok(offset) = u64::try_from(want.fetch_offset) else {
        gathered.any_error = true;
        return error_data(want.index, ResponseError::OffsetOutOfRange);
    };
    let room = max_bytes.saturating_sub(gathered.bytes);
    let limit = want.partition_max_bytes.min(room);
    let first_data = gathered.bytes == 0;
    let read = if limit == 0 && !first_data {
        // No room left: report the offsets without reading anything.
        let start = log.log_start_offset();
        let hw = log.high_watermark();
        if offset < start || offset > hw {
            Err(whippet_log::LogError::OffsetOutOfRange {
                offset,
                start,
                end: hw,
            })
        } else {
            Ok(whippet_log::ReadResult {
                frames: Vec::new(),
                high_watermark: hw,
                log_start_offset: start,
            })
        }
    } else {
        log.read(offset, limit.max(1))
    };
    let read = match read {
        Ok(read) => read,
        Err(error) => {
            gathered.any_error = true;
            return error_data(want.index, log_error(&error));
        }
    };
    gathered.watch.push((Arc::clone(log), read.high_watermark));
    let records = kafka_records(&read.frames, limit, first_data);
    gathered.bytes += records.len();
    let hw = i64::try_from(read.high_watermark).unwrap_or(i64::MAX);
    PartitionData::default()
        .with_partition_index(want.index)
        .with_high_watermark(hw)
        .with_last_stable_offset(hw)
        .with_log_start_offset(i64::try_from(read.log_start_offset).unwrap_or(i64::MAX))
        .with_records(Some(records))
}

/// The leading Kafka frames' payloads, as one buffer. The first frame is always taken when
/// `oversize_ok` (KIP-74); otherwise frames are taken while they fit in `limit`.
fn kafka_records(frames: &[StoredFrame], limit: usize, oversize_ok: bool) -> Bytes {
    let mut taken = 0;
    let mut total = 0usize;
    for frame in frames {
        if frame.header.format != BatchFormat::Kafka {
            break;
        }
        let len = frame.payload.len();
        let fits = total + len <= limit || (taken == 0 && oversize_ok);
        if !fits {
            break;
        }
        total += len;
        taken += 1;
    }
    match &frames[..taken] {
        [] => Bytes::new(),
        [only] => only.payload.clone(),
        many => {
            let mut out = BytesMut::with_capacity(total);
            for frame in many {
                out.extend_from_slice(&frame.payload);
            }
            out.freeze()
        }
    }
}

/// Resolves when any watched partition's high watermark moves past what was seen, or after
/// `timeout`. With nothing to watch it just waits out the timeout.
async fn wait_for_any(watch: &[(Arc<PartitionLog>, u64)], timeout: Duration) {
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
    use super::*;
    use whippet_log::FrameHeader;

    fn frame(format: BatchFormat, len: usize, fill: u8) -> StoredFrame {
        StoredFrame {
            header: FrameHeader {
                format,
                base_offset: 0,
                last_offset_delta: 0,
                record_count: 1,
                first_timestamp_us: 0,
                max_timestamp_us: 0,
                payload_length: u32::try_from(len).unwrap(),
                payload_crc: 0,
            },
            payload: Bytes::from(vec![fill; len]),
        }
    }

    #[test]
    fn first_batch_may_exceed_later_ones_must_fit() {
        let frames = [
            frame(BatchFormat::Kafka, 10, 1),
            frame(BatchFormat::Kafka, 10, 2),
        ];
        assert_eq!(kafka_records(&frames, 5, true).len(), 10);
        assert_eq!(kafka_records(&frames, 5, false).len(), 0);
        assert_eq!(kafka_records(&frames, 19, true).len(), 10);
        let both = kafka_records(&frames, 20, false);
        assert_eq!(&both[..], &[[1u8; 10], [2u8; 10]].concat()[..]);
    }

    #[test]
    fn stops_before_native_frames() {
        let frames = [
            frame(BatchFormat::Kafka, 4, 1),
            frame(BatchFormat::Native, 4, 2),
        ];
        assert_eq!(kafka_records(&frames, 100, true).len(), 4);
        assert!(kafka_records(&frames[1..], 100, true).is_empty());
    }
}
