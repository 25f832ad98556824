//! Request decoding: one frame body (size prefix already removed) into the request header and
//! the typed request from `kafka-protocol`. The key and version are peeked and checked here,
//! before the crate sees the bytes, so every way a request can be wrong has its own error and
//! none of them panics.
//!
//! Known gap (upstream): `kafka-protocol` 0.18 sizes `Vec::with_capacity` from array counts
//! read off the wire without bounding them by the bytes left, so a small body declaring a huge
//! array can make the allocator abort the process. ApiVersions, SaslHandshake and
//! SaslAuthenticate bodies contain no arrays, so with SASL enabled only authenticated peers can
//! reach that path. Removing it needs a fixed crate release (pull requests are open upstream).

use bytes::Bytes;
use kafka_protocol::messages::{ApiKey, RequestHeader, RequestKind};
use kafka_protocol::protocol::Decodable;

use super::error::{KafkaWireError, Result};
use super::limits::{REQUEST_HEADER_BYTES_MIN, REQUEST_KEY_VERSION_BYTES};

/// Reads the API key and version from the first four bytes of a request body without
/// decoding anything else, so the broker can log or route a request it will not decode.
pub fn peek_key_version(frame: &[u8]) -> Result<(i16, i16)> {
    match frame.get(..REQUEST_KEY_VERSION_BYTES) {
        Some(&[k0, k1, v0, v1]) => Ok((i16::from_be_bytes([k0, k1]), i16::from_be_bytes([v0, v1]))),
        _ => Err(KafkaWireError::RequestTooShort {
            len: frame.len(),
            needed: REQUEST_KEY_VERSION_BYTES,
        }),
    }
}

/// Decodes only the request header, leaving `frame` positioned at the start of the body.
///
/// This is what the broker needs when it must answer without a body, and it is the first half
/// of [`decode_request`]. Errors: too short, unknown API key, or a malformed header.
pub fn decode_request_header(frame: &mut Bytes) -> Result<(ApiKey, RequestHeader)> {
    let (raw_key, raw_version) = peek_key_version(frame)?;
    let api_key = ApiKey::try_from(raw_key)
        .map_err(|()| KafkaWireError::UnknownApiKey { api_key: raw_key })?;
    if frame.len() < REQUEST_HEADER_BYTES_MIN {
        return Err(KafkaWireError::RequestTooShort {
            len: frame.len(),
            needed: REQUEST_HEADER_BYTES_MIN,
        });
    }
    let header_version = api_key.request_header_version(raw_version);
    let header =
        RequestHeader::decode(frame, header_version).map_err(|e| KafkaWireError::HeaderDecode {
            api_key: raw_key,
            api_version: raw_version,
            reason: e.to_string(),
        })?;
    Ok((api_key, header))
}

