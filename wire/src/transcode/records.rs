//! Kafka magic-2 records inside a (decompressed) records section: a bounded reader that borrows
//! every field from the section, and the varint writers the native → Kafka direction uses.
//! Every length read is checked against the bytes left before it is used.

use crate::kafka::error::KafkaWireError;

/// One record, borrowed from the records section.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RecordView<'a> {
    /// Added to the batch's baseTimestamp.
    pub timestamp_delta: i64,
    /// Added to the batch's baseOffset.
    pub offset_delta: i32,
    /// `None` for a null key.
    pub key: Option<&'a [u8]>,
    /// `None` for a null value.
    pub value: Option<&'a [u8]>,
    /// Number of headers in `headers`.
    pub header_count: usize,
    /// The encoded headers, walked by [`HeaderCursor`].
    pub headers: &'a [u8],
}

/// A cursor over bytes with zigzag varint and length-prefixed field reads.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Cursor<'a> {
    bytes: &'a [u8],
    position: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, position: 0 }
    }

    /// Bytes read so far.
    pub(crate) fn position(&self) -> usize {
        self.position
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.position >= self.bytes.len()
    }

    /// A zigzag varint of at most `max_bytes` bytes; `None` if cut short or too long.
    fn varint(&mut self, max_bytes: usize) -> Option<i64> {
        crate::kafka::varint::read(self.bytes, &mut self.position, max_bytes)
    }

    fn take(&mut self, length: usize) -> Option<&'a [u8]> {
        let end = self.position.checked_add(length)?;
        let slice = self.bytes.get(self.position..end)?;
        self.position = end;
        Some(slice)
    }

    /// A varint length (−1 = null) and that many bytes, bounded by what is left.
    fn nullable_bytes(&mut self) -> Option<Option<&'a [u8]>> {
        match self.varint(5)? {
            -1 => Some(None),
            length => Some(Some(self.take(usize::try_from(length).ok()?)?)),
        }
    }

    /// Reads the record at the cursor and moves past it. `index` is for error reports.
    pub(crate) fn record(&mut self, index: usize) -> Result<RecordView<'a>, KafkaWireError> {
        let malformed = |reason| KafkaWireError::RecordMalformed { index, reason };
        let length = self.varint(5).ok_or_else(|| malformed("length"))?;
        let length = usize::try_from(length).map_err(|_| malformed("negative length"))?;
        let body = self
            .take(length)
            .ok_or_else(|| malformed("length past the end of the batch"))?;
        let mut inner = Cursor::new(body);
        inner.take(1).ok_or_else(|| malformed("attributes"))?;
        let timestamp_delta = inner
            .varint(10)
            .ok_or_else(|| malformed("timestampDelta"))?;
        let offset_delta = inner.varint(5).ok_or_else(|| malformed("offsetDelta"))?;
        let offset_delta = i32::try_from(offset_delta)
            .ok()
            .filter(|delta| *delta >= 0)
            .ok_or_else(|| malformed("offsetDelta"))?;
        let key = inner.nullable_bytes().ok_or_else(|| malformed("key"))?;
        let value = inner.nullable_bytes().ok_or_else(|| malformed("value"))?;
        let count = inner.varint(5).ok_or_else(|| malformed("header count"))?;
        let headers = body.get(inner.position..).unwrap_or_default();
        // Each header needs at least its two length varints.
        let header_count = usize::try_from(count)
            .ok()
            .filter(|count| count.saturating_mul(2) <= headers.len())
            .ok_or_else(|| malformed("header count"))?;
        Ok(RecordView {
            timestamp_delta,
            offset_delta,
            key,
            value,
            header_count,
            headers,
        })
    }

    /// Reads one header (non-null key, nullable value).
    pub(crate) fn header(&mut self) -> Option<(&'a [u8], Option<&'a [u8]>)> {
        let key = self.nullable_bytes()??;
        let value = self.nullable_bytes()?;
        Some((key, value))
    }
}

/// Walks every header of `record` into `out` (cleared first); an error if one does not parse
/// or bytes are left over.
pub(crate) fn collect_headers<'a>(
    record: &RecordView<'a>,
    index: usize,
    out: &mut Vec<(&'a [u8], Option<&'a [u8]>)>,
) -> Result<(), KafkaWireError> {
    out.clear();
    let mut cursor = Cursor::new(record.headers);
    for _ in 0..record.header_count {
        let header = cursor.header().ok_or(KafkaWireError::RecordMalformed {
            index,
            reason: "header",
        })?;
        out.push(header);
    }
    if !cursor.is_empty() {
        return Err(KafkaWireError::RecordMalformed {
            index,
            reason: "bytes after the last header",
        });
    }
    Ok(())
}

pub(crate) use crate::kafka::varint::{put as put_varint, size as varint_size};

/// Size of a length-prefixed field of `length` bytes (`None` = null, written as −1).
pub(crate) fn field_size(length: Option<usize>) -> usize {
    match length {
        None => varint_size(-1),
        Some(length) => varint_size(length as i64) + length,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn varints_round_trip_with_their_sizes() {
        for value in [
            0,
            -1,
            1,
            63,
            64,
            -65,
            300,
            i32::MAX as i64,
            i64::MIN,
            i64::MAX,
        ] {
            let mut out = Vec::new();
            put_varint(&mut out, value);
            assert_eq!(out.len(), varint_size(value), "{value}");
            assert_eq!(Cursor::new(&out).varint(10), Some(value));
        }
        assert_eq!(Cursor::new(&[0x80]).varint(5), None);
        assert_eq!(Cursor::new(&[0x80; 6]).varint(5), None);
    }

    #[test]
    fn lying_lengths_fail_without_panicking() {
        // length 3: attributes, ts 0, offset 0 — then key length 100 with nothing behind it.
        let bytes = [0x08, 0, 0, 0, 0xc8, 0x01];
        assert!(Cursor::new(&bytes).record(0).is_err());
        // header count 50 with no header bytes.
        let bytes = [0x0c, 0, 0, 0, 0x01, 0x01, 0x64];
        assert!(Cursor::new(&bytes).record(0).is_err());
        for cut in 0..bytes.len() {
            assert!(Cursor::new(&bytes[..cut]).record(0).is_err());
        }
    }
}
