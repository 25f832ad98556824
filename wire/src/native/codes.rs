//! The one registry of protocol 0.11 command codes (§3): code, dotted name, and the header
//! operation that carries it. The broker dispatches from this table and nothing else, so adding
//! a command is one row here; tests check that codes and names are unique.

use crate::native::header::Operation;

/// One command of protocol 0.11.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommandSpec {
    /// Legacy command code (what NonReplicated requests carry at bytes 196..200).
    pub code: u32,
    /// Dotted name, `resource.verb`, used in logs and metrics.
    pub name: &'static str,
    /// Operation byte a 0.11 SDK sends for this command. `None` for the legacy login codes
    /// 38 and 44, which a 0.11 SDK never sends and which are answered with an eviction.
    pub operation: Option<Operation>,
}

macro_rules! commands {
    ($( $constant:ident = $code:literal, $name:literal, $operation:expr; )*) => {
        $(
            #[doc = concat!("Command code of `", $name, "`.")]
            pub const $constant: u32 = $code;
        )*
        /// Every command of protocol 0.11, in code order.
        pub const COMMANDS: &[CommandSpec] = &[
            $( CommandSpec { code: $code, name: $name, operation: $operation }, )*
        ];
    };
}

use Operation::{NonReplicated as NR, Register, Replicated};

commands! {
    PING = 1, "system.ping", Some(NR);
    GET_STATS = 10, "system.get_stats", Some(NR);
    GET_SNAPSHOT_FILE = 11, "system.get_snapshot_file", Some(NR);
    GET_CLUSTER_METADATA = 12, "cluster.get_metadata", Some(NR);
    DESCRIBE_OPTIONS = 13, "system.describe_options", Some(NR);
    ATTACH_CONSUMER_SESSION = 14, "cluster.attach_consumer_session", Some(NR);
    GET_ME = 20, "client.get_me", Some(NR);
    GET_CLIENT = 21, "client.get", Some(NR);
    GET_CLIENTS = 22, "client.list", Some(NR);
    GET_USER = 31, "user.get", Some(NR);
    GET_USERS = 32, "user.list", Some(NR);
    CREATE_USER = 33, "user.create", Some(Replicated(141));
    DELETE_USER = 34, "user.delete", Some(Replicated(143));
    UPDATE_USER = 35, "user.update", Some(Replicated(142));
    UPDATE_PERMISSIONS = 36, "user.update_permissions", Some(Replicated(145));
    CHANGE_PASSWORD = 37, "user.change_password", Some(Replicated(144));
    LOGIN_USER_LEGACY = 38, "user.login_legacy", None;
    LOGOUT_USER = 39, "user.logout", Some(Operation::Logout);
    LOGIN_REGISTER = 40, "user.login_register", Some(Register);
    GET_PERSONAL_ACCESS_TOKENS = 41, "token.list", Some(NR);
    CREATE_PERSONAL_ACCESS_TOKEN = 42, "token.create", Some(Replicated(146));
    DELETE_PERSONAL_ACCESS_TOKEN = 43, "token.delete", Some(Replicated(147));
    LOGIN_WITH_TOKEN_LEGACY = 44, "token.login_legacy", None;
    LOGIN_REGISTER_WITH_PAT = 45, "token.login_register", Some(Register);
    POLL_MESSAGES = 100, "message.poll", Some(NR);
    SEND_MESSAGES = 101, "message.send", Some(Replicated(160));
    FLUSH_UNSAVED_BUFFER = 102, "message.flush_unsaved_buffer", Some(NR);
    GET_POLL_ROUTING = 103, "cluster.get_poll_routing", Some(NR);
    POLL_MESSAGES_ON_PRIMARY = 104, "cluster.poll_on_primary", Some(NR);
    GET_CONSUMER_OFFSET = 120, "consumer_offset.get", Some(NR);
    STORE_CONSUMER_OFFSET = 121, "consumer_offset.store", Some(Replicated(161));
    DELETE_CONSUMER_OFFSET = 122, "consumer_offset.delete", Some(Replicated(162));
    GET_CONSUMER_OFFSET_ROUTING = 123, "cluster.get_offset_routing", Some(NR);
    GET_STREAM = 200, "stream.get", Some(NR);
    GET_STREAMS = 201, "stream.list", Some(NR);
    CREATE_STREAM = 202, "stream.create", Some(Replicated(128));
    DELETE_STREAM = 203, "stream.delete", Some(Replicated(130));
    UPDATE_STREAM = 204, "stream.update", Some(Replicated(129));
    PURGE_STREAM = 205, "stream.purge", Some(Replicated(131));
    GET_TOPIC = 300, "topic.get", Some(NR);
    GET_TOPICS = 301, "topic.list", Some(NR);
    CREATE_TOPIC = 302, "topic.create", Some(Replicated(132));
    DELETE_TOPIC = 303, "topic.delete", Some(Replicated(134));
    UPDATE_TOPIC = 304, "topic.update", Some(Replicated(133));
    PURGE_TOPIC = 305, "topic.purge", Some(Replicated(135));
    CREATE_PARTITIONS = 402, "partition.create", Some(Replicated(136));
    DELETE_PARTITIONS = 403, "partition.delete", Some(Replicated(137));
    DELETE_SEGMENTS = 503, "segment.delete", Some(Replicated(138));
    GET_CONSUMER_GROUP = 600, "consumer_group.get", Some(NR);
    GET_CONSUMER_GROUPS = 601, "consumer_group.list", Some(NR);
    CREATE_CONSUMER_GROUP = 602, "consumer_group.create", Some(Replicated(139));
    DELETE_CONSUMER_GROUP = 603, "consumer_group.delete", Some(Replicated(140));
    JOIN_CONSUMER_GROUP = 604, "consumer_group.join", Some(Replicated(148));
    LEAVE_CONSUMER_GROUP = 605, "consumer_group.leave", Some(Replicated(149));
    SYNC_CONSUMER_GROUP = 606, "consumer_group.sync", Some(NR);
}

