//! Kafka transactions (KIP-98) on this single broker, which coordinates every transactional
//! id: the transactional ids' producer ids and epochs (fencing), which partitions and group
//! offsets a transaction holds, its end — markers written to every partition, offsets made
//! visible — and the read side both protocols share: the last stable offset and the aborted
//! ranges ([`read`]).
//!
//! State lives on the metadata state machine ([`state`]), so every step is durable before it
//! is answered, and it is changed under one lock, so the checks and the command of one
//! request are never interleaved with another's. Ending a transaction is three durable steps:
//! the decision (`Prepare`), the markers (appended like any batch, waited for on disk), then
//! `Complete`, which makes the outcome visible (the last stable offset moves, an abort's
//! ranges join the aborted index) and clears the transaction. A crash between them leaves a
//! decided transaction, which [`TxnCoordinator::sweep`] finishes at startup (a marker may then
//! be written twice; readers ignore a marker with no open transaction). The sweep also aborts
//! transactions that outlive their timeout, with the epoch bumped so their producer is fenced.
//!
//! A partition's first offset in a transaction is not tracked batch by batch: the partition's
//! high watermark when it joins is a bound at or below it, which is all the last stable offset
//! and the aborted ranges need (a producer has one transaction at a time, so none of its
//! batches lies between the bound and its first batch in the transaction).

pub mod read;
pub mod state;
#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use whippet_log::{AppendBatch, BatchFormat, PartitionLog, TopicMeta};
use whippet_wire::kafka::{control_batch, set_base_offset};

use self::state::{PendingOffset, Phase, TxnCommand, TxnPartition};
use super::append::Pending;
use super::meta::MetaCommand;
use super::offsets::{Commit, Target};
use super::{Ack, Core, CoreError, RequestContext};
use crate::limits::TXN_SWEEP_MS;

/// Kafka's `transaction.max.timeout.ms` default: a longer timeout is refused.
pub const TRANSACTION_TIMEOUT_MS_MAX: i64 = 900_000;

/// Why a transaction operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum TxnError {
    /// The producer id does not own the transactional id (or the id is unknown).
    #[error("the producer id does not match the transactional id")]
    InvalidProducerIdMapping,
    /// A newer producer with the same transactional id exists.
    #[error("producer fenced: a newer epoch of this transactional id exists")]
    ProducerFenced,
    /// The operation does not fit the transaction's state.
    #[error("operation not valid in the transaction's current state")]
    InvalidTxnState,
    /// The transaction is being completed; retry.
    #[error("the previous transaction is still being completed")]
    ConcurrentTransactions,
    /// The timeout is above `transaction.max.timeout.ms`.
    #[error("transaction timeout out of range")]
    InvalidTimeout,
    /// The transaction state could not be made durable.
    #[error("transaction state could not be written: {0}")]
    Meta(String),
    /// Writing a marker failed.
    #[error(transparent)]
    Core(#[from] CoreError),
}

/// The transaction coordinator's lock; the state is the metadata state's.
#[derive(Debug, Default)]
pub struct TxnCoordinator {
    lock: tokio::sync::Mutex<()>,
    /// Woken when a transaction completes (last stable offsets moved), for the committed
    /// readers a transaction held back: the high watermark they wait on does not move then.
    stable_moved: tokio::sync::Notify,
}

/// Sweeps transactions every [`TXN_SWEEP_MS`] (the first at once, finishing what a crash
/// left) until `stop`.
pub async fn run_sweeper(core: Arc<Core>, stop: tokio_util::sync::CancellationToken) {
    let mut interval = tokio::time::interval(Duration::from_millis(TXN_SWEEP_MS));
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.cancelled() => break,
            _ = interval.tick() => {}
        }
        core.txns.sweep(&core).await;
        prune_aborted(&core).await;
    }
}

