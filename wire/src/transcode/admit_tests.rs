//! Produce admission: an admitted batch always transcodes to native within the limits, the
//! cheap size bound is never below the real size, and what the native side cannot serve is
//! refused with MESSAGE_TOO_LARGE.

use kafka_protocol::ResponseError;

use super::super::admit::native_bytes_bound;
use super::*;
use crate::kafka::batch::{inspect_batches, validate_records};

/// Admits the single batch in `kafka`, returning the walk's totals too.
fn admit(kafka: &[u8], cap: usize) -> Result<crate::kafka::RecordTotals, TranscodeError> {
    let infos = inspect_batches(kafka).unwrap();
    let mut scratch = Vec::new();
    admit_kafka_batch(kafka, &infos[0], &mut scratch, cap).map(|_| ())?;
    let mut scratch = Vec::new();
    Ok(validate_records(kafka, &infos[0], &mut scratch, cap)
        .unwrap()
        .totals)
}

/// `records` records of `headers` headers each, every header with an empty key and a null
/// value (the Kafka header that grows most on the native side: two spilled marker entries).
fn spilled(records: usize, headers: usize) -> Vec<Rec> {
    let header = (Vec::new(), None);
    (0..records)
        .map(|_| Rec {
            key: None,
            value: Some(Vec::new()),
            headers: vec![header.clone(); headers],
        })
        .collect()
}

#[test]
fn the_native_size_is_refused_exactly_when_it_passes_the_native_limit() {
    // ≈ 60 MB natively from 1.8 MB of Kafka records: the bound says maybe, measuring says yes.
    let fits = kafka_batch(0, 0, &spilled(1000, 900), Compression::None);
    let totals = admit(&fits, MAX).unwrap();
    assert!(native_bytes_bound(&totals) > limits::NATIVE_BATCH_BYTES_MAX);
    let native = kafka_to_native(&fits, 0, MAX).unwrap();
    assert!(native.len() <= limits::NATIVE_BATCH_BYTES_MAX);
    assert!(native_bytes_bound(&totals) >= native.len());
    drop(native);
    // ≈ 74 MB natively: refused at produce, as the native poll would refuse it.
    let too_large = kafka_batch(0, 0, &spilled(1000, 1100), Compression::Zstd);
    let error = admit(&too_large, MAX).unwrap_err();
    assert!(
        matches!(error, TranscodeError::TooLarge { .. }),
        "{error:?}"
    );
    assert_eq!(error.produce_error(), ResponseError::MessageTooLarge);
    assert!(matches!(
        kafka_to_native(&too_large, 0, MAX),
        Err(TranscodeError::TooLarge { .. })
    ));
}

#[test]
fn more_records_than_a_native_batch_holds_is_message_too_large() {
    let count = limits::NATIVE_MESSAGES_MAX + 1;
    let one = rec(None, Some(b"x"), &[]);
    let records = vec![one; count];
    let kafka = kafka_batch(0, 0, &records, Compression::Zstd);
    let error = admit(&kafka, MAX).unwrap_err();
    assert!(
        matches!(error, TranscodeError::TooManyRecords { .. }),
        "{error:?}"
    );
    assert_eq!(error.produce_error(), ResponseError::MessageTooLarge);
    assert!(matches!(
        kafka_to_native(&kafka, 0, MAX),
        Err(TranscodeError::TooManyRecords { .. })
    ));
    // The native batch limit itself is admitted.
    let kafka = kafka_batch(0, 0, &records[1..], Compression::Zstd);
    assert!(admit(&kafka, MAX).is_ok());
}

#[test]
fn kafka_level_refusals_keep_kafkas_codes() {
    let good = kafka_batch(0, 0, &[rec(Some(b"k"), Some(b"v"), &[])], Compression::Gzip);
    let mut garbage = good.clone();
    for byte in &mut garbage[61..] {
        *byte = byte.wrapping_mul(31).wrapping_add(7);
    }
    let crc = crc32c::crc32c(&garbage[21..]);
    garbage[17..21].copy_from_slice(&crc.to_be_bytes());
    let error = admit(&garbage, MAX).unwrap_err();
    assert_eq!(error.produce_error(), ResponseError::CorruptMessage);
    let big = kafka_batch(0, 0, &[rec(None, Some(&[0; 5000]), &[])], Compression::Lz4);
    let error = admit(&big, 1000).unwrap_err();
    assert_eq!(error.produce_error(), ResponseError::MessageTooLarge);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Whatever is admitted transcodes, and the bound the fast path trusts is a real bound.
    #[test]
    fn admitted_batches_transcode_within_the_bound(
        records in prop::collection::vec(record(), 1..6),
        codec in codec(),
    ) {
        let kafka = kafka_batch(3, 1_600_000_000_000, &records, codec);
        let totals = admit(&kafka, MAX).unwrap();
        let native = kafka_to_native(&kafka, 0, MAX).unwrap();
        prop_assert!(native_bytes_bound(&totals) >= native.len());
    }

    /// The same with many headers per record, most of them spilled or chunked.
    #[test]
    fn header_heavy_batches_transcode_within_the_bound(
        headers in prop::collection::vec(
            prop::collection::vec((field(), prop::option::of(field())), 0..40), 1..4),
        codec in codec(),
    ) {
        let records: Vec<Rec> = headers
            .into_iter()
            .map(|headers| Rec { key: Some(Vec::new()), value: None, headers })
            .collect();
        let kafka = kafka_batch(0, 0, &records, codec);
        let totals = admit(&kafka, MAX).unwrap();
        let native = kafka_to_native(&kafka, 0, MAX).unwrap();
        prop_assert!(native_bytes_bound(&totals) >= native.len());
    }
}
