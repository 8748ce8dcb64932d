//! The newest messages of a room in their current state, and the newest
//! entries of its log, kept by the room's stream so that a join (plain, or
//! with a recent `since`) is answered from memory: no database read in the
//! common case, which keeps a burst of joins or reconnects fast.
//!
//! A tail is a cache, never the only copy: it may hold less than it could
//! (to stay within a byte budget, see [`Tail::fit`]), and a join it cannot
//! answer in full is answered from the database.

use super::weight;
use crate::domain::{Entry, Message, Seq};
use std::collections::VecDeque;
use std::mem::size_of;

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
    /// The room's newest messages (up to [`TAIL_LEN`]), or `None` when the
    /// tail does not hold them all: they are then read from the database.
    pub recent: Option<Vec<Message>>,
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
    /// Messages older than the ones held exist.
    has_older: bool,
    /// The newest log entries, each with its message's state after it.
    log: VecDeque<Entry>,
    /// `log` holds every entry after this seq.
    log_from: Seq,
    /// Heap bytes of `messages` and of `log` ([`weight`]).
    messages_heap: usize,
    log_heap: usize,
}

impl Tail {
    /// Starts from what the database holds: the newest messages (oldest
    /// first) with every entry up to `last` applied.
    pub fn load(newest: Vec<Message>, has_older: bool, last: Seq) -> Self {
        let messages_heap = newest.iter().map(weight::message).sum();
        let messages = newest.into();
        Self { messages, last, has_older, log_from: last, messages_heap, ..Self::default() }
    }

    /// The seq delivered last: the next one to deliver is `last() + 1`.
    pub fn last(&self) -> Seq {
        self.last
    }

    /// Bytes of memory the tail holds beyond its own inline size.
    pub fn bytes(&self) -> usize {
        self.messages.capacity() * size_of::<Message>()
            + self.log.capacity() * size_of::<Entry>()
            + self.messages_heap
            + self.log_heap
    }

    /// Takes in a just-delivered entry: a new message joins the tail, a
    /// change replaces its message's state if the tail holds it.
    pub fn push(&mut self, entry: &Entry) {
        match entry {
            Entry::Message(message) => {
                if self.messages.len() == TAIL_LEN {
                    self.pop_message();
                }
                let message = message.clone();
                self.messages_heap += weight::message(&message);
                self.messages.push_back(message);
            }
            Entry::Change(change) => {
                if let Some(held) = self.messages.iter_mut().find(|m| m.id == change.message.id) {
                    let state = change.message.clone();
                    self.messages_heap -= weight::message(held);
                    self.messages_heap += weight::message(&state);
                    *held = state;
                }
            }
        }
        if self.log.len() == LOG_LEN {
            self.pop_entry();
        }
        // Weighed as stored: a clone's vectors may have less capacity.
        self.last = entry.seq();
        let entry = entry.clone();
        self.log_heap += weight::entry(&entry);
        self.log.push_back(entry);
    }

    /// Drops the oldest of what it holds until it holds at most `budget`
    /// bytes, from the messages or the log, whichever holds more, so both
    /// kinds of join keep being answered from memory as long as they can.
    pub fn fit(&mut self, budget: usize) {
        while self.bytes() > budget && !(self.messages.is_empty() && self.log.is_empty()) {
            if self.messages_heap >= self.log_heap && !self.messages.is_empty() {
                self.pop_message();
            } else {
                self.pop_entry();
            }
        }
        if self.bytes() > budget {
            self.forget();
        }
    }

    /// Holds nothing any more but the seq delivered last (which the stream
    /// needs): the memory goes back, joins read the database until the
    /// tail fills again.
    pub fn forget(&mut self) {
        self.has_older |= !self.messages.is_empty();
        self.messages = VecDeque::new();
        self.log = VecDeque::new();
        self.log_from = self.last;
        self.messages_heap = 0;
        self.log_heap = 0;
    }

    fn pop_message(&mut self) {
        if let Some(message) = self.messages.pop_front() {
            self.messages_heap -= weight::message(&message);
            self.has_older = true;
        }
    }

    fn pop_entry(&mut self) {
        if let Some(entry) = self.log.pop_front() {
            self.log_heap -= weight::entry(&entry);
            self.log_from = entry.seq();
        }
    }

