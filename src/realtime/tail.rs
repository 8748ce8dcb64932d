//! The newest messages of each room, kept by the writer so that a join is
//! answered from memory: no database read in the common case, which keeps
//! a burst of joins fast.

use crate::domain::{Message, RoomName, Seq};
use std::collections::{HashMap, VecDeque};

/// Messages a plain join returns, and so how many each tail keeps.
pub const TAIL_LEN: usize = 50;

/// Past this many cached rooms the cache starts over; tails reload lazily.
const MAX_ROOMS: usize = 10_000;

/// What a joining connection gets from the writer: the room's newest
/// messages up to `ceiling`, the last seq it will not receive live.
#[derive(Debug, Clone, Default)]
pub struct Attached {
    pub ceiling: Seq,
    pub recent: Vec<Message>,
}

impl Attached {
    /// Whether `recent` holds every message after `since`.
    pub fn covers(&self, since: Seq) -> bool {
        self.recent.first().map_or(self.ceiling <= since, |m| m.seq <= since + 1)
    }

    /// Whether messages older than `recent` exist (seqs start at 1, no gaps).
    pub fn has_older(&self) -> bool {
        self.recent.first().is_some_and(|m| m.seq > 1)
    }
}

#[derive(Default)]
pub struct Tails {
    rooms: HashMap<RoomName, VecDeque<Message>>,
}

impl Tails {
    pub fn get(&self, room: &RoomName) -> Option<Attached> {
        let tail = self.rooms.get(room)?;
        let ceiling = tail.back().map_or(0, |m| m.seq);
        Some(Attached { ceiling, recent: tail.iter().cloned().collect() })
    }

    /// Starts a room's tail from what the database holds (oldest first).
    pub fn load(&mut self, room: RoomName, newest: Vec<Message>) {
        if self.rooms.len() >= MAX_ROOMS {
            self.rooms.clear();
        }
        self.rooms.insert(room, newest.into());
    }

    /// Appends a just-delivered message to its room's tail, if cached.
    pub fn push(&mut self, message: &Message) {
        if let Some(tail) = self.rooms.get_mut(&message.room) {
            if tail.len() == TAIL_LEN {
                tail.pop_front();
            }
            tail.push_back(message.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{DisplayName, MessageText, User, UserId};

    fn message(seq: Seq) -> Message {
        Message {
            id: seq,
            room: RoomName::parse("r").expect("room"),
            seq,
            user: User { id: UserId::random(), name: DisplayName::parse("a").expect("name") },
            text: MessageText::parse("t".into()).expect("text"),
            ts: 0,
            client_id: None,
        }
    }

    #[test]
    fn a_tail_keeps_only_the_newest_messages() {
        let mut tails = Tails::default();
        let room = RoomName::parse("r").expect("room");
        tails.load(room.clone(), vec![]);
        (1..=60).for_each(|seq| tails.push(&message(seq)));
        let attached = tails.get(&room).expect("cached");
        assert_eq!(attached.ceiling, 60);
        assert_eq!(attached.recent.first().map(|m| m.seq), Some(11));
        assert!(attached.has_older());
        assert!(attached.covers(10) && !attached.covers(9));
    }

    #[test]
    fn an_empty_room_covers_any_since_at_or_past_its_end() {
        let attached = Attached::default();
        assert!(attached.covers(0) && !attached.has_older());
    }
}
