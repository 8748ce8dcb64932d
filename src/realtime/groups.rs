//! Joining and leaving broadcast groups, all through here, so the room
//! stream can keep each room's recipients instead of finding them again for
//! every delivery.
//!
//! socketioxide finds a room's connections by the room's name, then each
//! connection by its id, and the stream then reads each one's state from
//! its extensions: per delivery, two hash lookups and a lock (4.5% of the
//! server's samples in bench S2, where every message goes to 10). Every
//! change to who is in which group made here moves [`epoch`], and
//! [`Recipients`] keeps a room's list only while the epoch stays the same.
//! The one change not made here is a disconnect: socketioxide takes the
//! connection out of its groups itself. A list that still holds it is
//! harmless (socketioxide sends nothing to a socket that is not
//! `connected()`), but it keeps the socket alive, and with it the address's
//! place in `http::per_ip`; so the disconnect handler calls [`changed`]
//! and has the stream [`Recipients::refresh`] at once. `clippy.toml`
//! refuses socketioxide's own join and leave anywhere else.

use super::Conn;
use crate::domain::RoomName;
use socketioxide::SocketIo;
use socketioxide::adapter::Adapter;
use socketioxide::extract::SocketRef;
use socketioxide::socket::Sid;
use socketioxide_core::adapter::RoomParam;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::{Acquire, Release};

/// Moves whenever a connection joins or leaves a group, or disconnects.
/// Shared by every server in the process (tests run several): another
/// server's changes only cost this one a fresh lookup.
static EPOCH: AtomicU64 = AtomicU64::new(0);

/// The current epoch of group membership.
pub fn epoch() -> u64 {
    EPOCH.load(Acquire)
}

/// Says that membership changed outside this module (a disconnect).
pub fn changed() {
    // After the change itself, so whoever reads the new epoch sees it.
    EPOCH.fetch_add(1, Release);
}

#[allow(clippy::disallowed_methods)] // the one door
pub fn join<A: Adapter>(socket: &SocketRef<A>, groups: impl RoomParam) {
    socket.join(groups);
    changed();
}

#[allow(clippy::disallowed_methods)] // the one door
pub fn leave<A: Adapter>(socket: &SocketRef<A>, groups: impl RoomParam) {
    socket.leave(groups);
    changed();
}

#[allow(clippy::disallowed_methods)] // the one door
pub fn leave_all<A: Adapter>(socket: &SocketRef<A>) {
    socket.leave_all();
    changed();
}

/// A connection in a room, with its state looked up once. What every
/// delivery reads is copied here, so a fan-out does not reach into each
/// connection's state for it (`Conn::v2` was 0.8% of bench S2's samples,
/// nearly all of it waiting for memory).
pub struct Recipient<A: Adapter> {
    pub socket: SocketRef<A>,
    pub conn: Option<Arc<Conn>>,
    pub sid: Sid,
    pub v2: bool,
}

/// Each room's connections on this process, as of one [`epoch`].
pub struct Recipients<A: Adapter> {
    epoch: u64,
    rooms: HashMap<RoomName, Vec<Recipient<A>>>,
}

impl<A: Adapter> Default for Recipients<A> {
    fn default() -> Self {
        Self { epoch: epoch(), rooms: HashMap::new() }
    }
}

impl<A: Adapter> Recipients<A> {
    /// The room's connections on this process now: the kept list if no
    /// group changed since it was made, else a fresh one.
    pub fn of(&mut self, io: &SocketIo<A>, room: &RoomName) -> &[Recipient<A>] {
        self.refresh();
        if !self.rooms.contains_key(room) {
            self.rooms.insert(room.clone(), lookup(io, room));
        }
        self.rooms.get(room).map(Vec::as_slice).unwrap_or_default()
    }

    /// Drops every kept list if a group changed since they were made.
    pub fn refresh(&mut self) {
        // Read before the groups are, so a change made while a list is
        // made moves the epoch past the one it is kept under.
        let now = epoch();
        if now != self.epoch {
            self.rooms.clear();
            self.epoch = now;
        }
    }
}

fn lookup<A: Adapter>(io: &SocketIo<A>, room: &RoomName) -> Vec<Recipient<A>> {
    io.to(room.to_string())
        .sockets()
        .into_iter()
        // One disconnecting is out of its groups as soon as its handler
        // (which moves the epoch) is done; it is not kept meanwhile.
        .filter(|socket| socket.connected())
        .map(|socket| {
            let conn = socket.extensions.get::<Arc<Conn>>();
            let v2 = conn.as_ref().is_some_and(|c| c.v2());
            Recipient { sid: socket.id, v2, socket, conn }
        })
        .collect()
}
