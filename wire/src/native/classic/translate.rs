//! Classic request body → the 0.11 request body the existing handlers decode.
//!
//! Which codes need work comes from [`super::codes`]. The rebuilt bodies:
//! * 101 send_messages: index block and 64-byte message headers → one 0.11 batch
//!   (see `messages`); an id of 0 gets a fresh id, as the 0.8 server did.
//! * 121 store / 122 delete consumer offset: the 0.11 body adds `[ack:u8]`; translated with
//!   ack 1 (quorum), the 0.11 SDK default and the classic behaviour (reply after the store).
//! * 302 create_topic / 304 update_topic: the classic fixed fields
//!   `[compression:u8][message_expiry:u64][max_topic_size:u64][replication_factor:u8]` become
//!   option keys `compression_algorithm` ("none"/"gzip"), `message_expiry` and `max_topic_size`
//!   (u64 values, kind 12; 0 keeps its classic meaning "server default", u64::MAX "never" /
//!   "unlimited"). All three keys are always sent, so a classic update, which replaced every
//!   field, still does (0 resets the key to its default). The replication factor has no 0.11
//!   field and is dropped (a single node replicates nothing).
//! * 202 create_stream, 204 update_stream, 33 create_user, 35 update_user: the 0.11 body is the
//!   classic body plus an options block running to the end, so the classic bytes are the 0.11
//!   body with no options; they pass once the classic fields are shown to fill the body. Neither
//!   classic create carries an id (checked in `iggy_binary_protocol` 0.10: ids are always
//!   assigned by the server), so there is nothing to drop.

use bytes::{Bytes, BytesMut};

use super::codes::{self, Shape};
use super::{ClassicError, Result, expect_end, login, messages};
use crate::native::codec::{Reader, WireDecode, WireEncode, WireField};
use crate::native::commands::offsets::{
    Ack, DeleteConsumerOffset, GetConsumerOffset, StoreConsumerOffset,
};
use crate::native::commands::streams::{CreateStream, UpdateStream};
use crate::native::commands::topics::{CreateTopic, UpdateTopic};
use crate::native::commands::users::{CreateUser, UpdateUser};
use crate::native::error::NativeWireError;
use crate::native::identifier::Identifier;
use crate::native::limits::NAME_BYTES_MAX;
use crate::native::user_headers::{HeaderEntry, KIND_STRING, Options};

/// Kind code of a little-endian u64 value in an options block (§4.7).
const KIND_UINT64: u8 = 12;

/// The result of translating one classic request body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Translated {
    /// The classic body is already the 0.11 body: hand the original bytes on.
    Same,
    /// The rebuilt 0.11 body.
    Body(BytesMut),
}

/// Translate the classic request body of `code` into the 0.11 body. Messages with id 0 get ids
/// derived from the body (see [`request_to_current_with`] to supply random ones instead).
/// Codes the classic protocol does not have fail with [`ClassicError::UnknownCommand`]. The
/// login codes 38 and 44 are validated and returned as [`Translated::Same`]: they have no 0.11
/// body, the broker answers them with [`super::login`].
pub fn request_to_current(code: u32, body: &[u8]) -> Result<Translated> {
    let mut ids = messages::derived_ids(body);
    request_to_current_with(code, body, &mut ids)
}

/// [`request_to_current`] with the source of ids for messages sent with id 0. The 0.8 server
/// gave each such message a random UUID v4; a broker passes its random source here.
pub fn request_to_current_with(
    code: u32,
    body: &[u8],
    fresh_id: &mut dyn FnMut() -> u128,
) -> Result<Translated> {
    let command = codes::by_code(code).ok_or(ClassicError::UnknownCommand { code })?;
    match command.request {
        Shape::Same => Ok(Translated::Same),
        Shape::Session => login::validate(code, body).map(|()| Translated::Same),
        Shape::Extended => check_extended(code, body).map(|()| Translated::Same),
        Shape::Translated => translate_body(code, body, fresh_id).map(Translated::Body),
    }
}

/// A classic body whose 0.11 layout only appends options: decoding it as the 0.11 type must
/// leave the options empty, otherwise the classic fields did not fill the body.
fn check_extended(code: u32, body: &[u8]) -> Result<()> {
    let options = match code {
        202 => CreateStream::decode_exact(body)?.options,
        204 => UpdateStream::decode_exact(body)?.options,
        33 => CreateUser::decode_exact(body)?.options,
        35 => UpdateUser::decode_exact(body)?.options,
        _ => return Err(ClassicError::UnknownCommand { code }),
    };
    if options.entries.is_empty() {
        return Ok(());
    }
    Err(NativeWireError::TrailingBytes {
        field: "classic_body",
        extra: options.encoded_size(),
    }
    .into())
}

