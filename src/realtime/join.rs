//! `join` and `leave`: entering a room (with its people and history) and
//! leaving it.

use super::history::Shown;
use super::payload::{self, JoinRequest, RoomRequest};
use super::presence::Departure;
use super::refusal::{Done, reply};
use super::tail::TAIL_LEN;
use super::{Conn, Hub, Refusal, direct, groups, typing};
use crate::domain::{Change, DisplayName, Entry, Message, RoomName, Seq, User};
use crate::store::Slice;
use serde::Serialize;
use socketioxide::adapter::Adapter;
use socketioxide::extract::{AckSender, SocketRef, State, TryData};
use socketioxide::{ParserError, SocketIo};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// Most messages a join with `since` returns (a plain join returns the
/// room's newest [`TAIL_LEN`]).
const CATCH_UP_LIMIT: u32 = 500;

#[derive(Serialize)]
struct Joined {
    room: RoomName,
    you: User,
    users: Vec<User>,
    count: usize,
    history: Shown,
    /// Version 2 with `since`: the changes after it to older messages.
    #[serde(skip_serializing_if = "Option::is_none")]
    changes: Option<Vec<Change>>,
    #[serde(rename = "hasMore")]
    has_more: bool,
    /// Version 2: the user's read marker in the room.
    #[serde(rename = "readSeq", skip_serializing_if = "Option::is_none")]
    read_seq: Option<Seq>,
    #[serde(skip_serializing_if = "Option::is_none")]
    unread: Option<i64>,
    /// Version 2: the room's newest seq when `unread` was counted.
    #[serde(rename = "lastSeq", skip_serializing_if = "Option::is_none")]
    last_seq: Option<Seq>,
}

/// What a join answers with besides people.
struct CaughtUp {
    history: Vec<Message>,
    changes: Vec<Change>,
    has_more: bool,
}

pub async fn on_join<A: Adapter>(
    s: SocketRef<A>,
    State(hub): State<Hub<A>>,
    TryData(raw): TryData<serde_json::Value>,
    ack: AckSender<A>,
) {
    let result = join(&s, &hub, raw).await;
    reply(ack, &hub.metrics, &result);
}

async fn join<A: Adapter>(
    s: &SocketRef<A>,
    hub: &Hub<A>,
    raw: Result<serde_json::Value, ParserError>,
) -> Result<Joined, Refusal> {
    let request: JoinRequest = payload::parse(raw, "{ room, name, since? }")?;
    let room = RoomName::parse(&request.room)?;
    let name = DisplayName::parse(&request.name)?;
    let conn = conn_of(s)?;
    let entering = conn.start_entering(&room)?;
    // After the limits, so guessing direct rooms is as slow as joining.
    direct::admit(hub, &room, conn.user).await?;
    let (you, view) = hub.presence.join(&room, conn.user, name, s.id).await?;
    // Presence changes up to the view's version are in this ack; the relay
    // sends this connection only the ones after it.
    let entered = conn.enter(&room, view.ver);
    drop(entering);
    let since = request.since.map(payload::seq);
    match catch_up(s, hub, &room, since).await {
        Ok(CaughtUp { history, changes, has_more }) => {
            hub.replay_presence(s.clone(), room.clone());
            direct::note_name(hub, &room, &you).await;
            let count = view.count();
            let history = Shown::new(history, conn.v2());
            let changes = (conn.v2() && since.is_some()).then_some(changes);
            let marker = if conn.v2() {
                // A failure here costs the join nothing but its unread count.
                hub.store.read_marker(conn.user, &room).await.ok()
            } else {
                None
            };
            let (read_seq, unread, last_seq) = match marker {
                Some(m) => (Some(m.read_seq), Some(m.unread), Some(m.last_seq)),
                None => (None, None, None),
            };
            Ok(Joined {
                room,
                you,
                users: view.users,
                count,
                history,
                changes,
                has_more,
                read_seq,
                unread,
                last_seq,
            })
        }
        Err(refusal) => {
            if entered {
                conn.exit(&room);
                groups::leave(s, room.to_string());
                hub.presence.leave(&room, conn.user, s.id, Departure::Now);
            }
            Err(refusal)
        }
    }
}