/// Look a command up by its code; `None` means the broker answers 3 InvalidCommand.
#[must_use]
pub fn by_code(code: u32) -> Option<&'static CommandSpec> {
    COMMANDS.iter().find(|spec| spec.code == code)
}

/// The command a replicated operation byte stands for (§2.1: the code field is empty for
/// replicated commands, so the broker maps the operation back). Register is ambiguous between
/// codes 40 and 45 and is resolved by body shape, so it is not mapped here.
#[must_use]
pub fn by_replicated_operation(operation: u8) -> Option<&'static CommandSpec> {
    COMMANDS
        .iter()
        .find(|spec| spec.operation == Some(Operation::Replicated(operation)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn codes_and_names_are_unique_and_named() {
        let codes: HashSet<u32> = COMMANDS.iter().map(|spec| spec.code).collect();
        let names: HashSet<&str> = COMMANDS.iter().map(|spec| spec.name).collect();
        assert_eq!(codes.len(), COMMANDS.len());
        assert_eq!(names.len(), COMMANDS.len());
        for spec in COMMANDS {
            let (resource, verb) = spec.name.split_once('.').unwrap();
            assert!(!resource.is_empty() && !verb.is_empty(), "{}", spec.name);
        }
        assert!(COMMANDS.windows(2).all(|pair| pair[0].code < pair[1].code));
    }

    #[test]
    fn replicated_operations_are_unique_and_in_range() {
        let mut seen = HashSet::new();
        for spec in COMMANDS {
            if let Some(Operation::Replicated(operation)) = spec.operation {
                assert!((128..=149).contains(&operation) || (160..=162).contains(&operation));
                assert!(seen.insert(operation), "operation {operation} used twice");
            }
        }
        assert_eq!(seen.len(), 25);
    }

    #[test]
    fn mapping_matches_the_spec_table() {
        assert_eq!(by_replicated_operation(128).unwrap().code, CREATE_STREAM);
        assert_eq!(by_replicated_operation(129).unwrap().code, UPDATE_STREAM);
        assert_eq!(by_replicated_operation(141).unwrap().code, CREATE_USER);
        assert_eq!(by_replicated_operation(160).unwrap().code, SEND_MESSAGES);
        assert_eq!(
            by_replicated_operation(162).unwrap().code,
            DELETE_CONSUMER_OFFSET
        );
        assert!(by_replicated_operation(150).is_none());
        assert_eq!(by_code(606).unwrap().name, "consumer_group.sync");
        assert!(by_code(60000).is_none());
    }
}