/// Drops aborted ranges the log no longer holds (below the log start, or of a deleted topic).
async fn prune_aborted(core: &Core) {
    let state = core.meta.load();
    for partition in state.txns.partitions_with_aborted() {
        let below = match resolve(core, partition) {
            None => u64::MAX,
            Some((_, log)) => log.log_start_offset(),
        };
        let stale = state.txns.aborted_between(partition, 0, below);
        if stale.iter().any(|a| a.last_offset < below) {
            let prune = TxnCommand::Prune {
                partition: *partition,
                below,
            };
            if let Err(error) = submit(core, prune).await {
                tracing::warn!(%error, "could not drop stale aborted ranges");
            }
        }
    }
}

/// Now, in ms since the Unix epoch.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The transaction key of partition `partition` of `topic`.
pub fn partition_of(topic: &TopicMeta, partition: u32) -> TxnPartition {
    TxnPartition {
        stream: topic.stream_id,
        topic: topic.id,
        created_at_us: topic.created_at_us,
        partition,
    }
}

/// The topic and log of `partition`, if that very topic still exists.
fn resolve(core: &Core, partition: &TxnPartition) -> Option<(Arc<TopicMeta>, Arc<PartitionLog>)> {
    let snapshot = core.log.snapshot();
    let topic = Arc::clone(snapshot.topic(partition.stream, partition.topic)?);
    if topic.created_at_us != partition.created_at_us {
        return None;
    }
    let log = Arc::clone(topic.partition(partition.partition)?);
    Some((topic, log))
}

async fn submit(core: &Core, command: TxnCommand) -> Result<(), TxnError> {
    core.meta
        .submit(MetaCommand::Txn(command))
        .await
        .map(drop)
        .map_err(|error| TxnError::Meta(error.to_string()))
}

/// The producer and epoch a request names, checked against transactional id `id`'s.
fn check_producer(
    core: &Core,
    id: &str,
    producer_id: i64,
    epoch: i16,
) -> Result<state::Txn, TxnError> {
    let state = core.meta.load();
    let txn = state
        .txns
        .get(id)
        .filter(|t| t.producer_id == producer_id)
        .ok_or(TxnError::InvalidProducerIdMapping)?;
    if epoch != txn.epoch {
        return Err(TxnError::ProducerFenced);
    }
    if matches!(txn.phase, Phase::PrepareCommit | Phase::PrepareAbort) {
        return Err(TxnError::ConcurrentTransactions);
    }
    Ok(txn.clone())
}

/// Whether a transactional batch of `producer_id` at `epoch` may be appended to partition
/// `partition` of `topic`: its transaction is open and holds the partition.
pub fn check_append(
    txns: &state::Transactions,
    topic: &TopicMeta,
    partition: u32,
    (producer_id, epoch): (i64, i16),
) -> Result<(), TxnError> {
    let (_, txn) = txns
        .by_producer(producer_id)
        .ok_or(TxnError::InvalidProducerIdMapping)?;
    if epoch != txn.epoch {
        return Err(TxnError::ProducerFenced);
    }
    if txn.phase != Phase::Ongoing || txn.first_offset(&partition_of(topic, partition)).is_none() {
        return Err(TxnError::InvalidTxnState);
    }
    Ok(())
}

