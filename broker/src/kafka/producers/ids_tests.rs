//! Producer ids reserved on the metadata log: never handed out twice across restarts, and the
//! ids file of an older data dir is honoured, then removed.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use super::ProducerStates;
use super::persist::PRODUCERS_DIR_NAME;
use crate::core::meta::Meta;
use crate::limits::PRODUCER_ID_BLOCK_SIZE;

fn states(dir: &std::path::Path) -> ProducerStates {
    let (meta, _) = Meta::open(dir).unwrap();
    ProducerStates::new(dir, Arc::new(meta))
}

#[test]
fn ids_are_never_reused_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let first = states(dir.path());
    assert_eq!(first.allocate_id().unwrap(), 0);
    assert_eq!(first.allocate_id().unwrap(), 1);
    assert!(first.was_issued(1).unwrap());
    drop(first);
    let second = states(dir.path());
    assert_eq!(second.allocate_id().unwrap(), PRODUCER_ID_BLOCK_SIZE);
}

#[test]
fn the_ids_file_of_an_older_data_dir_is_migrated_then_removed() {
    let dir = tempfile::tempdir().unwrap();
    let old = dir.path().join(PRODUCERS_DIR_NAME).join("ids.json");
    std::fs::create_dir_all(old.parent().unwrap()).unwrap();
    std::fs::write(&old, br#"{"version":1,"next_block_start":3000}"#).unwrap();
    let (meta, _) = Meta::open(dir.path()).unwrap();
    super::migrate_ids(&meta, dir.path()).unwrap();
    drop(meta);
    let first = states(dir.path());
    assert!(
        first.was_issued(2999).unwrap(),
        "ids of the old block count as issued"
    );
    assert_eq!(first.allocate_id().unwrap(), 3000);
    assert!(!old.exists());
    drop(first);
    let second = states(dir.path());
    assert_eq!(second.allocate_id().unwrap(), 3000 + PRODUCER_ID_BLOCK_SIZE);
}
