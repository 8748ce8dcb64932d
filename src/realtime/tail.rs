//! The newest messages of a room in their current state, and the newest
//! entries of its log, kept by the room's stream so that a join (plain, or
//! with a recent `since`) is answered from memory: no database read in the
//! common case, which keeps a burst of joins or reconnects fast.

use crate::domain::{Entry, Message, Seq};
use std::collections::VecDeque;

/// Messages a plain join returns, and so how many each tail keeps.
pub const TAIL_LEN: usize = 50;

/// Log entries each tail keeps for joins with `since`: as many as the
/// messages it keeps, so a reconnect within the last 50 entries is
/// answered from memory, while a room's tail stays small.
const LOG_LEN: usize = TAIL_LEN;

/// What a joining connection gets: the room's newest messages, in their
/// state as of `ceiling`, the last seq of the log it will not receive live.
#[derive(Debug, Clone, Default)]
pub struct Attached {
    pub ceiling: Seq,
    pub recent: Vec<Message>,
    /// Messages older than `recent` exist.
    pub has_older: bool,
    /// Every log entry after the `since` asked for, up to `ceiling`, if
    /// the tail still holds them all.
    pub after: Option<Vec<Entry>>,
}

/// A room's newest delivered messages and the log seq delivered last.
#[derive(Debug, Default)]
pub struct Tail {
    messages: VecDeque<Message>,
    last: Seq,
    has_older: bool,
    /// The newest log entries, each with its message's state after it.
    log: VecDeque<Entry>,
    /// `log` holds every entry after this seq.
    log_from: Seq,
}

impl Tail {
    /// Starts from what the database holds: the newest messages (oldest
    /// first) with every entry up to `last` applied.
    pub fn load(newest: Vec<Message>, has_older: bool, last: Seq) -> Self {
        Self { messages: newest.into(), last, has_older, log: VecDeque::new(), log_from: last }
    }

    /// The seq delivered last: the next one to deliver is `last() + 1`.
    pub fn last(&self) -> Seq {
        self.last
    }

    /// Takes in a just-delivered entry: a new message joins the tail, a
    /// change replaces its message's state if the tail holds it.
    pub fn push(&mut self, entry: &Entry) {
        match entry {
            Entry::Message(message) => {
                if self.messages.len() == TAIL_LEN {
                    self.messages.pop_front();
                    self.has_older = true;
                }
                self.messages.push_back(message.clone());
            }
            Entry::Change(change) => {
                if let Some(held) = self.messages.iter_mut().find(|m| m.id == change.message.id) {
                    *held = change.message.clone();
                }
            }
        }
        if self.log.len() == LOG_LEN {
            self.log_from = self.log.pop_front().map_or(self.log_from, |e| e.seq());
        }
        self.log.push_back(entry.clone());
        self.last = entry.seq();
    }

    /// What a join gets; with `since`, the entries after it when held.
    pub fn attached(&self, since: Option<Seq>) -> Attached {
        let after = since
            .filter(|since| *since >= self.log_from)
            .map(|since| self.log.iter().filter(|e| e.seq() > since).cloned().collect());
        let recent = match since {
            Some(_) => Vec::new(),
            None => self.messages.iter().cloned().collect(),
        };
        Attached { ceiling: self.last, recent, has_older: self.has_older, after }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Change, ChangeKind, DisplayName, MessageText, RoomName, User, UserId};

    fn message(id: i64, seq: Seq) -> Message {
        Message {
            id,
            room: RoomName::parse("r").expect("room"),
            seq,
            user: User { id: UserId::random(), name: DisplayName::parse("a").expect("name") },
            text: MessageText::parse("t".into()).expect("text"),
            ts: 0,
            client_id: None,
            edited_at: None,
            deleted: false,
            reply_to: None,
            reactions: vec![],
        }
    }

    #[test]
    fn a_tail_keeps_only_the_newest_messages() {
        let mut tail = Tail::load(vec![], false, 0);
        (1..=60).for_each(|seq| tail.push(&Entry::Message(message(seq, seq))));
        let attached = tail.attached(None);
        assert_eq!(attached.ceiling, 60);
        assert_eq!(attached.recent.first().map(|m| m.seq), Some(11));
        assert!(attached.has_older);
    }

    #[test]
    fn a_since_older_than_the_held_log_is_not_answered_from_memory() {
        let mut tail = Tail::load(vec![], false, 7);
        (8..=(8 + LOG_LEN as Seq)).for_each(|seq| tail.push(&Entry::Message(message(seq, seq))));
        assert!(tail.attached(Some(7)).after.is_none(), "entry 8 was evicted");
        assert!(tail.attached(Some(6)).after.is_none(), "before the tail was loaded");
        let after = tail.attached(Some(8)).after.expect("held");
        assert_eq!(after.len(), LOG_LEN);
        assert_eq!(tail.attached(Some(8 + LOG_LEN as Seq)).after, Some(vec![]));
    }

    #[test]
    fn a_change_updates_the_message_it_holds_and_advances_the_log() {
        let mut tail = Tail::load(vec![message(1, 1)], false, 1);
        let mut edited = message(1, 1);
        edited.edited_at = Some(5);
        let user = edited.user.clone();
        let room = edited.room.clone();
        tail.push(&Entry::Change(Change {
            room,
            seq: 2,
            kind: ChangeKind::Edit,
            user,
            ts: 5,
            message: edited.clone(),
        }));
        let attached = tail.attached(None);
        assert_eq!((attached.ceiling, attached.recent), (2, vec![edited]));
        assert!(!attached.has_older);
        let after = tail.attached(Some(1)).after.expect("held");
        assert_eq!(after.iter().map(Entry::seq).collect::<Vec<_>>(), [2]);
    }
}
