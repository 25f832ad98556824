//! Native request decoding on arbitrary bytes, both framings. Protocol 0.11: the frame-size
//! peek, the 256-byte request header, request-checksum verification, every request-body decoder,
//! and the send_messages batch admission check. Classic (SDKs up to 0.10): the length peek, the
//! login bodies, the classic→0.11 body translation of every code (the send_messages index block
//! among them) and the 0.11→classic reply translation. Nothing may panic; every value that
//! decodes must survive an encode/decode round trip unchanged (the broker echoes and re-encodes
//! these).
//!
//! Bodies are tried twice: after a header that decodes (what the broker does), and on the input
//! after its first byte (so the fuzzer reaches body decoders without building a valid header).
#![no_main]

use libfuzzer_sys::fuzz_target;
use whippet_wire::native::batch::{records, validate_send_batch};
use whippet_wire::native::classic::{
    self, ClassicLogin, Translated, decode_token_login, reply_to_classic, request_to_current,
};
use whippet_wire::native::codec::{WireDecode, WireEncode};
use whippet_wire::native::commands::{
    describe_options, groups, messages, offsets, partitions, streams, system, tokens, topics, users,
};
use whippet_wire::native::header::{RequestHeader, peek_frame_size, verify_request_checksum};
use whippet_wire::native::identifier::Identifier;
use whippet_wire::native::user_headers::{Options, decode_user_headers};

/// Most batch records walked from one input; each costs at least a batch header, so this only
/// bounds the loop.
const RECORDS_MAX: usize = 1024;

fuzz_target!(|data: &[u8]| {
    let _ = peek_frame_size(data);
    if let Ok((header, used)) = RequestHeader::decode(data) {
        round_trip(&header);
        let body = &data[used..];
        let _ = header.body_len();
        let _ = header.command_code();
        let _ = header.operation.is_result_framed();
        let _ = verify_request_checksum(&header, body);
        bodies(body);
    }
    if let Some((_, rest)) = data.split_first() {
        bodies(rest);
    }
    classic_framing(data);
});

/// The classic framing: a frame at the front of `data` is translated as the broker would; the
/// input after a 4-byte code is tried as a body and as a 0.11 reply of that code.
fn classic_framing(data: &[u8]) {
    let _ = classic::peek_frame_len(data);
    if let Ok(Some(frame)) = classic::peek_request(data) {
        classic_body(frame.code, frame.payload(data));
    }
    if let Some((code, rest)) = data.split_first_chunk::<4>() {
        let code = u32::from_le_bytes(*code);
        classic_body(code, rest);
        let _ = reply_to_classic(code, rest);
    }
}

fn classic_body(code: u32, body: &[u8]) {
    let _ = ClassicLogin::decode(body);
    let _ = decode_token_login(body);
    if let Ok(Translated::Body(current)) = request_to_current(code, body) {
        // What the translation builds must be a body the 0.11 decoders accept.
        if code == 101 {
            let parsed = messages::SendMessages::parse(&current);
            assert!(parsed.is_ok(), "translated send_messages does not parse");
        }
    }
}

/// Decodes `value`'s encoding back and requires the same value.
fn round_trip<T: WireEncode + WireDecode + PartialEq + std::fmt::Debug>(value: &T) {
    let bytes = value.to_bytes();
    assert_eq!(bytes.len(), value.encoded_size(), "encoded_size disagrees");
    match T::decode_exact(&bytes) {
        Ok(again) => assert_eq!(&again, value, "round trip changed the value"),
        Err(error) => panic!("re-encoded {value:?} does not decode: {error}"),
    }
}

/// Tries `T::decode_exact` on `bytes` and round-trips what decodes.
fn body<T: WireEncode + WireDecode + PartialEq + std::fmt::Debug>(bytes: &[u8]) {
    if let Ok(value) = T::decode_exact(bytes) {
        round_trip(&value);
    }
}

fn bodies(bytes: &[u8]) {
    body::<Identifier>(bytes);
    body::<system::EmptyBody>(bytes);
    body::<system::GetClient>(bytes);
    body::<system::Register>(bytes);
    body::<users::UserRef>(bytes);
    body::<users::CreateUser>(bytes);
    body::<users::UpdateUser>(bytes);
    body::<users::UpdatePermissions>(bytes);
    body::<users::ChangePassword>(bytes);
    body::<tokens::CreateToken>(bytes);
    body::<tokens::DeleteToken>(bytes);
    body::<messages::PollMessages>(bytes);
    body::<messages::FlushUnsavedBuffer>(bytes);
    body::<offsets::GetConsumerOffset>(bytes);
    body::<offsets::StoreConsumerOffset>(bytes);
    body::<offsets::DeleteConsumerOffset>(bytes);
    body::<streams::StreamRef>(bytes);
    body::<streams::CreateStream>(bytes);
    body::<streams::UpdateStream>(bytes);
    body::<topics::TopicRef>(bytes);
    body::<topics::CreateTopic>(bytes);
    body::<topics::UpdateTopic>(bytes);
    body::<partitions::PartitionsChange>(bytes);
    body::<partitions::DeleteSegments>(bytes);
    body::<describe_options::DescribeOptions>(bytes);
    body::<groups::GroupRef>(bytes);
    body::<groups::CreateConsumerGroup>(bytes);
    let _ = partitions::PartitionsChange::decode_checked(bytes);
    let _ = decode_user_headers(bytes);
    let _ = Options::decode_block(bytes);
    send_messages(bytes);
}

/// send_messages: split metadata from batch, run admission, and walk stored-format records.
fn send_messages(bytes: &[u8]) {
    if let Ok(send) = messages::SendMessages::parse(bytes) {
        round_trip(&send.metadata);
        if let Ok(summary) = send.validate() {
            let _ = summary;
        }
    }
    let _ = validate_send_batch(bytes);
    for record in records(bytes).take(RECORDS_MAX) {
        let Ok(record) = record else { break };
        for message in record.messages().take(RECORDS_MAX) {
            if message.is_err() {
                break;
            }
        }
    }
}
