//! `whippet-bench` owns the load generator: Kafka workloads over rdkafka and native workloads
//! over the Iggy SDK, pointed at any broker address (Whippet's or a peer's), with reports of
//! throughput and latency. It must not depend on Whippet's internal crates, so that what it
//! measures is only what a client sees.
//!
//! Empty so far: the benchmark issue builds it. The storage engine's own micro-benchmarks live
//! in `log/benches/`.
