//! Permissions: the grants a user holds ([`Permissions`], protocol-neutral and stored as they
//! are in the metadata log), the accesses an operation needs ([`Access`]) and the rules that
//! decide one from the other. They follow the reference (Iggy) server's permissioner, including
//! its asymmetries, so that a user set up against either server is allowed exactly the same
//! operations:
//!
//! * global `manage_X` implies `read_X` for servers, users and streams;
//! * global `manage_streams` covers every stream and topic operation except sending and polling;
//!   global `manage_topics` / `read_topics` cover topic management / reading in every stream;
//! * sending and polling are granted only by the `send_messages` / `poll_messages` flags (global,
//!   per stream or per topic) or by the per-stream and per-topic management and read flags the
//!   reference lists (a global `read_streams` does not let a user poll);
//! * per-stream grants apply to that stream's topics as well.

use serde::{Deserialize, Serialize};

/// A user's grants: ten global flags, then per-stream grants. Stored flat (the global flags
/// beside `streams`), the layout of the users file of earlier versions.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Permissions {
    /// Server-wide grants.
    #[serde(flatten)]
    pub global: GlobalPermissions,
    /// Grants on single streams (a stream named twice: the last entry wins).
    pub streams: Vec<StreamPermissions>,
}

/// Server-wide grants.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[allow(clippy::struct_excessive_bools)]
pub struct GlobalPermissions {
    /// Change the server (flush, snapshots).
    pub manage_servers: bool,
    /// Read server stats and clients.
    pub read_servers: bool,
    /// Create, change and delete users.
    pub manage_users: bool,
    /// Read users.
    pub read_users: bool,
    /// Create, change and delete streams (and everything in them).
    pub manage_streams: bool,
    /// Read streams.
    pub read_streams: bool,
    /// Create, change and delete topics in every stream.
    pub manage_topics: bool,
    /// Read topics in every stream.
    pub read_topics: bool,
    /// Poll every topic.
    pub poll_messages: bool,
    /// Send to every topic.
    pub send_messages: bool,
}

/// Grants on one stream and its topics.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[allow(clippy::struct_excessive_bools)]
pub struct StreamPermissions {
    /// The stream.
    pub stream_id: u32,
    /// Change or delete the stream.
    pub manage_stream: bool,
    /// Read the stream.
    pub read_stream: bool,
    /// Create, change and delete its topics.
    pub manage_topics: bool,
    /// Read its topics.
    pub read_topics: bool,
    /// Poll its topics.
    pub poll_messages: bool,
    /// Send to its topics.
    pub send_messages: bool,
    /// Grants on single topics of the stream.
    pub topics: Vec<TopicPermissions>,
}

/// Grants on one topic.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[allow(clippy::struct_excessive_bools)]
pub struct TopicPermissions {
    /// The topic.
    pub topic_id: u32,
    /// Change or delete the topic.
    pub manage_topic: bool,
    /// Read the topic.
    pub read_topic: bool,
    /// Poll it.
    pub poll_messages: bool,
    /// Send to it.
    pub send_messages: bool,
}

/// What an operation needs, checked against a user's [`Permissions`] by
/// [`super::Users::authorize`]. Ids are resolved numeric ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Read server stats and connected clients.
    ReadServers,
    /// Server-wide changes (flush).
    ManageServers,
    /// Read users.
    ReadUsers,
    /// Create/update/delete users, permissions, other users' passwords.
    ManageUsers,
    /// Create a stream.
    ManageStreams,
    /// List streams.
    ReadStreams,
    /// Read one stream.
    ReadStream(u32),
    /// Update/delete/purge one stream.
    ManageStream(u32),
    /// Create a topic in a stream.
    CreateTopic(u32),
    /// List the topics of a stream.
    ReadTopics(u32),
    /// Read a topic, its consumer groups.
    ReadTopic(u32, u32),
    /// Update/delete/purge a topic, its partitions, segments, consumer groups.
    ManageTopic(u32, u32),
    /// Poll, offsets, group membership.
    PollMessages(u32, u32),
    /// Append messages.
    SendMessages(u32, u32),
    /// Use Kafka consumer groups (join, commit, fetch offsets, describe): the right to poll
    /// some topic, since a group exists to poll (native permissions have no group resource).
    UseGroups,
    /// Delete Kafka consumer groups and their offsets: the right to manage some topic, as
    /// native consumer groups are managed with their topic.
    ManageGroups,
}

