//! Option blocks of the native create/update commands (§4.7) for streams and topics, and the
//! catalog `describe_options` (13) serves. The codec only checks a block's shape; this module
//! decides which keys exist, which value kinds each accepts (numbers, or human text such as
//! "7 days" and "1 GiB"), their defaults, and how a topic's options map onto the log's
//! [`TopicSettings`]. Values are canonicalised at admission (a text size becomes a u64), so the
//! explicit block a client reads back is stable whatever spelling it sent.
//!
//! Persistence: the log keeps no native metadata of its own, so each explicit topic option is
//! stored in `TopicSettings::extra_configs` under its own key (`max_topic_size`, …) as
//! canonical text; the send path reads `max_topic_size` from there to answer TopicFull. Kafka
//! config names are dotted (`retention.ms`) and the Kafka side only looks up its own names, so
//! these underscored entries never collide with or show up as Kafka configs.

use std::collections::BTreeMap;

use bytes::Bytes;
use whippet_log::{Compression, TopicSettings};
use whippet_wire::native::status::Status;
use whippet_wire::native::user_headers::{HeaderEntry, KIND_STRING, Options};

use crate::limits;

/// Value kind codes of the header TLV (§4.7) this module reads or writes.
mod kind {
    pub(super) const BOOL: u8 = 3;
    pub(super) const INT8: u8 = 4;
    pub(super) const INT16: u8 = 5;
    pub(super) const INT32: u8 = 6;
    pub(super) const INT64: u8 = 7;
    pub(super) const INT128: u8 = 8;
    pub(super) const UINT8: u8 = 9;
    pub(super) const UINT16: u8 = 10;
    pub(super) const UINT32: u8 = 11;
    pub(super) const UINT64: u8 = 12;
    pub(super) const UINT128: u8 = 13;
}

/// A canonical option value: what a key's value becomes once parsed, and how it is encoded in
/// the reply blocks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum OptionValue {
    /// A UTF-8 string (kind 2).
    Text(String),
    /// An unsigned 64-bit number (kind 12).
    U64(u64),
    /// An unsigned 32-bit number (kind 11).
    U32(u32),
    /// A boolean (kind 3).
    Bool(bool),
}

impl OptionValue {
    /// Kind code of this value on the wire.
    fn kind(&self) -> u8 {
        match self {
            Self::Text(_) => KIND_STRING,
            Self::U64(_) => kind::UINT64,
            Self::U32(_) => kind::UINT32,
            Self::Bool(_) => kind::BOOL,
        }
    }

    /// The value in its kind's wire encoding.
    fn wire_bytes(&self) -> Bytes {
        match self {
            Self::Text(text) => Bytes::copy_from_slice(text.as_bytes()),
            Self::U64(value) => Bytes::copy_from_slice(&value.to_le_bytes()),
            Self::U32(value) => Bytes::copy_from_slice(&value.to_le_bytes()),
            Self::Bool(value) => Bytes::copy_from_slice(&[u8::from(*value)]),
        }
    }

    /// Canonical text, as persisted; parsing it back with the key's parser yields `self`.
    fn to_text(&self) -> String {
        match self {
            Self::Text(text) => text.clone(),
            Self::U64(value) => value.to_string(),
            Self::U32(value) => value.to_string(),
            Self::Bool(value) => value.to_string(),
        }
    }

    /// A string-keyed entry for a reply block.
    fn entry(&self, key: &str) -> HeaderEntry {
        HeaderEntry {
            key_kind: KIND_STRING,
            key: Bytes::copy_from_slice(key.as_bytes()),
            value_kind: self.kind(),
            value: self.wire_bytes(),
        }
    }
}

