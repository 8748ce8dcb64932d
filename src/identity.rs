//! Session tokens: a user id plus an HMAC over it, signed with a secret kept
//! in the database, so tokens survive restarts and any node sharing the
//! database accepts them without a lookup.

use crate::domain::UserId;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Issues and checks session tokens.
#[derive(Clone)]
pub struct Keyring {
    secret: [u8; 32],
}

impl Keyring {
    pub fn new(secret: [u8; 32]) -> Self {
        Self { secret }
    }

    /// The token that proves ownership of `user`.
    pub fn issue(&self, user: UserId) -> String {
        let mut raw = Vec::with_capacity(48);
        raw.extend_from_slice(user.as_bytes());
        raw.extend_from_slice(&self.mac(user).finalize().into_bytes());
        URL_SAFE_NO_PAD.encode(raw)
    }

    /// The user a token names, if this keyring signed it.
    pub fn verify(&self, token: &str) -> Option<UserId> {
        let raw = URL_SAFE_NO_PAD.decode(token).ok()?;
        let (id, tag) = raw.split_at_checked(16)?;
        let user = UserId::from_bytes(id.try_into().ok()?);
        // verify_slice compares in constant time.
        self.mac(user).verify_slice(tag).ok()?;
        Some(user)
    }

    fn mac(&self, user: UserId) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.secret).expect("HMAC takes any key length");
        mac.update(user.as_bytes());
        mac
    }
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keyring(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_names_the_user_it_was_issued_to() {
        let keys = Keyring::new([7; 32]);
        let user = UserId::random();
        assert_eq!(keys.verify(&keys.issue(user)), Some(user));
    }

    #[test]
    fn a_token_from_another_secret_is_not_accepted() {
        let user = UserId::random();
        let foreign = Keyring::new([1; 32]).issue(user);
        assert_eq!(Keyring::new([2; 32]).verify(&foreign), None);
    }

    #[test]
    fn malformed_tokens_name_nobody() {
        let keys = Keyring::new([7; 32]);
        for token in ["", "not base64!", "AAAA", &"A".repeat(64)] {
            assert_eq!(keys.verify(token), None, "{token:?}");
        }
    }
}
