//! Native user headers → Kafka key, null-value flag and headers: reserved entries written by
//! the Kafka → native direction are put back together (chunks joined, spilled headers put at
//! their index, the order restored), every other entry becomes a Kafka header, followed by a
//! `__whippet.kind` marker when it is not string-keyed raw. Entries that do not form a
//! consistent reserved set (a native producer writing reserved names by hand) are not an
//! error: the record is then transcoded with every entry as an ordinary header, key null.

use std::ops::Range;

use super::names::{KIND_RAW, KIND_STRING};
use super::records::{field_size, put_varint, varint_size};
use super::reserved::{
    EMPTY_SUFFIX, KEY, KIND, NULL_SUFFIX, NULL_VALUE, ORDER, PREFIX, SPILLED, SPILLED_KEY_FIELD,
    SPILLED_VALUE_FIELD, SUFFIX_SEPARATOR,
};
use bytes::{BufMut, BytesMut};

/// One native user-header entry, borrowed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Entry<'a> {
    pub key_kind: u8,
    pub key: &'a [u8],
    pub value_kind: u8,
    pub value: &'a [u8],
}

/// What a reserved part belongs to; the derive order is the sort order, so a spilled header's
/// key parts come right before its value parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Target {
    Key,
    Order,
    Spilled(u32, SpilledField),
}

/// Which half of a spilled header a part carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum SpilledField {
    Key,
    Value,
}

/// What a part says about its field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Piece {
    Chunk(u32),
    Empty,
    Null,
}

#[derive(Debug, Clone, Copy)]
struct Part<'a> {
    target: Target,
    piece: Piece,
    data: &'a [u8],
}

/// A reassembled field: null, or the concatenation of `parts[range]` (empty range = empty).
#[derive(Debug, Clone)]
enum Field {
    Null,
    Parts(Range<usize>),
}

/// One Kafka header to write.
#[derive(Debug, Clone)]
enum Slot {
    Free,
    Spilled { key: Range<usize>, value: Field },
    Ordinary(usize),
    KindOf(usize),
}

/// Reusable scratch for one record at a time.
#[derive(Default)]
pub(crate) struct KafkaHeaders<'a> {
    entries: Vec<Entry<'a>>,
    parts: Vec<Part<'a>>,
    ordinary: Vec<Entry<'a>>,
    slots: Vec<Slot>,
    key: Option<Range<usize>>,
    order: Option<Range<usize>>,
    value_is_null: bool,
}

/// Parses `rest` (after a reserved base name) as `""`, `#<n>`, `#empty` or `#null`.
fn piece(rest: &[u8]) -> Option<Piece> {
    let Some(suffix) = rest.strip_prefix(&[SUFFIX_SEPARATOR]) else {
        return rest.is_empty().then_some(Piece::Chunk(0));
    };
    if suffix == EMPTY_SUFFIX.as_bytes() {
        return Some(Piece::Empty);
    }
    if suffix == NULL_SUFFIX.as_bytes() {
        return Some(Piece::Null);
    }
    decimal(suffix).filter(|n| *n > 0).map(Piece::Chunk)
}

