//! The JSON forms of the native replies, as the Iggy HTTP API spells them (field names and
//! units of the `iggy` crate's serde types: times in µs, sizes in bytes, compression as a
//! name, option maps empty).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use whippet_wire::native::commands::groups::{GroupDetails, GroupHeader};
use whippet_wire::native::commands::permissions::{
    GlobalPermissions, Permissions, StreamPermissions, TopicPermissions,
};
use whippet_wire::native::commands::stats::Stats;
use whippet_wire::native::commands::streams::{StreamDetails, StreamHeader};
use whippet_wire::native::commands::topics::{PartitionDetails, TopicDetails, TopicHeader};
use whippet_wire::native::commands::users::{UserDetails, UserHeader, UserStatus};

fn compression(code: u8) -> &'static str {
    if code == 2 { "gzip" } else { "none" }
}

/// A stream without its topics.
pub(crate) fn stream(stream: &StreamHeader) -> Value {
    json!({
        "id": stream.id,
        "created_at": stream.created_at,
        "name": stream.name,
        "size": stream.size_bytes,
        "messages_count": stream.messages_count,
        "topics_count": stream.topics_count,
        "options": {},
    })
}

/// A stream with its topics.
pub(crate) fn stream_details(details: &StreamDetails) -> Value {
    let mut value = stream(&details.stream);
    value["topics"] = details.topics.iter().map(topic).collect();
    value
}

/// A topic without its partitions.
pub(crate) fn topic(topic: &TopicHeader) -> Value {
    json!({
        "id": topic.id,
        "created_at": topic.created_at,
        "name": topic.name,
        "size": topic.size_bytes,
        "message_expiry": topic.message_expiry,
        "compression_algorithm": compression(topic.compression),
        "max_topic_size": topic.max_topic_size,
        "messages_count": topic.messages_count,
        "partitions_count": topic.partitions_count,
        "options": {},
    })
}

/// A topic with its partitions.
pub(crate) fn topic_details(details: &TopicDetails) -> Value {
    let mut value = topic(&details.topic);
    value["partitions"] = details.partitions.iter().map(partition).collect();
    value
}

fn partition(partition: &PartitionDetails) -> Value {
    json!({
        "id": partition.id,
        "created_at": partition.created_at,
        "segments_count": partition.segments_count,
        "current_offset": partition.current_offset,
        "size": partition.size_bytes,
        "messages_count": partition.messages_count,
    })
}

/// A consumer group without its members.
pub(crate) fn group(group: &GroupHeader) -> Value {
    json!({
        "id": group.id,
        "name": group.name,
        "partitions_count": group.partitions_count,
        "members_count": group.members_count,
    })
}

/// A consumer group with its members.
pub(crate) fn group_details(details: &GroupDetails) -> Value {
    let mut value = group(&details.group);
    value["members"] = details
        .members
        .iter()
        .map(|member| {
            json!({
                "id": member.id,
                "partitions_count": member.partitions.len(),
                "partitions": member.partitions,
            })
        })
        .collect();
    value
}

/// A user's status by name.
pub(crate) fn user_status(status: UserStatus) -> &'static str {
    match status {
        UserStatus::Active => "active",
        UserStatus::Inactive => "inactive",
    }
}

/// A user without permissions.
pub(crate) fn user(user: &UserHeader) -> Value {
    json!({
        "id": user.id,
        "created_at": user.created_at,
        "status": user_status(user.status),
        "username": user.username,
        "options": {},
    })
}

/// A user with permissions.
pub(crate) fn user_details(details: &UserDetails) -> Value {
    let mut value = user(&details.user);
    value["permissions"] = details
        .permissions
        .as_ref()
        .map_or(Value::Null, |permissions| {
            serde_json::to_value(PermissionsJson::from_wire(permissions)).unwrap_or(Value::Null)
        });
    value
}

