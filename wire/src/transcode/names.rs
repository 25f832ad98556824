//! Reserved names built on the stack, typed-header kinds, and the sink both header planners
//! write through (one that counts bytes, one that encodes), so the size a planner reports is
//! exactly what it writes.

use bytes::{BufMut, BytesMut};

use super::limits::{CHUNK_BYTES, RESERVED_NAME_BYTES_MAX};
use super::reserved::{EMPTY_SUFFIX, NULL_SUFFIX, SUFFIX_SEPARATOR};

/// Native header kind: raw bytes.
pub(crate) const KIND_RAW: u8 = 1;
/// Native header kind: UTF-8 string.
pub(crate) const KIND_STRING: u8 = 2;
/// Native header kind: bool (one byte).
pub(crate) const KIND_BOOL: u8 = 3;
/// Value of every marker header (bool true).
pub(crate) const TRUE: &[u8] = &[1];

/// Bytes of one encoded native header entry beyond its key and value: two kinds, two lengths.
pub(crate) const ENTRY_OVERHEAD_BYTES: usize = 10;

/// Size a value of `kind` must have, for the fixed-size kinds of `native-protocol.md` §4.7.
pub(crate) use crate::native::user_headers::kind_size as fixed_size;

/// Whether `bytes` can be one native header field of `kind` (1..=255 bytes, the kind's size).
pub(crate) fn fits(kind: u8, bytes: &[u8]) -> bool {
    (1..=CHUNK_BYTES).contains(&bytes.len()) && fixed_size(kind).is_none_or(|n| n == bytes.len())
}

/// A reserved name assembled without allocating.
#[derive(Clone, Copy)]
pub(crate) struct Name {
    buf: [u8; RESERVED_NAME_BYTES_MAX],
    len: usize,
}

impl Name {
    pub(crate) fn new(base: &str) -> Self {
        let mut name = Self {
            buf: [0; RESERVED_NAME_BYTES_MAX],
            len: 0,
        };
        name.push(base.as_bytes());
        name
    }

    /// Appends `bytes`; every name we build is far below the buffer size (see the limit).
    pub(crate) fn push(&mut self, bytes: &[u8]) {
        let end = self.len + bytes.len();
        if let Some(target) = self.buf.get_mut(self.len..end) {
            target.copy_from_slice(bytes);
            self.len = end;
        }
    }

    pub(crate) fn push_decimal(&mut self, mut value: u64) {
        let mut digits = [0u8; 20];
        let mut start = digits.len();
        loop {
            start -= 1;
            digits[start] = b'0' + (value % 10) as u8;
            value /= 10;
            if value == 0 {
                break;
            }
        }
        self.push(&digits[start..]);
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    fn with_suffix(&self, suffix: &[u8]) -> Self {
        let mut name = *self;
        name.push(&[SUFFIX_SEPARATOR]);
        name.push(suffix);
        name
    }

    fn with_chunk(&self, chunk: usize) -> Self {
        let mut name = *self;
        name.push(&[SUFFIX_SEPARATOR]);
        name.push_decimal(chunk as u64);
        name
    }
}

/// Where planned native header entries go.
pub(crate) trait Sink {
    /// One entry `[key_kind][key_len][key][value_kind][value_len][value]`.
    fn entry(&mut self, key_kind: u8, key: &[u8], value_kind: u8, value: &[u8]);
}

/// Counts the encoded size of the entries.
#[derive(Default)]
pub(crate) struct SizeSink(pub usize);

impl Sink for SizeSink {
    fn entry(&mut self, _: u8, key: &[u8], _: u8, value: &[u8]) {
        self.0 += ENTRY_OVERHEAD_BYTES + key.len() + value.len();
    }
}

impl Sink for BytesMut {
    fn entry(&mut self, key_kind: u8, key: &[u8], value_kind: u8, value: &[u8]) {
        self.put_u8(key_kind);
        self.put_u32_le(key.len() as u32);
        self.put_slice(key);
        self.put_u8(value_kind);
        self.put_u32_le(value.len() as u32);
        self.put_slice(value);
    }
}

/// Emits a field of any length under `base`: `None` → `base#null`, empty → `base#empty`,
/// otherwise `base`, `base#1`, `base#2`… holding consecutive chunks of [`CHUNK_BYTES`].
pub(crate) fn put_field(sink: &mut impl Sink, base: &Name, value: Option<&[u8]>) {
    match value {
        None => sink.entry(
            KIND_STRING,
            base.with_suffix(NULL_SUFFIX.as_bytes()).as_bytes(),
            KIND_BOOL,
            TRUE,
        ),
        Some([]) => sink.entry(
            KIND_STRING,
            base.with_suffix(EMPTY_SUFFIX.as_bytes()).as_bytes(),
            KIND_BOOL,
            TRUE,
        ),
        Some(bytes) => {
            for (chunk, part) in bytes.chunks(CHUNK_BYTES).enumerate() {
                let name = if chunk == 0 {
                    *base
                } else {
                    base.with_chunk(chunk)
                };
                sink.entry(KIND_STRING, name.as_bytes(), KIND_RAW, part);
            }
        }
    }
}
