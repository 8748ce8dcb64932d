use crate::helpers::{spawn_app, spawn_app_with_store};
use baat_chit::domain::{ChangeDraft, Message, MessageDraft, Pair, RoomName, Seq, User, UserId};
use baat_chit::store::{
    Appended, Applied, LogPage, Marked, Opened, Page, ReadMarker, Rejected, Search, Slice, Store,
    StoreError,
};
use std::sync::Arc;

#[tokio::test]
async fn health_is_ok_while_the_database_answers() {
    let app = spawn_app().await;
    let response = app.get("/healthz").await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn health_is_503_when_the_database_is_unreachable() {
    let app = spawn_app_with_store(Arc::new(UnreachableDatabase)).await;
    let response = app.get("/healthz").await;
    assert_eq!(response.status(), 503);
}

#[tokio::test]
async fn metrics_are_prometheus_text_with_every_series() {
    let app = spawn_app().await;
    let response = app.get("/metrics").await;
    assert_eq!(response.status(), 200);
    let body = response.text().await.unwrap_or_default();
    for series in [
        "baatchit_connections ",
        "baatchit_users ",
        "baatchit_rooms ",
        "baatchit_followed_rooms ",
        "baatchit_room_tail_bytes ",
        "baatchit_messages_stored_total ",
        "baatchit_deliveries_total ",
        "baatchit_delivery_lag_seconds_bucket",
        "baatchit_errors_total{code=\"bad_request\"}",
    ] {
        assert!(body.contains(series), "missing {series} in\n{body}");
    }
}

/// A store whose database is down: answers the secret (needed to start)
/// but fails everything else.
struct UnreachableDatabase;

#[async_trait::async_trait]
impl Store for UnreachableDatabase {
    async fn append(&self, _: &[MessageDraft]) -> Result<Vec<Appended>, StoreError> {
        Err(down())
    }
    async fn read(&self, _: &RoomName, _: Slice, _: u32) -> Result<Page, StoreError> {
        Err(down())
    }
    async fn apply(&self, _: &[ChangeDraft]) -> Result<Vec<Result<Applied, Rejected>>, StoreError> {
        Err(down())
    }
    async fn log(&self, _: &RoomName, _: Seq, _: u32) -> Result<LogPage, StoreError> {
        Err(down())
    }
    async fn last_seq(&self, _: &RoomName) -> Result<Seq, StoreError> {
        Err(down())
    }
    async fn message(&self, _: &RoomName, _: i64) -> Result<Option<Message>, StoreError> {
        Err(down())
    }
    async fn open_conversation(&self, _: &User, _: &User) -> Result<Opened, StoreError> {
        Err(down())
    }
    async fn conversation(&self, _: UserId, _: UserId) -> Result<Option<Pair>, StoreError> {
        Err(down())
    }
    async fn conversations(&self, _: UserId, _: u32) -> Result<Vec<Pair>, StoreError> {
        Err(down())
    }
    async fn is_participant(&self, _: &RoomName, _: UserId) -> Result<bool, StoreError> {
        Err(down())
    }
    async fn rename_in_conversation(&self, _: &RoomName, _: &User) -> Result<(), StoreError> {
        Err(down())
    }
    async fn mark_read(&self, _: UserId, _: &RoomName, _: Seq) -> Result<Marked, StoreError> {
        Err(down())
    }
    async fn read_marker(&self, _: UserId, _: &RoomName) -> Result<ReadMarker, StoreError> {
        Err(down())
    }
    async fn read_markers(&self, _: UserId, _: u32) -> Result<Vec<ReadMarker>, StoreError> {
        Err(down())
    }
    async fn search(&self, _: &Search) -> Result<Vec<Message>, StoreError> {
        Err(down())
    }
    async fn secret(&self) -> Result<[u8; 32], StoreError> {
        Ok([9; 32])
    }
    async fn ping(&self) -> Result<(), StoreError> {
        Err(down())
    }
}

fn down() -> StoreError {
    StoreError::Database(sqlx::Error::PoolTimedOut)
}
