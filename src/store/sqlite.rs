//! The embedded store: one SQLite file in WAL mode.

use super::{Appended, Page, Slice, Store, StoreError};
use crate::domain::{
    ClientId, DisplayName, Message, MessageDraft, MessageText, RoomName, Seq, User, UserId,
};
use rand::RngCore;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection, SqlitePool, sqlite::SqliteRow};
use std::collections::HashMap;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

const COLUMNS: &str = "id, room, seq, user_id, user_name, text, ts, client_id";

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
        // A handful of statements per batch, not per message: the writer's
        // throughput is bounded by round trips to SQLite's worker thread.
        let mut tx = self.pool.begin().await?;
        let originals = find_retries(&mut tx, drafts).await?;
        let mut last_seqs = last_seqs(&mut tx, drafts).await?;
        let plan = plan(drafts, &originals, &mut last_seqs);
        let ts = now_millis();
        let ids = insert_all(&mut tx, drafts, &plan, ts).await?;
        save_last_seqs(&mut tx, &last_seqs).await?;
        tx.commit().await?;
        assemble(drafts, plan, &originals, &ids, ts)
    }

    async fn read(&self, room: &RoomName, slice: Slice, limit: u32) -> Result<Page, StoreError> {
        let (filter, order, bound) = match slice {
            Slice::Latest => ("", "DESC", None),
            Slice::Before(seq) => ("AND seq < ?2", "DESC", Some(seq)),
            Slice::After(seq) => ("AND seq > ?2", "ASC", Some(seq)),
        };
        let sql = format!(
            "SELECT {COLUMNS} FROM messages WHERE room = ?1 {filter} ORDER BY seq {order} LIMIT ?3"
        );
        let rows = sqlx::query(&sql)
            .bind(room.as_str())
            .bind(bound.unwrap_or(0))
            .bind(i64::from(limit) + 1)
            .fetch_all(&self.pool)
            .await?;
        let has_more = rows.len() > limit as usize;
        let mut messages = rows
            .iter()
            .take(limit as usize)
            .map(message_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        if order == "DESC" {
            messages.reverse();
        }
        Ok(Page { messages, has_more })
    }

    async fn secret(&self) -> Result<[u8; 32], StoreError> {
        let mut fresh = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut fresh);
        // Insert-or-keep, then read back: whoever created it first wins.
        sqlx::query("INSERT INTO server_secret (id, secret) VALUES (1, ?1) ON CONFLICT DO NOTHING")
            .bind(&fresh[..])
            .execute(&self.pool)
            .await?;
        let stored: Vec<u8> = sqlx::query_scalar("SELECT secret FROM server_secret WHERE id = 1")
            .fetch_one(&self.pool)
            .await?;
        stored.try_into().map_err(|_| StoreError::Corrupt("server secret is not 32 bytes".into()))
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}

/// A retry's identity: the same user, room and `clientId`.
type RetryKey = (RoomName, UserId, ClientId);

fn retry_key(draft: &MessageDraft) -> Option<RetryKey> {
    let client_id = draft.client_id.clone()?;
    Some((draft.room.clone(), draft.user.id, client_id))
}

/// What becomes of each draft of a batch.
enum Fate {
    /// Stored anew with this seq.
    New(Seq),
    /// Repeats a message stored before this batch.
    Stored,
    /// Repeats an earlier draft of this batch (its index).
    Earlier(usize),
}

/// Messages already stored under the batch's retry keys.
async fn find_retries(
    conn: &mut SqliteConnection,
    drafts: &[MessageDraft],
) -> Result<HashMap<RetryKey, Message>, StoreError> {
    let keys: Vec<RetryKey> = drafts.iter().filter_map(retry_key).collect();
    let mut found = HashMap::new();
    for chunk in keys.chunks(CHUNK) {
        // CROSS JOIN keeps SQLite looking up each key in the unique index.
        let mut query = QueryBuilder::<Sqlite>::new("WITH k (room, user_id, client_id) AS (");
        query.push_values(chunk, |mut row, (room, user, client_id)| {
            row.push_bind(room.as_str()).push_bind(user.to_string()).push_bind(client_id.as_str());
        });
        query.push(
            ") SELECT m.* FROM k CROSS JOIN messages m ON m.room = k.room \
             AND m.user_id = k.user_id AND m.client_id = k.client_id",
        );
        for row in query.build().fetch_all(&mut *conn).await? {
            let message = message_from_row(&row)?;
            if let Some(client_id) = message.client_id.clone() {
                found.insert((message.room.clone(), message.user.id, client_id), message);
            }
        }
    }
    Ok(found)
}

/// The last seq of every room the batch writes to.
async fn last_seqs(
    conn: &mut SqliteConnection,
    drafts: &[MessageDraft],
) -> Result<HashMap<RoomName, Seq>, StoreError> {
    let mut rooms: Vec<&RoomName> = drafts.iter().map(|d| &d.room).collect();
    rooms.sort_unstable();
    rooms.dedup();
    let mut seqs: HashMap<RoomName, Seq> = rooms.iter().map(|r| ((*r).clone(), 0)).collect();
    for chunk in rooms.chunks(CHUNK) {
        let mut query =
            QueryBuilder::<Sqlite>::new("SELECT name, last_seq FROM rooms WHERE name IN (");
        let mut names = query.separated(", ");
        chunk.iter().for_each(|room| {
            names.push_bind(room.as_str());
        });
        query.push(")");
        for row in query.build().fetch_all(&mut *conn).await? {
            let name: String = row.try_get("name")?;
            let room = RoomName::parse(&name).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            seqs.insert(room, row.try_get("last_seq")?);
        }
    }
    Ok(seqs)
}

