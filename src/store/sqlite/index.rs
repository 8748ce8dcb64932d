//! Adding stored messages to the search index, in batches, on the append
//! thread between appends (see migration 0005).
//!
//! FTS5 writes a segment of its index for each transaction that adds to
//! it. In the append's own transaction that was about six of a commit's
//! nine pages and more than half its time (bench S3: the server's p99 rose
//! with it). A batch of a hundred messages costs about 2.5 µs each.
//! A search first asks for everything stored so far to be indexed, so it
//! finds every message acked before it, as it did.

use crate::store::StoreError;
use rusqlite::Connection;
use std::time::{Duration, Instant};

/// How long a stored message may wait for the index when no search asks.
const DELAY: Duration = Duration::from_millis(100);

/// Messages waiting that make the index run without waiting for [`DELAY`].
const ENOUGH: usize = 500;

/// Most messages indexed in one transaction: a long catch-up (after a
/// restart) goes in steps, with the appends queued meanwhile between them.
const STEP: i64 = 1_000;

/// What is stored but not indexed yet, as far as the append thread knows.
pub(super) struct Backlog {
    /// When the oldest message not indexed was stored; `None` when all are.
    since: Option<Instant>,
    count: usize,
}

/// When the index should next run.
pub(super) enum Due {
    Now,
    In(Duration),
    Never,
}

impl Backlog {
    /// At start: messages stored before a crash may not be indexed yet.
    pub(super) fn unknown() -> Self {
        Self { since: Some(Instant::now()), count: ENOUGH }
    }

    /// Notes `count` new messages stored.
    pub(super) fn stored(&mut self, count: usize) {
        if count > 0 {
            self.since.get_or_insert_with(Instant::now);
            self.count += count;
        }
    }

    pub(super) fn due(&self) -> Due {
        match self.since {
            None => Due::Never,
            Some(_) if self.count >= ENOUGH => Due::Now,
            Some(since) => DELAY.checked_sub(since.elapsed()).map_or(Due::Now, Due::In),
        }
    }

    /// Runs one step; what is left stays due at once. A failure is retried
    /// after [`DELAY`] (searches report it meanwhile).
    pub(super) fn step(&mut self, conn: &Connection) {
        match step(conn) {
            Ok(true) => self.count = ENOUGH,
            Ok(false) => *self = Self { since: None, count: 0 },
            Err(error) => {
                tracing::warn!(%error, "cannot add messages to the search index");
                *self = Self { since: Some(Instant::now()), count: 0 };
            }
        }
    }

    /// Indexes everything stored so far.
    pub(super) fn catch_up(&mut self, conn: &Connection) -> Result<(), StoreError> {
        while step(conn)? {}
        *self = Self { since: None, count: 0 };
        Ok(())
    }
}

/// Indexes up to [`STEP`] messages in one transaction; returns whether
/// more are waiting.
fn step(conn: &Connection) -> Result<bool, StoreError> {
    conn.execute_batch("BEGIN IMMEDIATE")?;
    match step_within(conn) {
        Ok(more) => {
            conn.execute_batch("COMMIT")?;
            Ok(more)
        }
        Err(error) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(error)
        }
    }
}

fn step_within(conn: &Connection) -> Result<bool, StoreError> {
    let upto: i64 = conn
        .prepare_cached("SELECT indexed_upto FROM search_progress")?
        .query_row([], |row| row.get(0))?;
    let last: i64 = conn
        .prepare_cached("SELECT COALESCE(MAX(id), 0) FROM messages")?
        .query_row([], |row| row.get(0))?;
    if last <= upto {
        return Ok(false);
    }
    let until = last.min(upto + STEP);
    // A message deleted before it was indexed never enters the index.
    conn.prepare_cached(
        "INSERT INTO messages_fts (rowid, text) \
         SELECT id, text FROM messages WHERE id > ?1 AND id <= ?2 AND NOT deleted",
    )?
    .execute([upto, until])?;
    conn.prepare_cached("UPDATE search_progress SET indexed_upto = ?1")?.execute([until])?;
    Ok(until < last)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn waiting(count: usize) -> Backlog {
        let mut backlog = Backlog { since: None, count: 0 };
        backlog.stored(count);
        backlog
    }

    #[test]
    fn nothing_stored_is_never_due() {
        assert!(matches!(waiting(0).due(), Due::Never));
    }

    #[test]
    fn a_few_messages_wait_for_the_delay() {
        assert!(matches!(waiting(3).due(), Due::In(wait) if wait <= DELAY));
    }

    #[test]
    fn enough_messages_are_due_at_once() {
        assert!(matches!(waiting(ENOUGH).due(), Due::Now));
    }

    #[test]
    fn a_message_stored_longer_ago_than_the_delay_is_due() {
        let backlog = Backlog { since: Instant::now().checked_sub(DELAY), count: 1 };
        assert!(matches!(backlog.due(), Due::Now));
    }
}
