//! Transactions' durable state, part of the metadata state ([`super::super::meta::MetaState`]):
//! each transactional id's producer, epoch, phase, partitions and pending offsets, and each
//! partition's aborted transactions (Kafka's aborted-transaction index). Changed only by
//! [`TxnCommand`]s, which carry every value they set. Two indexes are derived, never stored:
//! the producer id → transactional id map the produce path checks, and each partition's open
//! transactions' first offsets, whose least bounds the last stable offset.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

/// A partition a transaction wrote to. The topic's creation time tells a re-created topic
/// (same ids) from the one the transaction knew.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TxnPartition {
    /// Log stream id.
    pub stream: u32,
    /// Log topic id.
    pub topic: u32,
    /// The topic's creation time (µs).
    pub created_at_us: i64,
    /// Partition id.
    pub partition: u32,
}

/// Where a transactional id's current transaction is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Phase {
    /// No transaction open.
    Empty,
    /// Partitions or offsets added, not ended yet.
    Ongoing,
    /// Decided: markers are being written (redone after a crash).
    PrepareCommit,
    /// Decided: markers are being written (redone after a crash).
    PrepareAbort,
}

impl Phase {
    /// Whether a transaction is open (its partitions hold back the last stable offset).
    pub fn is_open(self) -> bool {
        self != Self::Empty
    }
}

/// An offset committed inside a transaction, visible once it commits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingOffset {
    /// The partition.
    pub partition: TxnPartition,
    /// Next offset to read.
    pub offset: i64,
    /// Leader epoch, −1 if unknown.
    pub leader_epoch: i32,
    /// Opaque metadata.
    pub metadata: String,
}

/// One transactional id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Txn {
    /// Its producer id.
    pub producer_id: i64,
    /// Its current epoch; batches and requests with an older one are fenced.
    pub epoch: i16,
    /// Transaction timeout (ms).
    pub timeout_ms: i64,
    /// Where the current transaction is.
    pub phase: Phase,
    /// When the current transaction began (ms since the Unix epoch).
    pub started_at_ms: i64,
    /// The partitions of the current transaction, each with an offset at or below its first
    /// batch in the transaction (the partition's high watermark when it was added).
    pub partitions: Vec<(TxnPartition, u64)>,
    /// Offsets committed in the current transaction, per group.
    pub offsets: BTreeMap<String, Vec<PendingOffset>>,
}

impl Txn {
    /// The first-offset bound of `partition` in the current transaction.
    pub fn first_offset(&self, partition: &TxnPartition) -> Option<u64> {
        self.partitions
            .iter()
            .find_map(|(p, first)| (p == partition).then_some(*first))
    }
}

/// An aborted transaction's range in one partition: `producer_id`'s batches from
/// `first_offset` up to the abort marker at `last_offset` are not to be read committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Aborted {
    /// The producer.
    pub producer_id: i64,
    /// At or below the transaction's first batch in the partition.
    pub first_offset: u64,
    /// The abort marker's offset.
    pub last_offset: u64,
}

/// One change of the transactions' state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TxnCommand {
    /// `id` gets `producer_id` and `epoch`, with no transaction open.
    Init {
        /// Transactional id.
        id: String,
        /// Producer id.
        producer_id: i64,
        /// Epoch.
        epoch: i16,
        /// Transaction timeout (ms).
        timeout_ms: i64,
    },
    /// Partitions join `id`'s transaction (which begins if none is open).
    AddPartitions {
        /// Transactional id.
        id: String,
        /// Now (ms), the start of a transaction that begins here.
        now_ms: i64,
        /// The partitions, each with its first-offset bound.
        partitions: Vec<(TxnPartition, u64)>,
    },
    /// Offsets committed in `id`'s transaction for `group` (a group with no offsets yet is
    /// added by AddOffsetsToTxn; the transaction begins if none is open).
    Offsets {
        /// Transactional id.
        id: String,
        /// Now (ms).
        now_ms: i64,
        /// Consumer group.
        group: String,
        /// The offsets, replacing earlier ones of the same partitions.
        offsets: Vec<PendingOffset>,
    },
    /// `id`'s transaction is decided; markers carry `epoch` (a bumped one when the broker
    /// aborts it, so its producer is fenced).
    Prepare {
        /// Transactional id.
        id: String,
        /// Commit or abort.
        commit: bool,
        /// The epoch from now on.
        epoch: i16,
    },
    /// `id`'s markers are written (each partition's marker offset): the transaction is over.
    Complete {
        /// Transactional id.
        id: String,
        /// Marker offsets of the partitions that still exist.
        markers: Vec<(TxnPartition, u64)>,
    },
    /// Aborted ranges of `partition` that end below `below` are dropped (the log no longer
    /// holds them), or all of them when the partition is gone.
    Prune {
        /// The partition.
        partition: TxnPartition,
        /// Its log start, or `u64::MAX` when it was deleted.
        below: u64,
    },
}

