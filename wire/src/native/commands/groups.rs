//! Consumer-group commands (600–606). The 0.11 SDK assigns partitions client-side: after join
//! it calls sync (606) and polls its partitions with explicit ids.

use bytes::{BufMut, BytesMut};

use crate::native::codec::{
    Reader, WireDecode, WireEncode, bounded_capacity, check_range, put_string_u8, string_u8_size,
    wire_struct,
};
use crate::native::error::Result;
use crate::native::identifier::Identifier;
use crate::native::limits::{LIST_ENTRIES_MAX, NAME_BYTES_MAX};

wire_struct! {
    /// get (600), delete (603), join (604), leave (605) and sync (606): a body naming a group.
    pub struct GroupRef {
        /// The stream.
        pub stream_id: Identifier,
        /// The topic.
        pub topic_id: Identifier,
        /// The group.
        pub group_id: Identifier,
    }
}

wire_struct! {
    /// create_consumer_group (602). No id: the server assigns the lowest free one per topic.
    pub struct CreateConsumerGroup {
        /// The stream.
        pub stream_id: Identifier,
        /// The topic.
        pub topic_id: Identifier,
        /// Group name.
        pub name: String,
    }
}

/// Read `[n:u32][partition:u32]×n`.
fn read_partitions(reader: &mut Reader<'_>) -> Result<Vec<u32>> {
    let count = reader.u32("partitions_count")? as usize;
    check_range("partitions_count", count as u64, 0, LIST_ENTRIES_MAX as u64)?;
    let mut partitions = Vec::with_capacity(bounded_capacity(count, 4, reader.remaining()));
    for _ in 0..count {
        partitions.push(reader.u32("partition_id")?);
    }
    Ok(partitions)
}

fn put_partitions(out: &mut BytesMut, partitions: &[u32]) {
    out.put_u32_le(partitions.len() as u32);
    for partition in partitions {
        out.put_u32_le(*partition);
    }
}

/// GroupHeader: `[id:u32][partitions_count:u32][members_count:u32] name`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupHeader {
    /// 0-based id within the topic.
    pub id: u32,
    /// Partitions of the topic.
    pub partitions_count: u32,
    /// Current members.
    pub members_count: u32,
    /// Name.
    pub name: String,
}

impl GroupHeader {
    fn read(reader: &mut Reader<'_>) -> Result<Self> {
        Ok(Self {
            id: reader.u32("group_id")?,
            partitions_count: reader.u32("partitions_count")?,
            members_count: reader.u32("members_count")?,
            name: reader.string_u8("group_name", 1, NAME_BYTES_MAX)?,
        })
    }

    fn size(&self) -> usize {
        12 + string_u8_size(&self.name)
    }

    fn write(&self, out: &mut BytesMut) {
        out.put_u32_le(self.id);
        out.put_u32_le(self.partitions_count);
        out.put_u32_le(self.members_count);
        put_string_u8(out, &self.name);
    }
}

/// A member and its assigned partitions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMember {
    /// Member (client) id.
    pub id: u32,
    /// Assigned partitions.
    pub partitions: Vec<u32>,
}

/// get_consumer_group / create_consumer_group reply: header then members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupDetails {
    /// The group; `members_count` is written from `members.len()`.
    pub group: GroupHeader,
    /// Its members.
    pub members: Vec<GroupMember>,
}

impl WireEncode for GroupDetails {
    fn encoded_size(&self) -> usize {
        self.group.size()
            + self
                .members
                .iter()
                .map(|member| 8 + 4 * member.partitions.len())
                .sum::<usize>()
    }

    fn encode(&self, out: &mut BytesMut) {
        let group = GroupHeader {
            members_count: self.members.len() as u32,
            ..self.group.clone()
        };
        group.write(out);
        for member in &self.members {
            out.put_u32_le(member.id);
            put_partitions(out, &member.partitions);
        }
    }
}

impl WireDecode for GroupDetails {
    fn decode(bytes: &[u8]) -> Result<(Self, usize)> {
        let mut reader = Reader::new(bytes);
        let group = GroupHeader::read(&mut reader)?;
        let count = group.members_count as usize;
        check_range("members_count", count as u64, 0, LIST_ENTRIES_MAX as u64)?;
        let mut members = Vec::with_capacity(bounded_capacity(count, 8, reader.remaining()));
        for _ in 0..count {
            let id = reader.u32("member_id")?;
            let partitions = read_partitions(&mut reader)?;
            members.push(GroupMember { id, partitions });
        }
        Ok((Self { group, members }, reader.position()))
    }
}

