//! A partition's manifest: the JSON object in the bucket that lists its remote segments. It is
//! rewritten only after the segment objects it adds are complete, and before the objects it
//! drops are deleted, so it never names a partial or missing object (unless someone else
//! deleted it, which a read reports as an error).

use serde::{Deserialize, Serialize};

/// Format version of the manifest object.
pub const MANIFEST_VERSION: u32 = 1;

/// One remote segment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteSegment {
    pub base_offset: u64,
    pub next_offset: u64,
    pub max_timestamp_us: i64,
    /// Bytes of the `.log` object.
    pub size: u64,
}

/// The remote segments of one partition, oldest first, contiguous.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Manifest {
    pub version: u32,
    /// The partition's log start when the manifest was written (a delete-records or the
    /// total retention may have cut into the first segment).
    pub log_start: u64,
    pub segments: Vec<RemoteSegment>,
}

impl Manifest {
    /// An empty manifest.
    pub fn new() -> Self {
        Self {
            version: MANIFEST_VERSION,
            ..Self::default()
        }
    }

    /// Parses a manifest object, checking its version and that its segments run on.
    pub fn parse(bytes: &[u8]) -> Result<Self, String> {
        let manifest: Self = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        if manifest.version != MANIFEST_VERSION {
            return Err(format!("unknown manifest version {}", manifest.version));
        }
        for pair in manifest.segments.windows(2) {
            if pair[0].next_offset != pair[1].base_offset {
                return Err(format!(
                    "segments {} and {} do not run on",
                    pair[0].base_offset, pair[1].base_offset
                ));
            }
        }
        if manifest
            .segments
            .iter()
            .any(|s| s.next_offset <= s.base_offset)
        {
            return Err("a segment holds no offset".to_string());
        }
        Ok(manifest)
    }

    /// Next offset after the last remote segment (0 when there is none).
    pub fn end(&self) -> u64 {
        self.segments.last().map_or(0, |s| s.next_offset)
    }

    /// First readable remote offset.
    pub fn start(&self) -> u64 {
        self.segments
            .first()
            .map_or(0, |s| s.base_offset.max(self.log_start))
    }

    /// The segment holding `offset`.
    pub fn segment_for(&self, offset: u64) -> Option<(usize, &RemoteSegment)> {
        let i = self.segments.partition_point(|s| s.next_offset <= offset);
        self.segments
            .get(i)
            .filter(|s| s.base_offset <= offset)
            .map(|s| (i, s))
    }
}

/// Object name of segment `base`'s file with `extension` under a partition's key path.
pub fn segment_key(partition_path: &str, base_offset: u64, extension: &str) -> String {
    format!("{partition_path}/{base_offset:020}.{extension}")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn seg(base: u64, next: u64) -> RemoteSegment {
        RemoteSegment {
            base_offset: base,
            next_offset: next,
            max_timestamp_us: 0,
            size: 1,
        }
    }

    #[test]
    fn a_manifest_round_trips_and_gaps_are_refused() {
        let mut m = Manifest::new();
        m.segments = vec![seg(0, 5), seg(5, 9)];
        let text = serde_json::to_vec(&m).unwrap();
        assert_eq!(Manifest::parse(&text).unwrap(), m);
        assert_eq!(m.segment_for(5).unwrap().0, 1);
        assert_eq!(m.segment_for(4).unwrap().0, 0);
        assert!(m.segment_for(9).is_none());
        m.segments[1].base_offset = 6;
        assert!(Manifest::parse(&serde_json::to_vec(&m).unwrap()).is_err());
        assert!(Manifest::parse(b"{").is_err());
    }
}
