use super::*;
use crate::native::message::NewMessage;
use crate::native::status::Status;

const HEADERS: &[u8] = &[2, 1, 0, 0, 0, b'k', 2, 1, 0, 0, 0, b'v'];

fn three_messages() -> BytesMut {
    let messages = [
        NewMessage {
            id: 11,
            offset_delta: 0,
            timestamp_delta: 0,
            payload: b"first",
            user_headers: HEADERS,
        },
        NewMessage {
            id: 12,
            offset_delta: 1,
            timestamp_delta: 10,
            payload: b"second!",
            user_headers: b"",
        },
        NewMessage {
            id: 13,
            offset_delta: 2,
            timestamp_delta: 20,
            payload: b"3",
            user_headers: b"",
        },
    ];
    encode_batch(1_000_000, &messages)
}

#[test]
fn header_layout_matches_section_4_2() {
    let batch = three_messages();
    assert_eq!(&batch[32..40], &(batch.len() as u64).to_le_bytes());
    let header = BatchHeader::decode(&batch).unwrap();
    assert_eq!(header.batch_length, batch.len() as u64);
    assert_eq!(&batch[24..32], &1_000_000u64.to_le_bytes());
    assert_eq!(&batch[48..52], &3u32.to_le_bytes());
    assert!(batch[52..256].iter().all(|byte| *byte == 0));
    let mut out = BytesMut::new();
    header.encode(&mut out);
    assert_eq!(&out[..], &batch[..256]);
}

#[test]
fn batch_checksum_is_the_streaming_hash_of_section_4_4() {
    let batch = three_messages();
    let mut input = Vec::new();
    input.extend_from_slice(&batch[0..40]);
    input.extend_from_slice(&batch[48..52]);
    let record = BatchRecord::read(&batch).unwrap();
    for frame in record.frames() {
        input.extend_from_slice(&frame.unwrap().bytes[..8]);
    }
    let expected = xxhash_rust::xxh3::xxh3_64(&input);
    assert_eq!(&batch[40..48], &expected.to_le_bytes());
}

#[test]
fn valid_batch_is_admitted() {
    let summary = validate_send_batch(&three_messages()).unwrap();
    assert_eq!(summary.message_count, 3);
    assert_eq!(summary.payload_bytes, 5 + 7 + 1);
    assert_eq!(summary.origin_timestamp, 1_000_000);
}

#[test]
fn a_built_batch_skips_only_the_checksums() {
    let batch = three_messages();
    let mut payload = batch.clone();
    payload[256 + 48] ^= 0x20;
    let mut origin = batch.clone();
    origin[24] ^= 1;
    for changed in [&payload, &origin] {
        assert!(validate_send_batch(changed).is_err());
        assert_eq!(validate_built_send_batch(changed).unwrap().message_count, 3);
    }
    let mut reserved = batch.clone();
    reserved[100] = 1;
    assert!(validate_built_send_batch(&reserved).is_err());
    for cut in 0..batch.len() {
        assert!(
            validate_built_send_batch(&batch[..cut]).is_err(),
            "cut {cut}"
        );
    }
}

#[test]
fn every_cut_is_rejected_without_panic() {
    let batch = three_messages();
    for cut in 0..batch.len() {
        assert!(validate_send_batch(&batch[..cut]).is_err(), "cut {cut}");
        assert!(BatchRecord::read(&batch[..cut]).is_err(), "cut {cut}");
    }
}