/// get_consumer_groups reply: GroupHeaders back to back.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GroupList {
    /// Groups of the topic.
    pub groups: Vec<GroupHeader>,
}

impl WireEncode for GroupList {
    fn encoded_size(&self) -> usize {
        self.groups.iter().map(GroupHeader::size).sum()
    }

    fn encode(&self, out: &mut BytesMut) {
        for group in &self.groups {
            group.write(out);
        }
    }
}

impl WireDecode for GroupList {
    fn decode(bytes: &[u8]) -> Result<(Self, usize)> {
        let mut reader = Reader::new(bytes);
        let mut groups = Vec::new();
        while reader.remaining() > 0 {
            check_range(
                "groups",
                groups.len() as u64,
                0,
                LIST_ENTRIES_MAX as u64 - 1,
            )?;
            groups.push(GroupHeader::read(&mut reader)?);
        }
        Ok((Self { groups }, reader.position()))
    }
}

/// sync_consumer_group reply: the caller's generation and partitions (an empty body instead
/// means the caller is not a member).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncReply {
    /// Assignment generation; bumps on every rebalance.
    pub generation: u64,
    /// Partitions assigned to the caller.
    pub partitions: Vec<u32>,
}

impl WireEncode for SyncReply {
    fn encoded_size(&self) -> usize {
        12 + 4 * self.partitions.len()
    }

    fn encode(&self, out: &mut BytesMut) {
        out.put_u64_le(self.generation);
        put_partitions(out, &self.partitions);
    }
}

impl WireDecode for SyncReply {
    fn decode(bytes: &[u8]) -> Result<(Self, usize)> {
        let mut reader = Reader::new(bytes);
        let generation = reader.u64("generation")?;
        let partitions = read_partitions(&mut reader)?;
        Ok((
            Self {
                generation,
                partitions,
            },
            reader.position(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::native::codec::testing::roundtrip_strict;

    #[test]
    fn requests_round_trip() {
        let bytes = roundtrip_strict(&GroupRef {
            stream_id: Identifier::Numeric(0),
            topic_id: Identifier::Numeric(1),
            group_id: Identifier::name("g").unwrap(),
        });
        assert_eq!(&bytes[12..], &[2, 1, b'g']);
        let bytes = roundtrip_strict(&CreateConsumerGroup {
            stream_id: Identifier::Numeric(0),
            topic_id: Identifier::Numeric(1),
            name: "cg".into(),
        });
        assert_eq!(&bytes[12..], &[2, b'c', b'g']);
    }

    #[test]
    fn details_list_and_sync() {
        let header = GroupHeader {
            id: 0,
            partitions_count: 3,
            members_count: 2,
            name: "g".into(),
        };
        let details = GroupDetails {
            group: header.clone(),
            members: vec![
                GroupMember {
                    id: 1,
                    partitions: vec![0, 2],
                },
                GroupMember {
                    id: 2,
                    partitions: vec![1],
                },
            ],
        };
        let bytes = roundtrip_strict(&details);
        assert_eq!(&bytes[..14], &[0, 0, 0, 0, 3, 0, 0, 0, 2, 0, 0, 0, 1, b'g']);
        assert_eq!(&bytes[14..22], &[1, 0, 0, 0, 2, 0, 0, 0]);
        let list = GroupList {
            groups: vec![header.clone(), header],
        };
        let encoded = list.to_bytes();
        assert_eq!(GroupList::decode_exact(&encoded).unwrap(), list);
        assert!(GroupList::decode_exact(&encoded[..encoded.len() - 1]).is_err());
        let sync = roundtrip_strict(&SyncReply {
            generation: 4,
            partitions: vec![0, 1],
        });
        assert_eq!(&sync[8..12], &2u32.to_le_bytes());
        assert!(
            SyncReply::decode(&[0; 8].iter().chain(&[0xff; 4]).copied().collect::<Vec<_>>())
                .is_err()
        );
    }
}
