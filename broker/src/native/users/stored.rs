//! The on-disk shape of users: a JSON file `native_users.json` in the broker's state directory,
//! replaced atomically (temporary file, fsync, rename, fsync of the directory) on every change,
//! so a crash leaves either the old or the new file. Permissions get their own serde mirror of
//! the wire structs so the file stays readable and independent of the codec crate.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use serde::{Deserialize, Serialize};
use whippet_wire::native::commands::permissions::{
    GlobalPermissions, Permissions, StreamPermissions, TopicPermissions,
};

use super::model::{Directory, User};
use crate::limits::USERS_FILE_BYTES_MAX;

/// File name of the users file inside the state directory.
pub(super) const USERS_FILE: &str = "native_users.json";

/// Version written into the file, so a future layout change can be recognised.
const FORMAT_VERSION: u32 = 1;

#[derive(Serialize, Deserialize)]
struct UsersFile {
    version: u32,
    users: Vec<User>,
}

/// Grants on one topic, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct StoredTopic {
    topic_id: u32,
    manage_topic: bool,
    read_topic: bool,
    poll_messages: bool,
    send_messages: bool,
}

/// Grants on one stream, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct StoredStream {
    stream_id: u32,
    manage_stream: bool,
    read_stream: bool,
    manage_topics: bool,
    read_topics: bool,
    poll_messages: bool,
    send_messages: bool,
    topics: Vec<StoredTopic>,
}

/// A permissions block, as stored: the ten global flags then the per-stream grants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct StoredPermissions {
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
    streams: Vec<StoredStream>,
}

impl StoredPermissions {
    /// From the wire struct.
    pub fn from_wire(perms: &Permissions) -> Self {
        let g = &perms.global;
        Self {
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
            streams: perms
                .streams
                .iter()
                .map(|s| StoredStream {
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
                        .map(|t| StoredTopic {
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

    /// To the wire struct.
    pub fn to_wire(&self) -> Permissions {
        Permissions {
            global: GlobalPermissions {
                manage_servers: self.manage_servers,
                read_servers: self.read_servers,
                manage_users: self.manage_users,
                read_users: self.read_users,
                manage_streams: self.manage_streams,
                read_streams: self.read_streams,
                manage_topics: self.manage_topics,
                read_topics: self.read_topics,
                poll_messages: self.poll_messages,
                send_messages: self.send_messages,
            },
            streams: self
                .streams
                .iter()
                .map(|s| StreamPermissions {
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
                        .map(|t| TopicPermissions {
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
}

/// Reads the users file at `path`; `Ok(None)` when it does not exist. Any other failure names
/// the file.
pub(super) fn load(path: &Path) -> Result<Option<Directory>, String> {
    let file = match File::open(path) {
        Ok(file) => file,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(format!("cannot open {}: {error}", path.display())),
    };
    let mut text = Vec::new();
    file.take(USERS_FILE_BYTES_MAX + 1)
        .read_to_end(&mut text)
        .map_err(|error| format!("cannot read {}: {error}", path.display()))?;
    if text.len() as u64 > USERS_FILE_BYTES_MAX {
        return Err(format!(
            "{} is larger than {USERS_FILE_BYTES_MAX} bytes",
            path.display()
        ));
    }
    let parsed: UsersFile = serde_json::from_slice(&text)
        .map_err(|error| format!("corrupt users file {}: {error}", path.display()))?;
    if parsed.version != FORMAT_VERSION {
        return Err(format!(
            "users file {} has unknown version {}",
            path.display(),
            parsed.version
        ));
    }
    Directory::from_users(parsed.users)
        .map(Some)
        .map_err(|error| format!("corrupt users file {}: {error}", path.display()))
}

/// Replaces the users file at `path` with `directory`, durably: the change is on disk when this
/// returns `Ok`.
pub(super) fn save(path: &Path, directory: &Directory) -> Result<(), String> {
    let file = UsersFile {
        version: FORMAT_VERSION,
        users: directory.users().cloned().collect(),
    };
    let text = serde_json::to_vec_pretty(&file)
        .map_err(|error| format!("cannot serialize users: {error}"))?;
    whippet_meta::replace_file(path, &text)
        .map_err(|error| format!("cannot write {}: {error}", path.display()))
}
