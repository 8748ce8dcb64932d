//! The shared half of presence: who is in which room under which name,
//! across every process. One process keeps it in memory
//! ([`LocalDirectory`]); a cluster keeps it in Redis
//! (`crate::cluster::RedisDirectory`). Either way every change gets a
//! version and goes out, in version order, as a [`Change`].

use crate::domain::{DisplayName, RoomName, User, UserId};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::{mpsc, oneshot};

/// A room's users as of change `ver`: every change of the room with a
/// version at or below it is reflected, none above.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct View {
    pub users: Vec<User>,
    pub ver: u64,
}

impl View {
    pub fn count(&self) -> usize {
        self.users.len()
    }
}

/// A user entered or left a room; `count` is the room's size after it.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub room: RoomName,
    pub ver: u64,
    pub user: User,
    pub joined: bool,
    pub count: usize,
}

/// What a claim found: the name in use (a user already present keeps its
/// own) and the room as of the claim.
#[derive(Debug, Clone, PartialEq)]
pub struct Claim {
    pub name: DisplayName,
    pub view: View,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DirectoryError {
    #[error("that name is taken in this room")]
    NameTaken,
    #[error("presence is unavailable: {0}")]
    Unavailable(String),
}

/// An answer to come. Requests are carried out in the order they are made,
/// so a release made before a claim is never overtaken by it.
pub type Reply<T> = oneshot::Receiver<Result<T, DirectoryError>>;

/// Where changes go: the presence relay of this process.
pub type ChangeSink = mpsc::UnboundedSender<Change>;

/// Presence shared by every process of a deployment.
pub trait Directory: Send + Sync + 'static {
    /// Adds `user` to `room` for this process, unless another user has the
    /// name there, or one that looks the same (see [`name_keys`]).
    fn claim(&self, room: &RoomName, user: UserId, name: &DisplayName) -> Reply<Claim>;
    /// This process no longer holds `user` in `room`; it leaves the room
    /// when no process does. Answers once done; failures are also logged,
    /// and reconcile repairs them.
    fn release(&self, room: &RoomName, user: UserId) -> Reply<()>;
    fn view(&self, room: &RoomName) -> Reply<View>;
    /// Rooms with anyone in them and their counts, in no particular order.
    fn rooms(&self) -> Reply<Vec<(RoomName, usize)>>;
    /// Distinct users present in at least one room.
    fn user_count(&self) -> Reply<usize>;
    /// Makes the shared record of what this process holds equal `held`
    /// (after the shared store lost or missed updates). Restored users are
    /// announced as joined only if `announce` (the others were told they
    /// left); otherwise the others' clients still list them.
    fn reconcile(&self, held: Vec<(RoomName, User)>, announce: bool);
}

/// The keys that make a name taken in `room`: its look-alike keys
/// ([`DisplayName::lookalike_keys`]) in a public room; none in a direct
/// room, whose two users are told apart by id, so two people called Sam
/// can still talk.
pub fn name_keys(room: &RoomName, name: &DisplayName) -> Vec<String> {
    if room.is_direct() { Vec::new() } else { name.lookalike_keys() }
}

/// Answers at once (for the in-memory directory).
pub fn ready<T>(value: Result<T, DirectoryError>) -> Reply<T> {
    let (tx, rx) = oneshot::channel();
    let _ = tx.send(value);
    rx
}

/// The single-process directory: a map under a mutex.
pub struct LocalDirectory {
    state: Mutex<LocalState>,
    changes: ChangeSink,
}

#[derive(Default)]
struct LocalState {
    rooms: HashMap<RoomName, LocalRoom>,
    /// How many rooms each present user is in.
    users: HashMap<UserId, usize>,
    ver: u64,
}

#[derive(Default)]
struct LocalRoom {
    members: HashMap<UserId, DisplayName>,
    /// The look-alike keys of every member's name, so a claim checks
    /// uniqueness in O(1).
    names: HashSet<String>,
}

impl LocalDirectory {
    pub fn new(changes: ChangeSink) -> Arc<Self> {
        Arc::new(Self { state: Mutex::default(), changes })
    }

    fn lock(&self) -> MutexGuard<'_, LocalState> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl LocalState {
    fn view(&self, room: &RoomName) -> View {
        let users = self.rooms.get(room).map(LocalRoom::users).unwrap_or_default();
        View { users, ver: self.ver }
    }
}

impl LocalRoom {
    /// Members in no particular order: clients sort for display, and a
    /// sort per join would make a burst of joins quadratic.
    fn users(&self) -> Vec<User> {
        self.members.iter().map(|(id, name)| User { id: *id, name: name.clone() }).collect()
    }
}

impl Directory for LocalDirectory {
    fn claim(&self, room: &RoomName, user: UserId, name: &DisplayName) -> Reply<Claim> {
        let mut state = self.lock();
        let entry = state.rooms.entry(room.clone()).or_default();
        if let Some(existing) = entry.members.get(&user) {
            let name = existing.clone();
            return ready(Ok(Claim { name, view: state.view(room) }));
        }
        let keys = name_keys(room, name);
        if keys.iter().any(|key| entry.names.contains(key)) {
            return ready(Err(DirectoryError::NameTaken));
        }
        entry.names.extend(keys);
        entry.members.insert(user, name.clone());
        let count = entry.members.len();
        *state.users.entry(user).or_default() += 1;
        state.ver += 1;
        let joiner = User { id: user, name: name.clone() };
        let change =
            Change { room: room.clone(), ver: state.ver, user: joiner, joined: true, count };
        // Sent under the lock, so changes leave in version order.
        let _ = self.changes.send(change);
        ready(Ok(Claim { name: name.clone(), view: state.view(room) }))
    }

    fn release(&self, room: &RoomName, user: UserId) -> Reply<()> {
        let mut state = self.lock();
        let Some(entry) = state.rooms.get_mut(room) else {
            return ready(Ok(()));
        };
        let Some(name) = entry.members.remove(&user) else {
            return ready(Ok(()));
        };
        for key in name_keys(room, &name) {
            entry.names.remove(&key);
        }
        let count = entry.members.len();
        if count == 0 {
            state.rooms.remove(room);
        }
        if let Some(rooms) = state.users.get_mut(&user) {
            *rooms -= 1;
            if *rooms == 0 {
                state.users.remove(&user);
            }
        }
        state.ver += 1;
        let leaver = User { id: user, name };
        let change =
            Change { room: room.clone(), ver: state.ver, user: leaver, joined: false, count };
        let _ = self.changes.send(change);
        ready(Ok(()))
    }

    fn view(&self, room: &RoomName) -> Reply<View> {
        ready(Ok(self.lock().view(room)))
    }

    fn rooms(&self) -> Reply<Vec<(RoomName, usize)>> {
        let state = self.lock();
        ready(Ok(state.rooms.iter().map(|(r, s)| (r.clone(), s.members.len())).collect()))
    }

    fn user_count(&self) -> Reply<usize> {
        ready(Ok(self.lock().users.len()))
    }

    fn reconcile(&self, _held: Vec<(RoomName, User)>, _announce: bool) {
        // One process: the directory is this process's own memory.
    }
}
