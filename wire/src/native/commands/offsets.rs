//! Consumer-offset commands: get (120), store (121), delete (122). Store and delete are
//! replicated partition ops whose replies are a bare result section.

use bytes::{BufMut, BytesMut};

use super::messages::Consumer;
use crate::native::codec::{Reader, WireField, wire_struct};
use crate::native::error::{NativeWireError, Result};
use crate::native::identifier::Identifier;

/// Durability the client asks for on store/delete (`[ack:u8]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ack {
    /// 0: reply before the change is replicated.
    None,
    /// 1: reply once a quorum has it (the SDK default).
    Quorum,
}

impl WireField for Ack {
    fn read_field(reader: &mut Reader<'_>, field: &'static str) -> Result<Self> {
        match reader.u8(field)? {
            0 => Ok(Self::None),
            1 => Ok(Self::Quorum),
            other => Err(NativeWireError::InvalidValue {
                field,
                value: u64::from(other),
            }),
        }
    }

    fn field_size(&self) -> usize {
        1
    }

    fn write_field(&self, out: &mut BytesMut) {
        out.put_u8(match self {
            Self::None => 0,
            Self::Quorum => 1,
        });
    }
}

wire_struct! {
    /// get_consumer_offset (120) request.
    pub struct GetConsumerOffset {
        /// Consumer or group.
        pub consumer: Consumer,
        /// The stream.
        pub stream_id: Identifier,
        /// The topic.
        pub topic_id: Identifier,
        /// Partition, when given.
        pub partition_id: Option<u32>,
    }
}

wire_struct! {
    /// store_consumer_offset (121) request.
    pub struct StoreConsumerOffset {
        /// Consumer or group.
        pub consumer: Consumer,
        /// The stream.
        pub stream_id: Identifier,
        /// The topic.
        pub topic_id: Identifier,
        /// Partition, when given.
        pub partition_id: Option<u32>,
        /// Offset to store.
        pub offset: u64,
        /// Requested durability.
        pub ack: Ack,
    }
}

wire_struct! {
    /// delete_consumer_offset (122) request.
    pub struct DeleteConsumerOffset {
        /// Consumer or group.
        pub consumer: Consumer,
        /// The stream.
        pub stream_id: Identifier,
        /// The topic.
        pub topic_id: Identifier,
        /// Partition, when given.
        pub partition_id: Option<u32>,
        /// Requested durability.
        pub ack: Ack,
    }
}

wire_struct! {
    /// get_consumer_offset reply (an empty body means "no stored offset").
    pub struct ConsumerOffsetReply {
        /// Partition the offset belongs to.
        pub partition_id: u32,
        /// Highest offset of the partition.
        pub current_offset: u64,
        /// The consumer's stored offset.
        pub stored_offset: u64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::native::codec::WireDecode;
    use crate::native::codec::testing::roundtrip_strict;

    fn group() -> Consumer {
        Consumer::Group(Identifier::Numeric(3))
    }

    #[test]
    fn get_layout() {
        let bytes = roundtrip_strict(&GetConsumerOffset {
            consumer: Consumer::Single(Identifier::Numeric(1)),
            stream_id: Identifier::Numeric(0),
            topic_id: Identifier::Numeric(0),
            partition_id: None,
        });
        assert_eq!(bytes[0], 1);
        assert_eq!(&bytes[19..], &[0, 0, 0, 0, 0]);
    }

    #[test]
    fn store_and_delete_layout() {
        let store = roundtrip_strict(&StoreConsumerOffset {
            consumer: group(),
            stream_id: Identifier::Numeric(0),
            topic_id: Identifier::name("t").unwrap(),
            partition_id: Some(2),
            offset: 41,
            ack: Ack::Quorum,
        });
        assert_eq!(store[0], 2);
        assert_eq!(&store[store.len() - 9..], &[41, 0, 0, 0, 0, 0, 0, 0, 1]);
        let mut bad_ack = store.clone();
        *bad_ack.last_mut().unwrap() = 2;
        assert!(StoreConsumerOffset::decode_exact(&bad_ack).is_err());
        let delete = roundtrip_strict(&DeleteConsumerOffset {
            consumer: group(),
            stream_id: Identifier::Numeric(0),
            topic_id: Identifier::Numeric(0),
            partition_id: Some(0),
            ack: Ack::None,
        });
        assert_eq!(*delete.last().unwrap(), 0);
    }

    #[test]
    fn reply_layout() {
        let bytes = roundtrip_strict(&ConsumerOffsetReply {
            partition_id: 1,
            current_offset: 10,
            stored_offset: 4,
        });
        assert_eq!(bytes.len(), 20);
        assert_eq!(&bytes[12..], &4u64.to_le_bytes());
    }
}
