//! The result section that opens result-framed reply bodies (§2.3):
//! `[count:u32]` then `count × {index:u32, result:u32}`. Success is `count 0` followed by the
//! payload; a business rejection is one entry `{0, code}` and no payload.

use bytes::{BufMut, BytesMut};

use crate::native::codec::{Reader, WireDecode, WireEncode, bounded_capacity, check_range};
use crate::native::error::Result;
use crate::native::header::Operation;
use crate::native::limits::LIST_ENTRIES_MAX;
use crate::native::status::Status;

/// One `{index, result}` entry: the operation index inside the request and its error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResultEntry {
    /// Position of the failed operation within the request (0 for single-op requests).
    pub index: u32,
    /// Iggy error code for that operation.
    pub result: u32,
}

/// A decoded or to-be-encoded result section.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ResultSection {
    /// Failed operations; empty on success.
    pub entries: Vec<ResultEntry>,
}

impl ResultSection {
    /// The success section (`count 0`), after which the payload follows.
    #[must_use]
    pub fn ok() -> Self {
        Self::default()
    }

    /// A single-operation business rejection; the reply carries no payload after it.
    #[must_use]
    pub fn rejected(status: Status) -> Self {
        Self {
            entries: vec![ResultEntry {
                index: 0,
                result: status.code(),
            }],
        }
    }

    /// Whether every operation succeeded.
    #[must_use]
    pub fn is_ok(&self) -> bool {
        self.entries.is_empty()
    }
}

impl WireEncode for ResultSection {
    fn encoded_size(&self) -> usize {
        4 + 8 * self.entries.len()
    }

    fn encode(&self, out: &mut BytesMut) {
        out.put_u32_le(self.entries.len() as u32);
        for entry in &self.entries {
            out.put_u32_le(entry.index);
            out.put_u32_le(entry.result);
        }
    }
}

impl WireDecode for ResultSection {
    fn decode(bytes: &[u8]) -> Result<(Self, usize)> {
        let mut reader = Reader::new(bytes);
        let count = reader.u32("result_count")?;
        check_range("result_count", u64::from(count), 0, LIST_ENTRIES_MAX as u64)?;
        let mut entries =
            Vec::with_capacity(bounded_capacity(count as usize, 8, reader.remaining()));
        for _ in 0..count {
            entries.push(ResultEntry {
                index: reader.u32("result_index")?,
                result: reader.u32("result_code")?,
            });
        }
        Ok((Self { entries }, reader.position()))
    }
}

/// Build a successful reply body for `operation`: `count 0` then the payload when the operation
/// is result-framed (§2.3), the bare payload otherwise. Keeping the choice here means no handler
/// can frame a reply differently from what the SDK expects for the echoed operation byte.
#[must_use]
pub fn ok_reply_body(operation: Operation, payload: &impl WireEncode) -> BytesMut {
    let framed = operation.is_result_framed();
    let prefix = if framed { 4 } else { 0 };
    let mut out = BytesMut::with_capacity(prefix + payload.encoded_size());
    if framed {
        ResultSection::ok().encode(&mut out);
    }
    payload.encode(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::native::codec::testing::roundtrip_strict;

    #[test]
    fn ok_is_four_zero_bytes() {
        assert_eq!(roundtrip_strict(&ResultSection::ok()), vec![0, 0, 0, 0]);
    }

    #[test]
    fn rejection_layout() {
        let bytes = roundtrip_strict(&ResultSection::rejected(Status::StreamNameAlreadyExists));
        assert_eq!(bytes, vec![1, 0, 0, 0, 0, 0, 0, 0, 0xf4, 0x03, 0, 0]);
        assert!(!ResultSection::decode_exact(&bytes).unwrap().is_ok());
    }

    #[test]
    fn ok_reply_body_frames_by_operation() {
        let payload = ResultEntry {
            index: 0,
            result: 0,
        };
        let framed = ok_reply_body(Operation::Replicated(128), &EntryPayload(payload));
        assert_eq!(&framed[..], &[0, 0, 0, 0, 7, 0, 0, 0]);
        let bare = ok_reply_body(Operation::NonReplicated, &EntryPayload(payload));
        assert_eq!(&bare[..], &[7, 0, 0, 0]);
        let delete_segments = ok_reply_body(Operation::Replicated(138), &EntryPayload(payload));
        assert_eq!(delete_segments.len(), 4);
    }

    struct EntryPayload(ResultEntry);

    impl WireEncode for EntryPayload {
        fn encoded_size(&self) -> usize {
            4
        }

        fn encode(&self, out: &mut BytesMut) {
            out.put_u32_le(7 + self.0.result);
        }
    }

    #[test]
    fn huge_count_fails_without_allocating() {
        assert!(ResultSection::decode(&[0xff, 0xff, 0xff, 0x00]).is_err());
    }
}
