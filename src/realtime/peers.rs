//! The other processes of a cluster, as the socket layer sees them: what
//! this process tells them ([`Peers`]) and what they tell it
//! ([`FromPeers`]). One process alone has none ([`Alone`]).

use crate::domain::{Entry, Pair, RoomName, Seq, User, UserId};
use crate::store::ReadMarker;

/// Tells the other processes what happened here.
pub trait Peers: Send + Sync + 'static {
    /// Messages and changes this process committed, in commit order.
    /// Borrowed: a single process has nobody to copy them for.
    fn entries(&self, entries: &mut dyn Iterator<Item = &Entry>);
    /// A user on this process started or stopped typing.
    fn typing(&self, room: &RoomName, user: &User, typing: bool);
    /// A direct conversation was opened here: its users' connections on
    /// the other processes should hear of it.
    fn conversation(&self, pair: &Pair);
    /// A user's read marker moved here: its connections on the other
    /// processes should hear of it.
    fn read(&self, user: UserId, marker: &ReadMarker);
}

/// What the other processes tell this one.
pub trait FromPeers: Send + Sync + 'static {
    /// A message or change another process committed.
    fn entry(&self, entry: Entry);
    fn typing(&self, room: RoomName, user: User, typing: bool);
    /// A direct conversation another process opened.
    fn conversation(&self, pair: Pair);
    /// A user's read marker moved on another process.
    fn read(&self, user: UserId, marker: ReadMarker);
    /// The room has entries up to `seq`: a publish of them failed.
    fn hint(&self, room: RoomName, seq: Seq);
    /// The link to the others was down: anything may have been missed.
    fn reconnected(&self);
    /// The others took this process for dead and removed its users.
    fn reaped(&self);
}

/// A single process: nobody to tell.
pub struct Alone;

impl Peers for Alone {
    fn entries(&self, _entries: &mut dyn Iterator<Item = &Entry>) {}
    fn typing(&self, _room: &RoomName, _user: &User, _typing: bool) {}
    fn conversation(&self, _pair: &Pair) {}
    fn read(&self, _user: UserId, _marker: &ReadMarker) {}
}
