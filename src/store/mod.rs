//! Message history (each room's log of messages and changes) and the
//! server's signing secret, behind one trait so the
//! embedded SQLite file and a shared PostgreSQL can serve the same server.
//!
//! - [`batch`]: how a batch is appended (retries, seqs, results), once for
//!   both backends; each backend supplies the statements.
//! - [`changes`]: how edits, deletes and reactions are applied, once for
//!   both backends; each backend supplies the statements.
//! - [`rows`]: the rows, the read queries, pages and the log, also shared.
//! - [`conversations`]: direct conversations (who may enter which direct
//!   room), also shared.
//! - [`reads`]: read markers, also shared.
//! - [`search`]: full-text search's scope and results, also shared; each
//!   backend supplies its index's match and rank.
//! - [`sqlite`] and [`postgres`]: connection settings and SQL only.

mod batch;
mod changes;
mod conversations;
mod postgres;
mod reads;
mod rows;
mod search;
mod sqlite;

pub use postgres::PgStore;
pub use reads::MAX_UNREAD;
pub use search::Search;
pub use sqlite::SqliteStore;

use crate::domain::{
    Change, ChangeDraft, Entry, Message, MessageDraft, Pair, RoomName, Seq, User, UserId,
};
use std::sync::Arc;

/// Why storage failed. Every variant means nothing was stored.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Holds the URL's scheme only: the rest may hold a password.
    #[error(
        "unsupported database URL scheme {0:?}: use sqlite://PATH or postgres://USER@HOST:PORT/DB"
    )]
    UnsupportedUrl(String),
    #[error("cannot open the database: {0}")]
    Open(#[source] sqlx::Error),
    #[error("cannot migrate the database: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("the store has stopped")]
    Stopped,
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("the database did not answer in time")]
    TimedOut,
    #[error("the batch kept colliding with rows written outside the room locks")]
    Conflict,
}

/// What happened to one draft of an [`Store::append`] batch.
#[derive(Debug, Clone)]
pub struct Appended {
    pub message: Message,
    /// True when the draft repeated an earlier `clientId`: `message` is the
    /// original and nothing new was stored.
    pub duplicate: bool,
}

/// One page of a room's history, oldest first.
#[derive(Debug, Clone, Default)]
pub struct Page {
    pub messages: Vec<Message>,
    /// More messages lie beyond this page, in the direction it was read.
    pub has_more: bool,
}

/// A slice of a room's log, in seq order.
#[derive(Debug, Clone, Default)]
pub struct LogPage {
    pub entries: Vec<Entry>,
    /// More entries follow this slice.
    pub has_more: bool,
}

/// What happened to one draft of a [`Store::apply`] batch that was allowed.
#[derive(Debug, Clone)]
pub struct Applied {
    pub change: Change,
    /// True when the draft repeated an earlier `clientId`: `change` is the
    /// original (with the message's current state) and nothing was applied.
    pub duplicate: bool,
}

/// Why a change was not applied; nothing was stored for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Rejected {
    #[error("no such message in this room")]
    NotFound,
    #[error("only the author may edit or delete a message")]
    Forbidden,
    #[error("a message has at most 20 different reactions")]
    TooManyReactions,
}

/// What [`Store::open_conversation`] found or made.
#[derive(Debug, Clone)]
pub struct Opened {
    pub pair: Pair,
    /// True when this call made it; false when the pair already had one.
    pub created: bool,
}

/// A user's read position in a room.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ReadMarker {
    pub room: RoomName,
    /// The greatest seq the user has marked read; 0 for none.
    #[serde(rename = "readSeq")]
    pub read_seq: Seq,
    /// Messages after it, not deleted and not the user's own, counted up
    /// to [`MAX_UNREAD`].
    pub unread: i64,
    /// The room's newest seq when `unread` was counted: the count holds the
    /// messages up to it, none after.
    #[serde(rename = "lastSeq")]
    pub last_seq: Seq,
}

/// What [`Store::mark_read`] left stored.
#[derive(Debug, Clone)]
pub struct Marked {
    pub marker: ReadMarker,
    /// True when the marker moved forward.
    pub moved: bool,
}

/// Which slice of a room's history to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slice {
    /// The newest `limit` messages; `has_more` means older ones exist.
    Latest,
    /// The `limit` messages just older than this seq.
    Before(Seq),
    /// The `limit` messages just newer than this seq.
    After(Seq),
}

