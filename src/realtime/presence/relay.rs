//! Delivers presence changes to this process's connections. Changes are
//! gathered for a short window and each connection gets, in one event, the
//! net effect of the changes it has not seen: those with a version above
//! its join (its ack listed the rest) and above what it was already sent.
//! So a connection never hears of its own join, nor of a user its ack
//! listed, on one process or many (decision 1 of the contract).

use super::Change;
use crate::domain::{RoomName, User, UserId};
use crate::realtime::{Conn, events, fanout};
use serde::Serialize;
use socketioxide::SocketIo;
use socketioxide::adapter::Adapter;
use socketioxide::extract::SocketRef;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// How long changes gather before one `presence` event carries them all.
pub const BATCH_WINDOW: Duration = Duration::from_millis(50);

/// How long delivered changes are kept for connections still joining: a
/// join's version may be older than changes the relay has already sent.
const KEEP: Duration = Duration::from_secs(10);
const KEEP_MAX: usize = 10_000;

/// Shortest time between two `counts` events: the sidebar trails a room's
/// `presence` by at most this, and many rooms changing at once cost each
/// subscriber four events a second.
pub const COUNTS_INTERVAL: Duration = Duration::from_millis(250);

/// The broadcast group of the connections subscribed to `counts`. Room
/// names cannot hold control characters, so no room's group has this name.
pub const COUNTS_GROUP: &str = "\u{1}counts";

/// `counts`: public rooms whose number of users changed, with it now.
#[derive(Debug, Serialize)]
struct Counts<'a> {
    rooms: Vec<RoomCount<'a>>,
}

#[derive(Debug, Serialize)]
struct RoomCount<'a> {
    room: &'a RoomName,
    count: usize,
}

/// A room's net change as one connection sees it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Net {
    pub room: RoomName,
    pub joined: Vec<User>,
    pub left: Vec<User>,
    pub count: usize,
}

/// The net effect of the changes with a version above `after`, or `None`
/// when they cancel out (or there are none). `changes` is in version order.
pub fn net(room: &RoomName, changes: &[Change], after: u64) -> Option<Net> {
    let mut touched: Vec<(UserId, bool, &Change)> = Vec::new();
    let mut index: HashMap<UserId, usize> = HashMap::new();
    let mut count = None;
    for change in changes.iter().filter(|c| c.ver > after) {
        count = Some(change.count);
        match index.get(&change.user.id) {
            Some(&i) => touched[i].2 = change,
            None => {
                index.insert(change.user.id, touched.len());
                // Before its first change a joiner was absent, a leaver present.
                touched.push((change.user.id, !change.joined, change));
            }
        }
    }
    let (mut joined, mut left) = (Vec::new(), Vec::new());
    for (_, was_present, last) in touched {
        match (was_present, last.joined) {
            (false, true) => joined.push(last.user.clone()),
            (true, false) => left.push(last.user.clone()),
            _ => {}
        }
    }
    if joined.is_empty() && left.is_empty() {
        return None;
    }
    Some(Net { room: room.clone(), joined, left, count: count.unwrap_or_default() })
}

/// Asks the relay to send a just-joined connection what it missed between
/// its join's version and the changes the relay had already sent.
pub struct Replay<A: Adapter> {
    pub socket: SocketRef<A>,
    pub room: RoomName,
}

pub type ReplaySender<A> = mpsc::UnboundedSender<Replay<A>>;

struct Relay<A: Adapter> {
    io: SocketIo<A>,
    pending: HashMap<RoomName, Vec<Change>>,
    sent: HashMap<RoomName, VecDeque<(Instant, Change)>>,
    /// Public rooms' counts changed since the last `counts` event.
    counts: HashMap<RoomName, usize>,
    /// When the last `counts` event went out.
    counts_sent: Instant,
}

pub fn spawn<A: Adapter>(
    io: SocketIo<A>,
    mut changes: mpsc::UnboundedReceiver<Change>,
    mut replays: mpsc::UnboundedReceiver<Replay<A>>,
) {
    let mut relay = Relay {
        io,
        pending: HashMap::new(),
        sent: HashMap::new(),
        counts: HashMap::new(),
        counts_sent: Instant::now(),
    };
    tokio::spawn(async move {
        let mut deadline: Option<Instant> = None;
        let mut counts_at: Option<Instant> = None;
        loop {
            let flush_at = deadline.unwrap_or_else(Instant::now);
            let send_counts_at = counts_at.unwrap_or_else(Instant::now);
            tokio::select! {
                change = changes.recv() => {
                    let Some(change) = change else { break };
                    relay.pending.entry(change.room.clone()).or_default().push(change);
                    deadline.get_or_insert_with(|| Instant::now() + BATCH_WINDOW);
                }
                replay = replays.recv() => {
                    let Some(replay) = replay else { break };
                    relay.replay(&replay.socket, &replay.room);
                }
                () = tokio::time::sleep_until(flush_at), if deadline.is_some() => {
                    deadline = None;
                    relay.flush();
                    if !relay.counts.is_empty() {
                        counts_at.get_or_insert(relay.counts_sent + COUNTS_INTERVAL);
                    }
                }
                () = tokio::time::sleep_until(send_counts_at), if counts_at.is_some() => {
                    counts_at = None;
                    relay.send_counts();
                }
            }
        }
    });
}