/// Why a transaction command was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxnRefusal {
    /// No such transactional id.
    UnknownId,
    /// The command does not fit the transaction's phase.
    WrongPhase,
}

/// Every transactional id and the partitions' aborted ranges.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Transactions {
    txns: BTreeMap<String, Txn>,
    aborted: BTreeMap<TxnPartition, Vec<Aborted>>,
    /// Derived: producer id → transactional id.
    producers: HashMap<i64, String>,
    /// Derived: each partition's open transactions' first-offset bounds (with counts).
    open: BTreeMap<TxnPartition, BTreeMap<u64, u32>>,
}

/// The stored form (JSON maps need string keys).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TransactionsSnapshot {
    txns: BTreeMap<String, Txn>,
    aborted: Vec<(TxnPartition, Vec<Aborted>)>,
}

impl Transactions {
    /// The state a snapshot stored.
    pub fn from_snapshot(snapshot: TransactionsSnapshot) -> Self {
        let mut state = Self {
            txns: snapshot.txns,
            aborted: snapshot.aborted.into_iter().collect(),
            ..Self::default()
        };
        let ids: Vec<String> = state.txns.keys().cloned().collect();
        for id in ids {
            state.index(&id, 1);
        }
        state
    }

    /// The stored form.
    pub fn to_snapshot(&self) -> TransactionsSnapshot {
        TransactionsSnapshot {
            txns: self.txns.clone(),
            aborted: self
                .aborted
                .iter()
                .map(|(p, list)| (*p, list.clone()))
                .collect(),
        }
    }

    /// Transactional id `id`.
    pub fn get(&self, id: &str) -> Option<&Txn> {
        self.txns.get(id)
    }

    /// Every transactional id, in name order.
    pub fn all(&self) -> impl Iterator<Item = (&String, &Txn)> {
        self.txns.iter()
    }

    /// The transactional id and transaction of producer `producer_id`.
    pub fn by_producer(&self, producer_id: i64) -> Option<(&String, &Txn)> {
        let id = self.producers.get(&producer_id)?;
        self.txns.get_key_value(id)
    }

    /// Whether any transaction is open on `partition`, and the least first-offset bound.
    pub fn open_first_offset(&self, partition: &TxnPartition) -> Option<u64> {
        self.open.get(partition)?.keys().next().copied()
    }

    /// Whether there is anything at all to filter (no transaction ever aborted or open).
    pub fn is_quiet(&self) -> bool {
        self.open.is_empty() && self.aborted.is_empty()
    }

    /// The aborted ranges of `partition` that overlap `[from, to)`.
    pub fn aborted_between(&self, partition: &TxnPartition, from: u64, to: u64) -> Vec<Aborted> {
        self.aborted.get(partition).map_or_else(Vec::new, |list| {
            list.iter()
                .filter(|a| a.last_offset >= from && a.first_offset < to)
                .copied()
                .collect()
        })
    }

    /// The partitions with offsets `group` committed in a transaction still open.
    pub fn pending_offsets(&self, group: &str) -> Vec<TxnPartition> {
        self.txns
            .values()
            .filter(|txn| txn.phase.is_open())
            .filter_map(|txn| txn.offsets.get(group))
            .flat_map(|offsets| offsets.iter().map(|o| o.partition))
            .collect()
    }

    /// Partitions with aborted ranges kept.
    pub fn partitions_with_aborted(&self) -> impl Iterator<Item = &TxnPartition> {
        self.aborted.keys()
    }

