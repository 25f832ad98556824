//! The idempotent-producer rules for one partition, as pure data: what is remembered per
//! producer (epoch and the last few batches' sequence and offset ranges) and the verdict for a
//! new batch. Nothing here does I/O or locking, so every rule is unit-tested directly; the
//! caller ([`super::ProducerStates`]) runs check, append and record under one lock.
//!
//! The rules follow Kafka ≥ 2.5 (after KIP-360): a stale epoch is INVALID_PRODUCER_EPOCH; a
//! newer epoch must start at sequence 0; within an epoch a batch must continue the last
//! sequence (wrapping after `i32::MAX`) unless it repeats a remembered batch exactly, which is
//! answered with the original offsets and not appended again. A producer id with no state at
//! all (never seen, or forgotten) is accepted at any sequence, which is what a Java broker does
//! for an id whose state expired; UNKNOWN_PRODUCER_ID is no longer sent by Kafka brokers.

use std::collections::{HashMap, VecDeque};

use serde::{Deserialize, Serialize};

use crate::limits::{PRODUCER_BATCHES_CACHED, PRODUCERS_PER_PARTITION_MAX};

/// The idempotence fields of one incoming batch, as read from its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BatchIds {
    /// Producer id (≥ 0 for an idempotent batch).
    pub producer_id: i64,
    /// Producer epoch.
    pub epoch: i16,
    /// Sequence of the first record.
    pub first_seq: i32,
    /// Sequence of the last record (wrapped past `i32::MAX`).
    pub last_seq: i32,
}

impl BatchIds {
    /// Builds the ids of a batch with `first_seq` spanning `last_offset_delta + 1` sequences.
    pub(crate) fn new(
        producer_id: i64,
        epoch: i16,
        first_seq: i32,
        last_offset_delta: i32,
    ) -> Self {
        Self {
            producer_id,
            epoch,
            first_seq,
            last_seq: increment_sequence(first_seq, last_offset_delta),
        }
    }
}

/// One appended batch as remembered for duplicate detection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct BatchRecord {
    /// Sequence of the first record.
    pub first_seq: i32,
    /// Sequence of the last record.
    pub last_seq: i32,
    /// Offset the log gave the first record.
    pub base_offset: u64,
    /// Offset of the last record.
    pub last_offset: u64,
}

/// What one producer id has done on one partition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ProducerEntry {
    /// Current epoch; batches from older epochs are fenced.
    pub epoch: i16,
    /// The last [`PRODUCER_BATCHES_CACHED`] batches of this epoch, oldest first.
    pub batches: VecDeque<BatchRecord>,
    /// Last append (µs since the epoch), for evicting the least recently used producer.
    pub last_append_us: i64,
}

/// Why a batch is refused; each maps to the Kafka error the producer expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SequenceError {
    /// The batch's epoch is older than the producer's current one (a zombie): error 47.
    InvalidProducerEpoch,
    /// The sequence does not continue the last one (a gap, or a new epoch not starting at 0):
    /// error 45.
    OutOfOrderSequence,
}

/// What to do with a batch that passed the checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Append it.
    Append,
    /// It repeats this already-appended batch: answer with its offsets, append nothing.
    Duplicate(BatchRecord),
}

/// The sequence `delta` records after `sequence`, wrapping from `i32::MAX` to 0 as Kafka does.
pub(crate) fn increment_sequence(sequence: i32, delta: i32) -> i32 {
    if sequence > i32::MAX - delta {
        delta - (i32::MAX - sequence) - 1
    } else {
        sequence + delta
    }
}

/// Whether `next` is the sequence right after `last`.
fn in_sequence(last: i32, next: i32) -> bool {
    next == increment_sequence(last, 1)
}

/// The verdict for `batch` given what is known about its producer.
pub(crate) fn check(
    entry: Option<&ProducerEntry>,
    batch: &BatchIds,
) -> Result<Verdict, SequenceError> {
    let Some(entry) = entry else {
        // No state for this id: accept at any sequence (Kafka ≥ 2.5).
        return Ok(Verdict::Append);
    };
    if batch.epoch < entry.epoch {
        return Err(SequenceError::InvalidProducerEpoch);
    }
    if batch.epoch > entry.epoch {
        return if batch.first_seq == 0 {
            Ok(Verdict::Append)
        } else {
            Err(SequenceError::OutOfOrderSequence)
        };
    }
    if let Some(original) = entry
        .batches
        .iter()
        .find(|b| b.first_seq == batch.first_seq && b.last_seq == batch.last_seq)
    {
        return Ok(Verdict::Duplicate(*original));
    }
    match entry.batches.back() {
        Some(last) if !in_sequence(last.last_seq, batch.first_seq) => {
            Err(SequenceError::OutOfOrderSequence)
        }
        _ => Ok(Verdict::Append),
    }
}