#[test]
fn corruption_is_rejected_with_the_right_error() {
    let batch = three_messages();
    let mut reserved = batch.clone();
    reserved[100] = 1;
    assert!(matches!(
        validate_send_batch(&reserved),
        Err(NativeWireError::ReservedNotZero { offset: 100, .. })
    ));
    let mut payload = batch.clone();
    payload[256 + 48] ^= 0x20;
    let error = validate_send_batch(&payload).unwrap_err();
    assert_eq!(error.status(), Status::InvalidMessageChecksum);
    let mut origin = batch.clone();
    origin[24] ^= 1;
    let error = validate_send_batch(&origin).unwrap_err();
    assert_eq!(error.status(), Status::InvalidBatchChecksum);
    let mut count = batch.clone();
    count[48] = 2;
    assert!(matches!(
        validate_send_batch(&count),
        Err(NativeWireError::Mismatch {
            field: "message_count",
            ..
        })
    ));
    let mut longer = batch.to_vec();
    longer.push(0);
    assert!(validate_send_batch(&longer).is_err());
}

#[test]
fn bad_deltas_and_empty_batches_are_rejected() {
    let skipped = encode_batch(
        0,
        &[NewMessage {
            id: 1,
            offset_delta: 1,
            timestamp_delta: 0,
            payload: b"x",
            user_headers: b"",
        }],
    );
    assert!(validate_send_batch(&skipped).is_err());
    let empty = validate_send_batch(&encode_batch(0, &[])).unwrap_err();
    assert_eq!(empty.status(), Status::InvalidMessagesCount);
    let no_payload = encode_batch(
        0,
        &[NewMessage {
            id: 1,
            offset_delta: 0,
            timestamp_delta: 0,
            payload: b"",
            user_headers: b"",
        }],
    );
    let error = validate_send_batch(&no_payload).unwrap_err();
    assert_eq!(error.status(), Status::EmptyMessagePayload);
}

/// A one-message batch with `user_headers`, checksums correct.
fn with_headers(user_headers: &[u8]) -> BytesMut {
    encode_batch(
        0,
        &[NewMessage {
            id: 1,
            offset_delta: 0,
            timestamp_delta: 0,
            payload: b"p",
            user_headers,
        }],
    )
}

#[test]
fn malformed_user_headers_are_refused_with_iggys_header_statuses() {
    assert!(validate_send_batch(&with_headers(HEADERS)).is_ok());
    // Typed entries of the right size and unknown kinds pass.
    let typed = [2, 1, 0, 0, 0, b'n', 12, 8, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8];
    assert!(validate_send_batch(&with_headers(&typed)).is_ok());
    let unknown = [200, 1, 0, 0, 0, b'?', 99, 2, 0, 0, 0, b'o', b'k'];
    assert!(validate_send_batch(&with_headers(&unknown)).is_ok());
    let key_cases: [&[u8]; 5] = [
        &[0, 1, 0, 0, 0, b'k', 2, 1, 0, 0, 0, b'v'], // key kind 0
        &[2, 0, 0, 0, 0, 2, 1, 0, 0, 0, b'v'],       // key length 0
        &[2, 0, 1, 0, 0],                            // key length 256, nothing behind
        &[2, 9, 0, 0, 0, b'k'],                      // key cut short
        &[6, 3, 0, 0, 0, 1, 2, 3, 2, 1, 0, 0, 0, b'v'], // int32 key of 3 bytes
    ];
    for block in key_cases {
        let error = validate_send_batch(&with_headers(block)).unwrap_err();
        assert!(
            matches!(
                error,
                NativeWireError::InvalidUserHeader {
                    part: crate::native::user_headers::HeaderPart::Key,
                    ..
                }
            ),
            "{block:?}: {error:?}"
        );
        assert_eq!(error.status(), Status::InvalidHeaderKey);
        assert_eq!(error.status().code(), 4018);
    }
    let value_cases: [&[u8]; 5] = [
        &[2, 1, 0, 0, 0, b'k'],                            // a key with no value
        &[2, 1, 0, 0, 0, b'k', 0, 1, 0, 0, 0, b'v'],       // value kind 0
        &[2, 1, 0, 0, 0, b'k', 1, 0, 0, 0, 0],             // value length 0
        &[2, 1, 0, 0, 0, b'k', 1, 0xff, 0xff, 0xff, 0xff], // value length u32::MAX
        &[2, 1, 0, 0, 0, b'k', 3, 2, 0, 0, 0, 1, 1],       // bool of 2 bytes
    ];
    for block in value_cases {
        let error = validate_send_batch(&with_headers(block)).unwrap_err();
        assert_eq!(error.status(), Status::InvalidHeaderValue, "{block:?}");
        assert_eq!(error.status().code(), 4019);
    }
    // Every cut of a good two-entry block is refused (or is empty).
    let mut two = HEADERS.to_vec();
    two.extend_from_slice(&typed);
    for cut in 1..two.len() {
        let whole_entry = cut == HEADERS.len();
        assert_eq!(
            validate_send_batch(&with_headers(&two[..cut])).is_ok(),
            whole_entry,
            "cut {cut}"
        );
    }
}

