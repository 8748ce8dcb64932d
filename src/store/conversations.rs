//! Direct conversations, whatever the database: SQL both backends accept
//! (`$N` parameters), written once. A pair of users has one conversation:
//! its users are stored in byte order of their ids under a unique index,
//! so opening one is an insert that does nothing if the pair exists, from
//! any number of processes at once.

use super::{Opened, StoreError};
use crate::domain::{DirectRoom, DisplayName, Pair, RoomName, User, UserId};

/// A conversation's columns, with its room's newest seq.
#[derive(sqlx::FromRow)]
pub(super) struct PairRow {
    room: String,
    user_a: String,
    name_a: String,
    user_b: String,
    name_b: String,
    last_seq: i64,
}

const SELECT: &str = "SELECT c.room, c.user_a, c.name_a, c.user_b, c.name_b, \
                      COALESCE(r.last_seq, 0) AS last_seq \
                      FROM conversations c LEFT JOIN rooms r ON r.name = c.room";

impl TryFrom<PairRow> for Pair {
    type Error = StoreError;

    fn try_from(row: PairRow) -> Result<Self, StoreError> {
        let user = |id: &str, name: String| {
            let id = UserId::from_hex(id)
                .ok_or_else(|| StoreError::Corrupt(format!("bad user id {id:?}")))?;
            Ok::<_, StoreError>(User { id, name: DisplayName::from_trusted(name) })
        };
        let room = RoomName::parse(&row.room)
            .ok()
            .filter(RoomName::is_direct)
            .ok_or_else(|| StoreError::Corrupt(format!("bad direct room {:?}", row.room)))?;
        let users = [user(&row.user_a, row.name_a)?, user(&row.user_b, row.name_b)?];
        Ok(Pair { room, users, last_seq: row.last_seq })
    }
}

/// The pair in stored order: the lower id first.
fn ordered<'u>(a: &'u User, b: &'u User) -> (&'u User, &'u User) {
    if a.id <= b.id { (a, b) } else { (b, a) }
}

/// Opens the conversation of `a` and `b` in a new room, or finds the one
/// they have; `created` says which.
pub(super) async fn open<DB>(
    conn: &mut DB::Connection,
    a: &User,
    b: &User,
    ts: i64,
) -> Result<Opened, StoreError>
where
    DB: sqlx::Database,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    PairRow: for<'r> sqlx::FromRow<'r, DB::Row>,
    (String,): for<'r> sqlx::FromRow<'r, DB::Row>,
    for<'q> &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> DB::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
{
    let (lo, hi) = ordered(a, b);
    let inserted: Option<(String,)> = sqlx::query_as(
        "INSERT INTO conversations (room, user_a, name_a, user_b, name_b, created_at, last_activity) \
         VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT DO NOTHING RETURNING room",
    )
    .bind(DirectRoom::random().to_string())
    .bind(lo.id.to_string())
    .bind(lo.name.as_str())
    .bind(hi.id.to_string())
    .bind(hi.name.as_str())
    .bind(ts)
    .fetch_optional(&mut *conn)
    .await?;
    // Read back either way: a pair opened by another process a moment ago
    // is committed by now (its insert is what made this one do nothing).
    let pair = find::<DB>(conn, a.id, b.id)
        .await?
        .ok_or_else(|| StoreError::Corrupt("a conversation vanished".into()))?;
    Ok(Opened { pair, created: inserted.is_some() })
}

/// The conversation of `a` and `b`, if they have one.
pub(super) async fn find<DB>(
    conn: &mut DB::Connection,
    a: UserId,
    b: UserId,
) -> Result<Option<Pair>, StoreError>
where
    DB: sqlx::Database,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    PairRow: for<'r> sqlx::FromRow<'r, DB::Row>,
    (String,): for<'r> sqlx::FromRow<'r, DB::Row>,
    for<'q> &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> DB::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
{
    let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
    let sql = format!("{SELECT} WHERE c.user_a = $1 AND c.user_b = $2");
    let row: Option<PairRow> = sqlx::query_as(&sql)
        .bind(lo.to_string())
        .bind(hi.to_string())
        .fetch_optional(&mut *conn)
        .await?;
    row.map(Pair::try_from).transpose()
}

