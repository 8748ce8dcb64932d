//! Sends one event to this process's connections in a room. The payload is
//! encoded once. A connection whose buffer is full is cut off rather than
//! skipped: it leaves every broadcast group at once, so what it received
//! stays a gap-free prefix, and its transport is closed; its client
//! reconnects by itself, rejoins with `since` and catches up. Other
//! processes deliver to their own connections the same way.

use super::{Conn, events};
use crate::domain::{Entry, RoomName, UserId};
use crate::metrics::SLOW_CONSUMERS_CLOSED;
use serde::Serialize;
use serde_json::value::{RawValue, to_raw_value};
use socketioxide::adapter::Adapter;
use socketioxide::extract::SocketRef;
use socketioxide::socket::Sid;
use socketioxide::{SendError, SocketError, SocketIo};
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

/// Who in the room does not get the event.
#[derive(Debug, Clone, Copy)]
pub enum Skip {
    Nobody,
    /// The connection that caused it (a sender has its ack).
    Conn(Sid),
    /// Every connection of this user (a typist's own tabs).
    User(UserId),
}

impl Skip {
    fn skips<A: Adapter>(&self, socket: &SocketRef<A>) -> bool {
        match self {
            Self::Nobody => false,
            Self::Conn(sid) => socket.id == *sid,
            Self::User(user) => {
                socket.extensions.get::<Arc<Conn>>().is_some_and(|c| c.user == *user)
            }
        }
    }
}

/// Emits `event` to the room's connections on this process, except those
/// `skip` names; returns how many connections it reached.
pub fn deliver<A: Adapter, T: Serialize>(
    io: &SocketIo<A>,
    room: &RoomName,
    skip: Skip,
    event: &str,
    payload: &T,
) -> usize {
    let Some(encoded) = encode(event, payload) else {
        return 0;
    };
    io.to(room.to_string())
        .sockets()
        .into_iter()
        .filter(|socket| !skip.skips(socket))
        .filter(|socket| send(socket, event, &encoded))
        .count()
}

/// Delivers an entry of the room's log to the room's connections on this
/// process, except those `skip` names, each in the form its contract
/// version knows: version 1 connections get a new message's version 1
/// shape and no changes; version 2 connections get `message` and `change`.
/// Each form is encoded once. Returns how many connections it reached.
pub fn deliver_entry<A: Adapter>(
    io: &SocketIo<A>,
    room: &RoomName,
    skip: Skip,
    entry: &Entry,
) -> usize {
    let (v1, v2) = match entry {
        Entry::Message(message) => {
            let v1 = encode(events::MESSAGE, &message.v1());
            (
                v1.map(|e| (events::MESSAGE, e)),
                encode(events::MESSAGE, message).map(|e| (events::MESSAGE, e)),
            )
        }
        Entry::Change(change) => {
            (None, encode(events::CHANGE, change).map(|e| (events::CHANGE, e)))
        }
    };
    io.to(room.to_string())
        .sockets()
        .into_iter()
        .filter(|socket| !skip.skips(socket))
        .filter(|socket| {
            let v2_conn = socket.extensions.get::<Arc<Conn>>().is_some_and(|c| c.v2());
            match if v2_conn { &v2 } else { &v1 } {
                Some((event, encoded)) => send(socket, event, encoded),
                None => false,
            }
        })
        .count()
}

/// Encodes a payload once for many connections.
pub fn encode<T: Serialize>(event: &str, payload: &T) -> Option<Box<RawValue>> {
    match to_raw_value(payload) {
        Ok(encoded) => Some(encoded),
        Err(error) => {
            tracing::error!(%error, event, "cannot encode event");
            None
        }
    }
}

/// Emits to one connection; cuts it off if it is too slow. True if sent.
pub fn send<A: Adapter>(socket: &SocketRef<A>, event: &str, encoded: &RawValue) -> bool {
    match socket.emit(event, encoded) {
        Ok(()) => true,
        Err(SendError::Socket(SocketError::InternalChannelFull)) => {
            cut_off(socket.clone());
            false
        }
        Err(_) => false, // already closing: its disconnect handler cleans up
    }
}

/// Closes a too-slow connection at the transport (contract decision 2).
/// It first leaves every broadcast group, so what it received stays a
/// gap-free prefix; its client sees the transport drop, reconnects by
/// itself and re-joins with `since`.
fn cut_off<A: Adapter>(socket: SocketRef<A>) {
    tracing::warn!(sid = %socket.id, "connection too slow; closing its transport");
    SLOW_CONSUMERS_CLOSED.fetch_add(1, Relaxed);
    socket.leave_all();
    socket.close_transport();
}
