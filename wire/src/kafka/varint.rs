//! Kafka's zigzag varints (record fields of magic-v2 batches), read with a byte cap so a run of
//! continuation bytes can never loop past the field, and written for the batches the transcoder
//! builds. The one copy both the ListOffsets record walk and the transcoder use.

use bytes::BufMut;

/// Reads a zigzag varint of at most `max_bytes` bytes at `*position`, moving past it; `None` if
/// it is cut short or longer than `max_bytes`.
pub(crate) fn read(bytes: &[u8], position: &mut usize, max_bytes: usize) -> Option<i64> {
    let mut raw: u64 = 0;
    for index in 0..max_bytes {
        let byte = *bytes.get(*position)?;
        *position += 1;
        raw |= u64::from(byte & 0x7f) << (7 * index);
        if byte & 0x80 == 0 {
            // `raw >> 1` always fits in i64; `!m` is `-m - 1`.
            let magnitude = (raw >> 1) as i64;
            return Some(if raw & 1 == 0 { magnitude } else { !magnitude });
        }
    }
    None
}

/// Encoded size of `value` as a zigzag varint.
pub(crate) fn size(value: i64) -> usize {
    let mut raw = ((value << 1) ^ (value >> 63)) as u64;
    let mut size = 1;
    while raw >= 0x80 {
        raw >>= 7;
        size += 1;
    }
    size
}

/// Appends `value` as a zigzag varint.
pub(crate) fn put(out: &mut impl BufMut, value: i64) {
    let mut raw = ((value << 1) ^ (value >> 63)) as u64;
    while raw >= 0x80 {
        out.put_u8((raw as u8) | 0x80);
        raw >>= 7;
    }
    out.put_u8(raw as u8);
}
