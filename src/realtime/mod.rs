//! The Socket.IO side of Baat-Chit: one file per concern of the event
//! contract (`docs/protocol.md`). Every handler is generic over the
//! socketioxide adapter, so a cluster adapter slots in unchanged.

mod change;
mod conn;
mod direct;
mod dispatch;
mod fanout;
mod followed;
mod groups;
mod history;
mod join;
pub mod limits;
mod linger;
mod message;
/// Client payloads before parsing: public only for the fuzz target (`fuzz/`).
#[doc(hidden)]
pub mod payload;
pub mod peers;
pub mod presence;
mod reads;
mod refusal;
mod search;
mod session;
mod stream;
mod tail;
mod typing;
mod weight;
pub mod writer;

pub use conn::Conn;
pub use refusal::Refusal;

use crate::config::Config;
use crate::domain::{Entry, Pair, RoomName, Seq, User, UserId};
use crate::identity::Keyring;
use crate::metrics::Metrics;
use crate::store::{ReadMarker, Store};
use limits::Limits;
use peers::{FromPeers, Peers};
use presence::relay::{self, Replay, ReplaySender};
use presence::{Change, Directory, Presence};
use socketioxide::adapter::Adapter;
use socketioxide::handler::ConnectHandler;
use socketioxide::{SocketIo, SocketIoBuilder};
use socketioxide_core::adapter::DefinedAdapter;
use std::ops::Deref;
use std::sync::Arc;
use tokio::sync::mpsc;
use typing::Typing;

/// Event names of the contract, shared by every handler.
pub mod events {
    pub const SESSION: &str = "session";
    pub const JOIN: &str = "join";
    pub const LEAVE: &str = "leave";
    pub const MESSAGE: &str = "message";
    pub const TYPING: &str = "typing";
    pub const HISTORY: &str = "history";
    pub const ROOMS: &str = "rooms";
    pub const PRESENCE: &str = "presence";
    pub const EDIT: &str = "edit";
    pub const DELETE: &str = "delete";
    pub const REACT: &str = "react";
    pub const CHANGE: &str = "change";
    pub const DM: &str = "dm";
    pub const CONVERSATIONS: &str = "conversations";
    pub const CONVERSATION: &str = "conversation";
    pub const READ: &str = "read";
    pub const READS: &str = "reads";
    pub const SEARCH: &str = "search";
    pub const COUNTS: &str = "counts";

    /// What clients send.
    pub const FROM_CLIENT: [&str; 14] = [
        JOIN,
        LEAVE,
        MESSAGE,
        TYPING,
        HISTORY,
        ROOMS,
        EDIT,
        DELETE,
        REACT,
        DM,
        CONVERSATIONS,
        READ,
        READS,
        SEARCH,
    ];
    /// What the server sends (`change`, `conversation`, `read` and
    /// `counts` only to version 2 clients).
    pub const FROM_SERVER: [&str; 8] =
        [SESSION, MESSAGE, PRESENCE, TYPING, CHANGE, CONVERSATION, READ, COUNTS];
}

/// Everything a handler needs: cheap to clone, one `Arc`.
pub struct Hub<A: Adapter> {
    inner: Arc<HubInner<A>>,
}

pub struct HubInner<A: Adapter> {
    pub store: Arc<dyn Store>,
    pub presence: Arc<Presence>,
    pub typing: Typing,
    pub keyring: Keyring,
    pub metrics: Arc<Metrics>,
    pub config: Config,
    pub limits: Limits,
    pub peers: Arc<dyn Peers>,
    writer: writer::Handle,
    streams: stream::Handle<A>,
    replays: ReplaySender<A>,
}

impl<A: Adapter> Clone for Hub<A> {
    fn clone(&self) -> Self {
        Self { inner: Arc::clone(&self.inner) }
    }
}

impl<A: Adapter> Deref for Hub<A> {
    type Target = HubInner<A>;
    fn deref(&self) -> &HubInner<A> {
        &self.inner
    }
}

/// What the socket layer is built on: the shared pieces that differ
/// between one process and a cluster.
pub struct Backing {
    pub store: Arc<dyn Store>,
    pub directory: Arc<dyn Directory>,
    /// Presence changes from the directory, in version order.
    pub changes: mpsc::UnboundedReceiver<Change>,
    pub peers: Arc<dyn Peers>,
    /// Other processes share the store and rooms (cluster mode).
    pub shared: bool,
}

