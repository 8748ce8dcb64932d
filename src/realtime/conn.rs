//! What the server remembers about one connection, kept small because a
//! server holds many idle ones.

use crate::domain::{RoomName, UserId};
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

pub struct Conn {
    pub user: UserId,
    /// Rooms this connection has joined (usually one or two), each with
    /// the newest presence version it knows of (see `presence::relay`).
    rooms: Mutex<Vec<(RoomName, u64)>>,
    bucket: Mutex<TokenBucket>,
}

impl Conn {
    pub fn new(user: UserId, per_second: u32) -> Self {
        Self { user, rooms: Mutex::default(), bucket: Mutex::new(TokenBucket::new(per_second)) }
    }

    pub fn is_in(&self, room: &RoomName) -> bool {
        lock(&self.rooms).iter().any(|(r, _)| r == room)
    }

    /// Records the room and the presence version its join ack reflects;
    /// false if the connection was already in it.
    pub fn enter(&self, room: &RoomName, seen: u64) -> bool {
        let mut rooms = lock(&self.rooms);
        if let Some(entry) = rooms.iter_mut().find(|(r, _)| r == room) {
            entry.1 = entry.1.max(seen);
            return false;
        }
        rooms.push((room.clone(), seen));
        true
    }

    /// Forgets the room; false if the connection was not in it.
    pub fn exit(&self, room: &RoomName) -> bool {
        let mut rooms = lock(&self.rooms);
        let before = rooms.len();
        rooms.retain(|(r, _)| r != room);
        rooms.len() != before
    }

    pub fn take_rooms(&self) -> Vec<RoomName> {
        std::mem::take(&mut *lock(&self.rooms)).into_iter().map(|(room, _)| room).collect()
    }

    /// The newest presence version this connection knows of in `room`.
    pub fn seen(&self, room: &RoomName) -> Option<u64> {
        lock(&self.rooms).iter().find(|(r, _)| r == room).map(|(_, seen)| *seen)
    }

    /// Notes that the connection was told of changes up to `ver`.
    pub fn advance(&self, room: &RoomName, ver: u64) {
        if let Some(entry) = lock(&self.rooms).iter_mut().find(|(r, _)| r == room) {
            entry.1 = entry.1.max(ver);
        }
    }

    /// Spends one message from the rate limit, or says how long to wait.
    pub fn spend(&self) -> Result<(), u64> {
        lock(&self.bucket).spend(Instant::now())
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Allows `rate` messages a second with bursts of twice that.
struct TokenBucket {
    rate: f64,
    tokens: f64,
    refilled: Instant,
}

impl TokenBucket {
    fn new(per_second: u32) -> Self {
        let rate = f64::from(per_second.max(1));
        Self { rate, tokens: 2.0 * rate, refilled: Instant::now() }
    }

    fn spend(&mut self, now: Instant) -> Result<(), u64> {
        let elapsed = now.saturating_duration_since(self.refilled).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(2.0 * self.rate);
        self.refilled = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - self.tokens) / self.rate * 1000.0).ceil() as u64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_burst_of_twice_the_rate_passes_and_the_next_waits() {
        let mut bucket = TokenBucket::new(10);
        let now = Instant::now();
        assert!((0..20).all(|_| bucket.spend(now).is_ok()));
        assert_eq!(bucket.spend(now), Err(100));
        assert!(bucket.spend(now + Duration::from_millis(100)).is_ok());
    }
}