/// Every global flag set: what the root user holds.
pub fn root_permissions() -> Permissions {
    Permissions {
        global: GlobalPermissions {
            manage_servers: true,
            read_servers: true,
            manage_users: true,
            read_users: true,
            manage_streams: true,
            read_streams: true,
            manage_topics: true,
            read_topics: true,
            poll_messages: true,
            send_messages: true,
        },
        streams: Vec::new(),
    }
}

fn stream(permissions: &Permissions, stream_id: u32) -> Option<&StreamPermissions> {
    // A block naming one stream twice is unusual; the last entry wins, as in the reference
    // server where the block is decoded into a map.
    permissions
        .streams
        .iter()
        .rev()
        .find(|entry| entry.stream_id == stream_id)
}

fn topic(stream: &StreamPermissions, topic_id: u32) -> Option<&TopicPermissions> {
    stream
        .topics
        .iter()
        .rev()
        .find(|entry| entry.topic_id == topic_id)
}

/// Whether `permissions` allow `access`.
pub fn allows(permissions: &Permissions, access: Access) -> bool {
    let global = &permissions.global;
    match access {
        Access::ReadServers => global.manage_servers || global.read_servers,
        Access::ManageServers => global.manage_servers,
        Access::ReadUsers => global.manage_users || global.read_users,
        Access::ManageUsers => global.manage_users,
        Access::ManageStreams => global.manage_streams,
        Access::ReadStreams => global.manage_streams || global.read_streams,
        Access::ReadStream(stream_id) => {
            global.manage_streams
                || global.read_streams
                || stream(permissions, stream_id).is_some_and(|s| s.manage_stream || s.read_stream)
        }
        Access::ManageStream(stream_id) => {
            global.manage_streams || stream(permissions, stream_id).is_some_and(|s| s.manage_stream)
        }
        Access::CreateTopic(stream_id) => {
            global.manage_streams
                || global.manage_topics
                || stream(permissions, stream_id).is_some_and(|s| s.manage_topics)
        }
        Access::ReadTopics(stream_id) => {
            reads_all_topics(global)
                || stream(permissions, stream_id).is_some_and(|s| s.manage_topics || s.read_topics)
        }
        Access::ReadTopic(stream_id, topic_id) => {
            reads_all_topics(global)
                || stream(permissions, stream_id).is_some_and(|s| {
                    s.manage_topics
                        || s.read_topics
                        || topic(s, topic_id).is_some_and(|t| t.manage_topic || t.read_topic)
                })
        }
        Access::ManageTopic(stream_id, topic_id) => {
            global.manage_streams
                || global.manage_topics
                || stream(permissions, stream_id).is_some_and(|s| {
                    s.manage_topics || topic(s, topic_id).is_some_and(|t| t.manage_topic)
                })
        }
        Access::PollMessages(stream_id, topic_id) => {
            global.poll_messages
                || stream(permissions, stream_id).is_some_and(|s| {
                    s.poll_messages
                        || s.read_stream
                        || s.manage_topics
                        || s.read_topics
                        || topic(s, topic_id)
                            .is_some_and(|t| t.poll_messages || t.read_topic || t.manage_topic)
                })
        }
        Access::SendMessages(stream_id, topic_id) => {
            global.send_messages
                || stream(permissions, stream_id).is_some_and(|s| {
                    s.send_messages
                        || s.manage_stream
                        || s.manage_topics
                        || topic(s, topic_id).is_some_and(|t| t.send_messages || t.manage_topic)
                })
        }
        Access::UseGroups => polls_some_topic(permissions),
        Access::ManageGroups => manages_some_topic(permissions),
    }
}

/// Whether `permissions` let their holder poll at least one topic.
fn polls_some_topic(permissions: &Permissions) -> bool {
    permissions.global.poll_messages
        || reads_all_topics(&permissions.global)
        || permissions.streams.iter().any(|s| {
            s.poll_messages
                || s.read_stream
                || s.manage_topics
                || s.read_topics
                || s.topics
                    .iter()
                    .any(|t| t.poll_messages || t.read_topic || t.manage_topic)
        })
}

/// Whether `permissions` let their holder manage at least one topic.
fn manages_some_topic(permissions: &Permissions) -> bool {
    permissions.global.manage_streams
        || permissions.global.manage_topics
        || permissions
            .streams
            .iter()
            .any(|s| s.manage_stream || s.manage_topics || s.topics.iter().any(|t| t.manage_topic))
}

