//! Client payloads as they arrive, before parsing into domain types. Any
//! shape serde cannot read becomes `bad_request`.

use super::Refusal;
use crate::domain::{ClientId, Seq};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use socketioxide::ParserError;

#[derive(Debug, Deserialize)]
pub struct JoinRequest {
    pub room: String,
    pub name: String,
    pub since: Option<u64>,
}

#[derive(Debug, Deserialize)]
pub struct RoomRequest {
    pub room: String,
}

#[derive(Debug, Deserialize)]
pub struct MessageRequest {
    pub room: String,
    pub text: String,
    #[serde(rename = "clientId")]
    pub client_id: Option<String>,
    #[serde(rename = "replyTo")]
    pub reply_to: Option<u64>,
}

/// `edit`, `delete` and `react`: which message, and the edit's text or the
/// reaction's emoji.
#[derive(Debug, Deserialize)]
pub struct ChangeRequest {
    pub room: String,
    pub id: u64,
    pub text: Option<String>,
    pub emoji: Option<String>,
    #[serde(rename = "clientId")]
    pub client_id: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct TypingRequest {
    pub room: String,
    pub typing: bool,
}

#[derive(Debug, Deserialize)]
pub struct HistoryRequest {
    pub room: String,
    pub before: Option<u64>,
    pub after: Option<u64>,
    /// The messages around this seq, before and after it.
    pub around: Option<u64>,
    pub limit: Option<u64>,
}

/// `read`: the seq read up to in a room.
#[derive(Debug, Deserialize)]
pub struct ReadRequest {
    pub room: String,
    pub seq: u64,
}

/// `search`: the query, optionally one room, a page size and an id to
/// search below.
#[derive(Debug, Deserialize)]
pub struct SearchRequest {
    pub q: String,
    pub room: Option<String>,
    pub limit: Option<u64>,
    pub before: Option<u64>,
}

/// `dm`: the other user of a direct conversation.
#[derive(Debug, Deserialize)]
pub struct DmRequest {
    #[serde(rename = "userId")]
    pub user_id: String,
}

/// `rooms`, `reads` and `conversations` take an object; extra fields are
/// ignored. `rooms` may subscribe to `counts` (version 2).
#[derive(Debug, Deserialize)]
pub struct RoomsRequest {
    pub subscribe: Option<bool>,
}

/// Reads a payload of type `T`, naming the expected shape on failure.
pub fn parse<T: DeserializeOwned>(
    raw: Result<serde_json::Value, ParserError>,
    shape: &str,
) -> Result<T, Refusal> {
    let value = raw
        .ok()
        .filter(serde_json::Value::is_object)
        .ok_or_else(|| Refusal::BadRequest(format!("expected an object {shape}")))?;
    serde_json::from_value(value).map_err(|e| {
        // serde names Rust types; a client author wants JSON words.
        let reason = e.to_string().replace("u64", "a non-negative integer");
        Refusal::BadRequest(format!("expected {shape}: {reason}"))
    })
}

/// Message ids from clients fit the store's signed integers.
pub fn id(raw: u64) -> i64 {
    i64::try_from(raw).unwrap_or(i64::MAX)
}

/// Seqs from clients fit the store's signed integers.
pub fn seq(raw: u64) -> Seq {
    Seq::try_from(raw).unwrap_or(Seq::MAX)
}

pub fn client_id(raw: Option<String>) -> Result<Option<ClientId>, Refusal> {
    raw.map(ClientId::parse).transpose().map_err(Refusal::from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_number_where_a_room_belongs_is_a_bad_request() {
        let parsed = parse::<RoomRequest>(Ok(json!({ "room": 5 })), "{ room }");
        assert_eq!(parsed.map_err(|e| e.code()).err(), Some("bad_request"));
    }

    #[test]
    fn a_fractional_or_negative_since_is_a_bad_request() {
        for since in [json!(1.5), json!(-1)] {
            let raw = json!({ "room": "a", "name": "b", "since": since });
            assert!(parse::<JoinRequest>(Ok(raw), "{ room, name }").is_err());
        }
    }

    #[test]
    fn an_array_of_field_values_is_not_an_object() {
        let parsed = parse::<RoomRequest>(Ok(json!(["general"])), "{ room }");
        assert_eq!(parsed.map_err(|e| e.code()).err(), Some("bad_request"));
    }

    #[test]
    fn null_optional_fields_read_as_absent() {
        let raw = json!({ "room": "a", "name": "b", "since": null });
        assert!(matches!(parse::<JoinRequest>(Ok(raw), "x"), Ok(JoinRequest { since: None, .. })));
    }
}
