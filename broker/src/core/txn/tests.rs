#![allow(clippy::unwrap_used)]

use super::state::*;

fn partition(p: u32) -> TxnPartition {
    TxnPartition {
        stream: 1,
        topic: 2,
        created_at_us: 3,
        partition: p,
    }
}

fn init(state: &mut Transactions, id: &str, producer_id: i64, epoch: i16) {
    let command = TxnCommand::Init {
        id: id.into(),
        producer_id,
        epoch,
        timeout_ms: 60_000,
    };
    state.apply(&command).unwrap();
}

fn add(state: &mut Transactions, id: &str, parts: &[(u32, u64)]) {
    let command = TxnCommand::AddPartitions {
        id: id.into(),
        now_ms: 5,
        partitions: parts.iter().map(|(p, o)| (partition(*p), *o)).collect(),
    };
    state.apply(&command).unwrap();
}

fn end(state: &mut Transactions, id: &str, commit: bool, markers: &[(u32, u64)]) {
    let epoch = state.get(id).unwrap().epoch;
    let prepare = TxnCommand::Prepare {
        id: id.into(),
        commit,
        epoch,
    };
    state.apply(&prepare).unwrap();
    let complete = TxnCommand::Complete {
        id: id.into(),
        markers: markers.iter().map(|(p, o)| (partition(*p), *o)).collect(),
    };
    state.apply(&complete).unwrap();
}

#[test]
fn open_transactions_bound_the_stable_offset_until_they_complete() {
    let mut state = Transactions::default();
    init(&mut state, "a", 10, 0);
    init(&mut state, "b", 11, 0);
    assert!(state.is_quiet());
    add(&mut state, "a", &[(0, 100)]);
    add(&mut state, "b", &[(0, 120), (1, 7)]);
    assert_eq!(state.open_first_offset(&partition(0)), Some(100));
    assert_eq!(state.by_producer(11).unwrap().0, "b");
    end(&mut state, "a", true, &[(0, 130)]);
    assert_eq!(state.open_first_offset(&partition(0)), Some(120));
    // Prepared is still open: the outcome is not visible until Complete.
    let prepare = TxnCommand::Prepare {
        id: "b".into(),
        commit: false,
        epoch: 0,
    };
    state.apply(&prepare).unwrap();
    assert_eq!(state.open_first_offset(&partition(1)), Some(7));
    let complete = TxnCommand::Complete {
        id: "b".into(),
        markers: vec![(partition(0), 140), (partition(1), 9)],
    };
    state.apply(&complete).unwrap();
    assert_eq!(state.open_first_offset(&partition(0)), None);
    let aborted = state.aborted_between(&partition(0), 0, 1000);
    assert_eq!(
        aborted,
        vec![Aborted {
            producer_id: 11,
            first_offset: 120,
            last_offset: 140
        }]
    );
    assert!(state.aborted_between(&partition(0), 141, 1000).is_empty());
    assert!(state.aborted_between(&partition(0), 0, 120).is_empty());
}

#[test]
fn commands_out_of_phase_are_refused_and_change_nothing() {
    let mut state = Transactions::default();
    let complete = TxnCommand::Complete {
        id: "x".into(),
        markers: vec![],
    };
    assert_eq!(state.apply(&complete), Err(TxnRefusal::UnknownId));
    init(&mut state, "x", 1, 0);
    let before = state.clone();
    assert_eq!(state.apply(&complete), Err(TxnRefusal::WrongPhase));
    assert_eq!(state, before);
    add(&mut state, "x", &[(0, 0)]);
    let reinit = TxnCommand::Init {
        id: "x".into(),
        producer_id: 1,
        epoch: 1,
        timeout_ms: 1,
    };
    assert_eq!(state.apply(&reinit), Err(TxnRefusal::WrongPhase));
}