#[test]
fn stamping_sets_server_fields_and_keeps_the_batch_valid() {
    let mut batch = three_messages();
    let header = stamp_batch(&mut batch, 2, 100, 5_000).unwrap();
    assert_eq!(&batch[0..8], &2u64.to_le_bytes());
    assert_eq!(&batch[8..16], &100u64.to_le_bytes());
    assert_eq!(&batch[16..24], &5_000u64.to_le_bytes());
    assert_eq!(BatchHeader::decode(&batch).unwrap(), header);
    validate_send_batch(&batch).unwrap();
    let offsets: Vec<u64> = BatchRecord::read(&batch)
        .unwrap()
        .messages()
        .map(|message| message.unwrap().offset)
        .collect();
    assert_eq!(offsets, vec![100, 101, 102]);
}

#[test]
fn stored_messages_expose_derived_values() {
    let mut batch = three_messages();
    stamp_batch(&mut batch, 0, 40, 7).unwrap();
    let record = BatchRecord::read(&batch).unwrap();
    let second = record.messages().nth(1).unwrap().unwrap();
    assert_eq!(second.offset, 41);
    assert_eq!(second.timestamp, 7);
    assert_eq!(second.origin_timestamp, 1_000_010);
    assert_eq!(second.frame.payload, b"second!");
    assert_eq!(second.frame.header.id, 12);
}

#[test]
fn slicing_produces_valid_records() {
    let mut batch = three_messages();
    stamp_batch(&mut batch, 1, 10, 99).unwrap();
    let middle = slice_batch(&batch, 11, 11).unwrap().unwrap();
    validate_sliced(&middle, &[11]);
    let tail = slice_batch(&batch, 11, 50).unwrap().unwrap();
    validate_sliced(&tail, &[11, 12]);
    let whole = slice_batch(&batch, 0, u64::MAX).unwrap().unwrap();
    assert_eq!(&whole[..], &batch[..]);
    assert!(slice_batch(&batch, 13, 20).unwrap().is_none());
    assert!(slice_batch(&batch, 0, 9).unwrap().is_none());
}

fn validate_sliced(record_bytes: &[u8], offsets: &[u64]) {
    let record = BatchRecord::read(record_bytes).unwrap();
    verify_batch_checksum(&record).unwrap();
    let seen: Vec<u64> = record
        .messages()
        .map(|message| {
            let message = message.unwrap();
            message.frame.verify_checksum().unwrap();
            message.offset
        })
        .collect();
    assert_eq!(seen, offsets);
}

#[test]
fn records_walks_back_to_back_batches() {
    let mut first = three_messages();
    stamp_batch(&mut first, 0, 0, 1).unwrap();
    let mut second = three_messages();
    stamp_batch(&mut second, 0, 3, 2).unwrap();
    let mut both = first.clone();
    both.extend_from_slice(&second);
    let bases: Vec<u64> = records(&both)
        .map(|record| record.unwrap().header.base_offset)
        .collect();
    assert_eq!(bases, vec![0, 3]);
    assert!(records(&both[..both.len() - 1]).any(|record| record.is_err()));
}
