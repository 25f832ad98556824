use super::*;
use crate::native::codec::{Reader, WireEncode};
use crate::native::commands::permissions::{GlobalPermissions, Permissions};
use crate::native::commands::topics::PartitionDetails;
use crate::native::status::Status;
use crate::native::user_headers::{HeaderEntry, Options};

fn options() -> Options {
    Options {
        entries: vec![HeaderEntry::string("durability", "replicated")],
    }
}

fn stream(id: u32) -> StreamHeader {
    StreamHeader {
        id,
        created_at: 11,
        topics_count: 0,
        size_bytes: 12,
        messages_count: 13,
        name: format!("s{id}"),
        options: options(),
    }
}

fn topic(id: u32) -> TopicHeader {
    TopicHeader {
        id,
        created_at: 21,
        partitions_count: 0,
        message_expiry: u64::MAX,
        compression: 2,
        max_topic_size: 5_000,
        size_bytes: 22,
        messages_count: 23,
        name: format!("t{id}"),
        explicit_options: options(),
        derived_options: options(),
    }
}

fn partition(id: u32) -> PartitionDetails {
    PartitionDetails {
        id,
        created_at: 31,
        segments_count: 1,
        current_offset: 32,
        size_bytes: 33,
        messages_count: 34,
    }
}

/// Classic StreamHeader bytes, written field by field from the 0.10 layout.
fn classic_stream(id: u32, topics: u32) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&id.to_le_bytes());
    out.extend_from_slice(&11u64.to_le_bytes());
    out.extend_from_slice(&topics.to_le_bytes());
    out.extend_from_slice(&12u64.to_le_bytes());
    out.extend_from_slice(&13u64.to_le_bytes());
    let name = format!("s{id}");
    out.push(name.len() as u8);
    out.extend_from_slice(name.as_bytes());
    out
}

/// Classic TopicHeader bytes (51 fixed bytes with the name length).
fn classic_topic(id: u32, partitions: u32) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&id.to_le_bytes());
    out.extend_from_slice(&21u64.to_le_bytes());
    out.extend_from_slice(&partitions.to_le_bytes());
    out.extend_from_slice(&u64::MAX.to_le_bytes());
    out.push(2);
    out.extend_from_slice(&5_000u64.to_le_bytes());
    out.push(REPLICATION_FACTOR);
    out.extend_from_slice(&22u64.to_le_bytes());
    out.extend_from_slice(&23u64.to_le_bytes());
    let name = format!("t{id}");
    out.push(name.len() as u8);
    out.extend_from_slice(name.as_bytes());
    out
}

fn translate(code: u32, value: &impl WireEncode) -> Vec<u8> {
    reply_to_classic(code, &value.to_bytes())
        .unwrap()
        .unwrap()
        .to_vec()
}

#[test]
fn stream_replies() {
    let details = StreamDetails {
        stream: stream(1),
        topics: vec![topic(0), topic(1)],
    };
    let mut expected = classic_stream(1, 2);
    expected.extend(classic_topic(0, 0));
    expected.extend(classic_topic(1, 0));
    assert_eq!(translate(200, &details), expected);
    assert_eq!(translate(202, &details), expected);
    let list = StreamList {
        streams: vec![stream(0), stream(1)],
    };
    let mut expected = classic_stream(0, 0);
    expected.extend(classic_stream(1, 0));
    assert_eq!(translate(201, &list), expected);
}

#[test]
fn topic_replies() {
    let details = TopicDetails {
        topic: topic(4),
        partitions: vec![partition(0), partition(1)],
    };
    let mut expected = classic_topic(4, 2);
    expected.extend(partition(0).to_bytes());
    expected.extend(partition(1).to_bytes());
    assert_eq!(expected.len(), 51 + 2 + 80);
    assert_eq!(translate(300, &details), expected);
    assert_eq!(translate(302, &details), expected);
    let list = TopicList {
        topics: vec![topic(0), topic(1)],
    };
    let mut expected = classic_topic(0, 0);
    expected.extend(classic_topic(1, 0));
    assert_eq!(
        translate(301, &list),
        expected,
        "no count prefix in classic"
    );
}

