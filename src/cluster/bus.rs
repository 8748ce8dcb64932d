//! The bus between processes: one Redis pub/sub channel, `PREFIX:bus`.
//! It carries committed messages and changes (the rooms' log), typing, new
//! direct conversations, hints that a publish failed, and the presence
//! changes `presence.lua` publishes. Pub/sub keeps one
//! publisher's order but not an order across publishers, so messages are
//! put in seq order by each receiver's room streams, which also fill any
//! gap from the database; the bus only has to be fast, not perfect.

use super::Link;
use crate::domain::{
    self, ChangeKind, ClientId, DisplayName, Entry, Message, MessageText, Pair, Reaction, RoomName,
    Seq, User, UserId,
};
use crate::realtime::peers::{FromPeers, Peers};
use crate::realtime::presence::{Change, ChangeSink};
use crate::store::ReadMarker;
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;
use tokio::sync::mpsc;

/// How soon to retry after the Redis link fails.
const RETRY: Duration = Duration::from_millis(250);

/// Most publishes sent in one pipeline.
const MAX_BATCH: usize = 256;

enum Outgoing {
    Entries(Vec<Entry>),
    /// An envelope not worth retrying: typing, a new conversation (its
    /// users find it in `conversations` anyway), a read marker (in `reads`).
    Plain(String),
}

/// Publishes this process's news, in the order it happened.
pub struct Publisher {
    outgoing: mpsc::UnboundedSender<Outgoing>,
    node: String,
}

impl Publisher {
    pub fn spawn(link: Arc<Link>) -> Arc<Self> {
        let (outgoing, inbox) = mpsc::unbounded_channel();
        let node = link.node.clone();
        tokio::spawn(publish_loop(link, inbox));
        Arc::new(Self { outgoing, node })
    }
}

impl Peers for Publisher {
    fn entries(&self, entries: &mut dyn Iterator<Item = &Entry>) {
        let _ = self.outgoing.send(Outgoing::Entries(entries.cloned().collect()));
    }

    fn typing(&self, room: &RoomName, user: &User, typing: bool) {
        let envelope = json!({ "k": "t", "n": self.node, "r": room, "u": user, "t": typing });
        let _ = self.outgoing.send(Outgoing::Plain(envelope.to_string()));
    }

    fn conversation(&self, pair: &Pair) {
        let envelope = json!({
            "k": "v", "n": self.node, "r": pair.room, "u": pair.users, "q": pair.last_seq
        });
        let _ = self.outgoing.send(Outgoing::Plain(envelope.to_string()));
    }

    fn read(&self, user: UserId, marker: &ReadMarker) {
        let envelope = json!({
            "k": "r", "n": self.node, "u": user, "r": marker.room, "q": marker.read_seq,
            "c": marker.unread, "l": marker.last_seq
        });
        let _ = self.outgoing.send(Outgoing::Plain(envelope.to_string()));
    }
}

/// Sends what is queued as one pipeline. When a publish of messages fails,
/// the others may never hear of them, so the room's newest seq is owed:
/// a hint is published until it gets through, and receivers read the
/// messages from the database. Typing is not worth retrying.
async fn publish_loop(link: Arc<Link>, mut inbox: mpsc::UnboundedReceiver<Outgoing>) {
    let mut redis = link.redis.clone();
    let channel = link.key("bus");
    let mut owed: HashMap<RoomName, Seq> = HashMap::new();
    let mut batch = Vec::with_capacity(MAX_BATCH);
    loop {
        if owed.is_empty() {
            if inbox.recv_many(&mut batch, MAX_BATCH).await == 0 {
                return;
            }
        } else if let Ok(0) =
            tokio::time::timeout(RETRY, inbox.recv_many(&mut batch, MAX_BATCH)).await
        {
            return;
        }
        let mut pipe = redis::pipe();
        let hints = std::mem::take(&mut owed);
        // What the others would miss if this pipeline fails.
        let mut rooms = hints.clone();
        for outgoing in batch.drain(..) {
            match outgoing {
                Outgoing::Entries(entries) => {
                    for entry in entries {
                        let envelope = match &entry {
                            Entry::Message(m) => json!({ "k": "m", "n": link.node, "m": m }),
                            Entry::Change(c) => json!({ "k": "c", "n": link.node, "c": c }),
                        };
                        pipe.cmd("PUBLISH").arg(&channel).arg(envelope.to_string()).ignore();
                        let newest = rooms.entry(entry.room().clone()).or_default();
                        *newest = (*newest).max(entry.seq());
                    }
                }
                Outgoing::Plain(envelope) => {
                    pipe.cmd("PUBLISH").arg(&channel).arg(envelope).ignore();
                }
            }
        }
        for (room, seq) in &hints {
            let hint = json!({ "k": "s", "n": link.node, "r": room, "q": seq });
            pipe.cmd("PUBLISH").arg(&channel).arg(hint.to_string()).ignore();
        }
        if let Err(error) = pipe.query_async::<()>(&mut redis).await {
            tracing::warn!(%error, "publishing to the other processes failed; they will catch up");
            link.metrics.cluster.publish_failures.fetch_add(1, Relaxed);
            owed = std::mem::take(&mut rooms);
        }
    }
}

