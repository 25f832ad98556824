//! Issue 22 item 1: with `fsync = always`, an idempotent batch whose fdatasync failed was
//! answered KAFKA_STORAGE_ERROR, and the client's retry of the same batch was then answered 0
//! as a duplicate without waiting for durability, so an acknowledged batch vanished at the
//! next restart. The log here runs on a store whose fdatasync fails on demand (the storage
//! seam), and the Produce handler is driven with real idempotent record batches.
#![allow(clippy::unwrap_used)]

use std::io;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::{Bytes, BytesMut};
use kafka_protocol::ResponseError;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{ApiKey, ProduceRequest, TopicName};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};
use whippet_log::{
    FsyncPolicy, LocalStore, Log, LogConfig, SegmentFile, SegmentStore, TopicSettings,
};

use crate::context::test_support::{context_on_log, kafka_topic};
use crate::core::RequestContext;
use crate::kafka::produce;
use crate::kafka::test_support::header;

/// Local files whose `fdatasync` fails while `failing` is set.
#[derive(Debug, Default)]
struct FlakySync {
    failing: Arc<AtomicBool>,
}

#[derive(Debug)]
struct FlakyFile {
    inner: Box<dyn SegmentFile>,
    failing: Arc<AtomicBool>,
}

impl FlakySync {
    fn wrap(&self, inner: Box<dyn SegmentFile>) -> Box<dyn SegmentFile> {
        Box::new(FlakyFile {
            inner,
            failing: Arc::clone(&self.failing),
        })
    }
}

impl SegmentStore for FlakySync {
    fn create_new(&self, path: &Path) -> io::Result<Box<dyn SegmentFile>> {
        LocalStore.create_new(path).map(|file| self.wrap(file))
    }

    fn open(&self, path: &Path, create: bool) -> io::Result<Box<dyn SegmentFile>> {
        LocalStore.open(path, create).map(|file| self.wrap(file))
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        LocalStore.remove(path)
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        LocalStore.sync_dir(dir)
    }
}

impl SegmentFile for FlakyFile {
    fn read_exact_at(&self, buf: &mut [u8], pos: u64) -> io::Result<()> {
        self.inner.read_exact_at(buf, pos)
    }

    fn read_vec_at(&self, len: usize, pos: u64) -> io::Result<Vec<u8>> {
        self.inner.read_vec_at(len, pos)
    }

    fn write_all_at(&self, buf: &[u8], pos: u64) -> io::Result<()> {
        self.inner.write_all_at(buf, pos)
    }

    fn sync_data(&self) -> io::Result<()> {
        if self.failing.load(Ordering::SeqCst) {
            Err(io::Error::other("injected fdatasync failure"))
        } else {
            self.inner.sync_data()
        }
    }

    fn size(&self) -> io::Result<u64> {
        self.inner.size()
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        self.inner.set_len(len)
    }
}

/// One idempotent batch of producer 4242, epoch 0, sequences `first..first + count`.
fn idempotent_batch(first: i32, count: i32) -> Bytes {
    let records: Vec<Record> = (first..first + count)
        .map(|sequence| Record {
            transactional: false,
            control: false,
            partition_leader_epoch: 0,
            producer_id: 4242,
            producer_epoch: 0,
            timestamp_type: TimestampType::Creation,
            offset: i64::from(sequence - first),
            sequence,
            timestamp: 1_700_000_000_000,
            key: None,
            value: Some(Bytes::from(format!("record-{sequence}"))),
            headers: Default::default(),
            delete_horizon: false,
        })
        .collect();
    let mut buf = BytesMut::new();
    let options = RecordEncodeOptions {
        version: 2,
        compression: Compression::None,
    };
    RecordBatchEncoder::encode(&mut buf, &records, &options).unwrap();
    buf.freeze()
}

/// Produces `batch` to partition 0 of `topic` with acks=all; returns the partition's error.
async fn produce_once(ctx: &Arc<crate::context::BrokerContext>, batch: Bytes) -> i16 {
    let request = ProduceRequest::default()
        .with_acks(-1)
        .with_timeout_ms(5_000)
        .with_topic_data(vec![
            TopicProduceData::default()
                .with_name(TopicName(StrBytes::from_static_str("flaky")))
                .with_partition_data(vec![
                    PartitionProduceData::default()
                        .with_index(0)
                        .with_records(Some(batch)),
                ]),
        ]);
    let response = produce::handle(
        ctx,
        &RequestContext::internal(),
        &header(ApiKey::Produce, 9),
        request,
    )
    .await;
    response.responses[0].partition_responses[0].error_code
}

#[tokio::test]
async fn a_retried_batch_whose_sync_failed_is_never_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let store = FlakySync::default();
    let failing = Arc::clone(&store.failing);
    let mut config = LogConfig::new(dir.path());
    config.fsync = FsyncPolicy::Always;
    let (log, _) = Log::open_with_store(config, Arc::new(store)).unwrap();
    let ctx = context_on_log(log, None);
    kafka_topic(&ctx, "flaky", 1, TopicSettings::default()).await;

    assert_eq!(produce_once(&ctx, idempotent_batch(0, 5)).await, 0);
    failing.store(true, Ordering::SeqCst);
    let storage_error = ResponseError::KafkaStorageError.code();
    assert_eq!(
        produce_once(&ctx, idempotent_batch(5, 5)).await,
        storage_error
    );
    // librdkafka resends the same batch (same producer, epoch and sequences). Its data never
    // reached the disk, so it must not be acknowledged now, even once the disk works again.
    assert_ne!(produce_once(&ctx, idempotent_batch(5, 5)).await, 0);
    failing.store(false, Ordering::SeqCst);
    assert_ne!(produce_once(&ctx, idempotent_batch(5, 5)).await, 0);
}
