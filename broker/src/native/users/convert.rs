//! Wire structs ↔ the core's user types: permissions blocks field by field, and user
//! identifiers.

use whippet_wire::native::commands::permissions as wire;
use whippet_wire::native::identifier::Identifier;

use crate::core::users::UserRef;
use crate::core::users::permissions as core;

/// A wire permissions block as the core's.
pub(super) fn permissions_from_wire(perms: &wire::Permissions) -> core::Permissions {
    let g = &perms.global;
    core::Permissions {
        global: core::GlobalPermissions {
            manage_servers: g.manage_servers,
            read_servers: g.read_servers,
            manage_users: g.manage_users,
            read_users: g.read_users,
            manage_streams: g.manage_streams,
            read_streams: g.read_streams,
            manage_topics: g.manage_topics,
            read_topics: g.read_topics,
            poll_messages: g.poll_messages,
            send_messages: g.send_messages,
        },
        streams: perms
            .streams
            .iter()
            .map(|s| core::StreamPermissions {
                stream_id: s.stream_id,
                manage_stream: s.manage_stream,
                read_stream: s.read_stream,
                manage_topics: s.manage_topics,
                read_topics: s.read_topics,
                poll_messages: s.poll_messages,
                send_messages: s.send_messages,
                topics: s
                    .topics
                    .iter()
                    .map(|t| core::TopicPermissions {
                        topic_id: t.topic_id,
                        manage_topic: t.manage_topic,
                        read_topic: t.read_topic,
                        poll_messages: t.poll_messages,
                        send_messages: t.send_messages,
                    })
                    .collect(),
            })
            .collect(),
    }
}

/// The core's permissions as a wire block.
pub(super) fn permissions_to_wire(perms: &core::Permissions) -> wire::Permissions {
    let g = &perms.global;
    wire::Permissions {
        global: wire::GlobalPermissions {
            manage_servers: g.manage_servers,
            read_servers: g.read_servers,
            manage_users: g.manage_users,
            read_users: g.read_users,
            manage_streams: g.manage_streams,
            read_streams: g.read_streams,
            manage_topics: g.manage_topics,
            read_topics: g.read_topics,
            poll_messages: g.poll_messages,
            send_messages: g.send_messages,
        },
        streams: perms
            .streams
            .iter()
            .map(|s| wire::StreamPermissions {
                stream_id: s.stream_id,
                manage_stream: s.manage_stream,
                read_stream: s.read_stream,
                manage_topics: s.manage_topics,
                read_topics: s.read_topics,
                poll_messages: s.poll_messages,
                send_messages: s.send_messages,
                topics: s
                    .topics
                    .iter()
                    .map(|t| wire::TopicPermissions {
                        topic_id: t.topic_id,
                        manage_topic: t.manage_topic,
                        read_topic: t.read_topic,
                        poll_messages: t.poll_messages,
                        send_messages: t.send_messages,
                    })
                    .collect(),
            })
            .collect(),
    }
}

/// A wire user identifier as the core's.
pub(super) fn user_ref(identifier: &Identifier) -> UserRef {
    match identifier {
        Identifier::Numeric(id) => UserRef::Id(*id),
        Identifier::Name(name) => UserRef::Name(name.clone()),
    }
}
