//! `edit`, `delete` and `react` (contract version 2): accept a change to a
//! message, queue it for the writer like a message, and ack it with the
//! stored change once committed. The store decides who may make it.

use super::message::read_parts;
use super::payload::{self, ChangeRequest};
use super::refusal::reply;
use super::writer::{Draft, Outcome};
use super::{Conn, Hub, Refusal};
use crate::domain::{Action, Change, ChangeDraft, ChangeKind, Emoji, Entry, MessageText, RoomName};
use serde::Serialize;
use socketioxide::ParserError;
use socketioxide::adapter::Adapter;
use socketioxide::extract::{AckSender, State};
use socketioxide::handler::FromMessageParts;
use socketioxide::socket::{Sid, Socket};
use socketioxide_core::Value;
use std::convert::Infallible;
use std::marker::PhantomData;
use std::sync::Arc;
use tokio::sync::oneshot;

/// The ok answer: `{ ok, change }`.
#[derive(Serialize)]
struct Changed {
    change: Change,
}

/// Which change an extractor reads.
pub trait Kind: Send + Sync + 'static {
    const KIND: ChangeKind;
}

pub struct EditKind;
pub struct DeleteKind;
pub struct ReactKind;

impl Kind for EditKind {
    const KIND: ChangeKind = ChangeKind::Edit;
}
impl Kind for DeleteKind {
    const KIND: ChangeKind = ChangeKind::Delete;
}
impl Kind for ReactKind {
    const KIND: ChangeKind = ChangeKind::React;
}

/// A change validated and queued for the writer, or why it was refused.
/// Queuing happens in an extractor because extractors run in arrival order,
/// while handlers run as separate tasks that could overtake one another.
pub struct QueuedChange<K>(Queued, PhantomData<K>);

type Queued = Result<oneshot::Receiver<Outcome>, Refusal>;

impl<A: Adapter, K: Kind> FromMessageParts<A> for QueuedChange<K> {
    type Error = Infallible;

    fn from_message_parts(
        s: &Arc<Socket<A>>,
        v: &mut Value,
        ack_id: &Option<i64>,
    ) -> Result<Self, Infallible> {
        let Some((hub, raw, conn)) = read_parts(s, v, ack_id) else {
            return Ok(Self(Err(Refusal::Unavailable), PhantomData));
        };
        Ok(Self(queue(&hub, conn.as_deref(), s.id, K::KIND, raw), PhantomData))
    }
}

fn queue<A: Adapter>(
    hub: &Hub<A>,
    conn: Option<&Conn>,
    sender: Sid,
    kind: ChangeKind,
    raw: Result<serde_json::Value, ParserError>,
) -> Result<oneshot::Receiver<Outcome>, Refusal> {
    let shape = match kind {
        ChangeKind::Edit => "{ room, id, text, clientId? }",
        ChangeKind::Delete => "{ room, id, clientId? }",
        ChangeKind::React => "{ room, id, emoji, clientId? }",
    };
    let request: ChangeRequest = payload::parse(raw, shape)?;
    let room = RoomName::parse(&request.room)?;
    let conn = conn.filter(|c| c.is_in(&room)).ok_or_else(|| Refusal::outside(&room))?;
    let missing = || Refusal::BadRequest(format!("expected {shape}"));
    let action = match kind {
        ChangeKind::Edit => Action::Edit(MessageText::parse(request.text.ok_or_else(missing)?)?),
        ChangeKind::Delete => Action::Delete,
        ChangeKind::React => Action::React(Emoji::parse(&request.emoji.ok_or_else(missing)?)?),
    };
    let client_id = payload::client_id(request.client_id)?;
    let user = hub.presence.member(&room, conn.user).ok_or_else(|| Refusal::outside(&room))?;
    conn.spend_message().map_err(|retry_after_ms| Refusal::RateLimited { retry_after_ms })?;
    let message_id = payload::id(request.id);
    let draft = ChangeDraft { room, user, message_id, action, client_id };
    Ok(hub.writer.post(Draft::Change(draft), sender))
}

async fn answer<A: Adapter>(hub: &Hub<A>, ack: AckSender<A>, queued: Queued) {
    let outcome = match queued {
        Ok(committed) => committed.await.unwrap_or(Err(Refusal::Unavailable)),
        Err(refusal) => Err(refusal),
    };
    let changed = outcome.and_then(|stored| match stored.entry {
        Entry::Change(change) => Ok(Changed { change }),
        Entry::Message(_) => Err(Refusal::Unavailable),
    });
    reply(ack, &hub.metrics, &changed);
}

pub async fn on_edit<A: Adapter>(
    State(hub): State<Hub<A>>,
    ack: AckSender<A>,
    QueuedChange(queued, _): QueuedChange<EditKind>,
) {
    answer(&hub, ack, queued).await;
}

pub async fn on_delete<A: Adapter>(
    State(hub): State<Hub<A>>,
    ack: AckSender<A>,
    QueuedChange(queued, _): QueuedChange<DeleteKind>,
) {
    answer(&hub, ack, queued).await;
}

pub async fn on_react<A: Adapter>(
    State(hub): State<Hub<A>>,
    ack: AckSender<A>,
    QueuedChange(queued, _): QueuedChange<ReactKind>,
) {
    answer(&hub, ack, queued).await;
}
