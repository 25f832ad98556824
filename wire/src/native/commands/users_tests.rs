use super::*;
use crate::native::codec::testing::{roundtrip_open_ended, roundtrip_strict};
use crate::native::commands::permissions::GlobalPermissions;
use crate::native::user_headers::HeaderEntry;

fn admin() -> Permissions {
    Permissions {
        global: GlobalPermissions {
            manage_users: true,
            ..GlobalPermissions::default()
        },
        streams: vec![],
    }
}

fn header() -> UserHeader {
    UserHeader {
        id: 0,
        created_at: 5,
        status: UserStatus::Active,
        username: "iggy".into(),
        options: Options::default(),
    }
}

#[test]
fn create_user_layout() {
    let create = CreateUser {
        username: "bob".into(),
        password: "secret".into(),
        status: UserStatus::Inactive,
        permissions: Some(admin()),
        options: Options::default(),
    };
    let bytes = roundtrip_strict(&create);
    assert_eq!(&bytes[..4], &[3, b'b', b'o', b'b']);
    assert_eq!(bytes[11], 2, "status inactive");
    assert_eq!(bytes[12], 1, "has permissions");
    assert_eq!(&bytes[13..17], &11u32.to_le_bytes());
    let bare = CreateUser {
        permissions: None,
        options: Options {
            entries: vec![HeaderEntry::string("k", "v")],
        },
        ..create
    };
    let bytes = roundtrip_open_ended(&bare);
    assert_eq!(bytes[12], 0);
    let mut bad_status = bytes.clone();
    bad_status[11] = 3;
    assert!(CreateUser::decode_exact(&bad_status).is_err());
}

#[test]
fn update_commands_round_trip() {
    let update = UpdateUser {
        user_id: Identifier::Numeric(1),
        username: Optional(Some("new".into())),
        status: Optional(None),
        options: Options::default(),
    };
    let bytes = roundtrip_strict(&update);
    assert_eq!(&bytes[6..], &[1, 3, b'n', b'e', b'w', 0]);
    roundtrip_strict(&UpdatePermissions {
        user_id: Identifier::name("bob").unwrap(),
        permissions: Some(admin()),
    });
    let cleared = roundtrip_strict(&UpdatePermissions {
        user_id: Identifier::Numeric(1),
        permissions: None,
    });
    assert_eq!(cleared[6], 0);
    let change = roundtrip_strict(&ChangePassword {
        user_id: Identifier::Numeric(1),
        current_password: "old".into(),
        new_password: "newer".into(),
    });
    assert_eq!(
        &change[6..],
        &[3, b'o', b'l', b'd', 5, b'n', b'e', b'w', b'e', b'r']
    );
    roundtrip_strict(&UserRef {
        user_id: Identifier::Numeric(0),
    });
}

#[test]
fn user_details_with_and_without_permissions() {
    let without = UserDetails {
        user: header(),
        permissions: None,
    };
    let bytes = roundtrip_strict(&without);
    assert_eq!(&bytes[bytes.len() - 4..], &[0, 0, 0, 0]);
    assert_eq!(&bytes[13..18], &[4, b'i', b'g', b'g', b'y']);
    let with = UserDetails {
        user: header(),
        permissions: Some(admin()),
    };
    let bytes = roundtrip_strict(&with);
    assert_eq!(bytes[22], 1);
    let list = UserList {
        users: vec![header(), UserHeader { id: 1, ..header() }],
    };
    let encoded = list.to_bytes();
    assert_eq!(UserList::decode_exact(&encoded).unwrap(), list);
    assert!(UserList::decode_exact(&encoded[..encoded.len() - 1]).is_err());
}
