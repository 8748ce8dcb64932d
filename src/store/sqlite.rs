//! The embedded store: one SQLite file in WAL mode.

use super::{Appended, Page, Slice, Store, StoreError};
use crate::domain::{
    ClientId, DisplayName, Message, MessageDraft, MessageText, RoomName, Seq, User, UserId,
};
use rand::RngCore;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqliteConnection, SqlitePool, sqlite::SqliteRow};
use std::collections::HashMap;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

const COLUMNS: &str = "id, room, seq, user_id, user_name, text, ts, client_id";

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
        let mut tx = self.pool.begin().await?;
        let mut last_seqs: HashMap<&RoomName, Seq> = HashMap::new();
        let mut out = Vec::with_capacity(drafts.len());
        let ts = now_millis();
        for draft in drafts {
            if let Some(original) = find_retry(&mut tx, draft).await? {
                out.push(Appended { message: original, duplicate: true });
                continue;
            }
            let seq = match last_seqs.get(&draft.room) {
                Some(seq) => seq + 1,
                None => last_seq(&mut tx, &draft.room).await? + 1,
            };
            last_seqs.insert(&draft.room, seq);
            let message = insert(&mut tx, draft, seq, ts).await?;
            out.push(Appended { message, duplicate: false });
        }
        for (room, seq) in last_seqs {
            sqlx::query(
                "INSERT INTO rooms (name, last_seq) VALUES (?1, ?2) \
                 ON CONFLICT (name) DO UPDATE SET last_seq = ?2",
            )
            .bind(room.as_str())
            .bind(seq)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(out)
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

async fn find_retry(
    conn: &mut SqliteConnection,
    draft: &MessageDraft,
) -> Result<Option<Message>, StoreError> {
    let Some(client_id) = &draft.client_id else {
        return Ok(None);
    };
    let sql = format!(
        "SELECT {COLUMNS} FROM messages WHERE room = ?1 AND user_id = ?2 AND client_id = ?3"
    );
    let row = sqlx::query(&sql)
        .bind(draft.room.as_str())
        .bind(draft.user.id.to_string())
        .bind(client_id.as_str())
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(message_from_row).transpose()
}

async fn last_seq(conn: &mut SqliteConnection, room: &RoomName) -> Result<Seq, StoreError> {
    let seq: Option<i64> = sqlx::query_scalar("SELECT last_seq FROM rooms WHERE name = ?1")
        .bind(room.as_str())
        .fetch_optional(&mut *conn)
        .await?;
    Ok(seq.unwrap_or(0))
}

async fn insert(
    conn: &mut SqliteConnection,
    draft: &MessageDraft,
    seq: Seq,
    ts: i64,
) -> Result<Message, StoreError> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO messages (room, seq, user_id, user_name, text, ts, client_id) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) RETURNING id",
    )
    .bind(draft.room.as_str())
    .bind(seq)
    .bind(draft.user.id.to_string())
    .bind(draft.user.name.as_str())
    .bind(draft.text.as_str())
    .bind(ts)
    .bind(draft.client_id.as_ref().map(ClientId::as_str))
    .fetch_one(&mut *conn)
    .await?;
    Ok(Message {
        id,
        room: draft.room.clone(),
        seq,
        user: draft.user.clone(),
        text: draft.text.clone(),
        ts,
        client_id: draft.client_id.clone(),
    })
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
