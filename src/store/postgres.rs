//! The shared store: PostgreSQL, written to by every process of a cluster at
//! once. Only SQL and connection settings live here; how a batch is planned
//! is in [`super::batch`], how pages are made in [`super::rows`].
//!
//! Batches travel as arrays (`unnest`), so a statement has a handful of
//! parameters however large the batch, far from PostgreSQL's 65535.

use super::batch::{self, AppendTx, Backend, Ids, NewRow, RetryKey, RoomsTx};
use super::changes::{self, ChangeTx};
use super::conversations;
use super::reads;
use super::rows::{self, ChangeRow, MessageRow};
use super::search::{self, Search};
use super::{
    Appended, Applied, LogPage, Marked, Opened, Page, ReadMarker, Rejected, Slice, Store,
    StoreError,
};
use crate::domain::{
    ChangeDraft, ClientId, Message, MessageDraft, Pair, RoomName, Seq, User, UserId,
};
use sqlx::migrate::MigrateDatabase;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Postgres, Transaction};
use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// How long a call waits for a connection. While PostgreSQL is down each
/// call fails after this with a [`StoreError`] (the writer answers
/// `unavailable`), and the pool connects again by itself once it is back.
const ACQUIRE_TIMEOUT: Duration = Duration::from_millis(2500);

/// How long a health check may take, even if a connection hangs.
const PING_TIMEOUT: Duration = Duration::from_secs(3);

/// Connections per process: the writer's transaction, history reads, pings.
const MAX_CONNECTIONS: u32 = 8;

/// History in a PostgreSQL database shared by every process.
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// Connects, creating the database if it does not exist, and migrates.
    /// Processes starting together are fine: migrations take an advisory lock.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let options = PgConnectOptions::from_str(url).map_err(StoreError::Open)?;
        let pool = match connect(options.clone()).await {
            Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some(UNKNOWN_DATABASE) => {
                create_database(url).await?;
                connect(options).await
            }
            connected => connected,
        }
        .map_err(StoreError::Open)?;
        MIGRATOR.run(&pool).await?;
        Ok(Self { pool })
    }
}

async fn connect(options: PgConnectOptions) -> Result<PgPool, sqlx::Error> {
    PgPoolOptions::new()
        .max_connections(MAX_CONNECTIONS)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .test_before_acquire(true)
        .connect_with(options)
        .await
}

/// Creates the URL's database, like SQLite creates its file; another
/// process creating it at the same moment is fine.
async fn create_database(url: &str) -> Result<(), StoreError> {
    tracing::info!("creating the database");
    match Postgres::create_database(url).await {
        Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some(DUPLICATE_DATABASE) => Ok(()),
        other => other.map_err(StoreError::Open),
    }
}

const UNKNOWN_DATABASE: &str = "3D000";
const DUPLICATE_DATABASE: &str = "42P04";

/// The generated `search` column and its GIN index (see migration 0004).
const TSVECTOR: search::Dialect = search::Dialect {
    from: "messages m",
    matches: "m.search @@ websearch_to_tsquery('simple', $1)",
    rank: "ts_rank(m.search, websearch_to_tsquery('simple', $1)) DESC",
    // `ts_rank` reads each match's tsvector from the table, so a common
    // word (tens of thousands of matches) is ranked among its newest
    // matches only, found in the GIN index and the id order.
    candidates: Some(search::Candidates {
        sql: "WITH newest AS (SELECT m.id, m.search FROM messages m \
              WHERE m.search @@ websearch_to_tsquery('simple', $1) AND m.id < $3 \
              ORDER BY m.id DESC LIMIT $2) \
              SELECT id FROM newest \
              ORDER BY ts_rank(search, websearch_to_tsquery('simple', $1)) DESC, id DESC",
        count: 1000,
    }),
};

#[async_trait::async_trait]
impl Store for PgStore {
    async fn append(&self, drafts: &[MessageDraft]) -> Result<Vec<Appended>, StoreError> {
        batch::append(&self.pool, drafts).await
    }

    async fn read(&self, room: &RoomName, slice: Slice, limit: u32) -> Result<Page, StoreError> {
        rows::read::<Postgres>(&mut *self.pool.acquire().await?, room, slice, limit).await
    }

    async fn apply(
        &self,
        drafts: &[ChangeDraft],
    ) -> Result<Vec<Result<Applied, Rejected>>, StoreError> {
        let applied = changes::apply(&self.pool, drafts).await?;

        Ok(applied)
    }

    async fn log(&self, room: &RoomName, after: Seq, limit: u32) -> Result<LogPage, StoreError> {
        rows::log::<Postgres>(&mut *self.pool.acquire().await?, room, after, limit).await
    }

    async fn last_seq(&self, room: &RoomName) -> Result<Seq, StoreError> {
        let seq: Option<(Seq,)> = sqlx::query_as("SELECT last_seq FROM rooms WHERE name = $1")
            .bind(room.as_str())
            .fetch_optional(&self.pool)
            .await?;
        Ok(seq.map_or(0, |(seq,)| seq))
    }

