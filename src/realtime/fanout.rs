//! Sends one event to every connection in a room. The payload is encoded
//! once; a connection whose buffer is full is disconnected rather than
//! skipped, so it reconnects and catches up with `since` instead of
//! silently missing a message.

use crate::domain::RoomName;
use crate::metrics::Metrics;
use serde::Serialize;
use serde_json::value::{RawValue, to_raw_value};
use socketioxide::adapter::Adapter;
use socketioxide::socket::Sid;
use socketioxide::{SendError, SocketError, SocketIo};
use std::sync::atomic::Ordering::Relaxed;

/// Emits `event` to the room's connections except `skip`; returns how many
/// connections it reached.
pub fn deliver<A: Adapter, T: Serialize>(
    io: &SocketIo<A>,
    metrics: &Metrics,
    room: &RoomName,
    skip: Option<Sid>,
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
        if Some(socket.id) == skip {
            continue;
        }
        match socket.emit(event, &encoded) {
            Ok(()) => reached += 1,
            Err(SendError::Socket(SocketError::InternalChannelFull)) => {
                tracing::warn!(sid = %socket.id, "connection too slow; disconnecting it");
                let _ = socket.disconnect();
            }
            Err(_) => {} // already closing: its disconnect handler cleans up
        }
    }
    if event == "message" {
        metrics.deliveries.fetch_add(reached as u64, Relaxed);
    }
    reached
}
