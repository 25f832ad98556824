//! The record mapping of design brief §2, implemented a second time from its documentation
//! (`wire/src/transcode/reserved.rs`) so the tests can judge what real clients received without
//! trusting the broker's own transcoder: native headers as a native reader got them → the Kafka
//! record they carry, and a stored native message → the Kafka headers a Kafka reader must get.
#![allow(dead_code, clippy::unwrap_used)]

use std::collections::BTreeMap;

use super::{KIND_BOOL, KIND_RAW, KIND_STRING, NativeHeader, reserved};

/// One Kafka header: name bytes and value (`None` = null).
pub type KafkaHeader = (Vec<u8>, Option<Vec<u8>>);

/// A Kafka record's key, value and headers (in Kafka order) as carried by a native message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KafkaView {
    /// The key (`None` = null).
    pub key: Option<Vec<u8>>,
    /// The value (`None` = null).
    pub value: Option<Vec<u8>>,
    /// The headers, in Kafka order, duplicates included.
    pub headers: Vec<KafkaHeader>,
}

/// Where one chunk of a reserved field goes.
enum Part {
    Chunk(usize),
    Empty,
    Null,
}

/// The chunks and markers of one reserved field (key, order, a spilled key or value).
#[derive(Default)]
struct Field {
    chunks: BTreeMap<usize, Vec<u8>>,
    empty: bool,
    null: bool,
}

impl Field {
    fn add(&mut self, part: Part, header: &NativeHeader) {
        match part {
            Part::Chunk(n) => {
                assert_eq!(header.value_kind, KIND_RAW, "chunk kind: {header:?}");
                assert!(!header.value.is_empty(), "empty chunk: {header:?}");
                assert!(self.chunks.insert(n, header.value.clone()).is_none());
            }
            Part::Empty | Part::Null => {
                assert_eq!(
                    (header.value_kind, &header.value[..]),
                    (KIND_BOOL, &[1u8][..]),
                    "marker must be bool true: {header:?}"
                );
                match part {
                    Part::Empty => self.empty = true,
                    _ => self.null = true,
                }
            }
        }
    }

    /// The field's bytes: `None` for null, chunks joined in order (all full but the last).
    fn value(&self) -> Option<Vec<u8>> {
        if self.null || self.empty {
            assert!(self.chunks.is_empty(), "marker and chunks together");
            return (!self.null).then(Vec::new);
        }
        let mut out = Vec::new();
        let last = self.chunks.len().saturating_sub(1);
        for (i, (n, chunk)) in self.chunks.iter().enumerate() {
            assert_eq!(*n, i, "chunks are numbered densely from 0");
            if i < last {
                assert_eq!(chunk.len(), reserved::CHUNK_BYTES, "chunk {i} not full");
            }
            out.extend_from_slice(chunk);
        }
        Some(out)
    }
}

/// `name` is `base` or `base#<suffix>`: which part.
fn part_of(name: &str, base: &str) -> Option<Part> {
    let rest = name.strip_prefix(base)?;
    if rest.is_empty() {
        return Some(Part::Chunk(0));
    }
    match rest.strip_prefix(reserved::SUFFIX_SEPARATOR)? {
        "empty" => Some(Part::Empty),
        "null" => Some(Part::Null),
        n => n.parse().ok().filter(|&n| n > 0).map(Part::Chunk),
    }
}

/// Parses `<i>.k…` / `<i>.v…` after the spilled prefix: (index, is_key, part).
fn spilled_part(rest: &str) -> (u32, bool, Part) {
    let (index, field) = rest.split_once('.').unwrap();
    let index: u32 = index.parse().unwrap();
    let is_key = field.starts_with('k');
    let part = part_of(field, if is_key { "k" } else { "v" }).unwrap();
    (index, is_key, part)
}

fn decode_order(bytes: &[u8]) -> Vec<usize> {
    let mut out = Vec::new();
    let (mut value, mut shift) = (0usize, 0);
    for &byte in bytes {
        value |= usize::from(byte & 0x7f) << shift;
        shift += 7;
        if byte & 0x80 == 0 {
            out.push(value);
            (value, shift) = (0, 0);
        }
    }
    assert_eq!(shift, 0, "truncated order varint");
    out
}

/// The Kafka record a native message carries (for messages produced over Kafka without
/// `__whippet.kind` markers, which is what the tests send).
pub fn kafka_view(headers: &[NativeHeader], payload: &[u8]) -> KafkaView {
    let (mut key, mut order) = (Field::default(), Field::default());
    let mut has_key = false;
    let mut null_value = false;
    let mut spilled: BTreeMap<u32, (Field, Field)> = BTreeMap::new();
    let mut ordinary = Vec::new();
    for header in headers {
        assert_eq!(header.key_kind, KIND_STRING, "header key kind: {header:?}");
        let name = std::str::from_utf8(&header.key).unwrap();
        if let Some(part) = part_of(name, reserved::KEY) {
            has_key = true;
            key.add(part, header);
        } else if name == reserved::NULL_VALUE {
            assert_eq!(
                (header.value_kind, &header.value[..]),
                (KIND_BOOL, &[1u8][..])
            );
            null_value = true;
        } else if let Some(part) = part_of(name, reserved::ORDER) {
            order.add(part, header);
        } else if let Some(rest) = name.strip_prefix(reserved::SPILLED) {
            let (index, is_key, part) = spilled_part(rest);
            let entry = spilled.entry(index).or_default();
            if is_key { &mut entry.0 } else { &mut entry.1 }.add(part, header);
        } else {
            assert_eq!(header.value_kind, KIND_RAW, "Kafka header kind: {header:?}");
            ordinary.push((header.key.clone(), Some(header.value.clone())));
        }
    }
    let total = ordinary.len() + spilled.len();
    let mut slots: Vec<Option<KafkaHeader>> = vec![None; total];
    for (index, (k, v)) in &spilled {
        let slot = &mut slots[*index as usize];
        assert!(slot.is_none(), "spilled index {index} twice");
        *slot = Some((k.value().unwrap(), v.value()));
    }
    let indices = match order.value() {
        Some(bytes) if !order.chunks.is_empty() => decode_order(&bytes),
        _ => (0..total).filter(|&i| slots[i].is_none()).collect(),
    };
    assert_eq!(
        indices.len(),
        ordinary.len(),
        "order covers the ordinary headers"
    );
    for (index, header) in indices.into_iter().zip(ordinary) {
        assert!(slots[index].is_none(), "Kafka index {index} twice");
        slots[index] = Some(header);
    }
    if null_value {
        assert!(payload.is_empty(), "null-value marker with a payload");
    }
    KafkaView {
        key: has_key.then(|| key.value().unwrap()),
        value: (!null_value).then(|| payload.to_vec()),
        headers: slots.into_iter().map(Option::unwrap).collect(),
    }
}

/// The Kafka headers, in order, of a stored native message with these user headers and id:
/// each native header by its name with its native encoding, a `__whippet.kind` marker after
/// every one that is not string-keyed raw, then the id (16 bytes LE) when it is not 0.
pub fn kafka_headers_of_native(headers: &[NativeHeader], id: u128) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for header in headers {
        out.push((
            String::from_utf8(header.key.clone()).unwrap(),
            header.value.clone(),
        ));
        if (header.key_kind, header.value_kind) != (KIND_STRING, KIND_RAW) {
            out.push((
                reserved::KIND.to_string(),
                vec![header.key_kind, header.value_kind],
            ));
        }
    }
    if id != 0 {
        out.push((reserved::ID.to_string(), id.to_le_bytes().to_vec()));
    }
    out
}