    async fn message(&self, room: &RoomName, id: i64) -> Result<Option<Message>, StoreError> {
        rows::message::<Postgres>(&mut *self.pool.acquire().await?, room, id).await
    }

    async fn open_conversation(&self, a: &User, b: &User) -> Result<Opened, StoreError> {
        let ts = batch::now_millis();
        conversations::open::<Postgres>(&mut *self.pool.acquire().await?, a, b, ts).await
    }

    async fn conversation(&self, a: UserId, b: UserId) -> Result<Option<Pair>, StoreError> {
        conversations::find::<Postgres>(&mut *self.pool.acquire().await?, a, b).await
    }

    async fn conversations(&self, user: UserId, limit: u32) -> Result<Vec<Pair>, StoreError> {
        conversations::list::<Postgres>(&mut *self.pool.acquire().await?, user, limit).await
    }

    async fn is_participant(&self, room: &RoomName, user: UserId) -> Result<bool, StoreError> {
        conversations::is_participant::<Postgres>(&mut *self.pool.acquire().await?, room, user)
            .await
    }

    async fn rename_in_conversation(&self, room: &RoomName, user: &User) -> Result<(), StoreError> {
        conversations::rename::<Postgres>(&mut *self.pool.acquire().await?, room, user).await
    }

    async fn mark_read(
        &self,
        user: UserId,
        room: &RoomName,
        seq: Seq,
    ) -> Result<Marked, StoreError> {
        let ts = batch::now_millis();
        reads::mark::<Postgres>(&mut *self.pool.acquire().await?, user, room, seq, ts).await
    }

    async fn read_marker(&self, user: UserId, room: &RoomName) -> Result<ReadMarker, StoreError> {
        reads::marker::<Postgres>(&mut *self.pool.acquire().await?, user, room).await
    }

    async fn read_markers(&self, user: UserId, limit: u32) -> Result<Vec<ReadMarker>, StoreError> {
        reads::list::<Postgres>(&mut *self.pool.acquire().await?, user, limit).await
    }

    async fn search(&self, search: &Search) -> Result<Vec<Message>, StoreError> {
        let query = search.query.websearch();
        search::search::<Postgres>(&mut *self.pool.acquire().await?, &TSVECTOR, query, search).await
    }

    async fn secret(&self) -> Result<[u8; 32], StoreError> {
        rows::secret(&self.pool).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let ping = sqlx::query("SELECT 1").execute(&self.pool);
        tokio::time::timeout(PING_TIMEOUT, ping).await.map_err(|_| StoreError::TimedOut)??;
        Ok(())
    }
}

#[async_trait::async_trait]
impl Backend for PgPool {
    type Tx = Transaction<'static, Postgres>;

    /// READ COMMITTED (whatever the database's default): each statement
    /// sees what was committed before it started, so the statements after
    /// the room locks see the work of the append that held them before.
    async fn begin(&self) -> Result<Self::Tx, StoreError> {
        Ok(self.begin_with("BEGIN ISOLATION LEVEL READ COMMITTED").await?)
    }
}

