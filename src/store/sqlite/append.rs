//! Appends to the SQLite file on a thread of their own, with a connection
//! kept for them. Between appends the thread also adds what they stored to
//! the search index, in batches (see [`super::index`]).
//!
//! Through sqlx, each statement of an append was a round trip to the
//! connection's worker thread: BEGIN, the rooms' seqs, the retries, the
//! insert, the rooms' upsert, COMMIT. That is a dozen thread wake-ups per
//! batch, and on a busy machine each one can wait for a core (bench S3: the
//! server's own arrival-to-fan-out p99 was 5–10 ms at 1,000 messages/s).
//! Here a batch costs two: the writer hands it over, and the thread answers
//! once it is committed. The plan of a batch is still [`batch::append`]'s,
//! shared with PostgreSQL; its statements run here synchronously.

use super::index::{Backlog, Due};
use crate::domain::{ClientId, Message, MessageDraft, RoomName, Seq};
use crate::store::batch::{self, AppendTx, Backend, Ids, NewRow, RetryKey, RoomsTx};
use crate::store::conversations;
use crate::store::rows::MessageRow;
use crate::store::{Appended, StoreError};
use rusqlite::{Connection, OpenFlags, OptionalExtension};
use std::collections::HashMap;
use std::future::Future;
use std::path::Path;
use std::pin::pin;
use std::sync::mpsc::{self, RecvTimeoutError, TryRecvError};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;
use tokio::sync::oneshot;

enum Job {
    Append {
        drafts: Vec<MessageDraft>,
        reply: oneshot::Sender<Result<Vec<Appended>, StoreError>>,
    },
    /// Copies what is left of the log after a checkpoint beside the writer.
    FinishCheckpoint,
    /// Answered once every message stored so far is in the search index.
    Index(oneshot::Sender<Result<(), StoreError>>),
}

/// The thread that appends; dropping this ends it.
pub(super) struct AppendThread {
    jobs: mpsc::Sender<Job>,
}

impl AppendThread {
    /// Opens a connection to `path` (created and migrated already) and
    /// starts the thread. `pragmas` are those the store's other connections
    /// run with.
    pub(super) fn start(path: &Path, pragmas: &[(&str, &str)]) -> Result<Self, StoreError> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags)?;
        conn.busy_timeout(Duration::from_secs(5))?;
        for (name, value) in pragmas {
            conn.pragma_update(None, name, value)?;
        }
        // An LRU: unlike sqlx's cache, a batch of a new size evicts the
        // least used statement instead of growing the cache.
        conn.set_prepared_statement_cache_capacity(32);
        let (jobs, inbox) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("sqlite-append".into())
            .spawn(move || serve(conn, inbox))
            .map_err(|e| StoreError::Corrupt(format!("cannot start the append thread: {e}")))?;
        Ok(Self { jobs })
    }

    /// Has the thread finish a checkpoint between two appends.
    pub(super) fn finish_checkpoint(&self) {
        let _ = self.jobs.send(Job::FinishCheckpoint);
    }

    /// Waits until every message stored so far is in the search index.
    pub(super) async fn index(&self) -> Result<(), StoreError> {
        let (reply, answer) = oneshot::channel();
        self.jobs.send(Job::Index(reply)).map_err(|_| StoreError::Stopped)?;
        answer.await.map_err(|_| StoreError::Stopped)?
    }

    /// Stores `drafts` in one transaction; see [`batch::append`].
    pub(super) async fn append(
        &self,
        drafts: &[MessageDraft],
    ) -> Result<Vec<Appended>, StoreError> {
        let (reply, answer) = oneshot::channel();
        let job = Job::Append { drafts: drafts.to_vec(), reply };
        self.jobs.send(job).map_err(|_| StoreError::Stopped)?;
        answer.await.map_err(|_| StoreError::Stopped)?
    }
}

/// Serves jobs in order; between them, adds what was stored to the search
/// index when it is due.
fn serve(conn: Connection, inbox: mpsc::Receiver<Job>) {
    let lender = Lender(Arc::new(Mutex::new(Some(conn))));
    let mut backlog = Backlog::unknown();
    loop {
        let due = backlog.due();
        let job = match due {
            Due::Never => inbox.recv().map_err(|_| RecvTimeoutError::Disconnected),
            Due::In(wait) => inbox.recv_timeout(wait),
            Due::Now => inbox.try_recv().map_err(|error| match error {
                TryRecvError::Empty => RecvTimeoutError::Timeout,
                TryRecvError::Disconnected => RecvTimeoutError::Disconnected,
            }),
        };
        match job {
            Ok(job) => {
                serve_one(&lender, &mut backlog, job);
                // A job and a step of the index take turns, so a long
                // catch-up neither holds the appends up nor starves.
                if matches!(due, Due::Now) {
                    index_step(&lender, &mut backlog);
                }
            }
            Err(RecvTimeoutError::Timeout) => index_step(&lender, &mut backlog),
            Err(RecvTimeoutError::Disconnected) => return,
        }
    }
}

