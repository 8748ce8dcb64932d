//! `message`: accept, rate-limit and queue a chat message, and ack it once
//! it is committed.

use super::payload::{self, MessageRequest};
use super::refusal::reply;
use super::writer::Outcome;
use super::{Conn, Hub, Refusal, typing};
use crate::domain::{Message, MessageDraft, MessageText, RoomName};
use serde::Serialize;
use socketioxide::adapter::Adapter;
use socketioxide::extract::{AckSender, State, TryData};
use socketioxide::handler::FromMessageParts;
use socketioxide::socket::{Sid, Socket};
use socketioxide::{ParserError, SocketIo};
use socketioxide_core::Value;
use std::convert::Infallible;
use std::sync::Arc;
use tokio::sync::oneshot;

#[derive(Serialize)]
struct Sent {
    message: Message,
}

/// A message already validated and queued for the writer. Queuing happens
/// in this extractor because extractors run in arrival order, while
/// handlers run as separate tasks that could overtake one another.
pub struct Queued(Result<oneshot::Receiver<Outcome>, Refusal>);

impl<A: Adapter> FromMessageParts<A> for Queued {
    type Error = Infallible;

    fn from_message_parts(
        s: &Arc<Socket<A>>,
        v: &mut Value,
        ack_id: &Option<i64>,
    ) -> Result<Self, Infallible> {
        let Ok(State(hub)) = State::<Hub<A>>::from_message_parts(s, v, ack_id) else {
            return Ok(Self(Err(Refusal::Unavailable)));
        };
        let Ok(TryData(raw)) = TryData::<serde_json::Value>::from_message_parts(s, v, ack_id);
        let conn = s.extensions.get::<Arc<Conn>>();
        Ok(Self(queue(&hub, conn.as_deref(), s.id, raw)))
    }
}

fn queue<A: Adapter>(
    hub: &Hub<A>,
    conn: Option<&Conn>,
    sender: Sid,
    raw: Result<serde_json::Value, ParserError>,
) -> Result<oneshot::Receiver<Outcome>, Refusal> {
    let request: MessageRequest = payload::parse(raw, "{ room, text, clientId? }")?;
    let room = RoomName::parse(&request.room)?;
    let conn = conn.filter(|c| c.is_in(&room)).ok_or(Refusal::NotInRoom)?;
    let text = MessageText::parse(request.text)?;
    let client_id = payload::client_id(request.client_id)?;
    let user = hub.presence.member(&room, conn.user).ok_or(Refusal::NotInRoom)?;
    conn.spend_message().map_err(|retry_after_ms| Refusal::RateLimited { retry_after_ms })?;
    Ok(hub.writer.post(MessageDraft { room, user, text, client_id }, sender))
}

pub async fn on_message<A: Adapter>(
    io: SocketIo<A>,
    State(hub): State<Hub<A>>,
    ack: AckSender<A>,
    Queued(queued): Queued,
) {
    let outcome = match queued {
        Ok(committed) => committed.await.unwrap_or(Err(Refusal::Unavailable)),
        Err(refusal) => Err(refusal),
    };
    if let Ok(message) = &outcome {
        // Sending ends typing; others should not see "is typing" linger.
        typing::stop(&hub, &io, &message.room, &message.user);
    }
    reply(ack, &hub.metrics, &outcome.map(|message| Sent { message }));
}
