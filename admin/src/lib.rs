//! `whippet-admin` owns the operator surface: CLI subcommands, the HTTP admin API and the web
//! console. It talks to a running broker over its public protocols like any other client and
//! must never reach into the log or the coordinator directly.
//!
//! Empty so far: the operator surface comes with its own issue.
