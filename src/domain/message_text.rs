//! The text of a chat message.

use super::DomainError;
use serde::Serialize;

/// Message text: 1 to 2000 characters, not only white space. Stored and sent
/// exactly as given; rendering it safely is the client's job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct MessageText(String);

impl MessageText {
    pub const MAX_CHARS: usize = 2000;

    pub fn parse(raw: String) -> Result<Self, DomainError> {
        if raw.trim().is_empty() {
            return Err(DomainError::EmptyMessage);
        }
        if raw.chars().count() > Self::MAX_CHARS {
            return Err(DomainError::MessageTooLong);
        }
        Ok(Self(raw))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub(crate) fn from_trusted(text: String) -> Self {
        Self(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_kept_exactly_as_sent() {
        let raw = "  <b>hi</b>\n".to_owned();
        assert_eq!(MessageText::parse(raw.clone()).map(|t| t.0), Ok(raw));
    }

    #[test]
    fn white_space_alone_is_not_a_message() {
        assert_eq!(MessageText::parse(" \n\t".into()), Err(DomainError::EmptyMessage));
        assert_eq!(MessageText::parse(String::new()), Err(DomainError::EmptyMessage));
    }

    #[test]
    fn two_thousand_characters_fit_and_one_more_is_too_large() {
        assert!(MessageText::parse("é".repeat(2000)).is_ok());
        assert_eq!(MessageText::parse("é".repeat(2001)), Err(DomainError::MessageTooLong));
    }
}
