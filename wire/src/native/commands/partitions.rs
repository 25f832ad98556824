//! Partition and segment commands: create_partitions (402), delete_partitions (403) and
//! delete_segments (503). Replies are an empty result section (402, 403) or empty (503).

use crate::native::codec::{WireDecode, check_range, wire_struct};
use crate::native::error::Result;
use crate::native::identifier::Identifier;
use crate::native::limits::PARTITIONS_PER_REQUEST_MAX;

wire_struct! {
    /// create_partitions (402) and delete_partitions (403): how many to add after the highest
    /// id, or to remove from the top.
    pub struct PartitionsChange {
        /// The stream.
        pub stream_id: Identifier,
        /// The topic.
        pub topic_id: Identifier,
        /// Partitions to add or remove.
        pub partitions_count: u32,
    }
}

impl PartitionsChange {
    /// Decode a body and check the count is 1..=1000 (§3): 0 or more per request is refused
    /// with TooManyPartitions (the reference server's code for both) before the broker touches
    /// the log.
    pub fn decode_checked(body: &[u8]) -> Result<Self> {
        let change = Self::decode_exact(body)?;
        check_range(
            "partitions_count",
            u64::from(change.partitions_count),
            1,
            u64::from(PARTITIONS_PER_REQUEST_MAX),
        )?;
        Ok(change)
    }
}

wire_struct! {
    /// delete_segments (503): drop the oldest `segments_count` segments of one partition.
    pub struct DeleteSegments {
        /// The stream.
        pub stream_id: Identifier,
        /// The topic.
        pub topic_id: Identifier,
        /// Partition id.
        pub partition_id: u32,
        /// Segments to delete.
        pub segments_count: u32,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::native::codec::WireEncode;
    use crate::native::codec::testing::roundtrip_strict;

    #[test]
    fn partitions_change_layout_and_bounds() {
        let change = PartitionsChange {
            stream_id: Identifier::Numeric(1),
            topic_id: Identifier::Numeric(2),
            partitions_count: 3,
        };
        let bytes = roundtrip_strict(&change);
        assert_eq!(&bytes[12..], &[3, 0, 0, 0]);
        assert_eq!(PartitionsChange::decode_checked(&bytes).unwrap(), change);
        let zero = PartitionsChange {
            partitions_count: 0,
            ..change.clone()
        };
        assert!(PartitionsChange::decode_checked(&zero.to_bytes()).is_err());
        let many = PartitionsChange {
            partitions_count: 1001,
            ..change
        };
        assert!(PartitionsChange::decode_checked(&many.to_bytes()).is_err());
    }

    #[test]
    fn delete_segments_layout() {
        let bytes = roundtrip_strict(&DeleteSegments {
            stream_id: Identifier::Numeric(0),
            topic_id: Identifier::name("t").unwrap(),
            partition_id: 4,
            segments_count: 2,
        });
        assert_eq!(&bytes[9..], &[4, 0, 0, 0, 2, 0, 0, 0]);
    }
}
