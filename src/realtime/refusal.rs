//! The one error type of the socket layer: every failed ack is a `Refusal`,
//! mapped once to the contract's `{ ok: false, error: { code, message } }`.

use super::presence::DirectoryError;
use crate::domain::DomainError;
use crate::metrics::Metrics;
use crate::store::{Rejected, StoreError};
use serde::Serialize;
use serde_json::json;
use socketioxide::adapter::Adapter;
use socketioxide::extract::AckSender;

/// The wait a refusal over the room limit suggests: leaving a room is what
/// lifts it, not time.
const ROOMS_RETRY_AFTER_MS: u64 = 60_000;

#[derive(Debug, Clone, thiserror::Error)]
pub enum Refusal {
    #[error(transparent)]
    Invalid(#[from] DomainError),
    #[error("that name is already in use in this room")]
    NameTaken,
    #[error("join the room first")]
    NotInRoom,
    #[error("too many messages; try again shortly")]
    RateLimited { retry_after_ms: u64 },
    #[error("too many joins; try again shortly")]
    JoinsLimited { retry_after_ms: u64 },
    /// Waiting does not help here, only leaving a room does; the contract
    /// has no code of its own for it, so it is `rate_limited`.
    #[error("this connection is in {max} rooms, the most it may be in; leave one first")]
    TooManyRooms { max: usize },
    #[error("malformed payload: {0}")]
    BadRequest(String),
    #[error("storage is unavailable; nothing was stored")]
    Unavailable,
    /// A change the store refused (protocol version 2).
    #[error(transparent)]
    Rejected(#[from] Rejected),
    /// A direct room this connection may not use: not one of its two
    /// users, or (for every event but `join`) not joined yet. One answer
    /// whether the room exists or not, so it tells nothing of either.
    #[error("only the two people of a direct conversation may use it, after joining it")]
    Outsider,
    #[error("a direct conversation is with someone else, not yourself")]
    WithYourself,
    #[error("no such user shares a room with you")]
    NoSuchUser,
    /// An event of a later contract version than the connection speaks.
    #[error("this event needs protocol version 2: connect with auth {{ protocol: 2 }}")]
    Unsupported,
}

impl Refusal {
    pub fn code(&self) -> &'static str {
        match self {
            Self::Invalid(DomainError::InvalidRoom) => "invalid_room",
            Self::Invalid(DomainError::InvalidName | DomainError::InvisibleInName) => {
                "invalid_name"
            }
            Self::Invalid(DomainError::EmptyMessage) => "invalid_message",
            Self::Invalid(DomainError::MessageTooLong) => "too_large",
            Self::Invalid(DomainError::InvalidClientId) => "bad_request",
            Self::Invalid(DomainError::InvalidEmoji) => "invalid_reaction",
            Self::Invalid(DomainError::EmptyQuery | DomainError::QueryTooLong) => "invalid_query",
            Self::Rejected(Rejected::NotFound) => "not_found",
            Self::Rejected(Rejected::Forbidden) | Self::Outsider | Self::WithYourself => {
                "forbidden"
            }
            Self::NoSuchUser => "not_found",
            Self::Unsupported => "unsupported",
            Self::Rejected(Rejected::TooManyReactions) => "too_large",
            Self::NameTaken => "name_taken",
            Self::NotInRoom => "not_in_room",
            Self::RateLimited { .. } | Self::JoinsLimited { .. } | Self::TooManyRooms { .. } => {
                "rate_limited"
            }
            Self::BadRequest(_) => "bad_request",
            Self::Unavailable => "unavailable",
        }
    }

    /// How long to wait before trying again, for `rate_limited`.
    fn retry_after_ms(&self) -> Option<u64> {
        match self {
            Self::RateLimited { retry_after_ms } | Self::JoinsLimited { retry_after_ms } => {
                Some(*retry_after_ms)
            }
            // Every `rate_limited` carries a wait, so a client that retries
            // blindly backs off instead of spinning.
            Self::TooManyRooms { .. } => Some(ROOMS_RETRY_AFTER_MS),
            _ => None,
        }
    }

    pub(super) fn to_json(&self) -> serde_json::Value {
        let mut error = json!({ "code": self.code(), "message": self.to_string() });
        if let Some(retry_after_ms) = self.retry_after_ms() {
            error["retryAfterMs"] = json!(retry_after_ms);
        }
        json!({ "ok": false, "error": error })
    }
}

impl Refusal {
    /// The refusal for an event naming a room this connection is not in:
    /// `not_in_room` for a public room, `forbidden` for a direct one.
    pub fn outside(room: &crate::domain::RoomName) -> Self {
        if room.is_direct() { Self::Outsider } else { Self::NotInRoom }
    }
}

impl From<DirectoryError> for Refusal {
    fn from(error: DirectoryError) -> Self {
        match error {
            DirectoryError::NameTaken => Self::NameTaken,
            DirectoryError::Unavailable(reason) => {
                tracing::error!(%reason, "presence failed");
                Self::Unavailable
            }
        }
    }
}

impl From<StoreError> for Refusal {
    fn from(error: StoreError) -> Self {
        tracing::error!(%error, "storage failed");
        Self::Unavailable
    }
}

/// An ok ack with nothing more to say: `{ ok: true }`.
#[derive(Serialize)]
pub struct Done {}

/// The body of an ok ack: `{ ok: true, ...body }`.
#[derive(Serialize)]
struct Accepted<'a, T: Serialize> {
    ok: bool,
    #[serde(flatten)]
    body: &'a T,
}

