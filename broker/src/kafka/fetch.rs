//! Fetch: stored Kafka batches go out exactly as they were stored (no decompression, no
//! re-encoding, no copy): the answer holds each partition's first frame payload and a tail of
//! the ones after it ([`FetchAnswer`]), and the connection writes them by reference with
//! vectored writes. Batches written by the native protocol are
//! transcoded into one v2 record batch each (`whippet_wire::transcode::native_to_kafka`),
//! compressed with the topic's `compression.type` (none when it is `producer`), and counted
//! against the limits at their transcoded size.
//!
//! Limits follow KIP-74: `max_bytes` over the whole response and `partition_max_bytes` per
//! partition, except that the first batch of the first partition with data is always returned
//! whole so a consumer can make progress past a batch larger than its limits. Partitions are
//! read through the core ([`crate::core::read`]), and the long poll is the core's: it waits on
//! the partitions' high-watermark notifications (never by sleeping and re-reading) until
//! `min_bytes` are available or the request's deadline (`max_wait_ms`) has passed.
//!
//! Fetch sessions are not kept: every answer carries session id 0 ("no session"), which tells
//! clients to send full fetches, as the protocol allows. Every answer carries the last stable
//! offset ([`crate::core::txn::read`]); a `read_committed` fetch gets nothing at or past it,
//! and the aborted transactions overlapping what it gets, by which the client drops aborted
//! batches (the stored batches are served as they are either way).
//!
//! Topics are found by their Kafka name ([`crate::core::names`]): native topics of other streams as
//! `<stream>.<topic>`. A stored native batch that cannot be transcoded (a bug, since the log
//! checked it on append) ends the partition's answer before it, or is KAFKA_STORAGE_ERROR when
//! it is the first batch, so the consumer sees an error rather than silently skipped records.

use crate::core::users::Access;
use std::sync::Arc;

use bytes::Bytes;
use kafka_protocol::ResponseError;
use kafka_protocol::messages::fetch_response::{
    AbortedTransaction, FetchableTopicResponse, PartitionData,
};
use kafka_protocol::messages::{FetchRequest, FetchResponse, RequestHeader, TopicName};
use whippet_log::{BatchFormat, Compression, PartitionLog, StoredFrame, TopicMeta};
use whippet_wire::kafka::chunked::RecordTail;
use whippet_wire::transcode::{KafkaCompression, native_to_kafka};

use super::error_code::core_error;
use super::topics::{find_topic, find_topic_by_id};
use crate::context::BrokerContext;
use crate::core::txn::read::{aborted, last_stable_offset};
use crate::core::txn::state::Transactions;
use crate::core::{self, Core, RequestContext};
use crate::limits::FETCH_RESPONSE_BYTES_MAX;

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
    /// What native batches of this topic are compressed with when transcoded.
    compression: KafkaCompression,
    /// The topic, when it was found.
    meta: Option<Arc<TopicMeta>>,
    partitions: Vec<Wanted>,
}

/// What a fetch may see: `read_committed` stops at the last stable offset.
#[derive(Clone, Copy)]
struct Isolation<'a> {
    txns: &'a Transactions,
    read_committed: bool,
}

/// One pass over every requested partition.
struct Gathered {
    topics: Vec<FetchableTopicResponse>,
    bytes: usize,
    any_error: bool,
    /// For each readable partition: its log and the high watermark seen, to wait for more.
    watch: Vec<(Arc<PartitionLog>, u64)>,
    /// The batches after the first of each partition that has several (see [`FetchAnswer`]).
    tails: Vec<RecordTail>,
    /// Some partition had data a read_committed fetch could not see yet (past its last stable
    /// offset): the end of a transaction, not an append, is what to wait for there.
    held_back: bool,
}