impl<A: Adapter> Relay<A> {
    fn flush(&mut self) {
        let now = Instant::now();
        for (room, mut changes) in std::mem::take(&mut self.pending) {
            changes.sort_by_key(|c| c.ver);
            self.deliver(&room, &changes);
            if let Some(last) = changes.last().filter(|_| !room.is_direct()) {
                self.counts.insert(room.clone(), last.count);
            }
            let kept = self.sent.entry(room).or_default();
            kept.extend(changes.into_iter().map(|c| (now, c)));
        }
        self.sent.retain(|_, kept| {
            while kept.front().is_some_and(|(at, _)| now - *at > KEEP) || kept.len() > KEEP_MAX {
                kept.pop_front();
            }
            !kept.is_empty()
        });
    }

    /// Sends each connection in the room the changes it has not seen. The
    /// payload is encoded once per distinct starting point.
    fn deliver(&self, room: &RoomName, changes: &[Change]) {
        let Some(newest) = changes.last().map(|c| c.ver) else {
            return;
        };
        let mut encoded: HashMap<u64, Option<fanout::Encoded>> = HashMap::new();
        for socket in self.io.to(room.to_string()).sockets() {
            let Some(conn) = socket.extensions.get::<Arc<Conn>>() else {
                continue;
            };
            let Some(seen) = conn.seen(room) else {
                continue;
            };
            let payload = encoded.entry(seen).or_insert_with(|| {
                net(room, changes, seen).and_then(|n| fanout::encode(events::PRESENCE, &n))
            });
            if let Some(payload) = payload {
                fanout::send(&socket, payload);
            }
            conn.advance(room, newest);
        }
    }

    /// Sends the subscribers, in one event encoded once, every public
    /// room whose count changed since the last one.
    fn send_counts(&mut self) {
        self.counts_sent = Instant::now();
        let changed = std::mem::take(&mut self.counts);
        let mut rooms: Vec<RoomCount<'_>> =
            changed.iter().map(|(room, &count)| RoomCount { room, count }).collect();
        rooms.sort_by(|a, b| a.room.cmp(b.room));
        let Some(payload) = fanout::encode(events::COUNTS, &Counts { rooms }) else {
            return;
        };
        for socket in self.io.to(COUNTS_GROUP).sockets() {
            fanout::send(&socket, &payload);
        }
    }

    fn replay(&self, socket: &SocketRef<A>, room: &RoomName) {
        let (Some(kept), Some(conn)) = (self.sent.get(room), socket.extensions.get::<Arc<Conn>>())
        else {
            return;
        };
        let Some(seen) = conn.seen(room) else {
            return;
        };
        // Kept changes are in version order; usually none is above `seen`.
        let start = kept.partition_point(|(_, c)| c.ver <= seen);
        let missed: Vec<Change> = kept.range(start..).map(|(_, c)| c.clone()).collect();
        let Some(newest) = missed.last().map(|c| c.ver) else {
            return;
        };
        if let Some(payload) =
            net(room, &missed, seen).and_then(|n| fanout::encode(events::PRESENCE, &n))
        {
            fanout::send(socket, &payload);
        }
        conn.advance(room, newest);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::DisplayName;

    fn user(name: &str) -> User {
        User { id: UserId::random(), name: DisplayName::parse(name).expect("name") }
    }

    fn change(room: &RoomName, ver: u64, user: &User, joined: bool, count: usize) -> Change {
        Change { room: room.clone(), ver, user: user.clone(), joined, count }
    }

    #[test]
    fn a_connection_hears_only_the_changes_after_its_own_join() {
        let room = RoomName::parse("r").expect("room");
        let (asha, ben) = (user("Asha"), user("Ben"));
        let changes = [change(&room, 5, &asha, true, 1), change(&room, 6, &ben, true, 2)];
        let for_asha = net(&room, &changes, 5).expect("Ben's join");
        assert_eq!((for_asha.joined, for_asha.count), (vec![ben.clone()], 2));
        assert_eq!(net(&room, &changes, 6), None, "Ben hears nothing of himself");
        assert_eq!(net(&room, &changes, 4).map(|n| n.joined.len()), Some(2));
    }

    #[test]
    fn a_join_and_leave_inside_one_window_cancel_out() {
        let room = RoomName::parse("r").expect("room");
        let asha = user("Asha");
        let changes = [change(&room, 1, &asha, true, 1), change(&room, 2, &asha, false, 0)];
        assert_eq!(net(&room, &changes, 0), None);
    }

    #[test]
    fn a_leave_and_return_inside_one_window_cancel_out() {
        let room = RoomName::parse("r").expect("room");
        let asha = user("Asha");
        let changes = [change(&room, 1, &asha, false, 0), change(&room, 2, &asha, true, 1)];
        assert_eq!(net(&room, &changes, 0), None);
    }
}
