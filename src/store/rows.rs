//! Reading history, whatever the database: the row types, the read queries
//! in SQL both backends accept (`$N` parameters), and pages and log slices
//! made the same way. Messages are read in their current state, reactions
//! included.

use super::{LogPage, Page, Slice, StoreError};
use crate::domain::{
    Change, ChangeKind, ClientId, DisplayName, Message, MessageText, Reaction, RoomName, Seq, User,
    UserId,
};
use std::collections::HashMap;

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
    edited_at: Option<i64>,
    deleted: bool,
    reply_to: Option<i64>,
}

/// One user's reaction to one message.
#[derive(sqlx::FromRow)]
pub(super) struct ReactionRow {
    message_id: i64,
    emoji: String,
    user_id: String,
    user_name: String,
}

/// One entry of the changes log (the message is read separately).
#[derive(sqlx::FromRow)]
pub(super) struct ChangeRow {
    pub seq: i64,
    kind: String,
    pub message_id: i64,
    user_id: String,
    user_name: String,
    ts: i64,
}

impl MessageRow {
    pub(super) fn id(&self) -> i64 {
        self.id
    }

    /// Reads a `SELECT m.*` row on a rusqlite connection (the SQLite append
    /// thread), by the same column names sqlx reads.
    pub(super) fn from_sqlite(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        use rusqlite::types::ValueRef;
        // TEXT in SQLite; read as bytes, as sqlx does.
        let bytes = |name: &str| -> rusqlite::Result<Option<Vec<u8>>> {
            Ok(match row.get_ref(name)? {
                ValueRef::Text(b) | ValueRef::Blob(b) => Some(b.to_vec()),
                _ => None,
            })
        };
        Ok(Self {
            id: row.get("id")?,
            room: row.get("room")?,
            seq: row.get("seq")?,
            user_id: row.get("user_id")?,
            user_name: row.get("user_name")?,
            text: bytes("text")?
                .ok_or_else(|| rusqlite::Error::InvalidColumnName("text is NULL".into()))?,
            ts: row.get("ts")?,
            client_id: bytes("client_id")?,
            edited_at: row.get("edited_at")?,
            deleted: row.get("deleted")?,
            reply_to: row.get("reply_to")?,
        })
    }
}

impl TryFrom<MessageRow> for Message {
    type Error = StoreError;

    fn try_from(row: MessageRow) -> Result<Self, StoreError> {
        let client_id = row.client_id.map(utf8).transpose()?;
        Ok(Message {
            id: row.id,
            room: RoomName::parse(&row.room).map_err(|e| StoreError::Corrupt(e.to_string()))?,
            seq: row.seq,
            user: user(&row.user_id, row.user_name)?,
            text: MessageText::from_trusted(utf8(row.text)?),
            ts: row.ts,
            client_id: client_id.map(ClientId::from_trusted),
            edited_at: row.edited_at,
            deleted: row.deleted,
            reply_to: row.reply_to,
            reactions: Vec::new(),
        })
    }
}

fn user(id: &str, name: String) -> Result<User, StoreError> {
    let id =
        UserId::from_hex(id).ok_or_else(|| StoreError::Corrupt(format!("bad user id {id:?}")))?;
    Ok(User { id, name: DisplayName::from_trusted(name) })
}

