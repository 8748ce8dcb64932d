//! Who is in which room. A user counts once however many connections it
//! has; changes are batched per room into one `presence` update per window,
//! and a dropped connection keeps its user present for a grace period.

use crate::domain::{DisplayName, RoomName, User, UserId};
use socketioxide::socket::Sid;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// How long changes gather before one `presence` event carries them all.
pub const BATCH_WINDOW: Duration = Duration::from_millis(50);

/// One room's net change over a batch window.
#[derive(Debug, Clone, PartialEq)]
pub struct PresenceUpdate {
    pub room: RoomName,
    pub joined: Vec<User>,
    pub left: Vec<User>,
    pub count: usize,
    /// Connections that joined in this window with no net change after
    /// their join: their join ack already told them everything.
    pub skip: Vec<Sid>,
}

/// Where finished batches go (the socket layer broadcasts them).
pub type Sink = Arc<dyn Fn(PresenceUpdate) + Send + Sync>;

/// How a connection leaves a room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Departure {
    /// `leave`, or the client disconnected on purpose.
    Now,
    /// The connection dropped: wait for the grace period first.
    AfterGrace,
}

/// The user's name is taken in that room by someone else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NameTaken;

/// A room as its members see it.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub users: Vec<User>,
    pub count: usize,
}

struct Member {
    name: DisplayName,
    sids: Vec<Sid>,
    /// Bumped on every drop so a stale grace timer knows it lost the race.
    generation: u64,
}

#[derive(Default)]
struct RoomState {
    members: HashMap<UserId, Member>,
    /// Members' case-folded names, so a join checks uniqueness in O(1)
    /// rather than folding every name in the room.
    names: HashSet<String>,
    batch: Option<Batch>,
}

/// Changes gathered during one window.
#[derive(Default)]
struct Batch {
    /// Each touched user's presence when the window opened, and the number
    /// of its latest change.
    touched: HashMap<UserId, (Option<User>, u64)>,
    /// Connections that joined in the window, with their change number.
    joiners: Vec<(Sid, u64)>,
    changes: u64,
}

pub struct Presence {
    rooms: Mutex<HashMap<RoomName, RoomState>>,
    grace: Duration,
    sink: Sink,
}

impl Presence {
    pub fn new(grace: Duration, sink: Sink) -> Arc<Self> {
        Arc::new(Self { rooms: Mutex::default(), grace, sink })
    }

    /// Adds a connection of `user` to `room`. A user already present keeps
    /// the name it has there; returns the name in use.
    pub fn join(
        self: &Arc<Self>,
        room: &RoomName,
        user: UserId,
        name: DisplayName,
        sid: Sid,
    ) -> Result<User, NameTaken> {
        let mut rooms = self.lock();
        let state = rooms.entry(room.clone()).or_default();
        if let Some(member) = state.members.get_mut(&user) {
            if !member.sids.contains(&sid) {
                member.sids.push(sid);
            }
            member.generation += 1;
            return Ok(User { id: user, name: member.name.clone() });
        }
        if !state.names.insert(name.folded()) {
            return Err(NameTaken);
        }
        let (opened, change) = state.record(user);
        let member = Member { name: name.clone(), sids: vec![sid], generation: 0 };
        state.members.insert(user, member);
        state.batch.get_or_insert_default().joiners.push((sid, change));
        drop(rooms);
        self.schedule_flush(room, opened);
        Ok(User { id: user, name })
    }

    /// Removes a connection of `user` from `room`; the user leaves when its
    /// last connection has, at once or after the grace period.
    pub fn leave(self: &Arc<Self>, room: &RoomName, user: UserId, sid: Sid, how: Departure) {
        let mut rooms = self.lock();
        let Some(member) = rooms.get_mut(room).and_then(|s| s.members.get_mut(&user)) else {
            return;
        };
        member.sids.retain(|s| *s != sid);
        if !member.sids.is_empty() {
            return;
        }
        member.generation += 1;
        let generation = member.generation;
        drop(rooms);
        if how == Departure::Now || self.grace.is_zero() {
            self.remove(room, user, generation);
        } else {
            let presence = Arc::clone(self);
            let room = room.clone();
            tokio::spawn(async move {
                tokio::time::sleep(presence.grace).await;
                presence.remove(&room, user, generation);
            });
        }
    }

