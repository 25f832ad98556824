use super::*;
use crate::native::classic::ClassicError;
use crate::native::error::NativeWireError;

/// The body the 0.10 SDK sends: name, password, its version, an empty context.
fn sdk_body(user: &str, password: &str) -> Vec<u8> {
    let mut out = vec![user.len() as u8];
    out.extend_from_slice(user.as_bytes());
    out.push(password.len() as u8);
    out.extend_from_slice(password.as_bytes());
    out.extend_from_slice(&6u32.to_le_bytes());
    out.extend_from_slice(b"0.10.0");
    out.extend_from_slice(&0u32.to_le_bytes());
    out
}

#[test]
fn decodes_what_the_sdk_sends() {
    let body = sdk_body("iggy", "secret");
    let login = ClassicLogin::decode(&body).unwrap();
    assert_eq!(
        login,
        ClassicLogin {
            username: "iggy".into(),
            password: "secret".into(),
            version: Some("0.10.0".into()),
            context: None,
        }
    );
    let mut encoded = BytesMut::new();
    login.encode(&mut encoded);
    assert_eq!(&encoded[..], &body[..]);
    login.check_lengths().unwrap();
}

#[test]
fn optional_tail_may_be_absent_or_empty() {
    let bare = [4, b'i', b'g', b'g', b'y', 4, b'i', b'g', b'g', b'y'];
    let login = ClassicLogin::decode(&bare).unwrap();
    assert_eq!((login.version, login.context), (None, None));
    let mut zeros = bare.to_vec();
    zeros.extend_from_slice(&[0; 8]);
    let login = ClassicLogin::decode(&zeros).unwrap();
    assert_eq!((login.version, login.context), (None, None));
    let mut with_context = zeros.clone();
    with_context.truncate(bare.len() + 4);
    with_context.extend_from_slice(&2u32.to_le_bytes());
    with_context.extend_from_slice(b"cx");
    assert_eq!(
        ClassicLogin::decode(&with_context)
            .unwrap()
            .context
            .as_deref(),
        Some("cx")
    );
}

#[test]
fn lies_and_leftovers_fail() {
    let body = sdk_body("iggy", "iggy");
    for cut in 0..body.len() {
        // Cutting exactly after the password or after the version leaves a valid body with
        // the optional tail missing; every other cut must fail.
        let tail_boundary = cut == 10 || cut == 20;
        assert_eq!(
            ClassicLogin::decode(&body[..cut]).is_ok(),
            tail_boundary,
            "cut {cut}"
        );
    }
    let mut trailing = body.clone();
    trailing.push(0);
    assert!(matches!(
        ClassicLogin::decode(&trailing),
        Err(ClassicError::Wire(NativeWireError::TrailingBytes { .. }))
    ));
    let mut huge_version = body[..10].to_vec();
    huge_version.extend_from_slice(&u32::MAX.to_le_bytes());
    assert!(matches!(
        ClassicLogin::decode(&huge_version),
        Err(ClassicError::Wire(NativeWireError::OutOfRange { .. }))
    ));
    assert!(ClassicLogin::decode(&[0, 0]).is_err(), "empty username");
    assert!(ClassicLogin::decode(&[1, 0xff, 0]).is_err(), "bad utf-8");
}

#[test]
fn length_rule_of_the_server() {
    let short = ClassicLogin::decode(&sdk_body("ab", "secret")).unwrap();
    assert_eq!(short.check_lengths(), Err(Status::InvalidUsername));
    let long_name = ClassicLogin::decode(&sdk_body(&"u".repeat(51), "secret")).unwrap();
    assert_eq!(long_name.check_lengths(), Err(Status::InvalidUsername));
    let short_password = ClassicLogin::decode(&sdk_body("iggy", "pw")).unwrap();
    assert_eq!(short_password.check_lengths(), Err(Status::InvalidPassword));
    let long_password = ClassicLogin::decode(&sdk_body("iggy", &"p".repeat(101))).unwrap();
    assert_eq!(long_password.check_lengths(), Err(Status::InvalidPassword));
}

#[test]
fn token_login_and_reply() {
    assert_eq!(decode_token_login(&[3, b'a', b'b', b'c']).unwrap(), "abc");
    assert!(decode_token_login(&[3, b'a', b'b']).is_err());
    assert!(decode_token_login(&[0]).is_err());
    assert!(decode_token_login(&[1, b'a', 0]).is_err());
    assert!(decode_token_login(&[]).is_err());
    let mut out = BytesMut::new();
    encode_login_reply(&mut out, 7);
    assert_eq!(&out[..], &[7, 0, 0, 0]);
    assert_eq!(decode_login_reply(&out).unwrap(), 7);
    assert!(decode_login_reply(&out[..3]).is_err());
}

#[test]
fn validate_dispatches_by_code() {
    validate(38, &sdk_body("iggy", "iggy")).unwrap();
    validate(44, &[1, b't']).unwrap();
    assert!(validate(44, &sdk_body("iggy", "iggy")).is_err());
}
