//! A clean shutdown (SIGTERM) commits and acks what is in flight before it
//! closes the transports. A slow database makes "in flight" last longer
//! than the moment the server gives acks to reach the wire.

use crate::helpers::spawn_app_with_store;
use crate::sio::{RawSocket, Reply};
use baat_chit::domain::{ChangeDraft, Message, MessageDraft, Pair, RoomName, Seq, User, UserId};
use baat_chit::store::{
    self, Appended, Applied, LogPage, Marked, Opened, Page, ReadMarker, Rejected, Search, Slice,
    Store, StoreError,
};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

/// Longer than the server's wait for acks to reach the wire (200 ms).
const SLOW_COMMIT: Duration = Duration::from_millis(800);

#[tokio::test]
async fn a_message_in_flight_at_shutdown_is_committed_and_acked_before_the_transport_closes() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let url = format!("sqlite://{}", dir.path().join("slow.db").display());
    let sqlite = store::open(&url).await.expect("the store opens");
    let app = spawn_app_with_store(Arc::new(SlowCommits(Arc::clone(&sqlite)))).await;
    let mut socket = RawSocket::connect(&app.address).await;
    let joined = socket.emit("join", &[json!({ "room": "r", "name": "last words" })]).await;
    assert!(matches!(&joined, Reply::Ack(ack) if ack["ok"] == true), "join: {joined:?}");

    let id = socket.next_ack_id();
    socket
        .send(&format!("42{id}{}", json!(["message", { "room": "r", "text": "in flight" }])))
        .await;
    tokio::time::sleep(Duration::from_millis(100)).await; // read, queued, committing
    app.shut_down();

    let reply = socket.ack(id).await;
    assert!(matches!(&reply, Reply::Ack(ack) if ack["ok"] == true), "in flight: {reply:?}");
    let rest = socket.packets_until_closed().await.expect("the transport closes");
    assert!(!rest.iter().any(|p| p.starts_with("41")), "told to stay away: {rest:?}");
    let room = RoomName::parse("r").expect("a room");
    let stored = sqlite.read(&room, Slice::Latest, 10).await.expect("the store reads");
    assert_eq!(stored.messages.len(), 1, "the acked message is stored");
}

/// A store whose commits take [`SLOW_COMMIT`].
struct SlowCommits(Arc<dyn Store>);

#[async_trait::async_trait]
impl Store for SlowCommits {
    async fn append(&self, drafts: &[MessageDraft]) -> Result<Vec<Appended>, StoreError> {
        tokio::time::sleep(SLOW_COMMIT).await;
        self.0.append(drafts).await
    }
    async fn read(&self, room: &RoomName, slice: Slice, limit: u32) -> Result<Page, StoreError> {
        self.0.read(room, slice, limit).await
    }
    async fn apply(
        &self,
        drafts: &[ChangeDraft],
    ) -> Result<Vec<Result<Applied, Rejected>>, StoreError> {
        self.0.apply(drafts).await
    }
    async fn log(&self, room: &RoomName, after: Seq, limit: u32) -> Result<LogPage, StoreError> {
        self.0.log(room, after, limit).await
    }
    async fn last_seq(&self, room: &RoomName) -> Result<Seq, StoreError> {
        self.0.last_seq(room).await
    }
    async fn message(&self, room: &RoomName, id: i64) -> Result<Option<Message>, StoreError> {
        self.0.message(room, id).await
    }
    async fn open_conversation(&self, a: &User, b: &User) -> Result<Opened, StoreError> {
        self.0.open_conversation(a, b).await
    }
    async fn conversation(&self, a: UserId, b: UserId) -> Result<Option<Pair>, StoreError> {
        self.0.conversation(a, b).await
    }
    async fn conversations(&self, user: UserId, limit: u32) -> Result<Vec<Pair>, StoreError> {
        self.0.conversations(user, limit).await
    }
    async fn is_participant(&self, room: &RoomName, user: UserId) -> Result<bool, StoreError> {
        self.0.is_participant(room, user).await
    }
    async fn rename_in_conversation(&self, room: &RoomName, user: &User) -> Result<(), StoreError> {
        self.0.rename_in_conversation(room, user).await
    }
    async fn mark_read(
        &self,
        user: UserId,
        room: &RoomName,
        seq: Seq,
    ) -> Result<Marked, StoreError> {
        self.0.mark_read(user, room, seq).await
    }
    async fn read_marker(&self, user: UserId, room: &RoomName) -> Result<ReadMarker, StoreError> {
        self.0.read_marker(user, room).await
    }
    async fn read_markers(&self, user: UserId, limit: u32) -> Result<Vec<ReadMarker>, StoreError> {
        self.0.read_markers(user, limit).await
    }
    async fn search(&self, search: &Search) -> Result<Vec<Message>, StoreError> {
        self.0.search(search).await
    }
    async fn secret(&self) -> Result<[u8; 32], StoreError> {
        self.0.secret().await
    }
    async fn ping(&self) -> Result<(), StoreError> {
        self.0.ping().await
    }
}
