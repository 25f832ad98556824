//! Reads the topic list out of a member's consumer-protocol subscription metadata, which the
//! coordinator keeps opaque. OffsetDelete needs it to refuse deleting offsets of a topic the
//! group still consumes. Only the fixed leading fields are read: every version starts with
//! `version: i16, topics: [string]`.

use std::collections::BTreeSet;

use whippet_coordinator::GroupDescription;

/// Most topics read from one subscription; a longer list is treated as unreadable.
const SUBSCRIBED_TOPICS_MAX: usize = 100_000;

/// The union of all members' subscribed topics, or `None` when some member's metadata is not
/// a readable consumer subscription (callers then assume every topic is subscribed).
pub(crate) fn subscribed_topics(group: &GroupDescription) -> Option<BTreeSet<String>> {
    if let Some(topics) = &group.consumer_subscriptions {
        // A KIP-848 group: the coordinator knows the subscriptions itself.
        return Some(topics.clone());
    }
    let mut all = BTreeSet::new();
    for m in &group.members {
        if group.protocol_type != "consumer" {
            return None;
        }
        all.extend(parse_topics(&m.metadata)?);
    }
    Some(all)
}

/// The topic names of one subscription, `None` if malformed.
fn parse_topics(mut buf: &[u8]) -> Option<Vec<String>> {
    let _version = take_i16(&mut buf)?;
    let count = take_i32(&mut buf)?;
    let count = usize::try_from(count).ok()?;
    // Each name takes at least its two length bytes: bound the count before allocating.
    if count > SUBSCRIBED_TOPICS_MAX || count > buf.len() / 2 {
        return None;
    }
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        let len = usize::try_from(take_i16(&mut buf)?).ok()?;
        if len > buf.len() {
            return None;
        }
        let (name, rest) = buf.split_at(len);
        out.push(String::from_utf8(name.to_vec()).ok()?);
        buf = rest;
    }
    Some(out)
}

fn take_i16(buf: &mut &[u8]) -> Option<i16> {
    let (head, rest) = buf.split_first_chunk::<2>()?;
    *buf = rest;
    Some(i16::from_be_bytes(*head))
}

fn take_i32(buf: &mut &[u8]) -> Option<i32> {
    let (head, rest) = buf.split_first_chunk::<4>()?;
    *buf = rest;
    Some(i32::from_be_bytes(*head))
}

#[cfg(test)]
mod tests {
    use super::parse_topics;

    fn subscription(topics: &[&str]) -> Vec<u8> {
        let mut out = vec![0, 1];
        out.extend_from_slice(&(topics.len() as i32).to_be_bytes());
        for t in topics {
            out.extend_from_slice(&(t.len() as i16).to_be_bytes());
            out.extend_from_slice(t.as_bytes());
        }
        out.extend_from_slice(&[0, 0, 0, 0]);
        out
    }

    #[test]
    fn reads_topics_and_rejects_truncation() {
        let bytes = subscription(&["a", "orders"]);
        assert_eq!(
            parse_topics(&bytes),
            Some(vec!["a".to_string(), "orders".to_string()])
        );
        assert_eq!(parse_topics(&bytes[..9]), None);
        assert_eq!(parse_topics(&[0, 1, 0x7f, 0xff, 0xff, 0xff]), None);
        assert_eq!(parse_topics(&[0, 1, 0xff, 0xff, 0xff, 0xff]), None);
    }
}
