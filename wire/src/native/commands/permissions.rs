//! The permissions block (§3) carried by create_user, update_permissions and get_user: ten
//! global flags, then optional per-stream and per-topic grants written as linked lists
//! (`has_next` bytes). The block always travels inside a `[len:u32]` frame, so decoding is
//! bounded by that length.

use bytes::{BufMut, BytesMut};

use crate::native::codec::{Reader, WireDecode, WireEncode, WireField};
use crate::native::error::Result;
use crate::native::limits::PERMISSIONS_BYTES_MAX;

/// Server-wide grants, in wire order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GlobalPermissions {
    /// Administer the server.
    pub manage_servers: bool,
    /// Read server state (stats, clients).
    pub read_servers: bool,
    /// Create and change users.
    pub manage_users: bool,
    /// Read users.
    pub read_users: bool,
    /// Create and change streams.
    pub manage_streams: bool,
    /// Read streams.
    pub read_streams: bool,
    /// Create and change topics.
    pub manage_topics: bool,
    /// Read topics.
    pub read_topics: bool,
    /// Poll any topic.
    pub poll_messages: bool,
    /// Send to any topic.
    pub send_messages: bool,
}

/// Grants on one topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TopicPermissions {
    /// Topic id.
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

/// Grants on one stream and, optionally, its topics.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StreamPermissions {
    /// Stream id.
    pub stream_id: u32,
    /// Change or delete the stream.
    pub manage_stream: bool,
    /// Read the stream.
    pub read_stream: bool,
    /// Manage its topics.
    pub manage_topics: bool,
    /// Read its topics.
    pub read_topics: bool,
    /// Poll its topics.
    pub poll_messages: bool,
    /// Send to its topics.
    pub send_messages: bool,
    /// Per-topic grants.
    pub topics: Vec<TopicPermissions>,
}

/// A whole permissions block.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Permissions {
    /// Server-wide grants.
    pub global: GlobalPermissions,
    /// Per-stream grants.
    pub streams: Vec<StreamPermissions>,
}

fn flags<const N: usize>(reader: &mut Reader<'_>) -> Result<[bool; N]> {
    let mut values = [false; N];
    for value in &mut values {
        *value = reader.bool("permission_flag")?;
    }
    Ok(values)
}

fn put_flags(out: &mut BytesMut, values: &[bool]) {
    for value in values {
        out.put_u8(u8::from(*value));
    }
}

fn read_topic(reader: &mut Reader<'_>) -> Result<TopicPermissions> {
    let topic_id = reader.u32("topic_id")?;
    let [manage_topic, read_topic, poll_messages, send_messages] = flags(reader)?;
    Ok(TopicPermissions {
        topic_id,
        manage_topic,
        read_topic,
        poll_messages,
        send_messages,
    })
}

fn read_stream(reader: &mut Reader<'_>) -> Result<StreamPermissions> {
    let stream_id = reader.u32("stream_id")?;
    let [
        manage_stream,
        read_stream,
        manage_topics,
        read_topics,
        poll_messages,
        send_messages,
    ] = flags(reader)?;
    let mut topics = Vec::new();
    if reader.bool("has_topics")? {
        loop {
            topics.push(read_topic(reader)?);
            if !reader.bool("has_next_topic")? {
                break;
            }
        }
    }
    Ok(StreamPermissions {
        stream_id,
        manage_stream,
        read_stream,
        manage_topics,
        read_topics,
        poll_messages,
        send_messages,
        topics,
    })
}

impl WireDecode for Permissions {
    fn decode(bytes: &[u8]) -> Result<(Self, usize)> {
        let mut reader = Reader::new(bytes);
        let [a, b, c, d, e, f, g, h, i, j] = flags(&mut reader)?;
        let global = GlobalPermissions {
            manage_servers: a,
            read_servers: b,
            manage_users: c,
            read_users: d,
            manage_streams: e,
            read_streams: f,
            manage_topics: g,
            read_topics: h,
            poll_messages: i,
            send_messages: j,
        };
        let mut streams = Vec::new();
        if reader.bool("has_streams")? {
            loop {
                streams.push(read_stream(&mut reader)?);
                if !reader.bool("has_next_stream")? {
                    break;
                }
            }
        }
        Ok((Self { global, streams }, reader.position()))
    }
}

impl WireEncode for Permissions {
    fn encoded_size(&self) -> usize {
        let streams: usize = self
            .streams
            .iter()
            .map(|stream| 4 + 6 + 1 + 1 + stream.topics.len() * (4 + 4 + 1))
            .sum();
        10 + 1 + streams
    }

