//! `whippet-compat-tests` owns the tests that start the real `whippet` binary and drive it with
//! real, unmodified clients. This library holds only the harness (start the binary on free
//! ports, read its ready line, stop it); it must not mock a client or a protocol peer, and must
//! not link any Whippet crate — it sees the broker only from the outside.
