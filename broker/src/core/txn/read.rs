//! What readers of a partition with transactions may see, for every protocol: the last
//! stable offset (below the first open transaction; the high watermark when none is open),
//! the aborted ranges a Kafka `read_committed` consumer filters with, and the committed view
//! native readers get ([`CommittedView`]: they read up to the last stable offset, without
//! aborted batches and markers, since native messages have no transaction fields to filter
//! with).

use whippet_log::{BatchFormat, StoredFrame, TopicMeta};
use whippet_wire::kafka::batch::inspect_stored_batch_at;

use super::partition_of;
use super::state::{Aborted, Transactions};

/// The last stable offset of partition `partition` of `topic`, given its high watermark.
pub fn last_stable_offset(
    txns: &Transactions,
    topic: &TopicMeta,
    partition: u32,
    high_watermark: u64,
) -> u64 {
    txns.open_first_offset(&partition_of(topic, partition))
        .map_or(high_watermark, |first| first.min(high_watermark))
}

/// The aborted ranges of the partition overlapping `[from, to)`.
pub fn aborted(
    txns: &Transactions,
    topic: &TopicMeta,
    partition: u32,
    from: u64,
    to: u64,
) -> Vec<Aborted> {
    txns.aborted_between(&partition_of(topic, partition), from, to)
}

/// What a committed reader of one partition's range does not see: transaction markers, and
/// batches of transactions aborted in that range. (Hidden batches keep their offsets; a reader
/// skips them as a gap, as it would a compacted range.)
#[derive(Debug, Default)]
pub struct CommittedView {
    ranges: Vec<Aborted>,
}

impl CommittedView {
    /// The view of partition `partition` of `topic` over `[from, to)`.
    pub fn new(txns: &Transactions, topic: &TopicMeta, partition: u32, from: u64, to: u64) -> Self {
        if txns.is_quiet() {
            return Self::default();
        }
        Self {
            ranges: aborted(txns, topic, partition, from, to),
        }
    }

    /// Whether `frame` is hidden from committed readers.
    pub fn hides(&self, frame: &StoredFrame) -> bool {
        if frame.header.format != BatchFormat::Kafka {
            return false;
        }
        let Ok(info) = inspect_stored_batch_at(&frame.payload, 0) else {
            return false;
        };
        if !info.is_transactional {
            return false;
        }
        if info.is_control {
            return true;
        }
        let offset = frame.header.base_offset;
        self.ranges.iter().any(|a| {
            a.producer_id == info.producer_id && a.first_offset <= offset && offset <= a.last_offset
        })
    }
}