    fn encode(&self, out: &mut BytesMut) {
        let g = &self.global;
        put_flags(
            out,
            &[
                g.manage_servers,
                g.read_servers,
                g.manage_users,
                g.read_users,
                g.manage_streams,
                g.read_streams,
                g.manage_topics,
                g.read_topics,
                g.poll_messages,
                g.send_messages,
            ],
        );
        out.put_u8(u8::from(!self.streams.is_empty()));
        for (index, stream) in self.streams.iter().enumerate() {
            out.put_u32_le(stream.stream_id);
            put_flags(
                out,
                &[
                    stream.manage_stream,
                    stream.read_stream,
                    stream.manage_topics,
                    stream.read_topics,
                    stream.poll_messages,
                    stream.send_messages,
                ],
            );
            out.put_u8(u8::from(!stream.topics.is_empty()));
            for (topic_index, topic) in stream.topics.iter().enumerate() {
                out.put_u32_le(topic.topic_id);
                put_flags(
                    out,
                    &[
                        topic.manage_topic,
                        topic.read_topic,
                        topic.poll_messages,
                        topic.send_messages,
                    ],
                );
                out.put_u8(u8::from(topic_index + 1 < stream.topics.len()));
            }
            out.put_u8(u8::from(index + 1 < self.streams.len()));
        }
    }
}

/// `[has_perms:u8]([len:u32][perms])?`, as create_user and update_permissions carry it.
impl WireField for Option<Permissions> {
    fn read_field(reader: &mut Reader<'_>, field: &'static str) -> Result<Self> {
        if !reader.bool(field)? {
            return Ok(None);
        }
        read_framed(reader).map(Some)
    }

    fn field_size(&self) -> usize {
        1 + self.as_ref().map_or(0, |perms| 4 + perms.encoded_size())
    }

    fn write_field(&self, out: &mut BytesMut) {
        out.put_u8(u8::from(self.is_some()));
        if let Some(perms) = self {
            write_framed(out, perms);
        }
    }
}

/// Read `[len:u32][perms]`, the permissions filling the frame exactly.
pub fn read_framed(reader: &mut Reader<'_>) -> Result<Permissions> {
    let length = reader.length_u32("permissions_length", 0, PERMISSIONS_BYTES_MAX)?;
    Permissions::decode_exact(reader.take("permissions", length)?)
}

/// Write `[len:u32][perms]`.
pub fn write_framed(out: &mut BytesMut, permissions: &Permissions) {
    out.put_u32_le(permissions.encoded_size() as u32);
    permissions.encode(out);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::native::codec::testing::roundtrip_strict;

    fn sample() -> Permissions {
        Permissions {
            global: GlobalPermissions {
                read_servers: true,
                poll_messages: true,
                ..GlobalPermissions::default()
            },
            streams: vec![
                StreamPermissions {
                    stream_id: 1,
                    manage_stream: false,
                    read_stream: true,
                    manage_topics: false,
                    read_topics: true,
                    poll_messages: true,
                    send_messages: false,
                    topics: vec![
                        TopicPermissions {
                            topic_id: 0,
                            manage_topic: false,
                            read_topic: true,
                            poll_messages: true,
                            send_messages: true,
                        },
                        TopicPermissions {
                            topic_id: 4,
                            manage_topic: true,
                            read_topic: true,
                            poll_messages: false,
                            send_messages: false,
                        },
                    ],
                },
                StreamPermissions {
                    stream_id: 2,
                    manage_stream: true,
                    read_stream: true,
                    manage_topics: true,
                    read_topics: true,
                    poll_messages: true,
                    send_messages: true,
                    topics: vec![],
                },
            ],
        }
    }

    #[test]
    fn layout_and_round_trip() {
        let empty = roundtrip_strict(&Permissions::default());
        assert_eq!(empty, vec![0; 11]);
        let bytes = roundtrip_strict(&sample());
        assert_eq!(&bytes[..11], &[0, 1, 0, 0, 0, 0, 0, 0, 1, 0, 1]);
        assert_eq!(&bytes[11..15], &1u32.to_le_bytes());
        assert_eq!(bytes[21], 1, "stream 1 has topics");
        assert_eq!(bytes[22 + 8], 1, "another topic follows");
        assert_eq!(bytes[22 + 9 + 8], 0, "last topic");
        assert_eq!(bytes[22 + 18], 1, "another stream follows");
        assert_eq!(*bytes.last().unwrap(), 0);
        let mut framed = BytesMut::new();
        framed.put_u32_le(PERMISSIONS_BYTES_MAX as u32 + 1);
        assert!(read_framed(&mut Reader::new(&framed)).is_err());
    }
}
