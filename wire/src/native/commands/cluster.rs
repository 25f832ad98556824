//! get_cluster_metadata (12) reply: the roster the 0.11 SDK asks for right after login. A
//! single-node broker answers with one node, which makes the SDK treat it as standalone.

use bytes::{BufMut, BytesMut};

use crate::native::codec::{
    Reader, WireDecode, WireEncode, bounded_capacity, check_range, put_bytes_u32,
};
use crate::native::error::Result;
use crate::native::limits::{LIST_ENTRIES_MAX, TEXT_BYTES_MAX};

/// Role byte of a leader node.
pub const ROLE_LEADER: u8 = 0;
/// Status byte of a healthy node.
pub const STATUS_HEALTHY: u8 = 0;

/// Smallest encoded node: two empty strings, four ports, role and status.
const NODE_BYTES_MIN: usize = 4 + 4 + 8 + 2;

/// One node of the roster. The SDK remembers `ip`/`tcp_port` as a reconnect target, so they must
/// be dialable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterNode {
    /// Node name.
    pub name: String,
    /// Dialable IP address.
    pub ip: String,
    /// TCP (native) port.
    pub tcp_port: u16,
    /// QUIC port, 0 when not served.
    pub quic_port: u16,
    /// HTTP port, 0 when not served.
    pub http_port: u16,
    /// WebSocket port, 0 when not served.
    pub websocket_port: u16,
    /// 0 leader, 1 follower.
    pub role: u8,
    /// 0 healthy, 1 starting, 2 stopping, 3 unreachable, 4 maintenance.
    pub status: u8,
}

impl ClusterNode {
    fn size(&self) -> usize {
        NODE_BYTES_MIN + self.name.len() + self.ip.len()
    }

    fn write(&self, out: &mut BytesMut) {
        put_bytes_u32(out, self.name.as_bytes());
        put_bytes_u32(out, self.ip.as_bytes());
        out.put_u16_le(self.tcp_port);
        out.put_u16_le(self.quic_port);
        out.put_u16_le(self.http_port);
        out.put_u16_le(self.websocket_port);
        out.put_u8(self.role);
        out.put_u8(self.status);
    }

    fn read(reader: &mut Reader<'_>) -> Result<Self> {
        Ok(Self {
            name: reader.string_u32("node_name", 0, TEXT_BYTES_MAX)?,
            ip: reader.string_u32("node_ip", 0, TEXT_BYTES_MAX)?,
            tcp_port: reader.u16("tcp_port")?,
            quic_port: reader.u16("quic_port")?,
            http_port: reader.u16("http_port")?,
            websocket_port: reader.u16("websocket_port")?,
            role: reader.u8("node_role")?,
            status: reader.u8("node_status")?,
        })
    }
}

/// get_cluster_metadata reply body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterMetadata {
    /// Cluster name.
    pub name: String,
    /// Nodes; at least one for the SDK to work.
    pub nodes: Vec<ClusterNode>,
}

impl WireEncode for ClusterMetadata {
    fn encoded_size(&self) -> usize {
        8 + self.name.len() + self.nodes.iter().map(ClusterNode::size).sum::<usize>()
    }

    fn encode(&self, out: &mut BytesMut) {
        put_bytes_u32(out, self.name.as_bytes());
        out.put_u32_le(self.nodes.len() as u32);
        for node in &self.nodes {
            node.write(out);
        }
    }
}

impl WireDecode for ClusterMetadata {
    fn decode(bytes: &[u8]) -> Result<(Self, usize)> {
        let mut reader = Reader::new(bytes);
        let name = reader.string_u32("cluster_name", 0, TEXT_BYTES_MAX)?;
        let count = reader.u32("nodes_count")? as usize;
        check_range("nodes_count", count as u64, 0, LIST_ENTRIES_MAX as u64)?;
        let mut nodes =
            Vec::with_capacity(bounded_capacity(count, NODE_BYTES_MIN, reader.remaining()));
        for _ in 0..count {
            nodes.push(ClusterNode::read(&mut reader)?);
        }
        Ok((Self { name, nodes }, reader.position()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::native::codec::testing::roundtrip_strict;

    #[test]
    fn one_node_roster_layout() {
        let metadata = ClusterMetadata {
            name: "w".into(),
            nodes: vec![ClusterNode {
                name: "n0".into(),
                ip: "127.0.0.1".into(),
                tcp_port: 8090,
                quic_port: 0,
                http_port: 0,
                websocket_port: 0,
                role: ROLE_LEADER,
                status: STATUS_HEALTHY,
            }],
        };
        let bytes = roundtrip_strict(&metadata);
        assert_eq!(&bytes[..9], &[1, 0, 0, 0, b'w', 1, 0, 0, 0]);
        assert_eq!(&bytes[9..15], &[2, 0, 0, 0, b'n', b'0']);
        assert_eq!(&bytes[28..30], &8090u16.to_le_bytes());
        assert_eq!(bytes.len(), 9 + 6 + 13 + 10);
    }

    #[test]
    fn huge_node_count_fails_cleanly() {
        assert!(ClusterMetadata::decode(&[0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]).is_err());
    }
}