/// The server statistics.
pub(crate) fn stats(stats: &Stats) -> Value {
    let cache: BTreeMap<String, Value> = stats
        .cache
        .iter()
        .map(|entry| {
            (
                format!(
                    "{}-{}-{}",
                    entry.stream_id, entry.topic_id, entry.partition_id
                ),
                json!({"hits": entry.hits, "misses": entry.misses, "hit_ratio": entry.hit_ratio}),
            )
        })
        .collect();
    json!({
        "process_id": stats.process_id,
        "cpu_usage": stats.cpu_usage,
        "total_cpu_usage": stats.total_cpu_usage,
        "memory_usage": stats.memory_usage,
        "total_memory": stats.total_memory,
        "available_memory": stats.available_memory,
        "run_time": stats.run_time,
        "start_time": stats.start_time,
        "read_bytes": stats.read_bytes,
        "written_bytes": stats.written_bytes,
        "messages_size_bytes": stats.messages_size_bytes,
        "streams_count": stats.streams_count,
        "topics_count": stats.topics_count,
        "partitions_count": stats.partitions_count,
        "segments_count": stats.segments_count,
        "messages_count": stats.messages_count,
        "clients_count": stats.clients_count,
        "consumer_groups_count": stats.consumer_groups_count,
        "hostname": stats.hostname,
        "os_name": stats.os_name,
        "os_version": stats.os_version,
        "kernel_version": stats.kernel_version,
        "iggy_server_version": stats.server_version,
        "iggy_server_semver": stats.server_semver,
        "cache_metrics": cache,
        "threads_count": stats.threads_count,
        "free_disk_space": stats.free_disk_space,
        "total_disk_space": stats.total_disk_space,
    })
}

/// Iggy's permissions JSON: global flags, and streams (then topics) keyed by id.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct PermissionsJson {
    global: GlobalJson,
    #[serde(default)]
    streams: Option<BTreeMap<u32, StreamJson>>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
struct GlobalJson {
    manage_servers: bool,
    read_servers: bool,
    manage_users: bool,
    read_users: bool,
    manage_streams: bool,
    read_streams: bool,
    manage_topics: bool,
    read_topics: bool,
    poll_messages: bool,
    send_messages: bool,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
struct StreamJson {
    manage_stream: bool,
    read_stream: bool,
    manage_topics: bool,
    read_topics: bool,
    poll_messages: bool,
    send_messages: bool,
    topics: Option<BTreeMap<u32, TopicJson>>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
struct TopicJson {
    manage_topic: bool,
    read_topic: bool,
    poll_messages: bool,
    send_messages: bool,
}

impl PermissionsJson {
    /// The JSON form of native permissions.
    pub fn from_wire(permissions: &Permissions) -> Self {
        let g = &permissions.global;
        let global = GlobalJson {
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
        };
        let streams = permissions
            .streams
            .iter()
            .map(|s| (s.stream_id, StreamJson::from_wire(s)))
            .collect::<BTreeMap<_, _>>();
        Self {
            global,
            streams: (!streams.is_empty()).then_some(streams),
        }
    }

    /// The native form of these permissions.
    pub fn to_wire(&self) -> Permissions {
        let g = &self.global;
        Permissions {
            global: GlobalPermissions {
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
            streams: self
                .streams
                .iter()
                .flatten()
                .map(|(id, s)| s.to_wire(*id))
                .collect(),
        }
    }
}

impl StreamJson {
    fn from_wire(s: &StreamPermissions) -> Self {
        let topics = s
            .topics
            .iter()
            .map(|t| {
                let topic = TopicJson {
                    manage_topic: t.manage_topic,
                    read_topic: t.read_topic,
                    poll_messages: t.poll_messages,
                    send_messages: t.send_messages,
                };
                (t.topic_id, topic)
            })
            .collect::<BTreeMap<_, _>>();
        Self {
            manage_stream: s.manage_stream,
            read_stream: s.read_stream,
            manage_topics: s.manage_topics,
            read_topics: s.read_topics,
            poll_messages: s.poll_messages,
            send_messages: s.send_messages,
            topics: (!topics.is_empty()).then_some(topics),
        }
    }

    fn to_wire(&self, stream_id: u32) -> StreamPermissions {
        StreamPermissions {
            stream_id,
            manage_stream: self.manage_stream,
            read_stream: self.read_stream,
            manage_topics: self.manage_topics,
            read_topics: self.read_topics,
            poll_messages: self.poll_messages,
            send_messages: self.send_messages,
            topics: self
                .topics
                .iter()
                .flatten()
                .map(|(id, t)| TopicPermissions {
                    topic_id: *id,
                    manage_topic: t.manage_topic,
                    read_topic: t.read_topic,
                    poll_messages: t.poll_messages,
                    send_messages: t.send_messages,
                })
                .collect(),
        }
    }
}