/// The built socket layer.
pub struct Built<A: Adapter> {
    pub layer: socketioxide::layer::SocketIoLayer<A>,
    pub io: SocketIo<A>,
    pub presence: Arc<Presence>,
    /// Where the other processes' news enters this one.
    pub from_peers: Arc<dyn FromPeers>,
    /// Commits and acks what is in flight (for a clean shutdown).
    pub writer: writer::Handle,
}

/// Builds the Socket.IO service on `builder`, starts the writer, the room
/// streams and the presence relay, and registers the contract's handlers.
pub fn build<A: Adapter + DefinedAdapter>(
    builder: SocketIoBuilder<A>,
    backing: Backing,
    keyring: Keyring,
    metrics: Arc<Metrics>,
    config: &Config,
) -> Built<A> {
    let Backing { store, directory, changes, peers, shared } = backing;
    let presence = Presence::new(config.presence_grace(), directory);
    let (replays, replay_rx) = mpsc::unbounded_channel();
    let (streams, stream_inputs) = stream::channel();
    let writer = writer::spawn(
        Arc::clone(&store),
        Arc::clone(&metrics),
        streams.clone(),
        Arc::clone(&peers),
    );
    let hub = Hub {
        inner: Arc::new(HubInner {
            store: Arc::clone(&store),
            presence: Arc::clone(&presence),
            typing: Typing::new(config.typing_expiry(), config.typing_interval()),
            keyring,
            metrics: Arc::clone(&metrics),
            config: config.clone(),
            limits: Limits::new(config),
            peers,
            writer: writer.clone(),
            streams: streams.clone(),
            replays,
        }),
    };
    let (layer, io) = builder.with_state(hub).build_layer();
    stream::spawn(io.clone(), store, metrics, shared, stream_inputs);
    relay::spawn(io.clone(), changes, replay_rx);
    let from_peers = Arc::new(Inbound { io: io.clone(), streams, presence: Arc::clone(&presence) });
    let _ = io.ns("/", session::on_connect::<A>.with(session::identify::<A>));
    Built { layer, io, presence, from_peers, writer }
}

/// The other processes' news, delivered to this process's connections.
struct Inbound<A: Adapter> {
    io: SocketIo<A>,
    streams: stream::Handle<A>,
    presence: Arc<Presence>,
}

impl<A: Adapter> FromPeers for Inbound<A> {
    fn entry(&self, entry: Entry) {
        self.streams.remote(entry);
    }

    fn typing(&self, room: RoomName, user: User, typing: bool) {
        typing::deliver(&self.io, &room, &user, typing);
    }

    fn hint(&self, room: RoomName, seq: Seq) {
        self.streams.hint(room, seq);
    }

    fn conversation(&self, pair: Pair) {
        direct::deliver(&self.io, &pair);
    }

    fn read(&self, user: UserId, marker: ReadMarker) {
        reads::deliver(&self.io, user, &marker, None);
    }

    fn reconnected(&self) {
        self.presence.reconcile(false);
        self.streams.resync();
    }

    fn reaped(&self) {
        self.presence.reconcile(true);
    }
}

impl<A: Adapter> Hub<A> {
    /// Sends a just-joined connection the presence changes it missed.
    fn replay_presence(&self, socket: socketioxide::extract::SocketRef<A>, room: RoomName) {
        let _ = self.replays.send(Replay { socket, room });
    }
}

/// Pushes onto a list that is usually one or two long (a connection's
/// rooms, a user's connections in a room): it grows by one up to four
/// instead of to four at the first push, bytes kept for every idle
/// connection (bench S4).
fn push_lean<T>(list: &mut Vec<T>, item: T) {
    if list.len() < 4 {
        list.reserve_exact(1);
    }
    list.push(item);
}

#[cfg(test)]
mod lean_tests {
    use super::push_lean;

    #[test]
    fn a_short_list_holds_room_for_what_it_holds_and_no_more() {
        let mut list = Vec::new();
        for i in 1..=4 {
            push_lean(&mut list, i);
            assert_eq!(list.capacity(), i, "after {i} pushes");
        }
        push_lean(&mut list, 5);
        assert_eq!(list, [1, 2, 3, 4, 5]);
    }
}
