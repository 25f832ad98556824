use super::*;
use crate::native::codec::testing::roundtrip_strict;

/// Login body captured from `apache-iggy` 0.9.0 logging in as iggy/iggy (§2.6).
const LOGIN_CAPTURE: &str =
    "002c0000 08 727573742d73646b 06 302e31312e30 04 69676779 04 69676779 00000000";

fn hex(text: &str) -> Vec<u8> {
    let digits: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    (0..digits.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&digits[i..i + 2], 16).unwrap())
        .collect()
}

fn prefix() -> LoginPrefix {
    LoginPrefix {
        protocol_version: PROTOCOL_VERSION_0_11_0,
        sdk_name: "rust-sdk".into(),
        sdk_version: "0.11.0".into(),
    }
}

#[test]
fn login_capture_decodes_and_reencodes_exactly() {
    let bytes = hex(LOGIN_CAPTURE);
    let login = Register::decode_exact(&bytes).unwrap();
    let expected = Register::Credentials {
        prefix: prefix(),
        username: "iggy".into(),
        password: "iggy".into(),
        context: Bytes::new(),
    };
    assert_eq!(login, expected);
    assert_eq!(roundtrip_strict(&expected), bytes);
    assert_eq!(PROTOCOL_VERSION_0_11_0, 0x2C00);
}

#[test]
fn token_login_is_recognised_by_shape() {
    let token = Register::Token {
        prefix: prefix(),
        token: "a".repeat(50),
        context: Bytes::new(),
    };
    let bytes = roundtrip_strict(&token);
    assert_eq!(Register::decode_exact(&bytes).unwrap(), token);
}

#[test]
fn bad_logins_are_rejected() {
    let mut short_password = hex(LOGIN_CAPTURE);
    short_password.truncate(short_password.len() - 4);
    assert!(Register::decode_exact(&short_password).is_err());
    assert!(Register::peek_protocol_version(&[1, 2]).is_err());
    assert_eq!(
        Register::peek_protocol_version(&hex(LOGIN_CAPTURE)).unwrap(),
        0x2C00
    );
    let too_short_user = Register::Credentials {
        prefix: prefix(),
        username: "ab".into(),
        password: "secret".into(),
        context: Bytes::new(),
    };
    assert!(Register::decode_exact(&too_short_user.to_bytes()).is_err());
}

#[test]
fn version_gate() {
    let server = PROTOCOL_VERSION_0_11_0;
    assert!(client_version_accepted(pack_version(0, 11, 0), server));
    assert!(client_version_accepted(pack_version(0, 11, 3), server));
    assert!(!client_version_accepted(pack_version(0, 10, 9), server));
    assert!(!client_version_accepted(pack_version(0, 12, 2), server));
    assert_eq!(unpack_version(pack_version(1, 2, 3)), (1, 2, 3));
}

#[test]
fn login_reply_layout() {
    let reply = LoginReply {
        user_id: 0,
        session: 5,
        server_protocol_version: PROTOCOL_VERSION_0_11_0,
        server_version: "0.1".into(),
    };
    let bytes = roundtrip_strict(&reply);
    assert_eq!(hex("00000000 0500000000000000 002c0000 03 302e31"), bytes);
    let zero_session = LoginReply {
        session: 0,
        ..reply
    };
    assert!(LoginReply::decode(&zero_session.to_bytes()).is_err());
}

#[test]
fn empty_and_get_client_bodies() {
    assert!(EmptyBody::decode_exact(&[]).is_ok());
    assert!(EmptyBody::decode_exact(&[0]).is_err());
    assert_eq!(
        roundtrip_strict(&GetClient { client_id: 3 }),
        vec![3, 0, 0, 0]
    );
}

#[test]
fn client_details_layout() {
    let details = ClientDetails {
        header: ClientHeader {
            client_id: 1,
            user_id: u32::MAX,
            transport: TRANSPORT_TCP,
            address: "1.2.3.4:5".into(),
            groups_count: 1,
        },
        groups: vec![ClientGroup {
            stream_id: 0,
            topic_id: 1,
            group_id: 2,
        }],
    };
    let bytes = roundtrip_strict(&details);
    assert_eq!(&bytes[..9], &[1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 1]);
    assert_eq!(&bytes[9..13], &9u32.to_le_bytes());
    assert_eq!(&bytes[22..26], &1u32.to_le_bytes());
    let list = ClientList {
        clients: vec![details.header.clone(), details.header],
    };
    let bytes = list.to_bytes();
    assert_eq!(bytes.len(), list.encoded_size());
    assert_eq!(ClientList::decode_exact(&bytes).unwrap(), list);
    assert!(ClientList::decode_exact(&bytes[..bytes.len() - 1]).is_err());
}