/// The topic option keys (§4.7), in the order `describe_options` lists them.
pub(crate) mod keys {
    /// `none` or `gzip`; metadata only (the broker does not compress native batches).
    pub(crate) const COMPRESSION_ALGORITHM: &str = "compression_algorithm";
    /// µs, or text like "7 days"; drives time retention.
    pub(crate) const MESSAGE_EXPIRY: &str = "message_expiry";
    /// Bytes, or text like "1 GiB"; sends past it are refused with TopicFull.
    pub(crate) const MAX_TOPIC_SIZE: &str = crate::core::append::MAX_TOPIC_SIZE_KEY;
    /// Bytes per segment file.
    pub(crate) const SEGMENT_SIZE: &str = "segment_size";
    /// `replicated` or `persisted`.
    pub(crate) const DURABILITY: &str = "durability";
    /// `replicated` or `persisted`.
    pub(crate) const CONSUMER_OFFSET_DURABILITY: &str = "consumer_offset_durability";
    /// Flush threshold in messages (stored; the log's fsync policy decides durability).
    pub(crate) const MESSAGES_REQUIRED_TO_SAVE: &str = "messages_required_to_save";
    /// Flush threshold in bytes (stored).
    pub(crate) const SIZE_OF_MESSAGES_REQUIRED_TO_SAVE: &str = "size_of_messages_required_to_save";
    /// Reserve segment space up front (stored).
    pub(crate) const PREALLOCATE_SEGMENTS: &str = "preallocate_segments";
}

/// One accepted key: its canonical default and what `describe_options` says about it.
struct KeySpec {
    key: &'static str,
    default: fn() -> OptionValue,
    description: &'static str,
}

/// Every topic key, sorted by key so reply blocks come out in a stable order.
const TOPIC_KEYS: [KeySpec; 9] = [
    KeySpec {
        key: keys::COMPRESSION_ALGORITHM,
        default: || OptionValue::Text("none".into()),
        description: "Compression recorded for the topic: none or gzip (metadata only).",
    },
    KeySpec {
        key: keys::CONSUMER_OFFSET_DURABILITY,
        default: || OptionValue::Text("replicated".into()),
        description: "When a stored consumer offset counts as saved: replicated or persisted.",
    },
    KeySpec {
        key: keys::DURABILITY,
        default: || OptionValue::Text("replicated".into()),
        description: "When a sent message counts as saved: replicated or persisted.",
    },
    KeySpec {
        key: keys::MAX_TOPIC_SIZE,
        default: || OptionValue::U64(u64::MAX),
        description: "Largest total size of the topic in bytes (or text like \"1 GiB\"); \
                      u64::MAX is unlimited. Sends beyond it fail with TopicFull.",
    },
    KeySpec {
        key: keys::MESSAGE_EXPIRY,
        default: || OptionValue::U64(u64::MAX),
        description: "Age in microseconds (or text like \"7 days\") after which whole \
                      segments are deleted; u64::MAX never expires.",
    },
    KeySpec {
        key: keys::MESSAGES_REQUIRED_TO_SAVE,
        default: || OptionValue::U32(limits::NATIVE_MESSAGES_REQUIRED_TO_SAVE_DEFAULT),
        description: "Messages buffered before a flush (stored; the broker's fsync policy \
                      decides durability).",
    },
    KeySpec {
        key: keys::PREALLOCATE_SEGMENTS,
        default: || OptionValue::Bool(false),
        description: "Whether segment files reserve their size up front (stored).",
    },
    KeySpec {
        key: keys::SEGMENT_SIZE,
        default: || OptionValue::U64(whippet_log::limits::SEGMENT_BYTES_DEFAULT),
        description: "Size of one segment file in bytes (or text like \"128 MiB\").",
    },
    KeySpec {
        key: keys::SIZE_OF_MESSAGES_REQUIRED_TO_SAVE,
        default: || OptionValue::U64(limits::NATIVE_SIZE_OF_MESSAGES_REQUIRED_TO_SAVE_DEFAULT),
        description: "Bytes buffered before a flush (stored; the broker's fsync policy \
                      decides durability).",
    },
];

/// Keys `describe_options` lists for a scope, with kind code, default bytes and description.
/// Streams and users accept no keys yet (every key is refused by name, as the reference does).
pub(crate) fn described_topic_keys() -> impl Iterator<Item = (&'static str, u8, Bytes, &'static str)>
{
    TOPIC_KEYS.iter().map(|spec| {
        let default = (spec.default)();
        (
            spec.key,
            default.kind(),
            default.wire_bytes(),
            spec.description,
        )
    })
}

/// Checks a stream options block: streams have no option keys, so any entry is refused.
pub(crate) fn check_stream_options(options: &Options) -> Result<(), Status> {
    if options.entries.is_empty() {
        Ok(())
    } else {
        Err(Status::UnsupportedOptionKey)
    }
}

