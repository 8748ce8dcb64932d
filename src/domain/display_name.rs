//! The name a person shows in a room.

use super::{DomainError, trimmed_line};
use serde::Serialize;

/// A display name: trimmed, 1 to 32 Unicode characters, no control
/// characters. Kept as typed; uniqueness compares [`DisplayName::folded`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct DisplayName(String);

impl DisplayName {
    pub const MAX_CHARS: usize = 32;

    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        trimmed_line(raw, Self::MAX_CHARS)
            .map(|name| Self(name.to_owned()))
            .ok_or(DomainError::InvalidName)
    }

    /// The case-folded form two names are compared by ("Asha" = "ASHA").
    pub fn folded(&self) -> String {
        self.0.to_lowercase()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Rebuilds a name read back from storage, which was parsed when written.
    pub(crate) fn from_trusted(name: String) -> Self {
        Self(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_keeps_its_case_but_loses_surrounding_space() {
        assert_eq!(DisplayName::parse(" Asha ").map(|n| n.0), Ok("Asha".into()));
    }

    #[test]
    fn names_are_counted_in_characters_not_bytes() {
        assert!(DisplayName::parse(&"अ".repeat(32)).is_ok());
        assert_eq!(DisplayName::parse(&"अ".repeat(33)), Err(DomainError::InvalidName));
    }

    #[test]
    fn emoji_and_accents_are_welcome_in_names() {
        assert!(DisplayName::parse("Zoë 🚀").is_ok());
    }

    #[test]
    fn an_empty_name_is_refused() {
        assert_eq!(DisplayName::parse(" \t "), Err(DomainError::InvalidName));
    }

    #[test]
    fn control_characters_and_direction_overrides_are_refused() {
        assert_eq!(DisplayName::parse("a\u{0}b"), Err(DomainError::InvalidName));
        assert_eq!(DisplayName::parse("a\tb"), Err(DomainError::InvalidName));
        assert_eq!(DisplayName::parse("evil\u{202E}gnp"), Err(DomainError::InvalidName));
    }

    #[test]
    fn names_fold_for_comparison_whatever_their_case() {
        let upper = DisplayName::parse("ASHA").map(|n| n.folded());
        assert_eq!(upper, Ok("asha".into()));
    }
}