/// A Fetch answer as it is written: each partition's response holds its first record batch
/// section, and `tails` the sections that follow it, so stored batches go to the socket by
/// reference instead of being concatenated ([`whippet_wire::kafka::chunked`]).
#[derive(Debug)]
pub(crate) struct FetchAnswer {
    pub(crate) response: FetchResponse,
    pub(crate) tails: Vec<RecordTail>,
}

/// Serves one Fetch request, long-polling until `min_bytes` or the request's deadline (its
/// `max_wait_ms`, capped at `FETCH_WAIT_MS_MAX`, set by the dispatcher).
pub(crate) async fn handle(
    ctx: &Arc<BrokerContext>,
    rc: &RequestContext,
    header: &RequestHeader,
    request: FetchRequest,
) -> FetchAnswer {
    if request.session_id != 0 {
        // We never hand out sessions, so any id the client names is unknown.
        let response = FetchResponse::default()
            .with_error_code(ResponseError::FetchSessionIdNotFound.code())
            .with_session_id(0);
        return FetchAnswer {
            response,
            tails: Vec::new(),
        };
    }
    let wanted = resolve(ctx, rc, &request);
    let min_bytes = usize::try_from(request.min_bytes).unwrap_or(0);
    let max_bytes = usize::try_from(request.max_bytes)
        .unwrap_or(0)
        .min(FETCH_RESPONSE_BYTES_MAX);
    let version = header.request_api_version;
    let read_committed = request.isolation_level == 1;
    loop {
        let moved = ctx.core.txns.stable_moved();
        tokio::pin!(moved);
        moved.as_mut().enable();
        let state = ctx.core.meta.load();
        let isolation = Isolation {
            txns: &state.txns,
            read_committed,
        };
        let gathered = gather(&ctx.core, rc, &wanted, (max_bytes, isolation), version);
        let enough = gathered.bytes >= min_bytes || gathered.any_error;
        if enough || !wait_for_more(ctx, rc, &gathered, moved).await {
            let response = FetchResponse::default()
                .with_session_id(0)
                .with_responses(gathered.topics);
            return FetchAnswer {
                response,
                tails: gathered.tails,
            };
        }
    }
}

/// Waits until a watched partition's high watermark moves (or, when a transaction held data
/// back, one completes) or the deadline; false once the deadline has passed.
async fn wait_for_more(
    ctx: &BrokerContext,
    rc: &RequestContext,
    gathered: &Gathered,
    stable_moved: std::pin::Pin<&mut tokio::sync::futures::Notified<'_>>,
) -> bool {
    let wait = core::read::wait_for_data(&ctx.core, rc, &gathered.watch);
    if !gathered.held_back {
        return wait.await;
    }
    tokio::select! {
        waited = wait => waited,
        () = stable_moved => rc.remaining().is_some_and(|left| !left.is_zero()),
    }
}

fn resolve(ctx: &BrokerContext, rc: &RequestContext, request: &FetchRequest) -> Vec<WantedTopic> {
    request
        .topics
        .iter()
        .map(|topic| {
            let meta = if topic.topic.is_empty() && !topic.topic_id.is_nil() {
                find_topic_by_id(ctx, topic.topic_id).map(|(_, meta)| meta)
            } else {
                find_topic(ctx, topic.topic.as_str())
            };
            let unknown_error = if meta.is_none() && !topic.topic_id.is_nil() {
                ResponseError::UnknownTopicId
            } else {
                ResponseError::UnknownTopicOrPartition
            };
            // A topic the user may not poll is refused partition by partition, as Kafka does.
            let denied = meta.as_deref().is_some_and(|m| {
                let poll = Access::PollMessages(m.stream_id, m.id);
                ctx.core.users.permits(rc, poll).is_err()
            });
            let meta = if denied { None } else { meta };
            let unknown_error = if denied {
                ResponseError::TopicAuthorizationFailed
            } else {
                unknown_error
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
                compression: meta.as_deref().map_or(KafkaCompression::None, |m| {
                    transcode_compression(m.settings.compression)
                }),
                meta,
                partitions,
            }
        })
        .collect()
}