fn user(id: u32, status: UserStatus) -> UserHeader {
    UserHeader {
        id,
        created_at: 41,
        status,
        username: format!("user{id}"),
        options: options(),
    }
}

fn classic_user(id: u32, status: u8) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&id.to_le_bytes());
    out.extend_from_slice(&41u64.to_le_bytes());
    out.push(status);
    let name = format!("user{id}");
    out.push(name.len() as u8);
    out.extend_from_slice(name.as_bytes());
    out
}

#[test]
fn user_replies() {
    let permissions = Permissions {
        global: GlobalPermissions {
            read_streams: true,
            ..GlobalPermissions::default()
        },
        streams: vec![],
    };
    let with = UserDetails {
        user: user(3, UserStatus::Active),
        permissions: Some(permissions.clone()),
    };
    let mut expected = classic_user(3, 1);
    expected.push(1);
    expected.extend_from_slice(&(permissions.encoded_size() as u32).to_le_bytes());
    expected.extend(permissions.to_bytes());
    assert_eq!(translate(31, &with), expected);
    assert_eq!(translate(33, &with), expected);
    let without = UserDetails {
        user: user(0, UserStatus::Inactive),
        permissions: None,
    };
    let mut expected = classic_user(0, 2);
    expected.extend_from_slice(&[0; 4]);
    assert_eq!(translate(31, &without), expected);
    let list = UserList {
        users: vec![user(0, UserStatus::Active), user(1, UserStatus::Inactive)],
    };
    let mut expected = classic_user(0, 1);
    expected.extend(classic_user(1, 2));
    assert_eq!(translate(32, &list), expected);
}

#[test]
fn classic_stream_header_decodes_like_the_sdk() {
    let details = StreamDetails {
        stream: stream(9),
        topics: vec![topic(2)],
    };
    let bytes = translate(200, &details);
    let mut reader = Reader::new(&bytes);
    assert_eq!(reader.u32("id").unwrap(), 9);
    reader.take("fixed", 8).unwrap();
    assert_eq!(reader.u32("topics").unwrap(), 1);
    reader.take("fixed", 16).unwrap();
    assert_eq!(reader.string_u8("name", 1, 255).unwrap(), "s9");
    assert_eq!(
        reader.remaining(),
        51 + 2,
        "one classic topic header follows"
    );
}

#[test]
fn empty_and_identical_replies() {
    for code in [200, 201, 202, 300, 301, 302, 31, 32, 33] {
        assert_eq!(reply_to_classic(code, &[]).unwrap(), None, "code {code}");
    }
    for code in [
        1, 10, 12, 20, 21, 22, 38, 41, 42, 44, 120, 600, 601, 602, 604,
    ] {
        assert_eq!(
            reply_to_classic(code, &[1, 2, 3]).unwrap(),
            None,
            "code {code}"
        );
    }
    let send_ack = [
        1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ];
    assert_eq!(&reply_to_classic(101, &send_ack).unwrap().unwrap()[..], b"");
    assert_eq!(&reply_to_classic(101, &[]).unwrap().unwrap()[..], b"");
    assert_eq!(
        &reply_to_classic(100, &[]).unwrap().unwrap()[..],
        &[0; 16][..]
    );
}

#[test]
fn unknown_codes_and_broken_replies_fail() {
    for code in [13, 40, 606, 60_000] {
        let error = reply_to_classic(code, &[]).unwrap_err();
        assert_eq!(error.status(), Status::InvalidCommand);
    }
    let details = TopicDetails {
        topic: topic(4),
        partitions: vec![partition(0)],
    };
    let bytes = details.to_bytes();
    for cut in 1..bytes.len() {
        assert!(reply_to_classic(300, &bytes[..cut]).is_err(), "cut {cut}");
    }
    let mut trailing = bytes.to_vec();
    trailing.push(0);
    assert!(reply_to_classic(300, &trailing).is_err());
    let list = StreamList {
        streams: vec![stream(0)],
    }
    .to_bytes();
    for cut in 1..list.len() {
        assert!(reply_to_classic(201, &list[..cut]).is_err(), "cut {cut}");
    }
}
