//! `join` and `leave`: entering a room (with its people and history) and
//! leaving it.

use super::payload::{self, JoinRequest, RoomRequest};
use super::presence::Departure;
use super::refusal::{Done, reply};
use super::{Conn, Hub, Refusal, typing};
use crate::domain::{DisplayName, Message, RoomName, Seq, User};
use crate::store::Slice;
use serde::Serialize;
use socketioxide::adapter::Adapter;
use socketioxide::extract::{AckSender, SocketRef, State, TryData};
use socketioxide::{ParserError, SocketIo};
use std::sync::Arc;

/// Most messages a join with `since` returns (a plain join returns the
/// room's tail: [`super::tail::TAIL_LEN`]).
const CATCH_UP_LIMIT: u32 = 500;

#[derive(Serialize)]
struct Joined {
    room: RoomName,
    you: User,
    users: Vec<User>,
    count: usize,
    history: Vec<Message>,
    #[serde(rename = "hasMore")]
    has_more: bool,
}

pub async fn on_join<A: Adapter>(
    s: SocketRef<A>,
    State(hub): State<Hub<A>>,
    TryData(raw): TryData<serde_json::Value>,
    ack: AckSender<A>,
) {
    let result = join(&s, &hub, raw).await;
    reply(ack, &hub.metrics, &result);
}

async fn join<A: Adapter>(
    s: &SocketRef<A>,
    hub: &Hub<A>,
    raw: Result<serde_json::Value, ParserError>,
) -> Result<Joined, Refusal> {
    let request: JoinRequest = payload::parse(raw, "{ room, name, since? }")?;
    let room = RoomName::parse(&request.room)?;
    let name = DisplayName::parse(&request.name)?;
    let conn = conn_of(s)?;
    let entering = conn.start_entering(&room)?;
    let (you, view) = hub.presence.join(&room, conn.user, name, s.id).await?;
    // Presence changes up to the view's version are in this ack; the relay
    // sends this connection only the ones after it.
    let entered = conn.enter(&room, view.ver);
    drop(entering);
    let since = request.since.map(payload::seq);
    match catch_up(s, hub, &room, since).await {
        Ok((history, has_more)) => {
            hub.replay_presence(s.clone(), room.clone());
            let count = view.count();
            Ok(Joined { room, you, users: view.users, count, history, has_more })
        }
        Err(refusal) => {
            if entered {
                conn.exit(&room);
                s.leave(room.to_string());
                hub.presence.leave(&room, conn.user, s.id, Departure::Now);
            }
            Err(refusal)
        }
    }
}

/// Joins the broadcast group and answers with the history that ends where
/// live delivery begins: from the writer's in-memory tail when it reaches
/// back far enough, from the database otherwise.
async fn catch_up<A: Adapter>(
    s: &SocketRef<A>,
    hub: &Hub<A>,
    room: &RoomName,
    since: Option<Seq>,
) -> Result<(Vec<Message>, bool), Refusal> {
    let attached = hub.streams.attach(s.clone(), room.clone()).await?;
    let Some(since) = since else {
        let has_older = attached.has_older();
        return Ok((attached.recent, has_older));
    };
    if attached.covers(since) {
        let mut recent = attached.recent;
        recent.retain(|m| m.seq > since);
        return Ok((recent, false));
    }
    let ceiling = attached.ceiling;
    let page = hub.store.read(room, Slice::After(since), CATCH_UP_LIMIT).await?;
    let fetched = page.messages.len();
    let mut messages = page.messages;
    messages.retain(|m| m.seq <= ceiling);
    // Seqs have no gaps, so more remain below the ceiling exactly when the
    // page was full and stopped short of it.
    let last = messages.last().map_or(since, |m| m.seq);
    let has_more = page.has_more && messages.len() == fetched && last < ceiling;
    Ok((messages, has_more))
}

pub async fn on_leave<A: Adapter>(
    s: SocketRef<A>,
    io: SocketIo<A>,
    State(hub): State<Hub<A>>,
    TryData(raw): TryData<serde_json::Value>,
    ack: AckSender<A>,
) {
    let result = leave(&s, &io, &hub, raw).await;
    reply(ack, &hub.metrics, &result);
}

async fn leave<A: Adapter>(
    s: &SocketRef<A>,
    io: &SocketIo<A>,
    hub: &Hub<A>,
    raw: Result<serde_json::Value, ParserError>,
) -> Result<Done, Refusal> {
    let request: RoomRequest = payload::parse(raw, "{ room }")?;
    let room = RoomName::parse(&request.room)?;
    let conn = conn_of(s)?;
    let user = hub.presence.member(&room, conn.user);
    if !conn.exit(&room) {
        return Err(Refusal::NotInRoom);
    }
    s.leave(room.to_string());
    let Some(user) = user else {
        return Ok(Done {});
    };
    typing::stop(hub, io, &room, &user);
    // Answered once the room agrees, so the name is free when the ack comes.
    let released = hub.presence.leave(&room, conn.user, s.id, Departure::Now);
    if let Some(released) = released {
        // A failure is logged, and repaired when the directory is back.
        let _ = released.await;
    }
    Ok(Done {})
}

pub fn conn_of<A: Adapter>(s: &SocketRef<A>) -> Result<Arc<Conn>, Refusal> {
    s.extensions.get::<Arc<Conn>>().ok_or(Refusal::Unavailable)
}
