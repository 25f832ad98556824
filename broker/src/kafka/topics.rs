//! Kafka's view of the catalog: Kafka topic `T` is log topic `T` in the stream named
//! `ctx.kafka_stream`, native topic `t` of another stream `s` is Kafka topic `s.t`, partition
//! p is partition p (the mapping and its collision rules live in [`crate::core::names`]). This module
//! owns the Kafka-facing lookups over that mapping, Kafka's topic-name rule, stable topic ids,
//! topic creation (explicit and automatic), and the startup steps the mapping needs: the Kafka
//! stream exists and the cluster id is persisted.

use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use kafka_protocol::messages::TopicName;
use kafka_protocol::protocol::StrBytes;
use uuid::Uuid;
use whippet_log::{LogError, TopicMeta, TopicSettings};

use whippet_meta::CommandError;

use crate::context::BrokerContext;
use crate::core::meta::{Meta, MetaCommand, MetaRefusal};
use crate::core::{CoreError, RequestContext, names};
use crate::limits;

pub use crate::core::names::{TOPIC_NAME_BYTES_MAX, validate_topic_name};

/// Name of the file in the state directory that held the cluster id before the metadata log
/// (read once, for migration).
pub const CLUSTER_ID_FILE: &str = "cluster_id";

/// The cluster id on the metadata log; on first start it is taken from the old `cluster_id`
/// file of an older data dir (then removed) or created. Kafka clients cache the id; it must
/// not change across restarts of the same data. Blocking: call it off the async workers.
pub fn load_or_create_cluster_id(meta: &Meta, state_dir: &Path) -> Result<String, LogError> {
    if let Some(id) = &meta.load().cluster_id {
        return Ok(id.clone());
    }
    let path = state_dir.join(CLUSTER_ID_FILE);
    let id = match std::fs::File::open(&path) {
        Ok(file) => {
            let mut text = String::new();
            file.take(limits::CLUSTER_ID_FILE_BYTES_MAX)
                .read_to_string(&mut text)
                .map_err(|e| LogError::io(&path, e))?;
            let id = text.trim();
            if id.is_empty() || !id.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(LogError::io(
                    &path,
                    std::io::Error::other("cluster_id file is empty or not printable ASCII"),
                ));
            }
            id.to_string()
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => new_cluster_id(),
        Err(e) => return Err(LogError::io(&path, e)),
    };
    match meta.submit_blocking(MetaCommand::ClusterId(id.clone())) {
        Ok(_) => {}
        Err(CommandError::Rejected(MetaRefusal::ClusterIdSet(set))) => return Ok(set),
        Err(error) => {
            return Err(LogError::io(
                meta.dir(),
                std::io::Error::other(error.to_string()),
            ));
        }
    }
    match std::fs::remove_file(&path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(LogError::io(&path, e)),
    }
    Ok(id)
}

/// A cluster id in Kafka's shape: a random UUID in URL-safe base64 without padding.
fn new_cluster_id() -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let bytes = Uuid::new_v4().into_bytes();
    let mut bits = u128::from_be_bytes(bytes);
    // 22 base64 digits cover 132 bits; the top digit takes the last 2 bits of the 128.
    let mut out = [0u8; 22];
    for slot in out.iter_mut().rev() {
        *slot = ALPHABET[(bits & 63) as usize];
        bits >>= 6;
    }
    out.iter().map(|&b| char::from(b)).collect()
}

/// The id of the Kafka stream, if it exists in the current catalog.
pub fn kafka_stream_id(ctx: &BrokerContext) -> Option<u32> {
    ctx.log
        .snapshot()
        .stream_by_name(&ctx.kafka_stream)
        .map(|s| s.id)
}

/// Every topic Kafka clients can see (the Kafka stream's, then native topics of other streams
/// whose `<stream>.<topic>` name is legal for Kafka; see [`crate::core::names`]), each with its
/// Kafka name.
pub fn all_topics(ctx: &BrokerContext) -> Vec<(String, Arc<TopicMeta>)> {
    names::kafka_topics(&ctx.log.snapshot(), &ctx.kafka_stream)
}

/// The topic a Kafka client means by `name`: a Kafka-stream topic, or a native topic by its
/// `<stream>.<topic>` name ([`crate::core::names`]).
pub fn find_topic(ctx: &BrokerContext, name: &str) -> Option<Arc<TopicMeta>> {
    names::resolve(&ctx.log.snapshot(), &ctx.kafka_stream, name)
}

/// The Kafka-visible topic whose id (see [`topic_uuid`]) is `id`, with its Kafka name.
pub fn find_topic_by_id(ctx: &BrokerContext, id: Uuid) -> Option<(String, Arc<TopicMeta>)> {
    all_topics(ctx)
        .into_iter()
        .find(|(_, t)| topic_uuid(t) == id)
}

/// The name Kafka clients know `topic` by, or `None` when it is not visible to them (its
/// stream is gone, or its `<stream>.<topic>` name is not a legal Kafka name).
pub fn kafka_name(ctx: &BrokerContext, topic: &TopicMeta) -> Option<String> {
    names::name_of(&ctx.log.snapshot(), &ctx.kafka_stream, topic)
}

