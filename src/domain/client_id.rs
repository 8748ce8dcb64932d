//! The sender's own id for a message, which makes retries idempotent.

use super::DomainError;
use serde::Serialize;

/// A client-chosen message id, 1 to 64 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct ClientId(String);

impl ClientId {
    pub const MAX_CHARS: usize = 64;

    pub fn parse(raw: String) -> Result<Self, DomainError> {
        let chars = raw.chars().count();
        if (1..=Self::MAX_CHARS).contains(&chars) {
            Ok(Self(raw))
        } else {
            Err(DomainError::InvalidClientId)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub(crate) fn from_trusted(raw: String) -> Self {
        Self(raw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_id_is_one_to_sixty_four_characters() {
        assert!(ClientId::parse("a".repeat(64)).is_ok());
        assert_eq!(ClientId::parse("a".repeat(65)), Err(DomainError::InvalidClientId));
        assert_eq!(ClientId::parse(String::new()), Err(DomainError::InvalidClientId));
    }
}