/// Listens to the bus, and listens again whenever the link drops. After a
/// drop, anything may have been missed: the socket layer is told, so it
/// re-states presence and reads recent messages from the database.
pub fn subscribe(link: Arc<Link>, from_peers: Arc<dyn FromPeers>, changes: ChangeSink) {
    tokio::spawn(async move {
        let mut first = true;
        loop {
            match listen(&link, &from_peers, &changes, &mut first).await {
                Ok(()) => tracing::warn!("the Redis bus closed; reconnecting"),
                Err(error) => tracing::warn!(%error, "the Redis bus is unreachable; retrying"),
            }
            link.metrics.cluster.redis_connected.store(false, Relaxed);
            tokio::time::sleep(RETRY).await;
        }
    });
}

async fn listen(
    link: &Link,
    from_peers: &Arc<dyn FromPeers>,
    changes: &ChangeSink,
    first: &mut bool,
) -> redis::RedisResult<()> {
    let connect = link.client.get_async_pubsub();
    let mut pubsub =
        tokio::time::timeout(super::REDIS_TIMEOUT, connect).await.map_err(|_| {
            redis::RedisError::from(std::io::Error::from(std::io::ErrorKind::TimedOut))
        })??;
    pubsub.subscribe(link.key("bus")).await?;
    link.metrics.cluster.redis_connected.store(true, Relaxed);
    if !std::mem::take(first) {
        tracing::info!("the Redis bus is back");
        link.metrics.cluster.redis_reconnects.fetch_add(1, Relaxed);
        from_peers.reconnected();
    }
    let mut messages = pubsub.into_on_message();
    while let Some(message) = messages.next().await {
        match serde_json::from_slice::<Envelope>(message.get_payload_bytes()) {
            Ok(envelope) => dispatch(&link.node, envelope, from_peers.as_ref(), changes),
            Err(error) => tracing::warn!(%error, "unreadable bus message"),
        }
    }
    Ok(())
}

fn dispatch(node: &str, envelope: Envelope, from_peers: &dyn FromPeers, changes: &ChangeSink) {
    match envelope {
        Envelope::Presence(change) => match change.parse() {
            Some(change) => {
                let _ = changes.send(change);
            }
            None => tracing::warn!("unreadable presence change on the bus"),
        },
        // This process delivered its own news already.
        Envelope::Message { n, .. }
        | Envelope::Change { n, .. }
        | Envelope::Typing { n, .. }
        | Envelope::Hint { n, .. }
        | Envelope::Conversation { n, .. }
        | Envelope::Read { n, .. }
            if n == node => {}
        Envelope::Message { m, .. } => match m.parse() {
            Some(message) => from_peers.entry(Entry::Message(message)),
            None => tracing::warn!("unreadable message on the bus"),
        },
        Envelope::Change { c, .. } => match c.parse() {
            Some(change) => from_peers.entry(Entry::Change(change)),
            None => tracing::warn!("unreadable change on the bus"),
        },
        Envelope::Typing { r, u, t, .. } => {
            if let (Ok(room), Some(user)) = (RoomName::parse(&r), u.parse()) {
                from_peers.typing(room, user, t);
            }
        }
        Envelope::Hint { r, q, .. } => {
            if let Ok(room) = RoomName::parse(&r) {
                from_peers.hint(room, q);
            }
        }
        Envelope::Conversation { r, u: [a, b], q, .. } => {
            match (RoomName::parse(&r), a.parse(), b.parse()) {
                (Ok(room), Some(a), Some(b)) if room.is_direct() => {
                    from_peers.conversation(Pair { room, users: [a, b], last_seq: q });
                }
                _ => tracing::warn!("unreadable conversation on the bus"),
            }
        }
        Envelope::Read { u, r, q, c, l, .. } => match (UserId::from_hex(&u), RoomName::parse(&r)) {
            (Some(user), Ok(room)) => {
                from_peers.read(user, ReadMarker { room, read_seq: q, unread: c, last_seq: l });
            }
            _ => tracing::warn!("unreadable read marker on the bus"),
        },
    }
}