/// The explicit options of a topic, by key, in canonical form.
///
/// `base` holds what the topic's log settings say for keys the client did not set (a topic
/// created over Kafka, or one whose settings Kafka changed, reports its real segment size and
/// retention in the derived block rather than the native defaults).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct TopicOptions {
    explicit: BTreeMap<&'static str, OptionValue>,
    base: BTreeMap<&'static str, OptionValue>,
}

impl TopicOptions {
    /// Parses a create/update block. Unknown keys are UnsupportedOptionKey (4041); a value of
    /// the wrong kind, unparsable or out of range is InvalidOptionValue (4042); duplicate keys
    /// are InvalidOptionValue too (the codec refuses them earlier; checked again here so this
    /// function is safe on any entry list). A value meaning "server default" (0 for expiry,
    /// size cap, segment size and flush size) is recorded as absent.
    pub(crate) fn parse(options: &Options) -> Result<ParsedOptions, Status> {
        let mut parsed = ParsedOptions::default();
        for entry in &options.entries {
            let spec = TOPIC_KEYS
                .iter()
                .find(|spec| spec.key.as_bytes() == entry.key.as_ref())
                .ok_or(Status::UnsupportedOptionKey)?;
            if parsed.set.contains_key(spec.key) || parsed.reset.contains(&spec.key) {
                return Err(Status::InvalidOptionValue);
            }
            match parse_value(spec.key, entry.value_kind, &entry.value)? {
                Some(value) => {
                    parsed.set.insert(spec.key, value);
                }
                None => parsed.reset.push(spec.key),
            }
        }
        Ok(parsed)
    }

    /// Options of a new topic: the explicit keys of `parsed`.
    pub(crate) fn created(parsed: ParsedOptions) -> Self {
        Self {
            explicit: parsed.set,
            base: BTreeMap::new(),
        }
    }

    /// These options after an update: set keys replaced, "server default" keys dropped back to
    /// their defaults, absent keys unchanged.
    pub(crate) fn updated(&self, parsed: ParsedOptions) -> Self {
        let mut explicit = self.explicit.clone();
        let mut base = self.base.clone();
        for key in parsed.reset {
            explicit.remove(key);
            base.remove(key);
        }
        explicit.extend(parsed.set);
        Self { explicit, base }
    }

    /// Reads back what [`TopicOptions::apply`] stored. An entry this build cannot parse is
    /// skipped rather than failing the whole topic.
    pub(crate) fn stored(settings: &TopicSettings) -> Self {
        let mut explicit = BTreeMap::new();
        for spec in &TOPIC_KEYS {
            if let Some(text) = settings.extra_configs.get(spec.key)
                && let Ok(Some(value)) = parse_value(spec.key, KIND_STRING, text.as_bytes())
            {
                explicit.insert(spec.key, value);
            }
        }
        let mut base = BTreeMap::new();
        let expiry = settings
            .retention_ms
            .map_or(u64::MAX, |ms| ms.saturating_mul(1000));
        base.insert(keys::MESSAGE_EXPIRY, OptionValue::U64(expiry));
        base.insert(keys::SEGMENT_SIZE, OptionValue::U64(settings.segment_bytes));
        let compression = if settings.compression == Compression::Gzip {
            "gzip"
        } else {
            "none"
        };
        base.insert(
            keys::COMPRESSION_ALGORITHM,
            OptionValue::Text(compression.into()),
        );
        Self { explicit, base }
    }

    /// The effective value of `key`: explicit, else the default.
    fn effective(&self, key: &str) -> OptionValue {
        if let Some(value) = self.explicit.get(key).or_else(|| self.base.get(key)) {
            return value.clone();
        }
        TOPIC_KEYS
            .iter()
            .find(|spec| spec.key == key)
            .map_or(OptionValue::U64(0), |spec| (spec.default)())
    }

    fn effective_u64(&self, key: &str) -> u64 {
        match self.effective(key) {
            OptionValue::U64(value) => value,
            OptionValue::U32(value) => u64::from(value),
            OptionValue::Text(_) | OptionValue::Bool(_) => 0,
        }
    }

    /// Message expiry in µs for the TopicHeader (u64::MAX = never).
    pub(crate) fn message_expiry_us(&self) -> u64 {
        self.effective_u64(keys::MESSAGE_EXPIRY)
    }

