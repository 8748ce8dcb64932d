//! `history` (paging through a room's past) and `rooms` (where people are).

use super::join::conn_of;
use super::payload::{self, HistoryRequest, RoomsRequest};
use super::refusal::reply;
use super::{Hub, Refusal};
use crate::domain::{Message, RoomName};
use crate::store::Slice;
use serde::Serialize;
use socketioxide::ParserError;
use socketioxide::adapter::Adapter;
use socketioxide::extract::{AckSender, SocketRef, State, TryData};

const DEFAULT_LIMIT: u64 = 50;
const MAX_LIMIT: u64 = 100;
const MAX_ROOMS: usize = 100;

/// Messages as a connection's contract version shows them: version 2 in
/// full, version 1 in its shape and without deleted messages.
pub struct Shown {
    messages: Vec<Message>,
    v2: bool,
}

impl Shown {
    pub fn new(mut messages: Vec<Message>, v2: bool) -> Self {
        if !v2 {
            messages.retain(|m| !m.deleted);
        }
        Self { messages, v2 }
    }
}

impl Serialize for Shown {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut seq = serializer.serialize_seq(Some(self.messages.len()))?;
        for message in &self.messages {
            if self.v2 {
                seq.serialize_element(message)?;
            } else {
                seq.serialize_element(&message.v1())?;
            }
        }
        seq.end()
    }
}

#[derive(Serialize)]
struct History {
    messages: Shown,
    #[serde(rename = "hasMore")]
    has_more: bool,
}

#[derive(Serialize)]
struct RoomCount {
    room: RoomName,
    count: usize,
}

#[derive(Serialize)]
struct Rooms {
    rooms: Vec<RoomCount>,
}

pub async fn on_history<A: Adapter>(
    s: SocketRef<A>,
    State(hub): State<Hub<A>>,
    TryData(raw): TryData<serde_json::Value>,
    ack: AckSender<A>,
) {
    let result = history(&s, &hub, raw).await;
    reply(ack, &hub.metrics, &result);
}

async fn history<A: Adapter>(
    s: &SocketRef<A>,
    hub: &Hub<A>,
    raw: Result<serde_json::Value, ParserError>,
) -> Result<History, Refusal> {
    let request: HistoryRequest = payload::parse(raw, "{ room, before?, after?, limit? }")?;
    let room = RoomName::parse(&request.room)?;
    let conn = conn_of(s)?;
    if !conn.is_in(&room) {
        return Err(Refusal::outside(&room));
    }
    let limit = match request.limit {
        None => DEFAULT_LIMIT,
        Some(0) => return Err(Refusal::BadRequest("limit must be at least 1".into())),
        Some(limit) => limit.min(MAX_LIMIT),
    };
    let slice = match (request.before, request.after) {
        (None, None) => Slice::Latest,
        (Some(before), None) => Slice::Before(payload::seq(before)),
        (None, Some(after)) => Slice::After(payload::seq(after)),
        (Some(_), Some(_)) => {
            return Err(Refusal::BadRequest("give before or after, not both".into()));
        }
    };
    let page = hub.store.read(&room, slice, limit as u32).await?;
    Ok(History { messages: Shown::new(page.messages, conn.v2()), has_more: page.has_more })
}

/// `rooms` takes `{}`; a bare `emit("rooms", ack)` is accepted too.
pub async fn on_rooms<A: Adapter>(
    State(hub): State<Hub<A>>,
    TryData(raw): TryData<serde_json::Value>,
    ack: AckSender<A>,
) {
    let raw = raw.or_else(|_| Ok(serde_json::json!({})));
    let result = rooms(&hub, raw).await;
    reply(ack, &hub.metrics, &result);
}

async fn rooms<A: Adapter>(
    hub: &Hub<A>,
    raw: Result<serde_json::Value, socketioxide::ParserError>,
) -> Result<Rooms, Refusal> {
    payload::parse::<RoomsRequest>(raw, "{}")?;
    let list = hub.presence.rooms(MAX_ROOMS).await?;
    Ok(Rooms { rooms: list.into_iter().map(|(room, count)| RoomCount { room, count }).collect() })
}
