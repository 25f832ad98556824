//! Who may hand out which grants, and to whom. The reference server lets any holder of
//! `manage_users` grant every permission (to itself included) and deactivate the root user; here
//! user management cannot raise anyone above the caller:
//!
//! * a caller may grant (on create_user or update_permissions) only what it holds itself, flag by
//!   flag: a stream or topic grant is covered by the same grant, or by the matching grant higher
//!   up (a stream's `manage_topics` by the global `manage_topics`, and so on);
//! * a caller may change, deactivate or delete only users whose grants it covers, and never the
//!   root user (only root changes root, and root cannot be deleted or have its grants changed).
//!
//! The root user holds everything, so for root every check passes.

use super::UserError;
use super::model::{Directory, ROOT_ID};
use super::permissions::{GlobalPermissions, Permissions, StreamPermissions, TopicPermissions};

/// Whether `holder` covers every grant in `granted`.
pub(super) fn within(holder: Option<&Permissions>, granted: Option<&Permissions>) -> bool {
    let Some(granted) = granted else {
        return true;
    };
    let none = Permissions::default();
    let holder = holder.unwrap_or(&none);
    global_within(&holder.global, &granted.global)
        && granted
            .streams
            .iter()
            .all(|stream| stream_within(holder, stream))
}

/// Each global flag needs the same global flag.
fn global_within(holder: &GlobalPermissions, granted: &GlobalPermissions) -> bool {
    let pairs = [
        (granted.manage_servers, holder.manage_servers),
        (
            granted.read_servers,
            holder.read_servers || holder.manage_servers,
        ),
        (granted.manage_users, holder.manage_users),
        (granted.read_users, holder.read_users || holder.manage_users),
        (granted.manage_streams, holder.manage_streams),
        (
            granted.read_streams,
            holder.read_streams || holder.manage_streams,
        ),
        (
            granted.manage_topics,
            holder.manage_topics || holder.manage_streams,
        ),
        (
            granted.read_topics,
            holder.read_topics || reads_topics(holder),
        ),
        (granted.poll_messages, holder.poll_messages),
        (granted.send_messages, holder.send_messages),
    ];
    pairs.iter().all(|&(wanted, held)| !wanted || held)
}

fn reads_topics(global: &GlobalPermissions) -> bool {
    global.read_topics || global.manage_topics || global.read_streams || global.manage_streams
}

/// The holder's entry for `stream_id` (the last one wins, as in `permissions::allows`).
fn held_stream(holder: &Permissions, stream_id: u32) -> Option<&StreamPermissions> {
    holder
        .streams
        .iter()
        .rev()
        .find(|entry| entry.stream_id == stream_id)
}

fn stream_within(holder: &Permissions, granted: &StreamPermissions) -> bool {
    let global = &holder.global;
    let held = held_stream(holder, granted.stream_id);
    let flag = |pick: fn(&StreamPermissions) -> bool| held.is_some_and(pick);
    let pairs = [
        (
            granted.manage_stream,
            global.manage_streams || flag(|s| s.manage_stream),
        ),
        (
            granted.read_stream,
            global.manage_streams || global.read_streams || flag(|s| s.read_stream),
        ),
        (
            granted.manage_topics,
            global.manage_topics || global.manage_streams || flag(|s| s.manage_topics),
        ),
        (
            granted.read_topics,
            reads_topics(global) || flag(|s| s.read_topics || s.manage_topics),
        ),
        (
            granted.poll_messages,
            global.poll_messages || flag(|s| s.poll_messages),
        ),
        (
            granted.send_messages,
            global.send_messages || flag(|s| s.send_messages),
        ),
    ];
    pairs.iter().all(|&(wanted, held)| !wanted || held)
        && granted
            .topics
            .iter()
            .all(|topic| topic_within(global, held, topic))
}

