//! `history` (paging through a room's past) and `rooms` (where people are).

use super::join::conn_of;
use super::payload::{self, HistoryRequest, RoomsRequest};
use super::presence::relay::COUNTS_GROUP;
use super::refusal::reply;
use super::{Hub, Refusal, groups};
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
    /// With `around`: newer messages exist.
    #[serde(rename = "hasNewer", skip_serializing_if = "Option::is_none")]
    has_newer: Option<bool>,
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
    let request: HistoryRequest =
        payload::parse(raw, "{ room, before?, after?, around?, limit? }")?;
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
    let limit = limit as u32;
    let slice = match (request.before, request.after, request.around) {
        (None, None, None) => Slice::Latest,
        (Some(before), None, None) => Slice::Before(payload::seq(before)),
        (None, Some(after), None) => Slice::After(payload::seq(after)),
        (None, None, Some(around)) => {
            return around_seq(hub, &room, payload::seq(around), limit, conn.v2()).await;
        }
        _ => {
            return Err(Refusal::BadRequest("give one of before, after or around".into()));
        }
    };
    let page = hub.store.read(&room, slice, limit).await?;
    let messages = Shown::new(page.messages, conn.v2());
    Ok(History { messages, has_more: page.has_more, has_newer: None })
}

/// The messages around `seq`: up to `limit - limit / 2` at or before it,
/// and up to `limit / 2` after it, oldest first.
async fn around_seq<A: Adapter>(
    hub: &Hub<A>,
    room: &RoomName,
    seq: crate::domain::Seq,
    limit: u32,
    v2: bool,
) -> Result<History, Refusal> {
    let newer_limit = limit / 2;
    let older = hub.store.read(room, Slice::Before(seq.saturating_add(1)), limit - newer_limit);
    let older = older.await?;
    let (mut messages, has_newer) = if newer_limit == 0 {
        let newer = hub.store.read(room, Slice::After(seq), 1).await?;
        (older.messages, !newer.messages.is_empty())
    } else {
        let newer = hub.store.read(room, Slice::After(seq), newer_limit).await?;
        let mut messages = older.messages;
        messages.extend(newer.messages);
        (messages, newer.has_more)
    };
    messages.dedup_by_key(|m| m.id);
    let messages = Shown::new(messages, v2);
    Ok(History { messages, has_more: older.has_more, has_newer: Some(has_newer) })
}

/// `rooms` takes `{}`; a bare `emit("rooms", ack)` is accepted too.
pub async fn on_rooms<A: Adapter>(
    s: SocketRef<A>,
    State(hub): State<Hub<A>>,
    TryData(raw): TryData<serde_json::Value>,
    ack: AckSender<A>,
) {
    let raw = raw.or_else(|_| Ok(serde_json::json!({})));
    let result = rooms(&s, &hub, raw).await;
    reply(ack, &hub.metrics, &result);
}

async fn rooms<A: Adapter>(
    s: &SocketRef<A>,
    hub: &Hub<A>,
    raw: Result<serde_json::Value, socketioxide::ParserError>,
) -> Result<Rooms, Refusal> {
    let request = payload::parse::<RoomsRequest>(raw, "{ subscribe? }")?;
    // Subscribed before the list is read, so no change falls between the
    // answer and the first `counts`.
    match request.subscribe.filter(|_| conn_of(s).is_ok_and(|c| c.v2())) {
        Some(true) => groups::join(s, COUNTS_GROUP),
        Some(false) => groups::leave(s, COUNTS_GROUP),
        None => {}
    }
    let list = hub.presence.rooms(MAX_ROOMS).await?;
    Ok(Rooms { rooms: list.into_iter().map(|(room, count)| RoomCount { room, count }).collect() })
}
