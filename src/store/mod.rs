//! Message history and the server's signing secret, behind one trait so the
//! embedded SQLite file and a shared PostgreSQL can serve the same server.
//!
//! - [`batch`]: how a batch is appended (retries, seqs, results), once for
//!   both backends; each backend supplies the statements.
//! - [`rows`]: the message row, the read queries and pages, also shared.
//! - [`sqlite`] and [`postgres`]: connection settings and SQL only.

mod batch;
mod postgres;
mod rows;
mod sqlite;

pub use postgres::PgStore;
pub use sqlite::SqliteStore;

use crate::domain::{Message, MessageDraft, RoomName, Seq};
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
    /// append to one room at once: each room's seqs stay strictly
    /// increasing without gaps, and commit in seq order, so once seq N is
    /// visible to a reader every lower seq of the room is committed too.
    async fn append(&self, drafts: &[MessageDraft]) -> Result<Vec<Appended>, StoreError>;

    /// Reads up to `limit` messages of `room`, oldest first.
    async fn read(&self, room: &RoomName, slice: Slice, limit: u32) -> Result<Page, StoreError>;

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
