//! When the writer should wait a moment before committing, so that one
//! transaction carries several messages.
//!
//! A commit costs the SQLite append thread mostly a fixed amount (`BEGIN`,
//! the rooms' seqs, writing the log, `COMMIT`); the messages in it add
//! little each. Committing at once whatever is queued batches well only
//! when messages queue behind a slow commit: at a few thousand messages/s
//! most commits held one message, and the append thread's fixed costs were
//! a sixth of the server's CPU (bench S2, `perf` of the append thread).
//! So when messages arrive faster than [`BUSY`], the writer lingers for
//! [`LINGER`] after the first one; below it (every light load, and bench
//! S3's 1,000 messages/s) a message is committed as soon as it arrives.

use std::time::{Duration, Instant};

/// Arrivals per [`WINDOW`] above which the writer lingers: 2,000/s.
const BUSY: usize = 200;

/// How often the arrival rate is read.
const WINDOW: Duration = Duration::from_millis(100);

/// How long the first message of a batch waits for company when busy.
/// Tokio's timers tick in milliseconds, so this is the shortest wait there
/// is; it adds at most about 2 ms to an ack, only under load.
pub const LINGER: Duration = Duration::from_millis(1);

/// The arrival rate, as counts over fixed windows.
#[derive(Debug)]
pub struct Pace {
    started: Instant,
    /// Arrivals in the window that started at `started`.
    current: usize,
    /// Arrivals in the window before it.
    previous: usize,
}

impl Pace {
    pub fn new(now: Instant) -> Self {
        Self { started: now, current: 0, previous: 0 }
    }

    /// Counts `count` arrivals at `now`.
    pub fn arrived(&mut self, count: usize, now: Instant) {
        self.roll(now);
        self.current += count;
    }

    /// Whether a batch starting at `now` should wait for company: the last
    /// full window, or the one under way, was busy.
    pub fn busy(&mut self, now: Instant) -> bool {
        self.roll(now);
        self.previous > BUSY || self.current > BUSY
    }

    fn roll(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.started);
        if elapsed < WINDOW {
            return;
        }
        // A window with no arrivals in between leaves no rate behind it.
        self.previous = if elapsed < 2 * WINDOW { self.current } else { 0 };
        self.current = 0;
        self.started = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn a_quiet_writer_commits_at_once() {
        let t0 = Instant::now();
        let mut pace = Pace::new(t0);
        for i in 0..150 {
            pace.arrived(1, t0 + Duration::from_micros(i * 600));
        }
        assert!(!pace.busy(t0 + ms(95)));
        assert!(!pace.busy(t0 + ms(150)));
    }

    #[test]
    fn a_busy_writer_lingers_from_the_window_that_showed_it() {
        let t0 = Instant::now();
        let mut pace = Pace::new(t0);
        pace.arrived(150, t0 + ms(10));
        assert!(!pace.busy(t0 + ms(20)));
        pace.arrived(60, t0 + ms(30));
        assert!(pace.busy(t0 + ms(40)), "210 arrivals within 100 ms is over 2,000/s");
        assert!(pace.busy(t0 + ms(150)), "the next window still remembers the busy one");
    }

    #[test]
    fn a_writer_that_went_quiet_stops_lingering() {
        let t0 = Instant::now();
        let mut pace = Pace::new(t0);
        pace.arrived(500, t0 + ms(50));
        assert!(pace.busy(t0 + ms(60)));
        assert!(!pace.busy(t0 + ms(350)), "two quiet windows later the rate is gone");
    }
}
