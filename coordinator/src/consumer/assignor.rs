//! Server-side assignors of the consumer group protocol (KIP-848): `uniform` (the default:
//! balanced and sticky) and `range` (contiguous partition ranges per topic). Both are pure
//! functions of the members' subscriptions, the subscribed topics' partition counts and (for
//! stickiness) the previous target assignment.

use std::collections::{BTreeMap, BTreeSet};

use super::{Assignment, TopicId};

/// Name of the uniform assignor (Kafka's default `group.consumer.assignors` entry).
pub const UNIFORM: &str = "uniform";
/// Name of the range assignor.
pub const RANGE: &str = "range";

/// Whether `name` is an assignor this coordinator runs.
pub fn is_supported(name: &str) -> bool {
    name == UNIFORM || name == RANGE
}

/// One member as an assignor sees it.
#[derive(Debug, Clone)]
pub struct AssignorMember<'a> {
    /// Member id (assignment order and tie-breaks follow it).
    pub id: &'a str,
    /// Topics the member subscribes to (only topics that exist).
    pub topics: BTreeSet<TopicId>,
}

/// Runs assignor `name` (uniform for anything else) over `members`, with `partitions` giving
/// each existing topic's partition count. `previous` is the last target, for stickiness.
pub fn assign(
    name: &str,
    members: &[AssignorMember<'_>],
    partitions: &BTreeMap<TopicId, u32>,
    previous: &BTreeMap<String, Assignment>,
) -> BTreeMap<String, Assignment> {
    if name == RANGE {
        range(members, partitions)
    } else {
        uniform(members, partitions, previous)
    }
}

/// Range: for each topic, its subscribers in member-id order get contiguous ranges; the first
/// `count % subscribers` get one partition more.
pub fn range(
    members: &[AssignorMember<'_>],
    partitions: &BTreeMap<TopicId, u32>,
) -> BTreeMap<String, Assignment> {
    let mut out: BTreeMap<String, Assignment> = members
        .iter()
        .map(|m| (m.id.to_owned(), Assignment::new()))
        .collect();
    let mut sorted: Vec<&AssignorMember<'_>> = members.iter().collect();
    sorted.sort_by_key(|m| m.id);
    for (&topic, &count) in partitions {
        let subscribers: Vec<&str> = sorted
            .iter()
            .filter(|m| m.topics.contains(&topic))
            .map(|m| m.id)
            .collect();
        if subscribers.is_empty() {
            continue;
        }
        let n = u32::try_from(subscribers.len()).unwrap_or(u32::MAX);
        let (base, extra) = (count / n, count % n);
        let mut next = 0u32;
        for (i, id) in (0u32..).zip(subscribers) {
            let take = base + u32::from(i < extra);
            if take == 0 {
                continue;
            }
            let set: BTreeSet<i32> = (next..next + take)
                .filter_map(|p| i32::try_from(p).ok())
                .collect();
            next += take;
            if let Some(a) = out.get_mut(id) {
                a.insert(topic, set);
            }
        }
    }
    out
}

/// Uniform: every subscribed partition goes to one of its subscribers so that counts per member
/// differ by at most one where subscriptions allow; a partition stays with its previous owner
/// when that keeps the balance (sticky), so a member joining or leaving moves few partitions.
pub fn uniform(
    members: &[AssignorMember<'_>],
    partitions: &BTreeMap<TopicId, u32>,
    previous: &BTreeMap<String, Assignment>,
) -> BTreeMap<String, Assignment> {
    let mut owner: BTreeMap<(TopicId, i32), usize> = BTreeMap::new();
    let mut counts = vec![0usize; members.len()];
    let eligible = |topic: &TopicId| -> Vec<usize> {
        (0..members.len())
            .filter(|&i| members[i].topics.contains(topic))
            .collect()
    };
    // All partitions to place, and a fair share: total over the members that subscribe to
    // anything (exact for equal subscriptions, a cap that the balancing pass refines otherwise).
    let all: Vec<(TopicId, i32)> = partitions
        .iter()
        .filter(|(t, _)| members.iter().any(|m| m.topics.contains(t)))
        .flat_map(|(&t, &n)| (0..n).filter_map(move |p| Some((t, i32::try_from(p).ok()?))))
        .collect();
    let active = members.iter().filter(|m| !m.topics.is_empty()).count();
    let ceiling = if active == 0 {
        0
    } else {
        all.len().div_ceil(active)
    };
    // 1. Keep previous ownership up to the fair share.
    for (i, m) in members.iter().enumerate() {
        let Some(prev) = previous.get(m.id) else {
            continue;
        };
        for (&topic, parts) in prev {
            if !m.topics.contains(&topic) {
                continue;
            }
            let count = partitions.get(&topic).copied().unwrap_or(0);
            for &p in parts {
                let in_range = u32::try_from(p).is_ok_and(|p| p < count);
                if in_range && counts[i] < ceiling && !owner.contains_key(&(topic, p)) {
                    owner.insert((topic, p), i);
                    counts[i] += 1;
                }
            }
        }
    }
    // 2. Place the rest on the least loaded eligible member (ties: member order).
    for &(topic, p) in &all {
        if owner.contains_key(&(topic, p)) {
            continue;
        }
        if let Some(&i) = eligible(&topic)
            .iter()
            .min_by_key(|&&i| (counts[i], members[i].id))
        {
            owner.insert((topic, p), i);
            counts[i] += 1;
        }
    }
    // 3. Balance: move a partition from a member to an eligible one holding at least two
    // fewer, until no such move exists (each move lowers the sum of squared counts).
    let mut moved = true;
    while moved {
        moved = false;
        for (&(topic, _), slot) in owner.iter_mut() {
            let from = *slot;
            if let Some(&to) = eligible(&topic)
                .iter()
                .filter(|&&j| counts[j] + 1 < counts[from])
                .min_by_key(|&&j| (counts[j], members[j].id))
            {
                counts[from] -= 1;
                counts[to] += 1;
                *slot = to;
                moved = true;
            }
        }
    }
    let mut out: BTreeMap<String, Assignment> = members
        .iter()
        .map(|m| (m.id.to_owned(), Assignment::new()))
        .collect();
    for ((topic, p), i) in owner {
        if let Some(a) = out.get_mut(members[i].id) {
            a.entry(topic).or_default().insert(p);
        }
    }
    out
}