/// Every producer's state on one partition.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct PartitionProducers {
    /// State by producer id.
    pub producers: HashMap<i64, ProducerEntry>,
}

impl PartitionProducers {
    /// Checks a request's batches for this partition in order, each against the state the
    /// earlier ones would leave, without changing anything. `Ok(None)`: append them all;
    /// `Ok(Some(record))`: a batch repeats `record`, so (as Kafka does) the whole set is
    /// answered with that batch's offsets and nothing is appended.
    pub(crate) fn check_all(
        &self,
        batches: &[BatchIds],
    ) -> Result<Option<BatchRecord>, SequenceError> {
        let mut overlay: Vec<(i64, ProducerEntry)> = Vec::new();
        for (index, batch) in batches.iter().enumerate() {
            let entry = overlay
                .iter()
                .find(|(id, _)| *id == batch.producer_id)
                .map(|(_, entry)| entry)
                .or_else(|| self.producers.get(&batch.producer_id));
            match check(entry, batch)? {
                Verdict::Duplicate(original) => return Ok(Some(original)),
                Verdict::Append if index + 1 < batches.len() => {
                    let mut next = entry.cloned().unwrap_or_else(|| empty_entry(batch.epoch));
                    // Placeholder offsets: only sequences matter for the later checks.
                    apply(&mut next, batch, 0, 0, 0);
                    overlay.retain(|(id, _)| *id != batch.producer_id);
                    overlay.push((batch.producer_id, next));
                }
                Verdict::Append => {}
            }
        }
        Ok(None)
    }

    /// Remembers an appended batch (or one found by scanning the log at startup).
    pub(crate) fn record(
        &mut self,
        batch: &BatchIds,
        base_offset: u64,
        last_offset: u64,
        now_us: i64,
    ) {
        if !self.producers.contains_key(&batch.producer_id)
            && self.producers.len() >= PRODUCERS_PER_PARTITION_MAX
        {
            self.evict_least_recent();
        }
        let entry = self
            .producers
            .entry(batch.producer_id)
            .or_insert_with(|| empty_entry(batch.epoch));
        apply(entry, batch, base_offset, last_offset, now_us);
    }

    fn evict_least_recent(&mut self) {
        let oldest = self
            .producers
            .iter()
            .min_by_key(|(_, entry)| entry.last_append_us)
            .map(|(id, _)| *id);
        if let Some(id) = oldest {
            self.producers.remove(&id);
        }
    }
}

fn empty_entry(epoch: i16) -> ProducerEntry {
    ProducerEntry {
        epoch,
        batches: VecDeque::with_capacity(PRODUCER_BATCHES_CACHED),
        last_append_us: 0,
    }
}

