//! `search` (contract version 2): full-text search over the messages a
//! user may read, that is every public room and its own direct
//! conversations, never anyone else's. Results carry where the words
//! matched as ranges of the text, never markup, so a client renders them
//! as text.

use super::direct;
use super::join::conn_of;
use super::payload::{self, SearchRequest};
use super::refusal::reply;
use super::{Hub, Refusal};
use crate::domain::{Message, RoomName, SearchQuery};
use crate::store::Search;
use serde::Serialize;
use socketioxide::ParserError;
use socketioxide::adapter::Adapter;
use socketioxide::extract::{AckSender, SocketRef, State, TryData};

const DEFAULT_LIMIT: u64 = 20;
const MAX_LIMIT: u64 = 50;

#[derive(Serialize)]
struct Hit {
    message: Message,
    /// `[start, end)` of each matching word in `message.text`, in UTF-16
    /// code units.
    highlights: Vec<[usize; 2]>,
}

#[derive(Serialize)]
struct Found {
    results: Vec<Hit>,
    #[serde(rename = "hasMore")]
    has_more: bool,
}

pub async fn on_search<A: Adapter>(
    s: SocketRef<A>,
    State(hub): State<Hub<A>>,
    TryData(raw): TryData<serde_json::Value>,
    ack: AckSender<A>,
) {
    let result = search(&s, &hub, raw).await;
    reply(ack, &hub.metrics, &result);
}

async fn search<A: Adapter>(
    s: &SocketRef<A>,
    hub: &Hub<A>,
    raw: Result<serde_json::Value, ParserError>,
) -> Result<Found, Refusal> {
    let conn = conn_of(s)?;
    if !conn.v2() {
        return Err(Refusal::Unsupported);
    }
    let request: SearchRequest = payload::parse(raw, "{ q, room?, limit?, before? }")?;
    let query = SearchQuery::parse(&request.q)?;
    let room = request.room.as_deref().map(RoomName::parse).transpose()?;
    let limit = match request.limit {
        None => DEFAULT_LIMIT,
        Some(0) => return Err(Refusal::BadRequest("limit must be at least 1".into())),
        Some(limit) => limit.min(MAX_LIMIT),
    };
    conn.spend_search().map_err(|retry_after_ms| Refusal::RateLimited { retry_after_ms })?;
    if let Some(room) = &room {
        // Not joined is fine for search; not one of its users is not.
        direct::admit(hub, room, conn.user).await?;
    }
    let limit = limit as u32;
    let search =
        Search { query, user: conn.user, room, before: request.before.map(payload::id), limit };
    let mut messages = hub.store.search(&search).await?;
    let has_more = messages.len() > limit as usize;
    messages.truncate(limit as usize);
    let results = messages
        .into_iter()
        .map(|message| {
            let highlights = search.query.highlights(message.text.as_str());
            Hit { message, highlights }
        })
        .collect();
    Ok(Found { results, has_more })
}
