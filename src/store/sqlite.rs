//! The embedded store: one SQLite file in WAL mode. Only SQL lives here; how
//! a batch is planned is in [`super::batch`], how pages are made in
//! [`super::rows`].

use super::batch::{self, Backend, RoomsTx};
use super::changes::{self, ChangeTx};
use super::conversations;
use super::reads;
use super::rows::{self, ChangeRow};
use super::search::{self, Search};
use super::{
    Appended, Applied, LogPage, Marked, Opened, Page, ReadMarker, Rejected, Slice, Store,
    StoreError,
};
use crate::domain::{
    ChangeDraft, ClientId, Message, MessageDraft, Pair, RoomName, Seq, User, UserId,
};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use sqlx::{QueryBuilder, Sqlite, SqlitePool, Transaction};
use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{Arc, Weak};
use std::time::Duration;

mod append;
mod index;

use append::AppendThread;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// Rows per multi-row statement: 8 binds each stays far below SQLite's
/// limit on bound parameters.
pub(super) const CHUNK: usize = 500;

/// Multi-row statements of at most this many rows stay prepared on their
/// connection; larger ones are prepared for each use. Every row count is
/// its own SQL text and sqlx keeps up to 100 statements per connection, so
/// before, each batch size ever seen stayed prepared (the larger, the more
/// memory): the soak's heap grew by about 6 MB of cached statements.
const CACHED_ROWS: usize = 8;

/// Whether a statement for `rows` rows is kept prepared.
pub(super) fn cached(rows: usize) -> bool {
    rows <= CACHED_ROWS
}

/// How often the write-ahead log is copied into the main file, off the
/// writer's path (see [`checkpoint`]).
const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);

/// Pages (4 KiB) the log may reach before a commit checkpoints it inline,
/// as SQLite does by itself at 1,000: a backstop, should [`checkpoint`]
/// fall behind.
const INLINE_CHECKPOINT_PAGES: &str = "10000";

/// Settings every connection runs with, beside WAL mode (kept in the file)
/// and the busy timeout.
const PRAGMAS: [(&str, &str); 4] = [
    // With WAL, a commit is in the OS before the ack, so it survives the
    // process being killed; skipping the fsync per commit keeps acks fast (a
    // power cut may lose the last commits).
    ("synchronous", "NORMAL"),
    // Freed space is overwritten with zeros: a deleted message's text
    // leaves the file, not only the table.
    ("secure_delete", "ON"),
    ("wal_autocheckpoint", INLINE_CHECKPOINT_PAGES),
    // sqlx turns this on by itself; the append thread's connection too.
    ("foreign_keys", "ON"),
];

/// History in a local SQLite file.
pub struct SqliteStore {
    pool: SqlitePool,
    /// Appends run there, on a connection of their own.
    appends: Arc<AppendThread>,
}

impl SqliteStore {
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(StoreError::Open)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(Duration::from_secs(5));
        let options = PRAGMAS.iter().fold(options, |o, (name, value)| o.pragma(*name, *value));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            // A connection to a local file does not go stale; testing it
            // would cost each store call a round trip to its thread.
            .test_before_acquire(false)
            .connect_with(options.clone())
            .await
            .map_err(StoreError::Open)?;
        MIGRATOR.run(&pool).await?;
        let appends = Arc::new(AppendThread::start(options.get_filename(), &PRAGMAS)?);
        tokio::spawn(checkpoint(pool.clone(), Arc::downgrade(&appends)));
        Ok(Self { pool, appends })
    }

    /// After a delete, moves every page out of the write-ahead log into the
    /// main file and truncates the log, so the deleted text (zeroed there by
    /// `secure_delete`) survives in no frame of the log either. A failure
    /// only delays this to the next delete or SQLite's own checkpoint.
    async fn settle_deletes(&self, drafts: &[ChangeDraft]) {
        if !drafts.iter().any(|d| d.action == crate::domain::Action::Delete) {
            return;
        }
        if let Err(error) = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(&self.pool).await
        {
            tracing::warn!(%error, "cannot checkpoint after a delete");
        }
    }
}

