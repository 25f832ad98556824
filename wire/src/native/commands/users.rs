//! User commands (31–37): get / list / create / delete / update / update_permissions /
//! change_password, plus the UserHeader reply element. Name and password lengths are decoded
//! with wire bounds only (1..=255); the broker checks 3..=50 / 3..=100 so it can answer
//! InvalidUsername / InvalidPassword instead of a generic format error.

use bytes::{BufMut, BytesMut};

use super::permissions::{self, Permissions};
use crate::native::codec::{
    Reader, WireDecode, WireEncode, WireField, check_range, put_string_u8, string_u8_size,
    wire_struct,
};
use crate::native::error::{NativeWireError, Result};
use crate::native::identifier::Identifier;
use crate::native::limits::{LIST_ENTRIES_MAX, NAME_BYTES_MAX};
use crate::native::user_headers::{Options, put_prefixed_options, read_prefixed_options};

/// Whether a user may log in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserStatus {
    /// 1: may log in.
    Active,
    /// 2: exists but is refused at login.
    Inactive,
}

impl WireField for UserStatus {
    fn read_field(reader: &mut Reader<'_>, field: &'static str) -> Result<Self> {
        match reader.u8(field)? {
            1 => Ok(Self::Active),
            2 => Ok(Self::Inactive),
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
            Self::Active => 1,
            Self::Inactive => 2,
        });
    }
}

/// `[has:u8](value)?` for the optional fields of update_user.
impl<T: WireField> WireField for Optional<T> {
    fn read_field(reader: &mut Reader<'_>, field: &'static str) -> Result<Self> {
        if reader.bool(field)? {
            Ok(Self(Some(T::read_field(reader, field)?)))
        } else {
            Ok(Self(None))
        }
    }

    fn field_size(&self) -> usize {
        1 + self.0.as_ref().map_or(0, WireField::field_size)
    }

    fn write_field(&self, out: &mut BytesMut) {
        out.put_u8(u8::from(self.0.is_some()));
        if let Some(value) = &self.0 {
            value.write_field(out);
        }
    }
}

/// A field preceded by a presence byte (`[has:u8](value)?`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Optional<T>(pub Option<T>);

wire_struct! {
    /// get_user (31) and delete_user (34).
    pub struct UserRef {
        /// The user.
        pub user_id: Identifier,
    }
}

wire_struct! {
    /// create_user (33). No id: the server assigns the lowest free one.
    pub struct CreateUser {
        /// Username.
        pub username: String,
        /// Password.
        pub password: String,
        /// Initial status.
        pub status: UserStatus,
        /// Initial permissions, when given.
        pub permissions: Option<Permissions>,
        /// Option entries.
        pub options: Options,
    }
}

wire_struct! {
    /// update_user (35): absent fields stay unchanged.
    pub struct UpdateUser {
        /// The user.
        pub user_id: Identifier,
        /// New username.
        pub username: Optional<String>,
        /// New status.
        pub status: Optional<UserStatus>,
        /// Changed options.
        pub options: Options,
    }
}

wire_struct! {
    /// update_permissions (36): `None` clears all grants.
    pub struct UpdatePermissions {
        /// The user.
        pub user_id: Identifier,
        /// New permissions.
        pub permissions: Option<Permissions>,
    }
}

wire_struct! {
    /// change_password (37).
    pub struct ChangePassword {
        /// The user.
        pub user_id: Identifier,
        /// Current password.
        pub current_password: String,
        /// New password.
        pub new_password: String,
    }
}

/// UserHeader: `[id:u32][created_at:u64][status:u8] name [opts_len:u32][opts]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserHeader {
    /// 0-based id; root is 0.
    pub id: u32,
    /// Creation time, µs.
    pub created_at: u64,
    /// Status.
    pub status: UserStatus,
    /// Username.
    pub username: String,
    /// Effective options.
    pub options: Options,
}

impl UserHeader {
    fn read(reader: &mut Reader<'_>) -> Result<Self> {
        Ok(Self {
            id: reader.u32("user_id")?,
            created_at: reader.u64("created_at")?,
            status: UserStatus::read_field(reader, "user_status")?,
            username: reader.string_u8("username", 1, NAME_BYTES_MAX)?,
            options: read_prefixed_options(reader, "user_options")?,
        })
    }

    fn size(&self) -> usize {
        13 + string_u8_size(&self.username) + 4 + self.options.encoded_size()
    }

    fn write(&self, out: &mut BytesMut) {
        out.put_u32_le(self.id);
        out.put_u64_le(self.created_at);
        self.status.write_field(out);
        put_string_u8(out, &self.username);
        put_prefixed_options(out, &self.options);
    }
}

/// get_user / create_user reply: the header, then `[1:u8][len:u32][perms]`, or four zero bytes
/// when the user has no permissions (§3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserDetails {
    /// The user.
    pub user: UserHeader,
    /// Its permissions.
    pub permissions: Option<Permissions>,
}

impl WireEncode for UserDetails {
    fn encoded_size(&self) -> usize {
        self.user.size()
            + self
                .permissions
                .as_ref()
                .map_or(4, |perms| 5 + perms.encoded_size())
    }

    fn encode(&self, out: &mut BytesMut) {
        self.user.write(out);
        match &self.permissions {
            Some(perms) => {
                out.put_u8(1);
                permissions::write_framed(out, perms);
            }
            None => out.put_u32_le(0),
        }
    }
}

impl WireDecode for UserDetails {
    fn decode(bytes: &[u8]) -> Result<(Self, usize)> {
        let mut reader = Reader::new(bytes);
        let user = UserHeader::read(&mut reader)?;
        let permissions = if reader.bool("has_permissions")? {
            Some(permissions::read_framed(&mut reader)?)
        } else {
            let padding = reader.take("permissions_padding", 3)?;
            if padding != [0, 0, 0] {
                return Err(NativeWireError::ReservedNotZero {
                    field: "permissions_padding",
                    offset: reader.position() - 3,
                });
            }
            None
        };
        Ok((Self { user, permissions }, reader.position()))
    }
}

/// get_users reply: UserHeaders back to back.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UserList {
    /// All users.
    pub users: Vec<UserHeader>,
}

impl WireEncode for UserList {
    fn encoded_size(&self) -> usize {
        self.users.iter().map(UserHeader::size).sum()
    }

    fn encode(&self, out: &mut BytesMut) {
        for user in &self.users {
            user.write(out);
        }
    }
}

impl WireDecode for UserList {
    fn decode(bytes: &[u8]) -> Result<(Self, usize)> {
        let mut reader = Reader::new(bytes);
        let mut users = Vec::new();
        while reader.remaining() > 0 {
            check_range("users", users.len() as u64, 0, LIST_ENTRIES_MAX as u64 - 1)?;
            users.push(UserHeader::read(&mut reader)?);
        }
        Ok((Self { users }, reader.position()))
    }
}

#[cfg(test)]
#[path = "users_tests.rs"]
mod tests;
