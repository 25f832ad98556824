//! Property test: random batch sizes, segment sizes, index intervals and read positions,
//! checked against a plain in-memory model of the log, before and after a reopen (the reopen
//! empties the recent cache, so reads go through the segment files and indexes).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use whippet_log::{AppendBatch, BatchFormat, FsyncPolicy, LogConfig, PartitionLog, TopicSettings};

/// One appended batch as the model keeps it.
#[derive(Debug, Clone)]
struct ModelFrame {
    base: u64,
    records: u32,
    payload: Vec<u8>,
    ts: i64,
}

fn check_reads(log: &PartitionLog, model: &[ModelFrame], reads: &[(u64, usize)]) {
    let hw = model.last().map_or(0, |f| f.base + u64::from(f.records));
    assert_eq!(log.high_watermark(), hw);
    for &(pick, max_bytes) in reads {
        let from = if hw == 0 { 0 } else { pick % (hw + 1) };
        let got = log.read_blocking(from, max_bytes).unwrap();
        if from == hw {
            assert!(got.frames.is_empty());
            continue;
        }
        let start = model
            .iter()
            .position(|f| f.base + u64::from(f.records) > from)
            .unwrap();
        let mut total = 0usize;
        let mut want = Vec::new();
        for f in &model[start..] {
            if !want.is_empty() && total + f.payload.len() > max_bytes {
                break;
            }
            total += f.payload.len();
            want.push(f);
            if total >= max_bytes {
                break;
            }
        }
        assert_eq!(got.frames.len(), want.len(), "read({from}, {max_bytes})");
        for (g, w) in got.frames.iter().zip(want) {
            assert_eq!(g.header.base_offset, w.base);
            assert_eq!(g.header.record_count, w.records);
            assert_eq!(&g.payload[..], &w.payload[..]);
        }
    }
    for f in model.iter().step_by(5) {
        let h = log.find_by_timestamp_blocking(f.ts).unwrap().unwrap();
        // Timestamps increase with offsets in this model, so the first match is this frame.
        assert_eq!(h.base_offset, f.base);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn log_matches_model(
        batches in prop::collection::vec((1usize..6000, 1u32..5), 1..80),
        segment_kib in 64u64..160,
        interval in prop::sample::select(vec![1u64, 300, 4096, 1 << 20]),
        reads in prop::collection::vec((any::<u64>(), 1usize..20_000), 1..40),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let mut config = LogConfig::new(dir.path());
        config.fsync = FsyncPolicy::Never;
        config.index_interval_bytes = interval;
        let settings = TopicSettings { segment_bytes: segment_kib * 1024, ..TopicSettings::default() };
        let open = || PartitionLog::open(dir.path().to_path_buf(), 0, settings.clone(), &config).unwrap();
        let (log, _) = open();
        let mut model = Vec::new();
        for (i, &(len, records)) in batches.iter().enumerate() {
            let payload: Vec<u8> = (0..len).map(|j| (i * 13 + j) as u8).collect();
            let ts = 10 * i as i64;
            let batch = AppendBatch {
                format: BatchFormat::Native,
                payload: payload.clone().into(),
                record_count: records,
                last_offset_delta: records - 1,
                first_timestamp_us: ts,
                max_timestamp_us: ts,
            };
            let a = log.append_blocking(batch, |_| {}).unwrap();
            model.push(ModelFrame { base: a.base_offset, records, payload, ts });
        }
        check_reads(&log, &model, &reads);
        drop(log);
        let (log, events) = open();
        prop_assert!(events.is_empty(), "clean reopen: {:?}", events);
        check_reads(&log, &model, &reads);
    }
}
