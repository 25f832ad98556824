//! `whippet-broker` owns the running process: configuration, listeners, connection loops,
//! authentication, mapping decoded requests onto `whippet-log` and `whippet-coordinator`,
//! metrics and tracing wiring. It must not hold protocol byte-layout code (that is
//! `whippet-wire`'s) nor storage-format code (that is `whippet-log`'s).
