//! Who is in which room. A user counts once however many connections it
//! has, and a dropped connection keeps its user present for a grace
//! period. This process's connections are tracked here; the room's shared
//! state (names, counts, versions) lives in a [`Directory`], in memory for
//! one process or in Redis for a cluster. Changes reach connections through
//! the [`relay`], batched per room.

mod directory;
pub mod relay;

pub use directory::{
    Change, ChangeSink, Claim, Directory, DirectoryError, LocalDirectory, Reply, View, name_keys,
};

use crate::domain::{DisplayName, RoomName, User, UserId};
use socketioxide::socket::Sid;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// How a connection leaves a room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Departure {
    /// `leave`, or the client disconnected on purpose.
    Now,
    /// The connection dropped: wait for the grace period first.
    AfterGrace,
}

/// A user this process holds in a room, through these connections.
struct Held {
    name: DisplayName,
    sids: Vec<Sid>,
    /// Bumped on every drop so a stale grace timer knows it lost the race.
    generation: u64,
}

impl Held {
    /// Adds a connection (kept lean: 64 B per user and room otherwise).
    fn hold(&mut self, sid: Sid) {
        if !self.sids.contains(&sid) {
            super::push_lean(&mut self.sids, sid);
        }
    }
}

enum Entry {
    Present(DisplayName, Reply<View>),
    New(Reply<Claim>),
}

type HeldRooms = HashMap<RoomName, HashMap<UserId, Held>>;

pub struct Presence {
    held: Mutex<HeldRooms>,
    directory: Arc<dyn Directory>,
    grace: Duration,
}

impl Presence {
    pub fn new(grace: Duration, directory: Arc<dyn Directory>) -> Arc<Self> {
        Arc::new(Self { held: Mutex::default(), directory, grace })
    }

    /// Adds a connection of `user` to `room`. A user already present keeps
    /// the name it has there. Returns the user as others see it and the
    /// room as of this join (its version bounds what the relay sends it).
    pub async fn join(
        &self,
        room: &RoomName,
        user: UserId,
        name: DisplayName,
        sid: Sid,
    ) -> Result<(User, View), DirectoryError> {
        let pending = self.enter(room, user, &name, sid);
        let pending = match pending {
            Entry::Present(name, view) => {
                return Ok((User { id: user, name }, answer(view).await?));
            }
            Entry::New(claim) => claim,
        };
        let claim = answer(pending).await?;
        let mut held = self.lock();
        let member = held.entry(room.clone()).or_default().entry(user).or_insert_with(|| Held {
            name: claim.name.clone(),
            sids: Vec::new(),
            generation: 0,
        });
        member.hold(sid);
        member.generation += 1;
        Ok((User { id: user, name: member.name.clone() }, claim.view))
    }

    /// Adds the connection to a user already held here, or asks the
    /// directory for the room. Asked under the lock, so a claim queues
    /// after any release made before it.
    fn enter(&self, room: &RoomName, user: UserId, name: &DisplayName, sid: Sid) -> Entry {
        let mut held = self.lock();
        let Some(member) = held.get_mut(room).and_then(|users| users.get_mut(&user)) else {
            return Entry::New(self.directory.claim(room, user, name));
        };
        member.hold(sid);
        member.generation += 1; // cancels a pending grace removal
        Entry::Present(member.name.clone(), self.directory.view(room))
    }

    /// Removes a connection of `user` from `room`; the user leaves when its
    /// last connection has, at once or after the grace period. When it
    /// leaves at once, the answer comes when every process would agree.
    pub fn leave(
        self: &Arc<Self>,
        room: &RoomName,
        user: UserId,
        sid: Sid,
        how: Departure,
    ) -> Option<Reply<()>> {
        let mut held = self.lock();
        let member = held.get_mut(room).and_then(|users| users.get_mut(&user))?;
        member.sids.retain(|s| *s != sid);
        if !member.sids.is_empty() {
            return None;
        }
        member.generation += 1;
        let generation = member.generation;
        if how == Departure::Now || self.grace.is_zero() {
            return Some(self.release(&mut held, room, user));
        }
        drop(held);
        let presence = Arc::clone(self);
        let room = room.clone();
        tokio::spawn(async move {
            tokio::time::sleep(presence.grace).await;
            let mut held = presence.lock();
            let member = held.get(&room).and_then(|users| users.get(&user));
            if member.is_some_and(|m| m.generation == generation && m.sids.is_empty()) {
                drop(presence.release(&mut held, &room, user)); // nobody waits on a grace expiry
            }
        });
        None
    }

    /// The user as others see it in `room`, if this process holds it there.
    pub fn member(&self, room: &RoomName, user: UserId) -> Option<User> {
        let held = self.lock();
        let member = held.get(room)?.get(&user)?;
        Some(User { id: user, name: member.name.clone() })
    }

    pub async fn view(&self, room: &RoomName) -> Result<View, DirectoryError> {
        answer(self.directory.view(room)).await
    }

    /// Public rooms with anyone in them, most populated first, then by
    /// name. Direct rooms are nobody else's business.
    pub async fn rooms(&self, limit: usize) -> Result<Vec<(RoomName, usize)>, DirectoryError> {
        let mut list = answer(self.directory.rooms()).await?;
        list.retain(|(room, count)| *count > 0 && !room.is_direct());
        list.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        list.truncate(limit);
        Ok(list)
    }

    /// Distinct users present in at least one room.
    pub async fn user_count(&self) -> Result<usize, DirectoryError> {
        answer(self.directory.user_count()).await
    }

    /// Re-states everything this process holds to the directory, after the
    /// directory lost or missed updates (a Redis restart), or dropped them
    /// (this process was taken for dead): see [`Directory::reconcile`].
    pub fn reconcile(&self, announce: bool) {
        let held = self.lock();
        let all = held
            .iter()
            .flat_map(|(room, users)| {
                users.iter().map(|(id, m)| (room.clone(), User { id: *id, name: m.name.clone() }))
            })
            .collect();
        self.directory.reconcile(all, announce);
    }

    fn release(&self, held: &mut HeldRooms, room: &RoomName, user: UserId) -> Reply<()> {
        if let Some(users) = held.get_mut(room) {
            users.remove(&user);
            if users.is_empty() {
                held.remove(room);
            }
        }
        self.directory.release(room, user)
    }

    fn lock(&self) -> MutexGuard<'_, HeldRooms> {
        // A panic elsewhere must not take presence down with it.
        self.held.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

async fn answer<T>(reply: Reply<T>) -> Result<T, DirectoryError> {
    reply.await.unwrap_or_else(|_| Err(DirectoryError::Unavailable("directory stopped".into())))
}

#[cfg(test)]
mod tests;