/// Decides each draft's fate in order, assigning the next seqs.
fn plan(
    drafts: &[MessageDraft],
    originals: &HashMap<RetryKey, Message>,
    last_seqs: &mut HashMap<RoomName, Seq>,
) -> Vec<Fate> {
    let mut first_of: HashMap<RetryKey, usize> = HashMap::new();
    let mut fates = Vec::with_capacity(drafts.len());
    for (index, draft) in drafts.iter().enumerate() {
        if let Some(key) = retry_key(draft) {
            if originals.contains_key(&key) {
                fates.push(Fate::Stored);
                continue;
            }
            if let Some(earlier) = first_of.get(&key) {
                fates.push(Fate::Earlier(*earlier));
                continue;
            }
            first_of.insert(key, index);
        }
        let seq = last_seqs.entry(draft.room.clone()).or_insert(0);
        *seq += 1;
        fates.push(Fate::New(*seq));
    }
    fates
}

/// Inserts the new messages; returns their ids by (room, seq).
async fn insert_all(
    conn: &mut SqliteConnection,
    drafts: &[MessageDraft],
    plan: &[Fate],
    ts: i64,
) -> Result<HashMap<(String, Seq), i64>, StoreError> {
    let rows: Vec<(&MessageDraft, Seq)> = drafts
        .iter()
        .zip(plan)
        .filter_map(|(draft, fate)| match fate {
            Fate::New(seq) => Some((draft, *seq)),
            _ => None,
        })
        .collect();
    let mut ids = HashMap::with_capacity(rows.len());
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
        query.push(" RETURNING id, room, seq");
        for row in query.build().fetch_all(&mut *conn).await? {
            ids.insert((row.try_get("room")?, row.try_get("seq")?), row.try_get("id")?);
        }
    }
    Ok(ids)
}

async fn save_last_seqs(
    conn: &mut SqliteConnection,
    last_seqs: &HashMap<RoomName, Seq>,
) -> Result<(), StoreError> {
    let rooms: Vec<_> = last_seqs.iter().collect();
    for chunk in rooms.chunks(CHUNK) {
        let mut query = QueryBuilder::<Sqlite>::new("INSERT INTO rooms (name, last_seq) ");
        query.push_values(chunk, |mut row, (room, seq)| {
            row.push_bind(room.as_str()).push_bind(**seq);
        });
        query.push(" ON CONFLICT (name) DO UPDATE SET last_seq = excluded.last_seq");
        query.build().execute(&mut *conn).await?;
    }
    Ok(())
}

/// One result per draft, in draft order.
fn assemble(
    drafts: &[MessageDraft],
    plan: Vec<Fate>,
    originals: &HashMap<RetryKey, Message>,
    ids: &HashMap<(String, Seq), i64>,
    ts: i64,
) -> Result<Vec<Appended>, StoreError> {
    let mut out: Vec<Appended> = Vec::with_capacity(drafts.len());
    for (draft, fate) in drafts.iter().zip(plan) {
        let appended = match fate {
            Fate::New(seq) => {
                let id = ids
                    .get(&(draft.room.as_str().to_owned(), seq))
                    .copied()
                    .ok_or_else(|| StoreError::Corrupt("inserted row not returned".into()))?;
                Appended { message: stored(draft, id, seq, ts), duplicate: false }
            }
            Fate::Stored => {
                let original = retry_key(draft).and_then(|key| originals.get(&key).cloned());
                let message = original
                    .ok_or_else(|| StoreError::Corrupt("retried message vanished".into()))?;
                Appended { message, duplicate: true }
            }
            Fate::Earlier(index) => {
                Appended { message: out[index].message.clone(), duplicate: true }
            }
        };
        out.push(appended);
    }
    Ok(out)
}

fn stored(draft: &MessageDraft, id: i64, seq: Seq, ts: i64) -> Message {
    Message {
        id,
        room: draft.room.clone(),
        seq,
        user: draft.user.clone(),
        text: draft.text.clone(),
        ts,
        client_id: draft.client_id.clone(),
    }
}

fn message_from_row(row: &SqliteRow) -> Result<Message, StoreError> {
    let user_id: String = row.try_get("user_id")?;
    let room: String = row.try_get("room")?;
    Ok(Message {
        id: row.try_get("id")?,
        room: RoomName::parse(&room).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        seq: row.try_get("seq")?,
        user: User {
            id: UserId::from_hex(&user_id)
                .ok_or_else(|| StoreError::Corrupt(format!("bad user id {user_id:?}")))?,
            name: DisplayName::from_trusted(row.try_get("user_name")?),
        },
        text: MessageText::from_trusted(row.try_get("text")?),
        ts: row.try_get("ts")?,
        client_id: row.try_get::<Option<String>, _>("client_id")?.map(ClientId::from_trusted),
    })
}

fn now_millis() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}
