//! The one table of classic command codes (Iggy 0.10 SDK / server 0.8): every code the classic
//! protocol has, and for each whether its request body and its reply payload differ from
//! protocol 0.11. [`super::translate`] and [`super::reply`] dispatch from this table, so a code
//! is either here or answered with InvalidCommand. Codes 13, 14, 40, 45, 103, 104, 123 and 606
//! exist only in 0.11.

/// How a classic body relates to its 0.11 counterpart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// Byte for byte the same layout.
    Same,
    /// The 0.11 layout is the classic one plus an options block that runs to the end of the
    /// body, so a classic body is a valid 0.11 body with no options. Translation checks that
    /// the classic fields fill the body exactly and passes the bytes on.
    Extended,
    /// Different layouts; the bytes are rebuilt.
    Translated,
    /// The classic login commands (38, 44): the body is decoded by [`super::login`] and the
    /// reply built by [`super::login::encode_login_reply`]; there is no 0.11 equivalent body.
    Session,
}

/// One classic command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClassicCommand {
    /// Command code (the same number as in 0.11).
    pub code: u32,
    /// Dotted name, as in the 0.11 registry.
    pub name: &'static str,
    /// Request body relation.
    pub request: Shape,
    /// Reply payload relation.
    pub reply: Shape,
}

macro_rules! classic_commands {
    ($( $code:literal, $name:literal, $request:ident, $reply:ident; )*) => {
        /// Every classic command, in code order.
        pub const COMMANDS: &[ClassicCommand] = &[
            $( ClassicCommand {
                code: $code,
                name: $name,
                request: Shape::$request,
                reply: Shape::$reply,
            }, )*
        ];
    };
}

classic_commands! {
    1, "system.ping", Same, Same;
    10, "system.get_stats", Same, Same;
    11, "system.get_snapshot_file", Same, Same;
    12, "cluster.get_metadata", Same, Same;
    20, "client.get_me", Same, Same;
    21, "client.get", Same, Same;
    22, "client.list", Same, Same;
    31, "user.get", Same, Translated;
    32, "user.list", Same, Translated;
    33, "user.create", Extended, Translated;
    34, "user.delete", Same, Same;
    35, "user.update", Extended, Same;
    36, "user.update_permissions", Same, Same;
    37, "user.change_password", Same, Same;
    38, "user.login", Session, Session;
    39, "user.logout", Same, Same;
    41, "token.list", Same, Same;
    42, "token.create", Same, Same;
    43, "token.delete", Same, Same;
    44, "token.login", Session, Session;
    100, "message.poll", Same, Translated;
    101, "message.send", Translated, Translated;
    102, "message.flush_unsaved_buffer", Same, Same;
    120, "consumer_offset.get", Same, Same;
    121, "consumer_offset.store", Translated, Same;
    122, "consumer_offset.delete", Translated, Same;
    200, "stream.get", Same, Translated;
    201, "stream.list", Same, Translated;
    202, "stream.create", Extended, Translated;
    203, "stream.delete", Same, Same;
    204, "stream.update", Extended, Same;
    205, "stream.purge", Same, Same;
    300, "topic.get", Same, Translated;
    301, "topic.list", Same, Translated;
    302, "topic.create", Translated, Translated;
    303, "topic.delete", Same, Same;
    304, "topic.update", Translated, Same;
    305, "topic.purge", Same, Same;
    402, "partition.create", Same, Same;
    403, "partition.delete", Same, Same;
    503, "segment.delete", Same, Same;
    600, "consumer_group.get", Same, Same;
    601, "consumer_group.list", Same, Same;
    602, "consumer_group.create", Same, Same;
    603, "consumer_group.delete", Same, Same;
    604, "consumer_group.join", Same, Same;
    605, "consumer_group.leave", Same, Same;
}

/// Codes of protocol 0.11 that the classic protocol does not have.
pub const CURRENT_ONLY: [u32; 8] = [13, 14, 40, 45, 103, 104, 123, 606];

/// The classic command with this code, if the classic protocol has it.
#[must_use]
pub fn by_code(code: u32) -> Option<&'static ClassicCommand> {
    COMMANDS.iter().find(|command| command.code == code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::native::codes as current;

    #[test]
    fn table_is_ordered_unique_and_named_like_the_current_registry() {
        assert!(COMMANDS.windows(2).all(|pair| pair[0].code < pair[1].code));
        for command in COMMANDS {
            let spec = current::by_code(command.code).unwrap();
            if command.request != Shape::Session {
                assert_eq!(spec.name, command.name, "code {}", command.code);
            }
        }
    }

    #[test]
    fn classic_is_current_minus_the_new_codes() {
        for spec in current::COMMANDS {
            let classic = by_code(spec.code).is_some();
            assert_eq!(classic, !CURRENT_ONLY.contains(&spec.code), "{}", spec.code);
        }
        assert_eq!(COMMANDS.len() + CURRENT_ONLY.len(), current::COMMANDS.len());
        assert!(by_code(60_000).is_none());
    }
}
