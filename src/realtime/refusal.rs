//! The one error type of the socket layer: every failed ack is a `Refusal`,
//! mapped once to the contract's `{ ok: false, error: { code, message } }`.

use super::presence::DirectoryError;
use crate::domain::DomainError;
use crate::metrics::Metrics;
use crate::store::StoreError;
use serde::Serialize;
use serde_json::json;
use socketioxide::adapter::Adapter;
use socketioxide::extract::AckSender;

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
    #[error("malformed payload: {0}")]
    BadRequest(String),
    #[error("storage is unavailable; nothing was stored")]
    Unavailable,
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
            Self::NameTaken => "name_taken",
            Self::NotInRoom => "not_in_room",
            Self::RateLimited { .. } => "rate_limited",
            Self::BadRequest(_) => "bad_request",
            Self::Unavailable => "unavailable",
        }
    }

    fn to_json(&self) -> serde_json::Value {
        let mut error = json!({ "code": self.code(), "message": self.to_string() });
        if let Self::RateLimited { retry_after_ms } = self {
            error["retryAfterMs"] = json!(retry_after_ms);
        }
        json!({ "ok": false, "error": error })
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
    fn domain_errors_map_to_their_contract_codes() {
        assert_eq!(Refusal::from(DomainError::MessageTooLong).code(), "too_large");
        assert_eq!(Refusal::from(DomainError::EmptyMessage).code(), "invalid_message");
    }
}