fn topic_within(
    global: &GlobalPermissions,
    stream: Option<&StreamPermissions>,
    granted: &TopicPermissions,
) -> bool {
    let held = stream.and_then(|s| {
        s.topics
            .iter()
            .rev()
            .find(|entry| entry.topic_id == granted.topic_id)
    });
    let in_stream = |pick: fn(&StreamPermissions) -> bool| stream.is_some_and(pick);
    let in_topic = |pick: fn(&TopicPermissions) -> bool| held.is_some_and(pick);
    let pairs = [
        (
            granted.manage_topic,
            global.manage_topics
                || global.manage_streams
                || in_stream(|s| s.manage_topics)
                || in_topic(|t| t.manage_topic),
        ),
        (
            granted.read_topic,
            reads_topics(global)
                || in_stream(|s| s.read_topics || s.manage_topics)
                || in_topic(|t| t.read_topic || t.manage_topic),
        ),
        (
            granted.poll_messages,
            global.poll_messages || in_stream(|s| s.poll_messages) || in_topic(|t| t.poll_messages),
        ),
        (
            granted.send_messages,
            global.send_messages || in_stream(|s| s.send_messages) || in_topic(|t| t.send_messages),
        ),
    ];
    pairs.iter().all(|&(wanted, held)| !wanted || held)
}

/// Whether `caller` may hand out `granted`: Unauthorized when it holds less.
pub(super) fn may_grant(
    directory: &Directory,
    caller: u32,
    granted: Option<&Permissions>,
) -> Result<(), UserError> {
    if caller == ROOT_ID {
        return Ok(());
    }
    let held = directory
        .get(caller)
        .and_then(|user| user.permissions.as_ref());
    if within(held, granted) {
        Ok(())
    } else {
        Err(UserError::Unauthorized)
    }
}

/// Whether `caller` may change, deactivate or delete `target`: never root unless the caller is
/// root, and only users whose grants the caller covers. An unknown target passes (the change
/// itself answers not found).
pub(super) fn may_manage(directory: &Directory, caller: u32, target: u32) -> Result<(), UserError> {
    if caller == ROOT_ID || caller == target {
        return Ok(());
    }
    if target == ROOT_ID {
        return Err(UserError::Unauthorized);
    }
    let Some(user) = directory.get(target) else {
        return Ok(());
    };
    may_grant(directory, caller, user.permissions.as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn global(set: impl Fn(&mut GlobalPermissions)) -> Permissions {
        let mut permissions = Permissions::default();
        set(&mut permissions.global);
        permissions
    }

    #[test]
    fn a_user_manager_cannot_grant_what_it_lacks() {
        let manager = global(|g| g.manage_users = true);
        assert!(within(Some(&manager), Some(&manager)));
        assert!(within(
            Some(&manager),
            Some(&global(|g| g.read_users = true))
        ));
        assert!(!within(
            Some(&manager),
            Some(&global(|g| g.manage_servers = true))
        ));
        assert!(!within(
            Some(&manager),
            Some(&global(|g| g.send_messages = true))
        ));
        assert!(!within(None, Some(&global(|g| g.read_users = true))));
        assert!(within(None, None));
    }

    #[test]
    fn stream_and_topic_grants_are_covered_from_above() {
        let mut stream = StreamPermissions {
            stream_id: 3,
            send_messages: true,
            ..StreamPermissions::default()
        };
        stream.topics.push(TopicPermissions {
            topic_id: 1,
            send_messages: true,
            manage_topic: true,
            ..TopicPermissions::default()
        });
        let granted = Permissions {
            global: GlobalPermissions::default(),
            streams: vec![stream],
        };
        let sender_and_topics = global(|g| {
            g.send_messages = true;
            g.manage_topics = true;
        });
        assert!(within(Some(&sender_and_topics), Some(&granted)));
        let sender_only = global(|g| g.send_messages = true);
        assert!(!within(Some(&sender_only), Some(&granted)));
        // The same grant on another stream does not cover it.
        let other_stream = Permissions {
            global: GlobalPermissions::default(),
            streams: vec![StreamPermissions {
                stream_id: 4,
                send_messages: true,
                manage_topics: true,
                ..StreamPermissions::default()
            }],
        };
        assert!(!within(Some(&other_stream), Some(&granted)));
    }
}
