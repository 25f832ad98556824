//! 0.11 reply payload → classic reply payload. The input is what the 0.11 handler produced,
//! without the 0.11 result section (§2.3); it is decoded with the existing 0.11 codecs and
//! re-encoded in the layout the 0.10 SDK decodes (`iggy_binary_protocol` 0.10 responses).
//!
//! The layouts that differ (all little-endian, `name` = `[len:u8][utf8]`):
//! * StreamHeader `[id:u32][created_at:u64][topics_count:u32][size_bytes:u64]`
//!   `[messages_count:u64] name`: no options block.
//! * TopicHeader `[id:u32][created_at:u64][partitions_count:u32][message_expiry:u64]`
//!   `[compression:u8][max_topic_size:u64][replication_factor:u8][size_bytes:u64]`
//!   `[messages_count:u64] name`: a replication factor (written as 1: one node), no option
//!   blocks.
//! * UserHeader `[id:u32][created_at:u64][status:u8] name`: no options block.
//! * get_topics (301): TopicHeaders back to back, no count prefix.
//! * create_stream (202) and create_topic (302) answer with the same payload as get_stream /
//!   get_topic (the 0.10 SDK decodes them with the get decoders); create_user (33) like
//!   get_user.
//! * send_messages (101): the 0.8 server answered with an empty payload; the 0.11 ack list is
//!   dropped.
//! * poll_messages (100): see `messages`.
//!
//! An empty 0.11 payload stays empty (the "not found" answer of single-object reads), except
//! for polls, whose classic reply always has its 16-byte header.

use bytes::{BufMut, BytesMut};

use super::codes::{self, Shape};
use super::{ClassicError, Result, messages};
use crate::native::codec::{WireDecode, put_string_u8};
use crate::native::commands::permissions;
use crate::native::commands::streams::{StreamDetails, StreamHeader, StreamList};
use crate::native::commands::topics::{TopicDetails, TopicHeader, TopicList};
use crate::native::commands::users::{UserDetails, UserHeader, UserList, UserStatus};

/// Replication factor written into classic topic headers: a single node.
pub const REPLICATION_FACTOR: u8 = 1;

/// The classic poll (100) reply for a 0.11 poll reply still in pieces: `parts[0]` is the 16-byte
/// reply header, every further part holds whole stored batch records. Same result as
/// [`reply_to_classic`] on the joined bytes, without joining them first.
pub fn poll_parts_to_classic(parts: &[&[u8]]) -> Result<BytesMut> {
    messages::poll_parts_to_classic(parts)
}

/// Translate the 0.11 reply payload of `code` into the classic payload; `Ok(None)` when the
/// bytes are already the classic payload. Codes the classic protocol does not have fail with
/// [`ClassicError::UnknownCommand`]. The login codes 38 and 44 return `None`: their classic
/// reply is built by [`super::login::encode_login_reply`], not translated.
pub fn reply_to_classic(code: u32, current: &[u8]) -> Result<Option<BytesMut>> {
    let command = codes::by_code(code).ok_or(ClassicError::UnknownCommand { code })?;
    if command.reply != Shape::Translated {
        return Ok(None);
    }
    match code {
        100 => return messages::poll_to_classic(current).map(Some),
        101 => return Ok(Some(BytesMut::new())),
        _ => {}
    }
    if current.is_empty() {
        return Ok(None);
    }
    let mut out = BytesMut::with_capacity(current.len());
    match code {
        200 | 202 => put_stream_details(&mut out, &StreamDetails::decode_exact(current)?),
        201 => {
            for stream in StreamList::decode_exact(current)?.streams {
                put_stream(&mut out, &stream);
            }
        }
        300 | 302 => put_topic_details(&mut out, &TopicDetails::decode_exact(current)?),
        301 => {
            for topic in TopicList::decode_exact(current)?.topics {
                put_topic(&mut out, &topic);
            }
        }
        31 | 33 => put_user_details(&mut out, &UserDetails::decode_exact(current)?),
        32 => {
            for user in UserList::decode_exact(current)?.users {
                put_user(&mut out, &user);
            }
        }
        _ => return Err(ClassicError::UnknownCommand { code }),
    }
    Ok(Some(out))
}

/// Classic StreamHeader.
fn put_stream(out: &mut BytesMut, stream: &StreamHeader) {
    out.put_u32_le(stream.id);
    out.put_u64_le(stream.created_at);
    out.put_u32_le(stream.topics_count);
    out.put_u64_le(stream.size_bytes);
    out.put_u64_le(stream.messages_count);
    put_string_u8(out, &stream.name);
}

/// Classic get_stream / create_stream payload: the header (its count taken from the topics
/// actually listed, which the 0.10 SDK checks) and the topic headers.
fn put_stream_details(out: &mut BytesMut, details: &StreamDetails) {
    let stream = StreamHeader {
        topics_count: details.topics.len() as u32,
        ..details.stream.clone()
    };
    put_stream(out, &stream);
    for topic in &details.topics {
        put_topic(out, topic);
    }
}

/// Classic TopicHeader.
fn put_topic(out: &mut BytesMut, topic: &TopicHeader) {
    out.put_u32_le(topic.id);
    out.put_u64_le(topic.created_at);
    out.put_u32_le(topic.partitions_count);
    out.put_u64_le(topic.message_expiry);
    out.put_u8(topic.compression);
    out.put_u64_le(topic.max_topic_size);
    out.put_u8(REPLICATION_FACTOR);
    out.put_u64_le(topic.size_bytes);
    out.put_u64_le(topic.messages_count);
    put_string_u8(out, &topic.name);
}

/// Classic get_topic / create_topic payload: the header (count from the partitions listed,
/// which the 0.10 SDK checks) and the 40-byte partitions, whose layout did not change.
fn put_topic_details(out: &mut BytesMut, details: &TopicDetails) {
    let topic = TopicHeader {
        partitions_count: details.partitions.len() as u32,
        ..details.topic.clone()
    };
    put_topic(out, &topic);
    for partition in &details.partitions {
        crate::native::codec::WireEncode::encode(partition, out);
    }
}

/// Classic UserHeader.
fn put_user(out: &mut BytesMut, user: &UserHeader) {
    out.put_u32_le(user.id);
    out.put_u64_le(user.created_at);
    out.put_u8(match user.status {
        UserStatus::Active => 1,
        UserStatus::Inactive => 2,
    });
    put_string_u8(out, &user.username);
}

/// Classic get_user / create_user payload: the header, then `[1][len:u32][perms]` or four
/// zero bytes (the permissions block itself did not change).
fn put_user_details(out: &mut BytesMut, details: &UserDetails) {
    put_user(out, &details.user);
    match &details.permissions {
        Some(perms) => {
            out.put_u8(1);
            permissions::write_framed(out, perms);
        }
        None => out.put_u32_le(0),
    }
}

#[cfg(test)]
#[path = "reply_tests.rs"]
mod tests;
