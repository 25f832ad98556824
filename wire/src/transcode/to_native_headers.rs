//! Kafka record key, null-value flag and headers → native user-header entries (the mapping in
//! the module doc of `transcode`). The plan is made once per record in reusable scratch
//! vectors and replayed through a [`Sink`], first to count, then to write.

use super::names::{KIND_BOOL, KIND_RAW, KIND_STRING, Name, Sink, TRUE, fits, put_field};
use super::reserved::{ID, KEY, KIND, NULL_VALUE, ORDER, PREFIX, SPILLED};
use super::reserved::{SPILLED_KEY_FIELD, SPILLED_VALUE_FIELD};

/// A Kafka header carried as one native entry under its own key.
#[derive(Debug, Clone, Copy)]
struct Ordinary<'a> {
    kafka_index: u32,
    key_kind: u8,
    key: &'a [u8],
    value_kind: u8,
    value: &'a [u8],
    /// 2 when a `__whippet.kind` marker follows it in Kafka, else 1.
    span: u32,
}

/// Scratch for one record at a time; reused across the records of a batch.
#[derive(Default)]
pub(crate) struct HeaderPlan<'a> {
    /// The record's Kafka headers, filled by the caller.
    pub headers: Vec<(&'a [u8], Option<&'a [u8]>)>,
    ordinary: Vec<Ordinary<'a>>,
    spilled: Vec<u32>,
    order: Vec<u8>,
}

/// The kinds a `__whippet.kind` marker value names, if it is a well-formed marker.
fn marker_kinds(value: Option<&[u8]>) -> Option<(u8, u8)> {
    match value? {
        &[key_kind, value_kind]
            if key_kind != 0
                && value_kind != 0
                && (key_kind, value_kind) != (KIND_STRING, KIND_RAW) =>
        {
            Some((key_kind, value_kind))
        }
        _ => None,
    }
}

impl<'a> HeaderPlan<'a> {
    /// Classifies `self.headers` and returns the native id carried in a trailing
    /// `__whippet.id` header (0 when there is none; that header is then not a header).
    pub(crate) fn plan(&mut self) -> u128 {
        self.ordinary.clear();
        self.spilled.clear();
        self.order.clear();
        let mut count = self.headers.len();
        let mut id = 0;
        if let Some(&(key, Some(value))) = self.headers.last()
            && key == ID.as_bytes()
            && let Ok(bytes) = <[u8; 16]>::try_from(value)
            && u128::from_le_bytes(bytes) != 0
        {
            id = u128::from_le_bytes(bytes);
            count -= 1;
        }
        let mut index = 0;
        while index < count {
            let (key, value) = self.headers[index];
            let marker = self
                .headers
                .get(index + 1)
                .filter(|(next, _)| index + 1 < count && *next == KIND.as_bytes())
                .and_then(|(_, marker)| marker_kinds(*marker));
            let (key_kind, value_kind) = marker.unwrap_or((KIND_STRING, KIND_RAW));
            let own_name = !key.starts_with(PREFIX.as_bytes())
                && (marker.is_some() || std::str::from_utf8(key).is_ok());
            match value.filter(|value| own_name && fits(key_kind, key) && fits(value_kind, value)) {
                Some(value) => {
                    let span = if marker.is_some() { 2 } else { 1 };
                    self.ordinary.push(Ordinary {
                        kafka_index: index as u32,
                        key_kind,
                        key,
                        value_kind,
                        value,
                        span,
                    });
                    index += span as usize;
                }
                None => {
                    self.spilled.push(index as u32);
                    index += 1;
                }
            }
        }
        self.demote_duplicates();
        self.encode_order();
        id
    }

    /// Native keys are unique: of several headers with one (kind, key), the first in Kafka
    /// order keeps the name and the others are spilled (with their markers, if any).
    fn demote_duplicates(&mut self) {
        self.ordinary.sort_by(|a, b| {
            (a.key_kind, a.key, a.kafka_index).cmp(&(b.key_kind, b.key, b.kafka_index))
        });
        let mut previous: Option<(u8, &[u8])> = None;
        let spilled = &mut self.spilled;
        self.ordinary.retain(|header| {
            let this = (header.key_kind, header.key);
            if previous == Some(this) {
                spilled.extend(header.kafka_index..header.kafka_index + header.span);
                return false;
            }
            previous = Some(this);
            true
        });
        self.spilled.sort_unstable();
    }

    /// Fills `order` when the ordinary headers, in key order, are not in Kafka order.
    fn encode_order(&mut self) {
        let sorted = self
            .ordinary
            .windows(2)
            .all(|pair| pair[0].kafka_index < pair[1].kafka_index);
        if sorted {
            return;
        }
        for header in &self.ordinary {
            let mut value = header.kafka_index;
            while value >= 0x80 {
                self.order.push((value as u8) | 0x80);
                value >>= 7;
            }
            self.order.push(value as u8);
        }
    }

    /// Writes the planned entries: ordinary headers in key order, then the key, the null-value
    /// marker, the order and the spilled headers.
    pub(crate) fn emit(&self, sink: &mut impl Sink, key: Option<&[u8]>, value_is_null: bool) {
        for header in &self.ordinary {
            sink.entry(header.key_kind, header.key, header.value_kind, header.value);
        }
        if key.is_some() {
            put_field(sink, &Name::new(KEY), key);
        }
        if value_is_null {
            sink.entry(KIND_STRING, NULL_VALUE.as_bytes(), KIND_BOOL, TRUE);
        }
        if !self.order.is_empty() {
            put_field(sink, &Name::new(ORDER), Some(&self.order));
        }
        for &index in &self.spilled {
            let Some(&(key, value)) = self.headers.get(index as usize) else {
                continue;
            };
            let mut base = Name::new(SPILLED);
            base.push_decimal(u64::from(index));
            let mut key_name = base;
            key_name.push(SPILLED_KEY_FIELD.as_bytes());
            put_field(sink, &key_name, Some(key));
            let mut value_name = base;
            value_name.push(SPILLED_VALUE_FIELD.as_bytes());
            put_field(sink, &value_name, value);
        }
    }
}