/// Decodes a whole request frame body into its header and typed request.
///
/// The version is checked against the range `kafka-protocol` can decode for the key
/// ([`KafkaWireError::UnsupportedVersion`]); the body is decoded only when it is in range
/// ([`KafkaWireError::BodyDecode`] otherwise). Both of those errors still carry the header
/// (see [`KafkaWireError::request_header`]) because an ApiVersions request must be answered
/// even when its version is newer than ours and its body cannot be read. Trailing bytes after
/// the body are ignored, as Kafka brokers do.
pub fn decode_request(mut frame: Bytes) -> Result<(RequestHeader, RequestKind)> {
    let (api_key, header) = decode_request_header(&mut frame)?;
    let version = header.request_api_version;
    let range = api_key.valid_versions();
    if version < range.min || version > range.max {
        return Err(KafkaWireError::UnsupportedVersion {
            header: Box::new(header),
            min: range.min,
            max: range.max,
        });
    }
    match RequestKind::decode(api_key, &mut frame, version) {
        Ok(kind) => Ok((header, kind)),
        Err(e) => Err(KafkaWireError::BodyDecode {
            header: Box::new(header),
            reason: e.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BytesMut;
    use kafka_protocol::messages::{ApiVersionsRequest, MetadataRequest};
    use kafka_protocol::protocol::{Encodable, StrBytes};

    fn encode(key: ApiKey, version: i16, corr: i32, body: &RequestKind) -> Bytes {
        let mut buf = BytesMut::new();
        RequestHeader::default()
            .with_request_api_key(key as i16)
            .with_request_api_version(version)
            .with_correlation_id(corr)
            .with_client_id(Some(StrBytes::from_static_str("t")))
            .encode(&mut buf, key.request_header_version(version))
            .unwrap();
        body.encode(&mut buf, version).unwrap();
        buf.freeze()
    }

    #[test]
    fn metadata_round_trip() {
        let body = RequestKind::Metadata(MetadataRequest::default().with_topics(None));
        let (header, kind) = decode_request(encode(ApiKey::Metadata, 12, 7, &body)).unwrap();
        assert_eq!(header.correlation_id, 7);
        assert_eq!(header.request_api_version, 12);
        assert_eq!(kind, body);
    }

    #[test]
    fn too_short_and_unknown_key_are_distinct() {
        let err = decode_request(Bytes::from_static(&[0, 3, 0])).unwrap_err();
        assert!(matches!(
            err,
            KafkaWireError::RequestTooShort { len: 3, .. }
        ));
        let err =
            decode_request(Bytes::from_static(&[0x7f, 0, 0, 0, 0, 0, 0, 1, 0, 0])).unwrap_err();
        assert!(matches!(
            err,
            KafkaWireError::UnknownApiKey { api_key: 0x7f00 }
        ));
        let err = decode_request(Bytes::from_static(&[0, 3, 0, 1, 0, 0])).unwrap_err();
        assert!(matches!(
            err,
            KafkaWireError::RequestTooShort { len: 6, needed: 10 }
        ));
    }

    #[test]
    fn version_above_crate_range_keeps_header() {
        // A future client sends ApiVersions v9 with a v2 header, like v4.
        let body = RequestKind::ApiVersions(ApiVersionsRequest::default());
        let frame = encode(ApiKey::ApiVersions, 4, 41, &body);
        let mut raw = BytesMut::from(&frame[..]);
        raw[2..4].copy_from_slice(&9i16.to_be_bytes());
        let err = decode_request(raw.freeze()).unwrap_err();
        let KafkaWireError::UnsupportedVersion { min, max, .. } = &err else {
            panic!("wrong error {err:?}");
        };
        assert_eq!((*min, *max), (0, 4));
        assert_eq!(err.request_header().unwrap().correlation_id, 41);
    }

    #[test]
    fn body_failure_keeps_header() {
        // ApiVersions v3 carries two compact strings; cut them off.
        let body = RequestKind::ApiVersions(
            ApiVersionsRequest::default()
                .with_client_software_name(StrBytes::from_static_str("whippet-test"))
                .with_client_software_version(StrBytes::from_static_str("1.0")),
        );
        let frame = encode(ApiKey::ApiVersions, 3, 5, &body);
        let err = decode_request(frame.slice(..frame.len() - 3)).unwrap_err();
        assert!(matches!(err, KafkaWireError::BodyDecode { .. }), "{err:?}");
        assert_eq!(err.request_header().unwrap().correlation_id, 5);
    }

    #[test]
    fn header_cut_in_client_id_is_a_header_error() {
        // client_id claims 200 bytes but only 1 follows.
        let raw = [0u8, 18, 0, 0, 0, 0, 0, 1, 0, 200, b'x'];
        let err = decode_request(Bytes::copy_from_slice(&raw)).unwrap_err();
        assert!(
            matches!(err, KafkaWireError::HeaderDecode { api_key: 18, .. }),
            "{err:?}"
        );
        assert!(err.request_header().is_none());
    }
}
