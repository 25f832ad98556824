//! Kafka request decoding on arbitrary bytes: the size-prefix framing (`frame_length`,
//! `split_frame`) and `decode_request` (header peek, key and version checks, then the
//! `kafka-protocol` body decoder), plus the error accessors and the ApiVersions
//! UNSUPPORTED_VERSION answer the broker builds from a failed decode. Nothing may panic or
//! abort; a frame split off must be exactly as long as its prefix says.
//!
//! The input is tried twice: as a stream of size-prefixed frames (what the broker reads off a
//! socket) and as one frame body (so the fuzzer need not learn the prefix to reach the decoder).
//! Calls into `kafka-protocol` run under the lazy-huge-allocation guard (see `whippet_fuzz`),
//! because of that crate's known unbounded pre-allocation.
#![no_main]

use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use whippet_fuzz::{LazyHugeAlloc, with_lazy_huge_allocations};
use whippet_wire::kafka::{
    KafkaWireError, decode_request, encode_api_versions_unsupported, frame_length,
    peek_key_version, registry, split_frame,
};

#[global_allocator]
static ALLOC: LazyHugeAlloc = LazyHugeAlloc;

/// Most frames taken from one input: each frame costs at least its 4-byte prefix, so this is
/// only a bound for the loop, never reached by a small input.
const FRAMES_MAX: usize = 1024;

fuzz_target!(|data: &[u8]| {
    let _ = peek_key_version(data);
    let declared = frame_length(data);

    let mut stream = BytesMut::from(data);
    for index in 0..FRAMES_MAX {
        let before = stream.len();
        match split_frame(&mut stream) {
            Ok(Some(frame)) => {
                if index == 0
                    && let Ok(Some(len)) = declared
                {
                    assert_eq!(frame.len(), len, "frame length differs from its prefix");
                }
                assert_eq!(
                    before - stream.len(),
                    frame.len() + 4,
                    "split consumed wrongly"
                );
                decode(frame);
            }
            Ok(None) | Err(_) => {
                assert_eq!(
                    stream.len(),
                    before,
                    "a refused split must not consume bytes"
                );
                break;
            }
        }
    }

    decode(Bytes::copy_from_slice(data));
});

fn decode(frame: Bytes) {
    match with_lazy_huge_allocations(|| decode_request(frame)) {
        Ok((header, _kind)) => {
            // A decoded request always carries a key the codec knows and a version in range.
            let key = kafka_protocol::messages::ApiKey::try_from(header.request_api_key);
            assert!(key.is_ok(), "decoded a request with an unknown key");
        }
        Err(error) => answer_error(&error),
    }
}

/// Builds what the broker would send for a refused request, so the error paths are covered too.
fn answer_error(error: &KafkaWireError) {
    let _ = error.to_string();
    let _ = error.batch_response_error();
    if let Some(header) = error.request_header() {
        let mut out = BytesMut::new();
        let supported = registry::api_version_entries(&registry::all_keys());
        let encoded = encode_api_versions_unsupported(&mut out, header.correlation_id, supported);
        assert!(
            encoded.is_ok(),
            "UNSUPPORTED_VERSION answer failed: {encoded:?}"
        );
    }
}
