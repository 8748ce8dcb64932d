//! The rooms a process's stream follows, with their tails kept within a
//! memory budget. A tail is only a cache of what the database holds, so
//! the budget never costs a guarantee, only database reads: each tail holds
//! at most [`Budget::room`] bytes, all tails together at most
//! [`Budget::total`] (past it, the tails of the rooms used least recently
//! are emptied), and rooms nobody here is in are dropped once many are
//! followed. What stays of an emptied or idle room is its last delivered
//! seq, a few hundred bytes.

use super::stream::Delivery;
use super::tail::{Attached, Tail};
use crate::domain::{Entry, RoomName, Seq};
use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

/// How much memory tails may hold.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    /// Bytes one room's tail may hold: 128 KiB is the 50 messages and 50
    /// log entries of a busy room of everyday messages; a room of the
    /// largest ones (8 KB each) keeps its newest few.
    pub room: usize,
    /// Bytes all tails together may hold.
    pub total: usize,
    /// Past this many followed rooms, the rooms nobody here is in are
    /// dropped (they reload from the database on the next join).
    pub rooms: usize,
}

impl Default for Budget {
    fn default() -> Self {
        Self { room: 128 << 10, total: 64 << 20, rooms: 10_000 }
    }
}

/// One followed room: its tail and the messages that came too early.
pub struct Room {
    tail: Tail,
    pub early: BTreeMap<Seq, Delivery>,
    /// When the current gap was first seen.
    pub gap_since: Option<Instant>,
    /// When it was last used (a delivery or a join), on [`Followed`]'s clock.
    used: u64,
}

impl Room {
    /// The seq delivered last: the next one to deliver is `last() + 1`.
    pub fn last(&self) -> Seq {
        self.tail.last()
    }
}

pub struct Followed {
    rooms: HashMap<RoomName, Room>,
    budget: Budget,
    /// What all tails hold, in bytes.
    bytes: usize,
    /// Counts uses, to find the rooms used least recently.
    clock: u64,
    /// How many rooms may be followed before idle ones are dropped: it
    /// doubles past the budget when every room is busy, so that the rooms
    /// are not all checked again at each new one.
    prune_at: usize,
}

impl Followed {
    pub fn new(budget: Budget) -> Self {
        let prune_at = budget.rooms;
        Self { rooms: HashMap::new(), budget, bytes: 0, clock: 0, prune_at }
    }

    pub fn get(&self, room: &RoomName) -> Option<&Room> {
        self.rooms.get(room)
    }

    pub fn get_mut(&mut self, room: &RoomName) -> Option<&mut Room> {
        self.rooms.get_mut(room)
    }

    pub fn names(&self) -> Vec<RoomName> {
        self.rooms.keys().cloned().collect()
    }

    /// How many rooms are followed.
    pub fn count(&self) -> usize {
        self.rooms.len()
    }

    /// Bytes all tails hold.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Adds a just-delivered entry to its room's tail, if the room is
    /// followed, keeping within the budget.
    pub fn push(&mut self, entry: &Entry) {
        self.clock += 1;
        let Some(room) = self.rooms.get_mut(entry.room()) else {
            return;
        };
        let before = room.tail.bytes();
        room.tail.push(entry);
        room.tail.fit(self.budget.room);
        room.used = self.clock;
        self.bytes = self.bytes - before + room.tail.bytes();
        self.keep_total();
    }

    /// What a join of a followed room gets (see [`Tail::attached`]).
    pub fn attached(&mut self, room: &RoomName, since: Option<Seq>) -> Option<Attached> {
        self.clock += 1;
        let room = self.rooms.get_mut(room)?;
        room.used = self.clock;
        Some(room.tail.attached(since))
    }

    /// Follows a room from `tail` on. Past [`Budget::rooms`], first drops
    /// every room for which `idle` says nobody here is in it.
    pub fn insert(&mut self, name: RoomName, mut tail: Tail, idle: impl Fn(&RoomName) -> bool) {
        if self.rooms.len() >= self.prune_at {
            self.retain(|name, room| !room.early.is_empty() || !idle(name));
            self.prune_at = self.budget.rooms.max(2 * self.rooms.len());
        }
        self.clock += 1;
        tail.fit(self.budget.room);
        self.bytes += tail.bytes();
        let room = Room { tail, early: BTreeMap::new(), gap_since: None, used: self.clock };
        if let Some(replaced) = self.rooms.insert(name, room) {
            self.bytes -= replaced.tail.bytes();
        }
        self.keep_total();
    }

