//! The task that commits this process's messages. It commits a batch of
//! concurrent messages in one transaction (group commit), hands them to
//! the room streams to deliver in seq order, tells the other processes,
//! and acks each only once it is committed.

use super::Refusal;
use super::peers::Peers;
use super::stream::{self, Delivery};
use crate::domain::{Message, MessageDraft};
use crate::metrics::Metrics;
use crate::store::Store;
use socketioxide::adapter::Adapter;
use socketioxide::socket::Sid;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Instant;
use tokio::sync::{mpsc, oneshot};

/// Most messages committed in one transaction.
const MAX_BATCH: usize = 1024;

pub type Outcome = Result<Message, Refusal>;

struct Post {
    draft: MessageDraft,
    sender: Sid,
    received: Instant,
    reply: oneshot::Sender<Outcome>,
}

enum Work {
    Post(Post),
    /// Answered once everything queued before it is committed and acked.
    Flush(oneshot::Sender<()>),
}

/// Where handlers send messages to commit. Unbounded because each
/// connection's rate limit already bounds what it can queue.
#[derive(Clone)]
pub struct Handle(mpsc::UnboundedSender<Work>);

impl Handle {
    /// Queues a message; called synchronously while the event is read, so
    /// one sender's messages keep the order it sent them in.
    pub fn post(&self, draft: MessageDraft, sender: Sid) -> oneshot::Receiver<Outcome> {
        let (reply, outcome) = oneshot::channel();
        let received = Instant::now();
        let _ = self.0.send(Work::Post(Post { draft, sender, received, reply }));
        outcome
    }

    /// Waits until every message queued so far is committed and acked.
    pub async fn flush(&self) {
        let (done, flushed) = oneshot::channel();
        if self.0.send(Work::Flush(done)).is_ok() {
            let _ = flushed.await;
        }
    }
}

struct Writer<A: Adapter> {
    store: Arc<dyn Store>,
    metrics: Arc<Metrics>,
    streams: stream::Handle<A>,
    peers: Arc<dyn Peers>,
}

pub fn spawn<A: Adapter>(
    store: Arc<dyn Store>,
    metrics: Arc<Metrics>,
    streams: stream::Handle<A>,
    peers: Arc<dyn Peers>,
) -> Handle {
    let (tx, mut inbox) = mpsc::unbounded_channel();
    let writer = Writer { store, metrics, streams, peers };
    tokio::spawn(async move {
        let mut work = Vec::with_capacity(MAX_BATCH);
        let mut batch = Vec::with_capacity(MAX_BATCH);
        while inbox.recv_many(&mut work, MAX_BATCH).await > 0 {
            for item in work.drain(..) {
                match item {
                    Work::Post(post) => batch.push(post),
                    Work::Flush(done) => {
                        if !batch.is_empty() {
                            writer.commit(std::mem::take(&mut batch)).await;
                        }
                        let _ = done.send(());
                    }
                }
            }
            if !batch.is_empty() {
                writer.commit(std::mem::take(&mut batch)).await;
            }
        }
    });
    Handle(tx)
}

impl<A: Adapter> Writer<A> {
    async fn commit(&self, posts: Vec<Post>) {
        let drafts: Vec<MessageDraft> = posts.iter().map(|p| p.draft.clone()).collect();
        let appended = match self.store.append(&drafts).await {
            Ok(appended) => appended,
            Err(error) => {
                tracing::error!(%error, count = drafts.len(), "messages not stored");
                for post in posts {
                    let _ = post.reply.send(Err(Refusal::Unavailable));
                }
                return;
            }
        };
        let mut fresh = Vec::with_capacity(posts.len());
        for (post, entry) in posts.into_iter().zip(appended) {
            if entry.duplicate {
                let _ = post.reply.send(Ok(entry.message));
                continue;
            }
            fresh.push(Delivery {
                message: entry.message,
                sender: Some(post.sender),
                received: Some(post.received),
                ack: Some(post.reply),
            });
        }
        self.metrics.messages_stored.fetch_add(fresh.len() as u64, Relaxed);
        if !fresh.is_empty() {
            let messages: Vec<Message> = fresh.iter().map(|d| d.message.clone()).collect();
            self.peers.messages(messages);
            // The streams deliver, then ack.
            self.streams.committed(fresh);
        }
    }
}
