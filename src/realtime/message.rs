//! `message`: accept, rate-limit and queue a chat message, and ack it once
//! it is committed.

use super::fanout::Encodings;
use super::payload::{self, MessageRequest};
use super::refusal::{accept, reply};
use super::writer::{Answer, Draft, Outcome, Reply};
use super::{Conn, Hub, Refusal, typing};
use crate::domain::{Entry, Message, MessageDraft, MessageText, MessageV1, RoomName};
use crate::metrics::Metrics;
use serde::Serialize;
use serde_json::value::RawValue;
use socketioxide::adapter::Adapter;
use socketioxide::extract::{AckSender, State, TryData};
use socketioxide::handler::FromMessageParts;
use socketioxide::socket::Socket;
use socketioxide::{ParserError, SocketIo};
use socketioxide_core::Value;
use std::sync::Arc;

/// The ok answer, `{ ok: true, message }`: the stored message in the
/// sender's contract version.
#[derive(Serialize)]
struct Sent<'a> {
    ok: bool,
    message: Form<'a>,
}

/// The message as its sender's version shows it: the very bytes the room
/// stream sent the other connections of that version when it has them
/// (most acks), else encoded here.
#[derive(Serialize)]
#[serde(untagged)]
enum Form<'a> {
    Encoded(&'a RawValue),
    V1(MessageV1<'a>),
    V2(&'a Message),
}

impl<'a> Form<'a> {
    fn of(message: &'a Message, encodings: &'a Encodings, v2: bool) -> Self {
        let encoded = if v2 { &encodings.v2 } else { &encodings.v1 };
        match encoded {
            Some(raw) => Self::Encoded(raw),
            None if v2 => Self::V2(message),
            None => Self::V1(message.v1()),
        }
    }
}

/// What queuing a message or change reads: the hub, the raw payload and
/// the sender's connection.
pub(super) type Parts<A> = (Hub<A>, Result<serde_json::Value, ParserError>, Option<Arc<Conn>>);

/// The event's [`Parts`]; `None` if the hub is missing.
pub(super) fn read_parts<A: Adapter>(
    s: &Arc<Socket<A>>,
    v: &mut Value,
    ack_id: &Option<i64>,
) -> Option<Parts<A>> {
    let State(hub) = State::<Hub<A>>::from_message_parts(s, v, ack_id).ok()?;
    let Ok(TryData(raw)) = TryData::<serde_json::Value>::from_message_parts(s, v, ack_id);
    Some((hub, raw, s.extensions.get::<Arc<Conn>>()))
}

fn queue<A: Adapter>(
    hub: &Hub<A>,
    io: &SocketIo<A>,
    conn: Option<&Conn>,
    raw: Result<serde_json::Value, ParserError>,
) -> Result<MessageDraft, Refusal> {
    let request: MessageRequest = payload::parse(raw, "{ room, text, clientId?, replyTo? }")?;
    let room = RoomName::parse(&request.room)?;
    let conn = conn.filter(|c| c.is_in(&room)).ok_or_else(|| Refusal::outside(&room))?;
    let text = MessageText::parse(request.text)?;
    let client_id = payload::client_id(request.client_id)?;
    let reply_to = request.reply_to.map(payload::id);
    let user = hub.presence.member(&room, conn.user).ok_or_else(|| Refusal::outside(&room))?;
    conn.spend_message().map_err(|retry_after_ms| Refusal::RateLimited { retry_after_ms })?;
    // Sending ends typing, at once and in arrival order: ended only once
    // the message committed, it would also end a spell the sender began
    // after sending (typing ahead while a slow commit is in flight).
    typing::stop(hub, io, &room, &user);
    Ok(MessageDraft { room, user, text, client_id, reply_to })
}

/// `message`, handled where it is read, with no task of its own: it is
/// checked and queued for the writer at once (so in arrival order), and
/// its ack is sent by whoever learns the outcome ([`MessageAck`]). A task
/// per message only waited for that outcome, and cost a spawn, two polls
/// and a channel each (bench S2).
pub fn on_message<A: Adapter>(s: Arc<Socket<A>>, mut v: Value, ack_id: Option<i64>) {
    let Ok(ack) = AckSender::<A>::from_message_parts(&s, &mut v, &ack_id);
    let Some((hub, raw, conn)) = read_parts(&s, &mut v, &ack_id) else {
        let _ = ack.send(&Refusal::Unavailable.to_json());
        return;
    };
    let v2 = conn.as_ref().is_some_and(|c| c.v2());
    let reply = Reply::to(MessageAck { ack, v2, metrics: Arc::clone(&hub.metrics) });
    let Ok(io) = SocketIo::<A>::from_message_parts(&s, &mut v, &ack_id);
    match queue(&hub, &io, conn.as_deref(), raw) {
        Ok(draft) => hub.writer.post_to(Draft::Message(draft), s.id, reply),
        Err(refusal) => reply.send(Err(refusal)),
    }
}

/// A message's ack, answered with its outcome: the stored message, or why
/// it was refused.
struct MessageAck<A: Adapter> {
    ack: AckSender<A>,
    v2: bool,
    metrics: Arc<Metrics>,
}

impl<A: Adapter> Answer for MessageAck<A> {
    fn answer(self: Box<Self>, outcome: Outcome) {
        let Self { ack, v2, metrics } = *self;
        let outcome = outcome.and_then(|stored| match stored.entry {
            Entry::Message(message) => Ok((message, stored.encodings)),
            Entry::Change(_) => Err(Refusal::Unavailable),
        });
        match outcome {
            Ok((message, encodings)) => {
                accept(ack, &Sent { ok: true, message: Form::of(&message, &encodings, v2) });
            }
            Err(refusal) => reply(ack, &metrics, &Err::<(), _>(refusal)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::realtime::tail::tests::message_with;

    /// A stored message whose text needs escaping.
    fn stored() -> Message {
        message_with(7, 3, "hello \"there\"")
    }

    fn ack(message: &Message, encodings: &Encodings, v2: bool) -> serde_json::Value {
        let sent = Sent { ok: true, message: Form::of(message, encodings, v2) };
        serde_json::to_value(&sent).expect("serialized")
    }

    /// Bytes no encoding of [`stored`] produces: an ack that shows them
    /// took them from the room stream, not from encoding the message again.
    fn marked() -> Option<Arc<RawValue>> {
        Some(RawValue::from_string(r#"{"sentToTheRoom":true}"#.into()).expect("JSON").into())
    }

    #[test]
    fn an_ack_sends_the_bytes_the_room_was_sent_in_the_senders_version() {
        let message = stored();
        let v1 = Encodings { v1: marked(), v2: None };
        let sent = Sent { ok: true, message: Form::of(&message, &v1, false) };
        let json = serde_json::to_string(&sent).expect("serialized");
        assert_eq!(json, r#"{"ok":true,"message":{"sentToTheRoom":true}}"#);
        let v2 = Encodings { v1: None, v2: marked() };
        assert_eq!(ack(&message, &v2, true)["message"]["sentToTheRoom"], true);
    }

    #[test]
    fn an_ack_without_the_rooms_bytes_encodes_the_message_in_the_senders_version() {
        let message = stored();
        let none = Encodings::default();
        assert_eq!(
            ack(&message, &none, false)["message"],
            serde_json::to_value(message.v1()).expect("v1")
        );
        assert_eq!(
            ack(&message, &none, true)["message"],
            serde_json::to_value(&message).expect("v2")
        );
        assert_eq!(ack(&message, &none, true)["ok"], true);
    }

    #[test]
    fn a_sender_never_gets_the_other_versions_bytes() {
        let message = stored();
        let v1_only = Encodings { v1: marked(), v2: None };
        assert_eq!(
            ack(&message, &v1_only, true)["message"],
            serde_json::to_value(&message).expect("v2")
        );
        let v2_only = Encodings { v1: None, v2: marked() };
        assert_eq!(
            ack(&message, &v2_only, false)["message"],
            serde_json::to_value(message.v1()).expect("v1")
        );
    }
}
