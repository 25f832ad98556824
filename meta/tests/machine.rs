//! The state-machine runner: acknowledged commands survive a reopen, refused ones change
//! nothing, a torn tail replays to a prefix of what was applied, snapshots cut the log, and
//! concurrent submitters share appends.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::path::Path;
use std::sync::Arc;

use proptest::prelude::*;
use whippet_meta::{CommandError, Machine, StateMachine};

/// A map of small keys to values; removing an absent key is refused.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Kv {
    entries: Arc<BTreeMap<u8, u32>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Op {
    Set(u8, u32),
    Remove(u8),
}

impl StateMachine for Kv {
    type Command = Op;
    type Applied = usize;
    type Rejected = &'static str;

    fn apply(&mut self, command: &Op) -> Result<usize, &'static str> {
        match *command {
            Op::Set(key, value) => {
                Arc::make_mut(&mut self.entries).insert(key, value);
            }
            Op::Remove(key) => {
                if !self.entries.contains_key(&key) {
                    return Err("absent");
                }
                Arc::make_mut(&mut self.entries).remove(&key);
            }
        }
        Ok(self.entries.len())
    }

    fn encode_command(command: &Op) -> Result<Vec<u8>, String> {
        Ok(match *command {
            Op::Set(key, value) => {
                let mut bytes = vec![1, key];
                bytes.extend_from_slice(&value.to_le_bytes());
                bytes
            }
            Op::Remove(key) => vec![2, key],
        })
    }

    fn decode_command(bytes: &[u8]) -> Result<Op, String> {
        match bytes {
            [1, key, v0, v1, v2, v3] => Ok(Op::Set(*key, u32::from_le_bytes([*v0, *v1, *v2, *v3]))),
            [2, key] => Ok(Op::Remove(*key)),
            _ => Err(format!("bad command {bytes:?}")),
        }
    }

    fn encode_snapshot(&self) -> Result<Vec<u8>, String> {
        let mut bytes = Vec::new();
        for (key, value) in self.entries.iter() {
            bytes.push(*key);
            bytes.extend_from_slice(&value.to_le_bytes());
        }
        Ok(bytes)
    }

    fn decode_snapshot(bytes: &[u8]) -> Result<Self, String> {
        if !bytes.len().is_multiple_of(5) {
            return Err("bad snapshot".into());
        }
        let entries = bytes
            .chunks(5)
            .map(|c| (c[0], u32::from_le_bytes([c[1], c[2], c[3], c[4]])))
            .collect();
        Ok(Self {
            entries: Arc::new(entries),
        })
    }
}

fn open(dir: &Path) -> (Machine<Kv>, whippet_meta::OpenReport) {
    Machine::open(dir, "kv", Kv::default).unwrap()
}

#[test]
fn acknowledged_commands_are_visible_and_survive_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let (machine, report) = open(dir.path());
    assert!(report.fresh);
    assert_eq!(machine.submit_wait(Op::Set(1, 10)).unwrap(), 1);
    assert_eq!(machine.submit_wait(Op::Set(2, 20)).unwrap(), 2);
    assert_eq!(machine.load().entries.get(&1), Some(&10));
    let before = machine.load();
    assert_eq!(machine.submit_wait(Op::Remove(1)).unwrap(), 1);
    // A loaded state never changes under its reader.
    assert_eq!(before.entries.len(), 2);
    let applied = machine.load();
    drop(machine);

    let (reopened, report) = open(dir.path());
    assert!(!report.fresh);
    assert_eq!(report.replayed, 3);
    assert_eq!(*reopened.load(), *applied);
}

#[test]
fn a_refused_command_changes_nothing_and_is_not_logged() {
    let dir = tempfile::tempdir().unwrap();
    let (machine, _) = open(dir.path());
    machine.submit_wait(Op::Set(1, 10)).unwrap();
    let refused = machine.submit_wait(Op::Remove(9));
    assert!(matches!(refused, Err(CommandError::Rejected("absent"))));
    assert_eq!(machine.load().entries.len(), 1);
    drop(machine);
    let (_, report) = open(dir.path());
    assert_eq!(report.replayed, 1);
    assert_eq!(report.replay_refused, 0);
}

