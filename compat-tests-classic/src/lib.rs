//! `whippet-compat-tests-classic` owns the tests that drive the real `whippet` binary's native
//! port with the real, unmodified clients of the **classic** Iggy framing (`[length][code]
//! [payload]`): the Rust SDK `iggy` 0.10.0 and the Python SDK `apache-iggy` 0.8.0, alone, next
//! to a protocol-0.11 client on the same port, and across to Kafka. This library holds only what
//! those tests need beyond the `whippet-compat-tests` harness (which starts and stops the broker):
//! where the classic Python venv and program live. It must not mock a client or a protocol peer,
//! must not link any Whippet crate (it sees the broker only from the outside), and must not
//! change `compat-tests/` — it uses that crate's harness as a library.
//!
//! The classic venv is separate from the protocol-0.11 one because `apache-iggy` 0.8.0 and 0.9.0
//! install under the same name; `scripts/install-test-deps` builds it.

use std::path::PathBuf;

use whippet_compat_tests::programs::{clients_dir, require, work_dir};

/// `compat-tests/.work/venv-classic/bin/python`: the venv with `apache-iggy` 0.8.0. A missing
/// venv fails the test with the install hint (not a skip).
pub fn venv_classic_python() -> PathBuf {
    require(&work_dir().join("venv-classic/bin/python"))
}

/// `compat-tests/clients/python-classic/`: the classic Python program and its pin file.
pub fn classic_clients_dir() -> PathBuf {
    clients_dir().join("python-classic")
}