fn reads_all_topics(global: &GlobalPermissions) -> bool {
    global.read_streams || global.manage_streams || global.manage_topics || global.read_topics
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kafka_groups_follow_the_right_to_poll_or_manage_some_topic() {
        let mut held = Permissions::default();
        assert!(!allows(&held, Access::UseGroups));
        assert!(!allows(&held, Access::ManageGroups));
        let mut grant = stream_grant(3);
        grant.topics.push(TopicPermissions {
            topic_id: 1,
            poll_messages: true,
            ..TopicPermissions::default()
        });
        held.streams.push(grant);
        assert!(allows(&held, Access::UseGroups));
        assert!(!allows(&held, Access::ManageGroups));
        held.global.manage_topics = true;
        assert!(allows(&held, Access::ManageGroups));
    }

    fn stream_grant(stream_id: u32) -> StreamPermissions {
        StreamPermissions {
            stream_id,
            manage_stream: false,
            read_stream: false,
            manage_topics: false,
            read_topics: false,
            poll_messages: false,
            send_messages: false,
            topics: Vec::new(),
        }
    }

    fn topic_grant(topic_id: u32) -> TopicPermissions {
        TopicPermissions {
            topic_id,
            manage_topic: false,
            read_topic: false,
            poll_messages: false,
            send_messages: false,
        }
    }

    fn with_global(global: GlobalPermissions) -> Permissions {
        Permissions {
            global,
            streams: Vec::new(),
        }
    }

    const ALL_ACCESS: [Access; 14] = [
        Access::ReadServers,
        Access::ManageServers,
        Access::ReadUsers,
        Access::ManageUsers,
        Access::ManageStreams,
        Access::ReadStreams,
        Access::ReadStream(1),
        Access::ManageStream(1),
        Access::CreateTopic(1),
        Access::ReadTopics(1),
        Access::ReadTopic(1, 2),
        Access::ManageTopic(1, 2),
        Access::PollMessages(1, 2),
        Access::SendMessages(1, 2),
    ];

    #[test]
    fn no_grants_allow_nothing_and_root_allows_everything() {
        let none = Permissions::default();
        let root = root_permissions();
        for access in ALL_ACCESS {
            assert!(!allows(&none, access), "{access:?} without grants");
            assert!(allows(&root, access), "{access:?} for root");
        }
    }

    #[test]
    fn manage_flags_imply_read_flags() {
        let servers = with_global(GlobalPermissions {
            manage_servers: true,
            ..GlobalPermissions::default()
        });
        assert!(allows(&servers, Access::ReadServers));
        assert!(!allows(&servers, Access::ReadUsers));
        let users = with_global(GlobalPermissions {
            manage_users: true,
            ..GlobalPermissions::default()
        });
        assert!(allows(&users, Access::ReadUsers));
        assert!(allows(&users, Access::ManageUsers));
        assert!(!allows(&users, Access::ReadServers));
        let read_users = with_global(GlobalPermissions {
            read_users: true,
            ..GlobalPermissions::default()
        });
        assert!(allows(&read_users, Access::ReadUsers));
        assert!(!allows(&read_users, Access::ManageUsers));
    }

    #[test]
    fn global_manage_streams_covers_metadata_but_not_messages() {
        let perms = with_global(GlobalPermissions {
            manage_streams: true,
            ..GlobalPermissions::default()
        });
        for access in &ALL_ACCESS[4..12] {
            assert!(allows(&perms, *access), "{access:?}");
        }
        assert!(!allows(&perms, Access::PollMessages(1, 2)));
        assert!(!allows(&perms, Access::SendMessages(1, 2)));
        assert!(!allows(&perms, Access::ReadUsers));
    }

    #[test]
    fn global_read_streams_reads_but_cannot_poll_or_change() {
        let perms = with_global(GlobalPermissions {
            read_streams: true,
            ..GlobalPermissions::default()
        });
        assert!(allows(&perms, Access::ReadStreams));
        assert!(allows(&perms, Access::ReadStream(7)));
        assert!(allows(&perms, Access::ReadTopics(7)));
        assert!(allows(&perms, Access::ReadTopic(7, 0)));
        assert!(!allows(&perms, Access::ManageStream(7)));
        assert!(!allows(&perms, Access::CreateTopic(7)));
        assert!(!allows(&perms, Access::PollMessages(7, 0)));
    }

    #[test]
    fn global_message_flags_cover_every_topic() {
        let perms = with_global(GlobalPermissions {
            poll_messages: true,
            ..GlobalPermissions::default()
        });
        assert!(allows(&perms, Access::PollMessages(9, 9)));
        assert!(!allows(&perms, Access::SendMessages(9, 9)));
        assert!(!allows(&perms, Access::ReadTopic(9, 9)));
        let perms = with_global(GlobalPermissions {
            send_messages: true,
            ..GlobalPermissions::default()
        });
        assert!(allows(&perms, Access::SendMessages(9, 9)));
        assert!(!allows(&perms, Access::PollMessages(9, 9)));
    }

    #[test]
    fn stream_grants_apply_only_to_their_stream() {
        let mut grant = stream_grant(1);
        grant.read_stream = true;
        let perms = Permissions {
            global: GlobalPermissions::default(),
            streams: vec![grant],
        };
        assert!(allows(&perms, Access::ReadStream(1)));
        assert!(!allows(&perms, Access::ReadStream(2)));
        assert!(
            !allows(&perms, Access::ReadStreams),
            "listing needs a global flag"
        );
        assert!(
            allows(&perms, Access::PollMessages(1, 5)),
            "read_stream polls"
        );
        assert!(!allows(&perms, Access::PollMessages(2, 5)));
        assert!(!allows(&perms, Access::SendMessages(1, 5)));
        assert!(
            !allows(&perms, Access::ReadTopic(1, 5)),
            "read_stream is not read_topics"
        );
    }

    #[test]
    fn stream_manage_flags() {
        let mut grant = stream_grant(3);
        grant.manage_stream = true;
        let perms = Permissions {
            global: GlobalPermissions::default(),
            streams: vec![grant],
        };
        assert!(allows(&perms, Access::ManageStream(3)));
        assert!(allows(&perms, Access::ReadStream(3)));
        assert!(
            allows(&perms, Access::SendMessages(3, 0)),
            "manage_stream sends"
        );
        assert!(
            !allows(&perms, Access::PollMessages(3, 0)),
            "but does not poll"
        );
        assert!(!allows(&perms, Access::CreateTopic(3)));
        let mut grant = stream_grant(3);
        grant.manage_topics = true;
        let perms = Permissions {
            global: GlobalPermissions::default(),
            streams: vec![grant],
        };
        assert!(allows(&perms, Access::CreateTopic(3)));
        assert!(allows(&perms, Access::ManageTopic(3, 4)));
        assert!(allows(&perms, Access::ReadTopics(3)));
        assert!(allows(&perms, Access::PollMessages(3, 4)));
        assert!(allows(&perms, Access::SendMessages(3, 4)));
        assert!(!allows(&perms, Access::ManageStream(3)));
    }

    #[test]
    fn topic_grants_apply_only_to_their_topic() {
        let mut read = topic_grant(2);
        read.read_topic = true;
        let mut send = topic_grant(4);
        send.send_messages = true;
        let mut grant = stream_grant(1);
        grant.topics = vec![read, send];
        let perms = Permissions {
            global: GlobalPermissions::default(),
            streams: vec![grant],
        };
        assert!(allows(&perms, Access::ReadTopic(1, 2)));
        assert!(
            allows(&perms, Access::PollMessages(1, 2)),
            "read_topic polls"
        );
        assert!(!allows(&perms, Access::SendMessages(1, 2)));
        assert!(allows(&perms, Access::SendMessages(1, 4)));
        assert!(!allows(&perms, Access::PollMessages(1, 4)));
        assert!(!allows(&perms, Access::ReadTopic(1, 3)));
        assert!(!allows(&perms, Access::ReadTopic(2, 2)), "other stream");
        assert!(!allows(&perms, Access::ManageTopic(1, 2)));
        assert!(!allows(&perms, Access::ReadStream(1)));
        assert!(!allows(&perms, Access::ReadTopics(1)));
    }

    #[test]
    fn topic_manage_flag() {
        let mut manage = topic_grant(0);
        manage.manage_topic = true;
        let mut grant = stream_grant(0);
        grant.topics = vec![manage];
        let perms = Permissions {
            global: GlobalPermissions::default(),
            streams: vec![grant],
        };
        assert!(allows(&perms, Access::ManageTopic(0, 0)));
        assert!(allows(&perms, Access::ReadTopic(0, 0)));
        assert!(allows(&perms, Access::PollMessages(0, 0)));
        assert!(allows(&perms, Access::SendMessages(0, 0)));
        assert!(!allows(&perms, Access::ManageTopic(0, 1)));
        assert!(!allows(&perms, Access::CreateTopic(0)));
    }

    #[test]
    fn later_duplicate_stream_entry_wins() {
        let mut first = stream_grant(1);
        first.manage_stream = true;
        let perms = Permissions {
            global: GlobalPermissions::default(),
            streams: vec![first, stream_grant(1)],
        };
        assert!(!allows(&perms, Access::ManageStream(1)));
    }
}
