//! The text of a chat message.

use super::DomainError;
use serde::{Serialize, Serializer};
use std::sync::Arc;

/// Message text: 1 to 2000 characters, not only white space. Stored and sent
/// exactly as given; rendering it safely is the client's job.
///
/// Shared, not copied, when a message is cloned: a room's tail holds a
/// message and its log entry, acks and joins clone it again, and each copy
/// of a text of 2,000 four-byte characters would be another 8 KB.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageText(Arc<str>);

impl MessageText {
    pub const MAX_CHARS: usize = 2000;

    pub fn parse(raw: String) -> Result<Self, DomainError> {
        if raw.trim().is_empty() {
            return Err(DomainError::EmptyMessage);
        }
        if raw.chars().count() > Self::MAX_CHARS {
            return Err(DomainError::MessageTooLong);
        }
        Ok(Self(raw.into()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub(crate) fn from_trusted(text: String) -> Self {
        Self(text.into())
    }
}

impl Serialize for MessageText {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_kept_exactly_as_sent() {
        let raw = "  <b>hi</b>\n".to_owned();
        assert_eq!(MessageText::parse(raw.clone()).map(|t| t.as_str().to_owned()), Ok(raw));
    }

    #[test]
    fn a_copy_of_a_text_shares_its_characters() {
        let text = MessageText::parse("é".repeat(2000)).expect("text");
        assert!(std::ptr::eq(text.as_str(), text.clone().as_str()));
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