/// What travels on the bus; `n` is the sending node.
#[derive(Deserialize)]
#[serde(tag = "k")]
enum Envelope {
    #[serde(rename = "m")]
    Message { n: String, m: WireMessage },
    #[serde(rename = "c")]
    Change { n: String, c: WireLogChange },
    #[serde(rename = "t")]
    Typing { n: String, r: String, u: WireUser, t: bool },
    #[serde(rename = "s")]
    Hint { n: String, r: String, q: Seq },
    #[serde(rename = "p")]
    Presence(WireChange),
    /// A new direct conversation: its room, its two users, its last seq.
    #[serde(rename = "v")]
    Conversation { n: String, r: String, u: [WireUser; 2], q: Seq },
    /// A user's read marker moved: the user, room, seq and unread count.
    #[serde(rename = "r")]
    Read {
        n: String,
        u: String,
        r: String,
        q: Seq,
        c: i64,
        /// The seq `c` counts up to; absent from a node of an earlier
        /// version, whose clients then count as before.
        #[serde(default)]
        l: Seq,
    },
}

#[derive(Deserialize)]
struct WireUser {
    id: String,
    name: String,
}

impl WireUser {
    fn parse(self) -> Option<User> {
        Some(User { id: UserId::from_hex(&self.id)?, name: DisplayName::from_trusted(self.name) })
    }
}

#[derive(Deserialize)]
struct WireMessage {
    id: i64,
    room: String,
    seq: Seq,
    user: WireUser,
    /// Absent once deleted.
    #[serde(default)]
    text: String,
    ts: i64,
    #[serde(rename = "clientId")]
    client_id: Option<String>,
    #[serde(rename = "editedAt")]
    edited_at: Option<i64>,
    #[serde(default)]
    deleted: bool,
    #[serde(rename = "replyTo")]
    reply_to: Option<i64>,
    #[serde(default)]
    reactions: Vec<WireReaction>,
}

#[derive(Deserialize)]
struct WireReaction {
    emoji: String,
    count: usize,
    users: Vec<WireUser>,
}

/// A change to a message, as [`domain::Change`] serializes it.
#[derive(Deserialize)]
struct WireLogChange {
    room: String,
    seq: Seq,
    kind: String,
    user: WireUser,
    ts: i64,
    message: WireMessage,
}

impl WireLogChange {
    fn parse(self) -> Option<domain::Change> {
        Some(domain::Change {
            room: RoomName::parse(&self.room).ok()?,
            seq: self.seq,
            kind: ChangeKind::parse(&self.kind)?,
            user: self.user.parse()?,
            ts: self.ts,
            message: self.message.parse()?,
        })
    }
}

impl WireMessage {
    /// Trusted like a database row: the sending process parsed it.
    fn parse(self) -> Option<Message> {
        Some(Message {
            id: self.id,
            room: RoomName::parse(&self.room).ok()?,
            seq: self.seq,
            user: self.user.parse()?,
            text: MessageText::from_trusted(self.text),
            ts: self.ts,
            client_id: self.client_id.map(ClientId::from_trusted),
            edited_at: self.edited_at,
            deleted: self.deleted,
            reply_to: self.reply_to,
            reactions: self
                .reactions
                .into_iter()
                .map(|r| {
                    let users = r.users.into_iter().map(WireUser::parse).collect::<Option<_>>()?;
                    Some(Reaction { emoji: r.emoji, count: r.count, users })
                })
                .collect::<Option<_>>()?,
        })
    }
}

/// A presence change as `presence.lua` publishes it.
#[derive(Deserialize)]
struct WireChange {
    r: String,
    v: String,
    u: WireUser,
    j: bool,
    c: usize,
}

impl WireChange {
    fn parse(self) -> Option<Change> {
        Some(Change {
            room: RoomName::parse(&self.r).ok()?,
            ver: self.v.parse().ok()?,
            user: self.u.parse()?,
            joined: self.j,
            count: self.c,
        })
    }
}