/// Copies the write-ahead log into the main file every
/// [`CHECKPOINT_EVERY`], in two steps, until the store is dropped.
///
/// Left to SQLite, the commit that fills the log by 1,000 pages copies it
/// and syncs both files (several ms, a few times a second under load), and
/// every message queued behind that commit waits. So a passive checkpoint
/// first copies the log beside the writer, on whichever connection of the
/// pool is free, without blocking it. Under steady writes it never copies
/// all of it (commits land meanwhile), and only a complete one lets the log
/// start over, so the log would grow to [`INLINE_CHECKPOINT_PAGES`] and a
/// commit would checkpoint it inline after all (bench S3: a 5–23 ms stall
/// about every 1.1 s). The append thread then copies the little that is
/// left between two appends (1–3 ms), and the next commit starts the log
/// over.
async fn checkpoint(pool: SqlitePool, appends: Weak<AppendThread>) {
    let mut ticks = tokio::time::interval(CHECKPOINT_EVERY);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        if let Err(error) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").execute(&pool).await {
            tracing::warn!(%error, "cannot checkpoint the write-ahead log");
        }
        let Some(appends) = appends.upgrade() else { return };
        appends.finish_checkpoint();
    }
}

/// FTS5's external-content index of message text (see migration 0004).
const FTS5: search::Dialect = search::Dialect {
    from: "messages_fts JOIN messages m ON m.id = messages_fts.rowid",
    matches: "messages_fts MATCH $1",
    rank: "bm25(messages_fts)",
    // The index ranks by itself: the best 500 matches are read from it
    // alone (no message rows), the same first results as the full search.
    candidates: Some(search::Candidates {
        sql: "SELECT rowid FROM messages_fts WHERE messages_fts MATCH $1 AND rowid < $3 \
              ORDER BY rank, rowid DESC LIMIT $2",
        count: 500,
    }),
};

#[async_trait::async_trait]
impl Store for SqliteStore {
    async fn append(&self, drafts: &[MessageDraft]) -> Result<Vec<Appended>, StoreError> {
        self.appends.append(drafts).await
    }

    async fn read(&self, room: &RoomName, slice: Slice, limit: u32) -> Result<Page, StoreError> {
        rows::read::<Sqlite>(&mut *self.pool.acquire().await?, room, slice, limit).await
    }

    async fn apply(
        &self,
        drafts: &[ChangeDraft],
    ) -> Result<Vec<Result<Applied, Rejected>>, StoreError> {
        let applied = changes::apply(&self.pool, drafts).await?;
        self.settle_deletes(drafts).await;
        Ok(applied)
    }

    async fn log(&self, room: &RoomName, after: Seq, limit: u32) -> Result<LogPage, StoreError> {
        rows::log::<Sqlite>(&mut *self.pool.acquire().await?, room, after, limit).await
    }

    async fn last_seq(&self, room: &RoomName) -> Result<Seq, StoreError> {
        let seq: Option<(Seq,)> = sqlx::query_as("SELECT last_seq FROM rooms WHERE name = $1")
            .bind(room.as_str())
            .fetch_optional(&self.pool)
            .await?;
        Ok(seq.map_or(0, |(seq,)| seq))
    }

    async fn message(&self, room: &RoomName, id: i64) -> Result<Option<Message>, StoreError> {
        rows::message::<Sqlite>(&mut *self.pool.acquire().await?, room, id).await
    }

    async fn open_conversation(&self, a: &User, b: &User) -> Result<Opened, StoreError> {
        let ts = batch::now_millis();
        conversations::open::<Sqlite>(&mut *self.pool.acquire().await?, a, b, ts).await
    }

    async fn conversation(&self, a: UserId, b: UserId) -> Result<Option<Pair>, StoreError> {
        conversations::find::<Sqlite>(&mut *self.pool.acquire().await?, a, b).await
    }

    async fn conversations(&self, user: UserId, limit: u32) -> Result<Vec<Pair>, StoreError> {
        conversations::list::<Sqlite>(&mut *self.pool.acquire().await?, user, limit).await
    }

    async fn is_participant(&self, room: &RoomName, user: UserId) -> Result<bool, StoreError> {
        conversations::is_participant::<Sqlite>(&mut *self.pool.acquire().await?, room, user).await
    }