/// The codec for transcoded batches: the topic's `compression.type` (which for a native topic
/// is its `compression_algorithm`, gzip or none); `producer` is stored as none.
fn transcode_compression(setting: Compression) -> KafkaCompression {
    match setting {
        Compression::None => KafkaCompression::None,
        Compression::Gzip => KafkaCompression::Gzip,
        Compression::Snappy => KafkaCompression::Snappy,
        Compression::Lz4 => KafkaCompression::Lz4,
        Compression::Zstd => KafkaCompression::Zstd,
    }
}

fn partition_log(topic: &TopicMeta, index: i32) -> Option<Arc<PartitionLog>> {
    topic.partition(u32::try_from(index).ok()?).cloned()
}

/// Reads every partition once, within the response and partition limits.
fn gather(
    core: &Core,
    rc: &RequestContext,
    wanted: &[WantedTopic],
    (max_bytes, isolation): (usize, Isolation<'_>),
    version: i16,
) -> Gathered {
    let mut gathered = Gathered {
        topics: Vec::with_capacity(wanted.len()),
        bytes: 0,
        any_error: false,
        watch: Vec::new(),
        tails: Vec::new(),
        held_back: false,
    };
    for topic in wanted {
        let mut partitions = Vec::with_capacity(topic.partitions.len());
        for want in &topic.partitions {
            let data = read_partition(
                (core, rc),
                (want, topic.meta.as_deref()),
                (topic.compression, isolation),
                max_bytes,
                &mut gathered,
            );
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
fn read_partition(
    (core, rc): (&Core, &RequestContext),
    (want, meta): (&Wanted, Option<&TopicMeta>),
    (compression, isolation): (KafkaCompression, Isolation<'_>),
    max_bytes: usize,
    gathered: &mut Gathered,
) -> PartitionData {
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
    // No room left: the core reports the offsets without reading anything.
    let read_bytes = if limit == 0 && !first_data {
        0
    } else {
        limit.max(1)
    };
    let read = match core::read::read(core, rc, log, offset, read_bytes) {
        Ok(read) => read,
        Err(error) => {
            gathered.any_error = true;
            return error_data(want.index, core_error(&error));
        }
    };
    gathered.watch.push((Arc::clone(log), read.high_watermark));
    let index = u32::try_from(want.index).unwrap_or_default();
    let stable = meta.map_or(read.high_watermark, |m| {
        last_stable_offset(isolation.txns, m, index, read.high_watermark)
    });
    let frames = if isolation.read_committed {
        let visible = read
            .frames
            .iter()
            .take_while(|f| f.header.last_offset() < stable)
            .count();
        gathered.held_back |= stable < read.high_watermark;
        &read.frames[..visible]
    } else {
        &read.frames[..]
    };
    let aborted_list = match (meta, frames.first(), frames.last()) {
        (Some(m), Some(first), Some(last)) if isolation.read_committed => {
            let (from, to) = (first.header.base_offset, last.header.last_offset() + 1);
            let list = aborted(isolation.txns, m, index, from, to).into_iter();
            Some(list.map(aborted_entry).collect())
        }
        _ if isolation.read_committed => Some(Vec::new()),
        _ => None,
    };
    let mut sections = match kafka_sections(frames, limit, first_data, compression) {
        Ok(sections) => sections.into_iter(),
        Err(error) => {
            gathered.any_error = true;
            return error_data(want.index, error);
        }
    };
    let records = sections.next().unwrap_or_default();
    let rest: Vec<Bytes> = sections.collect();
    gathered.bytes += records.len() + rest.iter().map(Bytes::len).sum::<usize>();
    if !rest.is_empty() {
        gathered.tails.push(RecordTail {
            first: records.clone(),
            rest,
        });
    }
    let hw = i64::try_from(read.high_watermark).unwrap_or(i64::MAX);
    PartitionData::default()
        .with_partition_index(want.index)
        .with_high_watermark(hw)
        .with_last_stable_offset(i64::try_from(stable).unwrap_or(i64::MAX))
        .with_aborted_transactions(aborted_list)
        .with_log_start_offset(i64::try_from(read.log_start_offset).unwrap_or(i64::MAX))
        .with_records(Some(records))
}

fn aborted_entry(range: crate::core::txn::state::Aborted) -> AbortedTransaction {
    AbortedTransaction::default()
        .with_producer_id(kafka_protocol::messages::ProducerId(range.producer_id))
        .with_first_offset(i64::try_from(range.first_offset).unwrap_or(i64::MAX))
}

/// The leading frames as v2 record batches: Kafka frames as stored, native ones transcoded
/// with `compression`. The first frame is always taken when `oversize_ok` (KIP-74); otherwise
/// frames are taken while they fit in `limit`. A native frame that does not transcode ends the
/// answer before it, or is the error when nothing was taken yet.
fn kafka_sections(
    frames: &[StoredFrame],
    limit: usize,
    oversize_ok: bool,
    compression: KafkaCompression,
) -> Result<Vec<Bytes>, ResponseError> {
    let mut taken: Vec<Bytes> = Vec::new();
    let mut total = 0usize;
    for frame in frames {
        let batch = match frame.header.format {
            BatchFormat::Kafka => frame.payload.clone(),
            BatchFormat::Native => match native_to_kafka(&frame.payload, compression) {
                Ok(batch) => batch.freeze(),
                Err(error) => {
                    tracing::error!(%error, offset = frame.header.base_offset,
                        "stored native batch does not transcode to Kafka");
                    if taken.is_empty() {
                        return Err(ResponseError::KafkaStorageError);
                    }
                    break;
                }
            },
        };
        let fits = total + batch.len() <= limit || (taken.is_empty() && oversize_ok);
        if !fits {
            break;
        }
        total += batch.len();
        taken.push(batch);
    }
    Ok(taken)
}

/// Sections as one buffer (copied unless there is only one).
#[cfg(test)]
fn concat(sections: impl IntoIterator<Item = Bytes>) -> Bytes {
    let sections: Vec<Bytes> = sections.into_iter().collect();
    match sections.as_slice() {
        [] => Bytes::new(),
        [only] => only.clone(),
        many => {
            let mut out = bytes::BytesMut::with_capacity(many.iter().map(Bytes::len).sum());
            for section in many {
                out.extend_from_slice(section);
            }
            out.freeze()
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use kafka_protocol::records::RecordBatchDecoder;
    use whippet_log::FrameHeader;
    use whippet_wire::native::batch::{encode_batch, stamp_batch};
    use whippet_wire::native::message::NewMessage;

    fn frame(format: BatchFormat, base_offset: u64, payload: Bytes) -> StoredFrame {
        StoredFrame {
            header: FrameHeader {
                format,
                base_offset,
                last_offset_delta: 0,
                record_count: 1,
                first_timestamp_us: 0,
                max_timestamp_us: 0,
                payload_length: u32::try_from(payload.len()).unwrap(),
                payload_crc: 0,
            },
            payload,
        }
    }

    /// A stored native batch of `payloads` at `base_offset`, stamped as send does.
    fn native(base_offset: u64, payloads: &[&[u8]]) -> StoredFrame {
        let messages: Vec<NewMessage<'_>> = payloads
            .iter()
            .enumerate()
            .map(|(i, payload)| NewMessage {
                id: 1000 + i as u128,
                offset_delta: u32::try_from(i).unwrap(),
                timestamp_delta: 0,
                payload,
                user_headers: &[],
            })
            .collect();
        let mut batch = encode_batch(1, &messages);
        stamp_batch(&mut batch, 0, base_offset, 1_700_000_000_000_000).unwrap();
        frame(BatchFormat::Native, base_offset, batch.freeze())
    }

    fn kafka_records_for_test(
        frames: &[StoredFrame],
        limit: usize,
        oversize_ok: bool,
        compression: KafkaCompression,
    ) -> Result<Bytes, ResponseError> {
        kafka_sections(frames, limit, oversize_ok, compression).map(concat)
    }

    /// (offset, value) of every record in a Fetch answer's records.
    fn decoded(mut records: Bytes) -> Vec<(i64, Vec<u8>)> {
        let sets = RecordBatchDecoder::decode_all(&mut records).unwrap();
        sets.into_iter()
            .flat_map(|set| set.records)
            .map(|r| (r.offset, r.value.unwrap_or_default().to_vec()))
            .collect()
    }

    #[test]
    fn first_batch_may_exceed_later_ones_must_fit() {
        let none = KafkaCompression::None;
        let frames = [
            frame(BatchFormat::Kafka, 0, Bytes::from(vec![1u8; 10])),
            frame(BatchFormat::Kafka, 1, Bytes::from(vec![2u8; 10])),
        ];
        assert_eq!(
            kafka_records_for_test(&frames, 5, true, none)
                .unwrap()
                .len(),
            10
        );
        assert_eq!(
            kafka_records_for_test(&frames, 5, false, none)
                .unwrap()
                .len(),
            0
        );
        assert_eq!(
            kafka_records_for_test(&frames, 19, true, none)
                .unwrap()
                .len(),
            10
        );
        let both = kafka_records_for_test(&frames, 20, false, none).unwrap();
        assert_eq!(&both[..], &[[1u8; 10], [2u8; 10]].concat()[..]);
        // One Kafka frame is passed on without a copy.
        let one = kafka_records_for_test(&frames[..1], 100, true, none).unwrap();
        assert_eq!(one.as_ptr(), frames[0].payload.as_ptr());
    }

    #[test]
    fn native_frames_are_transcoded_with_the_topic_codec() {
        let frames = [native(0, &[b"a", b"bb"]), native(2, &[b"ccc"])];
        for codec in [KafkaCompression::None, KafkaCompression::Gzip] {
            let records = kafka_records_for_test(&frames, 1 << 20, true, codec).unwrap();
            assert_eq!(
                decoded(records),
                vec![
                    (0, b"a".to_vec()),
                    (1, b"bb".to_vec()),
                    (2, b"ccc".to_vec())
                ],
                "{codec:?}"
            );
        }
        // Limits count transcoded bytes: the second batch does not fit in the first's size.
        let first =
            kafka_records_for_test(&frames[..1], 1 << 20, true, KafkaCompression::None).unwrap();
        let only_first = kafka_records_for_test(&frames, first.len(), true, KafkaCompression::None);
        assert_eq!(only_first.unwrap(), first);
    }

    #[test]
    fn a_native_frame_that_does_not_transcode_is_an_error_or_the_end() {
        let bad = frame(BatchFormat::Native, 1, Bytes::from(vec![7u8; 40]));
        let none = KafkaCompression::None;
        assert_eq!(
            kafka_records_for_test(std::slice::from_ref(&bad), 100, true, none).unwrap_err(),
            ResponseError::KafkaStorageError
        );
        let frames = [native(0, &[b"x"]), bad];
        assert_eq!(
            decoded(kafka_records_for_test(&frames, 1 << 20, true, none).unwrap()),
            vec![(0, b"x".to_vec())]
        );
    }

    #[test]
    fn topic_codec_maps_one_to_one() {
        assert_eq!(
            transcode_compression(Compression::None),
            KafkaCompression::None
        );
        assert_eq!(
            transcode_compression(Compression::Gzip),
            KafkaCompression::Gzip
        );
        assert_eq!(
            transcode_compression(Compression::Snappy),
            KafkaCompression::Snappy
        );
        assert_eq!(
            transcode_compression(Compression::Lz4),
            KafkaCompression::Lz4
        );
        assert_eq!(
            transcode_compression(Compression::Zstd),
            KafkaCompression::Zstd
        );
    }
}
