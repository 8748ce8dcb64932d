//! `typing`: who is typing where. "Typing" ends by itself after the
//! configured expiry unless renewed, so a closed laptop never types forever.

use super::fanout::{self, Skip};
use super::payload::{self, TypingRequest};
use super::refusal::{Done, reply};
use super::{Conn, Hub, Refusal, events};
use crate::domain::{RoomName, User, UserId};
use serde_json::json;
use socketioxide::adapter::Adapter;
use socketioxide::extract::{AckSender, SocketRef, State, TryData};
use socketioxide::{ParserError, SocketIo};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard};

/// Active typists, each with the generation of its latest renewal so an
/// expiry timer can tell whether it is stale.
#[derive(Default)]
pub struct Typing {
    active: Mutex<HashMap<(RoomName, UserId), u64>>,
    /// Generations are never reused, so a timer from an earlier spell of
    /// typing cannot end a later one.
    next: AtomicU64,
}

impl Typing {
    fn start(&self, room: &RoomName, user: UserId) -> u64 {
        let generation = self.next.fetch_add(1, Relaxed);
        self.lock().insert((room.clone(), user), generation);
        generation
    }

    /// Ends typing; true if the user was typing.
    fn stop(&self, room: &RoomName, user: UserId) -> bool {
        self.lock().remove(&(room.clone(), user)).is_some()
    }

    /// Ends typing only if `generation` is still the latest renewal.
    fn expire(&self, room: &RoomName, user: UserId, generation: u64) -> bool {
        let mut active = self.lock();
        let key = (room.clone(), user);
        let current = active.get(&key) == Some(&generation);
        if current {
            active.remove(&key);
        }
        current
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<(RoomName, UserId), u64>> {
        self.active.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

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
    let user = conn.and_then(|c| hub.presence.member(&room, c.user)).ok_or(Refusal::NotInRoom)?;
    if request.typing {
        let generation = hub.typing.start(&room, user.id);
        announce(hub, io, &room, &user, true);
        schedule_expiry(io.clone(), hub.clone(), room, user, generation);
    } else {
        stop(hub, io, &room, &user);
    }
    Ok(Done {})
}

/// Ends `user`'s typing in `room`, telling the others if it was typing.
pub fn stop<A: Adapter>(hub: &Hub<A>, io: &SocketIo<A>, room: &RoomName, user: &User) {
    if hub.typing.stop(room, user.id) {
        announce(hub, io, room, user, false);
    }
}

fn schedule_expiry<A: Adapter>(
    io: SocketIo<A>,
    hub: Hub<A>,
    room: RoomName,
    user: User,
    generation: u64,
) {
    tokio::spawn(async move {
        tokio::time::sleep(hub.config.typing_expiry()).await;
        if hub.typing.expire(&room, user.id, generation) {
            announce(&hub, &io, &room, &user, false);
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
