//! What the server remembers about one connection, kept small because a
//! server holds many idle ones.

use super::Refusal;
use super::limits::{Limits, Rate, TokenBucket, UserAllowance};
use crate::domain::{RoomName, UserId};
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

pub struct Conn {
    pub user: UserId,
    /// The contract version the client asked for at connect (1 or 2).
    pub protocol: u8,
    rooms: Mutex<Rooms>,
    /// Messages this connection may send (`None`: no limit). The buckets
    /// are boxed: inline, three of them made every `Conn` ~150 B larger
    /// whether the limits were on or not.
    messages: Option<Box<Mutex<TokenBucket>>>,
    /// Joins this connection may make (`None`: no limit).
    joins: Option<Box<Mutex<TokenBucket>>>,
    /// Searches this connection may make (`None`: no limit).
    searches: Option<Box<Mutex<TokenBucket>>>,
    /// The user's allowance, shared with its other connections (boxed
    /// like the buckets: 32 B inline).
    allowance: Option<Box<UserAllowance>>,
    max_rooms: Option<usize>,
    typing_starts: Option<Rate>,
}

#[derive(Default)]
struct Rooms {
    joined: Vec<Joined>,
    /// Joins of new rooms under way, counted against the room limit so
    /// that joins racing each other cannot pass it: public rooms, then
    /// direct ones.
    entering: [usize; 2],
}

impl Rooms {
    /// Rooms of `room`'s kind (public or direct) joined or being joined.
    fn of_kind(&self, room: &RoomName) -> usize {
        let joined = self.joined.iter().filter(|j| j.room.is_direct() == room.is_direct()).count();
        joined + self.entering[kind(room)]
    }
}

/// Public rooms and direct rooms count against the room limit apart: a
/// client joins each of its conversations to count unread messages, and
/// that must not crowd out the public rooms its user is in.
fn kind(room: &RoomName) -> usize {
    usize::from(room.is_direct())
}

/// A room this connection has joined (usually one or two).
struct Joined {
    room: RoomName,
    /// The newest presence version it knows of (see `presence::relay`).
    seen: u64,
    /// Starts of typing this connection may make here (made on its first).
    typing_starts: Option<TokenBucket>,
}

/// A place held for a room being joined; given back when dropped, by then
/// either taken by [`Conn::enter`] or no longer needed.
pub struct Entering<'a> {
    conn: &'a Conn,
    /// The kind of room whose place it holds, if it holds one.
    counted: Option<usize>,
}

impl Conn {
    pub fn new(user: UserId, protocol: u8, limits: &Limits) -> Self {
        let now = Instant::now();
        let bucket = |rate| Box::new(Mutex::new(TokenBucket::new(rate, now)));
        Self {
            user,
            protocol,
            rooms: Mutex::default(),
            messages: limits.messages.map(bucket),
            joins: limits.joins.map(bucket),
            searches: limits.searches.map(bucket),
            allowance: limits.allowance(user).map(Box::new),
            max_rooms: limits.max_rooms,
            typing_starts: limits.typing_starts,
        }
    }

    /// Whether the client speaks version 2 (edits, deletes, reactions).
    pub fn v2(&self) -> bool {
        self.protocol >= 2
    }

    pub fn is_in(&self, room: &RoomName) -> bool {
        lock(&self.rooms).joined.iter().any(|j| j.room == *room)
    }

    /// The public rooms this connection is in.
    pub fn public_rooms(&self) -> Vec<RoomName> {
        let rooms = lock(&self.rooms);
        rooms.joined.iter().filter(|j| !j.room.is_direct()).map(|j| j.room.clone()).collect()
    }

