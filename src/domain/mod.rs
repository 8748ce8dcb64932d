//! Validated values: raw client input becomes one of these once, at the edge,
//! and no code past the edge checks it again.

mod change;
mod client_id;
mod direct;
mod display_name;
mod lookalike;
mod message;
mod message_text;
mod room_name;
mod search;
mod user;

pub use change::{Action, Change, ChangeDraft, ChangeKind, Emoji, Entry, MAX_REACTIONS};
pub use client_id::ClientId;
pub use direct::{Conversation, DIRECT_MARK, DirectRoom, Pair};
pub use display_name::DisplayName;
pub use message::{Message, MessageDraft, MessageV1, Reaction, Seq};
pub use message_text::MessageText;
pub use room_name::RoomName;
pub use search::{MAX_QUERY_CHARS, SearchQuery};
pub use user::{User, UserId};

/// Why a raw value was refused; each maps to one contract error code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    #[error(
        "room names are 1 to 48 characters with no control characters, and do not start with @"
    )]
    InvalidRoom,
    #[error("names are 1 to 32 characters with no control characters")]
    InvalidName,
    #[error("names cannot hold invisible characters (zero-width joiners, variation selectors, …)")]
    InvisibleInName,
    #[error("a message needs some text that is not only white space")]
    EmptyMessage,
    #[error("a message is at most 2000 characters")]
    MessageTooLong,
    #[error("clientId is 1 to 64 characters")]
    InvalidClientId,
    #[error("a reaction is one emoji")]
    InvalidEmoji,
    #[error("a search needs a word to look for")]
    EmptyQuery,
    #[error("a search is at most 256 characters")]
    QueryTooLong,
}

/// Trims `raw` and checks its length in Unicode scalar values and that it
/// holds no control characters (which would let a name hide or reorder text).
fn trimmed_line(raw: &str, max_chars: usize) -> Option<&str> {
    let trimmed = raw.trim();
    let chars = trimmed.chars().count();
    let clean = !trimmed.chars().any(is_forbidden);
    (1..=max_chars).contains(&chars).then_some(trimmed).filter(|_| clean)
}

/// Control characters, plus the bidirectional overrides and isolates that
/// can make a name display as something else.
fn is_forbidden(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}
