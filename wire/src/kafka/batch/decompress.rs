//! Bounded decompression of a batch's records section. `kafka-protocol`'s own decompressors
//! inflate without an output cap, so a few kilobytes of zstd or gzip could make us allocate
//! gigabytes; here every codec stops with an error once the output passes the limit, and the
//! output buffer grows with the bytes actually produced, never from a length the input claims
//! (snappy's declared length is checked against what its block could possibly expand to, zstd's
//! window against [`ZSTD_WINDOW_LOG_MAX`]).

use std::borrow::Cow;
use std::io::Read;

use kafka_protocol::records::Compression;

use crate::kafka::error::{KafkaWireError, Result};
use crate::kafka::limits::{SNAPPY_EXPANSION_MAX, ZSTD_WINDOW_LOG_MAX};

/// Header of snappy-java's framing (Java clients, kafka-python, aiokafka); librdkafka writes
/// raw snappy blocks instead, so both must be read.
const XERIAL_MAGIC: &[u8] = b"\x82SNAPPY\x00";
/// Magic, version and compatible-version fields before the first xerial block.
const XERIAL_HEADER_BYTES: usize = 16;
/// Each xerial block is prefixed by its compressed length as a big-endian u32.
const XERIAL_BLOCK_PREFIX_BYTES: usize = 4;

/// Returns the records section of a batch in plain form, decompressing with `codec` and failing
/// once the output would exceed `max` bytes. Uncompressed input is returned borrowed.
pub fn decompress_records(codec: Compression, data: &[u8], max: usize) -> Result<Cow<'_, [u8]>> {
    if codec == Compression::None {
        return Ok(Cow::Borrowed(data));
    }
    let mut out = Vec::new();
    decompress_into(codec, data, max, &mut out)?;
    Ok(Cow::Owned(out))
}

/// Decompresses `data` with `codec` into `out` (cleared first; its capacity is reused), failing
/// once the output would exceed `max` bytes. Uncompressed input is copied under the same cap.
pub fn decompress_into(
    codec: Compression,
    data: &[u8],
    max: usize,
    out: &mut Vec<u8>,
) -> Result<()> {
    out.clear();
    match codec {
        Compression::None => {
            if data.len() > max {
                return Err(too_large(max));
            }
            out.extend_from_slice(data);
            Ok(())
        }
        Compression::Gzip => read_capped(flate2::read::MultiGzDecoder::new(data), max, out),
        Compression::Lz4 => {
            let decoder = lz4::Decoder::new(data).map_err(|e| failed(codec, &e))?;
            read_capped(decoder, max, out)
        }
        Compression::Zstd => {
            let mut decoder =
                zstd::stream::read::Decoder::with_buffer(data).map_err(|e| failed(codec, &e))?;
            decoder
                .window_log_max(ZSTD_WINDOW_LOG_MAX)
                .map_err(|e| failed(codec, &e))?;
            read_capped(decoder, max, out)
        }
        Compression::Snappy => snappy(data, max, out),
    }
}

fn failed(codec: Compression, err: &dyn std::fmt::Display) -> KafkaWireError {
    KafkaWireError::Decompress {
        reason: format!("{codec:?}: {err}"),
    }
}

fn too_large(max: usize) -> KafkaWireError {
    KafkaWireError::RecordsTooLarge { max }
}

/// Reads at most `max + 1` bytes so an oversized stream is detected without inflating it all.
fn read_capped<R: Read>(reader: R, max: usize, out: &mut Vec<u8>) -> Result<()> {
    let cap = u64::try_from(max).unwrap_or(u64::MAX).saturating_add(1);
    reader
        .take(cap)
        .read_to_end(out)
        .map_err(|e| KafkaWireError::Decompress {
            reason: e.to_string(),
        })?;
    if out.len() > max {
        return Err(too_large(max));
    }
    Ok(())
}

