//! Response encoding: size prefix, response header of the version the API demands, body. The
//! header version comes from `kafka-protocol`, which already knows that ApiVersions answers
//! always use header v0 so a client can read them before it knows what the broker speaks.

use bytes::{BufMut, BytesMut};
use kafka_protocol::ResponseError;
use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::{ApiVersionsResponse, ResponseHeader, ResponseKind};
use kafka_protocol::protocol::Encodable;

use super::error::{KafkaWireError, Result};
use super::limits::FRAME_PREFIX_BYTES;

/// Largest response header: correlation id plus an empty tagged-field section.
const RESPONSE_HEADER_BYTES_MAX: usize = 8;

/// Appends one complete response frame (size prefix, header, body) to `out`.
///
/// `version` is the request's API version; the body is encoded at that version and the header
/// at the version that API requires. On error nothing is left appended, so `out` can be a
/// connection's shared write buffer.
pub fn encode_response(
    out: &mut BytesMut,
    correlation_id: i32,
    version: i16,
    body: &ResponseKind,
) -> Result<()> {
    let start = out.len();
    reserve_for_records(out, version, body);
    out.put_i32(0);
    let written = ResponseHeader::default()
        .with_correlation_id(correlation_id)
        .encode(out, body.header_version(version))
        .and_then(|()| body.encode(out, version))
        .map_err(|e| KafkaWireError::Encode {
            reason: e.to_string(),
        })
        .and_then(|()| fill_size_prefix(out, start));
    if written.is_err() {
        out.truncate(start);
    }
    written
}

/// Room for a Fetch response (megabytes of record batches) before it is encoded, so the buffer
/// is allocated once at its size instead of doubling from its idle size and copying each time.
/// Other responses are small. A size that cannot be computed reserves nothing; encoding reports
/// the error.
fn reserve_for_records(out: &mut BytesMut, version: i16, body: &ResponseKind) {
    if let ResponseKind::Fetch(fetch) = body
        && let Ok(size) = fetch.compute_size(version)
    {
        out.reserve(FRAME_PREFIX_BYTES + RESPONSE_HEADER_BYTES_MAX + size);
    }
}

/// Appends the answer to an ApiVersions request whose version is above what we support: a v0
/// body with UNSUPPORTED_VERSION (35) listing `supported` (at least ApiVersions' own range),
/// under a v0 header. Clients read the range for key 18 and retry with a version we speak.
pub fn encode_api_versions_unsupported(
    out: &mut BytesMut,
    correlation_id: i32,
    supported: Vec<ApiVersion>,
) -> Result<()> {
    let body = ResponseKind::ApiVersions(
        ApiVersionsResponse::default()
            .with_error_code(ResponseError::UnsupportedVersion.code())
            .with_api_keys(supported),
    );
    encode_response(out, correlation_id, 0, &body)
}

/// Writes the length of everything after the prefix at `start` into the prefix.
fn fill_size_prefix(out: &mut BytesMut, start: usize) -> Result<()> {
    let body_len = out.len() - start - FRAME_PREFIX_BYTES;
    let size = i32::try_from(body_len).map_err(|_| KafkaWireError::Encode {
        reason: format!("response of {body_len} bytes does not fit an i32 size prefix"),
    })?;
    out[start..start + FRAME_PREFIX_BYTES].copy_from_slice(&size.to_be_bytes());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kafka::frame::split_frame;
    use crate::kafka::registry::{BROKER_APIS, api_version_entries, api_versions_response};
    use bytes::{Buf, Bytes};
    use kafka_protocol::messages::{ApiKey, MetadataResponse};
    use kafka_protocol::protocol::Decodable;

    fn one_frame(out: &mut BytesMut) -> Bytes {
        let frame = split_frame(out).unwrap().unwrap();
        assert!(out.is_empty(), "exactly one frame expected");
        frame
    }

    #[test]
    fn api_versions_always_uses_header_v0() {
        for version in 0..=4 {
            let mut out = BytesMut::new();
            let body = ResponseKind::ApiVersions(api_versions_response(&[ApiKey::ApiVersions]));
            encode_response(&mut out, 99, version, &body).unwrap();
            let mut frame = one_frame(&mut out);
            assert_eq!(frame.get_i32(), 99);
            // With a v0 header the body's error code follows the correlation id directly.
            let decoded = ApiVersionsResponse::decode(&mut frame, version).unwrap();
            assert_eq!(decoded.api_keys.len(), 1);
            assert!(!frame.has_remaining());
        }
    }

    #[test]
    fn flexible_metadata_uses_header_v1() {
        let body = ResponseKind::Metadata(MetadataResponse::default());
        let mut out = BytesMut::new();
        encode_response(&mut out, 7, 12, &body).unwrap();
        let mut frame = one_frame(&mut out);
        let header = ResponseHeader::decode(&mut frame, 1).unwrap();
        assert_eq!(header.correlation_id, 7);
        assert_eq!(
            MetadataResponse::decode(&mut frame, 12).unwrap(),
            MetadataResponse::default()
        );
        // v8 is not flexible: header v0, so the body starts right after the correlation id.
        encode_response(&mut out, 8, 8, &body).unwrap();
        let mut frame = one_frame(&mut out);
        assert_eq!(frame.get_i32(), 8);
        assert_eq!(
            MetadataResponse::decode(&mut frame, 8).unwrap(),
            MetadataResponse::default()
        );
    }

    #[test]
    fn unsupported_version_answer_is_v0_layout() {
        let mut out = BytesMut::new();
        encode_api_versions_unsupported(&mut out, 3, api_version_entries(&[ApiKey::ApiVersions]))
            .unwrap();
        let frame = one_frame(&mut out);
        // correlation id, error 35, i32 array count 1, (18, 0, 4): nothing else.
        let expected: &[u8] = &[0, 0, 0, 3, 0, 35, 0, 0, 0, 1, 0, 18, 0, 0, 0, 4];
        assert_eq!(&frame[..], expected);
        encode_api_versions_unsupported(
            &mut out,
            4,
            api_version_entries(&[ApiKey::Produce, ApiKey::ApiVersions]),
        )
        .unwrap();
        let mut frame = one_frame(&mut out);
        assert_eq!(frame.get_i32(), 4);
        let decoded = ApiVersionsResponse::decode(&mut frame, 0).unwrap();
        assert_eq!(decoded.error_code, 35);
        assert_eq!(decoded.api_keys.len(), 2);
        assert!(BROKER_APIS.len() > 2);
    }

    #[test]
    fn failed_encode_leaves_buffer_untouched() {
        let mut out = BytesMut::from(&b"keep"[..]);
        // Metadata v99 does not exist: the encoder refuses it.
        let err = encode_response(
            &mut out,
            1,
            99,
            &ResponseKind::Metadata(MetadataResponse::default()),
        );
        assert!(matches!(err, Err(KafkaWireError::Encode { .. })));
        assert_eq!(&out[..], b"keep");
    }

    #[test]
    fn frames_append_after_existing_bytes() {
        let mut out = BytesMut::new();
        let body = ResponseKind::Metadata(MetadataResponse::default());
        encode_response(&mut out, 1, 1, &body).unwrap();
        encode_response(&mut out, 2, 1, &body).unwrap();
        let mut first = split_frame(&mut out).unwrap().unwrap();
        let mut second = split_frame(&mut out).unwrap().unwrap();
        assert_eq!((first.get_i32(), second.get_i32()), (1, 2));
        assert!(out.is_empty());
    }
}
