use super::*;

fn frame(code: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = BytesMut::new();
    encode_request(&mut out, code, payload);
    out.to_vec()
}

#[test]
fn first_four_bytes_tell_the_framings_apart() {
    assert!(is_classic([4, 0, 0, 0]));
    assert!(is_classic([0, 0, 0, 1]));
    assert!(!is_classic([0, 0, 0, 0]));
    let ping = frame(1, b"");
    assert!(is_classic(*ping.first_chunk::<4>().unwrap()));
}

#[test]
fn request_layout_is_length_code_payload() {
    let bytes = frame(202, &[2, b's', b'1']);
    assert_eq!(&bytes[..4], &7u32.to_le_bytes());
    assert_eq!(&bytes[4..8], &202u32.to_le_bytes());
    assert_eq!(&bytes[8..], &[2, b's', b'1']);
    let parsed = peek_request(&bytes).unwrap().unwrap();
    assert_eq!(
        parsed,
        ClassicFrame {
            code: 202,
            frame_len: 11
        }
    );
    assert_eq!(parsed.payload(&bytes), &[2, b's', b'1']);
}

#[test]
fn partial_frames_need_more_bytes() {
    let bytes = frame(100, &[7; 30]);
    for cut in 0..bytes.len() {
        assert_eq!(peek_request(&bytes[..cut]).unwrap(), None, "cut {cut}");
    }
    assert_eq!(peek_frame_len(&bytes[..3]).unwrap(), None);
    assert_eq!(peek_frame_len(&bytes[..4]).unwrap(), Some(bytes.len()));
}

#[test]
fn only_the_first_frame_is_taken() {
    let mut bytes = frame(1, b"");
    bytes.extend(frame(10, b""));
    let first = peek_request(&bytes).unwrap().unwrap();
    assert_eq!((first.code, first.frame_len), (1, 8));
    let second = peek_request(&bytes[first.frame_len..]).unwrap().unwrap();
    assert_eq!((second.code, second.frame_len), (10, 8));
}

#[test]
fn lying_lengths_are_refused_before_buffering() {
    for length in [0u32, 1, 3] {
        let error = peek_request(&length.to_le_bytes()).unwrap_err();
        assert_eq!(error.status(), Status::InvalidFormat, "length {length}");
    }
    let too_big = (CLASSIC_FRAME_BYTES_MAX - 3) as u32;
    assert!(peek_frame_len(&too_big.to_le_bytes()).is_err());
    assert!(peek_request(&u32::MAX.to_le_bytes()).is_err());
    let largest = (CLASSIC_FRAME_BYTES_MAX - 4) as u32;
    assert_eq!(
        peek_frame_len(&largest.to_le_bytes()).unwrap(),
        Some(CLASSIC_FRAME_BYTES_MAX)
    );
}

#[test]
fn reply_prefixes() {
    let mut out = BytesMut::new();
    encode_ok_reply(&mut out, &[1, 2, 3]);
    assert_eq!(&out[..], &[0, 0, 0, 0, 3, 0, 0, 0, 1, 2, 3]);
    out.clear();
    encode_error_reply(&mut out, Status::InvalidCredentials);
    assert_eq!(&out[..], &[42, 0, 0, 0, 0, 0, 0, 0]);
    out.clear();
    encode_reply_prefix(&mut out, 0, 16);
    assert_eq!(&out[..], &[0, 0, 0, 0, 16, 0, 0, 0]);
}

#[test]
fn error_statuses() {
    assert_eq!(
        ClassicError::UnknownCommand { code: 606 }.status(),
        Status::InvalidCommand
    );
    assert_eq!(
        ClassicError::TimestampSpan { span_us: 1 << 40 }.status(),
        Status::InvalidMessageTimestampDelta
    );
    let wire = NativeWireError::Mismatch {
        field: "message_count",
        declared: 2,
        actual: 1,
    };
    assert_eq!(
        ClassicError::from(wire).status(),
        Status::InvalidMessagesCount
    );
}