fn snappy(data: &[u8], max: usize, out: &mut Vec<u8>) -> Result<()> {
    if data.len() >= XERIAL_HEADER_BYTES && data.starts_with(XERIAL_MAGIC) {
        let mut rest = &data[XERIAL_HEADER_BYTES..];
        while !rest.is_empty() {
            let (prefix, after) = rest
                .split_at_checked(XERIAL_BLOCK_PREFIX_BYTES)
                .ok_or_else(|| failed(Compression::Snappy, &"truncated xerial block length"))?;
            let mut len_bytes = [0u8; XERIAL_BLOCK_PREFIX_BYTES];
            len_bytes.copy_from_slice(prefix);
            let block_len = usize::try_from(u32::from_be_bytes(len_bytes)).unwrap_or(usize::MAX);
            let (block, after_block) = after
                .split_at_checked(block_len)
                .ok_or_else(|| failed(Compression::Snappy, &"truncated xerial block"))?;
            snappy_block(block, out, max)?;
            rest = after_block;
        }
        Ok(())
    } else {
        snappy_block(data, out, max)
    }
}

/// Appends one raw snappy block to `out`, checking its declared size before allocating: within
/// the cap, and no more than the block's bytes could expand to.
fn snappy_block(block: &[u8], out: &mut Vec<u8>, max: usize) -> Result<()> {
    let len = snap::raw::decompress_len(block).map_err(|e| failed(Compression::Snappy, &e))?;
    if len > block.len().saturating_mul(SNAPPY_EXPANSION_MAX) {
        return Err(failed(
            Compression::Snappy,
            &"declared length is more than the block can hold",
        ));
    }
    let start = out.len();
    if len > max - start.min(max) {
        return Err(too_large(max));
    }
    out.resize(start + len, 0);
    let written = snap::raw::Decoder::new()
        .decompress(block, &mut out[start..])
        .map_err(|e| failed(Compression::Snappy, &e))?;
    out.truncate(start + written);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw_snappy(data: &[u8]) -> Vec<u8> {
        snap::raw::Encoder::new().compress_vec(data).unwrap()
    }

    #[test]
    fn raw_and_xerial_snappy_both_read() {
        let plain = b"hello hello hello snappy".repeat(10);
        let raw = raw_snappy(&plain);
        assert_eq!(
            &*decompress_records(Compression::Snappy, &raw, 1 << 20).unwrap(),
            &plain[..]
        );
        let mut xerial = b"\x82SNAPPY\x00\x00\x00\x00\x01\x00\x00\x00\x01".to_vec();
        for chunk in plain.chunks(100) {
            let block = raw_snappy(chunk);
            xerial.extend_from_slice(&u32::try_from(block.len()).unwrap().to_be_bytes());
            xerial.extend_from_slice(&block);
        }
        assert_eq!(
            &*decompress_records(Compression::Snappy, &xerial, 1 << 20).unwrap(),
            &plain[..]
        );
        xerial.pop();
        assert!(decompress_records(Compression::Snappy, &xerial, 1 << 20).is_err());
    }

    #[test]
    fn every_codec_respects_the_cap() {
        let plain = vec![7u8; 10_000];
        let gzip = {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            std::io::Write::write_all(&mut e, &plain).unwrap();
            e.finish().unwrap()
        };
        let zstd = zstd::encode_all(&plain[..], 1).unwrap();
        let cases = [
            (Compression::Gzip, gzip),
            (Compression::Zstd, zstd),
            (Compression::Snappy, raw_snappy(&plain)),
        ];
        for (codec, data) in cases {
            assert_eq!(
                decompress_records(codec, &data, 10_000).unwrap().len(),
                10_000,
                "{codec:?}"
            );
            assert!(
                decompress_records(codec, &data, 9_999).is_err(),
                "{codec:?}"
            );
        }
        assert!(decompress_records(Compression::Lz4, b"not lz4", 100).is_err());
    }
}
