//! Changes to a stored message: edits, deletes and reactions. Each is an
//! entry of its room's log with its own seq, like a new message.

use super::{ClientId, DomainError, Message, MessageText, RoomName, Seq, User};
use serde::Serialize;
use unicode_segmentation::UnicodeSegmentation;

/// At most this many different emoji on one message.
pub const MAX_REACTIONS: usize = 20;

/// What a change does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    Edit,
    Delete,
    React,
}

impl ChangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Edit => "edit",
            Self::Delete => "delete",
            Self::React => "react",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [Self::Edit, Self::Delete, Self::React].into_iter().find(|k| k.as_str() == raw)
    }
}

/// A change with its argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Edit(MessageText),
    Delete,
    /// Adds the user's reaction, or removes it if it is there.
    React(Emoji),
}

impl Action {
    pub fn kind(&self) -> ChangeKind {
        match self {
            Self::Edit(_) => ChangeKind::Edit,
            Self::Delete => ChangeKind::Delete,
            Self::React(_) => ChangeKind::React,
        }
    }
}

/// A change accepted from a client, not yet stored.
#[derive(Debug, Clone)]
pub struct ChangeDraft {
    pub room: RoomName,
    pub user: User,
    pub message_id: i64,
    pub action: Action,
    pub client_id: Option<ClientId>,
}

/// A stored change, with the message's state right after it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub room: RoomName,
    pub seq: Seq,
    pub kind: ChangeKind,
    /// Who made the change.
    pub user: User,
    pub ts: i64,
    pub message: Message,
}

/// An entry of a room's log: a new message or a change to one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    Message(Message),
    Change(Change),
}

impl Entry {
    pub fn seq(&self) -> Seq {
        match self {
            Self::Message(message) => message.seq,
            Self::Change(change) => change.seq,
        }
    }

    pub fn room(&self) -> &RoomName {
        match self {
            Self::Message(message) => &message.room,
            Self::Change(change) => &change.room,
        }
    }

    /// The message's state after this entry.
    pub fn message(&self) -> &Message {
        match self {
            Self::Message(message) => message,
            Self::Change(change) => &change.message,
        }
    }
}

/// One emoji: a single grapheme that is not a letter, digit, space, ASCII
/// character or control character (keycaps such as 1️⃣ are fine).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Emoji(String);

impl Emoji {
    /// Longest grapheme accepted, in code points (family emoji are ~11).
    const MAX_CHARS: usize = 16;

    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let one = raw.graphemes(true).count() == 1;
        let chars = raw.chars().count();
        let first = raw.chars().next().unwrap_or(' ');
        let keycap = raw.contains('\u{20E3}');
        let pictorial = !first.is_ascii() && !first.is_alphanumeric() && !first.is_whitespace();
        let clean = !raw.chars().any(super::is_forbidden);
        if one && chars <= Self::MAX_CHARS && clean && (pictorial || keycap) {
            Ok(Self(raw.to_owned()))
        } else {
            Err(DomainError::InvalidEmoji)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_emoji_grapheme_is_a_reaction_even_a_joined_one() {
        for emoji in ["👍", "❤️", "🏳️‍🌈", "👨‍👩‍👧‍👦", "1️⃣", "🇮🇳", "✅"]
        {
            assert!(Emoji::parse(emoji).is_ok(), "{emoji}");
        }
    }

    #[test]
    fn text_or_two_emoji_are_not_a_reaction() {
        for raw in ["", "a", "👍👍", "ab", " ", "1", "é", "\u{0}", "<", "👍 "] {
            assert_eq!(Emoji::parse(raw), Err(DomainError::InvalidEmoji), "{raw:?}");
        }
    }
}