/// `user`'s conversations, the most recently active first, at most `limit`.
pub(super) async fn list<DB>(
    conn: &mut DB::Connection,
    user: UserId,
    limit: u32,
) -> Result<Vec<Pair>, StoreError>
where
    DB: sqlx::Database,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    PairRow: for<'r> sqlx::FromRow<'r, DB::Row>,
    (String,): for<'r> sqlx::FromRow<'r, DB::Row>,
    for<'q> &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> DB::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
{
    let sql = format!(
        "{SELECT} WHERE c.user_a = $1 OR c.user_b = $1 \
         ORDER BY c.last_activity DESC, c.created_at DESC, c.room LIMIT $2"
    );
    let rows: Vec<PairRow> = sqlx::query_as(&sql)
        .bind(user.to_string())
        .bind(i64::from(limit))
        .fetch_all(&mut *conn)
        .await?;
    rows.into_iter().map(Pair::try_from).collect()
}

/// Whether `user` is one of the two users of the direct room `room`
/// (false for a room that does not exist).
pub(super) async fn is_participant<DB>(
    conn: &mut DB::Connection,
    room: &RoomName,
    user: UserId,
) -> Result<bool, StoreError>
where
    DB: sqlx::Database,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    PairRow: for<'r> sqlx::FromRow<'r, DB::Row>,
    (String,): for<'r> sqlx::FromRow<'r, DB::Row>,
    for<'q> &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> DB::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
{
    let found: Option<(String,)> = sqlx::query_as(
        "SELECT room FROM conversations WHERE room = $1 AND (user_a = $2 OR user_b = $2)",
    )
    .bind(room.as_str())
    .bind(user.to_string())
    .fetch_optional(&mut *conn)
    .await?;
    Ok(found.is_some())
}

/// Records the name `user` now uses in the direct room `room`.
pub(super) async fn rename<DB>(
    conn: &mut DB::Connection,
    room: &RoomName,
    user: &User,
) -> Result<(), StoreError>
where
    DB: sqlx::Database,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    PairRow: for<'r> sqlx::FromRow<'r, DB::Row>,
    (String,): for<'r> sqlx::FromRow<'r, DB::Row>,
    for<'q> &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> DB::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
{
    sqlx::query(
        "UPDATE conversations SET \
         name_a = CASE WHEN user_a = $2 THEN $3 ELSE name_a END, \
         name_b = CASE WHEN user_b = $2 THEN $3 ELSE name_b END \
         WHERE room = $1 AND (user_a = $2 AND name_a <> $3 OR user_b = $2 AND name_b <> $3)",
    )
    .bind(room.as_str())
    .bind(user.id.to_string())
    .bind(user.name.as_str())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Marks a direct room active at `$1` (a new message), in the append's
/// transaction; also run by the SQLite append thread.
pub(super) const TOUCH: &str = "UPDATE conversations SET last_activity = $1 WHERE room = $2";

/// Marks the direct rooms among `rooms` active at `ts` (a new message), in
/// the append's transaction.
pub(super) async fn touch<DB>(
    conn: &mut DB::Connection,
    rooms: &[&RoomName],
    ts: i64,
) -> Result<(), StoreError>
where
    DB: sqlx::Database,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    PairRow: for<'r> sqlx::FromRow<'r, DB::Row>,
    (String,): for<'r> sqlx::FromRow<'r, DB::Row>,
    for<'q> &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> DB::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
{
    for room in rooms.iter().filter(|room| room.is_direct()) {
        sqlx::query(TOUCH).bind(ts).bind(room.as_str()).execute(&mut *conn).await?;
    }
    Ok(())
}
