//! The metadata log against real files: round trips, torn tails, snapshots, and a property
//! test that every acknowledged record survives any sequence of appends, snapshots, torn
//! unacknowledged writes and reopens.
#![allow(clippy::unwrap_used)]

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;

use proptest::prelude::*;
use whippet_meta::{MetaError, MetaLog};

/// The state a test log builds: every payload appended so far. A snapshot holds them joined
/// by newlines.
fn restore(dir: &Path) -> (MetaLog, Vec<String>) {
    let (log, recovered) = MetaLog::open(dir, "m").unwrap();
    let mut state: Vec<String> = recovered
        .snapshot
        .map(|s| {
            String::from_utf8(s)
                .unwrap()
                .split('\n')
                .filter(|l| !l.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    state.extend(
        recovered
            .records
            .into_iter()
            .map(|r| String::from_utf8(r).unwrap()),
    );
    (log, state)
}

fn snapshot_of(state: &[String]) -> Vec<u8> {
    state.join("\n").into_bytes()
}

fn tear(dir: &Path, garbage: &[u8]) {
    let mut file = OpenOptions::new()
        .append(true)
        .open(dir.join("m.log"))
        .unwrap();
    file.write_all(garbage).unwrap();
}

#[test]
fn records_survive_reopen_in_order_with_indexes() {
    let dir = tempfile::tempdir().unwrap();
    let (mut log, state) = restore(dir.path());
    assert!(state.is_empty());
    assert_eq!(log.append(&["a", "b"]).unwrap(), 2);
    assert_eq!(log.append(&["c"]).unwrap(), 3);
    drop(log);
    let (mut log, state) = restore(dir.path());
    assert_eq!(state, ["a", "b", "c"]);
    assert_eq!(log.append(&["d"]).unwrap(), 4, "indexes continue");
}

#[test]
fn a_torn_tail_is_cut_and_appends_continue_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let (mut log, _) = restore(dir.path());
    log.append(&["one"]).unwrap();
    drop(log);
    // A record header promising 100 bytes, then only 3 of them.
    let mut torn = Vec::new();
    torn.extend_from_slice(&100u32.to_le_bytes());
    torn.extend_from_slice(&[0; 12]);
    torn.extend_from_slice(b"abc");
    tear(dir.path(), &torn);
    let (mut log, recovered) = MetaLog::open(dir.path(), "m").unwrap();
    assert!(recovered.dropped_tail.is_some());
    assert_eq!(recovered.records, vec![b"one".to_vec()]);
    log.append(&["two"]).unwrap();
    drop(log);
    assert_eq!(restore(dir.path()).1, ["one", "two"]);
}

#[test]
fn a_snapshot_replaces_the_records_it_covers() {
    let dir = tempfile::tempdir().unwrap();
    let (mut log, _) = restore(dir.path());
    log.append(&["a", "b"]).unwrap();
    let before_cut = std::fs::read(dir.path().join("m.log")).unwrap();
    log.write_snapshot(&snapshot_of(&["a".into(), "b".into()]))
        .unwrap();
    assert_eq!(log.log_bytes(), 0);
    log.append(&["c"]).unwrap();
    drop(log);
    assert_eq!(restore(dir.path()).1, ["a", "b", "c"]);
    // A crash between the snapshot and the cut leaves covered records behind: skipped.
    std::fs::write(dir.path().join("m.log"), &before_cut).unwrap();
    let (_, state) = restore(dir.path());
    assert_eq!(state, ["a", "b"]);
}

#[test]
fn corrupt_files_are_errors_not_silence() {
    let dir = tempfile::tempdir().unwrap();
    let (mut log, _) = restore(dir.path());
    log.append(&["a"]).unwrap();
    log.write_snapshot(b"a").unwrap();
    drop(log);
    let path = dir.path().join("m.snapshot");
    let mut bytes = std::fs::read(&path).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&path, &bytes).unwrap();
    let err = MetaLog::open(dir.path(), "m").unwrap_err();
    assert!(matches!(err, MetaError::Corrupt { .. }), "{err}");
    assert!(err.to_string().contains("m.snapshot"), "{err}");

    let other = tempfile::tempdir().unwrap();
    std::fs::write(other.path().join("m.log"), b"NOTALOGFILE").unwrap();
    assert!(MetaLog::open(other.path(), "m").is_err());
}

#[test]
fn snapshots_become_due_only_when_the_log_outweighs_them() {
    let dir = tempfile::tempdir().unwrap();
    let (mut log, _) = restore(dir.path());
    let big = "x".repeat(64 * 1024);
    while !log.snapshot_due() {
        log.append(&[big.as_str()]).unwrap();
    }
    assert!(log.log_bytes() >= whippet_meta::limits::SNAPSHOT_AFTER_LOG_BYTES);
    log.write_snapshot(&vec![b'y'; 3 * 1024 * 1024]).unwrap();
    assert!(!log.snapshot_due());
}

#[derive(Debug, Clone)]
enum Op {
    Append(Vec<String>),
    Snapshot,
    Tear(Vec<u8>),
    Reopen,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => prop::collection::vec("[a-z]{1,12}", 1..4).prop_map(Op::Append),
        1 => Just(Op::Snapshot),
        1 => prop::collection::vec(any::<u8>(), 1..40).prop_map(Op::Tear),
        2 => Just(Op::Reopen),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn every_acknowledged_record_survives(ops in prop::collection::vec(op(), 1..40)) {
        let dir = tempfile::tempdir().unwrap();
        let (mut log, _) = restore(dir.path());
        let mut model: Vec<String> = Vec::new();
        for op in ops {
            match op {
                Op::Append(batch) => {
                    log.append(&batch).unwrap();
                    model.extend(batch);
                }
                Op::Snapshot => log.write_snapshot(&snapshot_of(&model)).unwrap(),
                // Bytes of a write that never completed (so was never acknowledged).
                Op::Tear(garbage) => {
                    drop(log);
                    tear(dir.path(), &garbage);
                    let (reopened, state) = restore(dir.path());
                    prop_assert_eq!(&state, &model);
                    log = reopened;
                }
                Op::Reopen => {
                    drop(log);
                    let (reopened, state) = restore(dir.path());
                    prop_assert_eq!(&state, &model);
                    log = reopened;
                }
            }
        }
        drop(log);
        prop_assert_eq!(restore(dir.path()).1, model);
    }
}
