//! The name a person shows in a room.

use super::{DomainError, lookalike, trimmed_line};
use serde::Serialize;

/// A display name: trimmed, 1 to 32 Unicode characters, no control or
/// invisible characters. Kept as typed; uniqueness compares
/// [`DisplayName::lookalike_keys`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct DisplayName(String);

impl DisplayName {
    pub const MAX_CHARS: usize = 32;

    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let name = trimmed_line(raw, Self::MAX_CHARS).ok_or(DomainError::InvalidName)?;
        if name.chars().any(lookalike::is_invisible) {
            return Err(DomainError::InvisibleInName);
        }
        Ok(Self(name.to_owned()))
    }

    /// What the name looks like: two names clash in a room when they share
    /// a key ("Asha" = "ASHA" = "Аsha" with a Cyrillic А). See
    /// [`lookalike::keys`].
    pub fn lookalike_keys(&self) -> Vec<String> {
        lookalike::keys(&self.0)
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
    fn invisible_characters_are_refused_anywhere_in_a_name() {
        for name in ["A\u{200D}sha", "Asha\u{200B}x", "As\u{00AD}ha", "Asha\u{FE0F}", "\u{2800}"] {
            assert_eq!(DisplayName::parse(name), Err(DomainError::InvisibleInName), "{name:?}");
        }
    }

    #[test]
    fn a_name_and_its_other_case_share_a_key() {
        let keys = |raw| DisplayName::parse(raw).map(|n| n.lookalike_keys());
        let (upper, lower) = (keys("ASHA").unwrap_or_default(), keys("asha").unwrap_or_default());
        assert!(upper.iter().any(|key| lower.contains(key)), "{upper:?} / {lower:?}");
    }
}
