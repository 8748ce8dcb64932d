//! Read markers, whatever the database: SQL both backends accept (`$N`
//! parameters), written once. A user's marker in a room only moves
//! forward (an upsert that changes nothing when the stored seq is not
//! lower), so tabs and processes marking at once can never move it back.

use super::{Marked, ReadMarker, StoreError};
use crate::domain::{RoomName, Seq, UserId};

/// Most unread messages counted: a client shows "999+" long before.
pub const MAX_UNREAD: i64 = 1000;

/// Moves `user`'s marker in `room` to `seq`, bounded by the room's newest
/// seq, unless it is there or further already.
pub(super) async fn mark<DB>(
    conn: &mut DB::Connection,
    user: UserId,
    room: &RoomName,
    seq: Seq,
    ts: i64,
) -> Result<Marked, StoreError>
where
    DB: sqlx::Database,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    (i64,): for<'r> sqlx::FromRow<'r, DB::Row>,
    (i64, i64): for<'r> sqlx::FromRow<'r, DB::Row>,
    for<'q> &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> DB::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
{
    let last: Option<(i64,)> = sqlx::query_as("SELECT last_seq FROM rooms WHERE name = $1")
        .bind(room.as_str())
        .fetch_optional(&mut *conn)
        .await?;
    let seq = seq.min(last.map_or(0, |(last,)| last));
    let written: Option<(i64,)> = sqlx::query_as(
        "INSERT INTO reads (user_id, room, seq, read_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (user_id, room) DO UPDATE SET seq = excluded.seq, read_at = excluded.read_at \
         WHERE reads.seq < excluded.seq RETURNING seq",
    )
    .bind(user.to_string())
    .bind(room.as_str())
    .bind(seq)
    .bind(ts)
    .fetch_optional(&mut *conn)
    .await?;
    let marker = marker::<DB>(conn, user, room).await?;
    // A first marker at 0 moves nothing a client could show.
    let moved = written.is_some() && marker.read_seq > 0;
    Ok(Marked { marker, moved })
}

/// `user`'s marker in `room` (0 when it has none) and its unread count.
pub(super) async fn marker<DB>(
    conn: &mut DB::Connection,
    user: UserId,
    room: &RoomName,
) -> Result<ReadMarker, StoreError>
where
    DB: sqlx::Database,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    (i64,): for<'r> sqlx::FromRow<'r, DB::Row>,
    (i64, i64): for<'r> sqlx::FromRow<'r, DB::Row>,
    for<'q> &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> DB::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
{
    let stored: Option<(i64,)> =
        sqlx::query_as("SELECT seq FROM reads WHERE user_id = $1 AND room = $2")
            .bind(user.to_string())
            .bind(room.as_str())
            .fetch_optional(&mut *conn)
            .await?;
    let read_seq = stored.map_or(0, |(seq,)| seq);
    let (unread, last_seq) = unread::<DB>(conn, user, room, read_seq).await?;
    Ok(ReadMarker { room: room.clone(), read_seq, unread, last_seq })
}

/// `user`'s markers, the most recently moved first, at most `limit`.
pub(super) async fn list<DB>(
    conn: &mut DB::Connection,
    user: UserId,
    limit: u32,
) -> Result<Vec<ReadMarker>, StoreError>
where
    DB: sqlx::Database,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    (i64,): for<'r> sqlx::FromRow<'r, DB::Row>,
    (i64, i64): for<'r> sqlx::FromRow<'r, DB::Row>,
    (String, i64): for<'r> sqlx::FromRow<'r, DB::Row>,
    for<'q> &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> DB::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
{
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT room, seq FROM reads WHERE user_id = $1 ORDER BY read_at DESC, room LIMIT $2",
    )
    .bind(user.to_string())
    .bind(i64::from(limit))
    .fetch_all(&mut *conn)
    .await?;
    let mut markers = Vec::with_capacity(rows.len());
    for (room, read_seq) in rows {
        let room = RoomName::parse(&room).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let (unread, last_seq) = unread::<DB>(conn, user, &room, read_seq).await?;
        markers.push(ReadMarker { room, read_seq, unread, last_seq });
    }
    Ok(markers)
}

/// Messages of `room` after `read_seq` that `user` did not write and that
/// are not deleted, counted up to [`MAX_UNREAD`], and the room's newest seq
/// they were counted up to. Changes are not counted. One statement, so one
/// snapshot: a client told both knows which of the messages it receives
/// live the count already holds (those up to the seq), and counts none twice.
async fn unread<DB>(
    conn: &mut DB::Connection,
    user: UserId,
    room: &RoomName,
    read_seq: Seq,
) -> Result<(i64, Seq), StoreError>
where
    DB: sqlx::Database,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    (i64, i64): for<'r> sqlx::FromRow<'r, DB::Row>,
    for<'q> &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> DB::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
{
    let counted: (i64, i64) = sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM (SELECT 1 FROM messages WHERE room = $1 AND seq > $2 \
         AND user_id <> $3 AND NOT deleted LIMIT $4) AS unread), \
         COALESCE((SELECT last_seq FROM rooms WHERE name = $1), 0)",
    )
    .bind(room.as_str())
    .bind(read_seq)
    .bind(user.to_string())
    .bind(MAX_UNREAD)
    .fetch_one(&mut *conn)
    .await?;
    Ok(counted)
}