    /// What a join gets: the newest messages if it holds them all; with
    /// `since`, the entries after it if it holds them all.
    pub fn attached(&self, since: Option<Seq>) -> Attached {
        let after = since
            .filter(|since| *since >= self.log_from)
            .map(|since| self.log.iter().filter(|e| e.seq() > since).cloned().collect());
        let whole = self.messages.len() == TAIL_LEN || !self.has_older;
        let recent = match since {
            Some(_) => Some(Vec::new()),
            None => whole.then(|| self.messages.iter().cloned().collect()),
        };
        Attached { ceiling: self.last, recent, has_older: self.has_older, after }
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::domain::{Change, ChangeKind, DisplayName, MessageText, RoomName, User, UserId};

    /// A message of room `r` with this id, seq and text.
    pub fn message_with(id: i64, seq: Seq, text: &str) -> Message {
        Message {
            id,
            room: RoomName::parse("r").expect("room"),
            seq,
            user: User { id: UserId::random(), name: DisplayName::parse("a").expect("name") },
            text: MessageText::parse(text.into()).expect("text"),
            ts: 0,
            client_id: None,
            edited_at: None,
            deleted: false,
            reply_to: None,
            reactions: vec![],
        }
    }

    fn message(id: i64, seq: Seq) -> Message {
        message_with(id, seq, "t")
    }

    /// The largest message there is: 2,000 four-byte characters.
    fn largest(seq: Seq) -> Entry {
        Entry::Message(message_with(seq, seq, &"\u{1F600}".repeat(MessageText::MAX_CHARS)))
    }

    #[test]
    fn a_tail_keeps_only_the_newest_messages() {
        let mut tail = Tail::load(vec![], false, 0);
        (1..=60).for_each(|seq| tail.push(&Entry::Message(message(seq, seq))));
        let attached = tail.attached(None);
        assert_eq!(attached.ceiling, 60);
        let recent = attached.recent.expect("held");
        assert_eq!(recent.first().map(|m| m.seq), Some(11));
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
        assert_eq!((attached.ceiling, attached.recent), (2, Some(vec![edited])));
        assert!(!attached.has_older);
        let after = tail.attached(Some(1)).after.expect("held");
        assert_eq!(after.iter().map(Entry::seq).collect::<Vec<_>>(), [2]);
    }

    #[test]
    fn a_tail_over_its_budget_keeps_its_newest_entries_for_joins_with_since() {
        let mut tail = Tail::load(vec![], false, 0);
        (1..=50).for_each(|seq| tail.push(&largest(seq)));
        tail.fit(64 << 10);
        assert!(tail.bytes() <= 64 << 10);
        let attached = tail.attached(None);
        assert_eq!(attached.recent, None, "the newest 50 are not all held: read the database");
        assert!(attached.has_older);
        let after = tail.attached(Some(48)).after.expect("the newest entries are held");
        assert_eq!(after.iter().map(Entry::seq).collect::<Vec<_>>(), [49, 50]);
        assert!(tail.attached(Some(1)).after.is_none(), "entry 2 was dropped");
    }

    #[test]
    fn a_room_with_few_messages_is_answered_from_memory_even_when_empty() {
        let empty = Tail::load(vec![], false, 0);
        assert_eq!(empty.attached(None).recent, Some(vec![]));
        let mut few = Tail::load(vec![message(1, 1)], false, 1);
        few.push(&Entry::Message(message(2, 2)));
        let recent = few.attached(None).recent.expect("held");
        assert_eq!(recent.iter().map(|m| m.seq).collect::<Vec<_>>(), [1, 2]);
    }

    #[test]
    fn a_forgotten_tail_holds_nothing_and_answers_only_from_the_database() {
        let mut tail = Tail::load(vec![message(1, 1)], false, 1);
        tail.push(&Entry::Message(message(2, 2)));
        tail.forget();
        assert_eq!(tail.bytes(), 0);
        assert_eq!(tail.last(), 2);
        assert_eq!(tail.attached(None).recent, None);
        assert_eq!(tail.attached(Some(1)).after, None);
        assert_eq!(tail.attached(Some(2)).after, Some(vec![]), "nothing after the last seq");
    }

    #[test]
    fn a_tail_that_fills_again_answers_plain_joins_again() {
        let mut tail = Tail::load(vec![message(1, 1)], false, 1);
        tail.forget();
        (2..=(1 + TAIL_LEN as Seq)).for_each(|seq| tail.push(&Entry::Message(message(seq, seq))));
        assert_eq!(tail.attached(None).recent.map(|r| r.len()), Some(TAIL_LEN));
    }
}