    /// Size cap in bytes for the TopicHeader (u64::MAX = unlimited).
    pub(crate) fn max_topic_size(&self) -> u64 {
        self.effective_u64(keys::MAX_TOPIC_SIZE)
    }

    /// Segment size in bytes the topic runs with.
    pub(crate) fn segment_size(&self) -> u64 {
        self.effective_u64(keys::SEGMENT_SIZE)
    }

    /// Compression code for the TopicHeader: 1 none, 2 gzip.
    pub(crate) fn compression_code(&self) -> u8 {
        match self.effective(keys::COMPRESSION_ALGORITHM) {
            OptionValue::Text(name) if name == "gzip" => 2,
            _ => 1,
        }
    }

    /// The block of keys the client set.
    pub(crate) fn explicit_block(&self) -> Options {
        Options {
            entries: self
                .explicit
                .iter()
                .map(|(key, value)| value.entry(key))
                .collect(),
        }
    }

    /// The block of keys resolved from defaults.
    pub(crate) fn derived_block(&self) -> Options {
        Options {
            entries: TOPIC_KEYS
                .iter()
                .filter(|spec| !self.explicit.contains_key(spec.key))
                .map(|spec| self.effective(spec.key).entry(spec.key))
                .collect(),
        }
    }

    /// Writes these options into `settings`: what the log acts on (retention time from the
    /// expiry, segment size, compression) and every explicit key under its own name so it is
    /// persisted with the topic. `touched` says which of the log-mapped keys to write: all of
    /// them at create, only those an update named (so a native rename of a Kafka topic keeps
    /// its Kafka-set segment size and retention).
    pub(crate) fn apply(&self, settings: &mut TopicSettings, touched: impl Fn(&str) -> bool) {
        for spec in &TOPIC_KEYS {
            settings.extra_configs.remove(spec.key);
        }
        for (key, value) in &self.explicit {
            settings
                .extra_configs
                .insert((*key).to_string(), value.to_text());
        }
        if touched(keys::MESSAGE_EXPIRY) {
            settings.retention_ms = match self.message_expiry_us() {
                0 | u64::MAX => None,
                micros => Some(micros.div_ceil(1000)),
            };
        }
        if touched(keys::SEGMENT_SIZE) {
            settings.segment_bytes = self.effective_u64(keys::SEGMENT_SIZE);
        }
        if touched(keys::COMPRESSION_ALGORITHM) {
            settings.compression = match self.compression_code() {
                2 => Compression::Gzip,
                _ => Compression::None,
            };
        }
    }
}

/// A parsed options block: keys to set and keys sent as "server default".
#[derive(Debug, Default, Clone)]
pub(crate) struct ParsedOptions {
    set: BTreeMap<&'static str, OptionValue>,
    reset: Vec<&'static str>,
}

/// Keys an update may carry in protocol 0.11 (the reference server's updatable set); the
/// others are create-time only and refused by name.
const UPDATABLE_TOPIC_KEYS: [&str; 3] = [
    keys::COMPRESSION_ALGORITHM,
    keys::MESSAGE_EXPIRY,
    keys::MAX_TOPIC_SIZE,
];

impl ParsedOptions {
    /// UnsupportedOptionKey (4041) when the block names a create-time-only key.
    pub(crate) fn check_updatable(&self) -> Result<(), Status> {
        let named = self.set.keys().copied().chain(self.reset.iter().copied());
        for key in named {
            if !UPDATABLE_TOPIC_KEYS.contains(&key) {
                return Err(Status::UnsupportedOptionKey);
            }
        }
        Ok(())
    }

    /// Whether the block named `key` at all (to set it or to reset it).
    pub(crate) fn touches(&self, key: &str) -> bool {
        self.set.contains_key(key) || self.reset.contains(&key)
    }
}