/// Joins the broadcast group and answers with the history that ends where
/// live delivery begins: from the stream's in-memory tail when it reaches
/// back far enough, from the room's log in the database otherwise.
async fn catch_up<A: Adapter>(
    s: &SocketRef<A>,
    hub: &Hub<A>,
    room: &RoomName,
    since: Option<Seq>,
) -> Result<CaughtUp, Refusal> {
    let attached = hub.streams.attach(s.clone(), room.clone(), since).await?;
    let ceiling = attached.ceiling;
    let Some(since) = since else {
        return match attached.recent {
            Some(history) => {
                Ok(CaughtUp { history, changes: vec![], has_more: attached.has_older })
            }
            None => newest(hub, room, ceiling).await,
        };
    };
    if let Some(after) = attached.after {
        let (history, changes) = split(after, since);
        return Ok(CaughtUp { history, changes, has_more: false });
    }
    let page = hub.store.log(room, since, CATCH_UP_LIMIT).await?;
    let fetched = page.entries.len();
    let mut entries = page.entries;
    entries.retain(|e| e.seq() <= ceiling);
    // The log has no gaps, so more remain below the ceiling exactly when
    // the page was full and stopped short of it.
    let last = entries.last().map_or(since, Entry::seq);
    let has_more = page.has_more && entries.len() == fetched && last < ceiling;
    let (history, changes) = split(entries, since);
    Ok(CaughtUp { history, changes, has_more })
}

/// The room's newest messages up to `ceiling`, from the database. Their
/// state may already show changes after it, which the connection also
/// receives live: a change carries the message's whole state, so receiving
/// it again changes nothing.
async fn newest<A: Adapter>(
    hub: &Hub<A>,
    room: &RoomName,
    ceiling: Seq,
) -> Result<CaughtUp, Refusal> {
    let page = hub.store.read(room, Slice::Before(ceiling + 1), TAIL_LEN as u32).await?;
    Ok(CaughtUp { history: page.messages, changes: vec![], has_more: page.has_more })
}

/// The messages created after `since` and the changes to older messages,
/// the newest one per message, in seq order; every message in its latest
/// state among `entries`.
fn split(entries: Vec<Entry>, since: Seq) -> (Vec<Message>, Vec<Change>) {
    let latest: HashMap<i64, Message> =
        entries.iter().map(|e| (e.message().id, e.message().clone())).collect();
    let mut history = Vec::new();
    let mut changes = Vec::new();
    for entry in entries {
        match entry {
            Entry::Message(message) => {
                history.push(latest.get(&message.id).cloned().unwrap_or(message));
            }
            Entry::Change(change) if change.message.seq <= since => changes.push(change),
            Entry::Change(_) => {} // its message is in `history`, as it is now
        }
    }
    let mut seen = HashSet::new();
    changes.reverse();
    changes.retain(|c| seen.insert(c.message.id));
    changes.reverse();
    (history, changes)
}

pub async fn on_leave<A: Adapter>(
    s: SocketRef<A>,
    io: SocketIo<A>,
    State(hub): State<Hub<A>>,
    TryData(raw): TryData<serde_json::Value>,
    ack: AckSender<A>,
) {
    let result = leave(&s, &io, &hub, raw).await;
    reply(ack, &hub.metrics, &result);
}

async fn leave<A: Adapter>(
    s: &SocketRef<A>,
    io: &SocketIo<A>,
    hub: &Hub<A>,
    raw: Result<serde_json::Value, ParserError>,
) -> Result<Done, Refusal> {
    let request: RoomRequest = payload::parse(raw, "{ room }")?;
    let room = RoomName::parse(&request.room)?;
    let conn = conn_of(s)?;
    let user = hub.presence.member(&room, conn.user);
    if !conn.exit(&room) {
        return Err(Refusal::outside(&room));
    }
    groups::leave(s, room.to_string());
    let Some(user) = user else {
        return Ok(Done {});
    };
    typing::stop(hub, io, &room, &user);
    // Answered once the room agrees, so the name is free when the ack comes.
    let released = hub.presence.leave(&room, conn.user, s.id, Departure::Now);
    if let Some(released) = released {
        // A failure is logged, and repaired when the directory is back.
        let _ = released.await;
    }
    Ok(Done {})
}

pub fn conn_of<A: Adapter>(s: &SocketRef<A>) -> Result<Arc<Conn>, Refusal> {
    s.extensions.get::<Arc<Conn>>().ok_or(Refusal::Unavailable)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ChangeKind;
    use crate::realtime::tail::tests::message_with as message;

    fn edit(seq: Seq, message: Message) -> Entry {
        let user = message.user.clone();
        let room = message.room.clone();
        Entry::Change(Change { room, seq, kind: ChangeKind::Edit, user, ts: 0, message })
    }

    #[test]
    fn a_catch_up_gives_new_messages_as_they_are_now_and_one_change_per_older_message() {
        let entries = vec![
            edit(11, message(1, 1, "old, edited")),
            Entry::Message(message(2, 12, "new")),
            edit(13, message(1, 1, "old, edited twice")),
            edit(14, message(2, 12, "new, edited")),
        ];
        let (history, changes) = split(entries, 10);
        assert_eq!(
            history.iter().map(|m| (m.seq, m.text.as_str())).collect::<Vec<_>>(),
            [(12, "new, edited")]
        );
        assert_eq!(
            changes.iter().map(|c| (c.seq, c.message.text.as_str())).collect::<Vec<_>>(),
            [(13, "old, edited twice")]
        );
    }
}
