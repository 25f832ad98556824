//! The log's [`Compactor`] for Kafka batches: lists the records of a stored batch and rewrites
//! it keeping some (`whippet_wire::transcode::{keyed_records, retain_records}`). Control and
//! transactional batches are kept whole and their keys never replace another record's. Native
//! frames on a compacted topic are kept as they are (not compacted): their Kafka key lives in a
//! reserved header of each message, which this cleaner does not read.

use whippet_log::{BatchFormat, Compactor, RecordInfo, Rewritten};
use whippet_wire::transcode::{keyed_records, retain_records};

/// Compaction of stored Kafka batches.
#[derive(Debug, Clone, Copy, Default)]
pub struct KafkaCompactor;

impl Compactor for KafkaCompactor {
    fn records(
        &self,
        format: BatchFormat,
        payload: &[u8],
    ) -> Result<Option<Vec<RecordInfo>>, String> {
        if format != BatchFormat::Kafka {
            return Ok(None);
        }
        let Some(records) = keyed_records(payload).map_err(|e| e.to_string())? else {
            return Ok(None);
        };
        Ok(Some(
            records
                .into_iter()
                .map(|r| RecordInfo {
                    offset: u64::try_from(r.offset).unwrap_or(0),
                    key: r.key,
                    tombstone: r.tombstone,
                })
                .collect(),
        ))
    }

    fn rewrite(
        &self,
        format: BatchFormat,
        payload: &[u8],
        keep: &dyn Fn(u64) -> bool,
    ) -> Result<Rewritten, String> {
        if format != BatchFormat::Kafka {
            return Err("only Kafka batches are compacted".into());
        }
        let keep = |offset: i64| u64::try_from(offset).map_or(true, keep);
        let (payload, record_count) = retain_records(payload, &keep).map_err(|e| e.to_string())?;
        Ok(Rewritten {
            payload,
            record_count,
        })
    }
}