/// Adds a batch to an entry: a newer epoch forgets the old epoch's batches first.
fn apply(
    entry: &mut ProducerEntry,
    batch: &BatchIds,
    base_offset: u64,
    last_offset: u64,
    now_us: i64,
) {
    if batch.epoch != entry.epoch {
        entry.epoch = batch.epoch;
        entry.batches.clear();
    }
    if entry.batches.len() >= PRODUCER_BATCHES_CACHED {
        entry.batches.pop_front();
    }
    entry.batches.push_back(BatchRecord {
        first_seq: batch.first_seq,
        last_seq: batch.last_seq,
        base_offset,
        last_offset,
    });
    entry.last_append_us = entry.last_append_us.max(now_us);
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn ids(epoch: i16, first_seq: i32, count: i32) -> BatchIds {
        BatchIds::new(7, epoch, first_seq, count - 1)
    }

    fn state_after(batches: &[(i16, i32, i32)]) -> PartitionProducers {
        let mut state = PartitionProducers::default();
        let mut offset = 0;
        for &(epoch, seq, count) in batches {
            let count_u64 = u64::try_from(count).unwrap();
            state.record(&ids(epoch, seq, count), offset, offset + count_u64 - 1, 1);
            offset += count_u64;
        }
        state
    }

    #[test]
    fn sequences_wrap_like_kafka() {
        assert_eq!(increment_sequence(5, 3), 8);
        assert_eq!(increment_sequence(i32::MAX, 1), 0);
        assert_eq!(increment_sequence(i32::MAX - 1, 3), 1);
        assert!(in_sequence(i32::MAX, 0));
        assert!(!in_sequence(i32::MAX, 1));
        assert_eq!(BatchIds::new(1, 0, i32::MAX, 1).last_seq, 0);
    }

    #[test]
    fn next_sequence_appends_gap_refused() {
        let state = state_after(&[(0, 0, 10)]);
        assert_eq!(state.check_all(&[ids(0, 10, 5)]), Ok(None));
        assert_eq!(
            state.check_all(&[ids(0, 11, 5)]),
            Err(SequenceError::OutOfOrderSequence)
        );
        assert_eq!(
            state.check_all(&[ids(0, 5, 5)]),
            Err(SequenceError::OutOfOrderSequence),
            "overlapping but not identical is not a duplicate"
        );
    }

    #[test]
    fn duplicates_of_the_last_five_get_original_offsets() {
        let state = state_after(&[
            (0, 0, 2),
            (0, 2, 2),
            (0, 4, 2),
            (0, 6, 2),
            (0, 8, 2),
            (0, 10, 2),
        ]);
        let dup = state.check_all(&[ids(0, 2, 2)]).unwrap().unwrap();
        assert_eq!((dup.base_offset, dup.last_offset), (2, 3));
        let last = state.check_all(&[ids(0, 10, 2)]).unwrap().unwrap();
        assert_eq!(last.base_offset, 10);
        // The sixth-newest batch has been forgotten: its retry is out of order.
        assert_eq!(
            state.check_all(&[ids(0, 0, 2)]),
            Err(SequenceError::OutOfOrderSequence)
        );
    }

    #[test]
    fn epochs_fence_and_restart_sequences() {
        let state = state_after(&[(3, 0, 4)]);
        assert_eq!(
            state.check_all(&[ids(2, 4, 1)]),
            Err(SequenceError::InvalidProducerEpoch)
        );
        assert_eq!(state.check_all(&[ids(4, 0, 1)]), Ok(None));
        assert_eq!(
            state.check_all(&[ids(4, 4, 1)]),
            Err(SequenceError::OutOfOrderSequence)
        );
        let mut bumped = state.clone();
        bumped.record(&ids(4, 0, 1), 10, 10, 2);
        let entry = &bumped.producers[&7];
        assert_eq!((entry.epoch, entry.batches.len()), (4, 1));
    }

    #[test]
    fn unknown_producer_accepted_at_any_sequence() {
        let state = PartitionProducers::default();
        assert_eq!(state.check_all(&[ids(0, 42, 3)]), Ok(None));
    }

    #[test]
    fn multi_batch_requests_are_checked_in_order() {
        let state = state_after(&[(0, 0, 2)]);
        assert_eq!(state.check_all(&[ids(0, 2, 2), ids(0, 4, 2)]), Ok(None));
        assert_eq!(
            state.check_all(&[ids(0, 2, 2), ids(0, 5, 2)]),
            Err(SequenceError::OutOfOrderSequence)
        );
        let fresh = PartitionProducers::default();
        assert_eq!(fresh.check_all(&[ids(0, 0, 2), ids(0, 2, 1)]), Ok(None));
        assert_eq!(
            fresh.check_all(&[ids(0, 0, 2), ids(0, 3, 1)]),
            Err(SequenceError::OutOfOrderSequence)
        );
    }

    #[test]
    fn least_recent_producer_is_evicted_at_the_cap() {
        let mut state = PartitionProducers::default();
        for id in 0..i64::try_from(PRODUCERS_PER_PARTITION_MAX).unwrap() {
            state.record(&BatchIds::new(id, 0, 0, 0), 0, 0, 100 + id);
        }
        state.record(&BatchIds::new(-5 + 1_000_000, 0, 0, 0), 1, 1, 1_000_000);
        assert_eq!(state.producers.len(), PRODUCERS_PER_PARTITION_MAX);
        assert!(!state.producers.contains_key(&0), "oldest evicted");
    }
}
