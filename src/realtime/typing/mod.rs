//! `typing`: who is typing where. "Typing" ends by itself after the
//! configured expiry unless renewed, so a closed laptop never types forever.
//! Floods are dropped cheaply: a renewal reaches the others at most once
//! per interval, and a connection starts typing a few times in a row, then
//! once per interval (so toggling on and off in a loop is not a broadcast
//! each time).

mod spells;

pub use spells::Typing;

use super::fanout::{self, Skip};
use super::payload::{self, TypingRequest};
use super::refusal::{Done, reply};
use super::{Conn, Hub, Refusal, events};
use crate::domain::{RoomName, User};
use serde_json::json;
use socketioxide::adapter::Adapter;
use socketioxide::extract::{AckSender, SocketRef, State, TryData};
use socketioxide::{ParserError, SocketIo};
use spells::{Expiry, Typed};
use std::sync::Arc;
use tokio::time::Instant;

pub async fn on_typing<A: Adapter>(
    s: SocketRef<A>,
    io: SocketIo<A>,
    State(hub): State<Hub<A>>,
    TryData(raw): TryData<serde_json::Value>,
    ack: AckSender<A>,
) {
    let result = typing(&s, &io, &hub, raw);
    // `typing` needs no ack, but a client that asked for one gets an answer.
    reply(ack, &hub.metrics, &result);
}

fn typing<A: Adapter>(
    s: &SocketRef<A>,
    io: &SocketIo<A>,
    hub: &Hub<A>,
    raw: Result<serde_json::Value, ParserError>,
) -> Result<Done, Refusal> {
    let request: TypingRequest = payload::parse(raw, "{ room, typing }")?;
    let room = RoomName::parse(&request.room)?;
    let conn = s.extensions.get::<Arc<Conn>>().filter(|c| c.is_in(&room));
    let conn = conn.ok_or_else(|| Refusal::outside(&room))?;
    let user = hub.presence.member(&room, conn.user).ok_or_else(|| Refusal::outside(&room))?;
    if !request.typing {
        stop(hub, io, &room, &user);
        return Ok(Done {});
    }
    let now = Instant::now();
    let may_start = || conn.may_start_typing(&room, now.into_std());
    match hub.typing.typed(&room, user.id, now, may_start) {
        Typed::Started { generation, until } => {
            announce(hub, io, &room, &user, true);
            watch_expiry(io.clone(), hub.clone(), room, user, generation, until);
        }
        Typed::Retold => announce(hub, io, &room, &user, true),
        Typed::Extended | Typed::Dropped => {}
    }
    Ok(Done {})
}

/// Ends `user`'s typing in `room`, telling the others if it was typing.
pub fn stop<A: Adapter>(hub: &Hub<A>, io: &SocketIo<A>, room: &RoomName, user: &User) {
    if hub.typing.stop(room, user.id) {
        announce(hub, io, room, user, false);
    }
}

/// One timer per spell of typing, however often it is renewed: it sleeps
/// until the spell's end, and again if a renewal moved it.
fn watch_expiry<A: Adapter>(
    io: SocketIo<A>,
    hub: Hub<A>,
    room: RoomName,
    user: User,
    generation: u64,
    mut until: Instant,
) {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep_until(until).await;
            match hub.typing.expire(&room, user.id, generation, Instant::now()) {
                Expiry::Ended => break announce(&hub, &io, &room, &user, false),
                Expiry::Later(later) => until = later,
                Expiry::Gone => break,
            }
        }
    });
}

/// Tells the other users in the room, here and on the other processes.
fn announce<A: Adapter>(
    hub: &Hub<A>,
    io: &SocketIo<A>,
    room: &RoomName,
    user: &User,
    typing: bool,
) {
    deliver(io, room, user, typing);
    hub.peers.typing(room, user, typing);
}

/// Delivers to this process's connections of the room's other users: a
/// typist's own tabs know it is typing (decision 3 of the contract).
pub fn deliver<A: Adapter>(io: &SocketIo<A>, room: &RoomName, user: &User, typing: bool) {
    let payload = json!({ "room": room, "user": user, "typing": typing });
    fanout::deliver(io, room, Skip::User(user.id), events::TYPING, &payload);
}
