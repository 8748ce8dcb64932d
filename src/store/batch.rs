//! Appending a batch, whatever the database: which drafts repeat a stored
//! message or an earlier draft of the batch, which seqs the new ones take,
//! and the result for each draft. A backend supplies only its statements,
//! through [`Backend`] and [`AppendTx`].

use super::{Appended, StoreError};
use crate::domain::{ClientId, Message, MessageDraft, RoomName, Seq, UserId};
use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

/// Tries at a batch whose insert met a row its plan did not foresee.
const ATTEMPTS: usize = 3;

/// A retry's identity: the same user, room and `clientId`.
pub(super) type RetryKey = (RoomName, UserId, ClientId);

/// A message to store anew: its draft and the seq it takes.
pub(super) type NewRow<'a> = (&'a MessageDraft, Seq);

/// Ids of inserted messages, by room and seq.
pub(super) type Ids = HashMap<(String, Seq), i64>;

/// A database that can run appends and changes.
#[async_trait::async_trait]
pub(super) trait Backend: Sync {
    type Tx: RoomsTx;

    /// Starts the transaction one attempt at a batch runs in.
    async fn begin(&self) -> Result<Self::Tx, StoreError>;
}

/// What every write transaction does: lock its rooms first, record their
/// last seqs last.
#[async_trait::async_trait]
pub(super) trait RoomsTx: Send + Sized {
    /// Locks `rooms` (sorted, distinct) until the transaction ends, creating
    /// the rows of new rooms, and returns each room's last seq. Every append
    /// takes these locks first, so from here on no other append to these
    /// rooms is in progress, on any pool or process.
    async fn lock_rooms(
        &mut self,
        rooms: &[&RoomName],
    ) -> Result<HashMap<RoomName, Seq>, StoreError>;

    /// Records each room's last seq after this batch.
    async fn save_last_seqs(
        &mut self,
        last_seqs: &HashMap<RoomName, Seq>,
    ) -> Result<(), StoreError>;

    async fn commit(self) -> Result<(), StoreError>;

    async fn rollback(self) -> Result<(), StoreError>;
}

/// The statements of one append, called in this order in one transaction,
/// after [`RoomsTx::lock_rooms`] and before [`RoomsTx::save_last_seqs`].
#[async_trait::async_trait]
pub(super) trait AppendTx: RoomsTx {
    /// Messages already stored under any of `keys`.
    async fn find_stored(&mut self, keys: &[RetryKey]) -> Result<Vec<Message>, StoreError>;

