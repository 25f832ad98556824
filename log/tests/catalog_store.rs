//! The catalog seam with a store that keeps log starts: a delete-records is a catalog change
//! (no `log_start.offset` is written), the start comes back from the store on reopen, a purge
//! stores 0 again, a stored start beyond the data is reset and reported, and the
//! `log_start.offset` of a data dir from before is moved into the catalog and removed.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::sync::{Arc, Mutex};

use whippet_log::{
    AppendBatch, BatchFormat, CatalogFile, CatalogLoad, CatalogStore, FileCatalogStore,
    FsyncPolicy, Log, LogConfig, RecoveryAction, TopicSettings,
};

/// A catalog kept in memory, log starts included.
#[derive(Debug, Default)]
struct MemoryCatalog {
    catalog: Mutex<Option<CatalogFile>>,
    stores: Mutex<usize>,
}

impl CatalogStore for MemoryCatalog {
    fn load(&self) -> whippet_log::Result<CatalogLoad> {
        Ok(CatalogLoad {
            catalog: self.catalog.lock().unwrap().clone(),
            findings: Vec::new(),
        })
    }

    fn store(&self, catalog: &CatalogFile) -> whippet_log::Result<()> {
        *self.catalog.lock().unwrap() = Some(catalog.clone());
        *self.stores.lock().unwrap() += 1;
        Ok(())
    }

    fn keeps_log_starts(&self) -> bool {
        true
    }
}

fn config(dir: &Path) -> LogConfig {
    let mut config = LogConfig::new(dir);
    config.fsync = FsyncPolicy::Always;
    config
}

fn fill(log: &Log, records: usize) {
    let partition = log.partition(0, 0, 0).unwrap();
    for _ in 0..records {
        let batch = AppendBatch {
            format: BatchFormat::Kafka,
            payload: vec![7u8; 32].into(),
            record_count: 1,
            last_offset_delta: 0,
            first_timestamp_us: 1,
            max_timestamp_us: 1,
        };
        partition.append_durable_blocking(batch, |_| {}).unwrap();
    }
}

fn log_start_file(dir: &Path) -> std::path::PathBuf {
    dir.join("streams/0/topics/0/partitions/0/log_start.offset")
}

#[test]
fn delete_records_is_a_catalog_change_and_comes_back_on_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(MemoryCatalog::default());
    let (log, _) = Log::open_with_catalog(config(dir.path()), store.clone()).unwrap();
    log.create_stream("s").unwrap();
    log.create_topic(0, "t", 1, TopicSettings::default())
        .unwrap();
    fill(&log, 5);
    assert_eq!(log.delete_records(0, 0, 0, 3).unwrap(), 3);
    assert!(!log_start_file(dir.path()).exists(), "no file of its own");
    let stored = store.catalog.lock().unwrap().clone().unwrap();
    assert_eq!(stored.streams[0].topics[0].log_starts, vec![3]);
    // Nothing moves, nothing is stored.
    let stores = *store.stores.lock().unwrap();
    assert_eq!(log.delete_records(0, 0, 0, 2).unwrap(), 3);
    assert_eq!(*store.stores.lock().unwrap(), stores);
    log.shutdown().unwrap();
    drop(log);

    let (log, _) = Log::open_with_catalog(config(dir.path()), store.clone()).unwrap();
    assert_eq!(log.partition(0, 0, 0).unwrap().log_start_offset(), 3);
    log.purge_topic(0, 0).unwrap();
    let stored = store.catalog.lock().unwrap().clone().unwrap();
    assert!(
        stored.streams[0].topics[0].log_starts.is_empty(),
        "back to 0"
    );
    log.shutdown().unwrap();
}

#[test]
fn a_stored_start_beyond_the_data_is_reset_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(MemoryCatalog::default());
    let (log, _) = Log::open_with_catalog(config(dir.path()), store.clone()).unwrap();
    log.create_stream("s").unwrap();
    log.create_topic(0, "t", 1, TopicSettings::default())
        .unwrap();
    fill(&log, 2);
    log.shutdown().unwrap();
    drop(log);
    store.catalog.lock().unwrap().as_mut().unwrap().streams[0].topics[0].log_starts = vec![9];
    let (log, report) = Log::open_with_catalog(config(dir.path()), store.clone()).unwrap();
    assert_eq!(log.partition(0, 0, 0).unwrap().log_start_offset(), 2);
    assert!(
        report
            .events
            .iter()
            .any(|e| e.action == RecoveryAction::LogStartReset { to: 2 })
    );
    let stored = store.catalog.lock().unwrap().clone().unwrap();
    assert_eq!(
        stored.streams[0].topics[0].log_starts,
        vec![2],
        "the reset is stored"
    );
    log.shutdown().unwrap();
}

#[test]
fn the_log_start_file_of_an_older_data_dir_moves_into_the_catalog() {
    let dir = tempfile::tempdir().unwrap();
    // The old layout: catalog.json, and the start in the partition's own file.
    let (log, _) = Log::open(config(dir.path())).unwrap();
    log.create_stream("s").unwrap();
    log.create_topic(0, "t", 1, TopicSettings::default())
        .unwrap();
    fill(&log, 5);
    assert_eq!(log.delete_records(0, 0, 0, 4).unwrap(), 4);
    assert!(log_start_file(dir.path()).exists());
    log.shutdown().unwrap();
    drop(log);

    let old = FileCatalogStore::new(dir.path()).load().unwrap().catalog;
    let store = Arc::new(MemoryCatalog {
        catalog: Mutex::new(old),
        stores: Mutex::new(0),
    });
    let (log, _) = Log::open_with_catalog(config(dir.path()), store.clone()).unwrap();
    assert_eq!(log.partition(0, 0, 0).unwrap().log_start_offset(), 4);
    assert!(!log_start_file(dir.path()).exists(), "moved, then removed");
    let stored = store.catalog.lock().unwrap().clone().unwrap();
    assert_eq!(stored.streams[0].topics[0].log_starts, vec![4]);
    log.shutdown().unwrap();
    drop(log);
    let (log, _) = Log::open_with_catalog(config(dir.path()), store).unwrap();
    assert_eq!(log.partition(0, 0, 0).unwrap().log_start_offset(), 4);
    log.shutdown().unwrap();
}
