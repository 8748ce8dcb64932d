//! Applying changes (edits, deletes, reactions), whatever the database:
//! who may make them, idempotent retries, and the seq each takes from its
//! room's counter under the room lock, like a new message. A backend
//! supplies only its statements, through [`ChangeTx`].

use super::batch::{Backend, RoomsTx};
use super::rows::ChangeRow;
use super::{Applied, Rejected, StoreError};
use crate::domain::{Action, ChangeDraft, ClientId, MAX_REACTIONS, Message, RoomName, UserId};
use std::collections::HashMap;

/// The statements a change needs, in a transaction that has locked its rooms.
#[async_trait::async_trait]
pub(super) trait ChangeTx: RoomsTx {
    /// A message of the room in its current state.
    async fn message(&mut self, room: &RoomName, id: i64) -> Result<Option<Message>, StoreError>;

    /// The change stored under a retry key.
    async fn find_change(
        &mut self,
        room: &RoomName,
        user: UserId,
        client_id: &ClientId,
    ) -> Result<Option<ChangeRow>, StoreError>;

    /// Replaces a message's text and marks it edited at `ts`.
    async fn edit(&mut self, id: i64, text: &str, ts: i64) -> Result<(), StoreError>;

    /// Empties a message's text (the bytes are gone, not hidden), marks it
    /// deleted and drops its reactions.
    async fn delete(&mut self, id: i64) -> Result<(), StoreError>;

    /// Removes the user's reaction; false if it was not there.
    async fn unreact(&mut self, id: i64, user: UserId, emoji: &str) -> Result<bool, StoreError>;

    async fn react(
        &mut self,
        id: i64,
        user: &crate::domain::User,
        emoji: &str,
    ) -> Result<(), StoreError>;

    /// Records the change in the room's log.
    async fn record(&mut self, draft: &ChangeDraft, seq: i64, ts: i64) -> Result<(), StoreError>;
}

/// Applies `drafts` in order in one transaction; one result per draft,
/// once committed. A refused draft changes nothing and takes no seq.
pub(super) async fn apply<B>(
    backend: &B,
    drafts: &[ChangeDraft],
) -> Result<Vec<Result<Applied, Rejected>>, StoreError>
where
    B: Backend,
    B::Tx: ChangeTx,
{
    let mut tx = backend.begin().await?;
    // Every room of the batch is locked first, in the order appends lock
    // them, so two batches sharing rooms never wait for each other in a
    // cycle; each change then reads its room's last seq under that lock.
    let mut rooms: Vec<&RoomName> = drafts.iter().map(|d| &d.room).collect();
    rooms.sort_unstable();
    rooms.dedup();
    if let Err(error) = tx.lock_rooms(&rooms).await {
        tx.rollback().await?;
        return Err(error);
    }
    let mut results = Vec::with_capacity(drafts.len());
    for draft in drafts {
        match one(&mut tx, draft).await {
            Ok(result) => results.push(result),
            Err(error) => {
                tx.rollback().await?;
                return Err(error);
            }
        }
    }
    tx.commit().await?;
    Ok(results)
}

async fn one<T: ChangeTx>(
    tx: &mut T,
    draft: &ChangeDraft,
) -> Result<Result<Applied, Rejected>, StoreError> {
    let last_seqs = tx.lock_rooms(&[&draft.room]).await?;
    // Under the room lock: a retry racing its original on another process
    // finds it.
    if let Some(client_id) = &draft.client_id {
        if let Some(row) = tx.find_change(&draft.room, draft.user.id, client_id).await? {
            let message = tx
                .message(&draft.room, row.message_id)
                .await?
                .ok_or_else(|| StoreError::Corrupt("a change's message vanished".into()))?;
            let change = super::rows::change(row, message)?;
            return Ok(Ok(Applied { change, duplicate: true }));
        }
    }
    let Some(message) = tx.message(&draft.room, draft.message_id).await? else {
        return Ok(Err(Rejected::NotFound));
    };
    if message.deleted {
        return Ok(Err(Rejected::NotFound));
    }
    let ts = super::batch::now_millis();
    match &draft.action {
        Action::Edit(_) | Action::Delete if message.user.id != draft.user.id => {
            return Ok(Err(Rejected::Forbidden));
        }
        Action::Edit(text) => tx.edit(message.id, text.as_str(), ts).await?,
        Action::Delete => tx.delete(message.id).await?,
        Action::React(emoji) => {
            if !tx.unreact(message.id, draft.user.id, emoji.as_str()).await? {
                let known = message.reactions.iter().any(|r| r.emoji == emoji.as_str());
                if !known && message.reactions.len() >= MAX_REACTIONS {
                    return Ok(Err(Rejected::TooManyReactions));
                }
                tx.react(message.id, &draft.user, emoji.as_str()).await?;
            }
        }
    }
    let seq = last_seqs.get(&draft.room).copied().unwrap_or(0) + 1;
    tx.record(draft, seq, ts).await?;
    tx.save_last_seqs(&HashMap::from([(draft.room.clone(), seq)])).await?;
    let message = tx
        .message(&draft.room, message.id)
        .await?
        .ok_or_else(|| StoreError::Corrupt("a changed message vanished".into()))?;
    let change = crate::domain::Change {
        room: draft.room.clone(),
        seq,
        kind: draft.action.kind(),
        user: draft.user.clone(),
        ts,
        message,
    };
    Ok(Ok(Applied { change, duplicate: false }))
}
