//! Responses as a list of buffers, for answers that carry stored record batches (Fetch): the
//! batches go out as the `Bytes` the log holds, written with one vectored write, instead of
//! being copied into the connection's write buffer.
//!
//! `kafka-protocol` encodes into any [`ByteBufMut`]; [`ChunkedBuf`] is one whose `put_slice`
//! recognises, by address and length, the record sections it was given ([`ChunkedBuf::keep`]) and
//! keeps a reference to them instead of copying. Everything else (headers, offsets, lengths) is
//! copied into a small buffer between them. The bytes that come out are exactly what
//! [`super::encode_response`] writes; the tests check that byte for byte.
//!
//! A partition whose answer spans several stored batches need not be concatenated either: its
//! response holds the first batch, and a [`RecordTail`] names the ones that follow. When the
//! first is written, its length prefix (the bytes just before it, checked to be exactly that
//! prefix) is rewritten to cover the whole run, and the rest follow it by reference.
//!
//! `unsafe` is allowed here for one reason: `BufMut` (which `ByteBufMut` extends) is an unsafe
//! trait. Its three methods delegate to a `BytesMut`; nothing else is unsafe.
#![allow(unsafe_code)]

use std::collections::VecDeque;
use std::io::IoSlice;
use std::ops::Range;

use bytes::buf::UninitSlice;
use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{FetchResponse, ResponseHeader};
use kafka_protocol::protocol::buf::ByteBufMut;
use kafka_protocol::protocol::{Encodable, HeaderVersion};

use super::error::{KafkaWireError, Result};

/// Record sections smaller than this are copied: a reference costs an iovec and a refcount.
pub const KEEP_BYTES_MIN: usize = 4 * 1024;

/// An encoder target that keeps known shared buffers as references (see the module docs).
#[derive(Debug, Default)]
pub struct ChunkedBuf {
    /// Finished parts, in order.
    parts: Vec<Bytes>,
    /// Bytes in `parts`.
    parts_len: usize,
    /// What is being written after the last kept buffer.
    head: BytesMut,
    /// The buffers to keep by reference when they are written whole.
    keep: Vec<Bytes>,
    /// Record sections to continue with more buffers (see the module docs).
    tails: Vec<RecordTail>,
    /// Whether length prefixes are unsigned varints of length + 1 (flexible versions) rather
    /// than big-endian i32.
    compact: bool,
    /// A tail whose prefix did not look as expected (a broken assumption about the encoder).
    broken_tail: bool,
}

/// Batches that follow a partition's first record section on the wire (see the module docs).
#[derive(Debug, Clone)]
pub struct RecordTail {
    /// The section the response holds (compared by address and length).
    pub first: Bytes,
    /// What follows it, in order.
    pub rest: Vec<Bytes>,
}

impl ChunkedBuf {
    /// An empty buffer that will keep `keep` (each at least [`KEEP_BYTES_MIN`] long, else it
    /// is copied like anything else) by reference when it is written.
    pub fn keep(keep: Vec<Bytes>) -> Self {
        Self {
            keep: keep
                .into_iter()
                .filter(|b| b.len() >= KEEP_BYTES_MIN)
                .collect(),
            ..Self::default()
        }
    }

    /// Also continues each of `tails`' first sections with its rest, under length prefixes of
    /// the compact (flexible) form or not.
    pub fn with_tails(mut self, tails: Vec<RecordTail>, compact: bool) -> Self {
        // An empty first section has no address of its own to be recognised by.
        self.tails = tails
            .into_iter()
            .filter(|t| !t.rest.is_empty() && !t.first.is_empty())
            .collect();
        self.compact = compact;
        self
    }

