//! A room's name, in the lower-case form every reply carries: a public
//! room's, or a direct conversation's (`@` and 24 hex digits).

use super::direct::{DIRECT_MARK, DirectRoom};
use super::{DomainError, trimmed_line};
use serde::Serialize;
use std::fmt;

/// A room name: trimmed, 1 to 48 characters, no control characters,
/// lower-cased so that rooms compare case-insensitively. A name starting
/// with `@` is a direct room's id or nothing: public rooms cannot take it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct RoomName(String);

impl RoomName {
    pub const MAX_CHARS: usize = 48;

    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        // Lower-cased before the length check, so the limit holds for the
        // form every reply carries: "İ" lower-cases to two characters.
        let name = trimmed_line(&raw.to_lowercase(), Self::MAX_CHARS)
            .map(|name| Self(name.to_owned()))
            .ok_or(DomainError::InvalidRoom)?;
        if name.is_direct() {
            DirectRoom::parse(&name.0)?;
        }
        Ok(name)
    }

    /// The name of a direct room.
    pub(super) fn direct(room: &DirectRoom) -> Self {
        Self(room.to_string())
    }

    /// Whether this is a direct conversation's room, which only its two
    /// users may enter.
    pub fn is_direct(&self) -> bool {
        self.0.starts_with(DIRECT_MARK)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RoomName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_length_limit_holds_for_the_lower_case_form() {
        assert_eq!(RoomName::parse(&"İ".repeat(48)), Err(DomainError::InvalidRoom));
        let room = RoomName::parse(&"İ".repeat(24)).map(|r| r.0.chars().count());
        assert_eq!(room, Ok(48));
    }

    #[test]
    fn a_room_name_is_trimmed_and_lower_cased() {
        assert_eq!(RoomName::parse("  General ").map(|r| r.0), Ok("general".into()));
    }

    #[test]
    fn an_empty_or_blank_room_name_is_refused() {
        assert_eq!(RoomName::parse(""), Err(DomainError::InvalidRoom));
        assert_eq!(RoomName::parse("   "), Err(DomainError::InvalidRoom));
    }

    #[test]
    fn a_room_name_may_be_48_characters_but_not_49() {
        assert!(RoomName::parse(&"é".repeat(48)).is_ok());
        assert_eq!(RoomName::parse(&"é".repeat(49)), Err(DomainError::InvalidRoom));
    }

    #[test]
    fn a_room_name_with_a_control_character_is_refused() {
        assert_eq!(RoomName::parse("gen\neral"), Err(DomainError::InvalidRoom));
        assert_eq!(RoomName::parse("gen\u{7}"), Err(DomainError::InvalidRoom));
    }

    #[test]
    fn a_name_starting_with_the_direct_mark_is_a_direct_room_or_refused() {
        assert_eq!(RoomName::parse("@general"), Err(DomainError::InvalidRoom));
        assert_eq!(RoomName::parse(" @"), Err(DomainError::InvalidRoom));
        let direct = format!("@{}", "A1".repeat(12));
        let parsed = RoomName::parse(&direct).expect("a direct room");
        assert!(parsed.is_direct());
        assert_eq!(parsed.as_str(), direct.to_lowercase());
        assert!(!RoomName::parse("a@b").expect("a public room").is_direct());
    }

    #[test]
    fn unicode_room_names_compare_case_insensitively() {
        assert_eq!(RoomName::parse("ÇAY"), RoomName::parse("çay"));
    }
}
