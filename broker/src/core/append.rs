//! Admission of appends, whichever protocol sends them: the topic size cap
//! (`max_topic_size`, a native topic option that Kafka produce honours too) is checked here,
//! before anything is written.

use std::sync::Arc;

use whippet_log::{PartitionLog, TopicMeta, TopicSettings};

use super::CoreError;

/// The key under which a topic's size cap is kept in `TopicSettings::extra_configs` (canonical
/// decimal bytes; 0 or `u64::MAX` mean unlimited, as in Iggy).
pub const MAX_TOPIC_SIZE_KEY: &str = "max_topic_size";

/// A topic's size cap in bytes, `None` when it has none.
pub fn max_topic_size(settings: &TopicSettings) -> Option<u64> {
    settings
        .extra_configs
        .get(MAX_TOPIC_SIZE_KEY)
        .and_then(|text| text.parse().ok())
        .filter(|cap| *cap != 0 && *cap != u64::MAX)
}

/// Stored data bytes (frames, without file headers) and messages over some partitions: what a
/// topic or stream holds, for the size cap and the native listings.
pub fn totals<'a>(partitions: impl Iterator<Item = &'a Arc<PartitionLog>>) -> (u64, u64) {
    partitions.fold((0, 0), |(bytes, messages), partition| {
        let stats = partition.stats();
        (bytes + stats.data_bytes, messages + stats.messages)
    })
}

/// Bytes of data the topic's partitions hold.
pub fn topic_size(topic: &TopicMeta) -> u64 {
    totals(topic.partitions.iter()).0
}

/// Refuses an append to a topic that already holds its `max_topic_size` bytes, as the Iggy
/// server refuses sends (the batch that crosses the cap is accepted; the next is not). Topics
/// without a cap (the default) pass without summing anything.
pub fn admit(topic: &TopicMeta) -> Result<(), CoreError> {
    let Some(cap) = max_topic_size(&topic.settings) else {
        return Ok(());
    };
    let size = topic_size(topic);
    if size >= cap {
        return Err(CoreError::TopicFull { size, cap });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cap_reads_canonical_text_and_treats_zero_and_max_as_unlimited() {
        let mut settings = TopicSettings::default();
        assert_eq!(max_topic_size(&settings), None);
        for (text, cap) in [
            ("1024", Some(1024)),
            ("0", None),
            ("18446744073709551615", None),
            ("x", None),
        ] {
            settings
                .extra_configs
                .insert(MAX_TOPIC_SIZE_KEY.into(), text.into());
            assert_eq!(max_topic_size(&settings), cap, "{text}");
        }
    }
}