    /// Writes `first` and the rest of its tail by reference, after rewriting the length prefix
    /// that ends `head` from `first`'s length to the whole run's.
    fn put_tail(&mut self, tail: RecordTail) {
        let total = tail.first.len() + tail.rest.iter().map(Bytes::len).sum::<usize>();
        let (old, new) = if self.compact {
            let plus_one = |n: usize| u64::try_from(n).map_or(u64::MAX, |n| n + 1);
            (
                unsigned_varint(plus_one(tail.first.len())),
                unsigned_varint(plus_one(total)),
            )
        } else {
            let be = |n: usize| i32::try_from(n).map(|n| n.to_be_bytes().to_vec());
            match (be(tail.first.len()), be(total)) {
                (Ok(old), Ok(new)) => (old, new),
                _ => (Vec::new(), Vec::new()),
            }
        };
        if old.is_empty() || !self.head.ends_with(&old) {
            self.broken_tail = true;
            self.head.extend_from_slice(&tail.first);
            return;
        }
        self.head.truncate(self.head.len() - old.len());
        self.head.extend_from_slice(&new);
        self.seal_head();
        for part in std::iter::once(tail.first).chain(tail.rest) {
            self.parts_len += part.len();
            self.parts.push(part);
        }
    }

    /// The parts, in order; their concatenation is everything written.
    pub fn into_parts(mut self) -> Chunks {
        self.seal_head();
        Chunks {
            parts: self.parts.into(),
        }
    }

    fn seal_head(&mut self) {
        if !self.head.is_empty() {
            let head = self.head.split().freeze();
            self.parts_len += head.len();
            self.parts.push(head);
        }
    }

    fn kept(&self, src: &[u8]) -> Option<Bytes> {
        if src.len() < KEEP_BYTES_MIN {
            return None;
        }
        self.keep
            .iter()
            .find(|b| b.as_ptr() == src.as_ptr() && b.len() == src.len())
            .cloned()
    }

    /// Copies every part back into `head`, so positions before the last kept buffer can be
    /// rewritten. `kafka-protocol` only seeks back to fill size gaps, which a Fetch answer has
    /// none of; this keeps other uses correct, at the cost of a copy.
    fn flatten(&mut self) {
        if self.parts.is_empty() {
            return;
        }
        let mut all = BytesMut::with_capacity(self.parts_len + self.head.len());
        for part in self.parts.drain(..) {
            all.extend_from_slice(&part);
        }
        all.extend_from_slice(&self.head);
        self.parts_len = 0;
        self.head = all;
    }
}

// SAFETY: every method delegates to `head`, a `BytesMut`, whose `BufMut` implementation upholds
// the trait's contract; `put_slice` only adds whole initialised parts beside it.
unsafe impl BufMut for ChunkedBuf {
    fn remaining_mut(&self) -> usize {
        self.head.remaining_mut()
    }

    unsafe fn advance_mut(&mut self, cnt: usize) {
        // SAFETY: the caller initialised `cnt` bytes of `head`'s chunk, as `advance_mut` requires.
        unsafe { self.head.advance_mut(cnt) }
    }

    fn chunk_mut(&mut self) -> &mut UninitSlice {
        self.head.chunk_mut()
    }

    fn put_slice(&mut self, src: &[u8]) {
        let tail = self
            .tails
            .iter()
            .position(|t| t.first.as_ptr() == src.as_ptr() && t.first.len() == src.len());
        if let Some(index) = tail {
            let tail = self.tails.swap_remove(index);
            return self.put_tail(tail);
        }
        match self.kept(src) {
            Some(kept) => {
                self.seal_head();
                self.parts_len += kept.len();
                self.parts.push(kept);
            }
            None => self.head.extend_from_slice(src),
        }
    }
}

impl ByteBufMut for ChunkedBuf {
    fn offset(&self) -> usize {
        self.parts_len + self.head.len()
    }

    fn seek(&mut self, offset: usize) {
        if offset < self.parts_len {
            self.flatten();
        }
        self.head.resize(offset - self.parts_len, 0);
    }