fn translate_body(code: u32, body: &[u8], fresh_id: &mut dyn FnMut() -> u128) -> Result<BytesMut> {
    match code {
        101 => messages::send_to_current(body, fresh_id),
        121 => store_offset(body),
        122 => delete_offset(body),
        302 => create_topic(body),
        304 => update_topic(body),
        _ => Err(ClassicError::UnknownCommand { code }),
    }
}

fn encode<T: WireEncode>(value: &T) -> BytesMut {
    let mut out = BytesMut::with_capacity(value.encoded_size());
    value.encode(&mut out);
    out
}

/// Classic store: `[consumer][stream][topic][has_partition:u8][partition:u32][offset:u64]`.
fn store_offset(body: &[u8]) -> Result<BytesMut> {
    let (target, used) = GetConsumerOffset::decode(body)?;
    let mut reader = Reader::new(body.get(used..).unwrap_or_default());
    let offset = reader.u64("offset")?;
    expect_end(&reader, "classic_store_offset")?;
    Ok(encode(&StoreConsumerOffset {
        consumer: target.consumer,
        stream_id: target.stream_id,
        topic_id: target.topic_id,
        partition_id: target.partition_id,
        offset,
        ack: Ack::Quorum,
    }))
}

/// Classic delete: the same fields as get_consumer_offset.
fn delete_offset(body: &[u8]) -> Result<BytesMut> {
    let target = GetConsumerOffset::decode_exact(body)?;
    Ok(encode(&DeleteConsumerOffset {
        consumer: target.consumer,
        stream_id: target.stream_id,
        topic_id: target.topic_id,
        partition_id: target.partition_id,
        ack: Ack::Quorum,
    }))
}

/// The classic topic settings that precede the name in create and update.
struct ClassicTopicSettings {
    compression: u8,
    message_expiry: u64,
    max_topic_size: u64,
}

impl ClassicTopicSettings {
    fn read(reader: &mut Reader<'_>) -> Result<Self> {
        let settings = Self {
            compression: reader.u8("compression_algorithm")?,
            message_expiry: reader.u64("message_expiry")?,
            max_topic_size: reader.u64("max_topic_size")?,
        };
        let _replication_factor = reader.u8("replication_factor")?;
        Ok(settings)
    }

    /// The option block, keys in sorted order as the 0.11 SDK sends them.
    fn options(&self) -> Result<Options> {
        let compression = match self.compression {
            1 => "none",
            2 => "gzip",
            other => {
                return Err(NativeWireError::InvalidValue {
                    field: "compression_algorithm",
                    value: u64::from(other),
                }
                .into());
            }
        };
        Ok(Options {
            entries: vec![
                HeaderEntry::string("compression_algorithm", compression),
                u64_entry("max_topic_size", self.max_topic_size),
                u64_entry("message_expiry", self.message_expiry),
            ],
        })
    }
}

fn u64_entry(key: &str, value: u64) -> HeaderEntry {
    HeaderEntry {
        key_kind: KIND_STRING,
        key: Bytes::copy_from_slice(key.as_bytes()),
        value_kind: KIND_UINT64,
        value: Bytes::copy_from_slice(&value.to_le_bytes()),
    }
}

/// Read the topic name that ends both topic bodies; nothing may follow it.
fn read_last_name(reader: &mut Reader<'_>) -> Result<String> {
    let name = reader.string_u8("topic_name", 1, NAME_BYTES_MAX)?;
    expect_end(reader, "classic_topic")?;
    Ok(name)
}

fn read_identifier(reader: &mut Reader<'_>, field: &'static str) -> Result<Identifier> {
    Ok(Identifier::read_field(reader, field)?)
}

/// Classic create_topic: `[stream id][partitions:u32][settings] name`.
fn create_topic(body: &[u8]) -> Result<BytesMut> {
    let mut reader = Reader::new(body);
    let stream_id = read_identifier(&mut reader, "stream_id")?;
    let partitions_count = reader.u32("partitions_count")?;
    let settings = ClassicTopicSettings::read(&mut reader)?;
    let name = read_last_name(&mut reader)?;
    Ok(encode(&CreateTopic {
        stream_id,
        partitions_count,
        name,
        options: settings.options()?,
    }))
}

/// Classic update_topic: `[stream id][topic id][settings] name`.
fn update_topic(body: &[u8]) -> Result<BytesMut> {
    let mut reader = Reader::new(body);
    let stream_id = read_identifier(&mut reader, "stream_id")?;
    let topic_id = read_identifier(&mut reader, "topic_id")?;
    let settings = ClassicTopicSettings::read(&mut reader)?;
    let name = read_last_name(&mut reader)?;
    Ok(encode(&UpdateTopic {
        stream_id,
        topic_id,
        name,
        options: settings.options()?,
    }))
}

#[cfg(test)]
#[path = "translate_tests.rs"]
mod tests;
