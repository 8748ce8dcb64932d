//! Read markers (contract version 2): `read` moves the user's marker in a
//! room this connection has joined, `reads` lists the user's markers, and
//! the `read` event tells the user's other version 2 connections, on
//! every process, when a marker moved, so reading in one tab clears the
//! unread count in the others.

use super::join::conn_of;
use super::payload::{self, ReadRequest, RoomsRequest};
use super::refusal::reply;
use super::{Hub, Refusal, direct, events, fanout};
use crate::domain::{RoomName, UserId};
use crate::store::ReadMarker;
use serde::Serialize;
use socketioxide::adapter::Adapter;
use socketioxide::extract::{AckSender, SocketRef, State, TryData};
use socketioxide::socket::Sid;
use socketioxide::{ParserError, SocketIo};

/// Most markers `reads` lists (the most recently moved).
pub const MAX_READS: u32 = 500;

#[derive(Serialize)]
struct Reads {
    reads: Vec<ReadMarker>,
}

pub async fn on_read<A: Adapter>(
    s: SocketRef<A>,
    io: SocketIo<A>,
    State(hub): State<Hub<A>>,
    TryData(raw): TryData<serde_json::Value>,
    ack: AckSender<A>,
) {
    let result = read(&s, &io, &hub, raw).await;
    reply(ack, &hub.metrics, &result);
}

async fn read<A: Adapter>(
    s: &SocketRef<A>,
    io: &SocketIo<A>,
    hub: &Hub<A>,
    raw: Result<serde_json::Value, ParserError>,
) -> Result<ReadMarker, Refusal> {
    let conn = conn_of(s)?;
    if !conn.v2() {
        return Err(Refusal::Unsupported);
    }
    let request: ReadRequest = payload::parse(raw, "{ room, seq }")?;
    let room = RoomName::parse(&request.room)?;
    if !conn.is_in(&room) {
        return Err(Refusal::outside(&room));
    }
    let marked = hub.store.mark_read(conn.user, &room, payload::seq(request.seq)).await?;
    if marked.moved {
        deliver(io, conn.user, &marked.marker, Some(s.id));
        hub.peers.read(conn.user, &marked.marker);
    }
    Ok(marked.marker)
}

/// `reads` takes `{}`; a bare `emit("reads", ack)` is accepted too.
pub async fn on_reads<A: Adapter>(
    s: SocketRef<A>,
    State(hub): State<Hub<A>>,
    TryData(raw): TryData<serde_json::Value>,
    ack: AckSender<A>,
) {
    let raw = raw.or_else(|_| Ok(serde_json::json!({})));
    let result = reads(&s, &hub, raw).await;
    reply(ack, &hub.metrics, &result);
}

async fn reads<A: Adapter>(
    s: &SocketRef<A>,
    hub: &Hub<A>,
    raw: Result<serde_json::Value, ParserError>,
) -> Result<Reads, Refusal> {
    let conn = conn_of(s)?;
    if !conn.v2() {
        return Err(Refusal::Unsupported);
    }
    payload::parse::<RoomsRequest>(raw, "{}")?;
    Ok(Reads { reads: hub.store.read_markers(conn.user, MAX_READS).await? })
}

/// Sends `marker` to `user`'s version 2 connections on this process,
/// except the one that moved it.
pub fn deliver<A: Adapter>(io: &SocketIo<A>, user: UserId, marker: &ReadMarker, skip: Option<Sid>) {
    let Some(encoded) = fanout::encode(events::READ, marker) else {
        return;
    };
    for socket in io.to(direct::user_group(user)).sockets() {
        if Some(socket.id) != skip {
            fanout::send(&socket, &encoded);
        }
    }
}