    /// Keeps only the rooms `keep` says to.
    pub fn retain(&mut self, mut keep: impl FnMut(&RoomName, &Room) -> bool) {
        let mut dropped = 0;
        self.rooms.retain(|name, room| {
            let kept = keep(name, room);
            dropped += if kept { 0 } else { room.tail.bytes() };
            kept
        });
        self.bytes -= dropped;
    }

    /// Past the total budget, empties the tails of the rooms used least
    /// recently, down to three quarters of it, so that this sort is rare:
    /// at least a quarter of the budget must be delivered again first.
    fn keep_total(&mut self) {
        if self.bytes <= self.budget.total {
            return;
        }
        let mut by_use: Vec<(u64, RoomName)> = self
            .rooms
            .iter()
            .filter(|(_, room)| room.tail.bytes() > 0)
            .map(|(name, room)| (room.used, name.clone()))
            .collect();
        by_use.sort_unstable();
        let target = self.budget.total / 4 * 3;
        for (_, name) in by_use {
            if self.bytes <= target {
                break;
            }
            if let Some(room) = self.rooms.get_mut(&name) {
                self.bytes -= room.tail.bytes();
                room.tail.forget();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Change, ChangeKind, Message, MessageText, Reaction};
    use crate::realtime::tail::TAIL_LEN;
    use crate::realtime::tail::tests::message_with;
    use proptest::prelude::*;

    const SMALL: Budget = Budget { room: 40 << 10, total: 100 << 10, rooms: 3 };

    /// What the database holds: every room's whole log.
    #[derive(Default)]
    struct Database {
        logs: HashMap<RoomName, Vec<Entry>>,
        next_id: i64,
    }

    impl Database {
        fn log(&mut self, room: &RoomName) -> &mut Vec<Entry> {
            self.logs.entry(room.clone()).or_default()
        }

        /// Every message of the room in its current state, oldest first.
        fn messages(&self, room: &RoomName) -> Vec<Message> {
            let log = self.logs.get(room).map(Vec::as_slice).unwrap_or_default();
            let latest: HashMap<i64, &Message> =
                log.iter().map(|e| (e.message().id, e.message())).collect();
            log.iter()
                .filter_map(|e| match e {
                    Entry::Message(m) => latest.get(&m.id).map(|m| (*m).clone()),
                    Entry::Change(_) => None,
                })
                .collect()
        }

        fn post(&mut self, room: &RoomName, text: &str) -> Entry {
            self.next_id += 1;
            let seq = self.log(room).len() as Seq + 1;
            let mut message = message_with(self.next_id, seq, text);
            message.room = room.clone();
            let entry = Entry::Message(message);
            self.log(room).push(entry.clone());
            entry
        }

        /// Edits the `pick`th message of the room, or reacts to it with
        /// many users, if it has messages.
        fn change(
            &mut self,
            room: &RoomName,
            pick: usize,
            text: &str,
            react: bool,
        ) -> Option<Entry> {
            let messages = self.messages(room);
            let mut message = messages.get(pick % messages.len().max(1))?.clone();
            if react {
                let users = vec![message.user.clone(); 50];
                message.reactions.push(Reaction { emoji: "👍".into(), count: 50, users });
            } else {
                message.text = MessageText::parse(text.into()).expect("text");
            }
            let seq = self.log(room).len() as Seq + 1;
            let (user, kind) = (message.user.clone(), ChangeKind::Edit);
            let entry =
                Entry::Change(Change { room: room.clone(), seq, kind, user, ts: 0, message });
            self.log(room).push(entry.clone());
            Some(entry)
        }

        /// A room's tail as the stream loads it.
        fn load(&self, room: &RoomName) -> Tail {
            let messages = self.messages(room);
            let older = messages.len().saturating_sub(TAIL_LEN);
            let last = self.logs.get(room).map_or(0, |log| log.len() as Seq);
            Tail::load(messages[older..].to_vec(), older > 0, last)
        }
    }

    /// Joins as the stream does: from the tail if the room is followed,
    /// else loading it. Checks whatever the tail answers against the
    /// database.
    fn join(followed: &mut Followed, db: &Database, room: &RoomName, since: Option<Seq>) {
        let attached = match followed.attached(room, since) {
            Some(attached) => attached,
            None => {
                let tail = db.load(room);
                let attached = tail.attached(since);
                followed.insert(room.clone(), tail, |_| true);
                attached
            }
        };
        let messages = db.messages(room);
        let newest = &messages[messages.len().saturating_sub(TAIL_LEN)..];
        if let (None, Some(recent)) = (since, &attached.recent) {
            assert_eq!(recent.as_slice(), newest, "a plain join from memory");
            assert_eq!(attached.has_older, messages.len() > TAIL_LEN);
        }
        if let (Some(since), Some(after)) = (since, &attached.after) {
            let log = db.logs.get(room).map(Vec::as_slice).unwrap_or_default();
            let expected = log.get(since as usize..).unwrap_or_default();
            assert_eq!(after.as_slice(), expected, "a join with since from memory");
        }
    }

    fn assert_within(followed: &Followed, budget: Budget) {
        let held: usize = followed.rooms.values().map(|room| room.tail.bytes()).sum();
        assert_eq!(followed.bytes(), held, "the total is the sum of the tails");
        assert!(held <= budget.total, "{held} bytes held, budget {}", budget.total);
        for room in followed.rooms.values() {
            assert!(room.tail.bytes() <= budget.room);
        }
    }

    fn text(chars: usize, wide: bool) -> String {
        if wide { "\u{1F600}".repeat(chars) } else { "a".repeat(chars) }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn tails_stay_within_their_budget_and_answer_only_what_the_database_holds(
            steps in prop::collection::vec((0..5u8, 0..6usize, 1..=2000usize, any::<bool>(), any::<usize>()), 1..300)
        ) {
            let mut followed = Followed::new(SMALL);
            let mut db = Database::default();
            let rooms: Vec<RoomName> =
                (0..6).map(|i| RoomName::parse(&format!("room {i}")).expect("room")).collect();
            for (kind, room, chars, wide, pick) in steps {
                let room = &rooms[room];
                let text = text(chars, wide);
                let entry = match kind {
                    0 | 1 => Some(db.post(room, &text)),
                    2 => db.change(room, pick, &text, wide),
                    3 => {
                        join(&mut followed, &db, room, None);
                        None
                    }
                    _ => {
                        let last = db.logs.get(room).map_or(0, |log| log.len());
                        join(&mut followed, &db, room, Some(last.saturating_sub(pick % 60) as Seq));
                        None
                    }
                };
                if let Some(entry) = entry {
                    followed.push(&entry);
                }
                assert_within(&followed, SMALL);
            }
        }
    }

    #[test]
    fn a_thousand_rooms_of_the_largest_messages_hold_no_more_than_the_total_budget() {
        let budget = Budget { room: 128 << 10, total: 4 << 20, rooms: 10_000 };
        let mut followed = Followed::new(budget);
        let mut db = Database::default();
        let largest = text(MessageText::MAX_CHARS, true);
        for i in 0..1000 {
            let room = RoomName::parse(&format!("room {i}")).expect("room");
            join(&mut followed, &db, &room, None);
            for _ in 0..TAIL_LEN {
                followed.push(&db.post(&room, &largest));
            }
            assert_within(&followed, budget);
        }
        let newest = RoomName::parse("room 999").expect("room");
        let last = (TAIL_LEN as Seq) - 1;
        let after = followed.attached(&newest, Some(last)).and_then(|a| a.after);
        assert_eq!(after.map(|a| a.len()), Some(1), "the room used last keeps its tail");
        let oldest = RoomName::parse("room 0").expect("room");
        let after = followed.attached(&oldest, Some(last)).and_then(|a| a.after);
        assert_eq!(after, None, "the room used least recently was emptied");
    }

    #[test]
    fn a_busy_room_of_everyday_messages_fits_its_budget_whole() {
        let mut followed = Followed::new(Budget::default());
        let mut db = Database::default();
        let room = RoomName::parse("everyday").expect("room");
        join(&mut followed, &db, &room, None);
        for _ in 0..2 * TAIL_LEN {
            followed.push(&db.post(&room, &text(200, false)));
        }
        let attached = followed.attached(&room, Some(TAIL_LEN as Seq)).expect("followed");
        assert_eq!(attached.recent.map(|r| r.len()), Some(0));
        assert_eq!(attached.after.map(|a| a.len()), Some(TAIL_LEN));
        let attached = followed.attached(&room, None).expect("followed");
        assert_eq!(attached.recent.map(|r| r.len()), Some(TAIL_LEN));
    }

    #[test]
    fn past_the_room_budget_only_rooms_someone_is_in_stay_followed() {
        let mut followed = Followed::new(Budget { rooms: 3, ..Budget::default() });
        let db = Database::default();
        let names: Vec<RoomName> =
            ["busy", "idle 1", "idle 2", "new"].map(|n| RoomName::parse(n).expect("room")).into();
        for room in &names[..3] {
            followed.insert(room.clone(), db.load(room), |_| false);
        }
        followed
            .insert(names[3].clone(), db.load(&names[3]), |room| room.as_str().starts_with("idle"));
        let mut kept: Vec<&str> = followed.rooms.keys().map(RoomName::as_str).collect();
        kept.sort_unstable();
        assert_eq!(kept, ["busy", "new"]);
    }
}
