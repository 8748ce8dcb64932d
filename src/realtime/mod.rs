//! The Socket.IO side of Baat-Chit: one file per concern of the event
//! contract (`docs/protocol.md`). Every handler is generic over the
//! socketioxide adapter, so a cluster adapter slots in unchanged.

mod conn;
mod fanout;
mod history;
mod join;
mod message;
mod payload;
pub mod presence;
mod refusal;
mod session;
mod tail;
mod typing;
mod writer;

pub use conn::Conn;
pub use refusal::Refusal;

use crate::config::Config;
use crate::identity::Keyring;
use crate::metrics::Metrics;
use crate::store::Store;
use presence::{Presence, PresenceUpdate};
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

    /// What clients send.
    pub const FROM_CLIENT: [&str; 6] = [JOIN, LEAVE, MESSAGE, TYPING, HISTORY, ROOMS];
    /// What the server sends.
    pub const FROM_SERVER: [&str; 4] = [SESSION, MESSAGE, PRESENCE, TYPING];
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
    writer: writer::Handle<A>,
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

/// Builds the Socket.IO service on `builder`, starts the message writer and
/// the presence relay, and registers the contract's handlers.
pub fn build<A: Adapter + DefinedAdapter>(
    builder: SocketIoBuilder<A>,
    store: Arc<dyn Store>,
    keyring: Keyring,
    metrics: Arc<Metrics>,
    config: &Config,
) -> (socketioxide::layer::SocketIoLayer<A>, SocketIo<A>, Arc<Presence>) {
    let (relay_tx, relay_rx) = mpsc::unbounded_channel::<PresenceUpdate>();
    let presence = Presence::new(
        config.presence_grace(),
        Arc::new(move |update| {
            let _ = relay_tx.send(update);
        }),
    );
    let (writer, commands) = writer::channel();
    let hub = Hub {
        inner: Arc::new(HubInner {
            store: Arc::clone(&store),
            presence: Arc::clone(&presence),
            typing: Typing::default(),
            keyring,
            metrics: Arc::clone(&metrics),
            config: config.clone(),
            writer,
        }),
    };
    let (layer, io) = builder.with_state(hub).build_layer();
    writer::spawn(io.clone(), store, Arc::clone(&metrics), commands);
    tokio::spawn(relay_presence(io.clone(), relay_rx));
    let _ = io.ns("/", session::on_connect::<A>.with(session::identify::<A>));
    (layer, io, presence)
}

/// Broadcasts each finished presence batch to its room.
async fn relay_presence<A: Adapter>(
    io: SocketIo<A>,
    mut updates: mpsc::UnboundedReceiver<PresenceUpdate>,
) {
    while let Some(update) = updates.recv().await {
        let payload = serde_json::json!({
            "room": update.room,
            "joined": update.joined,
            "left": update.left,
            "count": update.count,
        });
        fanout::deliver(&io, &update.room, &update.skip, events::PRESENCE, &payload);
    }
}