    async fn rename_in_conversation(&self, room: &RoomName, user: &User) -> Result<(), StoreError> {
        conversations::rename::<Sqlite>(&mut *self.pool.acquire().await?, room, user).await
    }

    async fn mark_read(
        &self,
        user: UserId,
        room: &RoomName,
        seq: Seq,
    ) -> Result<Marked, StoreError> {
        let ts = batch::now_millis();
        reads::mark::<Sqlite>(&mut *self.pool.acquire().await?, user, room, seq, ts).await
    }

    async fn read_marker(&self, user: UserId, room: &RoomName) -> Result<ReadMarker, StoreError> {
        reads::marker::<Sqlite>(&mut *self.pool.acquire().await?, user, room).await
    }

    async fn read_markers(&self, user: UserId, limit: u32) -> Result<Vec<ReadMarker>, StoreError> {
        reads::list::<Sqlite>(&mut *self.pool.acquire().await?, user, limit).await
    }

    async fn search(&self, search: &Search) -> Result<Vec<Message>, StoreError> {
        // Messages enter the index a moment after they are stored.
        self.appends.index().await?;
        let query = search.query.fts5();
        search::search::<Sqlite>(&mut *self.pool.acquire().await?, &FTS5, query, search).await
    }

    async fn secret(&self) -> Result<[u8; 32], StoreError> {
        rows::secret(&self.pool).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}

#[async_trait::async_trait]
impl Backend for SqlitePool {
    type Tx = Transaction<'static, Sqlite>;

    /// `BEGIN IMMEDIATE` takes the database's write lock at once (waiting up
    /// to the busy timeout), so appends from several pools on one file run
    /// one after the other and never read a seq another is about to take.
    async fn begin(&self) -> Result<Self::Tx, StoreError> {
        Ok(self.begin_with("BEGIN IMMEDIATE").await?)
    }
}

#[async_trait::async_trait]
impl RoomsTx for Transaction<'static, Sqlite> {
    /// The whole file is already locked by `BEGIN IMMEDIATE`; this reads the
    /// last seqs (a room without a row has none yet).
    async fn lock_rooms(
        &mut self,
        rooms: &[&RoomName],
    ) -> Result<HashMap<RoomName, Seq>, StoreError> {
        let mut found = Vec::new();
        for chunk in rooms.chunks(CHUNK) {
            let mut query =
                QueryBuilder::<Sqlite>::new("SELECT name, last_seq FROM rooms WHERE name IN (");
            let mut names = query.separated(", ");
            chunk.iter().for_each(|room| {
                names.push_bind(room.as_str());
            });
            query.push(")");
            let rows = query.build_query_as::<(String, Seq)>().persistent(cached(chunk.len()));
            found.extend(rows.fetch_all(&mut **self).await?);
        }
        batch::last_seqs(rooms, found)
    }

    async fn save_last_seqs(
        &mut self,
        last_seqs: &HashMap<RoomName, Seq>,
    ) -> Result<(), StoreError> {
        let rooms: Vec<_> = last_seqs.iter().collect();
        for chunk in rooms.chunks(CHUNK) {
            let mut query = QueryBuilder::<Sqlite>::new("INSERT INTO rooms (name, last_seq) ");
            query.push_values(chunk, |mut row, (room, seq)| {
                row.push_bind(room.as_str()).push_bind(**seq);
            });
            query.push(" ON CONFLICT (name) DO UPDATE SET last_seq = excluded.last_seq");
            query.build().persistent(cached(chunk.len())).execute(&mut **self).await?;
        }
        Ok(())
    }

    async fn commit(self) -> Result<(), StoreError> {
        Ok(Transaction::commit(self).await?)
    }

    async fn rollback(self) -> Result<(), StoreError> {
        Ok(Transaction::rollback(self).await?)
    }
}