    fn range(&mut self, r: Range<usize>) -> &mut [u8] {
        if r.start < self.parts_len {
            self.flatten();
        }
        let base = self.parts_len;
        &mut self.head[r.start - base..r.end - base]
    }
}

/// Buffers to be written in order, as one [`Buf`] (vectored writes take up to 64 at a time).
#[derive(Debug, Default)]
pub struct Chunks {
    parts: VecDeque<Bytes>,
}

impl Chunks {
    /// The concatenation, copied (for tests and callers that need one buffer).
    pub fn to_bytes(&self) -> Bytes {
        let mut all = BytesMut::with_capacity(self.remaining());
        for part in &self.parts {
            all.extend_from_slice(part);
        }
        all.freeze()
    }

    /// How many separate buffers are left.
    pub fn part_count(&self) -> usize {
        self.parts.len()
    }
}

impl Buf for Chunks {
    fn remaining(&self) -> usize {
        self.parts.iter().map(Bytes::len).sum()
    }

    fn chunk(&self) -> &[u8] {
        self.parts.front().map_or(&[], |p| &p[..])
    }

    fn advance(&mut self, mut cnt: usize) {
        while cnt > 0 {
            let Some(front) = self.parts.front_mut() else {
                panic!("advanced past the end of the response");
            };
            if cnt < front.len() {
                front.advance(cnt);
                return;
            }
            cnt -= front.len();
            self.parts.pop_front();
        }
        while self.parts.front().is_some_and(Bytes::is_empty) {
            self.parts.pop_front();
        }
    }

    fn chunks_vectored<'a>(&'a self, dst: &mut [IoSlice<'a>]) -> usize {
        let mut n = 0;
        for (slot, part) in dst
            .iter_mut()
            .zip(self.parts.iter().filter(|p| !p.is_empty()))
        {
            *slot = IoSlice::new(part);
            n += 1;
        }
        n
    }
}

/// One Fetch response frame (size prefix, header, body) as buffers: the partitions' record
/// sections are the `Bytes` the response holds, not copies, each continued by its
/// [`RecordTail`] if `tails` names one.
pub fn encode_fetch_response(
    correlation_id: i32,
    version: i16,
    fetch: &FetchResponse,
    tails: Vec<RecordTail>,
) -> Result<Chunks> {
    let header = ResponseHeader::default().with_correlation_id(correlation_id);
    let header_version = FetchResponse::header_version(version);
    let records = fetch
        .responses
        .iter()
        .flat_map(|t| &t.partitions)
        .filter_map(|p| p.records.clone())
        .collect();
    let compact = version >= FETCH_FLEXIBLE_VERSION_MIN;
    let mut out = ChunkedBuf::keep(records).with_tails(tails, compact);
    header
        .encode(&mut out, header_version)
        .and_then(|()| fetch.encode(&mut out, version))
        .map_err(encode_error)?;
    if out.broken_tail {
        return Err(encode_error(
            "a record tail's length prefix was not where expected",
        ));
    }
    let size = out.offset();
    let size = i32::try_from(size).map_err(|_| KafkaWireError::Encode {
        reason: format!("response of {size} bytes does not fit an i32 size prefix"),
    })?;
    let mut chunks = out.into_parts();
    chunks
        .parts
        .push_front(Bytes::copy_from_slice(&size.to_be_bytes()));
    Ok(chunks)
}

/// The first Fetch version with flexible (compact) encodings.
const FETCH_FLEXIBLE_VERSION_MIN: i16 = 12;

/// `value` as an unsigned varint (Kafka's compact lengths).
fn unsigned_varint(mut value: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(10);
    loop {
        let byte = u8::try_from(value & 0x7f).unwrap_or(0);
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return out;
        }
        out.push(byte | 0x80);
    }
}

fn encode_error(error: impl std::fmt::Display) -> KafkaWireError {
    KafkaWireError::Encode {
        reason: error.to_string(),
    }
}

#[cfg(test)]
#[path = "chunked_tests.rs"]
mod tests;
