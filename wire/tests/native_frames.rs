//! End-to-end use of the native codec the way a listener will drive it: bytes of a whole frame
//! in, header and body decoded by operation, a reply frame out. Uses the login body captured
//! from the real SDK (§2.6).
#![allow(clippy::unwrap_used)]

use bytes::{BufMut, BytesMut};
use whippet_wire::native::codec::{WireDecode, WireEncode};
use whippet_wire::native::codes;
use whippet_wire::native::commands::streams::{CreateStream, StreamDetails, StreamHeader};
use whippet_wire::native::commands::system::{
    LoginReply, PROTOCOL_VERSION_0_11_0, Register, client_version_accepted,
};
use whippet_wire::native::eviction::{Eviction, EvictionReason, ProtocolWindow};
use whippet_wire::native::header::{
    Operation, ReplyHeader, RequestHeader, body_checksum, peek_frame_size, verify_request_checksum,
};
use whippet_wire::native::result::ResultSection;
use whippet_wire::native::status::Status;
use whippet_wire::native::user_headers::Options;

/// Login body captured from the real SDK for iggy/iggy (§2.6).
const LOGIN_BODY: [u8; 34] = [
    0x00, 0x2c, 0x00, 0x00, 0x08, b'r', b'u', b's', b't', b'-', b's', b'd', b'k', 0x06, b'0', b'.',
    b'1', b'1', b'.', b'0', 0x04, b'i', b'g', b'g', b'y', 0x04, b'i', b'g', b'g', b'y', 0, 0, 0, 0,
];

fn login_body() -> &'static [u8] {
    &LOGIN_BODY
}

fn request(operation: Operation, session: u64, request: u64, body: &[u8]) -> BytesMut {
    let header = RequestHeader {
        checksum: 0,
        checksum_body: 0,
        cluster: 0,
        size: (256 + body.len()) as u32,
        view: 0,
        release: 0,
        replica: 0,
        client: 0xfeed,
        request_checksum: u128::from(body_checksum(body)),
        timestamp: 0,
        request,
        operation,
        session,
        user_id: 0,
        legacy_code: 0,
    };
    let mut frame = BytesMut::new();
    header.encode(&mut frame);
    frame.put_slice(body);
    frame
}

#[test]
fn login_frame_to_reply_frame() {
    let frame = request(Operation::Register, 0, 0, login_body());
    let size = peek_frame_size(&frame).unwrap().unwrap();
    assert_eq!(size, frame.len());
    let (header, used) = RequestHeader::decode(&frame).unwrap();
    let body = &frame[used..size];
    verify_request_checksum(&header, body).unwrap();
    assert_eq!(header.command_code(), None);
    let login = Register::decode_exact(body).unwrap();
    assert!(client_version_accepted(
        login.prefix().protocol_version,
        PROTOCOL_VERSION_0_11_0
    ));

    let mut reply_body = BytesMut::new();
    ResultSection::ok().encode(&mut reply_body);
    LoginReply {
        user_id: 0,
        session: 1,
        server_protocol_version: PROTOCOL_VERSION_0_11_0,
        server_version: "whippet".into(),
    }
    .encode(&mut reply_body);
    let reply = ReplyHeader::for_request(&header, reply_body.len(), Status::Ok.code(), 0);
    let mut reply_frame = reply.to_bytes().to_vec();
    reply_frame.extend_from_slice(&reply_body);

    let (decoded, _) = ReplyHeader::decode(&reply_frame).unwrap();
    assert_eq!(decoded.size as usize, reply_frame.len());
    assert_eq!(decoded.operation, 1);
    assert!(
        Operation::from_byte(decoded.operation)
            .unwrap()
            .is_result_framed()
    );
    let (section, used) = ResultSection::decode(&reply_frame[256..]).unwrap();
    assert!(section.is_ok());
    let login_reply = LoginReply::decode_exact(&reply_frame[256 + used..]).unwrap();
    assert_eq!(login_reply.session, 1);
}

#[test]
fn tampered_body_fails_the_request_checksum() {
    let mut frame = request(Operation::Register, 0, 0, login_body());
    let last = frame.len() - 5;
    frame[last] ^= 1;
    let (header, used) = RequestHeader::decode(&frame).unwrap();
    let error = verify_request_checksum(&header, &frame[used..]).unwrap_err();
    assert_eq!(error.status(), Status::InvalidFormat);
}

#[test]
fn replicated_create_stream_is_mapped_and_answered() {
    let body = CreateStream {
        name: "orders".into(),
        options: Options::default(),
    }
    .to_bytes();
    let frame = request(Operation::Replicated(128), 9, 1, &body);
    let (header, used) = RequestHeader::decode(&frame).unwrap();
    assert_eq!(header.command_code(), Some(codes::CREATE_STREAM));
    let create = CreateStream::decode_exact(&frame[used..]).unwrap();
    assert_eq!(create.name, "orders");

    let mut ok = BytesMut::new();
    ResultSection::ok().encode(&mut ok);
    StreamDetails {
        stream: StreamHeader {
            id: 0,
            created_at: 1,
            topics_count: 0,
            size_bytes: 0,
            messages_count: 0,
            name: create.name,
            options: Options::default(),
        },
        topics: vec![],
    }
    .encode(&mut ok);
    let (section, used) = ResultSection::decode(&ok).unwrap();
    assert!(section.is_ok());
    assert_eq!(
        StreamDetails::decode_exact(&ok[used..]).unwrap().stream.id,
        0
    );

    let rejected = ResultSection::rejected(Status::StreamNameAlreadyExists).to_bytes();
    assert_eq!(
        ResultSection::decode_exact(&rejected).unwrap().entries[0].result,
        1012
    );
}

#[test]
fn old_client_gets_an_incompatible_protocol_eviction() {
    let mut body = login_body().to_vec();
    body[..4].copy_from_slice(&(10u32 << 10).to_le_bytes());
    let login = Register::decode_exact(&body).unwrap();
    assert!(!client_version_accepted(
        login.prefix().protocol_version,
        PROTOCOL_VERSION_0_11_0
    ));
    let eviction = Eviction {
        client: 0xfeed,
        reason: EvictionReason::IncompatibleProtocol,
        window: Some(ProtocolWindow {
            max: PROTOCOL_VERSION_0_11_0,
            min: PROTOCOL_VERSION_0_11_0,
        }),
    };
    let bytes = eviction.to_bytes();
    assert_eq!(bytes.len(), 256);
    assert_eq!(Eviction::decode_exact(&bytes).unwrap(), eviction);
    assert_eq!(Register::peek_protocol_version(&body).unwrap(), 10 << 10);
}
