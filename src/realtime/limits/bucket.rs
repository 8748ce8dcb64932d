//! A token bucket: a steady rate with room for a burst.

use std::time::{Duration, Instant};

/// How fast a bucket refills and how much it holds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    per_second: f64,
    burst: f64,
}

impl Rate {
    /// `n` a second with bursts of twice that; `None` (no limit) for 0.
    pub fn per_second(n: u32) -> Option<Self> {
        (n > 0).then(|| Self { per_second: f64::from(n), burst: 2.0 * f64::from(n) })
    }

    /// `n` a minute, all of them at once if need be; `None` for 0.
    pub fn per_minute(n: u32) -> Option<Self> {
        (n > 0).then(|| Self { per_second: f64::from(n) / 60.0, burst: f64::from(n) })
    }

    /// One per `interval` after a burst of `burst`; `None` for no interval.
    pub fn every(interval: Duration, burst: u32) -> Option<Self> {
        let per_second = 1.0 / interval.as_secs_f64();
        (!interval.is_zero()).then(|| Self { per_second, burst: f64::from(burst) })
    }
}

/// Starts full; each event spends one token.
#[derive(Debug)]
pub struct TokenBucket {
    rate: Rate,
    tokens: f64,
    refilled: Instant,
}

impl TokenBucket {
    pub fn new(rate: Rate, now: Instant) -> Self {
        Self { rate, tokens: rate.burst, refilled: now }
    }

    /// Spends one token, or says in how many milliseconds one will be there.
    pub fn spend(&mut self, now: Instant) -> Result<(), u64> {
        let elapsed = now.saturating_duration_since(self.refilled).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate.per_second).min(self.rate.burst);
        self.refilled = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - self.tokens) / self.rate.per_second * 1000.0).ceil() as u64)
        }
    }

    /// Gives back a token spent for an event that another limit refused.
    pub fn refund(&mut self) {
        self.tokens = (self.tokens + 1.0).min(self.rate.burst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn bucket(rate: Option<Rate>, now: Instant) -> TokenBucket {
        TokenBucket::new(rate.expect("a limit"), now)
    }

    #[test]
    fn a_burst_of_twice_the_rate_passes_and_the_next_waits() {
        let now = Instant::now();
        let mut bucket = bucket(Rate::per_second(10), now);
        assert!((0..20).all(|_| bucket.spend(now).is_ok()));
        assert_eq!(bucket.spend(now), Err(100));
        assert!(bucket.spend(now + Duration::from_millis(100)).is_ok());
    }

    #[test]
    fn a_per_minute_limit_allows_that_many_at_once_then_one_every_share_of_a_minute() {
        let now = Instant::now();
        let mut bucket = bucket(Rate::per_minute(30), now);
        assert!((0..30).all(|_| bucket.spend(now).is_ok()));
        assert_eq!(bucket.spend(now), Err(2000));
        assert!(bucket.spend(now + Duration::from_secs(2)).is_ok());
    }

    #[test]
    fn a_refund_makes_room_for_one_more_but_never_past_the_burst() {
        let now = Instant::now();
        let mut bucket = bucket(Rate::per_second(1), now);
        bucket.refund();
        assert!((0..2).all(|_| bucket.spend(now).is_ok()));
        assert!(bucket.spend(now).is_err());
        bucket.refund();
        assert!(bucket.spend(now).is_ok());
    }

    #[test]
    fn one_every_interval_after_a_burst() {
        let now = Instant::now();
        let mut bucket = bucket(Rate::every(Duration::from_millis(500), 3), now);
        assert!((0..3).all(|_| bucket.spend(now).is_ok()));
        assert_eq!(bucket.spend(now), Err(500));
        assert!(bucket.spend(now + Duration::from_millis(500)).is_ok());
    }

    #[test]
    fn zero_means_no_limit() {
        assert_eq!(Rate::per_second(0), None);
        assert_eq!(Rate::per_minute(0), None);
        assert_eq!(Rate::every(Duration::ZERO, 3), None);
    }
}