/// Parses one value for `key`. `Ok(None)` means "server default".
fn parse_value(key: &str, value_kind: u8, value: &[u8]) -> Result<Option<OptionValue>, Status> {
    let invalid = Status::InvalidOptionValue;
    let value = match key {
        keys::COMPRESSION_ALGORITHM => OptionValue::Text(parse_compression(value_kind, value)?),
        keys::DURABILITY | keys::CONSUMER_OFFSET_DURABILITY => {
            let text = text_of(value_kind, value)?.to_ascii_lowercase();
            if text != "replicated" && text != "persisted" {
                return Err(invalid);
            }
            OptionValue::Text(text)
        }
        keys::MESSAGE_EXPIRY => OptionValue::U64(number_or(value_kind, value, parse_expiry_text)?),
        keys::MAX_TOPIC_SIZE => OptionValue::U64(number_or(value_kind, value, parse_cap_text)?),
        keys::SEGMENT_SIZE => {
            let bytes = number_or(value_kind, value, parse_size)?;
            let range =
                whippet_log::limits::SEGMENT_BYTES_MIN..=whippet_log::limits::SEGMENT_BYTES_MAX;
            if bytes != 0 && !range.contains(&bytes) {
                return Err(invalid);
            }
            OptionValue::U64(bytes)
        }
        keys::MESSAGES_REQUIRED_TO_SAVE => {
            let count = number_or(value_kind, value, |text| text.parse().ok())?;
            match u32::try_from(count) {
                Ok(count)
                    if (1..=limits::NATIVE_MESSAGES_REQUIRED_TO_SAVE_MAX).contains(&count) =>
                {
                    OptionValue::U32(count)
                }
                _ => return Err(invalid),
            }
        }
        keys::SIZE_OF_MESSAGES_REQUIRED_TO_SAVE => {
            let bytes = number_or(value_kind, value, parse_size)?;
            if bytes > limits::NATIVE_SIZE_OF_MESSAGES_REQUIRED_TO_SAVE_MAX {
                return Err(invalid);
            }
            OptionValue::U64(bytes)
        }
        keys::PREALLOCATE_SEGMENTS => OptionValue::Bool(parse_bool(value_kind, value)?),
        _ => return Err(Status::UnsupportedOptionKey),
    };
    Ok(match value {
        OptionValue::U64(0) => None,
        other => Some(other),
    })
}

fn parse_compression(value_kind: u8, value: &[u8]) -> Result<String, Status> {
    if value_kind != KIND_STRING {
        return match integer_of(value_kind, value)? {
            1 => Ok("none".into()),
            2 => Ok("gzip".into()),
            _ => Err(Status::InvalidOptionValue),
        };
    }
    let text = text_of(value_kind, value)?.to_ascii_lowercase();
    match text.as_str() {
        "none" | "gzip" => Ok(text),
        _ => Err(Status::InvalidOptionValue),
    }
}

fn parse_bool(value_kind: u8, value: &[u8]) -> Result<bool, Status> {
    match (value_kind, value) {
        (kind::BOOL, [0]) => Ok(false),
        (kind::BOOL, [1]) => Ok(true),
        (KIND_STRING, _) => match text_of(value_kind, value)?.to_ascii_lowercase().as_str() {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(Status::InvalidOptionValue),
        },
        _ => Err(Status::InvalidOptionValue),
    }
}

/// A string value as text (InvalidOptionValue for another kind or bad UTF-8).
fn text_of(value_kind: u8, value: &[u8]) -> Result<&str, Status> {
    if value_kind != KIND_STRING {
        return Err(Status::InvalidOptionValue);
    }
    std::str::from_utf8(value)
        .map(str::trim)
        .map_err(|_| Status::InvalidOptionValue)
}

/// A number sent as any integer kind, or as text read by `text` (plain digits always work).
fn number_or(value_kind: u8, value: &[u8], text: fn(&str) -> Option<u64>) -> Result<u64, Status> {
    if value_kind == KIND_STRING {
        let value = text_of(value_kind, value)?;
        if let Ok(number) = value.parse::<u64>() {
            return Ok(number);
        }
        return text(value).ok_or(Status::InvalidOptionValue);
    }
    integer_of(value_kind, value)
}

/// A little-endian integer of any integer kind, as u64 (negative or too large refused).
fn integer_of(value_kind: u8, value: &[u8]) -> Result<u64, Status> {
    let (width, signed) = match value_kind {
        kind::UINT8 => (1, false),
        kind::UINT16 => (2, false),
        kind::UINT32 => (4, false),
        kind::UINT64 => (8, false),
        kind::UINT128 => (16, false),
        kind::INT8 => (1, true),
        kind::INT16 => (2, true),
        kind::INT32 => (4, true),
        kind::INT64 => (8, true),
        kind::INT128 => (16, true),
        _ => return Err(Status::InvalidOptionValue),
    };
    if value.len() != width {
        return Err(Status::InvalidOptionValue);
    }
    let mut wide = [0u8; 16];
    wide[..width].copy_from_slice(value);
    if signed && value[width - 1] & 0x80 != 0 {
        return Err(Status::InvalidOptionValue);
    }
    u64::try_from(u128::from_le_bytes(wide)).map_err(|_| Status::InvalidOptionValue)
}

