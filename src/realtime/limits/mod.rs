//! The limits one person can run into, each set by a flag with a value
//! that turns it off (for load tests):
//!
//! - messages per connection (`--rate-limit`) and per user across all its
//!   connections on this process (`--user-rate-limit`): token buckets;
//! - joins per connection per minute (`--join-rate-limit`);
//! - rooms per connection (`--max-rooms-per-connection`);
//! - how often `typing` reaches the others (`--typing-interval-ms`);
//! - searches per connection (`--search-rate-limit`): a token bucket.
//!
//! Over a limit, an event is answered `rate_limited` with `retryAfterMs`
//! (see `Refusal`); `typing` is simply not forwarded.

mod bucket;
mod users;

pub use bucket::{Rate, TokenBucket};
pub use users::{UserAllowance, UserAllowances};

use crate::config::Config;
use crate::domain::UserId;
use std::sync::Arc;

/// Starts of typing one connection may make in a room in a row before it
/// is held to one per typing interval: enough for typing, sending, and
/// typing the next message at once, too few for a flood to matter.
const TYPING_STARTS_IN_A_ROW: u32 = 3;

/// The limits in force, read once from the configuration.
pub struct Limits {
    /// Messages one connection may send.
    pub messages: Option<Rate>,
    /// Joins one connection may make.
    pub joins: Option<Rate>,
    /// Rooms one connection may be in at once.
    pub max_rooms: Option<usize>,
    /// Starts of typing one connection may make in one room (renewals of
    /// typing are limited by `Typing` itself).
    pub typing_starts: Option<Rate>,
    /// Searches one connection may make.
    pub searches: Option<Rate>,
    /// The per-user message buckets, shared by a user's connections.
    users: Arc<UserAllowances>,
}

impl Limits {
    pub fn new(config: &Config) -> Self {
        let max_rooms = usize::try_from(config.max_rooms_per_connection).unwrap_or(usize::MAX);
        Self {
            messages: Rate::per_second(config.rate_limit),
            joins: Rate::per_minute(config.join_rate_limit),
            max_rooms: (max_rooms > 0).then_some(max_rooms),
            typing_starts: Rate::every(config.typing_interval(), TYPING_STARTS_IN_A_ROW),
            searches: Rate::per_second(config.search_rate_limit),
            users: UserAllowances::new(Rate::per_second(config.user_rate_limit)),
        }
    }

    /// A new connection's share of its user's message allowance; `None`
    /// when messages per user are not limited.
    pub fn allowance(&self, user: UserId) -> Option<UserAllowance> {
        self.users.attach(user)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use std::time::Duration;

    #[test]
    fn zero_turns_every_limit_off() {
        let config = Config::parse_from([
            "baat-chit",
            "--rate-limit=0",
            "--user-rate-limit=0",
            "--join-rate-limit=0",
            "--max-rooms-per-connection=0",
            "--typing-interval-ms=0",
        ]);
        let limits = Limits::new(&config);
        assert!(limits.messages.is_none() && limits.joins.is_none());
        assert!(limits.max_rooms.is_none() && limits.typing_starts.is_none());
        assert!(limits.allowance(UserId::random()).is_none());
    }

    #[test]
    fn by_default_every_limit_is_on() {
        let limits = Limits::new(&Config::parse_from(["baat-chit"]));
        assert!(limits.messages.is_some() && limits.joins.is_some());
        assert_eq!(limits.max_rooms, Some(50));
        assert_eq!(limits.typing_starts, Rate::every(Duration::from_secs(1), 3));
        assert!(limits.allowance(UserId::random()).is_some());
    }
}
