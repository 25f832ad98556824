use super::*;
use crate::native::codec::testing::roundtrip_strict;
use crate::native::codes;

fn ping_header() -> RequestHeader {
    RequestHeader {
        checksum: 0,
        checksum_body: 0,
        cluster: 0,
        size: 256,
        view: 0,
        release: 0,
        replica: 0,
        client: 0x0102_0304_0506_0708_090a_0b0c_0d0e_0f10,
        request_checksum: 0,
        timestamp: 0,
        request: 1,
        operation: Operation::NonReplicated,
        session: 0,
        user_id: 0,
        legacy_code: codes::PING,
    }
}

#[test]
fn request_header_layout_matches_the_spec_offsets() {
    let bytes = roundtrip_strict(&ping_header());
    assert_eq!(bytes.len(), 256);
    assert_eq!(&bytes[48..52], &256u32.to_le_bytes());
    assert_eq!(bytes[60], COMMAND_REQUEST);
    assert_eq!(&bytes[128..144], &ping_header().client.to_le_bytes());
    assert_eq!(&bytes[168..176], &1u64.to_le_bytes());
    assert_eq!(bytes[176], 2);
    assert_eq!(&bytes[196..200], &1u32.to_le_bytes());
    assert!(bytes[200..].iter().all(|byte| *byte == 0));
}

#[test]
fn request_header_rules_are_enforced() {
    let mut bytes = ping_header().to_bytes().to_vec();
    bytes[60] = 8;
    assert!(matches!(
        RequestHeader::decode(&bytes),
        Err(NativeWireError::InvalidValue {
            field: "command",
            value: 8
        })
    ));

    let zero_client = RequestHeader {
        client: 0,
        ..ping_header()
    };
    assert!(matches!(
        RequestHeader::decode(&zero_client.to_bytes()),
        Err(NativeWireError::InvalidValue {
            field: "client",
            ..
        })
    ));

    let small = RequestHeader {
        size: 255,
        ..ping_header()
    };
    assert!(matches!(
        RequestHeader::decode(&small.to_bytes()),
        Err(NativeWireError::OutOfRange { field: "size", .. })
    ));
    let huge = RequestHeader {
        size: u32::MAX,
        ..ping_header()
    };
    assert!(RequestHeader::decode(&huge.to_bytes()).is_err());

    let mut no_operation = ping_header().to_bytes().to_vec();
    no_operation[176] = 0;
    assert!(RequestHeader::decode(&no_operation).is_err());
    no_operation[176] = 64;
    assert!(RequestHeader::decode(&no_operation).is_err());
}

#[test]
fn session_rules_follow_the_operation() {
    let register_with_session = RequestHeader {
        operation: Operation::Register,
        session: 5,
        request: 0,
        ..ping_header()
    };
    assert!(RequestHeader::decode(&register_with_session.to_bytes()).is_err());
    let register = RequestHeader {
        session: 0,
        ..register_with_session
    };
    assert!(RequestHeader::decode(&register.to_bytes()).is_ok());
    assert_eq!(register.command_code(), None);

    let replicated_without_session = RequestHeader {
        operation: Operation::Replicated(128),
        session: 0,
        ..ping_header()
    };
    assert!(RequestHeader::decode(&replicated_without_session.to_bytes()).is_err());
    let replicated = RequestHeader {
        session: 9,
        ..replicated_without_session
    };
    let (decoded, _) = RequestHeader::decode(&replicated.to_bytes()).unwrap();
    assert_eq!(decoded.command_code(), Some(codes::CREATE_STREAM));
    let logout = RequestHeader {
        operation: Operation::Logout,
        ..replicated
    };
    assert_eq!(logout.command_code(), Some(codes::LOGOUT_USER));
}

#[test]
fn frame_size_is_peeked_and_bounded() {
    let header = RequestHeader {
        size: 300,
        ..ping_header()
    }
    .to_bytes();
    assert_eq!(peek_frame_size(&header[..51]).unwrap(), None);
    assert_eq!(peek_frame_size(&header[..52]).unwrap(), Some(300));
    let mut bad = header.to_vec();
    bad[48..52].copy_from_slice(&10u32.to_le_bytes());
    assert!(peek_frame_size(&bad).is_err());
}

#[test]
fn request_checksum_zero_is_unstamped_and_non_zero_must_match() {
    let body = b"\x08hello-ok";
    let mut header = ping_header();
    assert!(verify_request_checksum(&header, body).is_ok());
    header.request_checksum = u128::from(body_checksum(body));
    assert!(verify_request_checksum(&header, body).is_ok());
    assert!(verify_request_checksum(&header, b"other").is_err());
    header.request_checksum |= 1 << 100;
    assert!(verify_request_checksum(&header, body).is_err());
}

#[test]
fn reply_header_echoes_the_request() {
    let request = RequestHeader {
        operation: Operation::Replicated(132),
        session: 77,
        request: 3,
        timestamp: 11,
        ..ping_header()
    };
    let reply = ReplyHeader::for_request(&request, 10, 0, 4);
    let bytes = roundtrip_strict(&reply);
    assert_eq!(&bytes[48..52], &266u32.to_le_bytes());
    assert_eq!(bytes[60], COMMAND_REPLY);
    assert_eq!(&bytes[160..176], &request.client.to_le_bytes());
    assert_eq!(&bytes[176..184], &77u64.to_le_bytes());
    assert_eq!(&bytes[184..192], &4u64.to_le_bytes());
    assert_eq!(&bytes[200..208], &3u64.to_le_bytes());
    assert_eq!(bytes[208], 132);
    assert_eq!(&bytes[216..220], &0u32.to_le_bytes());
}

#[test]
fn result_framing_follows_section_2_3() {
    assert!(Operation::Register.is_result_framed());
    assert!(Operation::Replicated(128).is_result_framed());
    assert!(Operation::Replicated(149).is_result_framed());
    assert!(!Operation::Replicated(138).is_result_framed());
    assert!(!Operation::Replicated(160).is_result_framed());
    assert!(Operation::Replicated(161).is_result_framed());
    assert!(Operation::Replicated(162).is_result_framed());
    assert!(!Operation::NonReplicated.is_result_framed());
    assert!(!Operation::Logout.is_result_framed());
}
