//! get_stats (10) reply (§7.3). The broker fills what it knows and zeros the rest; the SDK only
//! decodes the layout.

use bytes::{BufMut, BytesMut};

use crate::native::codec::{
    Reader, WireDecode, WireEncode, bounded_capacity, check_range, put_bytes_u32,
};
use crate::native::error::Result;
use crate::native::limits::{LIST_ENTRIES_MAX, TEXT_BYTES_MAX};

/// One cache entry of the stats reply.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CacheEntry {
    /// Stream id.
    pub stream_id: u32,
    /// Topic id.
    pub topic_id: u32,
    /// Partition id.
    pub partition_id: u32,
    /// Cache hits.
    pub hits: u64,
    /// Cache misses.
    pub misses: u64,
    /// hits / (hits + misses).
    pub hit_ratio: f32,
}

const CACHE_ENTRY_BYTES: usize = 32;

/// Counters and process facts of the stats reply, in wire order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Stats {
    /// OS process id.
    pub process_id: u32,
    /// This process's CPU use, percent.
    pub cpu_usage: f32,
    /// Whole machine CPU use, percent.
    pub total_cpu_usage: f32,
    /// Resident memory of this process, bytes.
    pub memory_usage: u64,
    /// Machine memory, bytes.
    pub total_memory: u64,
    /// Available machine memory, bytes.
    pub available_memory: u64,
    /// Uptime, µs.
    pub run_time: u64,
    /// Start time, µs since the epoch.
    pub start_time: u64,
    /// Bytes read from disk.
    pub read_bytes: u64,
    /// Bytes written to disk.
    pub written_bytes: u64,
    /// Stored message bytes.
    pub messages_size_bytes: u64,
    /// Stream count.
    pub streams_count: u32,
    /// Topic count.
    pub topics_count: u32,
    /// Partition count.
    pub partitions_count: u32,
    /// Segment count.
    pub segments_count: u32,
    /// Stored message count.
    pub messages_count: u64,
    /// Connected clients.
    pub clients_count: u32,
    /// Consumer groups.
    pub consumer_groups_count: u32,
    /// Host name.
    pub hostname: String,
    /// OS name.
    pub os_name: String,
    /// OS version.
    pub os_version: String,
    /// Kernel version.
    pub kernel_version: String,
    /// Server version text.
    pub server_version: String,
    /// major·10⁶ + minor·10³ + patch, 0 if unknown.
    pub server_semver: u32,
    /// Cache entries.
    pub cache: Vec<CacheEntry>,
    /// Worker threads.
    pub threads_count: u32,
    /// Free disk, bytes.
    pub free_disk_space: u64,
    /// Total disk, bytes.
    pub total_disk_space: u64,
}

/// Fixed bytes before the strings: u32 + 2×f32 + 8×u64 + 4×u32 + u64 + 2×u32.
const FIXED_HEAD_BYTES: usize = 4 + 8 + 64 + 16 + 8 + 8;

impl Stats {
    fn strings(&self) -> [&str; 5] {
        [
            &self.hostname,
            &self.os_name,
            &self.os_version,
            &self.kernel_version,
            &self.server_version,
        ]
    }

    fn write_head(&self, out: &mut BytesMut) {
        out.put_u32_le(self.process_id);
        out.put_f32_le(self.cpu_usage);
        out.put_f32_le(self.total_cpu_usage);
        for value in [
            self.memory_usage,
            self.total_memory,
            self.available_memory,
            self.run_time,
            self.start_time,
            self.read_bytes,
            self.written_bytes,
            self.messages_size_bytes,
        ] {
            out.put_u64_le(value);
        }
        out.put_u32_le(self.streams_count);
        out.put_u32_le(self.topics_count);
        out.put_u32_le(self.partitions_count);
        out.put_u32_le(self.segments_count);
        out.put_u64_le(self.messages_count);
        out.put_u32_le(self.clients_count);
        out.put_u32_le(self.consumer_groups_count);
    }

