//! Sends one event to this process's connections in a room. The payload is
//! encoded once. A connection whose buffer is full is cut off rather than
//! skipped: it leaves every broadcast group at once, so what it received
//! stays a gap-free prefix, and its transport is closed; its client
//! reconnects by itself, rejoins with `since` and catches up. Other
//! processes deliver to their own connections the same way.

use super::groups::{self, Recipient};
use super::{Conn, events};
use crate::domain::{Entry, RoomName, UserId};
use crate::metrics::SLOW_CONSUMERS_CLOSED;
use serde::Serialize;
use serde_json::value::{RawValue, to_raw_value};
use socketioxide::adapter::Adapter;
use socketioxide::extract::SocketRef;
use socketioxide::socket::{EncodedEvent, Sid};
use socketioxide::{SendError, SocketError, SocketIo};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, OnceLock};

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
        // Only a user skip needs the connection's state.
        let conn =
            matches!(self, Self::User(_)).then(|| socket.extensions.get::<Arc<Conn>>()).flatten();
        self.skips_conn(socket.id, conn.as_deref())
    }

    /// The same, for a connection whose state was already looked up.
    fn skips_conn(&self, sid: Sid, conn: Option<&Conn>) -> bool {
        match self {
            Self::Nobody => false,
            Self::Conn(skipped) => sid == *skipped,
            Self::User(user) => conn.is_some_and(|c| c.user == *user),
        }
    }
}

/// Emits `event` to the room's connections on this process, except those
/// `skip` names; returns how many connections it reached.
pub fn deliver<A: Adapter, T: Serialize>(
    io: &SocketIo<A>,
    room: &RoomName,
    skip: Skip,
    event: &'static str,
    payload: &T,
) -> usize {
    let Some(encoded) = encode(event, payload) else {
        return 0;
    };
    io.to(room.to_string())
        .sockets()
        .into_iter()
        .filter(|socket| !skip.skips(socket))
        .filter(|socket| send(socket, &encoded))
        .count()
}

/// Delivers a run of a room's log entries, in order, to `recipients` (the
/// room's connections on this process), except those each entry's `Skip`
/// names, each entry in the form its contract version knows: version 1
/// connections get a new message's version 1 shape and no changes;
/// version 2 connections get `message` and `change`. Each form is encoded
/// once, into the entry's [`Forms`] (`forms[i]` for `entries[i]`), where
/// its sender's ack finds it afterwards. Each connection's writer is woken
/// once for the whole run, so a run costs little more than one entry. A
/// connection cut off as too slow gets nothing after the entry that
/// overflowed it. Returns how many deliveries it made.
pub fn deliver_entries<A: Adapter>(
    recipients: &[Recipient<A>],
    entries: &[(Skip, &Entry)],
    forms: &mut [Forms],
) -> usize {
    let mut reached = 0;
    for Recipient { socket, conn, sid, v2 } in recipients {
        for ((skip, entry), form) in entries.iter().zip(forms.iter_mut()) {
            if skip.skips_conn(*sid, conn.as_deref()) {
                continue;
            }
            let Some(encoded) = form.get(entry, *v2) else {
                continue;
            };
            if !send(socket, encoded) {
                break;
            }
            reached += 1;
        }
    }
    reached
}

/// An entry's event for each contract version, encoded the first time a
/// connection needs it, so a room of version 1 connections costs one
/// encoding per entry.
#[derive(Default)]
pub struct Forms {
    v1: Option<Option<Encoded>>,
    v2: Option<Option<Encoded>>,
}

impl Forms {
    /// The event for a connection of that version, or `None` when it gets
    /// nothing (a change, for version 1).
    fn get(&mut self, entry: &Entry, v2: bool) -> Option<&Encoded> {
        let form = match (entry, v2) {
            (Entry::Message(m), false) => {
                self.v1.get_or_insert_with(|| encode(events::MESSAGE, &m.v1()))
            }
            (Entry::Message(m), true) => self.v2.get_or_insert_with(|| encode(events::MESSAGE, m)),
            (Entry::Change(_), false) => return None,
            (Entry::Change(c), true) => self.v2.get_or_insert_with(|| encode(events::CHANGE, c)),
        };
        form.as_ref()
    }

    /// The payloads encoded, for the entry's ack.
    pub fn encodings(&self) -> Encodings {
        let payload = |form: &Option<Option<Encoded>>| {
            form.as_ref().and_then(Option::as_ref).map(|e| Arc::clone(&e.payload))
        };
        Encodings { v1: payload(&self.v1), v2: payload(&self.v2) }
    }
}

/// An entry's event payload as delivered to each contract version, where
/// some connection needed it: its sender's ack carries the same bytes.
#[derive(Debug, Default)]
pub struct Encodings {
    pub v1: Option<Arc<RawValue>>,
    pub v2: Option<Arc<RawValue>>,
}

/// An event encoded once for many connections: its payload as JSON, and
/// the whole Socket.IO packet, built for the first connection sent it and
/// shared (not copied) by the rest.
pub struct Encoded {
    event: &'static str,
    payload: Arc<RawValue>,
    packet: OnceLock<Option<EncodedEvent>>,
}

/// Encodes a payload once for many connections.
pub fn encode<T: Serialize>(event: &'static str, payload: &T) -> Option<Encoded> {
    match to_raw_value(payload) {
        Ok(payload) => Some(Encoded { event, payload: payload.into(), packet: OnceLock::new() }),
        Err(error) => {
            tracing::error!(%error, event, "cannot encode event");
            None
        }
    }
}

/// Emits to one connection; cuts it off if it is too slow. True if sent.
pub fn send<A: Adapter>(socket: &SocketRef<A>, encoded: &Encoded) -> bool {
    let packet =
        encoded.packet.get_or_init(|| socket.encode_event(encoded.event, &encoded.payload).ok());
    let sent = match packet {
        Some(packet) => socket.emit_encoded(packet),
        None => socket.emit(encoded.event, &encoded.payload),
    };
    match sent {
        Ok(()) => true,
        // Every connection is on one namespace; should another ever send
        // this, it gets the event encoded for itself.
        Err(SendError::OtherNamespace) => socket.emit(encoded.event, &encoded.payload).is_ok(),
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
    groups::leave_all(&socket);
    socket.close_transport();
}
