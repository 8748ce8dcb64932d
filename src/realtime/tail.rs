//! The newest messages of a room, kept by the room's stream so that a join
//! is answered from memory: no database read in the common case, which
//! keeps a burst of joins fast.

use crate::domain::{Message, Seq};
use std::collections::VecDeque;

/// Messages a plain join returns, and so how many each tail keeps.
pub const TAIL_LEN: usize = 50;

/// What a joining connection gets: the room's newest messages up to
/// `ceiling`, the last seq it will not receive live.
#[derive(Debug, Clone, Default)]
pub struct Attached {
    pub ceiling: Seq,
    pub recent: Vec<Message>,
}

impl Attached {
    /// Whether `recent` holds every message after `since`. `since` comes
    /// from a client and may be as large as `Seq::MAX`.
    pub fn covers(&self, since: Seq) -> bool {
        self.recent.first().map_or(self.ceiling <= since, |m| m.seq <= since.saturating_add(1))
    }

    /// Whether messages older than `recent` exist (seqs start at 1, no gaps).
    pub fn has_older(&self) -> bool {
        self.recent.first().is_some_and(|m| m.seq > 1)
    }
}

/// A room's newest delivered messages and the seq delivered last.
#[derive(Debug, Default)]
pub struct Tail {
    messages: VecDeque<Message>,
    last: Seq,
}

impl Tail {
    /// Starts from what the database holds (oldest first).
    pub fn load(newest: Vec<Message>) -> Self {
        let last = newest.last().map_or(0, |m| m.seq);
        Self { messages: newest.into(), last }
    }

    /// The seq delivered last: the next one to deliver is `last() + 1`.
    pub fn last(&self) -> Seq {
        self.last
    }

    /// Appends a just-delivered message.
    pub fn push(&mut self, message: &Message) {
        if self.messages.len() == TAIL_LEN {
            self.messages.pop_front();
        }
        self.messages.push_back(message.clone());
        self.last = message.seq;
    }

    pub fn attached(&self) -> Attached {
        Attached { ceiling: self.last, recent: self.messages.iter().cloned().collect() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{DisplayName, MessageText, RoomName, User, UserId};

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
        let mut tail = Tail::load(vec![]);
        (1..=60).for_each(|seq| tail.push(&message(seq)));
        let attached = tail.attached();
        assert_eq!(attached.ceiling, 60);
        assert_eq!(attached.recent.first().map(|m| m.seq), Some(11));
        assert!(attached.has_older());
        assert!(attached.covers(10) && !attached.covers(9));
    }

    #[test]
    fn the_largest_since_a_client_can_send_is_covered_without_overflow() {
        let mut tail = Tail::load(vec![]);
        tail.push(&message(1));
        assert!(tail.attached().covers(Seq::MAX));
    }

    #[test]
    fn an_empty_room_covers_any_since_at_or_past_its_end() {
        let attached = Tail::load(vec![]).attached();
        assert!(attached.covers(0) && !attached.has_older());
    }
}