#[test]
fn a_snapshot_cuts_the_log_and_reopens_to_the_same_state() {
    let dir = tempfile::tempdir().unwrap();
    let (machine, _) = open(dir.path());
    for key in 0..20 {
        machine
            .submit_wait(Op::Set(key, u32::from(key) * 3))
            .unwrap();
    }
    machine.snapshot_now().unwrap();
    machine.submit_wait(Op::Remove(4)).unwrap();
    let applied = machine.load();
    drop(machine);
    assert_eq!(
        std::fs::metadata(dir.path().join("kv.log")).unwrap().len(),
        8 + 16 + 2,
        "only the record after the snapshot is left in the log"
    );
    let (reopened, report) = open(dir.path());
    assert_eq!(report.replayed, 1);
    assert_eq!(*reopened.load(), *applied);
}

#[test]
fn concurrent_submitters_all_land_and_share_appends() {
    let dir = tempfile::tempdir().unwrap();
    let (machine, _) = open(dir.path());
    let machine = Arc::new(machine);
    let threads: Vec<_> = (0..8u8)
        .map(|t| {
            let machine = Arc::clone(&machine);
            std::thread::spawn(move || {
                for i in 0..25u8 {
                    machine
                        .submit_wait(Op::Set(t * 25 + i, u32::from(t)))
                        .unwrap();
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    let applied = machine.load();
    assert_eq!(applied.entries.len(), 200);
    drop(machine);
    let (reopened, _) = open(dir.path());
    assert_eq!(*reopened.load(), *applied);
}

#[test]
fn commands_queued_while_the_owner_syncs_share_one_append() {
    let dir = tempfile::tempdir().unwrap();
    let (machine, _) = open(dir.path());
    let (tx, rx) = std::sync::mpsc::channel();
    for key in 0..200u8 {
        let tx = tx.clone();
        machine.submit(Op::Set(key, 1), move |result| {
            tx.send(result.is_ok()).unwrap();
        });
    }
    drop(tx);
    assert!(rx.iter().all(|ok| ok));
    assert_eq!(machine.load().entries.len(), 200);
    assert!(
        machine.appends() < 200,
        "{} appends for 200 queued commands",
        machine.appends()
    );
}

#[test]
fn a_closed_machine_answers_stopped_and_still_reads() {
    let dir = tempfile::tempdir().unwrap();
    let (machine, _) = open(dir.path());
    machine.submit_wait(Op::Set(1, 1)).unwrap();
    machine.close();
    assert!(matches!(
        machine.submit_wait(Op::Set(2, 2)),
        Err(CommandError::Stopped)
    ));
    assert_eq!(machine.load().entries.len(), 1);
}

/// Applies `ops` without a log: the state each prefix builds.
fn prefixes(ops: &[Op]) -> Vec<Kv> {
    let mut state = Kv::default();
    let mut out = vec![state.clone()];
    for op in ops {
        if state.apply(op).is_ok() {
            out.push(state.clone());
        }
    }
    out
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0u8..8, any::<u32>()).prop_map(|(k, v)| Op::Set(k, v)),
        (0u8..8).prop_map(Op::Remove),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// A crash that tears the log anywhere (a cut at any byte, after an optional snapshot)
    /// reopens to exactly the state of some prefix of the accepted commands, never more than
    /// was applied; with no tear it is exactly the applied state.
    #[test]
    fn replay_after_a_torn_tail_is_a_prefix_of_what_was_applied(
        ops in proptest::collection::vec(op(), 1..40),
        snapshot_at in 0usize..40,
        cut in any::<proptest::sample::Index>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let (machine, _) = open(dir.path());
        for (i, op) in ops.iter().enumerate() {
            if i == snapshot_at {
                machine.snapshot_now().unwrap();
            }
            let _ = machine.submit_wait(op.clone());
        }
        let applied = machine.load();
        drop(machine);
        let expected = prefixes(&ops);
        prop_assert_eq!(&*applied, expected.last().unwrap());

        let (reopened, _) = open(dir.path());
        prop_assert_eq!(&*reopened.load(), &*applied);
        drop(reopened);

        let log = dir.path().join("kv.log");
        let len = std::fs::metadata(&log).unwrap().len();
        let at = cut.index(usize::try_from(len).unwrap() + 1) as u64;
        OpenOptions::new().write(true).open(&log).unwrap().set_len(at).unwrap();
        let (torn, _) = open(dir.path());
        let state = torn.load();
        prop_assert!(expected.contains(&state), "state after a tear is no prefix");
        // Later commands still append after the cut.
        torn.submit_wait(Op::Set(200, 1)).unwrap();
        let after = torn.load();
        drop(torn);
        let (again, _) = open(dir.path());
        prop_assert_eq!(&*again.load(), &*after);
    }
}