    /// Inserts `rows` stamped `ts`, skipping any that collide with a stored
    /// message (same room and seq, or same retry key); returns the ids of
    /// those inserted.
    async fn insert(&mut self, rows: &[NewRow<'_>], ts: i64) -> Result<Ids, StoreError>;

    /// Marks the direct rooms among `rooms` as active at `ts`.
    async fn touch_conversations(&mut self, rooms: &[&RoomName], ts: i64)
    -> Result<(), StoreError>;
}

/// Each of `rooms` with its last seq, from `found` (name and last seq of
/// those with a row; a room without one has none yet).
pub(super) fn last_seqs(
    rooms: &[&RoomName],
    found: Vec<(String, Seq)>,
) -> Result<HashMap<RoomName, Seq>, StoreError> {
    let mut seqs: HashMap<RoomName, Seq> = rooms.iter().map(|r| ((*r).clone(), 0)).collect();
    for (name, last_seq) in found {
        let room = RoomName::parse(&name).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        seqs.insert(room, last_seq);
    }
    Ok(seqs)
}

/// Stores `drafts` in one transaction and returns one result per draft, in
/// draft order, once committed.
///
/// Under the room locks nothing should collide with the insert. If
/// something does (a row written outside this path), the attempt is rolled
/// back and made again, so it finds that row as a retry's original instead
/// of failing the batch or leaving a gap in the seqs.
pub(super) async fn append<B>(
    backend: &B,
    drafts: &[MessageDraft],
) -> Result<Vec<Appended>, StoreError>
where
    B: Backend,
    B::Tx: AppendTx,
{
    for _ in 0..ATTEMPTS {
        let mut tx = backend.begin().await?;
        match attempt(&mut tx, drafts).await? {
            Some(appended) => {
                tx.commit().await?;
                return Ok(appended);
            }
            None => tx.rollback().await?,
        }
    }
    Err(StoreError::Conflict)
}

/// One attempt; `None` when the insert collided with a row it did not foresee.
async fn attempt<T: AppendTx>(
    tx: &mut T,
    drafts: &[MessageDraft],
) -> Result<Option<Vec<Appended>>, StoreError> {
    let mut last_seqs = tx.lock_rooms(&rooms(drafts)).await?;
    // Looked up under the locks: an original that another process was
    // committing a moment ago is visible now, so its retry is not stored again.
    let keys: Vec<RetryKey> = drafts.iter().filter_map(retry_key).collect();
    let originals = by_retry_key(tx.find_stored(&keys).await?);
    let fates = plan(drafts, &originals, &mut last_seqs);
    let rows: Vec<NewRow> = drafts
        .iter()
        .zip(&fates)
        .filter_map(|(draft, fate)| match fate {
            Fate::New(seq) => Some((draft, *seq)),
            _ => None,
        })
        .collect();
    let ts = now_millis();
    let ids = tx.insert(&rows, ts).await?;
    if ids.len() != rows.len() {
        return Ok(None);
    }
    tx.save_last_seqs(&last_seqs).await?;
    let mut written: Vec<&RoomName> = rows.iter().map(|(draft, _)| &draft.room).collect();
    written.sort_unstable();
    written.dedup();
    tx.touch_conversations(&written, ts).await?;
    assemble(drafts, fates, &originals, &ids, ts).map(Some)
}

/// The batch's rooms, sorted and distinct: the order locks are taken in.
fn rooms(drafts: &[MessageDraft]) -> Vec<&RoomName> {
    let mut rooms: Vec<&RoomName> = drafts.iter().map(|d| &d.room).collect();
    rooms.sort_unstable();
    rooms.dedup();
    rooms
}

fn retry_key(draft: &MessageDraft) -> Option<RetryKey> {
    let client_id = draft.client_id.clone()?;
    Some((draft.room.clone(), draft.user.id, client_id))
}

fn by_retry_key(messages: Vec<Message>) -> HashMap<RetryKey, Message> {
    messages
        .into_iter()
        .filter_map(|m| Some(((m.room.clone(), m.user.id, m.client_id.clone()?), m)))
        .collect()
}

/// What becomes of each draft of a batch.
#[derive(Debug, PartialEq, Eq)]
enum Fate {
    /// Stored anew with this seq.
    New(Seq),
    /// Repeats a message stored before this batch.
    Stored,
    /// Repeats an earlier draft of this batch (its index).
    Earlier(usize),
}

/// Decides each draft's fate in draft order, advancing `last_seqs`.
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

/// One result per draft, in draft order.
fn assemble(
    drafts: &[MessageDraft],
    fates: Vec<Fate>,
    originals: &HashMap<RetryKey, Message>,
    ids: &Ids,
    ts: i64,
) -> Result<Vec<Appended>, StoreError> {
    let mut out: Vec<Appended> = Vec::with_capacity(drafts.len());
    for (draft, fate) in drafts.iter().zip(fates) {
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
        edited_at: None,
        deleted: false,
        reply_to: draft.reply_to,
        reactions: Vec::new(),
    }
}

pub(super) fn now_millis() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{DisplayName, MessageText, User};

    fn draft(room: &str, user: UserId, client_id: Option<&str>) -> MessageDraft {
        MessageDraft {
            room: RoomName::parse(room).expect("room"),
            user: User { id: user, name: DisplayName::parse("Asha").expect("name") },
            text: MessageText::parse("hi".into()).expect("text"),
            client_id: client_id.map(|c| ClientId::parse(c.into()).expect("client id")),
            reply_to: None,
        }
    }

    fn room(name: &str) -> RoomName {
        RoomName::parse(name).expect("room")
    }

    #[test]
    fn new_drafts_take_their_rooms_next_seqs_in_draft_order() {
        let user = UserId::random();
        let drafts = [draft("a", user, None), draft("b", user, None), draft("a", user, None)];
        let mut last = HashMap::from([(room("a"), 7), (room("b"), 0)]);
        let fates = plan(&drafts, &HashMap::new(), &mut last);
        assert_eq!(fates, [Fate::New(8), Fate::New(1), Fate::New(9)]);
        assert_eq!(last, HashMap::from([(room("a"), 9), (room("b"), 1)]));
    }

    #[test]
    fn a_retry_of_a_stored_message_takes_no_seq() {
        let user = UserId::random();
        let drafts = [draft("a", user, Some("c1")), draft("a", user, None)];
        let key = retry_key(&drafts[0]).expect("a retry key");
        let original = stored(&drafts[0], 1, 1, 0);
        let mut last = HashMap::from([(room("a"), 1)]);
        let fates = plan(&drafts, &HashMap::from([(key, original)]), &mut last);
        assert_eq!(fates, [Fate::Stored, Fate::New(2)]);
    }

    #[test]
    fn a_retry_of_an_earlier_draft_points_at_it_and_takes_no_seq() {
        let user = UserId::random();
        let drafts = [draft("a", user, Some("c1")), draft("a", user, Some("c1"))];
        let mut last = HashMap::from([(room("a"), 0)]);
        let fates = plan(&drafts, &HashMap::new(), &mut last);
        assert_eq!(fates, [Fate::New(1), Fate::Earlier(0)]);
    }

    #[test]
    fn the_same_client_id_from_another_user_is_a_new_message() {
        let drafts =
            [draft("a", UserId::random(), Some("c")), draft("a", UserId::random(), Some("c"))];
        let mut last = HashMap::from([(room("a"), 0)]);
        let fates = plan(&drafts, &HashMap::new(), &mut last);
        assert_eq!(fates, [Fate::New(1), Fate::New(2)]);
    }
}
