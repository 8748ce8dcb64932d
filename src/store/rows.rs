//! Reading history, whatever the database: one row type, one query per
//! slice in SQL both backends accept (`$N` parameters), and pages made the
//! same way.

use super::{Page, Slice, StoreError};
use crate::domain::{ClientId, DisplayName, Message, MessageText, RoomName, Seq, User, UserId};

/// A stored message's columns. Text and clientId are read as bytes:
/// PostgreSQL keeps them as BYTEA (to hold U+0000), SQLite as TEXT.
#[derive(sqlx::FromRow)]
pub(super) struct MessageRow {
    id: i64,
    room: String,
    seq: i64,
    user_id: String,
    user_name: String,
    text: Vec<u8>,
    ts: i64,
    client_id: Option<Vec<u8>>,
}

impl TryFrom<MessageRow> for Message {
    type Error = StoreError;

    fn try_from(row: MessageRow) -> Result<Self, StoreError> {
        let client_id = row.client_id.map(utf8).transpose()?;
        Ok(Message {
            id: row.id,
            room: RoomName::parse(&row.room).map_err(|e| StoreError::Corrupt(e.to_string()))?,
            seq: row.seq,
            user: User {
                id: UserId::from_hex(&row.user_id)
                    .ok_or_else(|| StoreError::Corrupt(format!("bad user id {:?}", row.user_id)))?,
                name: DisplayName::from_trusted(row.user_name),
            },
            text: MessageText::from_trusted(utf8(row.text)?),
            ts: row.ts,
            client_id: client_id.map(ClientId::from_trusted),
        })
    }
}

fn utf8(bytes: Vec<u8>) -> Result<String, StoreError> {
    String::from_utf8(bytes).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// The columns of [`MessageRow`], for the queries below.
macro_rules! select {
    () => {
        "SELECT id, room, seq, user_id, user_name, text, ts, client_id FROM messages WHERE room = $1"
    };
}

/// Reads `limit` messages of `room`'s `slice`, oldest first, on either
/// backend.
pub(super) async fn read<'c, DB, E>(
    executor: E,
    room: &RoomName,
    slice: Slice,
    limit: u32,
) -> Result<Page, StoreError>
where
    DB: sqlx::Database,
    E: sqlx::Executor<'c, Database = DB>,
    MessageRow: for<'r> sqlx::FromRow<'r, DB::Row>,
    for<'q> &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> DB::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
{
    let rows: Vec<MessageRow> = sqlx::query_as(read_sql(slice))
        .bind(room.as_str())
        .bind(bound(slice))
        .bind(i64::from(limit) + 1)
        .fetch_all(executor)
        .await?;
    page(rows, slice, limit)
}

/// The query reading `slice`: `$1` is the room, `$2` the seq it is bounded
/// by ([`bound`]), `$3` the number of rows (one more than the page, to know
/// whether more lie beyond).
fn read_sql(slice: Slice) -> &'static str {
    match slice {
        Slice::Latest => concat!(select!(), " ORDER BY seq DESC LIMIT $3"),
        Slice::Before(_) => concat!(select!(), " AND seq < $2 ORDER BY seq DESC LIMIT $3"),
        Slice::After(_) => concat!(select!(), " AND seq > $2 ORDER BY seq ASC LIMIT $3"),
    }
}

/// The seq `$2` of [`read_sql`] stands for.
fn bound(slice: Slice) -> Seq {
    match slice {
        Slice::Latest => 0,
        Slice::Before(seq) | Slice::After(seq) => seq,
    }
}

/// The page that rows read with [`read_sql`] make, oldest first.
fn page(rows: Vec<MessageRow>, slice: Slice, limit: u32) -> Result<Page, StoreError> {
    let has_more = rows.len() > limit as usize;
    let mut messages = rows
        .into_iter()
        .take(limit as usize)
        .map(Message::try_from)
        .collect::<Result<Vec<_>, _>>()?;
    if !matches!(slice, Slice::After(_)) {
        messages.reverse();
    }
    Ok(Page { messages, has_more })
}

/// The secret session tokens are signed with, created on first use: insert
/// or keep, then read back, so the first process to start wins and every
/// process signs with its key.
pub(super) async fn secret<DB>(pool: &sqlx::Pool<DB>) -> Result<[u8; 32], StoreError>
where
    DB: sqlx::Database,
    for<'c> &'c sqlx::Pool<DB>: sqlx::Executor<'c, Database = DB>,
    for<'q> Vec<u8>: sqlx::Encode<'q, DB> + sqlx::Type<DB> + sqlx::Decode<'q, DB>,
    for<'q> DB::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    (Vec<u8>,): for<'r> sqlx::FromRow<'r, DB::Row>,
{
    let mut fresh = vec![0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut fresh);
    sqlx::query("INSERT INTO server_secret (id, secret) VALUES (1, $1) ON CONFLICT DO NOTHING")
        .bind(fresh)
        .execute(pool)
        .await?;
    let (stored,): (Vec<u8>,) =
        sqlx::query_as("SELECT secret FROM server_secret WHERE id = 1").fetch_one(pool).await?;
    stored.try_into().map_err(|_| StoreError::Corrupt("server secret is not 32 bytes".into()))
}
