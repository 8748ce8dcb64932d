//! The embedded store: one SQLite file in WAL mode. Only SQL lives here; how
//! a batch is planned is in [`super::batch`], how pages are made in
//! [`super::rows`].

use super::batch::{self, AppendTx, Backend, Ids, NewRow, RetryKey};
use super::rows::{self, MessageRow};
use super::{Appended, Page, Slice, Store, StoreError};
use crate::domain::{ClientId, Message, MessageDraft, RoomName, Seq};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{QueryBuilder, Sqlite, SqlitePool, Transaction};
use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// Rows per multi-row statement: 7 binds each stays far below SQLite's
/// limit on bound parameters.
const CHUNK: usize = 500;

/// History in a local SQLite file.
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        // WAL with NORMAL sync: a commit is in the OS before the ack, so it
        // survives the process being killed; skipping the fsync per commit
        // keeps acks fast (a power cut may lose the last commits).
        let options = SqliteConnectOptions::from_str(url)
            .map_err(StoreError::Open)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(StoreError::Open)?;
        MIGRATOR.run(&pool).await?;
        Ok(Self { pool })
    }
}

#[async_trait::async_trait]
impl Store for SqliteStore {
    async fn append(&self, drafts: &[MessageDraft]) -> Result<Vec<Appended>, StoreError> {
        batch::append(&self.pool, drafts).await
    }

    async fn read(&self, room: &RoomName, slice: Slice, limit: u32) -> Result<Page, StoreError> {
        rows::read(&self.pool, room, slice, limit).await
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
impl AppendTx for Transaction<'static, Sqlite> {
    /// The whole file is already locked by `BEGIN IMMEDIATE`; this reads the
    /// last seqs (a room without a row has none yet).
    async fn lock_rooms(
        &mut self,
        rooms: &[&RoomName],
    ) -> Result<HashMap<RoomName, Seq>, StoreError> {
        let mut seqs: HashMap<RoomName, Seq> = rooms.iter().map(|r| ((*r).clone(), 0)).collect();
        for chunk in rooms.chunks(CHUNK) {
            let mut query =
                QueryBuilder::<Sqlite>::new("SELECT name, last_seq FROM rooms WHERE name IN (");
            let mut names = query.separated(", ");
            chunk.iter().for_each(|room| {
                names.push_bind(room.as_str());
            });
            query.push(")");
            for (name, last_seq) in
                query.build_query_as::<(String, Seq)>().fetch_all(&mut **self).await?
            {
                let room =
                    RoomName::parse(&name).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                seqs.insert(room, last_seq);
            }
        }
        Ok(seqs)
    }

    async fn find_stored(&mut self, keys: &[RetryKey]) -> Result<Vec<Message>, StoreError> {
        let mut found = Vec::new();
        for chunk in keys.chunks(CHUNK) {
            // CROSS JOIN keeps SQLite looking up each key in the unique index.
            let mut query = QueryBuilder::<Sqlite>::new("WITH k (room, user_id, client_id) AS (");
            query.push_values(chunk, |mut row, (room, user, client_id)| {
                row.push_bind(room.as_str())
                    .push_bind(user.to_string())
                    .push_bind(client_id.as_str());
            });
            query.push(
                ") SELECT m.* FROM k CROSS JOIN messages m ON m.room = k.room \
                 AND m.user_id = k.user_id AND m.client_id = k.client_id",
            );
            for row in query.build_query_as::<MessageRow>().fetch_all(&mut **self).await? {
                found.push(Message::try_from(row)?);
            }
        }
        Ok(found)
    }

    async fn insert(&mut self, rows: &[NewRow<'_>], ts: i64) -> Result<Ids, StoreError> {
        let mut ids = Ids::with_capacity(rows.len());
        for chunk in rows.chunks(CHUNK) {
            let mut query = QueryBuilder::<Sqlite>::new(
                "INSERT INTO messages (room, seq, user_id, user_name, text, ts, client_id) ",
            );
            query.push_values(chunk, |mut row, (draft, seq)| {
                row.push_bind(draft.room.as_str())
                    .push_bind(*seq)
                    .push_bind(draft.user.id.to_string())
                    .push_bind(draft.user.name.as_str())
                    .push_bind(draft.text.as_str())
                    .push_bind(ts)
                    .push_bind(draft.client_id.as_ref().map(ClientId::as_str));
            });
            // RETURNING order is unspecified; (room, seq) says which row is which.
            query.push(" ON CONFLICT DO NOTHING RETURNING id, room, seq");
            for (id, room, seq) in
                query.build_query_as::<(i64, String, Seq)>().fetch_all(&mut **self).await?
            {
                ids.insert((room, seq), id);
            }
        }
        Ok(ids)
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
            query.build().execute(&mut **self).await?;
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
