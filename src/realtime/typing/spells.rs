//! Who is typing where, as spells of typing: one starts with a
//! `typing: true`, is renewed by more of them, and ends with a
//! `typing: false`, a message, leaving, or by itself after the expiry.
//! Renewals are cheap: they move the spell's end and reach the others at
//! most once per interval, so a flood of them costs a map update each.

use crate::domain::{RoomName, UserId};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;
use tokio::time::Instant;

pub struct Typing {
    active: Mutex<HashMap<(RoomName, UserId), Spell>>,
    /// Generations are never reused, so a timer from an earlier spell
    /// cannot end a later one.
    next: AtomicU64,
    expiry: Duration,
    /// Shortest time between two `typing: true` the others hear of one spell.
    interval: Duration,
}

struct Spell {
    generation: u64,
    /// When it ends unless renewed.
    until: Instant,
    /// When the others were last told of it.
    told: Instant,
}

/// What a `typing: true` did.
#[derive(Debug, PartialEq)]
pub enum Typed {
    /// Started a spell: tell the others, and end it at `until` unless
    /// renewed (its timer carries `generation`).
    Started { generation: u64, until: Instant },
    /// Renewed a spell the others last heard of an interval ago or more:
    /// tell them again, so their display knows it is still on.
    Retold,
    /// Renewed a spell the others heard of moments ago: only its end moved.
    Extended,
    /// Started nothing: this connection started typing too recently.
    Dropped,
}

/// What a spell's timer finds at the spell's end.
#[derive(Debug, PartialEq)]
pub enum Expiry {
    /// It ran out: tell the others it is over.
    Ended,
    /// It was renewed: look again then.
    Later(Instant),
    /// It was stopped, or replaced by a newer spell with its own timer.
    Gone,
}

impl Typing {
    pub fn new(expiry: Duration, interval: Duration) -> Self {
        Self { active: Mutex::default(), next: AtomicU64::new(0), expiry, interval }
    }

    /// A `typing: true` from `user`: renews its spell in `room`, or starts
    /// one if `may_start` agrees.
    pub fn typed(
        &self,
        room: &RoomName,
        user: UserId,
        now: Instant,
        may_start: impl FnOnce() -> bool,
    ) -> Typed {
        let until = now + self.expiry;
        let mut active = self.lock();
        if let Some(spell) = active.get_mut(&(room.clone(), user)) {
            spell.until = until;
            if now.saturating_duration_since(spell.told) < self.interval {
                return Typed::Extended;
            }
            spell.told = now;
            return Typed::Retold;
        }
        if !may_start() {
            return Typed::Dropped;
        }
        let generation = self.next.fetch_add(1, Relaxed);
        active.insert((room.clone(), user), Spell { generation, until, told: now });
        Typed::Started { generation, until }
    }

    /// Ends typing; true if the user was typing.
    pub fn stop(&self, room: &RoomName, user: UserId) -> bool {
        self.lock().remove(&(room.clone(), user)).is_some()
    }

    /// Ends the spell `generation` if it has run out by `now`.
    pub fn expire(&self, room: &RoomName, user: UserId, generation: u64, now: Instant) -> Expiry {
        let mut active = self.lock();
        let key = (room.clone(), user);
        match active.get(&key) {
            Some(spell) if spell.generation != generation => Expiry::Gone,
            Some(spell) if spell.until > now => Expiry::Later(spell.until),
            Some(_) => {
                active.remove(&key);
                Expiry::Ended
            }
            None => Expiry::Gone,
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<(RoomName, UserId), Spell>> {
        self.active.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    fn setup() -> (Typing, RoomName, UserId, Instant) {
        let room = RoomName::parse("general").expect("a valid room");
        (Typing::new(6 * SECOND, SECOND), room, UserId::random(), Instant::now())
    }

    fn started(typed: Typed) -> (u64, Instant) {
        match typed {
            Typed::Started { generation, until } => (generation, until),
            other => panic!("expected a start, got {other:?}"),
        }
    }

    #[test]
    fn renewals_reach_the_others_at_most_once_per_interval() {
        let (typing, room, user, now) = setup();
        started(typing.typed(&room, user, now, || true));
        let at = |ms| now + Duration::from_millis(ms);
        assert_eq!(typing.typed(&room, user, at(10), || true), Typed::Extended);
        assert_eq!(typing.typed(&room, user, at(999), || true), Typed::Extended);
        assert_eq!(typing.typed(&room, user, at(1000), || true), Typed::Retold);
        assert_eq!(typing.typed(&room, user, at(1500), || true), Typed::Extended);
    }

    #[test]
    fn a_renewal_moves_the_end_of_the_spell() {
        let (typing, room, user, now) = setup();
        let (generation, until) = started(typing.typed(&room, user, now, || true));
        typing.typed(&room, user, now + SECOND, || true);
        assert_eq!(typing.expire(&room, user, generation, until), Expiry::Later(until + SECOND));
        assert_eq!(typing.expire(&room, user, generation, until + SECOND), Expiry::Ended);
        assert!(!typing.stop(&room, user), "it is over");
    }

    #[test]
    fn a_stopped_spell_is_not_ended_again_by_its_timer() {
        let (typing, room, user, now) = setup();
        let (generation, until) = started(typing.typed(&room, user, now, || true));
        assert!(typing.stop(&room, user));
        assert_eq!(typing.expire(&room, user, generation, until), Expiry::Gone);
    }

    #[test]
    fn an_old_timer_leaves_a_newer_spell_alone() {
        let (typing, room, user, now) = setup();
        let (old, until) = started(typing.typed(&room, user, now, || true));
        typing.stop(&room, user);
        let (new, _) = started(typing.typed(&room, user, now + SECOND, || true));
        assert_ne!(old, new);
        assert_eq!(typing.expire(&room, user, old, until), Expiry::Gone);
    }

    #[test]
    fn a_start_the_connection_may_not_make_is_dropped() {
        let (typing, room, user, now) = setup();
        assert_eq!(typing.typed(&room, user, now, || false), Typed::Dropped);
        assert!(!typing.stop(&room, user), "nothing started");
    }

    #[test]
    fn with_no_interval_every_renewal_is_retold() {
        let (_, room, user, now) = setup();
        let typing = Typing::new(6 * SECOND, Duration::ZERO);
        started(typing.typed(&room, user, now, || true));
        assert_eq!(typing.typed(&room, user, now, || true), Typed::Retold);
    }
}
