//! Sends one event to every connection in a room. The payload is encoded
//! once. A connection whose buffer is full is cut off rather than skipped:
//! it leaves every broadcast group at once, so what it received stays a
//! gap-free prefix, and is disconnected as soon as its buffer has room for
//! the disconnect packet; it then rejoins with `since` and catches up.

use crate::domain::RoomName;
use serde::Serialize;
use serde_json::value::{RawValue, to_raw_value};
use socketioxide::adapter::Adapter;
use socketioxide::extract::SocketRef;
use socketioxide::socket::Sid;
use socketioxide::{SendError, SocketError, SocketIo};
use std::time::Duration;

/// How often to retry disconnecting a connection that is too slow.
const DISCONNECT_RETRY: Duration = Duration::from_millis(20);

/// Emits `event` to the room's connections except those in `skip`; returns
/// how many connections it reached.
pub fn deliver<A: Adapter, T: Serialize>(
    io: &SocketIo<A>,
    room: &RoomName,
    skip: &[Sid],
    event: &str,
    payload: &T,
) -> usize {
    let encoded: Box<RawValue> = match to_raw_value(payload) {
        Ok(encoded) => encoded,
        Err(error) => {
            tracing::error!(%error, event, "cannot encode event");
            return 0;
        }
    };
    let mut reached = 0;
    for socket in io.to(room.to_string()).sockets() {
        if skip.contains(&socket.id) {
            continue;
        }
        match socket.emit(event, &encoded) {
            Ok(()) => reached += 1,
            Err(SendError::Socket(SocketError::InternalChannelFull)) => cut_off(socket),
            Err(_) => {} // already closing: its disconnect handler cleans up
        }
    }
    reached
}

fn cut_off<A: Adapter>(socket: SocketRef<A>) {
    tracing::warn!(sid = %socket.id, "connection too slow; disconnecting it");
    socket.leave_all();
    tokio::spawn(async move {
        while socket.connected() {
            match socket.clone().disconnect() {
                Err(SocketError::InternalChannelFull) => tokio::time::sleep(DISCONNECT_RETRY).await,
                _ => break,
            }
        }
    });
}
