//! `whippet-meta` owns the durable form of the broker's metadata: an append-only log of
//! commands, numbered in the order their one owner applied them, plus a snapshot of the state
//! they built, after which the log starts again. A state is restored by loading the snapshot
//! and replaying the records after it. Appends are batched (every record handed in one call
//! shares one write and one `fdatasync`), so a small change costs O(size of the change) I/O,
//! not a rewrite of the whole state. It knows nothing of what the records mean (callers encode
//! them) and must not depend on any other Whippet crate, the network or an async runtime.
//!
//! [`Machine`] runs a [`StateMachine`] over such a log: typed commands applied in order by one
//! owner thread to an immutable state that readers load without locks, each accepted command
//! durable (group commit: one write and one `fdatasync` per batch) before its effect is
//! published or acknowledged.
//!
//! Invariants: a record is acknowledged (its append returned `Ok`) only once it is on disk;
//! a failed append leaves the log as it was before the call (the torn bytes are cut off) or, if
//! even that fails, refuses every later append until the log is reopened; recovery keeps every
//! whole record and drops a torn or corrupt tail; record indexes only grow, and a record at or
//! below the snapshot's index is never replayed.
//!
//! Shape for replication: records are `(index, payload)` entries of one ordered log and the
//! snapshot names the index it covers — the log-storage and state-machine-snapshot halves a Raft
//! library such as openraft asks for (ARCHITECTURE.md, "The metadata log").

mod error;
mod file;
pub mod limits;
mod log;
mod machine;

pub use error::MetaError;
pub use file::{read_bounded_file, replace_file};
pub use log::{MetaLog, Recovered};
pub use machine::{CommandError, Machine, OpenReport, StateMachine};