/// Expiry text: "never"/"none"/"unlimited" → u64::MAX, "server_default" → 0, else a duration.
fn parse_expiry_text(text: &str) -> Option<u64> {
    match text.to_ascii_lowercase().as_str() {
        "never" | "none" | "never_expire" | "unlimited" => Some(u64::MAX),
        "server_default" | "default" => Some(0),
        other => parse_duration_us(other),
    }
}

/// Size-cap text: "unlimited"/"none" → u64::MAX, "server_default" → 0, else a size.
fn parse_cap_text(text: &str) -> Option<u64> {
    match text.to_ascii_lowercase().as_str() {
        "unlimited" | "none" => Some(u64::MAX),
        "server_default" | "default" => Some(0),
        other => parse_size(other),
    }
}

/// A human duration such as "7 days", "1h 30m", "500ms" or "2 weeks", in microseconds. Each
/// part is a number followed by a unit; parts add up. None for anything else or on overflow.
pub(crate) fn parse_duration_us(text: &str) -> Option<u64> {
    let mut total: u64 = 0;
    let mut parts = 0;
    for (number, unit) in number_unit_pairs(text)? {
        let unit_us: u64 = match unit.as_str() {
            "us" | "µs" | "usec" | "micros" | "microsecond" | "microseconds" => 1,
            "ms" | "msec" | "millis" | "millisecond" | "milliseconds" => 1_000,
            "s" | "sec" | "secs" | "second" | "seconds" => 1_000_000,
            "m" | "min" | "mins" | "minute" | "minutes" => 60_000_000,
            "h" | "hr" | "hrs" | "hour" | "hours" => 3_600_000_000,
            "d" | "day" | "days" => 86_400_000_000,
            "w" | "week" | "weeks" => 604_800_000_000,
            "month" | "months" | "mo" => 2_630_016_000_000,
            "y" | "year" | "years" => 31_557_600_000_000,
            _ => return None,
        };
        total = total.checked_add(number.checked_mul(unit_us)?)?;
        parts += 1;
    }
    (parts > 0).then_some(total)
}

/// A human size such as "1 GiB", "512KB" or "100 B", in bytes (decimal and binary prefixes,
/// case-insensitive). None for anything else or on overflow.
pub(crate) fn parse_size(text: &str) -> Option<u64> {
    let pairs = number_unit_pairs(text)?;
    let [(number, unit)] = pairs.as_slice() else {
        return None;
    };
    let multiplier: u64 = match unit.as_str() {
        "" | "b" => 1,
        "kb" | "k" => 1_000,
        "kib" => 1 << 10,
        "mb" | "m" => 1_000_000,
        "mib" => 1 << 20,
        "gb" | "g" => 1_000_000_000,
        "gib" => 1 << 30,
        "tb" | "t" => 1_000_000_000_000,
        "tib" => 1 << 40,
        "pb" | "p" => 1_000_000_000_000_000,
        "pib" => 1 << 50,
        _ => return None,
    };
    number.checked_mul(multiplier)
}

/// Splits "1h 30 min" into `[(1, "h"), (30, "min")]`, units lowercased. A trailing bare number
/// gets an empty unit. None when a part does not start with a digit or a number overflows.
fn number_unit_pairs(text: &str) -> Option<Vec<(u64, String)>> {
    let mut pairs = Vec::new();
    let mut rest = text.trim();
    while !rest.is_empty() {
        if pairs.len() == limits::NATIVE_OPTION_TEXT_PARTS_MAX {
            return None;
        }
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return None;
        }
        let number: u64 = rest[..digits].parse().ok()?;
        rest = rest[digits..].trim_start();
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c.is_whitespace())
            .unwrap_or(rest.len());
        pairs.push((number, rest[..unit_len].to_lowercase()));
        rest = rest[unit_len..].trim_start();
    }
    Some(pairs)
}

#[cfg(test)]
#[path = "options_tests.rs"]
mod tests;