    fn read_head(reader: &mut Reader<'_>) -> Result<Self> {
        Ok(Self {
            process_id: reader.u32("process_id")?,
            cpu_usage: reader.f32("cpu_usage")?,
            total_cpu_usage: reader.f32("total_cpu_usage")?,
            memory_usage: reader.u64("memory_usage")?,
            total_memory: reader.u64("total_memory")?,
            available_memory: reader.u64("available_memory")?,
            run_time: reader.u64("run_time")?,
            start_time: reader.u64("start_time")?,
            read_bytes: reader.u64("read_bytes")?,
            written_bytes: reader.u64("written_bytes")?,
            messages_size_bytes: reader.u64("messages_size_bytes")?,
            streams_count: reader.u32("streams_count")?,
            topics_count: reader.u32("topics_count")?,
            partitions_count: reader.u32("partitions_count")?,
            segments_count: reader.u32("segments_count")?,
            messages_count: reader.u64("messages_count")?,
            clients_count: reader.u32("clients_count")?,
            consumer_groups_count: reader.u32("consumer_groups_count")?,
            ..Self::default()
        })
    }
}

impl WireEncode for Stats {
    fn encoded_size(&self) -> usize {
        let strings: usize = self.strings().iter().map(|text| 4 + text.len()).sum();
        FIXED_HEAD_BYTES + strings + 4 + 4 + CACHE_ENTRY_BYTES * self.cache.len() + 20
    }

    fn encode(&self, out: &mut BytesMut) {
        self.write_head(out);
        for text in self.strings() {
            put_bytes_u32(out, text.as_bytes());
        }
        out.put_u32_le(self.server_semver);
        out.put_u32_le(self.cache.len() as u32);
        for entry in &self.cache {
            out.put_u32_le(entry.stream_id);
            out.put_u32_le(entry.topic_id);
            out.put_u32_le(entry.partition_id);
            out.put_u64_le(entry.hits);
            out.put_u64_le(entry.misses);
            out.put_f32_le(entry.hit_ratio);
        }
        out.put_u32_le(self.threads_count);
        out.put_u64_le(self.free_disk_space);
        out.put_u64_le(self.total_disk_space);
    }
}

impl WireDecode for Stats {
    fn decode(bytes: &[u8]) -> Result<(Self, usize)> {
        let mut reader = Reader::new(bytes);
        let mut stats = Self::read_head(&mut reader)?;
        stats.hostname = reader.string_u32("hostname", 0, TEXT_BYTES_MAX)?;
        stats.os_name = reader.string_u32("os_name", 0, TEXT_BYTES_MAX)?;
        stats.os_version = reader.string_u32("os_version", 0, TEXT_BYTES_MAX)?;
        stats.kernel_version = reader.string_u32("kernel_version", 0, TEXT_BYTES_MAX)?;
        stats.server_version = reader.string_u32("server_version", 0, TEXT_BYTES_MAX)?;
        stats.server_semver = reader.u32("server_semver")?;
        let count = reader.u32("cache_entries")? as usize;
        check_range("cache_entries", count as u64, 0, LIST_ENTRIES_MAX as u64)?;
        stats.cache = Vec::with_capacity(bounded_capacity(
            count,
            CACHE_ENTRY_BYTES,
            reader.remaining(),
        ));
        for _ in 0..count {
            stats.cache.push(CacheEntry {
                stream_id: reader.u32("cache_stream_id")?,
                topic_id: reader.u32("cache_topic_id")?,
                partition_id: reader.u32("cache_partition_id")?,
                hits: reader.u64("cache_hits")?,
                misses: reader.u64("cache_misses")?,
                hit_ratio: reader.f32("cache_hit_ratio")?,
            });
        }
        stats.threads_count = reader.u32("threads_count")?;
        stats.free_disk_space = reader.u64("free_disk_space")?;
        stats.total_disk_space = reader.u64("total_disk_space")?;
        Ok((stats, reader.position()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::native::codec::testing::roundtrip_strict;

    #[test]
    fn round_trip_and_layout() {
        let stats = Stats {
            process_id: 7,
            cpu_usage: 1.5,
            streams_count: 2,
            messages_count: 99,
            hostname: "h".into(),
            server_version: "0.1.0".into(),
            server_semver: 1000,
            cache: vec![CacheEntry {
                stream_id: 1,
                topic_id: 2,
                partition_id: 3,
                hits: 4,
                misses: 5,
                hit_ratio: 0.5,
            }],
            threads_count: 2,
            total_disk_space: 10,
            ..Stats::default()
        };
        let bytes = roundtrip_strict(&stats);
        assert_eq!(&bytes[..4], &7u32.to_le_bytes());
        assert_eq!(&bytes[4..8], &1.5f32.to_le_bytes());
        assert_eq!(&bytes[76..80], &2u32.to_le_bytes());
        assert_eq!(&bytes[92..100], &99u64.to_le_bytes());
        assert_eq!(&bytes[108..113], &[1, 0, 0, 0, b'h']);
    }
}
