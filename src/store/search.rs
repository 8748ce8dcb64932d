//! Full-text search, whatever the database: which messages a user may
//! find (public rooms and its own conversations, never a deleted message)
//! and how rows become results are written once; each backend supplies
//! its index's match and rank ([`Dialect`]): SQLite's FTS5 table, kept in
//! step by triggers, or PostgreSQL's `tsvector` column.

use super::StoreError;
use super::rows::{self, MessageRow, ReactionRow};
use crate::domain::{Message, RoomName, SearchQuery, UserId};

/// How a backend matches and ranks; `$1` is its form of the query.
pub(super) struct Dialect {
    /// What to select from, with the messages as `m`.
    pub from: &'static str,
    /// The condition that a message matches `$1`.
    pub matches: &'static str,
    /// The order, best first.
    pub rank: &'static str,
    /// Ids of up to `$2` matches of `$1` with ids below `$3`, best first,
    /// to read before the full search, and how many to ask for.
    pub candidates: Option<Candidates>,
}

/// A cheap first pass: a common word matches tens of thousands of
/// messages, and ranking all of them is most of a search's work. If too
/// few of the candidates are in the user's scope, the search runs again
/// over every match.
pub(super) struct Candidates {
    /// The query: `$1` the query, `$2` how many, `$3` ids below.
    pub sql: &'static str,
    /// How many candidates to ask for.
    pub count: i64,
}

/// What to search for, where, and for whom.
#[derive(Debug, Clone)]
pub struct Search {
    pub query: SearchQuery,
    /// Who searches: its own conversations are in scope.
    pub user: UserId,
    /// One room only; the caller has checked that the user may read it.
    pub room: Option<RoomName>,
    /// Only messages with a lower id.
    pub before: Option<i64>,
    pub limit: u32,
}

/// The columns of [`MessageRow`], of the messages table `m`.
const COLUMNS: &str = "m.id, m.room, m.seq, m.user_id, m.user_name, m.text, m.ts, m.client_id, \
                       m.edited_at, m.deleted, m.reply_to";

/// Public rooms (whose names never start with `@`) and `$3`'s own
/// conversations, or the one room `$4`.
const SCOPE: &str = "AND m.id < $2 AND NOT m.deleted AND (($4 = '' AND (m.room NOT LIKE '@%' \
                     OR m.room IN (SELECT room FROM conversations WHERE user_a = $3 \
                     OR user_b = $3))) OR m.room = $4)";

/// Up to `limit + 1` matches, best first (ties: newest first), each in
/// its current state; `query` is the query in the dialect's syntax.
pub(super) async fn search<DB>(
    conn: &mut DB::Connection,
    dialect: &Dialect,
    query: String,
    search: &Search,
) -> Result<Vec<Message>, StoreError>
where
    DB: sqlx::Database + sqlx::database::HasStatementCache,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    MessageRow: for<'r> sqlx::FromRow<'r, DB::Row>,
    ReactionRow: for<'r> sqlx::FromRow<'r, DB::Row>,
    (i64,): for<'r> sqlx::FromRow<'r, DB::Row>,
    for<'q> &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> DB::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
{
    if let (Some(candidates), None) = (&dialect.candidates, &search.room) {
        // Planned for each query's words (no cached generic plan): a
        // common word is best found by walking the ids down, a rare one in
        // the index, and only its own statistics tell which it is.
        let ids: Vec<(i64,)> = sqlx::query_as(candidates.sql)
            .persistent(false)
            .bind(query.clone())
            .bind(candidates.count)
            .bind(search.before.unwrap_or(i64::MAX))
            .fetch_all(&mut *conn)
            .await?;
        let wanted = search.limit as usize + 1;
        let found = among::<DB>(conn, &ids, search).await?;
        // Enough of the candidates in scope, or every match, is the answer.
        if found.len() >= wanted || (ids.len() as i64) < candidates.count {
            return Ok(found.into_iter().take(wanted).collect());
        }
    }
    let Dialect { from, matches, rank, .. } = dialect;
    let sql = format!(
        "SELECT {COLUMNS} FROM {from} WHERE {matches} {SCOPE} ORDER BY {rank}, m.id DESC LIMIT $5"
    );
    let rows: Vec<MessageRow> = sqlx::query_as(&sql)
        .bind(query)
        .bind(search.before.unwrap_or(i64::MAX))
        .bind(search.user.to_string())
        .bind(search.room.as_ref().map_or("", RoomName::as_str))
        .bind(i64::from(search.limit) + 1)
        .fetch_all(&mut *conn)
        .await?;
    with_reactions::<DB>(conn, rows).await
}

/// The messages among `ids` (best first) in the user's scope, in that order.
async fn among<DB>(
    conn: &mut DB::Connection,
    ids: &[(i64,)],
    search: &Search,
) -> Result<Vec<Message>, StoreError>
where
    DB: sqlx::Database,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    MessageRow: for<'r> sqlx::FromRow<'r, DB::Row>,
    ReactionRow: for<'r> sqlx::FromRow<'r, DB::Row>,
    for<'q> &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> DB::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
{
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let list: Vec<String> = ids.iter().map(|(id,)| id.to_string()).collect();
    // Ids read from the database: numbers, safe to write into SQL. `$1`
    // and `$5` are unused here but keep SCOPE's numbering.
    let sql = format!(
        "SELECT {COLUMNS} FROM messages m WHERE m.id IN ({}) AND $1 <> '' {SCOPE} AND $5 > 0",
        list.join(", ")
    );
    let mut rows: Vec<MessageRow> = sqlx::query_as(&sql)
        .bind("-")
        .bind(search.before.unwrap_or(i64::MAX))
        .bind(search.user.to_string())
        .bind("")
        .bind(1_i64)
        .fetch_all(&mut *conn)
        .await?;
    let order: std::collections::HashMap<i64, usize> =
        ids.iter().enumerate().map(|(at, (id,))| (*id, at)).collect();
    rows.sort_by_key(|row| order.get(&row.id()).copied().unwrap_or(usize::MAX));
    rows.truncate(search.limit as usize + 1);
    with_reactions::<DB>(conn, rows).await
}

/// The rows as messages, with their reactions.
async fn with_reactions<DB>(
    conn: &mut DB::Connection,
    rows: Vec<MessageRow>,
) -> Result<Vec<Message>, StoreError>
where
    DB: sqlx::Database,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    MessageRow: for<'r> sqlx::FromRow<'r, DB::Row>,
    ReactionRow: for<'r> sqlx::FromRow<'r, DB::Row>,
    for<'q> DB::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
{
    let ids: Vec<String> = rows.iter().map(|row| row.id().to_string()).collect();
    let mut reactions = if ids.is_empty() {
        Default::default()
    } else {
        // Ids read from the database: numbers, safe to write into SQL.
        let sql = format!(
            "SELECT message_id, emoji, user_id, user_name FROM reactions \
             WHERE message_id IN ({}) ORDER BY id",
            ids.join(", ")
        );
        let rows: Vec<ReactionRow> = sqlx::query_as(&sql).fetch_all(&mut *conn).await?;
        rows::group_reactions(rows)?
    };
    rows::with_reactions(rows, &mut reactions)
}
