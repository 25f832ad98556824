//! Magic-2 record-batch handling on arbitrary bytes: `inspect_batches` (the Produce check),
//! the in-place patches the broker applies on append, and `find_offset_for_timestamp`
//! (ListOffsets by time, which decompresses and walks records), and Produce's record
//! validation (`admit_kafka_batch`). Nothing may panic, and:
//! - inspected batches tile the input exactly, in order;
//! - a batch produce admits (and would store: not a control batch) transcodes to native;
//! - a patched batch still inspects, with the patched base offset / leader epoch, and a
//!   LogAppendTime patch leaves a batch whose CRC verifies and whose max timestamp is the one set.
//!
//! The first input byte is a control byte: bit 0 repairs every batch CRC before inspection so
//! mutations reach the checks behind the checksum; the rest of that byte seeds the patch values.
#![no_main]

use libfuzzer_sys::fuzz_target;
use whippet_fuzz::repair_crcs;
use whippet_wire::kafka::{
    find_offset_for_timestamp, inspect_batch_at, inspect_batches, set_base_offset,
    set_log_append_time, set_partition_leader_epoch,
};
use whippet_wire::transcode::{admit_kafka_batch, kafka_to_native};

/// The decompression cap produce validates under (the native poll's reply cap).
const PLAIN_BYTES_MAX: usize = 64 * 1024 * 1024 - 256 - 16;

fuzz_target!(|data: &[u8]| {
    let Some((&control, rest)) = data.split_first() else {
        return;
    };
    let mut records = rest.to_vec();
    if control & 1 == 1 {
        repair_crcs(&mut records);
    }
    let seed = i64::from(control >> 1);

    // Patches and lookups must refuse non-batches too, without panicking.
    let _ = find_offset_for_timestamp(&records, seed);
    let _ = set_base_offset(&mut records.clone(), seed);

    let Ok(batches) = inspect_batches(&records) else {
        return;
    };
    let mut expected_start = 0;
    let mut scratch = Vec::new();
    for info in &batches {
        if admit_kafka_batch(&records, info, &mut scratch, PLAIN_BYTES_MAX).is_ok()
            && !info.is_control
        {
            let mut stored =
                records[info.offset_in_buffer..info.offset_in_buffer + info.len].to_vec();
            assert!(set_base_offset(&mut stored, 0).is_ok());
            let native = kafka_to_native(&stored, 0, PLAIN_BYTES_MAX);
            assert!(
                native.is_ok(),
                "an admitted batch must transcode: {native:?}"
            );
        }
        assert_eq!(
            info.offset_in_buffer, expected_start,
            "batches must tile the input"
        );
        expected_start += info.len;
        let batch = &records[info.offset_in_buffer..info.offset_in_buffer + info.len];
        check_patches(batch, seed);
        let _ = find_offset_for_timestamp(batch, info.base_timestamp_ms);
        let _ = find_offset_for_timestamp(batch, i64::MIN);
        let _ = find_offset_for_timestamp(batch, info.max_timestamp_ms);
    }
    assert_eq!(
        expected_start,
        records.len(),
        "batches must cover the input"
    );
});

fn check_patches(batch: &[u8], seed: i64) {
    let mut patched = batch.to_vec();
    let base_offset = seed.wrapping_mul(1_000_003);
    let epoch = i32::try_from(seed).unwrap_or(0);
    let append_ms = 1_700_000_000_000 + seed;
    assert!(set_base_offset(&mut patched, base_offset).is_ok());
    assert!(set_partition_leader_epoch(&mut patched, epoch).is_ok());
    let info = inspect_batch_at(&patched, 0).expect("offset/epoch patches are outside the CRC");
    assert_eq!(info.base_offset, base_offset);
    assert_eq!(info.len, batch.len());

    assert!(set_log_append_time(&mut patched, append_ms).is_ok());
    let info = inspect_batch_at(&patched, 0).expect("LogAppendTime recomputes the CRC");
    assert_eq!(info.max_timestamp_ms, append_ms);
    assert_eq!(
        info.timestamp_type,
        kafka_protocol::records::TimestampType::LogAppend
    );
    let _ = find_offset_for_timestamp(&patched, append_ms);
}