impl TxnCoordinator {
    /// Resolves at the next completion of a transaction (create it before reading what it
    /// guards, and `enable` it, so a completion in between is not missed).
    pub fn stable_moved(&self) -> tokio::sync::futures::Notified<'_> {
        self.stable_moved.notified()
    }

    /// InitProducerId with a transactional id: a new id gets a producer id from `allocate`
    /// and epoch 0; a known one has its open transaction aborted (fencing the producer that
    /// held it) and its epoch bumped (a new producer id when the epoch is spent).
    pub async fn init<F: Future<Output = std::io::Result<i64>>>(
        &self,
        core: &Core,
        rc: &RequestContext,
        (id, timeout_ms): (&str, i64),
        allocate: impl FnOnce() -> F,
    ) -> Result<(i64, i16), TxnError> {
        if !(1..=TRANSACTION_TIMEOUT_MS_MAX).contains(&timeout_ms) {
            return Err(TxnError::InvalidTimeout);
        }
        let _guard = self.lock.lock().await;
        let existing = core.meta.load().txns.get(id).cloned();
        let (producer_id, epoch) = match existing {
            None => (
                allocate()
                    .await
                    .map_err(|e| TxnError::Meta(e.to_string()))?,
                0,
            ),
            Some(txn) => {
                let mut epoch = txn.epoch;
                if txn.phase == Phase::Ongoing {
                    epoch = epoch.saturating_add(1);
                    submit(core, prepare(id, false, epoch)).await?;
                }
                if txn.phase != Phase::Empty {
                    self.finish(core, rc, id).await?;
                }
                match epoch.checked_add(1).filter(|e| *e < i16::MAX) {
                    Some(next) => (txn.producer_id, next),
                    None => (
                        allocate()
                            .await
                            .map_err(|e| TxnError::Meta(e.to_string()))?,
                        0,
                    ),
                }
            }
        };
        let init = TxnCommand::Init {
            id: id.to_owned(),
            producer_id,
            epoch,
            timeout_ms,
        };
        submit(core, init).await?;
        Ok((producer_id, epoch))
    }

    /// AddPartitionsToTxn: `partitions` join the transaction (which begins if none is open).
    pub async fn add_partitions(
        &self,
        core: &Core,
        (id, producer_id, epoch): (&str, i64, i16),
        partitions: &[(Arc<TopicMeta>, u32)],
    ) -> Result<(), TxnError> {
        let _guard = self.lock.lock().await;
        let txn = check_producer(core, id, producer_id, epoch)?;
        let added: Vec<(TxnPartition, u64)> = partitions
            .iter()
            .filter_map(|(topic, p)| {
                let key = partition_of(topic, *p);
                let log = topic.partition(*p)?;
                (txn.first_offset(&key).is_none()).then(|| (key, log.high_watermark()))
            })
            .collect();
        if added.is_empty() && txn.phase == Phase::Ongoing {
            return Ok(());
        }
        let command = TxnCommand::AddPartitions {
            id: id.to_owned(),
            now_ms: now_ms(),
            partitions: added,
        };
        submit(core, command).await
    }

    /// AddOffsetsToTxn (no `offsets`) and TxnOffsetCommit: offsets `group` commits when the
    /// transaction commits. TxnOffsetCommit needs the group added first.
    pub async fn add_offsets(
        &self,
        core: &Core,
        (id, producer_id, epoch): (&str, i64, i16),
        group: &str,
        offsets: Option<Vec<PendingOffset>>,
    ) -> Result<(), TxnError> {
        let _guard = self.lock.lock().await;
        let txn = check_producer(core, id, producer_id, epoch)?;
        let offsets = match offsets {
            Some(offsets) if txn.phase == Phase::Ongoing && txn.offsets.contains_key(group) => {
                offsets
            }
            Some(_) => return Err(TxnError::InvalidTxnState),
            None if txn.offsets.contains_key(group) => return Ok(()),
            None => Vec::new(),
        };
        let command = TxnCommand::Offsets {
            id: id.to_owned(),
            now_ms: now_ms(),
            group: group.to_owned(),
            offsets,
        };
        submit(core, command).await
    }

    /// EndTxn: commits or aborts the open transaction. Ending with nothing open answers
    /// success (a retried EndTxn whose first attempt completed).
    pub async fn end(
        &self,
        core: &Core,
        rc: &RequestContext,
        (id, producer_id, epoch): (&str, i64, i16),
        commit: bool,
    ) -> Result<(), TxnError> {
        let _guard = self.lock.lock().await;
        let txn = check_producer(core, id, producer_id, epoch)?;
        if txn.phase == Phase::Empty {
            return Ok(());
        }
        submit(core, prepare(id, commit, epoch)).await?;
        self.finish(core, rc, id).await
    }

    /// Finishes decided transactions (after a crash) and aborts those past their timeout.
    /// Returns how many it ended.
    pub async fn sweep(&self, core: &Core) -> usize {
        let _guard = self.lock.lock().await;
        let rc = RequestContext::internal();
        let now = now_ms();
        let state = core.meta.load();
        let mut ended = 0;
        for (id, txn) in state.txns.all() {
            let outcome = match txn.phase {
                Phase::Empty => continue,
                Phase::Ongoing if now.saturating_sub(txn.started_at_ms) <= txn.timeout_ms => {
                    continue;
                }
                Phase::Ongoing => {
                    tracing::info!(transactional_id = %id, "transaction timed out: aborting it");
                    let epoch = txn.epoch.saturating_add(1);
                    match submit(core, prepare(id, false, epoch)).await {
                        Ok(()) => self.finish(core, &rc, id).await,
                        Err(error) => Err(error),
                    }
                }
                Phase::PrepareCommit | Phase::PrepareAbort => self.finish(core, &rc, id).await,
            };
            match outcome {
                Ok(()) => ended += 1,
                Err(error) => tracing::warn!(transactional_id = %id, %error,
                    "could not end transaction; will retry"),
            }
        }
        ended
    }

    /// Writes the decided transaction's markers, makes its offsets visible on commit, and
    /// completes it.
    async fn finish(&self, core: &Core, rc: &RequestContext, id: &str) -> Result<(), TxnError> {
        let Some(txn) = core.meta.load().txns.get(id).cloned() else {
            return Ok(());
        };
        let commit = match txn.phase {
            Phase::PrepareCommit => true,
            Phase::PrepareAbort => false,
            Phase::Empty | Phase::Ongoing => return Ok(()),
        };
        let markers = write_markers(core, rc, &txn, commit).await?;
        if commit {
            commit_offsets(core, &txn).await?;
        }
        let complete = TxnCommand::Complete {
            id: id.to_owned(),
            markers,
        };
        submit(core, complete).await?;
        self.stable_moved.notify_waiters();
        Ok(())
    }
}

