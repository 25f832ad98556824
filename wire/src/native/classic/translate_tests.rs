use super::*;
use crate::native::commands::messages::Consumer;
use crate::native::commands::permissions::Permissions;
use crate::native::commands::users::{Optional, UserStatus};
use crate::native::status::Status;

fn body(translated: Translated) -> BytesMut {
    match translated {
        Translated::Body(body) => body,
        Translated::Same => panic!("expected a rebuilt body"),
    }
}

#[test]
fn identical_codes_pass_unchanged() {
    for command in codes::COMMANDS {
        if command.request == Shape::Same {
            assert_eq!(
                request_to_current(command.code, b"anything").unwrap(),
                Translated::Same,
                "code {}",
                command.code
            );
        }
    }
}

#[test]
fn codes_outside_the_classic_protocol_are_invalid_commands() {
    for code in codes::CURRENT_ONLY
        .into_iter()
        .chain([0, 2, 60_000, u32::MAX])
    {
        let error = request_to_current(code, &[]).unwrap_err();
        assert_eq!(error, ClassicError::UnknownCommand { code });
        assert_eq!(error.status(), Status::InvalidCommand);
    }
}

#[test]
fn login_bodies_are_validated_not_rebuilt() {
    let login = [
        4, b'i', b'g', b'g', b'y', 4, b'i', b'g', b'g', b'y', 0, 0, 0, 0, 0, 0, 0, 0,
    ];
    assert_eq!(request_to_current(38, &login).unwrap(), Translated::Same);
    assert!(request_to_current(38, &login[..3]).is_err());
    assert_eq!(
        request_to_current(44, &[1, b't']).unwrap(),
        Translated::Same
    );
    assert!(request_to_current(44, &[2, b't']).is_err());
}

#[test]
fn extended_bodies_pass_when_exact() {
    assert_eq!(
        request_to_current(202, &[2, b's', b'1']).unwrap(),
        Translated::Same
    );
    assert!(request_to_current(202, &[2, b's']).is_err());
    let trailing = request_to_current(
        202,
        &[2, b's', b'1', 2, 1, 0, 0, 0, b'k', 2, 1, 0, 0, 0, b'v'],
    );
    assert!(matches!(
        trailing,
        Err(ClassicError::Wire(NativeWireError::TrailingBytes { .. }))
    ));
    let update = [1, 4, 0, 0, 0, 0, 1, b'n'];
    assert_eq!(request_to_current(204, &update).unwrap(), Translated::Same);
    let create_user = CreateUser {
        username: "alice".into(),
        password: "secret".into(),
        status: UserStatus::Active,
        permissions: Some(Permissions::default()),
        options: Options::default(),
    };
    let bytes = create_user.to_bytes();
    assert_eq!(request_to_current(33, &bytes).unwrap(), Translated::Same);
    assert!(request_to_current(33, &bytes[..bytes.len() - 1]).is_err());
    let update_user = UpdateUser {
        user_id: Identifier::Numeric(1),
        username: Optional(None),
        status: Optional(Some(UserStatus::Inactive)),
        options: Options::default(),
    };
    let bytes = update_user.to_bytes();
    assert_eq!(request_to_current(35, &bytes).unwrap(), Translated::Same);
    assert!(request_to_current(35, &[1, 4, 0, 0, 0, 0, 2]).is_err());
}

fn classic_target() -> Vec<u8> {
    GetConsumerOffset {
        consumer: Consumer::Group(Identifier::Numeric(4)),
        stream_id: Identifier::Numeric(0),
        topic_id: Identifier::name("t").unwrap(),
        partition_id: Some(2),
    }
    .to_bytes()
    .to_vec()
}

#[test]
fn offsets_gain_the_ack_byte() {
    let mut store = classic_target();
    store.extend_from_slice(&41u64.to_le_bytes());
    let current = body(request_to_current(121, &store).unwrap());
    let decoded = StoreConsumerOffset::decode_exact(&current).unwrap();
    assert_eq!(decoded.offset, 41);
    assert_eq!(decoded.ack, Ack::Quorum);
    assert_eq!(decoded.partition_id, Some(2));
    assert_eq!(&current[..store.len()], &store[..]);
    assert_eq!(current.len(), store.len() + 1);
    for cut in 0..store.len() {
        assert!(request_to_current(121, &store[..cut]).is_err(), "cut {cut}");
    }
    let mut long = store.clone();
    long.push(1);
    assert!(request_to_current(121, &long).is_err());

    let delete = classic_target();
    let current = body(request_to_current(122, &delete).unwrap());
    let decoded = DeleteConsumerOffset::decode_exact(&current).unwrap();
    assert_eq!(decoded.consumer, Consumer::Group(Identifier::Numeric(4)));
    assert_eq!(decoded.ack, Ack::Quorum);
    assert_eq!(*current.last().unwrap(), 1);
    assert!(
        request_to_current(122, &store).is_err(),
        "an offset is too much"
    );
}

