//! Direct conversations (contract version 2): `dm` opens one with a person
//! you share a room with, `conversations` lists yours, and the
//! `conversation` event tells both users' version 2 connections, on every
//! process, of a new one. Who may enter a direct room is decided here:
//! its two users, nobody else, with one answer (`forbidden`) for a room
//! that is not yours whether it exists or not.

use super::join::conn_of;
use super::payload::{self, DmRequest, RoomsRequest};
use super::refusal::reply;
use super::{Hub, Refusal, events, fanout};
use crate::domain::{Conversation, Pair, RoomName, User, UserId};
use serde::Serialize;
use socketioxide::adapter::Adapter;
use socketioxide::extract::{AckSender, SocketRef, State, TryData};
use socketioxide::{ParserError, SocketIo};

/// Most conversations `conversations` lists (the most recently active).
pub const MAX_CONVERSATIONS: u32 = 500;

#[derive(Serialize)]
struct Opened {
    conversation: Conversation,
}

#[derive(Serialize)]
struct Listed {
    conversations: Vec<Conversation>,
}

/// The broadcast group of one user's version 2 connections on this
/// process. Room names cannot hold control characters, so no room's
/// group can have this name.
pub fn user_group(user: UserId) -> String {
    format!("\u{1}user:{user}")
}

/// Lets `user` into `room` if it is public or one of its conversations.
pub async fn admit<A: Adapter>(hub: &Hub<A>, room: &RoomName, user: UserId) -> Result<(), Refusal> {
    if !room.is_direct() || hub.store.is_participant(room, user).await? {
        Ok(())
    } else {
        Err(Refusal::Outsider)
    }
}

/// Keeps the name `user` joined a direct room with, for the other's list.
/// A failure only leaves the older name there.
pub async fn note_name<A: Adapter>(hub: &Hub<A>, room: &RoomName, user: &User) {
    if !room.is_direct() {
        return;
    }
    if let Err(error) = hub.store.rename_in_conversation(room, user).await {
        tracing::warn!(%error, "could not record a name in a conversation");
    }
}

pub async fn on_dm<A: Adapter>(
    s: SocketRef<A>,
    io: SocketIo<A>,
    State(hub): State<Hub<A>>,
    TryData(raw): TryData<serde_json::Value>,
    ack: AckSender<A>,
) {
    let result = dm(&s, &io, &hub, raw).await;
    reply(ack, &hub.metrics, &result);
}

async fn dm<A: Adapter>(
    s: &SocketRef<A>,
    io: &SocketIo<A>,
    hub: &Hub<A>,
    raw: Result<serde_json::Value, ParserError>,
) -> Result<Opened, Refusal> {
    let conn = conn_of(s)?;
    if !conn.v2() {
        return Err(Refusal::Unsupported);
    }
    let request: DmRequest = payload::parse(raw, "{ userId }")?;
    let other = UserId::from_hex(&request.user_id)
        .ok_or_else(|| Refusal::BadRequest("userId is 32 hex digits".into()))?;
    if other == conn.user {
        return Err(Refusal::WithYourself);
    }
    conn.spend_message().map_err(|retry_after_ms| Refusal::RateLimited { retry_after_ms })?;
    let pair = match hub.store.conversation(conn.user, other).await? {
        Some(pair) => pair,
        None => {
            let (me, them) = meeting(hub, &conn.public_rooms(), conn.user, other).await?;
            let opened = hub.store.open_conversation(&me, &them).await?;
            if opened.created {
                deliver(io, &opened.pair);
                hub.peers.conversation(&opened.pair);
            }
            opened.pair
        }
    };
    let conversation = pair.seen_by(conn.user).ok_or(Refusal::Unavailable)?;
    Ok(Opened { conversation: with_marker(hub, conversation, conn.user).await? })
}

/// `me` and `other` as they are named in a public room both are in (one
/// of `rooms`, the connection's), or `not_found`: a conversation is opened
/// from a room's people list, so nobody can be messaged by a stranger
/// who only guessed or copied its id.
async fn meeting<A: Adapter>(
    hub: &Hub<A>,
    rooms: &[RoomName],
    me: UserId,
    other: UserId,
) -> Result<(User, User), Refusal> {
    for room in rooms {
        let view = hub.presence.view(room).await?;
        let find = |id: UserId| view.users.iter().find(|u| u.id == id).cloned();
        if let (Some(me), Some(them)) = (find(me), find(other)) {
            return Ok((me, them));
        }
    }
    Err(Refusal::NoSuchUser)
}

/// `conversations` takes `{}`; a bare `emit("conversations", ack)` is
/// accepted too, as for `rooms`.
pub async fn on_conversations<A: Adapter>(
    s: SocketRef<A>,
    State(hub): State<Hub<A>>,
    TryData(raw): TryData<serde_json::Value>,
    ack: AckSender<A>,
) {
    let raw = raw.or_else(|_| Ok(serde_json::json!({})));
    let result = conversations(&s, &hub, raw).await;
    reply(ack, &hub.metrics, &result);
}

async fn conversations<A: Adapter>(
    s: &SocketRef<A>,
    hub: &Hub<A>,
    raw: Result<serde_json::Value, ParserError>,
) -> Result<Listed, Refusal> {
    let conn = conn_of(s)?;
    if !conn.v2() {
        return Err(Refusal::Unsupported);
    }
    payload::parse::<RoomsRequest>(raw, "{}")?;
    let pairs = hub.store.conversations(conn.user, MAX_CONVERSATIONS).await?;
    let mut conversations = Vec::with_capacity(pairs.len());
    for conversation in pairs.iter().filter_map(|pair| pair.seen_by(conn.user)) {
        conversations.push(with_marker(hub, conversation, conn.user).await?);
    }
    Ok(Listed { conversations })
}

/// The conversation with `user`'s read marker in it.
async fn with_marker<A: Adapter>(
    hub: &Hub<A>,
    mut conversation: Conversation,
    user: UserId,
) -> Result<Conversation, Refusal> {
    let marker = hub.store.read_marker(user, &conversation.room).await?;
    conversation.read_seq = marker.read_seq;
    conversation.unread = marker.unread;
    // Read after the conversation, so never behind it; and `unread` counts
    // up to this seq, which a client takes as what the count holds.
    conversation.last_seq = marker.last_seq;
    Ok(conversation)
}

/// Sends each of the pair's users, on this process's version 2
/// connections, the conversation as that user sees it.
pub fn deliver<A: Adapter>(io: &SocketIo<A>, pair: &Pair) {
    for user in &pair.users {
        let Some(conversation) = pair.seen_by(user.id) else {
            continue;
        };
        let Some(encoded) = fanout::encode(events::CONVERSATION, &conversation) else {
            continue;
        };
        for socket in io.to(user_group(user.id)).sockets() {
            fanout::send(&socket, &encoded);
        }
    }
}