fn prepare(id: &str, commit: bool, epoch: i16) -> TxnCommand {
    TxnCommand::Prepare {
        id: id.to_owned(),
        commit,
        epoch,
    }
}

/// Appends a marker to every partition of `txn` that still exists and waits until they are
/// durable (per the fsync policy). Returns each partition's marker offset.
async fn write_markers(
    core: &Core,
    rc: &RequestContext,
    txn: &state::Txn,
    commit: bool,
) -> Result<Vec<(TxnPartition, u64)>, TxnError> {
    let mut markers = Vec::with_capacity(txn.partitions.len());
    let mut waits = Vec::with_capacity(txn.partitions.len());
    let now = now_ms();
    for (partition, _) in &txn.partitions {
        let Some((topic, log)) = resolve(core, partition) else {
            continue;
        };
        let payload = control_batch(txn.producer_id, txn.epoch, commit, now);
        let batch = AppendBatch {
            format: BatchFormat::Kafka,
            payload: payload.into(),
            record_count: 1,
            last_offset_delta: 0,
            first_timestamp_us: now.saturating_mul(1000),
            max_timestamp_us: now.saturating_mul(1000),
        };
        let appended = super::append::append(core, rc, &topic, &log, |appender| {
            appender.append(batch, |ctx| {
                let base = i64::try_from(ctx.base_offset).unwrap_or(i64::MAX);
                let patched = set_base_offset(ctx.payload, base);
                debug_assert!(patched.is_ok(), "the marker has a base offset field");
            })
        })?;
        markers.push((*partition, appended.last_offset));
        waits.push((
            *partition,
            Pending {
                log,
                last_offset: appended.last_offset,
            },
        ));
    }
    let failed = super::append::wait_durable(core, rc, Ack::Leader, waits).await;
    if let Some((_, error)) = failed.into_iter().next() {
        return Err(TxnError::Core(error));
    }
    Ok(markers)
}

/// Makes the committed transaction's offsets visible, group by group.
async fn commit_offsets(core: &Core, txn: &state::Txn) -> Result<(), TxnError> {
    for (group, offsets) in &txn.offsets {
        let commits: Vec<Commit> = offsets
            .iter()
            .filter_map(|pending| {
                let (topic, _) = resolve(core, &pending.partition)?;
                Some(Commit {
                    target: Target::new(&topic, pending.partition.partition)?,
                    offset: pending.offset,
                    leader_epoch: pending.leader_epoch,
                    metadata: pending.metadata.clone(),
                })
            })
            .collect();
        if commits.is_empty() {
            continue;
        }
        let (_, durable) = super::offsets::commit_transaction(core, group, commits).await;
        durable?;
    }
    Ok(())
}