#[async_trait::async_trait]
impl ChangeTx for Transaction<'static, Sqlite> {
    async fn message(&mut self, room: &RoomName, id: i64) -> Result<Option<Message>, StoreError> {
        rows::message::<Sqlite>(&mut **self, room, id).await
    }

    async fn find_change(
        &mut self,
        room: &RoomName,
        user: UserId,
        client_id: &ClientId,
    ) -> Result<Option<ChangeRow>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT seq, kind, message_id, user_id, user_name, ts FROM changes \
             WHERE room = $1 AND user_id = $2 AND client_id = $3",
        )
        .bind(room.as_str())
        .bind(user.to_string())
        .bind(client_id.as_str())
        .fetch_optional(&mut **self)
        .await?)
    }

    async fn edit(&mut self, id: i64, text: &str, ts: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE messages SET text = $1, edited_at = $2 WHERE id = $3")
            .bind(text)
            .bind(ts)
            .bind(id)
            .execute(&mut **self)
            .await?;
        Ok(())
    }

    async fn delete(&mut self, id: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE messages SET text = '', deleted = TRUE WHERE id = $1")
            .bind(id)
            .execute(&mut **self)
            .await?;
        sqlx::query("DELETE FROM reactions WHERE message_id = $1")
            .bind(id)
            .execute(&mut **self)
            .await?;
        Ok(())
    }

    async fn unreact(&mut self, id: i64, user: UserId, emoji: &str) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "DELETE FROM reactions WHERE message_id = $1 AND user_id = $2 AND emoji = $3",
        )
        .bind(id)
        .bind(user.to_string())
        .bind(emoji)
        .execute(&mut **self)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn react(&mut self, id: i64, user: &User, emoji: &str) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO reactions (message_id, user_id, user_name, emoji) VALUES ($1, $2, $3, $4)",
        )
        .bind(id)
        .bind(user.id.to_string())
        .bind(user.name.as_str())
        .bind(emoji)
        .execute(&mut **self)
        .await?;
        Ok(())
    }

    async fn record(&mut self, draft: &ChangeDraft, seq: i64, ts: i64) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO changes (room, seq, kind, message_id, user_id, user_name, client_id, ts) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(draft.room.as_str())
        .bind(seq)
        .bind(draft.action.kind().as_str())
        .bind(draft.message_id)
        .bind(draft.user.id.to_string())
        .bind(draft.user.name.as_str())
        .bind(draft.client_id.as_ref().map(ClientId::as_str))
        .bind(ts)
        .execute(&mut **self)
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{DisplayName, MessageText};

    fn draft(i: usize, user: &User) -> MessageDraft {
        MessageDraft {
            room: RoomName::parse("steady").expect("a room"),
            user: user.clone(),
            text: MessageText::parse(format!("message {i}")).expect("a text"),
            client_id: Some(ClientId::parse(format!("c-{i}")).expect("a client id")),
            reply_to: None,
        }
    }

    /// Under steady appends a passive checkpoint never copies the whole
    /// log by itself; finished on the append thread, the log starts over
    /// every second instead of growing to the inline backstop.
    #[tokio::test]
    async fn under_steady_appends_the_log_starts_over_every_second() {
        let dir = tempfile::tempdir().expect("a folder");
        let file = dir.path().join("steady.db");
        let store =
            SqliteStore::open(&format!("sqlite://{}", file.display())).await.expect("a store");
        let user = User { id: UserId::random(), name: DisplayName::parse("Asha").expect("name") };
        let mut pace = tokio::time::interval(Duration::from_millis(2));
        let first = restarts(&file);
        for i in 0..1500 {
            pace.tick().await;
            store.append(&[draft(i, &user)]).await.expect("stored");
        }
        // Three seconds of appends: the log started over at least twice.
        let restarted = restarts(&file) - first;
        assert!(restarted >= 2, "the log started over {restarted} times");
    }

    /// How many times the write-ahead log has started over: its header's
    /// checkpoint sequence number, which SQLite counts up at each restart.
    fn restarts(db: &std::path::Path) -> u32 {
        use std::io::Read;
        let mut header = [0u8; 16];
        let read = std::fs::File::open(db.with_extension("db-wal"))
            .and_then(|mut wal| wal.read_exact(&mut header));
        read.map_or(0, |()| u32::from_be_bytes([header[12], header[13], header[14], header[15]]))
    }
}