/// Durable storage for history.
#[async_trait::async_trait]
pub trait Store: Send + Sync + 'static {
    /// Stores a batch in one transaction, assigning each room's next seqs in
    /// draft order. Returns one entry per draft, in the same order, only once
    /// the transaction is committed.
    ///
    /// Seqs are assigned in the database, so several stores (processes) may
    /// append to one room at once: each room's log (messages and changes
    /// together) stays numbered without gaps, and commits in seq order, so once seq N is
    /// visible to a reader every lower seq of the room is committed too.
    async fn append(&self, drafts: &[MessageDraft]) -> Result<Vec<Appended>, StoreError>;

    /// Reads up to `limit` messages of `room`, oldest first, in their
    /// current state.
    async fn read(&self, room: &RoomName, slice: Slice, limit: u32) -> Result<Page, StoreError>;

    /// Applies a batch of changes in one transaction, in draft order, each
    /// taking its room's next seq like a new message. Returns one result
    /// per draft only once the transaction is committed.
    async fn apply(
        &self,
        drafts: &[ChangeDraft],
    ) -> Result<Vec<Result<Applied, Rejected>>, StoreError>;

    /// Reads up to `limit` entries of `room`'s log after `after`, in seq
    /// order: new messages and changes, each message in its current state.
    async fn log(&self, room: &RoomName, after: Seq, limit: u32) -> Result<LogPage, StoreError>;

    /// The room's newest seq (0 for a room never written to).
    async fn last_seq(&self, room: &RoomName) -> Result<Seq, StoreError>;

    /// A message of `room` in its current state.
    async fn message(&self, room: &RoomName, id: i64) -> Result<Option<Message>, StoreError>;

    /// The direct conversation of `a` and `b` (two different users): the one
    /// they have, or a new one in a new room. Safe to call from several
    /// processes at once: a pair only ever has one conversation.
    async fn open_conversation(&self, a: &User, b: &User) -> Result<Opened, StoreError>;

    /// The direct conversation of `a` and `b`, if they have one.
    async fn conversation(&self, a: UserId, b: UserId) -> Result<Option<Pair>, StoreError>;

    /// `user`'s direct conversations, the one with the newest message first
    /// (a conversation without messages counts from when it was opened).
    async fn conversations(&self, user: UserId, limit: u32) -> Result<Vec<Pair>, StoreError>;

    /// Whether `user` is one of the two users of the direct room `room`;
    /// false for a room no conversation has.
    async fn is_participant(&self, room: &RoomName, user: UserId) -> Result<bool, StoreError>;

    /// Records the name `user` now uses in its direct room `room`, the one
    /// the other user sees in its list.
    async fn rename_in_conversation(&self, room: &RoomName, user: &User) -> Result<(), StoreError>;

    /// Moves `user`'s read marker in `room` forward to `seq` (bounded by
    /// the room's newest seq); never back.
    async fn mark_read(
        &self,
        user: UserId,
        room: &RoomName,
        seq: Seq,
    ) -> Result<Marked, StoreError>;

    /// `user`'s read marker in `room` (0 when it has none).
    async fn read_marker(&self, user: UserId, room: &RoomName) -> Result<ReadMarker, StoreError>;

    /// `user`'s read markers, the most recently moved first.
    async fn read_markers(&self, user: UserId, limit: u32) -> Result<Vec<ReadMarker>, StoreError>;

    /// Up to `search.limit + 1` messages matching the query that the user
    /// may read, best first; never a deleted one, edited ones by their
    /// current text.
    async fn search(&self, search: &Search) -> Result<Vec<Message>, StoreError>;

    /// The secret session tokens are signed with, created on first use.
    async fn secret(&self) -> Result<[u8; 32], StoreError>;

    /// Whether the database answers.
    async fn ping(&self) -> Result<(), StoreError>;
}

/// Opens the store a database URL names, creating and migrating it if needed.
pub async fn open(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    let scheme = url.split(':').next().unwrap_or_default();
    match scheme {
        "sqlite" => Ok(Arc::new(SqliteStore::open(url).await?)),
        "postgres" | "postgresql" => Ok(Arc::new(PgStore::open(url).await?)),
        _ => Err(StoreError::UnsupportedUrl(scheme.to_owned())),
    }
}
