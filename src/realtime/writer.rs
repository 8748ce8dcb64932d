//! The task that commits this process's messages and changes. It commits
//! a batch of concurrent ones in one transaction (group commit), hands them
//! to the room streams to deliver in seq order, tells the other processes,
//! and acks each only once it is committed. Work is committed in the order
//! it was queued: a run of messages, then a run of changes, and so on.

use super::Refusal;
use super::fanout::Encodings;
use super::linger::{LINGER, Pace};
use super::peers::Peers;
use super::stream::{self, Delivery};
use crate::domain::{ChangeDraft, Entry, MessageDraft};
use crate::metrics::Metrics;
use crate::store::{Rejected, Store};
use socketioxide::adapter::Adapter;
use socketioxide::socket::Sid;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Instant;
use tokio::sync::{mpsc, oneshot};

/// Most messages committed in one transaction.
const MAX_BATCH: usize = 1024;

pub type Outcome = Result<Stored, Refusal>;

/// A committed entry, with its event as the room stream encoded it for
/// delivery: an ack sends those bytes rather than encoding it again.
#[derive(Debug)]
pub struct Stored {
    pub entry: Entry,
    pub encodings: Encodings,
}

impl From<Entry> for Stored {
    /// An entry no connection was sent here (a retry's original).
    fn from(entry: Entry) -> Self {
        Self { entry, encodings: Encodings::default() }
    }
}

/// Something to commit.
#[derive(Debug, Clone)]
pub enum Draft {
    Message(MessageDraft),
    Change(ChangeDraft),
}

/// Where a post's outcome goes, once it is known: to a task waiting for it,
/// or (a message) straight to its sender as the event's ack, from the room
/// stream that delivered it or from the writer that refused it, so no task
/// per message waits. Dropped unanswered, it answers `unavailable`.
pub struct Reply(Option<Box<dyn Answer>>);

/// What a [`Reply`] does with the outcome.
pub trait Answer: Send + Sync + 'static {
    fn answer(self: Box<Self>, outcome: Outcome);
}

impl Answer for oneshot::Sender<Outcome> {
    fn answer(self: Box<Self>, outcome: Outcome) {
        let _ = self.send(outcome);
    }
}

impl Reply {
    pub fn to(answer: impl Answer) -> Self {
        Self(Some(Box::new(answer)))
    }

    pub fn send(mut self, outcome: Outcome) {
        if let Some(answer) = self.0.take() {
            answer.answer(outcome);
        }
    }
}

impl Drop for Reply {
    fn drop(&mut self) {
        if let Some(answer) = self.0.take() {
            answer.answer(Err(Refusal::Unavailable));
        }
    }
}

impl std::fmt::Debug for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() { "Reply" } else { "Reply(answered)" })
    }
}

struct Post {
    draft: Draft,
    sender: Sid,
    received: Instant,
    reply: Reply,
}

/// Who posted a draft, and where its outcome goes: a post once its draft
/// went to the store (moved there, not copied).
struct Origin {
    sender: Sid,
    received: Instant,
    reply: Reply,
}

impl Post {
    fn split(self) -> (Draft, Origin) {
        let Self { draft, sender, received, reply } = self;
        (draft, Origin { sender, received, reply })
    }
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
    /// Queues a message or change; called synchronously while the event is
    /// read, so one sender's messages and changes keep the order it sent
    /// them in.
    pub fn post(&self, draft: Draft, sender: Sid) -> oneshot::Receiver<Outcome> {
        let (reply, outcome) = oneshot::channel();
        self.post_to(draft, sender, Reply::to(reply));
        outcome
    }