/// Seq order is commit order. An append holds its rooms' rows locked from
/// its first statement to its commit, and reads the last seq under that
/// lock, so appends to one room commit one after another in seq order.
/// Hence a visible seq N means every seq below N is committed too: a
/// process that got N from another but not N-1 can read N-1 here.
#[async_trait::async_trait]
impl RoomsTx for Transaction<'static, Postgres> {
    /// One upsert creates missing rooms and locks existing ones (`DO UPDATE`
    /// locks the row as `FOR UPDATE` would), in byte order of the names, so
    /// two appends sharing rooms never wait for each other in a cycle.
    async fn lock_rooms(
        &mut self,
        rooms: &[&RoomName],
    ) -> Result<HashMap<RoomName, Seq>, StoreError> {
        let names: Vec<&str> = rooms.iter().map(|r| r.as_str()).collect();
        let locked: Vec<(String, Seq)> = sqlx::query_as(
            "INSERT INTO rooms (name, last_seq) \
             SELECT name, 0 FROM unnest($1::text[]) AS r (name) ORDER BY name COLLATE \"C\" \
             ON CONFLICT (name) DO UPDATE SET last_seq = rooms.last_seq \
             RETURNING name, last_seq",
        )
        .bind(&names)
        .fetch_all(&mut **self)
        .await?;
        locked
            .into_iter()
            .map(|(name, seq)| {
                let room =
                    RoomName::parse(&name).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                Ok((room, seq))
            })
            .collect()
    }

    async fn save_last_seqs(
        &mut self,
        last_seqs: &HashMap<RoomName, Seq>,
    ) -> Result<(), StoreError> {
        let (names, seqs): (Vec<&str>, Vec<Seq>) =
            last_seqs.iter().map(|(room, seq)| (room.as_str(), *seq)).unzip();
        sqlx::query(
            "UPDATE rooms SET last_seq = v.last_seq \
             FROM unnest($1::text[], $2::int8[]) AS v (name, last_seq) WHERE rooms.name = v.name",
        )
        .bind(&names)
        .bind(&seqs)
        .execute(&mut **self)
        .await?;
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
impl AppendTx for Transaction<'static, Postgres> {
    async fn find_stored(&mut self, keys: &[RetryKey]) -> Result<Vec<Message>, StoreError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let rooms: Vec<&str> = keys.iter().map(|(room, _, _)| room.as_str()).collect();
        let users: Vec<String> = keys.iter().map(|(_, user, _)| user.to_string()).collect();
        let client_ids: Vec<&[u8]> = keys.iter().map(|(_, _, c)| c.as_str().as_bytes()).collect();
        let rows: Vec<MessageRow> = sqlx::query_as(
            "SELECT m.* FROM unnest($1::text[], $2::text[], $3::bytea[]) AS k (room, user_id, client_id) \
             JOIN messages m ON m.room = k.room AND m.user_id = k.user_id \
             AND m.client_id = k.client_id AND m.client_id IS NOT NULL",
        )
        .bind(&rooms)
        .bind(&users)
        .bind(&client_ids)
        .fetch_all(&mut **self)
        .await?;
        rows.into_iter().map(Message::try_from).collect()
    }

    async fn insert(&mut self, rows: &[NewRow<'_>], ts: i64) -> Result<Ids, StoreError> {
        if rows.is_empty() {
            return Ok(Ids::new());
        }
        let c = Columns::of(rows);
        // RETURNING order is unspecified; (room, seq) says which row is which.
        let inserted: Vec<(i64, String, Seq)> = sqlx::query_as(
            "INSERT INTO messages (room, seq, user_id, user_name, text, ts, client_id, reply_to) \
             SELECT room, seq, user_id, user_name, text, $7, client_id, reply_to \
             FROM unnest($1::text[], $2::int8[], $3::text[], $4::text[], $5::bytea[], $6::bytea[], \
             $8::int8[]) AS r (room, seq, user_id, user_name, text, client_id, reply_to) \
             ON CONFLICT DO NOTHING RETURNING id, room, seq",
        )
        .bind(&c.rooms)
        .bind(&c.seqs)
        .bind(&c.users)
        .bind(&c.names)
        .bind(&c.texts)
        .bind(&c.client_ids)
        .bind(ts)
        .bind(&c.reply_tos)
        .fetch_all(&mut **self)
        .await?;
        Ok(inserted.into_iter().map(|(id, room, seq)| ((room, seq), id)).collect())
    }

    async fn touch_conversations(
        &mut self,
        rooms: &[&RoomName],
        ts: i64,
    ) -> Result<(), StoreError> {
        conversations::touch::<Postgres>(&mut **self, rooms, ts).await
    }
}

/// New messages as one array per column, for `unnest`.
#[derive(Default)]
struct Columns<'a> {
    rooms: Vec<&'a str>,
    seqs: Vec<Seq>,
    users: Vec<String>,
    names: Vec<&'a str>,
    texts: Vec<&'a [u8]>,
    client_ids: Vec<Option<&'a [u8]>>,
    reply_tos: Vec<Option<i64>>,
}

impl<'a> Columns<'a> {
    fn of(rows: &'a [NewRow<'a>]) -> Self {
        let mut c = Self::default();
        for (draft, seq) in rows {
            c.rooms.push(draft.room.as_str());
            c.seqs.push(*seq);
            c.users.push(draft.user.id.to_string());
            c.names.push(draft.user.name.as_str());
            c.texts.push(draft.text.as_str().as_bytes());
            c.client_ids.push(draft.client_id.as_ref().map(|id| id.as_str().as_bytes()));
            c.reply_tos.push(draft.reply_to);
        }
        c
    }
}

#[async_trait::async_trait]
impl ChangeTx for Transaction<'static, Postgres> {
    async fn message(&mut self, room: &RoomName, id: i64) -> Result<Option<Message>, StoreError> {
        rows::message::<Postgres>(&mut **self, room, id).await
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
        .bind(client_id.as_str().as_bytes())
        .fetch_optional(&mut **self)
        .await?)
    }

    async fn edit(&mut self, id: i64, text: &str, ts: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE messages SET text = $1, edited_at = $2 WHERE id = $3")
            .bind(text.as_bytes())
            .bind(ts)
            .bind(id)
            .execute(&mut **self)
            .await?;
        Ok(())
    }

    async fn delete(&mut self, id: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE messages SET text = ''::bytea, deleted = TRUE WHERE id = $1")
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
        .bind(draft.client_id.as_ref().map(|c| c.as_str().as_bytes()))
        .bind(ts)
        .execute(&mut **self)
        .await?;
        Ok(())
    }
}