/// Answers an ok ack whose body says `ok: true` itself: the hot `message`
/// ack, spared [`reply`]'s flattening serializer.
pub fn accept<A: Adapter, T: Serialize>(ack: AckSender<A>, body: &T) {
    if let Err(error) = ack.send(body) {
        tracing::debug!(%error, "ack not sent");
    }
}

/// Answers an event's ack, counting refusals by code.
pub fn reply<A: Adapter, T: Serialize>(
    ack: AckSender<A>,
    metrics: &Metrics,
    result: &Result<T, Refusal>,
) {
    let sent = match result {
        Ok(body) => ack.send(&Accepted { ok: true, body }),
        Err(refusal) => {
            metrics.error(refusal.code());
            tracing::debug!(code = refusal.code(), %refusal, "refused");
            ack.send(&refusal.to_json())
        }
    };
    if let Err(error) = sent {
        tracing::debug!(%error, "ack not sent");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rate_limit_refusal_says_when_to_retry() {
        let json = Refusal::RateLimited { retry_after_ms: 120 }.to_json();
        assert_eq!(json["error"]["code"], "rate_limited");
        assert_eq!(json["error"]["retryAfterMs"], 120);
        assert_eq!(json["ok"], false);
    }

    #[test]
    fn every_limit_refusal_is_rate_limited_with_a_wait() {
        for refusal in [
            Refusal::RateLimited { retry_after_ms: 50 },
            Refusal::JoinsLimited { retry_after_ms: 2000 },
            Refusal::TooManyRooms { max: 50 },
        ] {
            let json = refusal.to_json();
            assert_eq!(json["error"]["code"], "rate_limited", "{json}");
            assert!(json["error"]["retryAfterMs"].as_u64().is_some_and(|ms| ms > 0), "{json}");
        }
    }

    #[test]
    fn the_room_limit_says_to_leave_a_room() {
        let json = Refusal::TooManyRooms { max: 50 }.to_json();
        let message = json["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains("50 rooms") && message.contains("leave one"), "{message}");
    }

    #[test]
    fn domain_errors_map_to_their_contract_codes() {
        assert_eq!(Refusal::from(DomainError::MessageTooLong).code(), "too_large");
        assert_eq!(Refusal::from(DomainError::EmptyMessage).code(), "invalid_message");
    }
}
