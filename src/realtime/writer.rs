//! The single task that commits messages and fans them out. One writer
//! gives each room one order: it commits a batch of concurrent messages in
//! one transaction (group commit), then delivers them in seq order. Joins
//! pass through it too, so a joining connection's history ends exactly
//! where its live messages begin: nothing missed, nothing doubled.

use super::tail::{Attached, TAIL_LEN, Tails};
use super::{Refusal, events, fanout};
use crate::domain::{Message, MessageDraft, RoomName};
use crate::metrics::Metrics;
use crate::store::{Slice, Store};
use socketioxide::SocketIo;
use socketioxide::adapter::Adapter;
use socketioxide::extract::SocketRef;
use socketioxide::socket::Sid;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Instant;
use tokio::sync::{mpsc, oneshot};

/// Most messages committed in one transaction.
const MAX_BATCH: usize = 1024;

pub type Outcome = Result<Message, Refusal>;

pub enum Command<A: Adapter> {
    Post {
        draft: MessageDraft,
        sender: Sid,
        received: Instant,
        reply: oneshot::Sender<Outcome>,
    },
    Attach {
        socket: SocketRef<A>,
        room: RoomName,
        reply: oneshot::Sender<Result<Attached, Refusal>>,
    },
}

/// Where handlers send work for the writer. Unbounded because each
/// connection's rate limit already bounds what it can queue.
pub struct Handle<A: Adapter>(mpsc::UnboundedSender<Command<A>>);

pub fn channel<A: Adapter>() -> (Handle<A>, mpsc::UnboundedReceiver<Command<A>>) {
    let (tx, rx) = mpsc::unbounded_channel();
    (Handle(tx), rx)
}

impl<A: Adapter> Handle<A> {
    /// Queues a message; called synchronously while the event is read, so
    /// one sender's messages keep the order it sent them in.
    pub fn post(&self, draft: MessageDraft, sender: Sid) -> oneshot::Receiver<Outcome> {
        let (reply, outcome) = oneshot::channel();
        let received = Instant::now();
        let _ = self.0.send(Command::Post { draft, sender, received, reply });
        outcome
    }

    /// Puts the socket in the room's broadcast group; returns the last seq
    /// it will not receive live (its history must end there) and the
    /// room's newest messages up to that seq.
    pub async fn attach(&self, socket: SocketRef<A>, room: RoomName) -> Result<Attached, Refusal> {
        let (reply, attached) = oneshot::channel();
        self.0.send(Command::Attach { socket, room, reply }).map_err(|_| Refusal::Unavailable)?;
        attached.await.map_err(|_| Refusal::Unavailable)?
    }
}

struct Writer<A: Adapter> {
    io: SocketIo<A>,
    store: Arc<dyn Store>,
    metrics: Arc<Metrics>,
    /// Each room's newest delivered messages, loaded on first use.
    tails: Tails,
}

pub fn spawn<A: Adapter>(
    io: SocketIo<A>,
    store: Arc<dyn Store>,
    metrics: Arc<Metrics>,
    mut commands: mpsc::UnboundedReceiver<Command<A>>,
) {
    let mut writer = Writer { io, store, metrics, tails: Tails::default() };
    tokio::spawn(async move {
        let mut inbox = Vec::with_capacity(MAX_BATCH);
        let mut posts = Vec::with_capacity(MAX_BATCH);
        while commands.recv_many(&mut inbox, MAX_BATCH).await > 0 {
            for command in inbox.drain(..) {
                match command {
                    Command::Post { draft, sender, received, reply } => {
                        posts.push((draft, (sender, received, reply)));
                    }
                    Command::Attach { socket, room, reply } => {
                        writer.commit(&mut posts).await;
                        let _ = reply.send(writer.attach(&socket, room).await);
                    }
                }
            }
            writer.commit(&mut posts).await;
        }
    });
}

type Ticket = (Sid, Instant, oneshot::Sender<Outcome>);

impl<A: Adapter> Writer<A> {
    async fn commit(&mut self, posts: &mut Vec<(MessageDraft, Ticket)>) {
        if posts.is_empty() {
            return;
        }
        let (drafts, tickets): (Vec<_>, Vec<_>) = posts.drain(..).unzip();
        let appended = match self.store.append(&drafts).await {
            Ok(appended) => appended,
            Err(error) => {
                tracing::error!(%error, count = drafts.len(), "messages not stored");
                for (_, _, reply) in tickets {
                    let _ = reply.send(Err(Refusal::Unavailable));
                }
                return;
            }
        };
        for ((sender, received, reply), entry) in tickets.into_iter().zip(appended) {
            if !entry.duplicate {
                self.deliver(&entry.message, sender, received);
            }
            let _ = reply.send(Ok(entry.message));
        }
    }

    fn deliver(&mut self, message: &Message, sender: Sid, received: Instant) {
        self.metrics.messages_stored.fetch_add(1, Relaxed);
        let reached = fanout::deliver(&self.io, &message.room, &[sender], events::MESSAGE, message);
        self.metrics.deliveries.fetch_add(reached as u64, Relaxed);
        self.metrics.delivery_lag(received.elapsed());
        self.tails.push(message);
    }

    async fn attach(&mut self, socket: &SocketRef<A>, room: RoomName) -> Result<Attached, Refusal> {
        let attached = match self.tails.get(&room) {
            Some(attached) => attached,
            None => {
                let page = self.store.read(&room, Slice::Latest, TAIL_LEN as u32).await?;
                self.tails.load(room.clone(), page.messages);
                self.tails.get(&room).unwrap_or_default()
            }
        };
        // A socket gone meanwhile must not linger in the room's group.
        if !socket.connected() {
            return Err(Refusal::Unavailable);
        }
        socket.join(room.to_string());
        Ok(attached)
    }
}