fn index_step(lender: &Lender, backlog: &mut Backlog) {
    let stepped = lender.with(|conn| {
        backlog.step(conn);
        Ok(())
    });
    if let Err(error) = stepped {
        tracing::warn!(%error, "cannot add messages to the search index");
    }
}

fn serve_one(lender: &Lender, backlog: &mut Backlog, job: Job) {
    match job {
        Job::Append { drafts, reply } => {
            let appended = now(batch::append(lender, &drafts));
            if let Ok(appended) = &appended {
                backlog.stored(appended.iter().filter(|a| !a.duplicate).count());
            }
            let _ = reply.send(appended);
        }
        Job::FinishCheckpoint => {
            let checkpoint = lender.with(|conn| {
                conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))?;
                Ok(())
            });
            if let Err(error) = checkpoint {
                tracing::warn!(%error, "cannot finish checkpointing the write-ahead log");
            }
        }
        Job::Index(reply) => {
            let _ = reply.send(lender.with(|conn| backlog.catch_up(conn)));
        }
    }
}

/// Runs a future whose every step completes at once: the statements below
/// are synchronous, so nothing in an append ever waits.
fn now<T>(future: impl Future<Output = Result<T, StoreError>>) -> Result<T, StoreError> {
    let mut future = pin!(future);
    match future.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(result) => result,
        Poll::Pending => Err(StoreError::Corrupt("a synchronous append waited".into())),
    }
}

/// The thread's connection, lent to one transaction at a time.
struct Lender(Arc<Mutex<Option<Connection>>>);

impl Lender {
    /// Runs `work` on the connection between two appends. A passive
    /// checkpoint run so, with no commit beside it, copies the whole log,
    /// so the next commit starts the log over.
    fn with<T>(
        &self,
        work: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let conn = self.0.lock().unwrap_or_else(|e| e.into_inner());
        // Only a transaction of this thread borrows it, and each ends
        // before the next job.
        let conn = conn
            .as_ref()
            .ok_or_else(|| StoreError::Corrupt("the append connection is lent".into()))?;
        work(conn)
    }
}

#[async_trait::async_trait]
impl Backend for Lender {
    type Tx = Tx;

    /// `BEGIN IMMEDIATE` takes the file's write lock at once (waiting up to
    /// the busy timeout), as the store's other writers do.
    async fn begin(&self) -> Result<Tx, StoreError> {
        let conn = self.0.lock().unwrap_or_else(|e| e.into_inner()).take();
        let conn =
            conn.ok_or_else(|| StoreError::Corrupt("the append connection is lent".into()))?;
        let tx = Tx { conn: Some(conn), home: Arc::clone(&self.0) };
        control(tx.conn()?, "BEGIN IMMEDIATE")?;
        Ok(tx)
    }
}

/// One transaction on the lent connection; it goes back when this drops,
/// rolled back if it was neither committed nor rolled back.
pub(super) struct Tx {
    conn: Option<Connection>,
    home: Arc<Mutex<Option<Connection>>>,
}

impl Tx {
    fn conn(&self) -> Result<&Connection, StoreError> {
        self.conn.as_ref().ok_or_else(|| StoreError::Corrupt("the transaction has ended".into()))
    }
}

impl Drop for Tx {
    fn drop(&mut self) {
        let Some(conn) = self.conn.take() else { return };
        if !conn.is_autocommit() {
            let _ = conn.execute_batch("ROLLBACK");
        }
        *self.home.lock().unwrap_or_else(|e| e.into_inner()) = Some(conn);
    }
}

/// Runs a transaction's `BEGIN` or `COMMIT` from a statement kept prepared:
/// `execute_batch` parsed and prepared it anew for every batch (bench S2).
fn control(conn: &Connection, sql: &str) -> Result<(), StoreError> {
    conn.prepare_cached(sql)?.execute([])?;
    Ok(())
}