    /// Checks the room and join limits before a join of `room`: a room
    /// already joined needs no new place, but every join spends one of the
    /// joins allowed. Public and direct rooms each have `max_rooms` places.
    pub fn start_entering(&self, room: &RoomName) -> Result<Entering<'_>, Refusal> {
        let mut rooms = lock(&self.rooms);
        let counted = !rooms.joined.iter().any(|j| j.room == *room);
        if let Some(max) = self.max_rooms.filter(|_| counted) {
            if rooms.of_kind(room) >= max {
                return Err(Refusal::TooManyRooms { max });
            }
        }
        if let Some(joins) = &self.joins {
            lock(joins)
                .spend(Instant::now())
                .map_err(|retry_after_ms| Refusal::JoinsLimited { retry_after_ms })?;
        }
        let counted = counted.then(|| kind(room));
        if let Some(kind) = counted {
            rooms.entering[kind] += 1;
        }
        Ok(Entering { conn: self, counted })
    }

    /// Records the room and the presence version its join ack reflects;
    /// false if the connection was already in it.
    pub fn enter(&self, room: &RoomName, seen: u64) -> bool {
        let mut rooms = lock(&self.rooms);
        if let Some(entry) = rooms.joined.iter_mut().find(|j| j.room == *room) {
            entry.seen = entry.seen.max(seen);
            return false;
        }
        // A `Joined` is ~80 B.
        super::push_lean(
            &mut rooms.joined,
            Joined { room: room.clone(), seen, typing_starts: None },
        );
        true
    }

    /// Forgets the room; false if the connection was not in it.
    pub fn exit(&self, room: &RoomName) -> bool {
        let mut rooms = lock(&self.rooms);
        let before = rooms.joined.len();
        rooms.joined.retain(|j| j.room != *room);
        rooms.joined.len() != before
    }

    pub fn take_rooms(&self) -> Vec<RoomName> {
        std::mem::take(&mut lock(&self.rooms).joined).into_iter().map(|j| j.room).collect()
    }

    /// The newest presence version this connection knows of in `room`.
    pub fn seen(&self, room: &RoomName) -> Option<u64> {
        lock(&self.rooms).joined.iter().find(|j| j.room == *room).map(|j| j.seen)
    }

    /// Notes that the connection was told of changes up to `ver`.
    pub fn advance(&self, room: &RoomName, ver: u64) {
        if let Some(entry) = lock(&self.rooms).joined.iter_mut().find(|j| j.room == *room) {
            entry.seen = entry.seen.max(ver);
        }
    }

    /// Whether this connection may start typing in `room` now: a few times
    /// in a row, then once per typing interval, so toggling typing on and
    /// off in a loop reaches the others about once a second, not thousands
    /// of times.
    pub fn may_start_typing(&self, room: &RoomName, now: Instant) -> bool {
        let mut rooms = lock(&self.rooms);
        let Some(entry) = rooms.joined.iter_mut().find(|j| j.room == *room) else {
            return false;
        };
        let Some(rate) = self.typing_starts else {
            return true;
        };
        entry.typing_starts.get_or_insert_with(|| TokenBucket::new(rate, now)).spend(now).is_ok()
    }

    /// Spends one search, or says how long to wait.
    pub fn spend_search(&self) -> Result<(), u64> {
        match &self.searches {
            Some(searches) => lock(searches).spend(Instant::now()),
            None => Ok(()),
        }
    }

    /// Spends one message from this connection's and its user's limits,
    /// or says how long to wait. A message refused by either uses neither.
    pub fn spend_message(&self) -> Result<(), u64> {
        let now = Instant::now();
        if let Some(messages) = &self.messages {
            lock(messages).spend(now)?;
        }
        if let Some(allowance) = &self.allowance {
            if let Err(wait) = allowance.spend(now) {
                if let Some(messages) = &self.messages {
                    lock(messages).refund();
                }
                return Err(wait);
            }
        }
        Ok(())
    }
}