fn utf8(bytes: Vec<u8>) -> Result<String, StoreError> {
    String::from_utf8(bytes).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// The columns of [`MessageRow`], for the queries below.
macro_rules! columns {
    () => {
        "id, room, seq, user_id, user_name, text, ts, client_id, edited_at, deleted, reply_to"
    };
}

macro_rules! select {
    () => {
        concat!("SELECT ", columns!(), " FROM messages WHERE room = $1")
    };
}

/// Reads `limit` messages of `room`'s `slice`, oldest first, on either
/// backend.
pub(super) async fn read<DB>(
    conn: &mut DB::Connection,
    room: &RoomName,
    slice: Slice,
    limit: u32,
) -> Result<Page, StoreError>
where
    DB: sqlx::Database,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    MessageRow: for<'r> sqlx::FromRow<'r, DB::Row>,
    ReactionRow: for<'r> sqlx::FromRow<'r, DB::Row>,
    ChangeRow: for<'r> sqlx::FromRow<'r, DB::Row>,
    for<'q> &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> DB::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
{
    let (sql, bound) = (read_sql(slice), bound(slice));
    let rows: Vec<MessageRow> = sqlx::query_as(sql)
        .bind(room.as_str())
        .bind(bound)
        .bind(i64::from(limit) + 1)
        .fetch_all(&mut *conn)
        .await?;
    let reactions_sql = format!("SELECT id FROM ({sql}) AS page");
    let reactions =
        reactions::<DB>(conn, &reactions_sql, room, bound, i64::from(limit) + 1).await?;
    page(rows, slice, limit, reactions)
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

/// The reactions to the messages whose ids `ids_sql` selects (with the
/// parameters of [`read_sql`]), by message id, in the order they were added.
async fn reactions<DB>(
    conn: &mut DB::Connection,
    ids_sql: &str,
    room: &RoomName,
    bound: Seq,
    limit: i64,
) -> Result<HashMap<i64, Vec<Reaction>>, StoreError>
where
    DB: sqlx::Database,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    MessageRow: for<'r> sqlx::FromRow<'r, DB::Row>,
    ReactionRow: for<'r> sqlx::FromRow<'r, DB::Row>,
    ChangeRow: for<'r> sqlx::FromRow<'r, DB::Row>,
    for<'q> &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> DB::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
{
    let sql = format!(
        "SELECT message_id, emoji, user_id, user_name FROM reactions \
         WHERE message_id IN ({ids_sql}) ORDER BY id"
    );
    let rows: Vec<ReactionRow> = sqlx::query_as(&sql)
        .bind(room.as_str())
        .bind(bound)
        .bind(limit)
        .fetch_all(&mut *conn)
        .await?;
    group_reactions(rows)
}

/// Reaction rows (in the order they were added) by message id.
pub(super) fn group_reactions(
    rows: Vec<ReactionRow>,
) -> Result<HashMap<i64, Vec<Reaction>>, StoreError> {
    let mut by_message: HashMap<i64, Vec<Reaction>> = HashMap::new();
    for row in rows {
        let reactions = by_message.entry(row.message_id).or_default();
        let who = user(&row.user_id, row.user_name)?;
        match reactions.iter_mut().find(|r| r.emoji == row.emoji) {
            Some(reaction) => {
                reaction.count += 1;
                reaction.users.push(who);
            }
            None => reactions.push(Reaction { emoji: row.emoji, count: 1, users: vec![who] }),
        }
    }
    Ok(by_message)
}

pub(super) fn with_reactions(
    rows: Vec<MessageRow>,
    reactions: &mut HashMap<i64, Vec<Reaction>>,
) -> Result<Vec<Message>, StoreError> {
    rows.into_iter()
        .map(|row| {
            let mut message = Message::try_from(row)?;
            message.reactions = reactions.remove(&message.id).unwrap_or_default();
            Ok(message)
        })
        .collect()
}

/// The page that rows read with [`read_sql`] make, oldest first.
fn page(
    mut rows: Vec<MessageRow>,
    slice: Slice,
    limit: u32,
    mut reactions: HashMap<i64, Vec<Reaction>>,
) -> Result<Page, StoreError> {
    let has_more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let mut messages = with_reactions(rows, &mut reactions)?;
    if !matches!(slice, Slice::After(_)) {
        messages.reverse();
    }
    Ok(Page { messages, has_more })
}

/// One message of `room` in its current state, if it exists.
pub(super) async fn message<DB>(
    conn: &mut DB::Connection,
    room: &RoomName,
    id: i64,
) -> Result<Option<Message>, StoreError>
where
    DB: sqlx::Database,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    MessageRow: for<'r> sqlx::FromRow<'r, DB::Row>,
    ReactionRow: for<'r> sqlx::FromRow<'r, DB::Row>,
    ChangeRow: for<'r> sqlx::FromRow<'r, DB::Row>,
    for<'q> &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> DB::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
{
    const SQL: &str = concat!(select!(), " AND id = $2 AND $3 > 0");
    let row: Option<MessageRow> = sqlx::query_as(SQL)
        .bind(room.as_str())
        .bind(id)
        .bind(1_i64)
        .fetch_optional(&mut *conn)
        .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let mut reactions = reactions::<DB>(
        conn,
        "SELECT id FROM messages WHERE room = $1 AND id = $2 AND $3 > 0",
        room,
        id,
        1,
    )
    .await?;
    Ok(with_reactions(vec![row], &mut reactions)?.pop())
}

/// The entries of `room`'s log after `after`, in seq order, at most
/// `limit`: its new messages and its changes, every message in its
/// current state.
pub(super) async fn log<DB>(
    conn: &mut DB::Connection,
    room: &RoomName,
    after: Seq,
    limit: u32,
) -> Result<LogPage, StoreError>
where
    DB: sqlx::Database,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    MessageRow: for<'r> sqlx::FromRow<'r, DB::Row>,
    ReactionRow: for<'r> sqlx::FromRow<'r, DB::Row>,
    ChangeRow: for<'r> sqlx::FromRow<'r, DB::Row>,
    for<'q> &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> DB::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
{
    const MESSAGES: &str = concat!(select!(), " AND seq > $2 ORDER BY seq ASC LIMIT $3");
    const CHANGES: &str = "SELECT seq, kind, message_id, user_id, user_name, ts FROM changes \
                           WHERE room = $1 AND seq > $2 ORDER BY seq ASC LIMIT $3";
    let rows = i64::from(limit) + 1;
    let fetch = |sql: &'static str| {
        sqlx::query_as::<DB, MessageRow>(sql).bind(room.as_str()).bind(after).bind(rows)
    };
    let created = fetch(MESSAGES).fetch_all(&mut *conn).await?;
    let changes: Vec<ChangeRow> = sqlx::query_as(CHANGES)
        .bind(room.as_str())
        .bind(after)
        .bind(rows)
        .fetch_all(&mut *conn)
        .await?;
    let changed_sql = concat!(
        select!(),
        " AND id IN (SELECT message_id FROM changes WHERE room = $1 AND seq > $2 ORDER BY seq LIMIT $3)"
    );
    let changed = fetch(changed_sql).fetch_all(&mut *conn).await?;
    // The messages of this slice only: those created in it or changed in it.
    let ids_sql = "SELECT id FROM (SELECT id FROM messages WHERE room = $1 AND seq > $2 \
                   ORDER BY seq LIMIT $3) AS created UNION SELECT message_id FROM \
                   (SELECT message_id FROM changes WHERE room = $1 AND seq > $2 \
                   ORDER BY seq LIMIT $3) AS changed";
    let mut reactions = reactions::<DB>(conn, ids_sql, room, after, rows).await?;
    let created = with_reactions(created, &mut reactions.clone())?;
    let changed = with_reactions(changed, &mut reactions)?;
    merge(created, changes, changed, limit)
}

/// One log in seq order from the new messages and the changes.
fn merge(
    created: Vec<Message>,
    changes: Vec<ChangeRow>,
    changed: Vec<Message>,
    limit: u32,
) -> Result<LogPage, StoreError> {
    let states: HashMap<i64, Message> = changed.into_iter().map(|m| (m.id, m)).collect();
    let mut entries: Vec<super::Entry> = created.into_iter().map(super::Entry::Message).collect();
    for row in changes {
        let message = states
            .get(&row.message_id)
            .cloned()
            .ok_or_else(|| StoreError::Corrupt("a change's message vanished".into()))?;
        entries.push(super::Entry::Change(change(row, message)?));
    }
    entries.sort_by_key(super::Entry::seq);
    let has_more = entries.len() > limit as usize;
    entries.truncate(limit as usize);
    Ok(LogPage { entries, has_more })
}

/// A change row with its message's current state.
pub(super) fn change(row: ChangeRow, message: Message) -> Result<Change, StoreError> {
    let kind = ChangeKind::parse(&row.kind)
        .ok_or_else(|| StoreError::Corrupt(format!("unknown change kind {:?}", row.kind)))?;
    Ok(Change {
        room: message.room.clone(),
        seq: row.seq,
        kind,
        user: user(&row.user_id, row.user_name)?,
        ts: row.ts,
        message,
    })
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