    /// Queues a message or change as [`Self::post`] does; its outcome goes
    /// to `reply`.
    pub fn post_to(&self, draft: Draft, sender: Sid, reply: Reply) {
        let received = Instant::now();
        let _ = self.0.send(Work::Post(Post { draft, sender, received, reply }));
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
        let mut pace = Pace::new(Instant::now());
        while inbox.recv_many(&mut work, MAX_BATCH).await > 0 {
            let now = Instant::now();
            if pace.busy(now) {
                linger(&mut inbox, &mut work).await;
            }
            pace.arrived(work.len(), now);
            for item in work.drain(..) {
                match item {
                    Work::Post(post) => {
                        if batch.last().is_some_and(|last: &Post| !same_kind(last, &post)) {
                            writer.commit(std::mem::take(&mut batch)).await;
                        }
                        batch.push(post);
                    }
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

/// Waits until the oldest message in `work` has waited [`LINGER`], then
/// adds to `work` whatever arrived meanwhile. Messages that queued behind
/// the last commit for that long already are committed at once, so no
/// message waits for company twice.
async fn linger(inbox: &mut mpsc::UnboundedReceiver<Work>, work: &mut Vec<Work>) {
    let oldest = work.iter().find_map(|item| match item {
        Work::Post(post) => Some(post.received),
        Work::Flush(_) => None,
    });
    let Some(oldest) = oldest else { return };
    let deadline = oldest + LINGER;
    if deadline <= Instant::now() {
        return;
    }
    tokio::time::sleep_until(deadline.into()).await;
    while work.len() < MAX_BATCH {
        match inbox.try_recv() {
            Ok(item) => work.push(item),
            Err(_) => break,
        }
    }
}

fn same_kind(a: &Post, b: &Post) -> bool {
    matches!(
        (&a.draft, &b.draft),
        (Draft::Message(_), Draft::Message(_)) | (Draft::Change(_), Draft::Change(_))
    )
}

impl<A: Adapter> Writer<A> {
    /// Commits a run of posts of one kind.
    async fn commit(&self, posts: Vec<Post>) {
        if posts.iter().all(|p| matches!(p.draft, Draft::Message(_))) {
            self.commit_messages(posts).await;
        } else {
            self.commit_changes(posts).await;
        }
    }

    async fn commit_messages(&self, posts: Vec<Post>) {
        let (posts, drafts) = self.known_replies(posts).await;
        if drafts.is_empty() {
            return;
        }
        let appended = match self.store.append(&drafts).await {
            Ok(appended) => appended,
            Err(error) => {
                tracing::error!(%error, count = drafts.len(), "messages not stored");
                refuse_all(posts);
                return;
            }
        };
        let mut fresh = Vec::with_capacity(posts.len());
        for (post, entry) in posts.into_iter().zip(appended) {
            let message = Entry::Message(entry.message);
            if entry.duplicate {
                post.reply.send(Ok(message.into()));
                continue;
            }
            fresh.push(delivery(post, message));
        }
        self.metrics.messages_stored.fetch_add(fresh.len() as u64, Relaxed);
        self.publish(fresh);
    }

    /// Refuses messages answering an unknown message of their room. Messages
    /// are never removed (a deleted one keeps its row), so a reply's target
    /// that exists now exists when the reply commits.
    async fn known_replies(&self, posts: Vec<Post>) -> (Vec<Origin>, Vec<MessageDraft>) {
        let mut kept = Vec::with_capacity(posts.len());
        let mut drafts = Vec::with_capacity(posts.len());
        for post in posts {
            let (Draft::Message(draft), post) = post.split() else {
                continue;
            };
            if let Some(target) = draft.reply_to {
                match self.store.message(&draft.room, target).await {
                    Ok(Some(_)) => {}
                    Ok(None) => {
                        post.reply.send(Err(Refusal::Rejected(Rejected::NotFound)));
                        continue;
                    }
                    Err(error) => {
                        post.reply.send(Err(Refusal::from(error)));
                        continue;
                    }
                }
            }
            drafts.push(draft);
            kept.push(post);
        }
        (kept, drafts)
    }

    async fn commit_changes(&self, posts: Vec<Post>) {
        let (drafts, posts): (Vec<ChangeDraft>, Vec<Origin>) = posts
            .into_iter()
            .filter_map(|post| match post.split() {
                (Draft::Change(draft), post) => Some((draft, post)),
                (Draft::Message(_), _) => None,
            })
            .unzip();
        let applied = match self.store.apply(&drafts).await {
            Ok(applied) => applied,
            Err(error) => {
                tracing::error!(%error, count = drafts.len(), "changes not stored");
                refuse_all(posts);
                return;
            }
        };
        let mut fresh = Vec::with_capacity(posts.len());
        for (post, result) in posts.into_iter().zip(applied) {
            match result {
                Ok(applied) if applied.duplicate => {
                    post.reply.send(Ok(Entry::Change(applied.change).into()));
                }
                Ok(applied) => fresh.push(delivery(post, Entry::Change(applied.change))),
                Err(rejected) => {
                    post.reply.send(Err(Refusal::Rejected(rejected)));
                }
            }
        }
        self.publish(fresh);
    }

    /// Tells the other processes, then has the streams deliver and ack.
    fn publish(&self, fresh: Vec<Delivery>) {
        if fresh.is_empty() {
            return;
        }
        self.peers.entries(&mut fresh.iter().map(|d| &d.entry));
        self.streams.committed(fresh);
    }
}

fn delivery(post: Origin, entry: Entry) -> Delivery {
    Delivery {
        entry,
        sender: Some(post.sender),
        received: Some(post.received),
        ack: Some(post.reply),
    }
}

fn refuse_all(posts: Vec<Origin>) {
    for post in posts {
        post.reply.send(Err(Refusal::Unavailable));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records every outcome it is given, in order.
    #[derive(Default)]
    struct Tally(std::sync::Mutex<Vec<Result<(), String>>>);

    impl Answer for Arc<Tally> {
        fn answer(self: Box<Self>, outcome: Outcome) {
            let outcome = outcome.map(|_| ()).map_err(|refusal| refusal.code().to_string());
            self.0.lock().expect("tally").push(outcome);
        }
    }

    fn answers(tally: &Tally) -> Vec<Result<(), String>> {
        tally.0.lock().expect("tally").clone()
    }

    #[test]
    fn a_reply_answers_once_with_the_outcome_it_is_sent() {
        let tally = Arc::new(Tally::default());
        Reply::to(Arc::clone(&tally)).send(Err(Refusal::NotInRoom));
        assert_eq!(answers(&tally), [Err("not_in_room".to_string())]);
    }

    #[test]
    fn a_reply_dropped_unanswered_answers_unavailable() {
        let tally = Arc::new(Tally::default());
        drop(Reply::to(Arc::clone(&tally)));
        assert_eq!(answers(&tally), [Err("unavailable".to_string())]);
    }

    #[tokio::test]
    async fn a_waiting_task_hears_unavailable_when_its_reply_is_dropped() {
        let (sender, outcome) = oneshot::channel();
        drop(Reply::to(sender));
        let heard = outcome.await.expect("answered");
        assert_eq!(heard.map(|_| ()).map_err(|r| r.code()), Err("unavailable"));
    }
}