    /// The user as others see it in `room`, if it is there.
    pub fn member(&self, room: &RoomName, user: UserId) -> Option<User> {
        let rooms = self.lock();
        let member = rooms.get(room)?.members.get(&user)?;
        Some(User { id: user, name: member.name.clone() })
    }

    pub fn snapshot(&self, room: &RoomName) -> Snapshot {
        let rooms = self.lock();
        let users: Vec<User> = rooms.get(room).map(RoomState::users).unwrap_or_default();
        Snapshot { count: users.len(), users }
    }

    /// Rooms with anyone in them, most populated first, then by name.
    pub fn rooms(&self, limit: usize) -> Vec<(RoomName, usize)> {
        let rooms = self.lock();
        let mut list: Vec<_> = rooms
            .iter()
            .filter(|(_, s)| !s.members.is_empty())
            .map(|(name, s)| (name.clone(), s.members.len()))
            .collect();
        list.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        list.truncate(limit);
        list
    }

    /// Distinct users present in at least one room.
    pub fn user_count(&self) -> usize {
        let rooms = self.lock();
        let mut users: Vec<&UserId> = rooms.values().flat_map(|s| s.members.keys()).collect();
        users.sort_unstable();
        users.dedup();
        users.len()
    }

    fn remove(self: &Arc<Self>, room: &RoomName, user: UserId, generation: u64) {
        let mut rooms = self.lock();
        let Some(state) = rooms.get_mut(room) else {
            return;
        };
        let current = state.members.get(&user).map(|m| (m.generation, m.sids.is_empty()));
        if current != Some((generation, true)) {
            return; // it came back, or a newer departure owns the removal
        }
        let (opened, _) = state.record(user);
        if let Some(member) = state.members.remove(&user) {
            state.names.remove(&member.name.folded());
        }
        drop(rooms);
        self.schedule_flush(room, opened);
    }

    fn schedule_flush(self: &Arc<Self>, room: &RoomName, opened: bool) {
        if !opened {
            return;
        }
        let presence = Arc::clone(self);
        let room = room.clone();
        tokio::spawn(async move {
            tokio::time::sleep(BATCH_WINDOW).await;
            if let Some(update) = presence.take_batch(&room) {
                (presence.sink)(update);
            }
        });
    }

    fn take_batch(&self, room: &RoomName) -> Option<PresenceUpdate> {
        let mut rooms = self.lock();
        let state = rooms.get_mut(room)?;
        let batch = state.batch.take()?;
        let (mut joined, mut left, mut last_change) = (Vec::new(), Vec::new(), 0);
        for (id, (was, change)) in batch.touched {
            match (was, state.members.get(&id)) {
                (None, Some(m)) => joined.push(User { id, name: m.name.clone() }),
                (Some(user), None) => left.push(user),
                _ => continue,
            }
            last_change = last_change.max(change);
        }
        let count = state.members.len();
        if count == 0 {
            rooms.remove(room);
        }
        if joined.is_empty() && left.is_empty() {
            return None;
        }
        let skip = batch
            .joiners
            .into_iter()
            .filter(|(_, change)| *change >= last_change)
            .map(|(sid, _)| sid)
            .collect();
        Some(PresenceUpdate { room: room.clone(), joined, left, count, skip })
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<RoomName, RoomState>> {
        // A panic elsewhere must not take presence down with it.
        self.rooms.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl RoomState {
    /// Notes `user`'s presence before a change; returns whether this opens
    /// a batch, and the change's number within it.
    fn record(&mut self, user: UserId) -> (bool, u64) {
        let opened = self.batch.is_none();
        let was = self.members.get(&user).map(|m| User { id: user, name: m.name.clone() });
        let batch = self.batch.get_or_insert_default();
        batch.changes += 1;
        let change = batch.changes;
        batch.touched.entry(user).or_insert((was, change)).1 = change;
        (opened, change)
    }

    /// Members in no particular order: clients sort for display, and a
    /// sort per join would make a burst of joins quadratic.
    fn users(&self) -> Vec<User> {
        self.members.iter().map(|(id, m)| User { id: *id, name: m.name.clone() }).collect()
    }
}

#[cfg(test)]
#[path = "presence_tests.rs"]
mod tests;