/// `[stream id][partitions][compression][expiry][max_size][replication] name` as 0.10 sends it.
fn classic_create_topic(compression: u8, expiry: u64, max_size: u64) -> Vec<u8> {
    let mut out = vec![1, 4, 3, 0, 0, 0];
    out.extend_from_slice(&2u32.to_le_bytes());
    out.push(compression);
    out.extend_from_slice(&expiry.to_le_bytes());
    out.extend_from_slice(&max_size.to_le_bytes());
    out.push(0);
    out.extend_from_slice(&[6, b'o', b'r', b'd', b'e', b'r', b's']);
    out
}

fn option_u64(options: &Options, key: &str) -> u64 {
    let entry = options.get(key).unwrap();
    assert_eq!(entry.value_kind, KIND_UINT64);
    u64::from_le_bytes(entry.value.as_ref().try_into().unwrap())
}

#[test]
fn create_topic_fields_become_options() {
    let classic = classic_create_topic(2, 7_000_000, u64::MAX);
    let current = body(request_to_current(302, &classic).unwrap());
    let create = CreateTopic::decode_exact(&current).unwrap();
    assert_eq!(create.stream_id, Identifier::Numeric(3));
    assert_eq!(create.partitions_count, 2);
    assert_eq!(create.name, "orders");
    let keys: Vec<&[u8]> = create
        .options
        .entries
        .iter()
        .map(|e| e.key.as_ref())
        .collect();
    assert_eq!(
        keys,
        vec![
            &b"compression_algorithm"[..],
            b"max_topic_size",
            b"message_expiry"
        ]
    );
    assert_eq!(
        create
            .options
            .get("compression_algorithm")
            .unwrap()
            .value
            .as_ref(),
        b"gzip"
    );
    assert_eq!(option_u64(&create.options, "message_expiry"), 7_000_000);
    assert_eq!(option_u64(&create.options, "max_topic_size"), u64::MAX);

    let defaults = body(request_to_current(302, &classic_create_topic(1, 0, 0)).unwrap());
    let create = CreateTopic::decode_exact(&defaults).unwrap();
    assert_eq!(
        create
            .options
            .get("compression_algorithm")
            .unwrap()
            .value
            .as_ref(),
        b"none"
    );
    assert_eq!(option_u64(&create.options, "message_expiry"), 0);
}

#[test]
fn create_topic_bounds() {
    let classic = classic_create_topic(1, 0, 0);
    for cut in 0..classic.len() {
        assert!(
            request_to_current(302, &classic[..cut]).is_err(),
            "cut {cut}"
        );
    }
    let mut trailing = classic.clone();
    trailing.push(0);
    assert!(request_to_current(302, &trailing).is_err());
    for compression in [0, 3, 255] {
        let error = request_to_current(302, &classic_create_topic(compression, 0, 0)).unwrap_err();
        assert_eq!(error.status(), Status::InvalidFormat);
    }
}

#[test]
fn update_topic_fields_become_options() {
    let mut classic = vec![1, 4, 0, 0, 0, 0, 2, 1, b't'];
    classic.push(1);
    classic.extend_from_slice(&0u64.to_le_bytes());
    classic.extend_from_slice(&1024u64.to_le_bytes());
    classic.push(3);
    classic.extend_from_slice(&[2, b't', b'2']);
    let current = body(request_to_current(304, &classic).unwrap());
    let update = UpdateTopic::decode_exact(&current).unwrap();
    assert_eq!(update.topic_id, Identifier::name("t").unwrap());
    assert_eq!(update.name, "t2");
    assert_eq!(option_u64(&update.options, "max_topic_size"), 1024);
    assert_eq!(option_u64(&update.options, "message_expiry"), 0, "0 resets");
    for cut in 0..classic.len() {
        assert!(
            request_to_current(304, &classic[..cut]).is_err(),
            "cut {cut}"
        );
    }
}

#[test]
fn send_uses_the_id_source() {
    let body_bytes = super::messages::tests::classic_send(
        &crate::native::commands::messages::SendMetadata {
            stream_id: Identifier::Numeric(0),
            topic_id: Identifier::Numeric(0),
            partitioning: crate::native::commands::messages::Partitioning::Balanced,
            message_count: 1,
        },
        &[super::messages::tests::Produced::new(0, 5, b"p", b"")],
    );
    let mut calls = 0;
    let current = request_to_current_with(101, &body_bytes, &mut || {
        calls += 1;
        42
    })
    .unwrap();
    assert_eq!(calls, 1);
    let current = body(current);
    let send = crate::native::commands::messages::SendMessages::parse(&current).unwrap();
    send.validate().unwrap();
    let derived = body(request_to_current(101, &body_bytes).unwrap());
    assert_ne!(derived, current, "derived ids differ from the supplied one");
}
