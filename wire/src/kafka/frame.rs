//! Kafka framing: every frame is a big-endian i32 size followed by that many bytes. The size is
//! checked before any body byte is buffered, so a hostile prefix costs four bytes, not memory.

use bytes::{Buf, Bytes, BytesMut};

use super::error::{KafkaWireError, Result};
use super::limits::{FRAME_PREFIX_BYTES, REQUEST_BYTES_MAX};

/// Reads the size prefix at the start of `buf`.
///
/// Returns `Ok(None)` while fewer than four bytes have arrived, `Ok(Some(len))` with the body
/// length once the prefix is there (the body itself may still be incomplete), and an error for
/// a negative size or one above [`REQUEST_BYTES_MAX`]; the caller then closes the connection
/// without reading further.
pub fn frame_length(buf: &[u8]) -> Result<Option<usize>> {
    frame_length_with_max(buf, REQUEST_BYTES_MAX)
}

/// Same as [`frame_length`] with an explicit limit, for callers configured below the default
/// (the broker's `socket.request.max.bytes` equivalent).
pub fn frame_length_with_max(buf: &[u8], max: usize) -> Result<Option<usize>> {
    let Some(prefix) = buf.get(..FRAME_PREFIX_BYTES) else {
        return Ok(None);
    };
    let mut prefix_bytes = [0u8; FRAME_PREFIX_BYTES];
    prefix_bytes.copy_from_slice(prefix);
    let size = i32::from_be_bytes(prefix_bytes);
    let len = usize::try_from(size).map_err(|_| KafkaWireError::FrameSizeNegative { size })?;
    if len > max {
        return Err(KafkaWireError::FrameTooLarge { size: len, max });
    }
    Ok(Some(len))
}

/// Splits one complete frame body (prefix removed) off the front of `buf`, or returns
/// `Ok(None)` and leaves `buf` untouched if the frame has not fully arrived yet. The returned
/// `Bytes` shares the read buffer's allocation, so no copy is made.
pub fn split_frame(buf: &mut BytesMut) -> Result<Option<Bytes>> {
    split_frame_with_max(buf, REQUEST_BYTES_MAX)
}

/// Same as [`split_frame`] with an explicit size limit.
pub fn split_frame_with_max(buf: &mut BytesMut, max: usize) -> Result<Option<Bytes>> {
    let Some(len) = frame_length_with_max(buf, max)? else {
        return Ok(None);
    };
    if buf.len() - FRAME_PREFIX_BYTES < len {
        // Let the caller reserve what the rest of the frame needs; the size is already bounded.
        return Ok(None);
    }
    buf.advance(FRAME_PREFIX_BYTES);
    Ok(Some(buf.split_to(len).freeze()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn framed(body: &[u8]) -> BytesMut {
        let mut buf = BytesMut::new();
        buf.extend_from_slice(&i32::try_from(body.len()).unwrap().to_be_bytes());
        buf.extend_from_slice(body);
        buf
    }

    #[test]
    fn short_prefix_needs_more() {
        for cut in 0..FRAME_PREFIX_BYTES {
            assert_eq!(frame_length(&[0, 0, 0, 9][..cut]).unwrap(), None);
        }
    }

    #[test]
    fn reads_length_before_body() {
        assert_eq!(frame_length(&[0, 0, 1, 2]).unwrap(), Some(258));
    }

    #[test]
    fn negative_size_rejected() {
        let err = frame_length(&(-1i32).to_be_bytes()).unwrap_err();
        assert!(matches!(
            err,
            KafkaWireError::FrameSizeNegative { size: -1 }
        ));
        let err = frame_length(&i32::MIN.to_be_bytes()).unwrap_err();
        assert!(matches!(err, KafkaWireError::FrameSizeNegative { .. }));
    }

    #[test]
    fn oversized_rejected_but_limit_itself_accepted() {
        let max = i32::try_from(REQUEST_BYTES_MAX).unwrap();
        assert_eq!(
            frame_length(&max.to_be_bytes()).unwrap(),
            Some(REQUEST_BYTES_MAX)
        );
        let err = frame_length(&(max + 1).to_be_bytes()).unwrap_err();
        assert!(matches!(err, KafkaWireError::FrameTooLarge { .. }));
        let err = frame_length_with_max(&11i32.to_be_bytes(), 10).unwrap_err();
        assert!(matches!(
            err,
            KafkaWireError::FrameTooLarge { size: 11, max: 10 }
        ));
    }

    #[test]
    fn split_waits_for_whole_frame_then_takes_exactly_one() {
        let mut buf = framed(b"hello");
        buf.extend_from_slice(&framed(b"xy"));
        let whole = buf.clone();
        for cut in 0..(FRAME_PREFIX_BYTES + 5) {
            let mut partial = BytesMut::from(&whole[..cut]);
            assert_eq!(split_frame(&mut partial).unwrap(), None);
            assert_eq!(partial.len(), cut, "partial frame must be left in place");
        }
        assert_eq!(split_frame(&mut buf).unwrap().unwrap(), &b"hello"[..]);
        assert_eq!(split_frame(&mut buf).unwrap().unwrap(), &b"xy"[..]);
        assert!(buf.is_empty());
        assert_eq!(split_frame(&mut buf).unwrap(), None);
    }

    #[test]
    fn empty_frame_is_a_frame() {
        let mut buf = framed(b"");
        assert_eq!(split_frame(&mut buf).unwrap().unwrap().len(), 0);
    }

    #[test]
    fn split_rejects_oversized_without_consuming() {
        let mut buf = BytesMut::from(&(-5i32).to_be_bytes()[..]);
        assert!(split_frame(&mut buf).is_err());
        assert_eq!(buf.len(), 4);
    }
}