/// A canonical decimal u32 (no sign, no leading zero).
fn decimal(digits: &[u8]) -> Option<u32> {
    if digits.is_empty() || (digits.len() > 1 && digits[0] == b'0') {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

fn reserved_part(key: &[u8]) -> Option<(Target, Piece)> {
    let base_piece = |base: &str| key.strip_prefix(base.as_bytes()).and_then(piece);
    if let Some(piece) = base_piece(KEY) {
        return Some((Target::Key, piece));
    }
    if let Some(piece) = base_piece(ORDER) {
        return Some((Target::Order, piece));
    }
    let rest = key.strip_prefix(SPILLED.as_bytes())?;
    let dot = rest.iter().position(|byte| *byte == b'.')?;
    let index = decimal(&rest[..dot])?;
    let field = &rest[dot..];
    if let Some(rest) = field.strip_prefix(SPILLED_KEY_FIELD.as_bytes()) {
        return Some((Target::Spilled(index, SpilledField::Key), piece(rest)?));
    }
    let rest = field.strip_prefix(SPILLED_VALUE_FIELD.as_bytes())?;
    Some((Target::Spilled(index, SpilledField::Value), piece(rest)?))
}

impl<'a> KafkaHeaders<'a> {
    /// Reads the user-headers block of one message; false if it is not a well-formed TLV.
    pub(crate) fn read(&mut self, block: &'a [u8]) -> bool {
        self.entries.clear();
        let mut rest = block;
        while !rest.is_empty() {
            let Some((key_kind, key, after)) = tlv(rest) else {
                return false;
            };
            let Some((value_kind, value, after)) = tlv(after) else {
                return false;
            };
            self.entries.push(Entry {
                key_kind,
                key,
                value_kind,
                value,
            });
            rest = after;
        }
        true
    }

    /// Rebuilds the Kafka key and headers from the entries read; falls back to carrying every
    /// entry as an ordinary header when the reserved entries are inconsistent.
    pub(crate) fn plan(&mut self, payload_is_empty: bool) {
        if !self.try_plan(payload_is_empty) {
            self.key = None;
            self.order = None;
            self.value_is_null = false;
            self.parts.clear();
            self.ordinary.clear();
            self.ordinary.extend_from_slice(&self.entries);
            self.slots.clear();
            for (index, entry) in self.ordinary.iter().enumerate() {
                self.slots.push(Slot::Ordinary(index));
                if (entry.key_kind, entry.value_kind) != (KIND_STRING, KIND_RAW) {
                    self.slots.push(Slot::KindOf(index));
                }
            }
        }
    }

    fn try_plan(&mut self, payload_is_empty: bool) -> bool {
        self.parts.clear();
        self.ordinary.clear();
        self.value_is_null = false;
        for entry in &self.entries {
            let reserved = (entry.key_kind == KIND_STRING
                && entry.key.starts_with(PREFIX.as_bytes()))
            .then(|| reserved_part(entry.key))
            .flatten();
            match reserved {
                Some((target, piece)) => self.parts.push(Part {
                    target,
                    piece,
                    data: entry.value,
                }),
                None if entry.key_kind == KIND_STRING && entry.key == NULL_VALUE.as_bytes() => {
                    if !payload_is_empty || self.value_is_null {
                        return false;
                    }
                    self.value_is_null = true;
                }
                None => self.ordinary.push(*entry),
            }
        }
        self.parts.sort_by_key(|part| (part.target, part.piece));
        self.ordinary
            .sort_by(|a, b| (a.key_kind, a.key).cmp(&(b.key_kind, b.key)));
        self.assemble()
    }

    /// Joins the parts into fields and lays out the Kafka header slots.
    fn assemble(&mut self) -> bool {
        self.key = None;
        self.order = None;
        let mut spilled_count = 0usize;
        let mut start = 0;
        let mut fields: Vec<(Target, Field)> = Vec::new();
        while start < self.parts.len() {
            let target = self.parts[start].target;
            let end = self.parts[start..]
                .iter()
                .position(|part| part.target != target)
                .map_or(self.parts.len(), |len| start + len);
            let Some(field) = field_of(&self.parts[start..end], start) else {
                return false;
            };
            fields.push((target, field));
            start = end;
        }
        let spans: usize = self.ordinary.iter().map(|entry| span(entry)).sum();
        for (target, _) in &fields {
            if matches!(target, Target::Spilled(_, SpilledField::Key)) {
                spilled_count += 1;
            }
        }
        self.slots.clear();
        self.slots.resize(spilled_count + spans, Slot::Free);
        let mut fields = fields.into_iter();
        while let Some((target, field)) = fields.next() {
            match (target, field) {
                (Target::Key, Field::Parts(range)) => self.key = Some(range),
                (Target::Order, Field::Parts(range)) if !range.is_empty() => {
                    self.order = Some(range);
                }
                (Target::Spilled(index, SpilledField::Key), Field::Parts(key)) => {
                    let Some((Target::Spilled(value_index, SpilledField::Value), value)) =
                        fields.next()
                    else {
                        return false;
                    };
                    match self.slots.get_mut(index as usize) {
                        Some(slot @ Slot::Free) if value_index == index => {
                            *slot = Slot::Spilled { key, value };
                        }
                        _ => return false,
                    }
                }
                _ => return false,
            }
        }
        self.place_ordinary()
    }

    /// Puts the ordinary headers at the indices the order names, or in the free slots in key
    /// order when there is no order.
    fn place_ordinary(&mut self) -> bool {
        let mut order = self.order.clone().map(|range| {
            self.parts[range]
                .iter()
                .flat_map(|part| part.data.iter().copied())
                .collect::<Vec<u8>>()
        });
        let mut cursor = 0usize;
        let mut next_free = 0usize;
        for index in 0..self.ordinary.len() {
            let at = match order.as_mut() {
                Some(bytes) => match leb128(bytes, &mut cursor) {
                    Some(at) => at,
                    None => return false,
                },
                None => {
                    while matches!(self.slots.get(next_free), Some(slot) if !matches!(slot, Slot::Free))
                    {
                        next_free += 1;
                    }
                    next_free
                }
            };
            let wide = span(&self.ordinary[index]) == 2;
            if !matches!(self.slots.get(at), Some(Slot::Free))
                || (wide && !matches!(self.slots.get(at + 1), Some(Slot::Free)))
            {
                return false;
            }
            self.slots[at] = Slot::Ordinary(index);
            if wide {
                self.slots[at + 1] = Slot::KindOf(index);
            }
        }
        order.is_none_or(|bytes| cursor == bytes.len())
    }

    /// The Kafka key, if not null: its total length.
    fn key_len(&self) -> Option<usize> {
        self.key.clone().map(|range| self.parts_len(range))
    }

    fn parts_len(&self, range: Range<usize>) -> usize {
        self.parts[range].iter().map(|part| part.data.len()).sum()
    }

    /// Whether the Kafka value is null rather than the (empty) payload.
    pub(crate) fn value_is_null(&self) -> bool {
        self.value_is_null
    }

    /// Size of the key field plus the header count and every header.
    pub(crate) fn size(&self, id: u128) -> usize {
        let mut size = field_size(self.key_len());
        let count = self.slots.len() + usize::from(id != 0);
        size += varint_size(count as i64);
        for slot in &self.slots {
            let (key, value) = self.slot_lens(slot);
            size += field_size(Some(key)) + field_size(value);
        }
        if id != 0 {
            size += field_size(Some(super::reserved::ID.len())) + field_size(Some(16));
        }
        size
    }

    fn slot_lens(&self, slot: &Slot) -> (usize, Option<usize>) {
        match slot {
            Slot::Free => (0, None),
            Slot::Spilled { key, value } => (
                self.parts_len(key.clone()),
                match value {
                    Field::Null => None,
                    Field::Parts(range) => Some(self.parts_len(range.clone())),
                },
            ),
            Slot::Ordinary(index) => {
                let entry = &self.ordinary[*index];
                (entry.key.len(), Some(entry.value.len()))
            }
            Slot::KindOf(_) => (KIND.len(), Some(2)),
        }
    }

    fn put_parts(&self, out: &mut BytesMut, range: Range<usize>) {
        put_varint(out, self.parts_len(range.clone()) as i64);
        for part in &self.parts[range] {
            out.put_slice(part.data);
        }
    }

    /// Writes the key field (−1 when null).
    pub(crate) fn write_key(&self, out: &mut BytesMut) {
        match self.key.clone() {
            Some(range) => self.put_parts(out, range),
            None => put_varint(out, -1),
        }
    }

    /// Writes the header count and every header, the id header last when the id is not 0.
    pub(crate) fn write_headers(&self, out: &mut BytesMut, id: u128) {
        put_varint(out, (self.slots.len() + usize::from(id != 0)) as i64);
        for slot in &self.slots {
            match slot {
                Slot::Free => {}
                Slot::Spilled { key, value } => {
                    self.put_parts(out, key.clone());
                    match value {
                        Field::Null => put_varint(out, -1),
                        Field::Parts(range) => self.put_parts(out, range.clone()),
                    }
                }
                Slot::Ordinary(index) => {
                    let entry = &self.ordinary[*index];
                    put_bytes(out, entry.key);
                    put_bytes(out, entry.value);
                }
                Slot::KindOf(index) => {
                    let entry = &self.ordinary[*index];
                    put_bytes(out, KIND.as_bytes());
                    put_bytes(out, &[entry.key_kind, entry.value_kind]);
                }
            }
        }
        if id != 0 {
            put_bytes(out, super::reserved::ID.as_bytes());
            put_bytes(out, &id.to_le_bytes());
        }
    }
}

fn put_bytes(out: &mut BytesMut, bytes: &[u8]) {
    put_varint(out, bytes.len() as i64);
    out.put_slice(bytes);
}

fn span(entry: &Entry<'_>) -> usize {
    if (entry.key_kind, entry.value_kind) == (KIND_STRING, KIND_RAW) {
        1
    } else {
        2
    }
}

/// One field from its sorted parts (at `offset` in the parts vector): a lone marker, or
/// chunks numbered 0, 1, 2… without gaps.
fn field_of(parts: &[Part<'_>], offset: usize) -> Option<Field> {
    let target = parts.first()?.target;
    match parts {
        [
            Part {
                piece: Piece::Null, ..
            },
        ] if matches!(target, Target::Spilled(_, SpilledField::Value)) => Some(Field::Null),
        [
            Part {
                piece: Piece::Empty,
                ..
            },
        ] => Some(Field::Parts(offset..offset)),
        _ => parts
            .iter()
            .enumerate()
            .all(|(expected, part)| part.piece == Piece::Chunk(expected as u32))
            .then_some(Field::Parts(offset..offset + parts.len())),
    }
}

/// An unsigned LEB128 u32 at `cursor`.
fn leb128(bytes: &[u8], cursor: &mut usize) -> Option<usize> {
    let mut value: u64 = 0;
    for shift in 0..5 {
        let byte = *bytes.get(*cursor)?;
        *cursor += 1;
        value |= u64::from(byte & 0x7f) << (7 * shift);
        if byte & 0x80 == 0 {
            return usize::try_from(value).ok();
        }
    }
    None
}

/// `[kind:u8][len:u32][bytes]` at the start of `bytes`, kind non-zero, len 1..=255.
fn tlv(bytes: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&kind, rest) = bytes.split_first()?;
    let (length, rest) = rest.split_first_chunk::<4>()?;
    let length = u32::from_le_bytes(*length) as usize;
    if kind == 0 || !(1..=super::limits::CHUNK_BYTES).contains(&length) {
        return None;
    }
    let (field, rest) = rest.split_at_checked(length)?;
    Some((kind, field, rest))
}
