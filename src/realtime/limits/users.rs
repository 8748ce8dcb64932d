//! Messages per user, across all of the user's connections on this
//! process: one bucket per user, kept while the user has a connection.

use super::{Rate, TokenBucket};
use crate::domain::UserId;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

/// The buckets of the users connected to this process.
pub struct UserAllowances {
    rate: Option<Rate>,
    users: Mutex<HashMap<UserId, Shared>>,
}

/// One user's bucket and how many connections share it.
struct Shared {
    bucket: Arc<Mutex<TokenBucket>>,
    connections: usize,
}

/// A connection's hold on its user's bucket. Dropping the last hold of a
/// user forgets the user, so the map never outgrows the connected users.
pub struct UserAllowance {
    owner: Arc<UserAllowances>,
    user: UserId,
    bucket: Arc<Mutex<TokenBucket>>,
}

impl UserAllowances {
    pub fn new(rate: Option<Rate>) -> Arc<Self> {
        Arc::new(Self { rate, users: Mutex::default() })
    }

    /// Adds a connection of `user`: a new user starts with a full bucket,
    /// another tab of a user shares the bucket it has.
    pub fn attach(self: &Arc<Self>, user: UserId) -> Option<UserAllowance> {
        let rate = self.rate?;
        let mut users = self.lock();
        let shared = users.entry(user).or_insert_with(|| Shared {
            bucket: Arc::new(Mutex::new(TokenBucket::new(rate, Instant::now()))),
            connections: 0,
        });
        shared.connections += 1;
        let bucket = Arc::clone(&shared.bucket);
        Some(UserAllowance { owner: Arc::clone(self), user, bucket })
    }

    /// Users with a bucket: those with at least one connection.
    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<UserId, Shared>> {
        self.users.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl UserAllowance {
    /// Spends one message of the user's allowance, or says how long to wait.
    pub fn spend(&self, now: Instant) -> Result<(), u64> {
        lock(&self.bucket).spend(now)
    }

    /// Gives back a message that another limit refused.
    pub fn refund(&self) {
        lock(&self.bucket).refund();
    }
}

impl Drop for UserAllowance {
    fn drop(&mut self) {
        let mut users = self.owner.lock();
        if let Some(shared) = users.get_mut(&self.user) {
            shared.connections -= 1;
            if shared.connections == 0 {
                users.remove(&self.user);
            }
        }
    }
}

fn lock(bucket: &Mutex<TokenBucket>) -> MutexGuard<'_, TokenBucket> {
    bucket.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowances(per_second: u32) -> Arc<UserAllowances> {
        UserAllowances::new(Rate::per_second(per_second))
    }

    #[test]
    fn a_users_connections_share_one_allowance() {
        let allowances = allowances(2);
        let user = UserId::random();
        let tabs: Vec<_> = (0..4).filter_map(|_| allowances.attach(user)).collect();
        let now = Instant::now();
        let sent = tabs.iter().cycle().take(8).filter(|tab| tab.spend(now).is_ok()).count();
        assert_eq!(sent, 4, "a burst of twice the rate, whichever tab sends");
    }

    #[test]
    fn another_user_has_an_allowance_of_its_own() {
        let allowances = allowances(1);
        let (flooder, other) = (UserId::random(), UserId::random());
        let flooder = allowances.attach(flooder).expect("limited");
        let now = Instant::now();
        while flooder.spend(now).is_ok() {}
        let other = allowances.attach(other).expect("limited");
        assert!(other.spend(now).is_ok());
    }

    #[test]
    fn a_user_is_forgotten_when_its_last_connection_goes() {
        let allowances = allowances(5);
        let (asha, ben) = (UserId::random(), UserId::random());
        let tab1 = allowances.attach(asha);
        let tab2 = allowances.attach(asha);
        let other = allowances.attach(ben);
        assert_eq!(allowances.tracked(), 2);
        drop(tab1);
        assert_eq!(allowances.tracked(), 2, "asha still has a tab");
        drop((tab2, other));
        assert_eq!(allowances.tracked(), 0);
    }

    #[test]
    fn many_users_coming_and_going_leave_nothing_behind() {
        let allowances = allowances(5);
        for _ in 0..1000 {
            let user = UserId::random();
            let tabs: Vec<_> = (0..3).filter_map(|_| allowances.attach(user)).collect();
            drop(tabs);
        }
        assert_eq!(allowances.tracked(), 0);
    }

    #[test]
    fn a_new_tab_shares_a_spent_allowance_and_only_a_full_reconnect_starts_afresh() {
        let allowances = allowances(1);
        let user = UserId::random();
        let now = Instant::now();
        let tab = allowances.attach(user).expect("limited");
        while tab.spend(now).is_ok() {}
        let second = allowances.attach(user).expect("limited");
        assert!(second.spend(now).is_err(), "a new tab does not reset the allowance");
        drop((tab, second));
        let back = allowances.attach(user).expect("limited");
        assert!(back.spend(now).is_ok(), "a fresh start after the last tab went");
    }

    #[test]
    fn no_limit_keeps_no_buckets() {
        let allowances = UserAllowances::new(None);
        assert!(allowances.attach(UserId::random()).is_none());
        assert_eq!(allowances.tracked(), 0);
    }
}
