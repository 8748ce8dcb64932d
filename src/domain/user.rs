//! Who is speaking: a user's stable id and the name it uses in a room.

use super::DisplayName;
use rand::RngCore;
use serde::Serialize;
use std::fmt;

/// A user's id: 128 random bits, shown as 32 lower-case hex digits. One user
/// may have many connections (tabs); they all share this id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UserId([u8; 16]);

impl UserId {
    pub fn random() -> Self {
        let mut bytes = [0u8; 16];
        rand::thread_rng().fill_bytes(&mut bytes);
        Self(bytes)
    }

    pub fn from_bytes(bytes: [u8; 16]) -> Self {
        Self(bytes)
    }

    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    /// Parses the hex form written by [`fmt::Display`].
    pub fn from_hex(hex: &str) -> Option<Self> {
        if hex.len() != 32 {
            return None;
        }
        let mut bytes = [0u8; 16];
        for (i, byte) in bytes.iter_mut().enumerate() {
            *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
        }
        Some(Self(bytes))
    }
}

impl UserId {
    /// The 32 hex digits, without the formatting machinery or a `String`:
    /// a join ack lists every member, so a storm of n joins writes n² ids
    /// (bench S5), and every stored message binds its sender's.
    pub fn hex(&self) -> Hex {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut hex = [0u8; 32];
        for (i, b) in self.0.iter().enumerate() {
            hex[2 * i] = DIGITS[usize::from(b >> 4)];
            hex[2 * i + 1] = DIGITS[usize::from(b & 0xf)];
        }
        Hex(hex)
    }
}

/// A [`UserId`]'s hex form, on the stack.
pub struct Hex([u8; 32]);

impl Hex {
    pub fn as_str(&self) -> &str {
        // Only hex digits are ever written here, and they are ASCII.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.hex().as_str())
    }
}

impl Serialize for UserId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.hex().as_str())
    }
}

/// A user as others see them in one room: `{ id, name }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    pub id: UserId,
    pub name: DisplayName,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_id_round_trips_through_hex() {
        let id = UserId::random();
        assert_eq!(UserId::from_hex(&id.to_string()), Some(id));
    }

    #[test]
    fn malformed_hex_is_no_user_id() {
        assert_eq!(UserId::from_hex("zz"), None);
        assert_eq!(UserId::from_hex(&"g".repeat(32)), None);
        assert_eq!(UserId::from_hex(&"é".repeat(16)), None);
    }
}