/// A topic's Kafka id: derived from (stream id, topic id, creation time), so it is stable for
/// the topic's life, survives restarts without being stored, and differs for a topic deleted
/// and re-created under the same name (Kafka clients rely on that to notice re-creation). The
/// 128 bits are scrambled by a bijection so ids look random, as Kafka's do, and are never the
/// reserved all-zero id.
pub fn topic_uuid(topic: &TopicMeta) -> Uuid {
    let high = (u64::from(topic.stream_id) << 32) | u64::from(topic.id);
    // Two's-complement reinterpretation: creation time is positive in practice, and any i64
    // maps to a distinct u64.
    let low = u64::from_ne_bytes(topic.created_at_us.to_ne_bytes());
    let a = mix(high ^ mix(low));
    let b = mix(low ^ a);
    let id = (u128::from(a) << 64) | u128::from(b);
    Uuid::from_u128(if id == 0 { 1 << 64 } else { id })
}

/// SplitMix64's finalizer: a bijection on u64 with good avalanche.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Creates a Kafka topic in the Kafka stream through the core (which checks the name against
/// every existing reading under its names lock). The name must already have passed
/// [`validate_topic_name`].
pub async fn create_topic(
    ctx: &Arc<BrokerContext>,
    rc: &RequestContext,
    name: &str,
    partitions: u32,
    settings: TopicSettings,
) -> Result<Arc<TopicMeta>, CoreError> {
    crate::core::topics::create_kafka_topic(&ctx.core, rc, name, partitions, settings).await
}

/// Creates `name` with the broker's default partition count and settings, for Metadata's
/// auto-create. A concurrent creation of the same name is not an error: the result is the same
/// topic either way (possibly a native topic whose `<stream>.<topic>` name appeared meanwhile).
pub async fn auto_create(
    ctx: &Arc<BrokerContext>,
    rc: &RequestContext,
    name: &str,
) -> Result<Arc<TopicMeta>, CoreError> {
    let partitions = ctx.kafka.num_partitions;
    match create_topic(ctx, rc, name, partitions, TopicSettings::default()).await {
        Err(CoreError::Log(LogError::TopicExists(_))) => find_topic(ctx, name)
            .ok_or_else(|| CoreError::Log(LogError::TopicNotFound(name.to_string()))),
        other => other,
    }
}

pub(crate) use crate::core::blocking;

/// A topic name as the protocol's newtype.
pub(crate) fn topic_name(name: &str) -> TopicName {
    TopicName(StrBytes::from_string(name.to_string()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn kafka_name_rule() {
        for ok in ["a", "A-b_c.9", &"x".repeat(249)] {
            assert_eq!(validate_topic_name(ok), Ok(()), "{ok}");
        }
        for bad in ["", ".", "..", "a/b", "a b", "é", &"x".repeat(250)] {
            assert!(validate_topic_name(bad).is_err(), "{bad:?}");
        }
    }

    fn cluster_id_in(dir: &Path) -> Result<String, LogError> {
        let (meta, _) = Meta::open(dir).unwrap();
        load_or_create_cluster_id(&meta, dir)
    }

    #[test]
    fn cluster_id_is_created_once_and_then_stable() {
        let dir = tempfile::tempdir().unwrap();
        let first = cluster_id_in(dir.path()).unwrap();
        assert_eq!(first.len(), 22);
        assert_eq!(cluster_id_in(dir.path()).unwrap(), first);
        let other = tempfile::tempdir().unwrap();
        assert_ne!(cluster_id_in(other.path()).unwrap(), first);
        let bad = tempfile::tempdir().unwrap();
        std::fs::write(bad.path().join(CLUSTER_ID_FILE), "\n").unwrap();
        assert!(cluster_id_in(bad.path()).is_err());
    }

    #[test]
    fn the_cluster_id_file_of_an_older_data_dir_is_migrated_then_removed() {
        let dir = tempfile::tempdir().unwrap();
        let old = dir.path().join(CLUSTER_ID_FILE);
        std::fs::write(&old, "MkU3OEVBNTcwNTJENDM2Qk\n").unwrap();
        assert_eq!(cluster_id_in(dir.path()).unwrap(), "MkU3OEVBNTcwNTJENDM2Qk");
        assert!(!old.exists());
        assert_eq!(cluster_id_in(dir.path()).unwrap(), "MkU3OEVBNTcwNTJENDM2Qk");
    }

    #[tokio::test]
    async fn topic_ids_are_stable_and_distinct() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = super::super::test_support::context(dir.path());
        let a = create_topic(
            &ctx,
            &crate::core::RequestContext::internal(),
            "a",
            1,
            TopicSettings::default(),
        )
        .await
        .unwrap();
        let b = create_topic(
            &ctx,
            &crate::core::RequestContext::internal(),
            "b",
            2,
            TopicSettings::default(),
        )
        .await
        .unwrap();
        assert_ne!(topic_uuid(&a), topic_uuid(&b));
        assert!(!topic_uuid(&a).is_nil());
        let again = find_topic(&ctx, "a").unwrap();
        assert_eq!(topic_uuid(&again), topic_uuid(&a));
        assert_eq!(find_topic_by_id(&ctx, topic_uuid(&b)).unwrap().0, "b");
        // Auto-create of an existing name returns the existing topic.
        assert_eq!(
            auto_create(&ctx, &crate::core::RequestContext::internal(), "b")
                .await
                .unwrap()
                .partition_count(),
            2
        );
        ctx.log.shutdown().unwrap();
    }
}