#[async_trait::async_trait]
impl RoomsTx for Tx {
    /// The whole file is already locked by `BEGIN IMMEDIATE`; this reads the
    /// last seqs (a room without a row has none yet), one room at a time
    /// through one statement kept prepared. An `IN (…)` list was a new SQL
    /// text, prepared anew, for each batch of over eight rooms (bench S2).
    async fn lock_rooms(
        &mut self,
        rooms: &[&RoomName],
    ) -> Result<HashMap<RoomName, Seq>, StoreError> {
        let mut statement =
            self.conn()?.prepare_cached("SELECT last_seq FROM rooms WHERE name = ?")?;
        let mut seqs = HashMap::with_capacity(rooms.len());
        for room in rooms {
            let last_seq: Option<Seq> =
                statement.query_row([room.as_str()], |row| row.get(0)).optional()?;
            seqs.insert((*room).clone(), last_seq.unwrap_or(0));
        }
        Ok(seqs)
    }

    /// One room at a time, as [`Self::lock_rooms`] reads them.
    async fn save_last_seqs(
        &mut self,
        last_seqs: &HashMap<RoomName, Seq>,
    ) -> Result<(), StoreError> {
        let mut statement = self.conn()?.prepare_cached(
            "INSERT INTO rooms (name, last_seq) VALUES (?, ?) \
             ON CONFLICT (name) DO UPDATE SET last_seq = excluded.last_seq",
        )?;
        for (room, seq) in last_seqs {
            statement.execute(rusqlite::params![room.as_str(), seq])?;
        }
        Ok(())
    }

    async fn commit(self) -> Result<(), StoreError> {
        control(self.conn()?, "COMMIT")
    }

    async fn rollback(self) -> Result<(), StoreError> {
        Ok(self.conn()?.execute_batch("ROLLBACK")?)
    }
}

#[async_trait::async_trait]
impl AppendTx for Tx {
    /// One key at a time through one statement kept prepared, each a
    /// lookup in the retry-key index.
    async fn find_stored(&mut self, keys: &[RetryKey]) -> Result<Vec<Message>, StoreError> {
        let mut statement = self.conn()?.prepare_cached(
            "SELECT * FROM messages WHERE room = ? AND user_id = ? AND client_id = ?",
        )?;
        let mut found = Vec::new();
        for (room, user, client_id) in keys {
            let user = user.hex();
            let params = rusqlite::params![room.as_str(), user.as_str(), client_id.as_str()];
            let row = statement.query_row(params, MessageRow::from_sqlite).optional()?;
            if let Some(row) = row {
                found.push(Message::try_from(row)?);
            }
        }
        Ok(found)
    }

    /// One statement per row, kept prepared: the connection says whether
    /// it inserted the row and its id. A multi-row insert read the ids back
    /// with `RETURNING`, which SQLite collects in a temporary table opened
    /// and closed for every batch, and was prepared anew for every batch
    /// size past a few rows (bench S2).
    async fn insert(&mut self, rows: &[NewRow<'_>], ts: i64) -> Result<Ids, StoreError> {
        let conn = self.conn()?;
        let mut statement = conn.prepare_cached(
            "INSERT INTO messages (room, seq, user_id, user_name, text, ts, client_id, reply_to) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        )?;
        let mut ids = Ids::with_capacity(rows.len());
        for (draft, seq) in rows {
            let inserted = statement.execute(rusqlite::params![
                draft.room.as_str(),
                seq,
                draft.user.id.hex().as_str(),
                draft.user.name.as_str(),
                draft.text.as_str(),
                ts,
                draft.client_id.as_ref().map(ClientId::as_str),
                draft.reply_to,
            ])?;
            // A row that met a stored one (same room and seq, or a retry's
            // key) is skipped, as the batch plan expects.
            if inserted == 1 {
                ids.insert((draft.room.as_str().to_owned(), *seq), conn.last_insert_rowid());
            }
        }
        Ok(ids)
    }

    /// Marks the direct rooms among `rooms` as active at `ts`.
    async fn touch_conversations(
        &mut self,
        rooms: &[&RoomName],
        ts: i64,
    ) -> Result<(), StoreError> {
        let mut statement = self.conn()?.prepare_cached(conversations::TOUCH)?;
        for room in rooms.iter().filter(|room| room.is_direct()) {
            statement.execute(rusqlite::params![ts, room.as_str()])?;
        }
        Ok(())
    }
}
