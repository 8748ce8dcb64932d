//! Direct conversations: a room only its two users may enter, named by
//! the server, and what each of them sees of it.

use super::{DomainError, RoomName, Seq, User, UserId};
use rand::RngCore;
use serde::Serialize;
use std::fmt;

/// The first character of every direct room's name, and of no public
/// room's: [`RoomName::parse`] refuses any other name that starts with it.
pub const DIRECT_MARK: char = '@';

/// A direct room's id: 96 random bits, written `@` and 24 lower-case hex
/// digits. Random rather than derived from the two users, so knowing two
/// user ids tells nobody where they talk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DirectRoom([u8; 12]);

impl DirectRoom {
    pub fn random() -> Self {
        let mut bytes = [0u8; 12];
        rand::thread_rng().fill_bytes(&mut bytes);
        Self(bytes)
    }

    /// Reads `@` followed by exactly 24 hex digits (any case: room names
    /// compare case-insensitively).
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let hex = raw.strip_prefix(DIRECT_MARK).ok_or(DomainError::InvalidRoom)?;
        if hex.len() != 24 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(DomainError::InvalidRoom);
        }
        let mut bytes = [0u8; 12];
        for (i, byte) in bytes.iter_mut().enumerate() {
            let pair = hex.get(2 * i..2 * i + 2).ok_or(DomainError::InvalidRoom)?;
            *byte = u8::from_str_radix(pair, 16).map_err(|_| DomainError::InvalidRoom)?;
        }
        Ok(Self(bytes))
    }

    /// The room's name, as every event and answer carries it.
    pub fn room(&self) -> RoomName {
        RoomName::direct(self)
    }
}

impl fmt::Display for DirectRoom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{DIRECT_MARK}")?;
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

/// A direct conversation as stored: its room and its two users, each with
/// the name it last used there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pair {
    pub room: RoomName,
    pub users: [User; 2],
    /// The room's newest seq (0 before its first message).
    pub last_seq: Seq,
}

impl Pair {
    /// The conversation as `user` sees it; `None` if it is not one of the two.
    pub fn seen_by(&self, user: UserId) -> Option<Conversation> {
        let with = match &self.users {
            [me, other] | [other, me] if me.id == user => other.clone(),
            _ => return None,
        };
        Some(Conversation {
            room: self.room.clone(),
            with,
            last_seq: self.last_seq,
            read_seq: 0,
            unread: 0,
        })
    }

    pub fn has(&self, user: UserId) -> bool {
        self.users.iter().any(|u| u.id == user)
    }
}

/// A direct conversation as one of its users sees it:
/// `{ room, with, lastSeq, readSeq, unread }`, `with` being the other user
/// and the last two that user's read marker (see the store's reads).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Conversation {
    pub room: RoomName,
    pub with: User,
    #[serde(rename = "lastSeq")]
    pub last_seq: Seq,
    #[serde(rename = "readSeq")]
    pub read_seq: Seq,
    pub unread: i64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::DisplayName;

    fn user(name: &str) -> User {
        User { id: UserId::random(), name: DisplayName::parse(name).expect("name") }
    }

    #[test]
    fn a_direct_room_round_trips_through_its_name() {
        let room = DirectRoom::random();
        assert_eq!(DirectRoom::parse(&room.to_string()), Ok(room));
        assert_eq!(room.to_string().len(), 25);
    }

    #[test]
    fn only_a_mark_and_24_hex_digits_make_a_direct_room() {
        for raw in ["@", "@abc", &format!("@{}", "a".repeat(23)), &format!("@{}", "g".repeat(24))] {
            assert_eq!(DirectRoom::parse(raw), Err(DomainError::InvalidRoom), "{raw}");
        }
        assert_eq!(DirectRoom::parse(&"a".repeat(25)), Err(DomainError::InvalidRoom));
        assert_eq!(
            DirectRoom::parse(&format!("@{}", "é".repeat(12))),
            Err(DomainError::InvalidRoom)
        );
    }

    #[test]
    fn each_user_sees_the_other_one() {
        let (asha, bo) = (user("Asha"), user("Bo"));
        let pair = Pair {
            room: DirectRoom::random().room(),
            users: [asha.clone(), bo.clone()],
            last_seq: 3,
        };
        assert_eq!(pair.seen_by(asha.id).map(|c| c.with), Some(bo.clone()));
        assert_eq!(pair.seen_by(bo.id).map(|c| c.with), Some(asha));
        assert_eq!(pair.seen_by(UserId::random()), None);
    }
}
