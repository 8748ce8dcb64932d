//! A chat message, before and after it is stored.

use super::{ClientId, MessageText, RoomName, User};
use serde::Serialize;

/// A message's position in its room: strictly increasing from 1.
pub type Seq = i64;

/// A message accepted from a client, not yet stored.
#[derive(Debug, Clone)]
pub struct MessageDraft {
    pub room: RoomName,
    pub user: User,
    pub text: MessageText,
    pub client_id: Option<ClientId>,
}

/// A stored message, as every client receives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Message {
    /// Unique across all rooms.
    pub id: i64,
    pub room: RoomName,
    pub seq: Seq,
    pub user: User,
    pub text: MessageText,
    /// Server time, milliseconds since the epoch.
    pub ts: i64,
    #[serde(rename = "clientId", skip_serializing_if = "Option::is_none")]
    pub client_id: Option<ClientId>,
}