impl Drop for Entering<'_> {
    fn drop(&mut self) {
        if let Some(kind) = self.counted {
            lock(&self.conn.rooms).entering[kind] -= 1;
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use clap::Parser;
    use std::time::Duration;

    fn conn(flags: &[&str]) -> Conn {
        let config = Config::parse_from(["baat-chit"].iter().chain(flags));
        Conn::new(UserId::random(), 1, &Limits::new(&config))
    }

    fn room(name: &str) -> RoomName {
        RoomName::parse(name).expect("a valid room")
    }

    /// Joins `name` as the join handler does.
    fn join(conn: &Conn, name: &str) -> Result<(), Refusal> {
        let entering = conn.start_entering(&room(name))?;
        conn.enter(&room(name), 0);
        drop(entering);
        Ok(())
    }

    #[test]
    fn a_connection_at_its_room_limit_may_rejoin_but_not_join_another() {
        let conn = conn(&["--max-rooms-per-connection=2"]);
        assert!(join(&conn, "a").is_ok() && join(&conn, "b").is_ok());
        assert!(matches!(join(&conn, "c"), Err(Refusal::TooManyRooms { max: 2 })));
        assert!(join(&conn, "A").is_ok(), "a room already joined");
        conn.exit(&room("a"));
        assert!(join(&conn, "c").is_ok(), "leaving makes room");
    }

    #[test]
    fn direct_rooms_have_places_of_their_own() {
        let conn = conn(&["--max-rooms-per-connection=1", "--join-rate-limit=0"]);
        let direct = format!("@{}", "ab".repeat(12));
        assert!(join(&conn, "a").is_ok() && join(&conn, &direct).is_ok());
        let another = format!("@{}", "cd".repeat(12));
        assert!(matches!(join(&conn, &another), Err(Refusal::TooManyRooms { max: 1 })));
        assert!(matches!(join(&conn, "b"), Err(Refusal::TooManyRooms { max: 1 })));
        assert_eq!(conn.public_rooms(), [room("a")]);
    }

    #[test]
    fn joins_under_way_count_against_the_room_limit() {
        let conn = conn(&["--max-rooms-per-connection=2"]);
        let first = conn.start_entering(&room("a"));
        let second = conn.start_entering(&room("b"));
        assert!(first.is_ok() && second.is_ok());
        assert!(matches!(conn.start_entering(&room("c")), Err(Refusal::TooManyRooms { .. })));
        drop(second);
        assert!(conn.start_entering(&room("c")).is_ok(), "a join that failed gives its place back");
    }

    #[test]
    fn joins_over_the_rate_are_refused_with_a_wait() {
        let conn = conn(&["--join-rate-limit=3"]);
        assert!(["a", "b", "a"].iter().all(|r| join(&conn, r).is_ok()));
        let refused = join(&conn, "c");
        assert!(matches!(refused, Err(Refusal::JoinsLimited { retry_after_ms: 19_000..=20_000 })));
    }

    #[test]
    fn with_no_limits_a_connection_joins_as_often_as_it_likes() {
        let conn = conn(&["--join-rate-limit=0", "--max-rooms-per-connection=0"]);
        assert!((0..500).all(|i| join(&conn, &format!("room {i}")).is_ok()));
    }

    #[test]
    fn typing_starts_three_times_in_a_row_then_once_per_interval_per_room() {
        let conn = conn(&[]);
        let (a, b, now) = (room("a"), room("b"), Instant::now());
        conn.enter(&a, 0);
        conn.enter(&b, 0);
        assert!((0..3).all(|_| conn.may_start_typing(&a, now)));
        assert!(!conn.may_start_typing(&a, now + Duration::from_millis(999)));
        assert!(conn.may_start_typing(&b, now), "another room has its own allowance");
        assert!(conn.may_start_typing(&a, now + Duration::from_secs(1)));
        assert!(!conn.may_start_typing(&room("c"), now), "not in that room");
    }

    #[test]
    fn with_no_typing_interval_typing_starts_as_often_as_it_likes() {
        let conn = conn(&["--typing-interval-ms=0"]);
        conn.enter(&room("a"), 0);
        assert!((0..100).all(|_| conn.may_start_typing(&room("a"), Instant::now())));
    }

    #[test]
    fn a_message_refused_by_the_users_limit_uses_none_of_the_connections() {
        let conn = conn(&["--rate-limit=1", "--user-rate-limit=1"]);
        let user = conn.allowance.as_ref().expect("limited");
        user.spend(Instant::now()).ok();
        assert!(conn.spend_message().is_ok(), "one left for the user");
        assert!(conn.spend_message().is_err(), "the user has none left");
        user.refund();
        assert!(conn.spend_message().is_ok(), "the connection's token was given back");
    }
}
