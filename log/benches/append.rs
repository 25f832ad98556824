//! Append and read throughput of one partition: batches of 100 records × 1 KiB (the payload is
//! opaque to the log, so a 100 KiB payload per batch stands for them) under each fsync policy,
//! plus group commit with concurrent appenders, plus sequential reads.
//!
//! Run: `cargo bench -p whippet-log --bench append`. Criterion reports bytes/s (MB/s) and, from
//! the batches/s it prints per iteration, batches/s.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use whippet_log::{AppendBatch, BatchFormat, FsyncPolicy, LogConfig, PartitionLog, TopicSettings};

const RECORDS_PER_BATCH: u32 = 100;
const RECORD_BYTES: usize = 1024;
const BATCH_BYTES: usize = RECORDS_PER_BATCH as usize * RECORD_BYTES;

fn open(dir: &std::path::Path, fsync: FsyncPolicy) -> Arc<PartitionLog> {
    let mut config = LogConfig::new(dir);
    config.fsync = fsync;
    config.fsync_interval = Duration::from_millis(1000);
    let settings = TopicSettings {
        segment_bytes: 256 * 1024 * 1024,
        ..TopicSettings::default()
    };
    PartitionLog::open(dir.to_path_buf(), 0, settings, &config)
        .unwrap()
        .0
}

fn batch(template: &[u8]) -> AppendBatch {
    AppendBatch {
        format: BatchFormat::Kafka,
        payload: template.to_vec().into(),
        record_count: RECORDS_PER_BATCH,
        last_offset_delta: RECORDS_PER_BATCH - 1,
        first_timestamp_us: 1_700_000_000_000_000,
        max_timestamp_us: 1_700_000_000_000_000,
    }
}

/// Appends from `appenders` threads; with `fsync = always` each waits for durability, so
/// concurrent appends share syncs (group commit).
fn append_for(log: &Arc<PartitionLog>, appenders: usize, batches_each: u64, template: &[u8]) {
    std::thread::scope(|s| {
        for _ in 0..appenders {
            s.spawn(|| {
                for _ in 0..batches_each {
                    log.append_durable_blocking(batch(template), |ctx| {
                        ctx.payload[0..8].copy_from_slice(&ctx.base_offset.to_be_bytes());
                    })
                    .unwrap();
                }
            });
        }
    });
}

fn bench_append(c: &mut Criterion) {
    let template: Vec<u8> = (0..BATCH_BYTES).map(|i| (i % 251) as u8).collect();
    let mut group = c.benchmark_group("append_100x1KiB");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(5));
    let cases = [
        (FsyncPolicy::Never, 1),
        (FsyncPolicy::Interval, 1),
        (FsyncPolicy::Always, 1),
        (FsyncPolicy::Always, 4),
        (FsyncPolicy::Always, 16),
    ];
    for (fsync, appenders) in cases {
        let batches_each = 64u64;
        let total = batches_each * appenders as u64;
        group.throughput(Throughput::Bytes(total * BATCH_BYTES as u64));
        let id = BenchmarkId::new(format!("fsync_{fsync}"), format!("{appenders}_appenders"));
        group.bench_function(id, |b| {
            let dir = tempfile::tempdir().unwrap();
            let log = open(dir.path(), fsync);
            b.iter_custom(|iters| {
                let start = Instant::now();
                for _ in 0..iters {
                    append_for(&log, appenders, batches_each, &template);
                }
                let elapsed = start.elapsed();
                let batches = (iters * total) as f64;
                eprintln!("  {:.0} batches/s", batches / elapsed.as_secs_f64());
                elapsed
            });
        });
    }
    group.finish();
}

fn bench_read(c: &mut Criterion) {
    let template: Vec<u8> = (0..BATCH_BYTES).map(|i| (i % 251) as u8).collect();
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), FsyncPolicy::Never);
    let batches = 1024u64; // 100 MiB
    append_for(&log, 1, batches, &template);
    let mut group = c.benchmark_group("read_sequential");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(5));
    group.throughput(Throughput::Bytes(batches * BATCH_BYTES as u64));
    group.bench_function("1MiB_reads", |b| {
        b.iter(|| {
            let mut next = log.log_start_offset();
            let mut bytes = 0usize;
            while next < log.high_watermark() {
                let r = log.read_blocking(next, 1 << 20).unwrap();
                for f in &r.frames {
                    bytes += f.payload.len();
                    next = f.header.next_offset();
                }
            }
            assert_eq!(bytes as u64, batches * BATCH_BYTES as u64);
        });
    });
    group.finish();
}

criterion_group!(benches, bench_append, bench_read);
criterion_main!(benches);
