//! Compression of a Kafka records section for the native → Kafka direction, in the framings
//! Kafka clients read: gzip, xerial-framed snappy (what Java producers write; librdkafka reads
//! it too), the LZ4 frame format with independent blocks (the only mode Java's reader accepts),
//! and a single zstd frame.

use std::io::Write;

use bytes::{BufMut, BytesMut};

use super::KafkaCompression;
use super::error::TranscodeError;

/// Magic, version and compatible-version of snappy-java's stream framing.
const XERIAL_HEADER: &[u8; 16] = b"\x82SNAPPY\x00\x00\x00\x00\x01\x00\x00\x00\x01";
/// Uncompressed bytes per xerial block, snappy-java's default.
const XERIAL_BLOCK_BYTES: usize = 32 * 1024;
/// zstd level: fast, as producers default to.
const ZSTD_LEVEL: i32 = 3;

/// Appends `plain` compressed with `codec` to `out`.
pub(crate) fn compress_into(
    codec: KafkaCompression,
    plain: &[u8],
    out: &mut BytesMut,
) -> Result<(), TranscodeError> {
    let failed = |error: std::io::Error| TranscodeError::Compress {
        codec,
        reason: error.to_string(),
    };
    match codec {
        KafkaCompression::None => out.put_slice(plain),
        KafkaCompression::Gzip => {
            let mut encoder =
                flate2::write::GzEncoder::new(out.writer(), flate2::Compression::fast());
            encoder.write_all(plain).map_err(failed)?;
            encoder.finish().map_err(failed)?;
        }
        KafkaCompression::Snappy => {
            out.put_slice(XERIAL_HEADER);
            let mut encoder = snap::raw::Encoder::new();
            for block in plain.chunks(XERIAL_BLOCK_BYTES) {
                let start = out.len();
                out.put_u32(0);
                out.put_bytes(0, snap::raw::max_compress_len(block.len()));
                let written = encoder
                    .compress(block, &mut out[start + 4..])
                    .map_err(|error| failed(std::io::Error::other(error)))?;
                out.truncate(start + 4 + written);
                out[start..start + 4].copy_from_slice(&(written as u32).to_be_bytes());
            }
        }
        KafkaCompression::Lz4 => {
            let mut encoder = lz4::EncoderBuilder::new()
                .block_mode(lz4::BlockMode::Independent)
                .block_size(lz4::BlockSize::Max64KB)
                .checksum(lz4::ContentChecksum::NoChecksum)
                .level(1)
                .build(out.writer())
                .map_err(failed)?;
            encoder.write_all(plain).map_err(failed)?;
            let (_, result) = encoder.finish();
            result.map_err(failed)?;
        }
        KafkaCompression::Zstd => {
            let mut encoder =
                zstd::stream::write::Encoder::new(out.writer(), ZSTD_LEVEL).map_err(failed)?;
            encoder.write_all(plain).map_err(failed)?;
            encoder.finish().map_err(failed)?;
        }
    }
    Ok(())
}
