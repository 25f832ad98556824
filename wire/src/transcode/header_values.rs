//! Looking into a Kafka Produce request's record batches for the broker's tracing: their
//! record count, and the values of one header key (W3C `traceparent`). The CRCs are not
//! checked (the produce path does that; this may run before it) and malformed bytes end the
//! walk quietly: a best-effort look, never a reason to refuse data. Reads at most
//! `max_records` records; a compressed batch is decompressed (bounded by `max_bytes`) first.

use kafka_protocol::records::Compression;

use crate::kafka::batch::{batch_extent, codec_of, decompress_records, layout, read_i16, read_i32};

use super::records::Cursor;

/// One batch's place and the header fields the walk needs.
struct Batch<'a> {
    records_section: &'a [u8],
    record_count: usize,
    codec: Compression,
    is_control: bool,
}

/// The batches of `records`, up to the first that does not parse.
fn batches(records: &[u8]) -> impl Iterator<Item = Batch<'_>> {
    let mut position = 0;
    std::iter::from_fn(move || {
        let rest = records.get(position..).filter(|rest| !rest.is_empty())?;
        let len = batch_extent(rest, position).ok()?;
        let batch = &rest[..len];
        let attributes = read_i16(batch, layout::ATTRIBUTES);
        let codec = codec_of(attributes, position).ok()?;
        position += len;
        Some(Batch {
            records_section: &batch[layout::HEADER_BYTES..],
            record_count: usize::try_from(read_i32(batch, layout::RECORD_COUNT)).unwrap_or(0),
            codec,
            is_control: attributes & layout::CONTROL_BIT != 0,
        })
    })
}

/// The records the batches of `records` say they hold (from their headers alone).
pub fn kafka_record_count(records: &[u8]) -> u64 {
    batches(records)
        .map(|batch| batch.record_count as u64)
        .sum()
}

/// Calls `found` with the value of every record header named `key` in the batches of
/// `records` (the records bytes of one partition in a Produce request), in record order, over
/// at most `max_records` records. Null values are skipped.
pub fn kafka_header_values(
    records: &[u8],
    key: &[u8],
    (max_records, max_bytes): (usize, usize),
    found: &mut dyn FnMut(&[u8]),
) {
    let mut left = max_records;
    for batch in batches(records) {
        if left == 0 {
            return;
        }
        if batch.is_control {
            continue;
        }
        let Ok(plain) = decompress_records(batch.codec, batch.records_section, max_bytes) else {
            return;
        };
        let mut cursor = Cursor::new(&plain);
        for index in 0..batch.record_count.min(left) {
            left -= 1;
            let Ok(record) = cursor.record(index) else {
                return;
            };
            let mut headers = Cursor::new(record.headers);
            for _ in 0..record.header_count {
                match headers.header() {
                    Some((name, Some(value))) if name == key => found(value),
                    Some(_) => {}
                    None => break,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use bytes::BytesMut;
    use kafka_protocol::records::{
        Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
    };

    use super::*;

    fn batch(compression: Compression, headers: &[&[(&'static str, Option<&str>)]]) -> Vec<u8> {
        let records: Vec<Record> = headers
            .iter()
            .enumerate()
            .map(|(i, headers)| Record {
                transactional: false,
                control: false,
                delete_horizon: false,
                partition_leader_epoch: 0,
                producer_id: -1,
                producer_epoch: -1,
                timestamp_type: TimestampType::Creation,
                offset: i64::try_from(i).unwrap(),
                sequence: -1,
                timestamp: 0,
                key: None,
                value: Some(bytes::Bytes::from_static(b"v")),
                headers: headers
                    .iter()
                    .map(|(k, v)| {
                        (
                            kafka_protocol::protocol::StrBytes::from_static_str(k),
                            v.map(|v| bytes::Bytes::copy_from_slice(v.as_bytes())),
                        )
                    })
                    .collect(),
            })
            .collect();
        let mut out = BytesMut::new();
        let options = RecordEncodeOptions {
            version: 2,
            compression,
        };
        RecordBatchEncoder::encode(&mut out, &records, &options).unwrap();
        out.to_vec()
    }

    fn values(records: &[u8], max_records: usize) -> Vec<String> {
        let mut out = Vec::new();
        kafka_header_values(records, b"traceparent", (max_records, 1 << 20), &mut |v| {
            out.push(String::from_utf8(v.to_vec()).unwrap());
        });
        out
    }

    #[test]
    fn finds_the_values_of_one_key_in_plain_and_compressed_batches() {
        let headers: [&[(&'static str, Option<&str>)]; 3] = [
            &[("a", Some("x")), ("traceparent", Some("t1"))],
            &[("traceparent", None)],
            &[("traceparent", Some("t3"))],
        ];
        for compression in [Compression::None, Compression::Gzip] {
            let mut two = batch(compression, &headers);
            two.extend(batch(compression, &headers[2..]));
            assert_eq!(values(&two, 100), ["t1", "t3", "t3"], "{compression:?}");
            // The record cap counts every record read, with or without the header.
            assert_eq!(values(&two, 2), ["t1"], "{compression:?}");
        }
        assert!(values(b"garbage", 100).is_empty());
        let mut two = batch(Compression::None, &headers);
        two.extend(batch(Compression::None, &headers[2..]));
        assert_eq!(kafka_record_count(&two), 4);
    }
}