#[test]
fn snapshot_round_trip_rebuilds_the_indexes() {
    let mut state = Transactions::default();
    init(&mut state, "a", 10, 2);
    add(&mut state, "a", &[(0, 100)]);
    init(&mut state, "b", 11, 0);
    add(&mut state, "b", &[(0, 50)]);
    end(&mut state, "b", false, &[(0, 60)]);
    let json = serde_json::to_vec(&state.to_snapshot()).unwrap();
    let back = Transactions::from_snapshot(serde_json::from_slice(&json).unwrap());
    assert_eq!(back, state);
    assert_eq!(back.open_first_offset(&partition(0)), Some(100));
    assert_eq!(back.by_producer(10).unwrap().1.epoch, 2);
}

#[test]
fn prune_drops_ranges_below_the_log_start() {
    let mut state = Transactions::default();
    init(&mut state, "a", 10, 0);
    add(&mut state, "a", &[(0, 0)]);
    end(&mut state, "a", false, &[(0, 5)]);
    add(&mut state, "a", &[(0, 6)]);
    end(&mut state, "a", false, &[(0, 9)]);
    let prune = TxnCommand::Prune {
        partition: partition(0),
        below: 6,
    };
    state.apply(&prune).unwrap();
    assert_eq!(state.aborted_between(&partition(0), 0, 100).len(), 1);
    let prune_all = TxnCommand::Prune {
        partition: partition(0),
        below: u64::MAX,
    };
    state.apply(&prune_all).unwrap();
    assert!(state.is_quiet());
}

mod coordinator {
    use std::sync::Arc;

    use whippet_log::{Log, LogConfig, TopicSettings};

    use super::super::{TxnError, read, state::Phase};
    use crate::core::meta::MetaCommand;
    use crate::core::{Core, RequestContext, topics};

    fn core(dir: &std::path::Path) -> Arc<Core> {
        let (log, _) = Log::open(LogConfig::new(dir)).unwrap();
        Arc::new(Core::with_empty_groups(log, "kafka".into(), &crate::core::test_root()).unwrap())
    }

    /// A crash right after the decision (`Prepare` durable, no marker yet): the sweep at the
    /// next start writes the markers and completes, and the aborted range becomes visible.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_sweep_finishes_a_transaction_decided_before_a_crash() {
        let dir = tempfile::tempdir().unwrap();
        let core = core(dir.path());
        let rc = RequestContext::internal();
        let topic = topics::create_kafka_topic(&core, &rc, "t", 1, TopicSettings::default())
            .await
            .unwrap();
        let allocate = || async { Ok(42) };
        let (pid, epoch) = core
            .txns
            .init(&core, &rc, ("tx", 60_000), allocate)
            .await
            .unwrap();
        let txn = ("tx", pid, epoch);
        let parts = [(Arc::clone(&topic), 0)];
        core.txns.add_partitions(&core, txn, &parts).await.unwrap();
        let state = core.meta.load();
        assert_eq!(read::last_stable_offset(&state.txns, &topic, 0, 0), 0);
        let prepare = super::TxnCommand::Prepare {
            id: "tx".into(),
            commit: false,
            epoch,
        };
        core.meta.submit(MetaCommand::Txn(prepare)).await.unwrap();
        // Decided but not complete: requests of the producer must wait.
        let ended = core.txns.end(&core, &rc, txn, true).await;
        assert!(matches!(ended, Err(TxnError::ConcurrentTransactions)));

        assert_eq!(core.txns.sweep(&core).await, 1);
        let log = topic.partition(0).unwrap();
        assert_eq!(log.high_watermark(), 1, "one abort marker");
        let state = core.meta.load();
        assert_eq!(state.txns.get("tx").unwrap().phase, Phase::Empty);
        assert_eq!(read::aborted(&state.txns, &topic, 0, 0, 1).len(), 1);
        assert_eq!(read::last_stable_offset(&state.txns, &topic, 0, 1), 1);
        assert_eq!(core.txns.sweep(&core).await, 0, "nothing left to finish");
        core.log.shutdown().unwrap();
    }
}
