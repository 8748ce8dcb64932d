//! A chat message, before and after it is stored, in its current state.

use super::{ClientId, MessageText, RoomName, User};
use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};

/// A position in a room's log: strictly increasing from 1. Every entry of
/// the log (a new message, an edit, a delete, a reaction) takes the next
/// one, so a message's seqs have gaps where changes happened.
pub type Seq = i64;

/// A message accepted from a client, not yet stored.
#[derive(Debug, Clone)]
pub struct MessageDraft {
    pub room: RoomName,
    pub user: User,
    pub text: MessageText,
    pub client_id: Option<ClientId>,
    /// The id of the message of the same room this one answers.
    pub reply_to: Option<i64>,
}

/// One emoji on a message and who put it there, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reaction {
    pub emoji: String,
    pub count: usize,
    pub users: Vec<User>,
}

/// A stored message in its current state, as version 2 clients receive it.
/// [`Message::v1`] is the form version 1 clients get.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Unique across all rooms.
    pub id: i64,
    pub room: RoomName,
    /// The seq the message was created with.
    pub seq: Seq,
    pub user: User,
    /// Empty once the message is deleted: the text is gone from storage.
    pub text: MessageText,
    /// Server time, milliseconds since the epoch.
    pub ts: i64,
    pub client_id: Option<ClientId>,
    /// When the text was last edited.
    pub edited_at: Option<i64>,
    pub deleted: bool,
    pub reply_to: Option<i64>,
    pub reactions: Vec<Reaction>,
}

impl Message {
    /// The version 1 shape: `{ id, room, seq, user, text, ts, clientId? }`.
    pub fn v1(&self) -> MessageV1<'_> {
        MessageV1(self)
    }

    fn base<M: SerializeMap>(&self, map: &mut M) -> Result<(), M::Error> {
        map.serialize_entry("id", &self.id)?;
        map.serialize_entry("room", &self.room)?;
        map.serialize_entry("seq", &self.seq)?;
        map.serialize_entry("user", &self.user)?;
        if !self.deleted {
            map.serialize_entry("text", &self.text)?;
        }
        map.serialize_entry("ts", &self.ts)?;
        if let Some(client_id) = &self.client_id {
            map.serialize_entry("clientId", client_id)?;
        }
        Ok(())
    }
}

/// Version 2: a deleted message has no `text` but `deleted: true`; the
/// other new fields appear when they say something.
impl Serialize for Message {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        self.base(&mut map)?;
        if let Some(edited_at) = self.edited_at {
            map.serialize_entry("editedAt", &edited_at)?;
        }
        if self.deleted {
            map.serialize_entry("deleted", &true)?;
        }
        if let Some(reply_to) = self.reply_to {
            map.serialize_entry("replyTo", &reply_to)?;
        }
        map.serialize_entry("reactions", &self.reactions)?;
        map.end()
    }
}

/// A message as version 1 clients know it (never a deleted one: version 1
/// clients are not sent those).
pub struct MessageV1<'a>(&'a Message);

impl Serialize for MessageV1<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        self.0.base(&mut map)?;
        map.end()
    }
}