    /// Applies one command (nothing changes when it is refused).
    pub fn apply(&mut self, command: &TxnCommand) -> Result<(), TxnRefusal> {
        match command {
            TxnCommand::Init {
                id,
                producer_id,
                epoch,
                timeout_ms,
            } => {
                if self.txns.get(id).is_some_and(|t| t.phase.is_open()) {
                    return Err(TxnRefusal::WrongPhase);
                }
                self.index(id, -1);
                self.txns.insert(
                    id.clone(),
                    Txn {
                        producer_id: *producer_id,
                        epoch: *epoch,
                        timeout_ms: *timeout_ms,
                        phase: Phase::Empty,
                        started_at_ms: 0,
                        partitions: Vec::new(),
                        offsets: BTreeMap::new(),
                    },
                );
                self.index(id, 1);
            }
            TxnCommand::AddPartitions {
                id,
                now_ms,
                partitions,
            } => self.change(id, |txn| {
                begin(txn, *now_ms)?;
                for (partition, first) in partitions {
                    if txn.first_offset(partition).is_none() {
                        txn.partitions.push((*partition, *first));
                    }
                }
                Ok(())
            })?,
            TxnCommand::Offsets {
                id,
                now_ms,
                group,
                offsets,
            } => self.change(id, |txn| {
                begin(txn, *now_ms)?;
                let pending = txn.offsets.entry(group.clone()).or_default();
                for offset in offsets {
                    pending.retain(|p| p.partition != offset.partition);
                    pending.push(offset.clone());
                }
                Ok(())
            })?,
            TxnCommand::Prepare { id, commit, epoch } => self.change(id, |txn| {
                if !txn.phase.is_open() {
                    return Err(TxnRefusal::WrongPhase);
                }
                txn.phase = if *commit {
                    Phase::PrepareCommit
                } else {
                    Phase::PrepareAbort
                };
                txn.epoch = *epoch;
                Ok(())
            })?,
            TxnCommand::Complete { id, markers } => self.complete(id, markers)?,
            TxnCommand::Prune { partition, below } => {
                if let Some(list) = self.aborted.get_mut(partition) {
                    list.retain(|a| a.last_offset >= *below);
                    if list.is_empty() {
                        self.aborted.remove(partition);
                    }
                }
            }
        }
        Ok(())
    }

    fn complete(&mut self, id: &str, markers: &[(TxnPartition, u64)]) -> Result<(), TxnRefusal> {
        let mut aborted = Vec::new();
        self.change(id, |txn| {
            match txn.phase {
                Phase::PrepareCommit => {}
                Phase::PrepareAbort => {
                    for (partition, marker) in markers {
                        if let Some(first) = txn.first_offset(partition) {
                            aborted.push((*partition, txn.producer_id, first, *marker));
                        }
                    }
                }
                Phase::Empty | Phase::Ongoing => return Err(TxnRefusal::WrongPhase),
            }
            txn.phase = Phase::Empty;
            txn.partitions.clear();
            txn.offsets.clear();
            Ok(())
        })?;
        for (partition, producer_id, first_offset, last_offset) in aborted {
            self.aborted.entry(partition).or_default().push(Aborted {
                producer_id,
                first_offset,
                last_offset,
            });
        }
        Ok(())
    }

    /// Runs `edit` on transaction `id` with its derived entries taken out and put back.
    fn change(
        &mut self,
        id: &str,
        edit: impl FnOnce(&mut Txn) -> Result<(), TxnRefusal>,
    ) -> Result<(), TxnRefusal> {
        let mut txn = self.txns.get(id).cloned().ok_or(TxnRefusal::UnknownId)?;
        edit(&mut txn)?;
        self.index(id, -1);
        self.txns.insert(id.to_owned(), txn);
        self.index(id, 1);
        Ok(())
    }

    /// Adds (`sign` 1) or removes (−1) transaction `id`'s derived entries.
    fn index(&mut self, id: &str, sign: i32) {
        let Some(txn) = self.txns.get(id) else {
            return;
        };
        if sign > 0 {
            self.producers.insert(txn.producer_id, id.to_owned());
        } else {
            self.producers.remove(&txn.producer_id);
        }
        if !txn.phase.is_open() {
            return;
        }
        for (partition, first) in &txn.partitions {
            let firsts = self.open.entry(*partition).or_default();
            let count = firsts.entry(*first).or_default();
            *count = count.saturating_add_signed(sign);
            if *count == 0 {
                firsts.remove(first);
            }
            if firsts.is_empty() {
                self.open.remove(partition);
            }
        }
    }
}

/// Begins a transaction when none is open; refuses a decided one.
fn begin(txn: &mut Txn, now_ms: i64) -> Result<(), TxnRefusal> {
    match txn.phase {
        Phase::Empty => {
            txn.phase = Phase::Ongoing;
            txn.started_at_ms = now_ms;
            Ok(())
        }
        Phase::Ongoing => Ok(()),
        Phase::PrepareCommit | Phase::PrepareAbort => Err(TxnRefusal::WrongPhase),
    }
}
